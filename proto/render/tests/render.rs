//! Renders `demo_events()` and hand-made runs through the public API, in every mode.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use backup_orchestrator_proto::event::{
    LogIncomplete, PlanOutline, PreflightCheck, RunStarted, StageFinished, StageStarted,
    UnitFinished, UnitStarted, UnitTimedOut,
};
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Outcome, Summary, UnitReport};
use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer, demo_events, summary_json};

/// A writer the test keeps a handle on.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders `events`, then `finish` with the summary of their `RunFinished`; returns (stdout, stderr).
fn render(options: RenderOptions, events: &[Envelope]) -> (String, String) {
    let (out, err) = (Buf::default(), Buf::default());
    let mut renderer =
        Renderer::with_writers(options, Box::new(out.clone()), Box::new(err.clone()));
    for envelope in events {
        renderer.event(envelope).unwrap();
    }
    renderer.finish(&summary_of(events)).unwrap();
    (out.text(), err.text())
}

fn summary_of(events: &[Envelope]) -> Summary {
    events
        .iter()
        .find_map(|e| match &e.event {
            Event::RunFinished(f) => Some(f.summary.clone()),
            _ => None,
        })
        .expect("a RunFinished event")
}

fn opts(mode: OutputMode) -> RenderOptions {
    RenderOptions::new(mode)
}

/// Hand-made runs: `seq` and `elapsed_ms` advance by themselves.
#[derive(Default)]
struct Run {
    events: Vec<Envelope>,
}

impl Run {
    fn at(mut self, elapsed_ms: u64, event: Event) -> Run {
        let seq = self.events.len() as u64;
        self.events.push(Envelope {
            seq,
            at_ms: 1_762_135_200_000 + elapsed_ms,
            elapsed_ms,
            event,
        });
        self
    }

    fn started(self, dry_run: bool) -> Run {
        self.at(
            0,
            Event::RunStarted(RunStarted {
                run_id: "r1".into(),
                host: "testhost".into(),
                started_at: "2025-11-03T02:00:00Z".into(),
                agent: "backup-orchestrator 0.1.0".into(),
                dry_run,
                plan: PlanOutline {
                    source: "built-in default".into(),
                    failure_threshold_percent: 50,
                    stages: Vec::new(),
                },
            }),
        )
    }

    fn stage(self, at: u64, index: u32, name: &str, units: &[&str]) -> Run {
        self.at(
            at,
            Event::StageStarted(StageStarted {
                index,
                name: name.into(),
                units: units.iter().map(|u| (*u).into()).collect(),
                parallel: 3,
                timeout_secs: 2700,
            }),
        )
    }

    fn unit_started(self, at: u64, stage: &str, unit: &str) -> Run {
        self.at(
            at,
            Event::UnitStarted(UnitStarted {
                stage: stage.into(),
                unit: unit.into(),
                invocation_id: Some("0123abcd".into()),
                timeout_secs: 2700,
            }),
        )
    }

    fn unit_finished(self, at: u64, stage: &str, unit: &str, outcome: Outcome, took: u64) -> Run {
        let (result, status) = match outcome {
            Outcome::Success => ("success", 0),
            _ => ("exit-code", 1),
        };
        self.at(
            at,
            Event::UnitFinished(UnitFinished {
                stage: stage.into(),
                unit: unit.into(),
                outcome,
                result: result.into(),
                active_state: "inactive".into(),
                exit_status: Some(status),
                duration_ms: took,
                journal: vec![],
            }),
        )
    }

    fn stage_finished(
        self,
        at: u64,
        index: u32,
        name: &str,
        successful: u32,
        timed_out: u32,
    ) -> Run {
        self.at(
            at,
            Event::StageFinished(StageFinished {
                index,
                name: name.into(),
                successful,
                failed: 0,
                timed_out,
                skipped: 0,
                warnings: 0,
                duration_ms: at,
            }),
        )
    }

    fn finished(self, at: u64, summary: Summary) -> Run {
        self.at(
            at,
            Event::RunFinished(backup_orchestrator_proto::event::RunFinished { summary }),
        )
    }
}

