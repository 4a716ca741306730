//! [`OutputMode`] and [`RenderOptions`]: what a front end asks the [`Renderer`](crate::Renderer)
//! for.
//!
//! | mode | stdout | stderr |
//! |---|---|---|
//! | `Bars` | nothing | progress bars, and above them the log lines, marks and final report |
//! | `Plain` | every line, `[INFO] …` as the user's script printed them | nothing |
//! | `Json` | the summary JSON, once, at the end; nothing before it | the run's error lines; the front end's warnings |
//! | `Quiet` | nothing | error-level lines |

/// How a run is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Progress bars on a terminal (stderr), with log lines printed above them.
    Bars,
    /// One `[LEVEL] text` line per event on stdout, no ANSI codes: for pipes, logs and CI.
    Plain,
    /// Only the [`Summary`](backup_orchestrator_proto::Summary) as JSON on stdout (`--json`).
    Json,
    /// Only error-level lines, on stderr (`--quiet`): the exit code says the rest.
    Quiet,
}

impl OutputMode {
    /// `--json` wins, then `--quiet`; otherwise bars when they can be drawn, else plain lines.
    ///
    /// `stderr_is_terminal` is whether bars can be drawn. Bars put nothing on stdout, so a binary
    /// that wants `backup-orchestrator | tee log` to keep the user's `[INFO]` lines passes
    /// `stdout.is_terminal() && stderr.is_terminal()`.
    pub fn choose(json: bool, quiet: bool, stderr_is_terminal: bool) -> OutputMode {
        if json {
            OutputMode::Json
        } else if quiet {
            OutputMode::Quiet
        } else if stderr_is_terminal {
            OutputMode::Bars
        } else {
            OutputMode::Plain
        }
    }
}

/// Everything a [`Renderer`](crate::Renderer) needs to know besides the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    pub mode: OutputMode,
    /// Also show debug lines: invocation ids, plan source, systemd states, `Debug` log events.
    pub verbose: bool,
    /// The host the events come from, when the controller shows it (e.g. `forge`). Every line then
    /// reads `[INFO] forge: …`: the level tag stays first, so `grep '^\[ERROR\]'` keeps working.
    pub host_label: Option<String>,
}

impl RenderOptions {
    /// Options for `mode`, not verbose, without a host label.
    pub fn new(mode: OutputMode) -> RenderOptions {
        RenderOptions {
            mode,
            verbose: false,
            host_label: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_prefers_json_then_quiet_then_the_terminal() {
        assert_eq!(OutputMode::choose(true, true, true), OutputMode::Json);
        assert_eq!(OutputMode::choose(false, true, true), OutputMode::Quiet);
        assert_eq!(OutputMode::choose(false, false, true), OutputMode::Bars);
        assert_eq!(OutputMode::choose(false, false, false), OutputMode::Plain);
    }
}
