# Evaluates ansible-free-deploy/package.nix with nixpkgs' lib and a fake rustPlatform
# (fake-pkgs.nix) and returns the build's arguments that a test asserts on, as JSON-ready data.
#
#   nix-instantiate --eval --strict --json --readonly-mode tests/nix/eval-package.nix \
#     --argstr nixpkgsLib ../shared/third-party/nixpkgs-lib --argstr componentsJson '["agent"]'
{
  nixpkgsLib,
  # `null` (the JSON) for package.nix's default.
  componentsJson,
  rustcVersion ? "1.91.0",
}:

let
  lib = import "${nixpkgsLib}/lib";
  pkgs = import ./fake-pkgs.nix { inherit lib rustcVersion; };
  components = builtins.fromJSON componentsJson;
  package = pkgs.callPackage ../../ansible-free-deploy/package.nix (
    lib.optionalAttrs (components != null) { inherit components; }
  );
  args = package.buildArgs;
in
{
  inherit (package) name pname version;
  inherit (args) cargoBuildFlags cargoTestFlags postInstall;
  mainProgram = args.meta.mainProgram;
  licenses = map (l: l.spdxId) args.meta.license;
  platforms = args.meta.platforms;
  # Not `src`: lib.fileset needs `builtins.readFileType` (Nix 2.14), which Debian 12's Nix 2.8
  # lacks, and forcing it would copy the repository into the store.
}