fn summary(units: Vec<UnitReport>, exit_code: i32, rate: u32) -> Summary {
    let count = |o: Outcome| units.iter().filter(|u| u.outcome == o).count() as u32;
    Summary {
        total_services: units.len() as u32,
        successful: count(Outcome::Success),
        failed: count(Outcome::Failed),
        timed_out: count(Outcome::TimedOut),
        skipped: count(Outcome::Skipped),
        failure_rate_percent: rate,
        exit_code,
        warnings: count(Outcome::Warning),
        run_id: "r1".into(),
        host: "testhost".into(),
        started_at: "2025-11-03T02:00:00Z".into(),
        duration_ms: 90_000,
        dry_run: false,
        cancelled: false,
        critical_reason: None,
        units,
    }
}

fn report(unit: &str, outcome: Outcome) -> UnitReport {
    UnitReport {
        unit: unit.into(),
        stage: "restic".into(),
        outcome,
        result: Some("success".into()),
        exit_status: Some(0),
        duration_ms: Some(1_000),
        still_running: false,
        journal: vec![],
    }
}

/// Two restic units, both fine.
fn success_run() -> Vec<Envelope> {
    let a = "restic-backup-a.service";
    let b = "restic-backup-b.service";
    Run::default()
        .started(false)
        .stage(10, 0, "restic", &[a, b])
        .unit_started(20, "restic", a)
        .unit_started(25, "restic", b)
        .unit_finished(1_020, "restic", a, Outcome::Success, 1_000)
        .unit_finished(1_025, "restic", b, Outcome::Success, 1_000)
        .stage_finished(1_030, 0, "restic", 2, 0)
        .finished(
            1_040,
            summary(
                vec![report(a, Outcome::Success), report(b, Outcome::Success)],
                0,
                0,
            ),
        )
        .events
}

const DEMO_PLAIN: &str = r#"[INFO] Backup run 20251103T020000Z-forge on forge (backup-orchestrator 0.1.0)
[INFO] Stage 0: Pre-Flight Checks
[INFO] Disk space check passed: /mnt/nas-backup has 120GB available
[INFO] Disk space check passed: /mnt/nas-postgresql has 45GB available
[INFO] Stage 1: snapshots (1 unit: sanoid.service, failures are warnings)
[INFO] Starting sanoid.service...
[INFO] sanoid.service succeeded in 2.1s
[INFO] Stage 1 complete: 1 succeeded (2.1s)
[INFO] Stage 2: replication (7 units, all at once)
[INFO] Starting syncoid-tank-services-sonarr.service...
[INFO] Starting syncoid-tank-services-radarr.service...
[INFO] Starting syncoid-tank-services-prowlarr.service...
[INFO] Starting syncoid-tank-services-plex.service...
[INFO] Starting syncoid-tank-services-home-assistant.service...
[INFO] Starting syncoid-tank-services-grafana.service...
[INFO] Starting syncoid-tank-services-postgresql.service...
[WARN] syncoid-tank-services-prowlarr.service failed with result: exit-code (exit status 1) after 48.3s
[INFO] syncoid-tank-services-grafana.service succeeded in 1m 2s
[INFO] syncoid-tank-services-sonarr.service succeeded in 1m 12s
[INFO] syncoid-tank-services-radarr.service succeeded in 1m 35s
[INFO] syncoid-tank-services-home-assistant.service succeeded in 2m 9s
[INFO] syncoid-tank-services-postgresql.service succeeded in 3m 24s
[INFO] syncoid-tank-services-plex.service succeeded in 5m 42s
[WARN] Stage 2 complete: 6 succeeded, 1 failed (5m 42s)
[INFO] Stage 3: postgresql (1 unit: pgbackrest-full-backup.service)
[INFO] Starting pgbackrest-full-backup.service...
[INFO] pgbackrest-full-backup.service succeeded in 8m 12s
[INFO] Stage 3 complete: 1 succeeded (8m 12s)
[INFO] Stage 4: restic (6 units, at most 3 at once)
[WARN] restic-backup-plex.service skipped: already activating (started by its timer)
[INFO] Starting restic-backup-sonarr.service...
[INFO] Starting restic-backup-radarr.service...
[INFO] Starting restic-backup-prowlarr.service...
[INFO] restic-backup-prowlarr.service succeeded in 1m 37s
[INFO] Starting restic-backup-home-assistant.service...
[INFO] restic-backup-sonarr.service succeeded in 3m 4s
[INFO] Starting restic-backup-grafana.service...
[INFO] restic-backup-radarr.service succeeded in 4m 4s
[INFO] restic-backup-grafana.service succeeded in 2m 38s
[INFO] restic-backup-home-assistant.service succeeded in 6m 53s
[INFO] Stage 4 complete: 5 succeeded, 1 skipped (8m 30s)
[INFO] Stage 5: Verification and Final Report
[INFO] Total services: 15
[INFO] Successful: 13
[INFO] Failed: 1
[INFO] Timed out: 0
[INFO] Skipped (already running): 1
[INFO] Warnings: 0
[INFO] Duration: 22m 26s
[ERROR] Failed services:
[ERROR]   - syncoid-tank-services-prowlarr.service: exit-code
[WARN] ⚠️  Partial failure: 6% of backups did not complete successfully
[WARN] This is within acceptable threshold for deployment
[WARN] Review failures above and proceed with caution
"#;

