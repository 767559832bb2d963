//! Peripheral checks: each configured command runs once per heartbeat with a timeout; its exit status becomes a
//! [`PeripheralCheck`] in the heartbeat, mapped to a fault code by the check's `exit_codes` (else its
//! `fault_code`), and [`FaultTracker`] turns the changes into `fault_raised` / `fault_cleared` events (DEV-2).

use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::payload::{DeviceEvent, DeviceEventKind, PeripheralCheck};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::config::CheckConfig;

/// How much of a failing command's stderr goes into the fault message.
const STDERR_TAIL_CHARS: usize = 300;

/// What one run of a check command said.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    /// The exit status, when the command exited by itself.
    pub exit_status: Option<i32>,
    /// The last characters of its stderr (or why it did not run), for the fault message.
    pub detail: String,
}

/// Runs every check concurrently and returns their outcomes in configuration order.
pub async fn run_all(checks: &[CheckConfig]) -> Vec<Outcome> {
    let runs: Vec<_> = checks
        .iter()
        .cloned()
        .map(|check| tokio::spawn(async move { run_one(&check).await }))
        .collect();
    let mut results = Vec::with_capacity(checks.len());
    for run in runs {
        results.push(run.await.unwrap_or_else(|error| Outcome {
            ok: false,
            exit_status: None,
            detail: format!("check task failed: {error}"),
        }));
    }
    results
}

/// One run of a check: the command passes when it exits with status 0 within its timeout.
pub async fn run_one(check: &CheckConfig) -> Outcome {
    let failed = |detail: String| Outcome {
        ok: false,
        exit_status: None,
        detail,
    };
    let mut command = shell(&check.command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            tracing::warn!(check = %check.name, %error, "cannot start check command");
            return failed(format!("cannot start check command: {error}"));
        }
    };
    let mut stderr = child.stderr.take();
    let run = async {
        let mut buf = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            // Bounded: a chatty command cannot make the agent hold megabytes.
            let _ = stderr.take(64 * 1024).read_to_end(&mut buf).await;
        }
        (child.wait().await, buf)
    };
    match tokio::time::timeout(Duration::from_secs(check.timeout_secs), run).await {
        Ok((Ok(status), buf)) => {
            if !status.success() {
                tracing::debug!(check = %check.name, %status, "check failed");
            }
            Outcome {
                ok: status.success(),
                exit_status: status.code(),
                detail: tail(&String::from_utf8_lossy(&buf), STDERR_TAIL_CHARS),
            }
        }
        Ok((Err(error), _)) => {
            tracing::warn!(check = %check.name, %error, "cannot wait for check command");
            failed(format!("cannot wait for check command: {error}"))
        }
        Err(_) => {
            tracing::warn!(check = %check.name, timeout_secs = check.timeout_secs, "check timed out");
            // The child is killed when it is dropped as this function returns (kill_on_drop).
            failed(format!("check timed out after {} s", check.timeout_secs))
        }
    }
}

/// The last `n` characters of `text`, trimmed.
fn tail(text: &str, n: usize) -> String {
    let text = text.trim();
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(n)).collect()
}

/// Remembers which fault each check has open, so a fault is raised once when a check starts failing and cleared
/// once when it passes again (DEV-2); a check that changes from one fault code to another clears the old one and
/// raises the new one.
#[derive(Debug, Default)]
pub struct FaultTracker {
    open: Vec<Option<String>>,
}

impl FaultTracker {
    pub fn new(n_checks: usize) -> FaultTracker {
        FaultTracker {
            open: vec![None; n_checks],
        }
    }

