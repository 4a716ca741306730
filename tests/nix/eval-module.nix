# Evaluates ansible-free-deploy/module.nix with nixpkgs' own `lib.evalModules`, against typed
# stand-ins for the NixOS options it sets (nixos-stand-ins.nix) and a fake `pkgs`
# (fake-pkgs.nix), and returns what a test asserts on as JSON-ready data.
#
#   nix-instantiate --eval --strict --json --readonly-mode tests/nix/eval-module.nix \
#     --argstr nixpkgsLib ../shared/third-party/nixpkgs-lib --argstr configJson '{...}'
#
# `configJson` is the system configuration under test (a NixOS module as JSON); the module's
# default package comes from package.nix through the fake callPackage.
{
  # A nixpkgs checkout or nixpkgs.lib snapshot: the directory holding `lib/`.
  nixpkgsLib,
  configJson,
  rustcVersion ? "1.91.0",
}:

let
  lib = import "${nixpkgsLib}/lib";
  pkgs = import ./fake-pkgs.nix { inherit lib rustcVersion; };
  inherit
    (lib.evalModules {
      modules = [
        ./nixos-stand-ins.nix
        ../../ansible-free-deploy/module.nix
        { _module.args.pkgs = pkgs; }
        (builtins.fromJSON configJson)
      ];
    })
    config
    ;

  # The plan file: the check derivation and the value rendered into it.
  planSource = drv: {
    inherit (drv) name buildCommand;
    planName = drv.env.plan.name;
    plan = drv.env.plan.value;
  };
in
{
  sudo = config.security.sudo.extraRules;
  sudoRs = config.security.sudo-rs.extraRules;
  systemPackages = map (p: {
    inherit (p) name;
    path = p.outPath;
  }) config.environment.systemPackages;
  etc = lib.mapAttrs (_: file: {
    inherit (file) enable target mode;
    source = planSource file.source;
  }) config.environment.etc;
  services = config.systemd.services;
  timers = config.systemd.timers;
  tmpfiles = config.systemd.tmpfiles.rules;
}
