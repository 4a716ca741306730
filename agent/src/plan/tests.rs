use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The example plan shipped to users, which must stay the built-in default written out.
const EXAMPLE: &str = include_str!("../../../ansible-free-deploy/plan.example.toml");

const FILE: &str = "/etc/backup-orchestrator/plan.toml";

/// The error's Display for `text`, which must be refused.
fn error_of(text: &str) -> String {
    match Plan::parse(text, FILE) {
        Ok(plan) => panic!("accepted an invalid plan: {plan:?}"),
        Err(e) => e.to_string(),
    }
}

fn minimal_with(stage_extra: &str) -> String {
    format!("[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n{stage_extra}\n")
}

#[test]
fn plan_example_parses_to_the_builtin_default() {
    let plan = Plan::parse(EXAMPLE, FILE).unwrap();
    let builtin = Plan::builtin_default();
    assert_eq!(plan.source, FILE);
    assert_eq!(
        Plan {
            source: builtin.source.clone(),
            ..plan
        },
        builtin
    );
}

#[test]
fn plan_builtin_default_is_the_users_script() {
    let plan = Plan::builtin_default();
    assert_eq!(plan.source, "built-in default");
    assert_eq!(plan.failure_threshold_percent, 50);
    assert_eq!(
        plan.preflight,
        vec![
            DiskCheck {
                path: PathBuf::from("/mnt/nas-backup"),
                min_free_bytes: 50 << 30
            },
            DiskCheck {
                path: PathBuf::from("/mnt/nas-postgresql"),
                min_free_bytes: 20 << 30
            },
        ]
    );
    let summary: Vec<_> = plan
        .stages
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.parallel,
                s.timeout.as_secs() / 60,
                s.warn_only,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("snapshots", 1, 5, true),
            ("replication", 0, 30, false),
            ("postgresql", 1, 60, false),
            ("restic", 3, 45, false),
        ]
    );
    assert_eq!(
        plan.stages[1].exclude,
        ["*replication-info*", "*target-reachability*"]
    );
}

#[test]
fn plan_defaults_apply_when_keys_are_left_out() {
    let plan = Plan::parse(&minimal_with(""), FILE).unwrap();
    assert_eq!(plan.failure_threshold_percent, 50);
    assert!(plan.preflight.is_empty());
    let stage = &plan.stages[0];
    assert_eq!(
        (stage.parallel, stage.timeout, stage.warn_only),
        (1, Duration::from_secs(3600), false)
    );
}

#[test]
fn plan_outline_carries_stage_limits() {
    let outline = Plan::builtin_default().outline();
    assert_eq!(outline.source, "built-in default");
    assert_eq!(outline.stages.len(), 4);
    assert_eq!(outline.stages[1].timeout_secs, 1800);
    assert_eq!(outline.stages[1].parallel, 0);
    assert!(outline.stages[0].warn_only);
}

#[test]
fn plan_allows_only_matching_units_not_excluded() {
    let plan = Plan::builtin_default();
    assert!(plan.allows("sanoid.service"));
    assert!(plan.allows("syncoid-tank-services-prowlarr.service"));
    assert!(!plan.allows("syncoid-replication-info.service"));
    assert!(!plan.allows("pgbackrest-incr-backup.service"));
    assert!(!plan.allows("sshd.service"));
    assert!(!plan.allows("restic-backup-@.service"));
}

#[test]
fn plan_refuses_unknown_field_with_position() {
    let text = "[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\nparalel = 2\n";
    let e = error_of(text);
    assert!(
        e.starts_with(&format!(
            "{FILE}:4:1: unknown field `paralel`, expected one of"
        )),
        "{e}"
    );
}

#[test]
fn plan_refuses_unknown_top_level_key() {
    let e = error_of("[[stages]]\nname = \"a\"\n");
    assert!(
        e.starts_with(&format!("{FILE}:1:3: unknown field `stages`")),
        "{e}"
    );
}

#[test]
fn plan_refuses_bad_size() {
    let text = "[[preflight.disk]]\npath = \"/mnt/x\"\nmin_free = \"50X\"\n[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n";
    let e = error_of(text);
    assert!(
        e.starts_with(&format!("{FILE}:3:12: invalid size \"50X\"")),
        "{e}"
    );
}

#[test]
fn plan_refuses_negative_size_and_wrong_type() {
    let base = |v: &str| {
        format!(
            "[[preflight.disk]]\npath = \"/mnt/x\"\nmin_free = {v}\n[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n"
        )
    };
    assert!(error_of(&base("-1")).contains(":3:12: min_free must not be negative"));
    assert!(error_of(&base("true")).contains(":3:12: min_free must be a size"));
}

