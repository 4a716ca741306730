//! The engine against [`FakeSystemd`], on tokio's paused clock: timeouts of minutes take no time
//! and every timing is exact.

use std::time::Duration;

use backup_orchestrator_proto::LogLevel;
use backup_orchestrator_proto::event::{Event, UnitFinished, UnitSkipped, UnitTimedOut};
use backup_orchestrator_proto::summary::{Outcome, Summary};
use tokio::time::{Instant, sleep};

use super::{Cancel, EngineOptions, execute};
use crate::plan::{DiskCheck, Plan, Stage};
use crate::systemd::fake::{FakeSystemd, FakeUnit};

const SEC: Duration = Duration::from_secs(1);

fn stage(name: &str, units: &[&str], parallel: u32, timeout: Duration) -> Stage {
    Stage {
        name: name.to_owned(),
        units: units.iter().map(|u| (*u).to_owned()).collect(),
        exclude: Vec::new(),
        parallel,
        timeout,
        warn_only: false,
    }
}

fn plan(stages: Vec<Stage>) -> Plan {
    Plan {
        source: "test".to_owned(),
        failure_threshold_percent: 50,
        preflight: Vec::new(),
        stages,
        monitoring: crate::plan::Monitoring::default(),
    }
}

fn options() -> EngineOptions {
    EngineOptions {
        dry_run: false,
        stop_units_on_timeout: false,
        host: "forge".to_owned(),
        run_id: "run-1".to_owned(),
        started_at: "2025-11-03T10:00:00Z".to_owned(),
    }
}

async fn run_with(
    plan: &Plan,
    fake: &FakeSystemd,
    options: &EngineOptions,
    cancel: Cancel,
) -> (Summary, Vec<Event>) {
    let mut events = Vec::new();
    let summary = execute(plan, fake, options, &mut events, cancel).await;
    check_framing(&summary, &events);
    (summary, events)
}

async fn run(plan: &Plan, fake: &FakeSystemd) -> (Summary, Vec<Event>) {
    run_with(plan, fake, &options(), Cancel::new()).await
}

/// RunStarted first, RunFinished (with the returned summary) last, and nothing else like them.
fn check_framing(summary: &Summary, events: &[Event]) {
    assert!(
        matches!(events.first(), Some(Event::RunStarted(_))),
        "{events:#?}"
    );
    match events.last() {
        Some(Event::RunFinished(finished)) => assert_eq!(&finished.summary, summary),
        other => panic!("last event is {other:?}"),
    }
    let framing = events
        .iter()
        .filter(|e| matches!(e, Event::RunStarted(_) | Event::RunFinished(_)))
        .count();
    assert_eq!(framing, 2);
    assert_eq!(summary.run_id, "run-1");
    assert_eq!(summary.host, "forge");
    assert_eq!(summary.started_at, "2025-11-03T10:00:00Z");
}

fn outcomes(summary: &Summary) -> Vec<(&str, Outcome)> {
    summary
        .units
        .iter()
        .map(|u| (u.unit.as_str(), u.outcome))
        .collect()
}

fn finished<'e>(events: &'e [Event], unit: &str) -> Vec<&'e UnitFinished> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::UnitFinished(f) if f.unit == unit => Some(f),
            _ => None,
        })
        .collect()
}

