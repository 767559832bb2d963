//! A gateway killed with SIGKILL while alerts are open comes back with the same alerts: none lost, none raised
//! twice, and ids that go on where they stopped (the SQLite journal and the startup grace period).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::util::*;

/// Open alerts by subject → id.
async fn open_alerts(gw: &Gateway) -> BTreeMap<String, u64> {
    let alerts: Vec<serde_json::Value> = gw.get("/api/v1/alerts").await;
    alerts
        .iter()
        .filter(|a| a["state"] != "resolved")
        .map(|a| {
            (
                a["subject"].as_str().unwrap().to_owned(),
                a["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn kill_9_with_open_alerts_loses_none_and_duplicates_none() {
    let gw = Gateway::embedded().await;
    // The test devices are always expected on and none of them reports: after the startup grace period each one
    // has an open DEV-1 alert.
    let before = wait_for(
        "an open DEV-1 alert per device",
        Duration::from_secs(30),
        || async {
            let open = open_alerts(&gw).await;
            (TEST_DEVICES
                .iter()
                .all(|d| open.contains_key(&format!("device:{d}"))))
            .then_some(open)
        },
    )
    .await;
    // The journal commits what the hub hands it within moments; give it that moment by reading the metric.
    wait_for(
        "the alerts to be journalled",
        Duration::from_secs(10),
        || async {
            (gw.metric("hallwatch_journal_written_total").await >= TEST_DEVICES.len() as f64)
                .then_some(())
        },
    )
    .await;

    let gw = gw.kill_and_restart().await;
    // Restored at once, same ids, before any rule has run again.
    let restored = open_alerts(&gw).await;
    for (subject, id) in &before {
        assert_eq!(
            restored.get(subject),
            Some(id),
            "alert for {subject} not restored: {restored:?}"
        );
    }
    // After the grace period the same conditions still hold: still exactly one alert per subject, same ids.
    wait_for(
        "the grace period to pass",
        Duration::from_secs(30),
        || async {
            let h: serde_json::Value = gw.get("/healthz").await;
            (h["uptime_secs"].as_u64()? > HEARTBEAT_SECS * MISSED + 6).then_some(())
        },
    )
    .await;
    let all: Vec<serde_json::Value> = gw.get("/api/v1/alerts").await;
    for subject in before.keys() {
        let n = all
            .iter()
            .filter(|a| a["subject"] == subject.as_str() && a["state"] != "resolved")
            .count();
        assert_eq!(
            n, 1,
            "{subject} has {n} open alerts after restart: {all:#?}"
        );
    }
    assert_eq!(open_alerts(&gw).await, before);
}
