//! Peripheral checks: each configured command runs once per heartbeat with a timeout, and its exit status becomes
//! a [`PeripheralCheck`] in the heartbeat. Mapping a failing check to fault events is the gateway's job for now.

use std::process::Stdio;
use std::time::Duration;

use hall_protocol::payload::PeripheralCheck;
use tokio::process::Command;

use super::config::CheckConfig;

/// Runs every check concurrently and returns their results in configuration order.
pub async fn run_all(checks: &[CheckConfig]) -> Vec<PeripheralCheck> {
    let runs: Vec<_> = checks
        .iter()
        .cloned()
        .map(|check| tokio::spawn(async move { run_one(&check).await }))
        .collect();
    let mut results = Vec::with_capacity(checks.len());
    for (check, run) in checks.iter().zip(runs) {
        let ok = run.await.unwrap_or(false);
        results.push(PeripheralCheck {
            name: check.name.clone(),
            ok,
            fault_code: (!ok).then(|| check.fault_code.clone()),
        });
    }
    results
}

/// Whether one check passes: the command exits with status 0 within its timeout.
pub async fn run_one(check: &CheckConfig) -> bool {
    let mut command = shell(&check.command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            tracing::warn!(check = %check.name, %error, "cannot start check command");
            return false;
        }
    };
    match tokio::time::timeout(Duration::from_secs(check.timeout_secs), child.wait()).await {
        Ok(Ok(status)) => {
            if !status.success() {
                tracing::debug!(check = %check.name, %status, "check failed");
            }
            status.success()
        }
        Ok(Err(error)) => {
            tracing::warn!(check = %check.name, %error, "cannot wait for check command");
            false
        }
        Err(_) => {
            tracing::warn!(check = %check.name, timeout_secs = check.timeout_secs, "check timed out");
            let _ = child.kill().await;
            false
        }
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
    use super::*;
    use hall_protocol::payload::Severity;

    fn check(name: &str, command: &str, timeout_secs: u64) -> CheckConfig {
        CheckConfig {
            name: name.into(),
            command: command.into(),
            fault_code: format!("{name}_fault"),
            severity: Severity::Warning,
            timeout_secs,
        }
    }

    #[tokio::test]
    async fn exit_status_and_timeout_decide() {
        let results = run_all(&[
            check("ok", "exit 0", 5),
            check("bad", "exit 3", 5),
            check("slow", "sleep 30", 1),
        ])
        .await;
        assert_eq!(results.len(), 3);
        assert!(results[0].ok && results[0].fault_code.is_none());
        assert!(!results[1].ok);
        assert_eq!(results[1].fault_code.as_deref(), Some("bad_fault"));
        assert!(!results[2].ok, "a check past its timeout fails");
    }
}
