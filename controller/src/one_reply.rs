//! `status`, `cancel`, `logs` and `history`: one request, one reply ([`Question::ask`]), printed by
//! [`AnswerPrinter`]. Asking many hosts at once is [`crate::each_host`]'s.
//!
//! The words come from the render crate ([`status_text`], [`cancelled_text`] and their JSON forms);
//! this file only connects, asks, and writes the answer on stdout in the chosen mode, under the
//! render crate's broken-pipe policy.

use std::io::{self, Write};

use backup_orchestrator_proto::{
    Refusal, Reply, Request, RunHistory, StatusReport, UnitLogs, exit_codes,
};
use backup_orchestrator_render::{
    CheckLine, OutputMode, PipeState, cancelled_json, cancelled_text, error_chain, history_json,
    history_text, host_error_json, logs_json, logs_text, status_json, status_text,
};

use crate::error::CtlError;
use crate::hints::Hints;
use crate::reconnect::Connect;
use crate::session::Session;

/// Prints a one-reply command's answer on stdout.
#[derive(Debug)]
pub struct AnswerPrinter {
    mode: OutputMode,
    pipe: PipeState,
}

impl AnswerPrinter {
    pub fn new(mode: OutputMode) -> AnswerPrinter {
        AnswerPrinter {
            mode,
            pipe: PipeState::default(),
        }
    }

    /// `status`: plain lines, or the report as JSON. `attach_hint` is the command that follows
    /// a running run.
    fn status(
        &mut self,
        host: &str,
        report: &StatusReport,
        attach_hint: &str,
    ) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => status_json(report),
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => status_text(host, report, attach_hint),
        };
        self.print(&text)
    }

    /// `cancel`: what was asked of the run.
    fn cancelled(&mut self, host: &str, run_id: &str, stop_units: bool) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => cancelled_json(host, run_id, stop_units),
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => cancelled_text(host, run_id, stop_units),
        };
        self.print(&text)
    }

    /// `logs`: the unit's lines, or the answer as JSON.
    pub fn logs(&mut self, logs: &UnitLogs) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => logs_json(logs),
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => logs_text(logs),
        };
        self.print(&text)
    }

    /// `history`: the kept runs as a table, or as JSON naming the host.
    fn history(&mut self, host: &str, history: &RunHistory) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => history_json(host, history),
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => history_text(host, history),
        };
        self.print(&text)
    }

    /// `check`: the plugin line, or its JSON object.
    pub fn check(&mut self, line: &CheckLine) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => {
                let mut text =
                    serde_json::to_string_pretty(&line.json).expect("a JSON value serializes");
                text.push('\n');
                text
            }
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => line.line.clone(),
        };
        self.print(&text)
    }

    /// A host that could not answer: with `--json`, its `{"host", "exit_code", "error"}` object
    /// on stdout (the `error: …` line on stderr is the caller's), so `--json` always prints one.
    pub fn failed(&mut self, host: &str, error: &CtlError) -> Result<(), CtlError> {
        match self.mode {
            OutputMode::Json => self.print(&host_error_json(
                host,
                error.exit_code(),
                &error_chain(error),
            )),
            OutputMode::Quiet | OutputMode::Bars | OutputMode::Plain => Ok(()),
        }
    }

    fn print(&mut self, text: &str) -> Result<(), CtlError> {
        self.pipe
            .write(|| {
                let mut stdout = io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            })
            .map_err(CtlError::Output)
    }
}

/// What `status`, `cancel` and `history` ask each host.
#[derive(Clone, Copy, Debug)]
pub enum Question {
    Status,
    Cancel { stop_units: bool },
    History,
}

/// One host's answer to a [`Question`].
#[derive(Debug)]
pub enum Answer {
    /// Boxed: a report is ten times the other answers, and answers wait in a queue.
    Status(Box<StatusReport>),
    Cancelled {
        run_id: String,
        stop_units: bool,
    },
    History(RunHistory),
}

impl Question {
    /// Connects, asks, and returns the host's answer (a refusal is the error).
    pub async fn ask(
        self,
        connector: &mut impl Connect,
        hints: &Hints,
    ) -> Result<Answer, CtlError> {
        match self {
            Question::Status => {
                let (reply, session) = one_reply(connector, &Request::Status, &["status"]).await?;
                match reply {
                    Reply::Status(report) => Ok(Answer::Status(Box::new(report))),
                    Reply::Refused(refusal) => Err(refused(&hints.host, refusal)),
                    other => Err(session.unexpected(&other).into()),
                }
            }
            Question::Cancel { stop_units } => {
                let needed: &[&str] = if stop_units {
                    &["cancel", "stop-units"]
                } else {
                    &["cancel"]
                };
                let request = Request::Cancel { stop_units };
                let (reply, session) = one_reply(connector, &request, needed).await?;
                match reply {
                    Reply::Cancelled { run_id, stop_units } => {
                        Ok(Answer::Cancelled { run_id, stop_units })
                    }
                    Reply::Refused(refusal) => Err(refused(&hints.host, refusal)),
                    other => Err(session.unexpected(&other).into()),
                }
            }
            Question::History => fetch_history(connector, hints).await.map(Answer::History),
        }
    }
}

