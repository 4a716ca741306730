use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::parse_args(std::iter::once("backup-orchestrator-ctl").chain(args.iter().copied()))
}

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn cli_runs_the_plan_when_given_only_a_host() {
    let cli = parse(&["forge"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Run {
            targets: vec!["forge".into()]
        }
    );
    assert_eq!(cli.options.agent_path, "backup-orchestrator");
    assert_eq!(cli.options.connect_timeout, None);
}

#[test]
fn cli_takes_the_transport_and_leaves_it_unset_by_default() {
    let cli = parse(&["status", "forge", "--transport", "openssh"]).unwrap();
    assert_eq!(cli.options.transport, Some(Transport::Openssh));
    assert_eq!(parse(&["forge"]).unwrap().options.transport, None);
    assert!(parse(&["--transport", "telnet", "forge"]).is_err());
}

#[test]
fn cli_logs_takes_a_host_a_unit_and_twenty_lines_by_default() {
    let cli = parse(&["logs", "forge", "loud.service"]).unwrap();
    let expected = |lines| Action::Logs {
        host: "forge".into(),
        unit: "loud.service".into(),
        lines,
    };
    assert_eq!(cli.action(), expected(20));
    let cli = parse(&["logs", "forge", "loud.service", "-n", "5"]).unwrap();
    assert_eq!(cli.action(), expected(5));
    assert!(parse(&["logs", "forge"]).is_err());
}

#[test]
fn cli_attach_replays_a_run_given_by_run_and_history_takes_targets() {
    let cli = parse(&["attach", "forge", "--run", "20261129T100000Z-a"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Attach {
            targets: vec!["forge".into()],
            run_id: Some("20261129T100000Z-a".into()),
        }
    );
    let cli = parse(&["check", "forge", "--max-age", "26h"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Check {
            targets: vec!["forge".into()],
            max_age: Duration::from_secs(26 * 3600),
        }
    );
    assert!(parse(&["check", "forge"]).is_err(), "--max-age is required");
    let cli = parse(&["history", "forge", "@nas"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::History {
            targets: vec!["forge".into(), "@nas".into()],
        }
    );
}

#[test]
fn cli_accepts_global_options_before_and_after_a_subcommand() {
    let before = parse(&["--json", "-l", "deploy", "attach", "forge"]).unwrap();
    let after = parse(&["attach", "forge", "--json", "-l", "deploy"]).unwrap();
    for cli in [before, after] {
        assert!(cli.options.json);
        assert_eq!(cli.options.user.as_deref(), Some("deploy"));
        assert_eq!(
            cli.action(),
            Action::Attach {
                run_id: None,
                targets: vec!["forge".into()]
            }
        );
    }
    let run = parse(&["forge", "--dry-run", "-y", "-p", "2222"]).unwrap();
    assert!(run.options.dry_run && run.options.yes);
    assert_eq!(run.options.port, Some(2222));
}

#[test]
fn cli_takes_several_targets_and_groups_for_every_host_command() {
    let run = parse(&["forge", "@homelab", "nas01", "--parallel", "3"]).unwrap();
    assert_eq!(
        run.action(),
        Action::Run {
            targets: vec!["forge".into(), "@homelab".into(), "nas01".into()]
        }
    );
    assert_eq!(run.options.parallel, 3);
    assert_eq!(parse(&["forge"]).unwrap().options.parallel, 10);
    let attach = parse(&["attach", "@homelab", "vault"]).unwrap();
    assert_eq!(
        attach.action(),
        Action::Attach {
            run_id: None,
            targets: vec!["@homelab".into(), "vault".into()]
        }
    );
}

#[test]
fn cli_knows_whether_agent_path_was_given() {
    assert!(!parse(&["forge"]).unwrap().options.agent_path_given);
    assert!(
        parse(&["--agent-path", "/opt/a", "forge"])
            .unwrap()
            .options
            .agent_path_given
    );
    assert!(
        parse(&["attach", "forge", "--agent-path", "/opt/a"])
            .unwrap()
            .options
            .agent_path_given
    );
}

#[test]
fn cli_accepts_no_confirm_as_an_alias_of_yes() {
    assert!(parse(&["--no-confirm", "forge"]).unwrap().options.yes);
}

#[test]
fn cli_parses_install_and_doctor_with_several_targets() {
    let cli = parse(&["install", "h1", "h2", "--agent-binary", "/tmp/agent"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Install {
            targets: vec!["h1".into(), "h2".into()],
            agent_binary: Some("/tmp/agent".into()),
        }
    );
    let cli = parse(&["doctor", "h1", "--json"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Doctor {
            targets: vec!["h1".into()]
        }
    );
    assert!(parse(&["install"]).is_err());
}

#[test]
fn cli_parses_cancel_with_stop_units() {
    let cli = parse(&["cancel", "forge", "--stop-units"]).unwrap();
    assert_eq!(
        cli.action(),
        Action::Cancel {
            targets: vec!["forge".into()],
            stop_units: true
        }
    );
}

#[test]
fn cli_usage_errors_exit_64_when_arguments_are_wrong() {
    for args in [
        &[][..],
        &["--no-such-flag", "forge"],
        &["--port", "notaport", "forge"],
        &["--connect-timeout", "0", "forge"],
        &["--parallel", "0", "forge"],
        &["forge", "status", "h1"],
        &["status"],
        &["cancel", "--stop-units"],
        &["completions", "tcsh-ish"],
    ] {
        let error = parse(args).unwrap_err();
        assert_eq!(usage_exit_code(&error), 64, "{args:?}: {error}");
    }
}

#[test]
fn cli_help_and_version_exit_0_and_help_lists_exit_codes_and_verdict() {
    let help = parse(&["--help"]).unwrap_err();
    assert_eq!(usage_exit_code(&help), 0);
    let text = help.to_string();
    assert!(text.contains("130"), "{text}");
    assert!(
        text.contains("floor(100 × (failed + timed_out) / total_services)"),
        "{text}"
    );
    assert_eq!(usage_exit_code(&parse(&["--version"]).unwrap_err()), 0);
}

#[test]
fn cli_hides_debug_render_from_help() {
    let help = parse(&["--help"]).unwrap_err().to_string();
    assert!(!help.contains("debug-render"), "{help}");
    assert!(matches!(
        parse(&["debug-render"]).unwrap().action(),
        Action::DebugRender { .. }
    ));
}

#[test]
fn cli_generates_completions_and_a_man_page() {
    let bash = String::from_utf8(completions(clap_complete::Shell::Bash)).unwrap();
    assert!(bash.contains("--accept-new-host-key"), "{bash}");

    let man = String::from_utf8(man_page().unwrap()).unwrap();
    assert!(man.contains(".TH backup-orchestrator-ctl"), "{man}");
    assert!(man.contains("connect\\-timeout"), "{man}");
}
