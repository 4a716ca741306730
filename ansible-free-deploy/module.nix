# NixOS module: installs the agent, writes its plan (checked at build time) and the sudo rule the
# controller needs, and optionally runs the plan on a schedule.
#
#   # with the flake:    imports = [ backup-orchestrator.nixosModules.default ];
#   # without flakes:    imports = [ "${backup-orchestrator-src}/ansible-free-deploy/module.nix" ];
#   services.backup-orchestrator = {
#     enable = true;
#     controllerUsers = [ "deploy" ];
#     # plan = { ... };         # defaults to the user's original script; see plan.example.toml
#     # startAt = "03:00";      # also run it unattended every night
#     # textfile = "/var/lib/prometheus-node-exporter-text-files/backup-orchestrator.prom";
#   };
#
# Unit names: a run is always the transient `backup-orchestrator-run.service` that the agent asks
# PID 1 for (whoever starts it: `backup-orchestrator-ctl`, a terminal, or the schedule below). The
# schedule is `backup-orchestrator-scheduled.{service,timer}`: a different name, so the two never
# clash and `systemctl status backup-orchestrator-scheduled` shows the last scheduled verdict.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.backup-orchestrator;
  toml = pkgs.formats.toml { };
  agent = lib.getExe' cfg.package "backup-orchestrator";

  # `plan = null` means the agent's built-in plan, which is plan.example.toml (the agent's tests
  # hold the two equal). It is only written out when something must be added to it.
  writePlan = cfg.plan != null || cfg.textfile != null;
  basePlan = if cfg.plan != null then cfg.plan else lib.importTOML ./plan.example.toml;
  plan = lib.recursiveUpdate basePlan (
    lib.optionalAttrs (cfg.textfile != null) { monitoring.textfile = cfg.textfile; }
  );

  # A plan the agent would refuse fails `nixos-rebuild`, not the first run after it. `--no-host`
  # checks syntax and values only: the build sandbox has no systemd to match unit patterns against.
  planFile =
    pkgs.runCommand "backup-orchestrator-plan.toml"
      {
        plan = toml.generate "backup-orchestrator-plan-unchecked.toml" plan;
      }
      ''
        ${lib.optionalString cfg.checkPlan ''${agent} check-plan --no-host "$plan"''}
        cp "$plan" "$out"
      '';

  startAt = lib.toList cfg.startAt;
  scheduled = startAt != [ ];

  # `sudo -n backup-orchestrator serve` and nothing else: as root only, no password, no other
  # arguments (sudo matches a command with arguments exactly).
  sudoRule = {
    users = cfg.controllerUsers;
    runAs = "root";
    commands = [
      {
        command = "${agent} serve";
        options = [ "NOPASSWD" ];
      }
    ];
  };
  hasSudoRule = cfg.controllerUsers != [ ];
  sudoRs = config.security.sudo-rs.enable;
in
{
  options.services.backup-orchestrator = {
    enable = lib.mkEnableOption "backup-orchestrator, the pre-deployment backup runner";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { components = [ "agent" ]; };
      defaultText = lib.literalExpression ''pkgs.callPackage ./package.nix { components = [ "agent" ]; }'';
      description = "The package providing `backup-orchestrator` (the agent; the controller is not needed on a host).";
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
        The plan, written to /etc/backup-orchestrator/plan.toml (keys as in plan.example.toml) and
        checked at build time with `backup-orchestrator check-plan --no-host`.
        `null` keeps the agent's built-in default: the user's original script (plan.example.toml).
      '';
    };

    checkPlan = lib.mkOption {
      type = lib.types.bool;
      default = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
      defaultText = lib.literalExpression "pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform";
      description = ''
        Refuse to build a system whose plan `backup-orchestrator check-plan --no-host` rejects.
        Off by default only when cross-compiling, where the build machine cannot run the agent.
      '';
    };

    textfile = lib.mkOption {
      type = lib.types.nullOr (lib.types.strMatching "/.+\\.prom");
      default = null;
      example = "/var/lib/prometheus-node-exporter-text-files/backup-orchestrator.prom";
      description = ''
        Where every run writes its Prometheus metrics (the plan's `[monitoring] textfile`; this
        option wins over a `monitoring.textfile` in `plan`). Point node_exporter's textfile
        collector at its directory, which must exist. With `plan = null` the built-in plan is
        written out with this key added.
      '';
    };

    controllerUsers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "deploy" ];
      description = ''
        Users allowed to run `sudo -n backup-orchestrator serve` as root without a password, which
        is all `backup-orchestrator-ctl` needs. The rule goes to sudo-rs instead of sudo when
        `security.sudo-rs.enable` is set. The agent only starts units that the plan names.
      '';
    };

    startAt = lib.mkOption {
      type = with lib.types; either str (listOf str);
      default = [ ];
      example = "03:00";
      description = ''
        When to run the plan unattended (systemd calendar events, see {manpage}`systemd.time(7)`);
        `[ ]` schedules nothing. The service `backup-orchestrator-scheduled` runs
        `backup-orchestrator --yes`, follows the run and exits with its verdict (0 success,
        1 partial, 2 critical, 3 could not run), so a failed run leaves it failed and `OnFailure=`
        can be attached to it. A missed schedule (host off) runs at the next boot. Stopping the
        service stops only the following: the run belongs to PID 1 and goes on
        (`backup-orchestrator cancel` stops it).
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    environment.etc."backup-orchestrator/plan.toml" = lib.mkIf writePlan { source = planFile; };

    security.sudo.extraRules = lib.mkIf (hasSudoRule && !sudoRs) [ sudoRule ];
    security.sudo-rs.extraRules = lib.mkIf (hasSudoRule && sudoRs) [ sudoRule ];

    systemd.services.backup-orchestrator-scheduled = lib.mkIf scheduled {
      description = "Scheduled backup-orchestrator run of the host's plan";
      # A scheduled run right after boot (a missed schedule) must see the NAS mounts, or preflight
      # fails it as critical.
      after = [ "remote-fs.target" ];
      # Never restart a scheduled run because `nixos-rebuild switch` changed this unit: that would
      # only kill the follower (the run itself belongs to PID 1) and lose the verdict.
      restartIfChanged = false;
      serviceConfig = {
        # oneshot: active while the run goes on, no start timeout (a run can take hours).
        Type = "oneshot";
        ExecStart = "${agent} --yes";
        # Its own tag, apart from the run unit's `backup-orchestrator` lines.
        SyslogIdentifier = "backup-orchestrator-scheduled";
      };
    };

    systemd.timers.backup-orchestrator-scheduled = lib.mkIf scheduled {
      description = "Schedule of backup-orchestrator-scheduled.service";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = startAt;
        Persistent = true;
      };
    };

    # Run logs (last 20 runs) live here; the runs themselves are transient units owned by PID 1.
    systemd.tmpfiles.rules = [ "d /var/lib/backup-orchestrator 0750 root root -" ];
  };
}
