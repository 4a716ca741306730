//! [`demo_events`]: a realistic, fixed run of the user's 15 units on `forge`, for the hidden
//! `debug-render` command of both binaries and for the tests.
//!
//! One sanoid, seven syncoid (prowlarr's fails with exit status 1), pgBackRest's full backup, six
//! restic (plex's is skipped: its timer already started it), at most three restic jobs at once.
//! Timestamps are fixed (2025-11-03T02:00:00Z), so rendering it is deterministic: 13 successful,
//! 1 failed, 1 skipped, failure rate 6%, exit code 1.

use backup_orchestrator_proto::event::{
    Log, PlanOutline, PreflightCheck, RunFinished, RunStarted, StageFinished, StageOutline,
    StageStarted, UnitFinished, UnitRef, UnitSkipped, UnitStarted,
};
use backup_orchestrator_proto::summary::Verdict;
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Outcome, Summary, UnitReport};

const START_AT_MS: u64 = 1_762_135_200_000;
const STARTED_AT: &str = "2025-11-03T02:00:00Z";
const RUN_ID: &str = "20251103T020000Z-forge";
const HOST: &str = "forge";
const GIB: u64 = 1024 * 1024 * 1024;
const THRESHOLD: u32 = 50;

/// One unit of the demo: name, how long it runs, and its exit status (0 = success).
type Job = (&'static str, u64, i32);

struct DemoStage {
    name: &'static str,
    patterns: &'static [&'static str],
    exclude: &'static [&'static str],
    parallel: u32,
    timeout_secs: u64,
    warn_only: bool,
    /// Already active when the stage begins.
    skipped: &'static [&'static str],
    jobs: &'static [Job],
}

const STAGES: &[DemoStage] = &[
    DemoStage {
        name: "snapshots",
        patterns: &["sanoid.service"],
        exclude: &[],
        parallel: 1,
        timeout_secs: 300,
        warn_only: true,
        skipped: &[],
        jobs: &[("sanoid.service", 2_100, 0)],
    },
    DemoStage {
        name: "replication",
        patterns: &["syncoid-*.service"],
        exclude: &[
            "syncoid-replication-info.service",
            "syncoid-target-reachability.service",
        ],
        parallel: 0,
        timeout_secs: 1_800,
        warn_only: false,
        skipped: &[],
        jobs: &[
            ("syncoid-tank-services-sonarr.service", 72_400, 0),
            ("syncoid-tank-services-radarr.service", 95_100, 0),
            ("syncoid-tank-services-prowlarr.service", 48_300, 1),
            ("syncoid-tank-services-plex.service", 341_800, 0),
            ("syncoid-tank-services-home-assistant.service", 128_600, 0),
            ("syncoid-tank-services-grafana.service", 61_900, 0),
            ("syncoid-tank-services-postgresql.service", 203_500, 0),
        ],
    },
    DemoStage {
        name: "postgresql",
        patterns: &["pgbackrest-full-backup.service"],
        exclude: &[],
        parallel: 1,
        timeout_secs: 3_600,
        warn_only: false,
        skipped: &[],
        jobs: &[("pgbackrest-full-backup.service", 492_300, 0)],
    },
    DemoStage {
        name: "restic",
        patterns: &["restic-backup-*.service"],
        exclude: &[],
        parallel: 3,
        timeout_secs: 2_700,
        warn_only: false,
        skipped: &["restic-backup-plex.service"],
        jobs: &[
            ("restic-backup-sonarr.service", 184_200, 0),
            ("restic-backup-radarr.service", 243_700, 0),
            ("restic-backup-prowlarr.service", 96_800, 0),
            ("restic-backup-home-assistant.service", 412_900, 0),
            ("restic-backup-grafana.service", 158_400, 0),
        ],
    },
];

/// The demo run, `RunStarted` to `RunFinished`, `seq` 0, 1, 2, … and `elapsed_ms` never going back.
pub fn demo_events() -> Vec<Envelope> {
    let mut timeline: Vec<(u64, Event)> = vec![(0, run_started())];
    for (path, free_gib, min_gib, at) in [
        ("/mnt/nas-backup", 120, 50, 35),
        ("/mnt/nas-postgresql", 45, 20, 41),
    ] {
        timeline.push((
            at,
            Event::PreflightCheck(PreflightCheck {
                path: path.to_owned(),
                min_free_bytes: min_gib * GIB,
                free_bytes: Some(free_gib * GIB),
                passed: true,
                error: None,
            }),
        ));
    }
    let mut clock = 120;
    for (index, stage) in (0u32..).zip(STAGES) {
        clock = stage_events(index, stage, clock, &mut timeline) + 50;
    }
    // Stable: events at the same time keep the order they were pushed in.
    timeline.sort_by_key(|(at, _)| *at);

    let summary = summary(&timeline, clock);
    timeline.push((clock, Event::RunFinished(RunFinished { summary })));
    (0u64..)
        .zip(timeline)
        .map(|(seq, (elapsed_ms, event))| Envelope {
            seq,
            at_ms: START_AT_MS + elapsed_ms,
            elapsed_ms,
            event,
        })
        .collect()
}

fn run_started() -> Event {
    let stages = STAGES
        .iter()
        .map(|s| StageOutline {
            name: s.name.to_owned(),
            units: s.patterns.iter().map(|p| (*p).to_owned()).collect(),
            exclude: s.exclude.iter().map(|p| (*p).to_owned()).collect(),
            parallel: s.parallel,
            timeout_secs: s.timeout_secs,
            warn_only: s.warn_only,
        })
        .collect();
    Event::RunStarted(RunStarted {
        run_id: RUN_ID.to_owned(),
        host: HOST.to_owned(),
        started_at: STARTED_AT.to_owned(),
        agent: "backup-orchestrator 0.1.0".to_owned(),
        dry_run: false,
        plan: PlanOutline {
            source: "/etc/backup-orchestrator/plan.toml".to_owned(),
            failure_threshold_percent: THRESHOLD,
            stages,
        },
    })
}