impl AnswerPrinter {
    /// Prints `hints.host`'s answer.
    pub fn answer(&mut self, hints: &Hints, answer: &Answer) -> Result<(), CtlError> {
        match answer {
            Answer::Status(report) => self.status(&hints.host, report, &hints.attach),
            Answer::Cancelled { run_id, stop_units } => {
                self.cancelled(&hints.host, run_id, *stop_units)
            }
            Answer::History(history) => self.history(&hints.host, history),
        }
    }
}

/// `logs HOST UNIT [-n N]`. The agent refuses a unit its plan does not name (`not_in_plan`, 64).
pub async fn logs(
    connector: &mut impl Connect,
    hints: &Hints,
    unit: &str,
    lines: u32,
    printer: &mut AnswerPrinter,
) -> Result<i32, CtlError> {
    let request = Request::Logs {
        unit: unit.to_owned(),
        lines,
    };
    let (reply, session) = one_reply(connector, &request, &["logs"]).await?;
    match reply {
        Reply::Logs(logs) => {
            printer.logs(&logs)?;
            Ok(exit_codes::SUCCESS)
        }
        Reply::Refused(refusal) => Err(refused(&hints.host, refusal)),
        other => Err(session.unexpected(&other).into()),
    }
}

/// Asks the host for its kept runs (`history`, `check`).
pub async fn fetch_history(
    connector: &mut impl Connect,
    hints: &Hints,
) -> Result<RunHistory, CtlError> {
    let (reply, session) = one_reply(connector, &Request::History, &["history"]).await?;
    match reply {
        Reply::History(history) => Ok(history),
        Reply::Refused(refusal) => Err(refused(&hints.host, refusal)),
        other => Err(session.unexpected(&other).into()),
    }
}

/// Connects, checks the agent offers `capabilities`, sends `request` and reads its one reply;
/// returns it with the session (for error context).
async fn one_reply(
    connector: &mut impl Connect,
    request: &Request,
    capabilities: &[&str],
) -> Result<(Reply, Session), CtlError> {
    let mut session = connector.connect().await?;
    for capability in capabilities {
        session.require(capability)?;
    }
    session.send(request).await?;
    let reply = session.single_reply().await?;
    Ok((reply, session))
}

fn refused(host: &str, refusal: Refusal) -> CtlError {
    CtlError::Refused {
        host: host.to_owned(),
        refusal: Box::new(refusal),
        attach_hint: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use backup_orchestrator_proto::RefusalKind;

    use super::*;
    use crate::remote::RemoteContext;
    use crate::session::fake::{agent_hello, pair};
    use crate::session::start;

    /// One session with an agent that says `hello`, then answers the request with `reply`.
    struct OneAgent {
        hello: backup_orchestrator_proto::Hello,
        reply: Option<Reply>,
    }

    impl Connect for OneAgent {
        async fn connect(&mut self) -> Result<Session, CtlError> {
            let (channel, mut agent) = pair();
            let (hello, reply) = (self.hello.clone(), self.reply.take());
            tokio::spawn(async move {
                let ours = agent.read_frame().await;
                assert_eq!(ours["role"], "controller");
                agent.write(&hello).await;
                if let Some(reply) = reply {
                    let _request = agent.read_frame().await;
                    agent.write(&reply).await;
                }
                agent.exit(Some(0), "");
            });
            let context = RemoteContext {
                host: "forge".into(),
                user: "deploy".into(),
                agent_path: "backup-orchestrator".into(),
            };
            Ok(start(channel, &context, Duration::from_secs(5)).await?)
        }
    }

    fn hints() -> Hints {
        Hints {
            host: "forge".into(),
            attach: "backup-orchestrator-ctl attach forge".into(),
            status: "backup-orchestrator-ctl status forge".into(),
        }
    }

    #[tokio::test]
    async fn logs_from_an_agent_without_the_capability_names_the_install_command() {
        let mut hello = agent_hello();
        hello.capabilities.retain(|c| c != "logs");
        let mut agent = OneAgent { hello, reply: None };
        let mut printer = AnswerPrinter::new(OutputMode::Quiet);
        let error = logs(&mut agent, &hints(), "loud.service", 20, &mut printer)
            .await
            .unwrap_err();
        assert_eq!(error.exit_code(), exit_codes::COULD_NOT_RUN);
        let message = error.to_string();
        assert!(message.contains("`logs`"), "{message}");
        assert!(
            message.contains("backup-orchestrator-ctl install forge"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn logs_of_a_unit_not_in_the_plan_exits_with_the_refusals_code() {
        let refusal = Refusal {
            kind: RefusalKind::NotInPlan,
            message: "ssh.service is not a unit of this host's plan".into(),
            run_id: None,
            started_at: None,
            exit_code: 64,
        };
        let mut agent = OneAgent {
            hello: agent_hello(),
            reply: Some(Reply::Refused(refusal)),
        };
        let mut printer = AnswerPrinter::new(OutputMode::Quiet);
        let error = logs(&mut agent, &hints(), "ssh.service", 20, &mut printer)
            .await
            .unwrap_err();
        assert_eq!(error.exit_code(), 64);
        assert!(
            error_chain(&error).contains("not a unit of this host's plan"),
            "{error}"
        );
    }
}