#[test]
fn plain_renders_the_demo_run_in_the_scripts_format() {
    let (out, err) = render(opts(OutputMode::Plain), &demo_events());
    assert_eq!(out, DEMO_PLAIN);
    assert_eq!(err, "");
}

#[test]
fn plain_shows_the_failure_the_skip_the_counts_and_the_rate() {
    let (out, _) = render(opts(OutputMode::Plain), &demo_events());
    let has = |line: &str| assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    has(
        "[WARN] syncoid-tank-services-prowlarr.service failed with result: exit-code (exit status 1) after 48.3s",
    );
    has("[WARN] restic-backup-plex.service skipped: already activating (started by its timer)");
    has("[INFO] Stage 5: Verification and Final Report");
    has("[INFO] Total services: 15");
    has("[INFO] Successful: 13");
    has("[INFO] Failed: 1");
    has("[INFO] Skipped (already running): 1");
    has("[ERROR]   - syncoid-tank-services-prowlarr.service: exit-code");
    has("[WARN] ⚠️  Partial failure: 6% of backups did not complete successfully");
    assert!(!out.contains('\u{1b}'), "plain output has no ANSI codes");
}

#[test]
fn plain_keeps_the_level_first_when_labelled_with_the_host() {
    let options = RenderOptions {
        host_label: Some("forge".into()),
        ..opts(OutputMode::Plain)
    };
    let (out, _) = render(options, &demo_events());
    assert!(
        out.lines()
            .all(|l| l.starts_with('[') && l.contains("] forge: ")),
        "{out}"
    );
    assert!(out.contains("[INFO] forge: Starting sanoid.service...\n"));
}

#[test]
fn plain_adds_debug_lines_only_when_verbose() {
    let (quiet, _) = render(opts(OutputMode::Plain), &demo_events());
    assert!(!quiet.contains("[DEBUG]"));
    let verbose = RenderOptions {
        verbose: true,
        ..opts(OutputMode::Plain)
    };
    let (out, _) = render(verbose, &demo_events());
    assert!(out.contains(
        "[DEBUG] Plan: /etc/backup-orchestrator/plan.toml, 4 stages, failure threshold 50%\n"
    ));
    assert!(out.contains(
        "[DEBUG] sanoid.service invocation 5e1f9c2b00000000000000000000008c, timeout 5m\n"
    ));
    assert!(out.contains("[DEBUG] restic-backup-plex.service ActiveState=activating\n"));
}

#[test]
fn renderer_prints_nothing_for_envelopes_already_seen() {
    let events = demo_events();
    let (out, err) = (Buf::default(), Buf::default());
    let mut renderer = Renderer::with_writers(
        opts(OutputMode::Plain),
        Box::new(out.clone()),
        Box::new(err.clone()),
    );
    // A live stream cut in the middle, then a re-attach replaying from the start.
    let cut = events.len() / 2;
    for envelope in &events[..cut] {
        renderer.event(envelope).unwrap();
    }
    assert_eq!(renderer.last_seq(), Some(cut as u64 - 1));
    for envelope in &events {
        renderer.event(envelope).unwrap();
    }
    let once = out.text();
    // And every envelope duplicated once more.
    for envelope in &events {
        renderer.event(envelope).unwrap();
    }
    assert_eq!(out.text(), once);
    assert_eq!(renderer.last_seq(), Some(events.len() as u64 - 1));
    renderer.finish(&summary_of(&events)).unwrap();
    renderer.finish(&summary_of(&events)).unwrap();
    assert_eq!(
        out.text(),
        DEMO_PLAIN,
        "replays and a second finish add nothing"
    );
    assert_eq!(err.text(), "");
}

