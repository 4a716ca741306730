//! One sample of every message, shared by the round-trip and compatibility tests.

#![allow(dead_code)]

use backup_orchestrator_proto::event::{
    Log, LogIncomplete, PlanOutline, PreflightCheck, RunFinished, RunStarted, StageFinished,
    StageOutline, StageStarted, UnitFinished, UnitRef, UnitSkipped, UnitStarted, UnitTimedOut,
};
use backup_orchestrator_proto::{
    Envelope, Event, Hello, LogLevel, Outcome, Refusal, RefusalKind, Reply, Request, Role,
    RunHistory, RunOptions, RunRecord, RunState, StatusReport, Summary, UnitLogs, UnitReport,
};

pub fn summary() -> Summary {
    Summary {
        total_services: 15,
        successful: 14,
        failed: 1,
        timed_out: 0,
        skipped: 0,
        failure_rate_percent: 6,
        exit_code: 1,
        warnings: 0,
        run_id: "20261126T064309Z-ab12".into(),
        host: "forge".into(),
        started_at: "2026-11-26T06:43:09.123Z".into(),
        duration_ms: 1834,
        dry_run: false,
        cancelled: false,
        critical_reason: None,
        units: vec![
            UnitReport {
                unit: "sanoid.service".into(),
                stage: "snapshots".into(),
                outcome: Outcome::Success,
                result: Some("success".into()),
                exit_status: Some(0),
                duration_ms: Some(120),
                still_running: false,
                journal: vec![],
            },
            UnitReport {
                unit: "syncoid-tank-services-prowlarr.service".into(),
                stage: "replication".into(),
                outcome: Outcome::Failed,
                result: Some("exit-code".into()),
                exit_status: Some(1),
                duration_ms: Some(80),
                still_running: false,
                journal: vec![],
            },
        ],
    }
}

pub fn events() -> Vec<Event> {
    vec![
        Event::RunStarted(RunStarted {
            run_id: "20261126T064309Z-ab12".into(),
            host: "forge".into(),
            started_at: "2026-11-26T06:43:09.123Z".into(),
            agent: "backup-orchestrator 0.1.0".into(),
            dry_run: false,
            plan: PlanOutline {
                source: "built-in default".into(),
                failure_threshold_percent: 50,
                stages: vec![StageOutline {
                    name: "restic".into(),
                    units: vec!["restic-backup-*.service".into()],
                    exclude: vec![],
                    parallel: 3,
                    timeout_secs: 2700,
                    warn_only: false,
                }],
            },
        }),
        Event::PreflightCheck(PreflightCheck {
            path: "/mnt/nas-backup".into(),
            min_free_bytes: 50 << 30,
            free_bytes: Some(120 << 30),
            passed: true,
            error: None,
        }),
        Event::StageStarted(StageStarted {
            index: 2,
            name: "replication".into(),
            units: vec!["syncoid-a.service".into()],
            parallel: 0,
            timeout_secs: 1800,
        }),
        Event::UnitDiscovered(UnitRef {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
        }),
        Event::UnitSkipped(UnitSkipped {
            stage: "restic".into(),
            unit: "restic-backup-plex.service".into(),
            reason: "already activating".into(),
            active_state: "activating".into(),
        }),
        Event::UnitStarted(UnitStarted {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
            invocation_id: Some("0f5c…".into()),
            timeout_secs: 1800,
        }),
        Event::UnitFinished(UnitFinished {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
            outcome: Outcome::Failed,
            result: "exit-code".into(),
            active_state: "failed".into(),
            exit_status: Some(1),
            duration_ms: 80,
            journal: vec![],
        }),
        Event::UnitTimedOut(UnitTimedOut {
            stage: "restic".into(),
            unit: "restic-backup-immich.service".into(),
            timeout_secs: 2700,
            still_running: true,
            stop_requested: false,
        }),
        Event::StageFinished(StageFinished {
            index: 2,
            name: "replication".into(),
            successful: 6,
            failed: 1,
            timed_out: 0,
            skipped: 0,
            warnings: 0,
            duration_ms: 900,
        }),
        Event::Log(Log {
            level: LogLevel::Warn,
            message: "sanoid failed; continuing with existing snapshots".into(),
        }),
        Event::RunFinished(RunFinished { summary: summary() }),
    ]
}

/// The events added after the first release of 1.0 (its readers see them as `Unknown`).
pub fn events_added_since_first_release() -> Vec<Event> {
    vec![Event::LogIncomplete(LogIncomplete {
        reason: "No space left on device (os error 28)".into(),
        lost_events: 3,
    })]
}