fn timed_out<'e>(events: &'e [Event], unit: &str) -> &'e UnitTimedOut {
    events
        .iter()
        .find_map(|e| match e {
            Event::UnitTimedOut(t) if t.unit == unit => Some(t),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no UnitTimedOut for {unit}"))
}

fn skipped<'e>(events: &'e [Event], unit: &str) -> &'e UnitSkipped {
    events
        .iter()
        .find_map(|e| match e {
            Event::UnitSkipped(s) if s.unit == unit => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no UnitSkipped for {unit}"))
}

/// Position of the first event matching `f`.
fn position(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().position(f).expect("event not found")
}

#[tokio::test(start_paused = true)]
async fn engine_runs_stages_in_order_each_after_the_previous_finished() {
    let fake = FakeSystemd::new([
        ("a1.service", FakeUnit::ok(2 * SEC)),
        ("b1.service", FakeUnit::ok(3 * SEC)),
        ("b2.service", FakeUnit::ok(SEC)),
        ("c1.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("a", &["a1.service"], 1, 60 * SEC),
        stage("b", &["b*.service"], 0, 60 * SEC),
        stage("c", &["c1.service"], 1, 60 * SEC),
    ]);
    let t0 = Instant::now();
    let (summary, events) = run(&plan, &fake).await;

    assert_eq!(
        fake.started(),
        ["a1.service", "b1.service", "b2.service", "c1.service"]
    );
    assert_eq!(fake.start_time("a1.service"), Some(t0));
    assert_eq!(fake.start_time("b1.service"), Some(t0 + 2 * SEC));
    assert_eq!(fake.start_time("b2.service"), Some(t0 + 2 * SEC));
    assert_eq!(fake.start_time("c1.service"), Some(t0 + 5 * SEC));
    let a_done = position(
        &events,
        |e| matches!(e, Event::StageFinished(s) if s.name == "a"),
    );
    let b_start = position(
        &events,
        |e| matches!(e, Event::StageStarted(s) if s.name == "b"),
    );
    assert!(a_done < b_start);
    let Event::StageStarted(b) = &events[b_start] else {
        unreachable!()
    };
    assert_eq!(b.units, ["b1.service", "b2.service"]);
    assert_eq!((b.index, b.parallel, b.timeout_secs), (1, 0, 60));

    assert_eq!(
        (
            summary.exit_code,
            summary.total_services,
            summary.successful
        ),
        (0, 4, 4)
    );
    assert_eq!(summary.duration_ms, 6000);
    let b1 = &summary.units[1];
    assert_eq!(
        (
            b1.result.as_deref(),
            b1.exit_status,
            b1.duration_ms,
            b1.still_running
        ),
        (Some("success"), Some(0), Some(3000), false)
    );
    assert!(!summary.cancelled && !summary.dry_run && summary.critical_reason.is_none());
}

#[tokio::test(start_paused = true)]
async fn engine_never_runs_more_units_than_parallel_allows() {
    for (parallel, expected) in [(1, 1), (3, 3), (0, 7)] {
        let names = [
            "r-1.service",
            "r-2.service",
            "r-3.service",
            "r-4.service",
            "r-5.service",
            "r-6.service",
            "r-7.service",
        ];
        let fake = FakeSystemd::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, FakeUnit::ok(SEC * (7 - i as u32)))),
        );
        let plan = plan(vec![stage("restic", &["r-*.service"], parallel, 60 * SEC)]);
        let t0 = Instant::now();
        let (summary, _) = run(&plan, &fake).await;
        assert_eq!(fake.max_running(), expected, "parallel = {parallel}");
        assert_eq!(fake.started().len(), 7);
        assert_eq!(summary.successful, 7);
        if parallel == 3 {
            // r-3 (5 s) is the first of the three to end: r-4 takes its slot at once.
            assert_eq!(fake.start_time("r-4.service"), Some(t0 + 5 * SEC));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn engine_skips_units_already_running_when_their_turn_comes() {
    let fake = FakeSystemd::new([
        ("x.service", FakeUnit::in_state("activating")),
        ("y.service", FakeUnit::in_state("active")),
        ("z.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![stage("s", &["*.service"], 0, 60 * SEC)]);
    let (summary, events) = run(&plan, &fake).await;

    assert_eq!(fake.started(), ["z.service"]);
    let x = skipped(&events, "x.service");
    assert_eq!(
        (x.reason.as_str(), x.active_state.as_str()),
        ("already activating", "activating")
    );
    assert_eq!(skipped(&events, "y.service").active_state, "active");
    assert_eq!(
        outcomes(&summary),
        [
            ("x.service", Outcome::Skipped),
            ("y.service", Outcome::Skipped),
            ("z.service", Outcome::Success)
        ]
    );
    assert_eq!((summary.skipped, summary.exit_code), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn engine_keeps_the_slot_of_a_timed_out_unit_until_it_really_ends() {
    let fake = FakeSystemd::new([
        ("a-slow.service", FakeUnit::ok(600 * SEC)),
        ("b-next.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![stage("s", &["*.service"], 1, 60 * SEC)]);
    let t0 = Instant::now();
    let (summary, events) = run(&plan, &fake).await;

    let t = timed_out(&events, "a-slow.service");
    assert_eq!(
        (t.timeout_secs, t.still_running, t.stop_requested),
        (60, true, false)
    );
    assert!(fake.stopped().is_empty());
    // Its slot stays taken until it exits at 600 s, though its stage timeout passed at 60 s.
    assert_eq!(fake.start_time("b-next.service"), Some(t0 + 600 * SEC));
    assert_eq!(fake.max_running(), 1);
    // Its real end is reported too, keeping the outcome.
    let ends = finished(&events, "a-slow.service");
    assert_eq!(ends.len(), 1);
    assert_eq!(
        (ends[0].outcome, ends[0].duration_ms),
        (Outcome::TimedOut, 600_000)
    );

    let slow = &summary.units[0];
    assert_eq!(
        (slow.outcome, slow.duration_ms, slow.still_running),
        (Outcome::TimedOut, Some(60_000), false)
    );
    assert_eq!(
        (
            summary.timed_out,
            summary.failure_rate_percent,
            summary.exit_code
        ),
        (1, 50, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn engine_marks_timed_out_units_still_running_at_the_end_of_the_run() {
    let fake = FakeSystemd::new([
        ("a-slow.service", FakeUnit::ok(600 * SEC)),
        ("b-fast.service", FakeUnit::ok(SEC)),
        ("c-late.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["a-slow.service", "b-fast.service"], 0, 60 * SEC),
        stage("t", &["c-late.service"], 1, 60 * SEC),
    ]);
    let t0 = Instant::now();
    let (summary, events) = run(&plan, &fake).await;

    // The stage is over at the timeout; the next stage does not wait for the slow unit.
    assert_eq!(fake.start_time("c-late.service"), Some(t0 + 60 * SEC));
    assert_eq!(summary.duration_ms, 61_000);
    assert!(summary.units[0].still_running);
    assert!(finished(&events, "a-slow.service").is_empty());
    assert_eq!(fake.running_now(), 1);
}

#[tokio::test(start_paused = true)]
async fn engine_stops_a_timed_out_unit_when_asked_to() {
    let fake = FakeSystemd::new([("hang.service", FakeUnit::hanging())]);
    let plan = plan(vec![stage("s", &["hang.service"], 1, 60 * SEC)]);
    let options = EngineOptions {
        stop_units_on_timeout: true,
        ..options()
    };
    let (summary, events) = run_with(&plan, &fake, &options, Cancel::new()).await;

    assert_eq!(fake.stopped(), ["hang.service"]);
    let t = timed_out(&events, "hang.service");
    assert!(t.still_running && t.stop_requested);
    assert_eq!(summary.units[0].outcome, Outcome::TimedOut);
    assert!(!summary.units[0].still_running, "it ended after its stop");
    assert_eq!(summary.exit_code, 2);
}

#[tokio::test(start_paused = true)]
async fn engine_counts_failures_of_a_warn_only_stage_as_warnings() {
    let fake = FakeSystemd::new([
        ("sanoid.service", FakeUnit::failing(SEC)),
        ("syncoid-a.service", FakeUnit::ok(SEC)),
    ]);
    let mut snapshots = stage("snapshots", &["sanoid.service"], 1, 300 * SEC);
    snapshots.warn_only = true;
    let plan = plan(vec![
        snapshots,
        stage("replication", &["syncoid-*.service"], 0, 60 * SEC),
    ]);
    let (summary, events) = run(&plan, &fake).await;

    let sanoid = finished(&events, "sanoid.service");
    assert_eq!(
        (
            sanoid[0].outcome,
            sanoid[0].result.as_str(),
            sanoid[0].exit_status
        ),
        (Outcome::Warning, "exit-code", Some(1))
    );
    assert_eq!(
        (
            summary.total_services,
            summary.warnings,
            summary.failed,
            summary.exit_code
        ),
        (2, 1, 0, 0)
    );
    assert_eq!(fake.started(), ["sanoid.service", "syncoid-a.service"]);
}

#[tokio::test(start_paused = true)]
async fn engine_leaves_out_excluded_and_template_units() {
    let fake = FakeSystemd::new([
        ("syncoid-tank-a.service", FakeUnit::ok(SEC)),
        ("syncoid-replication-info.service", FakeUnit::ok(SEC)),
        ("syncoid-target-reachability.service", FakeUnit::ok(SEC)),
        ("syncoid-@.service", FakeUnit::ok(SEC)),
    ]);
    let plan = Plan {
        preflight: Vec::new(),
        stages: vec![Plan::builtin_default().stages[1].clone()],
        ..Plan::builtin_default()
    };
    let (summary, events) = run(&plan, &fake).await;

    assert_eq!(fake.started(), ["syncoid-tank-a.service"]);
    let discovered: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::UnitDiscovered(u) => Some(u.unit.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(discovered, ["syncoid-tank-a.service"]);
    assert_eq!(summary.total_services, 1);
}

#[tokio::test(start_paused = true)]
async fn engine_dry_run_starts_and_stops_nothing() {
    let fake = FakeSystemd::new([
        ("a.service", FakeUnit::ok(SEC)),
        ("b.service", FakeUnit::in_state("activating")),
        ("c.service", FakeUnit::hanging()),
    ]);
    let plan = plan(vec![
        stage("one", &["a.service", "b.service"], 1, SEC),
        stage("two", &["c.service"], 1, SEC),
    ]);
    let options = EngineOptions {
        dry_run: true,
        stop_units_on_timeout: true,
        ..options()
    };
    let (summary, events) = run_with(&plan, &fake, &options, Cancel::new()).await;

    assert!(fake.started().is_empty());
    assert!(fake.stopped().is_empty());
    assert!(!events.iter().any(|e| matches!(e, Event::UnitStarted(_))));
    assert_eq!(
        outcomes(&summary),
        [
            ("a.service", Outcome::Planned),
            ("b.service", Outcome::Skipped),
            ("c.service", Outcome::Planned)
        ]
    );
    assert_eq!(finished(&events, "a.service")[0].outcome, Outcome::Planned);
    assert!(summary.dry_run);
    assert_eq!(summary.exit_code, 0);
}

#[tokio::test]
async fn engine_preflight_failure_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (checks, expected_reason) in [
        (
            vec![
                DiskCheck {
                    path: dir.path().to_owned(),
                    min_free_bytes: 1,
                },
                DiskCheck {
                    path: "/nonexistent/nas-postgresql".into(),
                    min_free_bytes: 1,
                },
            ],
            "cannot check free space on /nonexistent/nas-postgresql",
        ),
        (
            vec![DiskCheck {
                path: dir.path().to_owned(),
                min_free_bytes: u64::MAX,
            }],
            "insufficient space on",
        ),
    ] {
        for dry_run in [false, true] {
            let fake = FakeSystemd::new([("a.service", FakeUnit::ok(SEC))]);
            let plan = Plan {
                preflight: checks.clone(),
                ..plan(vec![stage("s", &["a.service"], 1, SEC)])
            };
            let options = EngineOptions {
                dry_run,
                ..options()
            };
            let (summary, events) = run_with(&plan, &fake, &options, Cancel::new()).await;

            assert!(fake.started().is_empty());
            let checks_reported: Vec<_> = events
                .iter()
                .filter_map(|e| match e {
                    Event::PreflightCheck(c) => Some(c),
                    _ => None,
                })
                .collect();
            assert_eq!(checks_reported.len(), checks.len());
            assert!(checks_reported.iter().any(|c| !c.passed));
            assert_eq!(events.len(), checks.len() + 2, "{events:#?}");
            assert_eq!(summary.exit_code, 2);
            assert_eq!(summary.total_services, 0);
            let reason = summary.critical_reason.unwrap();
            assert!(reason.starts_with("preflight failed: "), "{reason}");
            assert!(reason.contains(expected_reason), "{reason}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn engine_preflight_success_lets_the_run_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSystemd::new([("a.service", FakeUnit::ok(SEC))]);
    let plan = Plan {
        preflight: vec![DiskCheck {
            path: dir.path().to_owned(),
            min_free_bytes: 1,
        }],
        ..plan(vec![stage("s", &["a.service"], 1, 60 * SEC)])
    };
    let (summary, events) = run(&plan, &fake).await;
    assert!(matches!(&events[1], Event::PreflightCheck(c) if c.passed && c.free_bytes.is_some()));
    assert_eq!((summary.exit_code, summary.successful), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn engine_cancel_skips_units_not_started_and_waits_for_running_ones() {
    let fake = FakeSystemd::new([
        ("u1.service", FakeUnit::ok(60 * SEC)),
        ("u2.service", FakeUnit::ok(SEC)),
        ("u3.service", FakeUnit::ok(SEC)),
        ("v1.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["u*.service"], 1, 3600 * SEC),
        stage("t", &["v1.service"], 1, 3600 * SEC),
    ]);
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let options = options();
    let ((summary, events), ()) =
        tokio::join!(run_with(&plan, &fake, &options, cancel), async move {
            sleep(30 * SEC).await;
            trigger.start_no_more();
        });

    assert_eq!(fake.started(), ["u1.service"]);
    assert!(fake.stopped().is_empty());
    assert_eq!(
        outcomes(&summary),
        [
            ("u1.service", Outcome::Success),
            ("u2.service", Outcome::Skipped),
            ("u3.service", Outcome::Skipped),
            ("v1.service", Outcome::Skipped)
        ]
    );
    assert_eq!(skipped(&events, "v1.service").reason, "cancelled");
    assert!(summary.cancelled);
    assert_eq!(summary.duration_ms, 60_000);
}

#[tokio::test(start_paused = true)]
async fn engine_cancel_with_stop_stops_the_running_units() {
    let fake = FakeSystemd::new([
        ("h1.service", FakeUnit::hanging()),
        ("h2.service", FakeUnit::hanging()),
        ("later.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["h*.service"], 0, 3600 * SEC),
        stage("t", &["later.service"], 1, 3600 * SEC),
    ]);
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let options = options();
    let ((summary, events), ()) =
        tokio::join!(run_with(&plan, &fake, &options, cancel), async move {
            sleep(10 * SEC).await;
            trigger.stop_units();
        });

    let mut stopped = fake.stopped();
    stopped.sort();
    assert_eq!(stopped, ["h1.service", "h2.service"]);
    assert_eq!(fake.started(), ["h1.service", "h2.service"]);
    assert_eq!(summary.units[0].outcome, Outcome::Failed);
    assert_eq!(summary.units[2].outcome, Outcome::Skipped);
    assert!(summary.cancelled);
    assert_eq!(summary.duration_ms, 10_000);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(l) if l.level == LogLevel::Warn && l.message.contains("stopping 2")))
    );
}

#[tokio::test(start_paused = true)]
async fn engine_reads_the_states_of_the_units_it_takes_at_once_in_one_call() {
    let fake = FakeSystemd::new([
        ("a1.service", FakeUnit::ok(SEC)),
        ("a2.service", FakeUnit::ok(SEC)),
        ("b1.service", FakeUnit::ok(SEC)),
        ("b2.service", FakeUnit::ok(2 * SEC)),
        ("b3.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("a", &["a*.service"], 0, 60 * SEC),
        stage("b", &["b*.service"], 2, 60 * SEC),
    ]);
    let (summary, _) = run(&plan, &fake).await;

    let reads = fake.state.borrow().state_reads.clone();
    assert_eq!(
        reads,
        [
            vec!["a1.service", "a2.service"],
            vec!["b1.service", "b2.service"],
            // Its turn comes when b1 ends, with b2 still running.
            vec!["b3.service"],
        ]
    );
    assert_eq!(summary.successful, 5);
}

#[tokio::test(start_paused = true)]
async fn engine_fails_the_units_whose_state_systemd_does_not_tell() {
    let fake = FakeSystemd::new([
        ("a.service", FakeUnit::ok(SEC)),
        ("b.service", FakeUnit::ok(SEC)),
    ]);
    fake.state.borrow_mut().fail_state_reads = true;
    let plan = plan(vec![stage("s", &["a.service", "b.service"], 0, 60 * SEC)]);
    let (summary, events) = run(&plan, &fake).await;

    assert!(fake.started().is_empty());
    assert_eq!(
        outcomes(&summary),
        [
            ("a.service", Outcome::Failed),
            ("b.service", Outcome::Failed)
        ]
    );
    assert_eq!(
        finished(&events, "b.service")[0].result,
        "org.freedesktop.DBus.Error.NoReply"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Log(l) if l.level == LogLevel::Warn
                && l.message.starts_with("failed to read the state of b.service: ")
                && l.message.ends_with("systemd did not answer")
        )),
        "{events:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn engine_fails_only_the_unit_whose_start_systemd_refuses() {
    let mut masked = FakeUnit::ok(SEC);
    masked.start_error = Some(zbus::fdo::Error::AccessDenied("Unit is masked.".to_owned()));
    let fake = FakeSystemd::new([
        ("masked.service", masked),
        ("fine.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["masked.service", "fine.service"], 1, 60 * SEC),
        // A literal name the host lacks is still run, and fails.
        stage("t", &["pgbackrest-full-backup.service"], 1, 60 * SEC),
    ]);
    let (summary, events) = run(&plan, &fake).await;

    assert_eq!(
        outcomes(&summary),
        [
            ("fine.service", Outcome::Success),
            ("masked.service", Outcome::Failed),
            ("pgbackrest-full-backup.service", Outcome::Failed)
        ]
    );
    assert_eq!(
        summary.units[1].result.as_deref(),
        Some("org.freedesktop.DBus.Error.AccessDenied")
    );
    assert_eq!(
        finished(&events, "pgbackrest-full-backup.service")[0].result,
        "org.freedesktop.DBus.Error.FileNotFound"
    );
    // 2 of 3 failed: above 50 %.
    assert_eq!((summary.failure_rate_percent, summary.exit_code), (66, 2));
}

#[tokio::test(start_paused = true)]
async fn engine_reports_a_discovery_failure_and_goes_on() {
    let fake = FakeSystemd::new([("a.service", FakeUnit::ok(SEC))]);
    fake.state.borrow_mut().fail_discovery = true;
    let plan = plan(vec![stage("s", &["a.service", "b-*.service"], 1, 60 * SEC)]);
    let (summary, events) = run(&plan, &fake).await;

    assert!(events.iter().any(|e| matches!(
        e,
        Event::Log(l) if l.level == LogLevel::Error && l.message.starts_with("failed to discover the units of stage s")
    )));
    assert_eq!(outcomes(&summary), [("a.service", Outcome::Success)]);
}

#[tokio::test(start_paused = true)]
async fn engine_emits_unit_events_in_lifecycle_order() {
    let fake = FakeSystemd::new([("a.service", FakeUnit::ok(SEC))]);
    let plan = plan(vec![stage("s", &["a.service"], 1, 60 * SEC)]);
    let (_, events) = run(&plan, &fake).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::RunStarted(_) => "run_started",
            Event::UnitDiscovered(_) => "unit_discovered",
            Event::StageStarted(_) => "stage_started",
            Event::UnitStarted(_) => "unit_started",
            Event::UnitFinished(_) => "unit_finished",
            Event::StageFinished(_) => "stage_finished",
            Event::RunFinished(_) => "run_finished",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "unit_discovered",
            "stage_started",
            "unit_started",
            "unit_finished",
            "stage_finished",
            "run_finished"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn engine_discovers_the_next_stage_while_the_current_one_runs() {
    let fake = FakeSystemd::new([
        ("a.service", FakeUnit::ok(10 * SEC)),
        ("b-1.service", FakeUnit::ok(SEC)),
    ]);
    fake.state.borrow_mut().discovery_delay = 2 * SEC;
    let plan = plan(vec![
        stage("a", &["a.service"], 1, 60 * SEC),
        stage("b", &["b-*.service"], 1, 60 * SEC),
    ]);
    let t0 = Instant::now();
    let (summary, events) = run(&plan, &fake).await;

    let asked: Vec<_> = fake
        .state
        .borrow()
        .discoveries
        .iter()
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(asked, [t0, t0 + 2 * SEC]);
    // b's discovery (2 s) ran during a's 10 s: b starts as soon as a ends.
    assert_eq!(fake.start_time("b-1.service"), Some(t0 + 12 * SEC));
    // Its events still come when its stage begins.
    let a_done = position(
        &events,
        |e| matches!(e, Event::StageFinished(s) if s.name == "a"),
    );
    let b_found = position(
        &events,
        |e| matches!(e, Event::UnitDiscovered(u) if u.stage == "b"),
    );
    assert!(a_done < b_found);
    assert_eq!(summary.successful, 2);
}

#[tokio::test(start_paused = true)]
async fn engine_finish_now_makes_the_summary_at_once_and_leaves_running_units_running() {
    let fake = FakeSystemd::new([
        ("u1.service", FakeUnit::ok(SEC)),
        ("u2.service", FakeUnit::ok(600 * SEC)),
        ("u3.service", FakeUnit::ok(SEC)),
        ("v1.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["u*.service"], 2, 3600 * SEC),
        stage("t", &["v1.service"], 1, 3600 * SEC),
    ]);
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let options = options();
    let ((summary, events), ()) =
        tokio::join!(run_with(&plan, &fake, &options, cancel), async move {
            sleep(30 * SEC).await;
            trigger.finish_now();
        });

    // u1 and u3 ran and ended; u2 was running when the run was told to finish.
    assert_eq!(fake.started(), ["u1.service", "u2.service", "u3.service"]);
    assert!(fake.stopped().is_empty(), "a finish is not a stop");
    assert_eq!(
        outcomes(&summary),
        [
            ("u1.service", Outcome::Success),
            ("u2.service", Outcome::Unknown),
            ("u3.service", Outcome::Success),
        ]
    );
    assert!(summary.units[1].still_running);
    assert!(!summary.units[0].still_running);
    assert!(summary.cancelled);
    assert_eq!(summary.duration_ms, 30_000, "waited after the finish");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Log(log) if log.message.contains("left running: u2.service"))
        ),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn engine_times_out_a_start_systemd_never_answers_within_the_stage_timeout() {
    let fake = FakeSystemd::new([
        (
            "u1.service",
            FakeUnit {
                start_unanswered: true,
                ..FakeUnit::ok(SEC)
            },
        ),
        ("v1.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![
        stage("s", &["u1.service"], 1, 10 * SEC),
        stage("t", &["v1.service"], 1, 10 * SEC),
    ]);
    let (summary, events) = run(&plan, &fake).await;
    assert_eq!(
        outcomes(&summary),
        [
            ("u1.service", Outcome::TimedOut),
            ("v1.service", Outcome::Success)
        ]
    );
    let timed_out = timed_out(&events, "u1.service");
    assert!(!timed_out.still_running, "{timed_out:?}");
    // The stage's 10 s, then v1's 1 s: the run went on.
    assert_eq!(summary.duration_ms, 11_000);
}

#[tokio::test(start_paused = true)]
async fn engine_attaches_a_failed_units_journal_to_its_end_and_its_report_only() {
    let fake = FakeSystemd::new([
        ("syncoid-a.service", FakeUnit::failing(SEC)),
        ("syncoid-b.service", FakeUnit::ok(SEC)),
    ]);
    let plan = plan(vec![stage(
        "replication",
        &["syncoid-*.service"],
        0,
        60 * SEC,
    )]);
    let (summary, events) = run(&plan, &fake).await;

    let lines = ["journal of invocation 0123456789abcdef0123456789abcdef"];
    assert_eq!(finished(&events, "syncoid-a.service")[0].journal, lines);
    assert!(finished(&events, "syncoid-b.service")[0].journal.is_empty());
    assert_eq!(summary.units[0].journal, lines);
    assert!(summary.units[1].journal.is_empty());
}

#[tokio::test(start_paused = true)]
async fn engine_warns_about_a_stage_whose_patterns_match_no_unit() {
    let fake = FakeSystemd::new([("syncoid-a.service", FakeUnit::ok(SEC))]);
    let plan = plan(vec![
        stage("replication", &["syncoid-*.service"], 0, 60 * SEC),
        stage("restic", &["restic-backup-*.service"], 3, 60 * SEC),
    ]);
    let (summary, events) = run(&plan, &fake).await;

    let warnings: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Log(log) if log.level == LogLevel::Warn => Some(log.message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        ["stage restic: no unit on this host matches restic-backup-*.service"]
    );
    assert_eq!(summary.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn engine_attaches_the_journal_of_a_timed_out_unit_that_ends_during_the_run() {
    let fake = FakeSystemd::new([
        ("slow.service", FakeUnit::failing(90 * SEC)),
        ("next.service", FakeUnit::ok(60 * SEC)),
    ]);
    let plan = plan(vec![
        stage("first", &["slow.service"], 1, 60 * SEC),
        stage("second", &["next.service"], 1, 120 * SEC),
    ]);
    let (summary, events) = run(&plan, &fake).await;

    let slow = finished(&events, "slow.service");
    assert_eq!(slow.len(), 1, "{events:#?}");
    assert_eq!(slow[0].outcome, Outcome::TimedOut);
    assert_eq!(
        slow[0].journal,
        ["journal of invocation 0123456789abcdef0123456789abcdef"]
    );
    assert_eq!(summary.units[0].journal, slow[0].journal);
    assert!(!summary.units[0].still_running);
}