    /// Folds one round of outcomes into the state: the heartbeat's check results and the events to publish.
    pub fn update(
        &mut self,
        checks: &[CheckConfig],
        outcomes: &[Outcome],
        at: DateTime<FixedOffset>,
    ) -> (Vec<PeripheralCheck>, Vec<DeviceEvent>) {
        let mut results = Vec::with_capacity(checks.len());
        let mut events = Vec::new();
        for (i, (check, outcome)) in checks.iter().zip(outcomes).enumerate() {
            let code = (!outcome.ok).then(|| check.fault_code_for(outcome.exit_status).to_owned());
            let open = &mut self.open[i];
            if *open != code {
                if let Some(old) = open.take() {
                    events.push(DeviceEvent {
                        v: SCHEMA_VERSION,
                        kind: DeviceEventKind::FaultCleared,
                        code: old,
                        severity: check.severity,
                        message: format!("{}: ok", check.name),
                        at,
                    });
                }
                if let Some(new) = &code {
                    let mut message = match outcome.exit_status {
                        Some(status) => format!("{}: exit status {status}", check.name),
                        None => check.name.clone(),
                    };
                    if !outcome.detail.is_empty() {
                        message.push_str(": ");
                        message.push_str(&outcome.detail);
                    }
                    events.push(DeviceEvent {
                        v: SCHEMA_VERSION,
                        kind: DeviceEventKind::FaultRaised,
                        code: new.clone(),
                        severity: check.severity,
                        message,
                        at,
                    });
                }
                *open = code.clone();
            }
            results.push(PeripheralCheck {
                name: check.name.clone(),
                ok: outcome.ok,
                fault_code: code,
            });
        }
        (results, events)
    }
}

fn shell(line: &str) -> Command {
    if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(line);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(line);
        c
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use hall_protocol::payload::Severity;

    fn check(name: &str, command: &str, timeout_secs: u64) -> CheckConfig {
        CheckConfig {
            name: name.into(),
            command: command.into(),
            fault_code: format!("{name}_fault"),
            exit_codes: BTreeMap::from([("2".into(), "printer_paper_out".into())]),
            severity: Severity::Warning,
            timeout_secs,
        }
    }

    fn at() -> DateTime<FixedOffset> {
        "2026-12-03T09:00:00+08:00".parse().unwrap()
    }

    #[tokio::test]
    async fn exit_status_stderr_and_timeout_decide() {
        let checks = [
            check("ok", "exit 0", 5),
            check("bad", "echo 'no paper' >&2; exit 2", 5),
            check("slow", "sleep 30", 1),
        ];
        let outcomes = run_all(&checks).await;
        let (results, events) = FaultTracker::new(3).update(&checks, &outcomes, at());
        assert!(results[0].ok && results[0].fault_code.is_none());
        assert_eq!(results[1].fault_code.as_deref(), Some("printer_paper_out"));
        assert_eq!(outcomes[1].detail, "no paper");
        assert!(!results[2].ok, "a check past its timeout fails");
        assert_eq!(results[2].fault_code.as_deref(), Some("slow_fault"));
        assert_eq!(events.len(), 2);
        assert!(
            events[0].message.contains("no paper"),
            "{}",
            events[0].message
        );
    }

    #[test]
    fn faults_are_raised_once_and_cleared_once() {
        let checks = [check("printer", "x", 5)];
        let run = |ok: bool, status: Option<i32>| Outcome {
            ok,
            exit_status: status,
            detail: String::new(),
        };
        let mut tracker = FaultTracker::new(1);
        let kinds = |events: Vec<DeviceEvent>| -> Vec<(DeviceEventKind, String)> {
            events.into_iter().map(|e| (e.kind, e.code)).collect()
        };
        assert!(
            tracker
                .update(&checks, &[run(true, Some(0))], at())
                .1
                .is_empty()
        );
        let raised = kinds(tracker.update(&checks, &[run(false, Some(2))], at()).1);
        assert_eq!(
            raised,
            vec![(DeviceEventKind::FaultRaised, "printer_paper_out".into())]
        );
        assert!(
            tracker
                .update(&checks, &[run(false, Some(2))], at())
                .1
                .is_empty(),
            "once"
        );
        let changed = kinds(tracker.update(&checks, &[run(false, Some(1))], at()).1);
        assert_eq!(
            changed,
            vec![
                (DeviceEventKind::FaultCleared, "printer_paper_out".into()),
                (DeviceEventKind::FaultRaised, "printer_fault".into())
            ]
        );
        let cleared = kinds(tracker.update(&checks, &[run(true, Some(0))], at()).1);
        assert_eq!(
            cleared,
            vec![(DeviceEventKind::FaultCleared, "printer_fault".into())]
        );
    }
}