#[test]
fn plan_sizes_are_powers_of_1024() {
    let text = |v: &str| {
        format!(
            "[[preflight.disk]]\npath = \"/x\"\nmin_free = {v}\n[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n"
        )
    };
    let min = |v: &str| Plan::parse(&text(v), FILE).unwrap().preflight[0].min_free_bytes;
    assert_eq!(min("\"1K\""), 1024);
    assert_eq!(min("\"3M\""), 3 << 20);
    assert_eq!(min("\"50GiB\""), 50 << 30);
    assert_eq!(min("\"2T\""), 2 << 40);
    assert_eq!(min("\"123\""), 123);
    assert_eq!(min("4096"), 4096);
}

#[test]
fn plan_refuses_relative_disk_path() {
    let text = "[[preflight.disk]]\npath = \"mnt/x\"\nmin_free = \"1G\"\n[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n";
    assert!(error_of(text).starts_with(&format!(
        "{FILE}:2:8: a preflight disk path must be absolute"
    )));
}

#[test]
fn plan_refuses_bad_duration() {
    let e = error_of(&minimal_with("timeout = \"5 parsecs\""));
    assert!(
        e.starts_with(&format!("{FILE}:4:11: invalid duration \"5 parsecs\"")),
        "{e}"
    );
}

#[test]
fn plan_refuses_zero_duration() {
    let e = error_of(&minimal_with("timeout = \"0s\""));
    assert!(
        e.starts_with(&format!("{FILE}:4:11: a timeout must be more than zero")),
        "{e}"
    );
}

#[test]
fn plan_refuses_threshold_above_100() {
    let e = error_of(&format!(
        "failure_threshold_percent = 101\n{}",
        minimal_with("")
    ));
    assert!(
        e.starts_with(&format!(
            "{FILE}:1:29: failure_threshold_percent must be between 0 and 100, got 101"
        )),
        "{e}"
    );
}

#[test]
fn plan_refuses_negative_parallel() {
    let e = error_of(&minimal_with("parallel = -1"));
    assert!(
        e.starts_with(&format!("{FILE}:4:12: parallel must be 0")),
        "{e}"
    );
}

#[test]
fn plan_refuses_unknown_on_failure() {
    let e = error_of(&minimal_with("on_failure = \"ignore\""));
    assert!(
        e.starts_with(&format!("{FILE}:4:14: unknown variant `ignore`")),
        "{e}"
    );
}

#[test]
fn plan_refuses_stage_without_units() {
    let e = error_of("[[stage]]\nname = \"a\"\nunits = []\n");
    assert!(
        e.starts_with(&format!("{FILE}:3:9: stage `a` has no units")),
        "{e}"
    );
    let e = error_of("[[stage]]\nname = \"a\"\n");
    assert!(e.contains("missing field `units`"), "{e}");
    assert!(e.starts_with(&format!("{FILE}:1:1: ")), "{e}");
}

#[test]
fn plan_refuses_stage_without_name() {
    let e = error_of("[[stage]]\nunits = [\"a.service\"]\n");
    assert!(e.contains("missing field `name`"), "{e}");
    let e = error_of("[[stage]]\nname = \" \"\nunits = [\"a.service\"]\n");
    assert!(
        e.starts_with(&format!("{FILE}:2:8: a stage name must not be empty")),
        "{e}"
    );
}

#[test]
fn plan_refuses_duplicate_stage_names() {
    let text = format!("{}{}", minimal_with(""), minimal_with(""));
    let e = error_of(&text);
    assert!(
        e.starts_with(&format!(
            "{FILE}:6:8: duplicate stage name `a` (first used on line 2)"
        )),
        "{e}"
    );
}

#[test]
fn plan_refuses_no_stages() {
    let e = error_of("failure_threshold_percent = 10\n");
    assert!(
        e.starts_with(&format!("{FILE}:1:1: the plan has no stages")),
        "{e}"
    );
}

#[test]
fn plan_refuses_bad_unit_pattern() {
    let e = error_of("[[stage]]\nname = \"a\"\nunits = [\"ok.service\", \"bad[.service\"]\n");
    assert!(
        e.starts_with(&format!("{FILE}:3:24: invalid unit pattern")),
        "{e}"
    );
    let e = error_of(&minimal_with("exclude = [\"\"]"));
    assert!(
        e.starts_with(&format!("{FILE}:4:12: a unit pattern must not be empty")),
        "{e}"
    );
}

#[test]
fn plan_refuses_toml_syntax_errors_with_position() {
    let e = error_of("[[stage]\nname = \"a\"\n");
    assert!(e.starts_with(&format!("{FILE}:1:")), "{e}");
}

