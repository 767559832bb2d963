//! A real `hall-agent` against the gateway's embedded broker: SIGKILL turns its device offline within the
//! configured timeout plus a second (DEV-1), a clean stop turns it offline at once.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::*;

/// Starts a `hall-agent` for `device_id` against the gateway's broker.
pub fn start_agent(gw: &Gateway, device_id: &str) -> Proc {
    let config = gw
        .dir
        .path()
        .join(format!("agent-{}.toml", device_id.len()));
    let id = device_id.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(
        &config,
        format!(
            "hall_id = \"test-hall\"\ndevice_id = \"{id}\"\nheartbeat_interval_secs = {HEARTBEAT_SECS}\n\n[broker]\nhost = \"127.0.0.1\"\nport = {}\nkeep_alive_secs = 5\nmax_backoff_secs = 2\n",
            gw.broker_port
        ),
    )
    .unwrap();
    Proc::spawn(
        "hall-agent",
        Command::new(bin("hall-agent")).arg("--config").arg(&config),
        gw.dir.path(),
    )
}

#[tokio::test]
async fn sigkill_turns_the_device_offline_within_its_timeout_plus_one_second() {
    let gw = Gateway::embedded().await;
    let id = TEST_DEVICES[1];
    let agent = start_agent(&gw, id);
    gw.wait_device_state(id, "online", Duration::from_secs(15))
        .await;
    // Real host metrics arrive with the first heartbeat (the online status comes before it).
    wait_for(
        "host metrics from the agent",
        Duration::from_secs(10),
        || async {
            let devices: Vec<serde_json::Value> = gw.get("/api/v1/devices").await;
            let device = devices.into_iter().find(|d| d["id"] == id)?;
            device["metrics"]["mem_pct"]
                .as_f64()
                .filter(|m| *m > 0.0 && *m <= 100.0)
        },
    )
    .await;

    agent.signal("KILL");
    let killed = Instant::now();
    let timeout = Duration::from_secs(HEARTBEAT_SECS * MISSED);
    gw.wait_device_state(id, "offline", timeout + Duration::from_secs(5))
        .await;
    let took = killed.elapsed();
    assert!(
        took <= timeout + Duration::from_secs(1),
        "offline after {took:?}, timeout {timeout:?}"
    );
}

#[tokio::test]
async fn a_clean_stop_turns_the_device_offline_at_once() {
    let gw = Gateway::embedded().await;
    let mut agent = start_agent(&gw, "kiosk-1");
    gw.wait_device_state("kiosk-1", "online", Duration::from_secs(15))
        .await;
    agent.signal("TERM");
    let stopped = Instant::now();
    let status = agent
        .wait_exit(Duration::from_secs(10))
        .expect("agent exits on SIGTERM");
    assert!(status.success(), "agent exit status {status}");
    gw.wait_device_state("kiosk-1", "offline", Duration::from_secs(5))
        .await;
    // Well before the heartbeat timeout would have said so.
    assert!(
        stopped.elapsed() < Duration::from_secs(HEARTBEAT_SECS * MISSED),
        "{:?}",
        stopped.elapsed()
    );
}
