# NixOS module: installs the agent, writes its plan and the sudoers rule the controller needs.
#
#   imports = [ "${backup-orchestrator-src}/ansible-free-deploy/module.nix" ];
#   services.backup-orchestrator = {
#     enable = true;
#     controllerUsers = [ "deploy" ];
#     # plan = { ... };   # defaults to the user's original script; see plan.example.toml
#   };
{ config, lib, pkgs, ... }:

let
  cfg = config.services.backup-orchestrator;
  toml = pkgs.formats.toml { };
in
{
  options.services.backup-orchestrator = {
    enable = lib.mkEnableOption "backup-orchestrator, the pre-deployment backup runner";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The package providing `backup-orchestrator`.";
    };

    plan = lib.mkOption {
      type = lib.types.nullOr toml.type;
      default = null;
      example = lib.literalExpression ''
        {
          failure_threshold_percent = 50;
          preflight.disk = [ { path = "/mnt/nas-backup"; min_free = "50G"; } ];
          stage = [
            { name = "snapshots"; units = [ "sanoid.service" ]; timeout = "5m"; on_failure = "warn"; }
            { name = "restic"; units = [ "restic-backup-*.service" ]; parallel = 3; timeout = "45m"; }
          ];
        }
      '';
      description = ''
        The plan, written to /etc/backup-orchestrator/plan.toml (keys as in plan.example.toml).
        `null` keeps the agent's built-in default: the user's original script.
      '';
    };

    controllerUsers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "deploy" ];
      description = ''
        Users allowed to run `sudo -n backup-orchestrator serve` without a password, which is all
        `backup-orchestrator-ctl` needs. The agent only starts units that the plan names.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    environment.etc."backup-orchestrator/plan.toml" = lib.mkIf (cfg.plan != null) {
      source = toml.generate "backup-orchestrator-plan.toml" cfg.plan;
    };

    security.sudo.extraRules = lib.mkIf (cfg.controllerUsers != [ ]) [
      {
        users = cfg.controllerUsers;
        commands = [
          {
            command = "/run/current-system/sw/bin/backup-orchestrator serve";
            options = [ "NOPASSWD" ];
          }
        ];
      }
    ];

    # Run logs (last 20 runs) live here; the runs themselves are transient units owned by PID 1.
    systemd.tmpfiles.rules = [ "d /var/lib/backup-orchestrator 0750 root root -" ];
  };
}