#[test]
fn plan_load_or_default_falls_back_only_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("plan.toml");
    assert_eq!(
        Plan::load_or_default(&missing).unwrap(),
        Plan::builtin_default()
    );
    assert!(matches!(Plan::load(&missing), Err(PlanError::Read { .. })));
    std::fs::write(&missing, minimal_with("")).unwrap();
    let plan = Plan::load_or_default(&missing).unwrap();
    assert_eq!(plan.source, missing.display().to_string());
    std::fs::write(&missing, "nonsense").unwrap();
    let e = Plan::load(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:1:", missing.display())), "{e}");
    let _ = Path::new(DEFAULT_PLAN_PATH);
}

#[test]
fn plan_refuses_a_unit_that_is_not_a_service_with_its_position() {
    let e = error_of("[[stage]]\nname = \"a\"\nunits = [\"ok.service\", \"multi-user.target\"]\n");
    assert!(
        e.starts_with(&format!("{FILE}:3:24: a plan starts .service units only")),
        "{e}"
    );
    let e = error_of("[[stage]]\nname = \"a\"\nunits = [\"backup-*\"]\n");
    assert!(
        e.contains(":3:10: a plan starts .service units only"),
        "{e}"
    );
    // Excludes may name anything: they only take units away.
    let text = "[[stage]]\nname = \"a\"\nunits = [\"b-*.service\"]\nexclude = [\"*info*\"]\n";
    assert!(Plan::parse(text, FILE).is_ok());
}

#[test]
fn plan_reads_the_monitoring_textfile_and_hooks_with_their_defaults() {
    let text = format!(
        "{}\n[monitoring]\ntextfile = \"/var/lib/node-exporter/bo.prom\"\n\n\
         [[hook]]\nwhen = \"finish\"\ncommand = [\"/usr/bin/logger\", \"done\"]\n\n\
         [[hook]]\nwhen = [\"start\", \"failure\"]\ncommand = [\"/bin/true\"]\ntimeout = \"5s\"\n",
        minimal_with("")
    );
    let plan = Plan::parse(&text, FILE).unwrap();
    assert_eq!(
        plan.monitoring,
        Monitoring {
            textfile: Some(PathBuf::from("/var/lib/node-exporter/bo.prom")),
            hooks: vec![
                Hook {
                    when: vec![HookWhen::Finish],
                    command: vec!["/usr/bin/logger".into(), "done".into()],
                    timeout: Duration::from_secs(30),
                },
                Hook {
                    when: vec![HookWhen::Start, HookWhen::Failure],
                    command: vec!["/bin/true".into()],
                    timeout: Duration::from_secs(5),
                },
            ],
        }
    );
    assert_eq!(
        Plan::parse(&minimal_with(""), FILE).unwrap().monitoring,
        Monitoring::default()
    );
}

#[test]
fn plan_refuses_bad_hooks_and_a_relative_textfile_with_their_position() {
    let base = minimal_with("");
    for (extra, expected) in [
        (
            "[[hook]]\nwhen = \"sometimes\"\ncommand = [\"/bin/true\"]",
            ":7:8: unknown hook moment \"sometimes\"",
        ),
        (
            "[[hook]]\nwhen = \"finish\"\ncommand = [\"curl\", \"x\"]",
            ":8:11: a hook's program must be an absolute path",
        ),
        (
            "[[hook]]\nwhen = \"finish\"\ncommand = []",
            ":8:11: a hook's command must name a program",
        ),
        (
            "[[hook]]\nwhen = []\ncommand = [\"/bin/true\"]",
            ":7:8: a hook's `when` must name at least one moment",
        ),
        (
            "[[hook]]\nwhen = \"finish\"\ncommand = [\"/bin/true\"]\ntimeout = \"0s\"",
            ":9:11: a timeout must be more than zero",
        ),
        (
            "[monitoring]\ntextfile = \"bo.prom\"",
            ":7:12: the monitoring textfile must be an absolute path",
        ),
        (
            "[monitoring]\ntexfile = \"/x.prom\"",
            ":7:1: unknown field `texfile`",
        ),
    ] {
        let error = error_of(&format!("{base}\n{extra}\n"));
        assert!(
            error.starts_with(&format!("{FILE}{expected}")),
            "{extra}: {error}"
        );
    }
}

#[test]
fn hook_moments_at_the_end_follow_the_exit_code() {
    let at_end = |when: HookWhen| [0, 1, 2].map(|code| when.at_end(code));
    assert_eq!(at_end(HookWhen::Start), [false, false, false]);
    assert_eq!(at_end(HookWhen::Success), [true, false, false]);
    assert_eq!(at_end(HookWhen::Partial), [false, true, false]);
    assert_eq!(at_end(HookWhen::Failure), [false, false, true]);
    assert_eq!(at_end(HookWhen::Finish), [true, true, true]);
}