/// An independent, strict copy of the documented `--json` schema.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StrictSummary {
    total_services: u32,
    successful: u32,
    failed: u32,
    timed_out: u32,
    skipped: u32,
    failure_rate_percent: u32,
    exit_code: i32,
    warnings: u32,
    run_id: String,
    host: String,
    started_at: String,
    duration_ms: u64,
    dry_run: bool,
    cancelled: bool,
    critical_reason: Option<String>,
    units: Vec<StrictUnit>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StrictUnit {
    unit: String,
    stage: String,
    outcome: String,
    result: Option<String>,
    exit_status: Option<i32>,
    duration_ms: Option<u64>,
    still_running: bool,
}

#[test]
fn log_incomplete_says_which_host_and_why_in_plain_and_on_stderr_in_json() {
    let mut events = success_run();
    let at = 3;
    events.insert(
        at,
        Envelope {
            seq: events[at].seq,
            at_ms: events[at].at_ms,
            elapsed_ms: events[at].elapsed_ms,
            event: Event::LogIncomplete(LogIncomplete {
                reason: "No space left on device (os error 28)".into(),
                lost_events: 2,
            }),
        },
    );
    for (n, envelope) in events.iter_mut().enumerate() {
        envelope.seq = n as u64;
    }
    let host = match &events[0].event {
        Event::RunStarted(run) => run.host.clone(),
        other => panic!("{other:?}"),
    };
    let line = format!(
        "[ERROR] event log incomplete on {host}: No space left on device (os error 28); 2 events \
         were not written"
    );
    let (out, _) = render(opts(OutputMode::Plain), &events);
    assert!(out.contains(&line), "{out}");
    let (_, err) = render(opts(OutputMode::Json), &events);
    assert!(err.contains(&line), "{err}");
}

#[test]
fn json_prints_one_summary_document_and_nothing_else_on_stdout() {
    let events = demo_events();
    let (out, err) = render(opts(OutputMode::Json), &events);
    let mut docs = serde_json::Deserializer::from_str(&out).into_iter::<serde_json::Value>();
    let doc = docs.next().expect("a JSON document").expect("valid JSON");
    assert!(docs.next().is_none(), "exactly one document:\n{out}");
    assert!(out.starts_with('{'), "nothing before the document");
    assert!(out.ends_with("}\n"));
    assert_eq!(err, "", "no errors in the demo run");

    let decoded: Summary = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(decoded, summary_of(&events));
    let strict: StrictSummary = serde_json::from_value(doc).unwrap();
    assert_eq!(
        (strict.total_services, strict.failed, strict.skipped),
        (15, 1, 1)
    );
    assert_eq!((strict.failure_rate_percent, strict.exit_code), (6, 1));
    assert_eq!(strict.units.len(), 15);
    assert_eq!(strict.units[0].outcome, "success");
}

