//! The plan's `[[hook]]`s ([`run_hook`]): a program run as root with the run's JSON on stdin, for
//! healthchecks.io pings, ntfy notifications and the like.
//!
//! A hook never holds a run hostage: it runs with stdin fed concurrently (a hook that does not read
//! it cannot block the write), in a process group of its own, and at its timeout the whole group
//! is killed (a `sh -c 'curl …'` hook leaves no `curl` behind). Its stdout and stderr are the run
//! unit's, so they land in the journal. What went wrong is returned as a [`HookError`], which the
//! run reports as a warning: a hook never changes a verdict.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::plan::Hook;

/// Why a hook did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("start hook {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("hook {program} failed ({status})")]
    Failed { program: String, status: ExitStatus },
    #[error("hook {program} did not finish within {}: killed", humantime::format_duration(*.timeout))]
    TimedOut { program: String, timeout: Duration },
    #[error("wait for hook {program}")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// What a hook is told besides its stdin.
#[derive(Clone, Debug)]
pub struct HookContext<'a> {
    pub run_id: &'a str,
    pub host: &'a str,
    /// The run's exit code; `None` for a `start` hook (`EXIT_CODE` is then unset).
    pub exit_code: Option<i32>,
}

/// Runs `hook` with `stdin` and the context's `RUN_ID`, `HOST` and `EXIT_CODE`, to its end or its
/// timeout.
pub async fn run_hook(
    hook: &Hook,
    stdin: &[u8],
    context: &HookContext<'_>,
) -> Result<(), HookError> {
    let program = hook.command.first().cloned().unwrap_or_default();
    let mut command = Command::new(&program);
    command
        .args(&hook.command[1..])
        .env("RUN_ID", context.run_id)
        .env("HOST", context.host)
        .stdin(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    match context.exit_code {
        Some(code) => command.env("EXIT_CODE", code.to_string()),
        None => command.env_remove("EXIT_CODE"),
    };
    let mut child = command.spawn().map_err(|source| HookError::Spawn {
        program: program.clone(),
        source,
    })?;
    let group = child.id();
    let mut input = child.stdin.take();
    let feed = async {
        if let Some(pipe) = input.as_mut() {
            // A hook that does not read its stdin closes the pipe: not an error.
            let _ = pipe.write_all(stdin).await;
        }
        drop(input);
    };
    let waited = tokio::time::timeout(hook.timeout, async {
        let ((), status) = tokio::join!(feed, child.wait());
        status
    })
    .await;
    match waited {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(HookError::Failed { program, status }),
        Ok(Err(source)) => Err(HookError::Wait { program, source }),
        Err(_elapsed) => {
            kill_group(group);
            // Reaped here, so it leaves no zombie behind (killed: this returns at once).
            let _ = child.wait().await;
            Err(HookError::TimedOut {
                program,
                timeout: hook.timeout,
            })
        }
    }
}

/// SIGKILL to the hook's process group (its id is the hook's pid: `process_group(0)`).
fn kill_group(group: Option<u32>) {
    let Some(pid) = group
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        tracing::warn!("could not kill the process group of hook {pid:?}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::plan::HookWhen;

    fn hook(command: &[&str], timeout: Duration) -> Hook {
        Hook {
            when: vec![HookWhen::Finish],
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            timeout,
        }
    }

    fn context() -> HookContext<'static> {
        HookContext {
            run_id: "20251103T120000Z-ab12",
            host: "forge",
            exit_code: Some(1),
        }
    }

    #[tokio::test]
    async fn hook_gets_the_json_on_stdin_and_the_runs_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!(
            "cat > {0}; printf '%s|%s|%s|%s' \"$RUN_ID\" \"$HOST\" \"$EXIT_CODE\" \"${{EXIT_CODE+set}}\" >> {0}",
            out.display()
        );
        let h = hook(&["/bin/sh", "-c", &script], Duration::from_secs(10));
        run_hook(&h, b"{\"exit_code\":1}\n", &context())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"exit_code\":1}\n20251103T120000Z-ab12|forge|1|set"
        );

        let start = HookContext {
            exit_code: None,
            ..context()
        };
        run_hook(&h, b"{}", &start).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{}20251103T120000Z-ab12|forge||"
        );
    }

    #[tokio::test]
    async fn hook_failure_and_a_missing_program_are_errors() {
        let e = run_hook(
            &hook(&["/bin/false"], Duration::from_secs(10)),
            b"",
            &context(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, HookError::Failed { .. }), "{e}");
        assert!(e.to_string().starts_with("hook /bin/false failed"), "{e}");
        let e = run_hook(
            &hook(&["/nonexistent/hook"], Duration::from_secs(10)),
            b"",
            &context(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, HookError::Spawn { .. }), "{e}");
    }

    #[tokio::test]
    async fn hook_that_hangs_is_killed_with_its_children_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // A shell that starts a child of its own and waits: both must die.
        let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let h = hook(&["/bin/sh", "-c", &script], Duration::from_millis(500));
        let started = Instant::now();
        let e = run_hook(&h, b"", &context()).await.unwrap_err();
        assert!(matches!(e, HookError::TimedOut { .. }), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            e.to_string(),
            "hook /bin/sh did not finish within 500ms: killed"
        );
        let child: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The killed sleep is reaped by init (or is a zombie of it for a moment): gone or defunct.
        let mut gone = false;
        for _ in 0..50 {
            let state = std::fs::read_to_string(format!("/proc/{child}/stat")).ok();
            if state.is_none_or(|s| s.split_whitespace().nth(2) == Some("Z")) {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "the hook's child {child} survived its timeout");
    }

    #[tokio::test]
    async fn hook_that_ignores_a_large_stdin_does_not_block() {
        let big = vec![b'x'; 1024 * 1024];
        run_hook(
            &hook(&["/bin/true"], Duration::from_secs(10)),
            &big,
            &context(),
        )
        .await
        .unwrap();
    }
}