/// Pushes one stage's events starting at `start`; returns when the stage finished.
fn stage_events(index: u32, stage: &DemoStage, start: u64, out: &mut Vec<(u64, Event)>) -> u64 {
    let name = stage.name.to_owned();
    let units: Vec<&str> = stage
        .skipped
        .iter()
        .copied()
        .chain(stage.jobs.iter().map(|j| j.0))
        .collect();
    if !stage.exclude.is_empty() {
        out.push((
            start,
            Event::Log(Log {
                level: LogLevel::Debug,
                message: format!("Excluded by the plan: {}", stage.exclude.join(", ")),
            }),
        ));
    }
    for unit in &units {
        out.push((
            start + 2,
            Event::UnitDiscovered(UnitRef {
                stage: name.clone(),
                unit: (*unit).to_owned(),
            }),
        ));
    }
    out.push((
        start + 5,
        Event::StageStarted(StageStarted {
            index,
            name: name.clone(),
            units: units.iter().map(|u| (*u).to_owned()).collect(),
            parallel: stage.parallel,
            timeout_secs: stage.timeout_secs,
        }),
    ));
    for unit in stage.skipped {
        out.push((
            start + 8,
            Event::UnitSkipped(UnitSkipped {
                stage: name.clone(),
                unit: (*unit).to_owned(),
                reason: "already activating (started by its timer)".to_owned(),
                active_state: "activating".to_owned(),
            }),
        ));
    }

    // Start each job as soon as a slot is free (`parallel` 0: all at once).
    let slots = if stage.parallel == 0 {
        stage.jobs.len()
    } else {
        stage.parallel as usize
    };
    let mut ends: Vec<u64> = Vec::new();
    let mut stage_end = start + 10;
    let (mut failed, mut warnings) = (0, 0);
    for (i, &(unit, duration_ms, status)) in (0u64..).zip(stage.jobs) {
        let begin = if ends.len() < slots {
            start + 20 + 5 * i
        } else {
            ends.sort_unstable();
            ends.remove(0) + 15
        };
        let end = begin + duration_ms;
        ends.push(end);
        stage_end = stage_end.max(end);
        out.push((
            begin,
            Event::UnitStarted(UnitStarted {
                stage: name.clone(),
                unit: unit.to_owned(),
                invocation_id: Some(format!(
                    "{:032x}",
                    0x5e1f_9c2b_u128 << 96 | u128::from(begin)
                )),
                timeout_secs: stage.timeout_secs,
            }),
        ));
        let (outcome, result, active_state) = match (status, stage.warn_only) {
            (0, _) => (Outcome::Success, "success", "inactive"),
            (_, false) => (Outcome::Failed, "exit-code", "failed"),
            (_, true) => (Outcome::Warning, "exit-code", "failed"),
        };
        failed += u32::from(outcome == Outcome::Failed);
        warnings += u32::from(outcome == Outcome::Warning);
        out.push((
            end,
            Event::UnitFinished(UnitFinished {
                stage: name.clone(),
                unit: unit.to_owned(),
                outcome,
                result: result.to_owned(),
                active_state: active_state.to_owned(),
                exit_status: Some(status),
                duration_ms,
                journal: vec![],
            }),
        ));
    }
    let finished = stage_end + 10;
    let jobs = u32::try_from(stage.jobs.len()).unwrap_or(u32::MAX);
    let skipped = u32::try_from(stage.skipped.len()).unwrap_or(u32::MAX);
    out.push((
        finished,
        Event::StageFinished(StageFinished {
            index,
            name,
            successful: jobs - failed - warnings,
            failed,
            timed_out: 0,
            skipped,
            warnings,
            duration_ms: finished - start,
        }),
    ));
    finished
}

/// The summary the agent would compute from these events.
fn summary(timeline: &[(u64, Event)], duration_ms: u64) -> Summary {
    let mut units: Vec<UnitReport> = Vec::new();
    for (_, event) in timeline {
        match event {
            Event::UnitSkipped(u) => units.push(UnitReport {
                unit: u.unit.clone(),
                stage: u.stage.clone(),
                outcome: Outcome::Skipped,
                result: None,
                exit_status: None,
                duration_ms: None,
                still_running: false,
                journal: vec![],
            }),
            Event::UnitStarted(u) => units.push(UnitReport {
                unit: u.unit.clone(),
                stage: u.stage.clone(),
                outcome: Outcome::Unknown,
                result: None,
                exit_status: None,
                duration_ms: None,
                still_running: false,
                journal: vec![],
            }),
            Event::UnitFinished(f) => {
                if let Some(report) = units.iter_mut().find(|r| r.unit == f.unit) {
                    report.outcome = f.outcome;
                    report.result = Some(f.result.clone());
                    report.exit_status = f.exit_status;
                    report.duration_ms = Some(f.duration_ms);
                }
            }
            _ => {}
        }
    }
    let v = Verdict::compute(units.iter().map(|u| u.outcome), THRESHOLD, false);
    Summary {
        total_services: v.total_services,
        successful: v.successful,
        failed: v.failed,
        timed_out: v.timed_out,
        skipped: v.skipped,
        failure_rate_percent: v.failure_rate_percent,
        exit_code: v.exit_code,
        warnings: v.warnings,
        run_id: RUN_ID.to_owned(),
        host: HOST.to_owned(),
        started_at: STARTED_AT.to_owned(),
        duration_ms,
        dry_run: false,
        cancelled: false,
        critical_reason: None,
        units,
    }
}