#[test]
fn summary_json_keeps_the_documented_key_order() {
    let json = summary_json(&summary_of(&demo_events()));
    let keys = [
        "total_services",
        "successful",
        "failed",
        "timed_out",
        "skipped",
        "failure_rate_percent",
        "exit_code",
        "warnings",
        "run_id",
        "host",
        "started_at",
        "duration_ms",
        "dry_run",
        "cancelled",
        "critical_reason",
        "units",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            json.find(&format!("\n  \"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    assert!(json.starts_with("{\n  \"total_services\": 15,\n  \"successful\": 13,"));
}

#[test]
fn json_sends_warning_and_error_messages_to_stderr_and_keeps_stdout_for_the_summary() {
    let (out, err) = (Buf::default(), Buf::default());
    let mut renderer = Renderer::with_writers(
        opts(OutputMode::Json),
        Box::new(out.clone()),
        Box::new(err.clone()),
    );
    renderer
        .message(LogLevel::Warn, "connection lost, reconnecting (2/5)")
        .unwrap();
    renderer
        .message(LogLevel::Error, "connection lost for good")
        .unwrap();
    for envelope in demo_events() {
        renderer.event(&envelope).unwrap();
    }
    assert_eq!(out.text(), "");
    assert_eq!(
        err.text(),
        "[WARN] connection lost, reconnecting (2/5)\n[ERROR] connection lost for good\n"
    );
}

#[test]
fn quiet_prints_nothing_for_a_successful_run() {
    let (out, err) = render(opts(OutputMode::Quiet), &success_run());
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
}

#[test]
fn quiet_prints_only_the_error_lines_of_a_failed_run_on_stderr() {
    let (out, err) = render(opts(OutputMode::Quiet), &demo_events());
    assert_eq!(out, "");
    assert_eq!(
        err,
        "[ERROR] Failed services:\n[ERROR]   - syncoid-tank-services-prowlarr.service: exit-code\n"
    );
}

#[test]
fn plain_reports_success_with_the_green_check() {
    let (out, _) = render(opts(OutputMode::Plain), &success_run());
    assert!(
        out.contains("[INFO] Stage 1: restic (2 units, all at once)\n"),
        "{out}"
    );
    assert!(
        out.contains("[INFO] Stage 2: Verification and Final Report\n"),
        "{out}"
    );
    assert!(
        out.ends_with("[INFO] ✅ All backups completed successfully!\n"),
        "{out}"
    );
}

#[test]
fn plain_shows_a_timeout_once_and_the_late_finish_as_a_warning() {
    let x = "restic-backup-x.service";
    let mut timed_out = report(x, Outcome::TimedOut);
    timed_out.still_running = true;
    let events = Run::default()
        .started(false)
        .stage(10, 0, "restic", &[x])
        .unit_started(20, "restic", x)
        .at(
            2_700_020,
            Event::UnitTimedOut(UnitTimedOut {
                stage: "restic".into(),
                unit: x.into(),
                timeout_secs: 2700,
                still_running: true,
                stop_requested: false,
            }),
        )
        .stage_finished(2_700_030, 0, "restic", 0, 1)
        .unit_finished(2_800_020, "restic", x, Outcome::Success, 2_800_000)
        .finished(2_800_030, summary(vec![timed_out], 2, 100))
        .events;
    let (out, _) = render(opts(OutputMode::Plain), &events);
    assert!(
        out.contains("[WARN] restic-backup-x.service timed out after 45m, still running\n"),
        "{out}"
    );
    assert!(
        out.contains("[WARN] Stage 1 complete: 0 succeeded, 1 timed out (45m)\n"),
        "{out}"
    );
    assert!(out.contains("[WARN] restic-backup-x.service finished after its timeout with result: success after 46m 40s\n"), "{out}");
    assert!(
        out.contains("[ERROR]   - restic-backup-x.service: timed out (still running)\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "[ERROR] ❌ Critical failure: 100% of backups did not complete successfully\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("[ERROR] This is above the acceptable threshold (50%): do not deploy\n"),
        "{out}"
    );

    // Bars count the unit once: no panic, one mark.
    let (_, err) = render(opts(OutputMode::Bars), &events);
    assert_eq!(err.matches("⏱ restic-backup-x.service").count(), 1, "{err}");
}

#[test]
fn plain_reports_preflight_failure_with_readable_small_sizes() {
    let mut critical = summary(Vec::new(), 2, 0);
    critical.critical_reason = Some("insufficient space on /mnt/nas-backup".into());
    let events = Run::default()
        .started(false)
        .at(
            5,
            Event::PreflightCheck(PreflightCheck {
                path: "/mnt/nas-backup".into(),
                min_free_bytes: 50 * 1024 * 1024 * 1024,
                free_bytes: Some(2 * 1024 * 1024 - 4096),
                passed: false,
                error: None,
            }),
        )
        .at(
            6,
            Event::PreflightCheck(PreflightCheck {
                path: "/mnt/nas-postgresql".into(),
                min_free_bytes: 20 * 1024 * 1024 * 1024,
                free_bytes: None,
                passed: false,
                error: Some("No such file or directory".into()),
            }),
        )
        .finished(7, critical)
        .events;
    let (out, _) = render(opts(OutputMode::Plain), &events);
    assert!(out.contains("[INFO] Stage 0: Pre-Flight Checks\n[ERROR] Insufficient space on /mnt/nas-backup: 1MB available, need 50GB\n"), "{out}");
    assert!(out.contains("[ERROR] Cannot check free space on /mnt/nas-postgresql (need 20GB): No such file or directory\n"), "{out}");
    assert!(
        out.contains("[ERROR] Pre-flight check failed: insufficient space on /mnt/nas-backup\n"),
        "{out}"
    );

    let (out, err) = render(opts(OutputMode::Quiet), &events);
    assert_eq!(out, "");
    assert!(err.lines().all(|l| l.starts_with("[ERROR] ")), "{err}");
    assert!(
        err.contains("Insufficient space on /mnt/nas-backup"),
        "{err}"
    );
}

#[test]
fn plain_reports_a_dry_run_as_nothing_started() {
    let a = "restic-backup-a.service";
    let mut planned = summary(vec![report(a, Outcome::Planned)], 0, 0);
    planned.dry_run = true;
    let events = Run::default()
        .started(true)
        .stage(10, 0, "restic", &[a])
        .unit_finished(11, "restic", a, Outcome::Planned, 0)
        .finished(12, planned)
        .events;
    let (out, _) = render(opts(OutputMode::Plain), &events);
    assert!(
        out.contains("[INFO] Dry run: nothing will be started\n"),
        "{out}"
    );
    assert!(
        out.contains("[INFO] Would start restic-backup-a.service (dry run)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("[INFO] Dry run: 1 unit would be started, nothing was started\n"),
        "{out}"
    );
}

#[test]
fn bars_print_marks_through_the_writer_and_nothing_on_stdout() {
    let (out, err) = render(opts(OutputMode::Bars), &demo_events());
    assert_eq!(out, "");
    let has = |line: &str| assert!(err.lines().any(|l| l == line), "missing {line:?} in\n{err}");
    has("✔ sanoid.service succeeded in 2.1s");
    has(
        "✘ syncoid-tank-services-prowlarr.service failed with result: exit-code (exit status 1) after 48.3s",
    );
    has("↷ restic-backup-plex.service skipped: already activating (started by its timer)");
    has("✔ pgbackrest-full-backup.service succeeded in 8m 12s");
    has("[INFO] Stage 2: replication (7 units, all at once)");
    has("[WARN] ⚠️  Partial failure: 6% of backups did not complete successfully");
    assert!(
        !err.contains("Starting "),
        "spinners replace the Starting lines:\n{err}"
    );
    assert!(err.contains("2 replication"), "the stage table:\n{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colors when not drawing to a terminal"
    );
}

#[test]
fn bars_print_front_end_messages_above_the_bars() {
    let (out, err) = (Buf::default(), Buf::default());
    let options = RenderOptions {
        host_label: Some("forge".into()),
        ..opts(OutputMode::Bars)
    };
    let mut renderer =
        Renderer::with_writers(options, Box::new(out.clone()), Box::new(err.clone()));
    let events = demo_events();
    for envelope in &events[..20] {
        renderer.event(envelope).unwrap();
    }
    renderer
        .message(LogLevel::Warn, "connection lost, reconnecting (2/5)…")
        .unwrap();
    for envelope in &events {
        renderer.event(envelope).unwrap();
    }
    renderer.finish(&summary_of(&events)).unwrap();
    let err = err.text();
    assert!(
        err.contains("[WARN] forge: connection lost, reconnecting (2/5)…\n"),
        "{err}"
    );
    assert_eq!(
        err.matches("✔ forge: sanoid.service succeeded").count(),
        1,
        "{err}"
    );
    assert_eq!(out.text(), "");
}

/// A reader that went away.
struct BrokenPipe;

impl Write for BrokenPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

#[test]
fn renderer_returns_a_broken_pipe_instead_of_panicking() {
    for mode in [
        OutputMode::Plain,
        OutputMode::Bars,
        OutputMode::Json,
        OutputMode::Quiet,
    ] {
        let mut renderer =
            Renderer::with_writers(opts(mode), Box::new(BrokenPipe), Box::new(BrokenPipe));
        let mut first_error = None;
        for envelope in demo_events() {
            if let Err(e) = renderer.event(&envelope) {
                first_error.get_or_insert(e.kind());
            }
        }
        if let Err(e) = renderer.finish(&summary_of(&demo_events())) {
            first_error.get_or_insert(e.kind());
        }
        assert_eq!(first_error, Some(io::ErrorKind::BrokenPipe), "{mode:?}");
    }
}

#[test]
fn renderer_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Renderer>();
}
