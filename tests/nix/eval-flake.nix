# Evaluates flake.nix's outputs the way `nix flake` would call them, with nixpkgs' lib and a fake
# nixpkgs input (fake-pkgs.nix per system) instead of a locked one, and returns the shape a test
# asserts on, as JSON-ready data: which packages each system gets and what they build, the
# overlay's packages, the module path. The checks are only listed: they need `lib.nixosSystem`,
# which is nixpkgs' own, not lib's.
#
#   nix-instantiate --eval --strict --json --readonly-mode tests/nix/eval-flake.nix \
#     --argstr nixpkgsLib ../shared/third-party/nixpkgs-lib
{
  nixpkgsLib,
  rustcVersion ? "1.91.0",
}:

let
  lib = import "${nixpkgsLib}/lib";
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "x86_64-darwin"
    "aarch64-darwin"
  ];
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems (
      system: import ./fake-pkgs.nix { inherit lib rustcVersion system; }
    );
  };
  flake = import ../../flake.nix;
  outputs = flake.outputs {
    self = outputs;
    inherit nixpkgs;
  };
  describe = package: {
    inherit (package) name;
    inherit (package.buildArgs) cargoBuildFlags;
    inherit (package.meta) mainProgram;
  };
  overlaid = outputs.overlays.default nixpkgs.legacyPackages.x86_64-linux { };
in
{
  inputs = lib.attrNames flake.inputs;
  packages = lib.mapAttrs (_: lib.mapAttrs (_: describe)) outputs.packages;
  checks = lib.mapAttrs (_: lib.attrNames) outputs.checks;
  overlay = lib.mapAttrs (_: describe) overlaid;
  nixosModule = toString outputs.nixosModules.default;
  repository = toString ../..;
}