pub fn envelopes() -> Vec<Envelope> {
    events()
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64,
            at_ms: 1_795_675_389_123 + i as u64,
            elapsed_ms: i as u64 * 10,
            event,
        })
        .collect()
}

pub fn requests() -> Vec<Request> {
    vec![
        Request::Run(RunOptions {
            dry_run: true,
            stop_units_on_timeout: true,
        }),
        Request::Attach {
            run_id: Some("20261126T064309Z-ab12".into()),
            after_seq: Some(7),
        },
        Request::Status,
        Request::Cancel { stop_units: true },
    ]
}

pub fn replies() -> Vec<Reply> {
    let mut replies: Vec<Reply> = envelopes().into_iter().map(Reply::Event).collect();
    replies.push(Reply::Status(StatusReport {
        state: RunState::Running,
        run_id: Some("20261126T064309Z-ab12".into()),
        started_at: Some("2026-11-26T06:43:09.123Z".into()),
        units_done: 4,
        units_total: 15,
        running: vec!["syncoid-a.service".into()],
        summary: None,
    }));
    replies.push(Reply::Cancelled {
        run_id: "20261126T064309Z-ab12".into(),
        stop_units: false,
    });
    replies.push(Reply::Refused(Refusal {
        kind: RefusalKind::RunInProgress,
        message: "a run is in progress".into(),
        run_id: Some("20261126T064309Z-ab12".into()),
        started_at: Some("2026-11-26T06:43:09.123Z".into()),
        exit_code: 3,
    }));
    replies
}

pub fn hellos() -> Vec<Hello> {
    vec![
        Hello::new(Role::Controller, "backup-orchestrator-ctl 0.1.0"),
        Hello::new(Role::Agent, "backup-orchestrator 0.1.0"),
    ]
}

/// A failed unit's end as protocol 1.1 reports it: with its journal lines.
pub fn unit_finished_with_journal() -> Envelope {
    Envelope {
        seq: 9,
        at_ms: 1_795_675_389_200,
        elapsed_ms: 90,
        event: Event::UnitFinished(UnitFinished {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
            outcome: Outcome::Failed,
            result: "exit-code".into(),
            active_state: "failed".into(),
            exit_status: Some(1),
            duration_ms: 80,
            journal: vec![
                "CRITICAL ERROR: ssh: connect to host nas port 22: No route to host".into(),
                "syncoid: replication failed".into(),
            ],
        }),
    }
}

/// The summary with a failed unit's journal lines (1.1).
pub fn summary_with_journal() -> Summary {
    let mut summary = summary();
    summary.units[1].journal = vec!["syncoid: replication failed".into()];
    summary
}

/// The requests added in protocol 1.1.
pub fn requests_1_1() -> Vec<Request> {
    vec![
        Request::Logs {
            unit: "syncoid-a.service".into(),
            lines: 20,
        },
        Request::History,
    ]
}

/// The replies added in protocol 1.1.
pub fn replies_1_1() -> Vec<Reply> {
    vec![
        Reply::Logs(UnitLogs {
            unit: "syncoid-a.service".into(),
            invocation_id: Some("0f5c7a2e9b1d4c3a8e6f5d4c3b2a1908".into()),
            lines: vec!["one".into(), "two".into()],
        }),
        Reply::History(RunHistory {
            runs: vec![
                RunRecord {
                    run_id: "20261126T064309Z-ab12".into(),
                    started_at: Some("2026-11-26T06:43:09Z".into()),
                    state: RunState::Finished,
                    duration_ms: Some(1834),
                    exit_code: Some(1),
                    total_services: 15,
                    successful: 14,
                    failed: 1,
                    timed_out: 0,
                    skipped: 0,
                    warnings: 0,
                    cancelled: false,
                    critical_reason: None,
                },
                RunRecord {
                    run_id: "20261127T064309Z-cd34".into(),
                    started_at: Some("2026-11-27T06:43:09Z".into()),
                    state: RunState::Abandoned,
                    duration_ms: None,
                    exit_code: None,
                    total_services: 0,
                    successful: 0,
                    failed: 0,
                    timed_out: 0,
                    skipped: 0,
                    warnings: 0,
                    cancelled: false,
                    critical_reason: None,
                },
            ],
        }),
        Reply::Refused(Refusal {
            kind: RefusalKind::NotInPlan,
            message: "sshd.service is not a unit of this host's plan".into(),
            run_id: None,
            started_at: None,
            exit_code: 64,
        }),
    ]
}
