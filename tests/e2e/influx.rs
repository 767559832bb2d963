//! The whole metrics path: MQTT heartbeats through the gateway's InfluxDB sink into a real server that speaks the
//! InfluxDB v2 write API (VictoriaMetrics), read back exactly, Unicode device ids included.

use std::process::Command;
use std::time::Duration;

use rumqttc::QoS;

use crate::util::*;

#[tokio::test]
async fn heartbeats_land_in_an_influxdb_compatible_server_with_their_tags() {
    let dir = tempfile::tempdir().unwrap();
    let vm_port = free_port();
    let _vm = Proc::spawn(
        "victoria-metrics",
        Command::new(program("victoria-metrics"))
            .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("vm").display()
            )),
        dir.path(),
    );
    let vm = format!("http://127.0.0.1:{vm_port}");
    let http = reqwest::Client::new();
    wait_for(
        "VictoriaMetrics to answer",
        Duration::from_secs(30),
        || async {
            http.get(format!("{vm}/health"))
                .send()
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        },
    )
    .await;

    let gw = Gateway::embedded_with(&format!(
        "[influxdb]\nurl = \"{vm}\"\napi = \"v2\"\norg = \"hall\"\nbucket = \"hall\"\ntoken = \"t\"\nflush_interval_ms = 200\n"
    ))
    .await;
    // `/ + #` in an id travel percent-encoded in the topic and arrive as themselves in the tag.
    let id = TEST_DEVICES[2];
    let client = mqtt_client(gw.broker_port, "t-influx").await;
    for seq in 1..=3 {
        client
            .publish(
                device_topic(id, "heartbeat"),
                QoS::AtLeastOnce,
                false,
                heartbeat("b1", seq),
            )
            .await
            .unwrap();
    }
    // A backslash cannot round-trip through InfluxDB's tag escaping, so that device's points are refused with a
    // count rather than stored mangled; the rest is unaffected.
    let backslash = TEST_DEVICES[1];
    client
        .publish(
            device_topic(backslash, "heartbeat"),
            QoS::AtLeastOnce,
            false,
            heartbeat("b1", 1),
        )
        .await
        .unwrap();
    // VictoriaMetrics stores field `cpu_pct` of `device_heartbeat` as the series `device_heartbeat_cpu_pct`.
    let series = wait_for(
        "the heartbeats in VictoriaMetrics",
        Duration::from_secs(30),
        || async {
            let body = http
                .get(format!("{vm}/api/v1/export"))
                .query(&[("match[]", "device_heartbeat_cpu_pct")])
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let lines: Vec<serde_json::Value> = body
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let found = lines.into_iter().find(|l| l["metric"]["device"] == id)?;
            (found["values"].as_array()?.len() >= 3).then_some(found)
        },
    )
    .await;
    assert_eq!(series["metric"]["hall"], "test-hall");
    assert_eq!(series["metric"]["kind"], "wifi_ap");
    assert_eq!(series["metric"]["location"], "一楼 东区");
    assert!(
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_f64() == Some(12.5)),
        "{series}"
    );
    assert!(gw.metric("hallwatch_influxdb_points_written_total").await >= 3.0);
    assert!(gw.metric("hallwatch_influxdb_points_invalid_total").await >= 1.0);
}
