# backup-orchestrator as a flake: the packages, an overlay, the NixOS module and its checks.
#
#   nix build .#controller            # backup-orchestrator-ctl (Linux and macOS)
#   nix build .#agent                 # backup-orchestrator (Linux only: it drives systemd)
#   nix flake check                   # builds both (running the unit tests) and checks the module
#
# No flake.lock is committed: this repository is developed and tested offline, where no lock can be
# generated. Nix writes flake.lock on first use (`nix flake lock`, or any `nix build`/`nix flake
# check`), pinning the `nixpkgs` input below; commit it then, or follow your own nixpkgs with
# `inputs.backup-orchestrator.inputs.nixpkgs.follows = "nixpkgs";`.
#
# The same files work without flakes: ansible-free-deploy/package.nix (pkgs.callPackage) and
# ansible-free-deploy/module.nix (imports).
{
  description = "Runs a host's backup units in order, with limits and a verdict, before a deployment";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      linux = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      darwin = [
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forSystems = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      package = ./ansible-free-deploy/package.nix;
    in
    {
      overlays.default = final: _prev: {
        backup-orchestrator = final.callPackage package { components = [ "agent" ]; };
        backup-orchestrator-ctl = final.callPackage package { components = [ "controller" ]; };
      };

      packages =
        forSystems linux (pkgs: {
          agent = pkgs.callPackage package { components = [ "agent" ]; };
          controller = pkgs.callPackage package { components = [ "controller" ]; };
          # Both binaries in one package: a machine that is a backed-up host and a controller.
          default = pkgs.callPackage package { };
        })
        // forSystems darwin (pkgs: rec {
          controller = pkgs.callPackage package { components = [ "controller" ]; };
          default = controller;
        });

      nixosModules.default = ./ansible-free-deploy/module.nix;

      checks =
        forSystems linux (
          pkgs:
          let
            inherit (pkgs.stdenv.hostPlatform) system;
            # The module in a real NixOS evaluation, with every option it sets.
            nixos = lib.nixosSystem {
              inherit system;
              modules = [
                self.nixosModules.default
                {
                  boot.isContainer = true;
                  system.stateVersion = "26.05";
                  services.backup-orchestrator = {
                    enable = true;
                    package = self.packages.${system}.agent;
                    controllerUsers = [ "deploy" ];
                    startAt = "03:00";
                    textfile = "/var/lib/prometheus-node-exporter-text-files/backup-orchestrator.prom";
                  };
                }
              ];
            };
            inherit (nixos) config;
            expectedRule = "deploy ALL=(root) NOPASSWD: ${lib.getExe self.packages.${system}.agent} serve";
          in
          # `default` is the other two in one: building it again would only repeat them.
          removeAttrs self.packages.${system} [ "default" ]
          // {
            # The plan written out: built through `check-plan --no-host`, so this builds only if
            # the agent accepts it.
            module-plan = config.environment.etc."backup-orchestrator/plan.toml".source;
            # NixOS' own sudoers (checked by its visudo) holds the rule, and the timer its schedule.
            module-rules =
              pkgs.runCommand "backup-orchestrator-module-rules"
                {
                  sudoers = config.environment.etc.sudoers.source;
                  timer = config.systemd.units."backup-orchestrator-scheduled.timer".unit;
                }
                ''
                  grep -F ${lib.escapeShellArg expectedRule} "$sudoers"
                  grep -Fx 'OnCalendar=03:00' "$timer/backup-orchestrator-scheduled.timer"
                  touch "$out"
                '';
          }
        )
        // forSystems darwin (pkgs: { inherit (self.packages.${pkgs.stdenv.hostPlatform.system}) controller; });
    };
}
