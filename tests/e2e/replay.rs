//! Replay scenarios: recorded messages under `tests/replay/` run through `hall-gateway replay`, compared line for
//! line with the expected alert lines next to them. A changed rule shows up here as a diff of alerts.

use std::path::Path;
use std::process::Command;

use crate::util::bin;

fn replay(config: &str, scenario: &str) -> (String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay");
    let out = Command::new(bin("hall-gateway"))
        .arg("replay")
        .arg("--config")
        .arg(dir.join(config))
        .arg("--events")
        .arg(dir.join(format!("{scenario}.jsonl")))
        .args(["--output", "alerts"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(dir.join(format!("{scenario}.alerts.jsonl"))).unwrap();
    (String::from_utf8(out.stdout).unwrap(), expected)
}

#[test]
fn post_rules_day_replays_to_the_expected_alerts() {
    let (got, expected) = replay("hall.toml", "post-day");
    assert_eq!(
        got, expected,
        "replay output differs from tests/replay/post-day.alerts.jsonl"
    );
    // The scenario covers each post rule at its boundary.
    for needle in [
        r#""at":"2026-12-03T09:00:30+08:00","rule":"POST-2","kind":"empty_window""#,
        r#""at":"2026-12-03T09:40:01+08:00","rule":"POST-3","kind":"step_away_overdue""#,
        r#""at":"2026-12-03T10:00:30+08:00","rule":"POST-3","kind":"empty_window""#,
    ] {
        assert!(got.contains(needle), "missing {needle} in\n{got}");
    }
}

#[test]
fn device_day_replays_to_the_expected_alerts() {
    let (got, expected) = replay("devices.toml", "device-day");
    assert_eq!(
        got, expected,
        "replay output differs from tests/replay/device-day.alerts.jsonl"
    );
    for needle in [
        // DEV-1: one alert for a kiosk flapping 20 times in a minute, resolved after the hold.
        r#""at":"2026-12-03T09:30:00+08:00","rule":"DEV-1","kind":"device_offline","subject":"device:kiosk-02","state":"open""#,
        // DEV-1: three missed one-minute heartbeats; offline strictly after the deadline.
        r#""at":"2026-12-03T11:03:01+08:00","rule":"DEV-1","kind":"device_offline","subject":"device:kiosk-01""#,
        r#""rule":"DEV-2","kind":"device_fault","subject":"device:kiosk-01/fault:printer_paper_out""#,
        r#""rule":"DEV-4","kind":"internet_exposure","subject":"device:pc-w01""#,
        r#""rule":"DEV-5","kind":"unregistered_media","subject":"device:pc-w01/media:SIM-USB-0001""#,
        // DEV-3: the window PC is still on when closing ends at 18:00 — and not when it is switched on at 08:10.
        r#""at":"2026-12-03T18:00:00+08:00","rule":"DEV-3","kind":"left_powered_on","subject":"device:pc-w01","state":"open""#,
        // INS-3: nobody signed the 08:15 record by service start.
        r#""at":"2026-12-03T08:30:00+08:00","rule":"INS-3","kind":"inspection_unsigned""#,
    ] {
        assert!(got.contains(needle), "missing {needle} in\n{got}");
    }
    assert_eq!(
        got.matches("device:kiosk-02\",\"state\":\"open\"").count(),
        1,
        "flapping gave more than one alert"
    );
    assert_eq!(got.matches("left_powered_on").count(), 1, "{got}");
}

#[test]
fn a_bad_line_in_a_recording_is_reported_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("bad.jsonl");
    std::fs::write(
        &events,
        "{\"at\":\"2026-12-03T09:00:00+08:00\",\"topic\":\"x\",\"payload\":{}}\nnot json\n",
    )
    .unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/hall.toml");
    let out = Command::new(bin("hall-gateway"))
        .args(["replay", "--config"])
        .arg(cfg)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: not a record"), "{stderr}");
}

/// `(rule, kind, subject) → final state`, in the order the alerts were raised.
type AlertOutcome = Vec<(String, String, String, String)>;

#[tokio::test]
async fn replaying_a_recording_reproduces_the_live_gateways_alerts() {
    use rumqttc::QoS;
    use std::time::Duration;

    use crate::util::{Proc, free_port, mqtt_client, wait_for};

    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/hall.toml");
    let recording = dir.path().join("recording.jsonl");
    let (http, broker) = (free_port(), free_port());
    // A virtual clock at 60× so the 30 s debounce takes half a second.
    let gw = Proc::spawn(
        "hall-gateway",
        Command::new(bin("hall-gateway"))
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .args([
                "--listen",
                &format!("127.0.0.1:{http}"),
                "--broker-port",
                &broker.to_string(),
            ])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--dashboard-dir")
            .arg(dir.path())
            .arg("--record")
            .arg(&recording)
            .args([
                "--clock-start",
                "2026-12-03T08:50:00+08:00",
                "--clock-speed",
                "60",
            ]),
        dir.path(),
    );
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://127.0.0.1:{http}{p}");
    wait_for(
        "the gateway to connect",
        Duration::from_secs(20),
        || async {
            let h: serde_json::Value = client
                .get(url("/healthz"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (h["broker_connected"] == true).then_some(())
        },
    )
    .await;
    let mqtt = mqtt_client(broker, "t-record").await;
    let presence = |action: &str, staff: &str| {
        serde_json::json!({"v": 1, "action": action, "staff_id": staff, "source": "badge", "reason": "取档案",
            "at": "2026-12-03T08:50:00+08:00"})
        .to_string()
    };
    let live_alerts = || async {
        let alerts: Vec<serde_json::Value> = client
            .get(url("/api/v1/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        alerts
    };
    let has = |alerts: &[serde_json::Value], rule: &str, state: &str| {
        alerts
            .iter()
            .any(|a| a["rule"] == rule && a["subject"] == "window:w02" && a["state"] == state)
    };
    let topic = "hall/replay-hall/window/w02/presence";
    mqtt.publish(topic, QoS::AtLeastOnce, false, presence("sign_in", "s-003"))
        .await
        .unwrap();
    mqtt.publish(
        topic,
        QoS::AtLeastOnce,
        false,
        presence("step_away", "s-003"),
    )
    .await
    .unwrap();
    wait_for("POST-2 to open", Duration::from_secs(20), || async {
        has(&live_alerts().await, "POST-2", "open").then_some(())
    })
    .await;
    mqtt.publish(topic, QoS::AtLeastOnce, false, presence("return", "s-003"))
        .await
        .unwrap();
    wait_for("POST-2 to resolve", Duration::from_secs(20), || async {
        has(&live_alerts().await, "POST-2", "resolved").then_some(())
    })
    .await;
    let mut live = live_alerts().await;
    live.sort_by_key(|a| a["id"].as_u64());
    let live: AlertOutcome = live
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (s("rule"), s("kind"), s("subject"), s("state"))
        })
        .collect();
    gw.signal("TERM");
    drop(gw);

    let out = Command::new(bin("hall-gateway"))
        .arg("replay")
        .arg("--config")
        .arg(&cfg)
        .arg("--events")
        .arg(&recording)
        // The live gateway's startup grace ended before the first recorded message; replay starts at that message.
        .args(["--output", "alerts", "--grace-secs", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut replayed: AlertOutcome = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let key = (s("rule"), s("kind"), s("subject"));
        match replayed
            .iter_mut()
            .rev()
            .find(|(r, k, sub, st)| (r, k, sub) == (&key.0, &key.1, &key.2) && st != "resolved")
        {
            Some(entry) if s("state") != "open" => entry.3 = s("state"),
            _ => replayed.push((key.0, key.1, key.2, s("state"))),
        }
    }
    // The same alerts, in the same order, ending in the same states. (Times differ by up to one tick of the live
    // gateway, which ticks every 250 ms of real time; replay ticks every second of recorded time.)
    let window_alerts = |v: &AlertOutcome| {
        v.iter()
            .filter(|a| a.2 == "window:w02")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        window_alerts(&replayed),
        window_alerts(&live),
        "replayed {replayed:?}\nlive {live:?}"
    );
    assert!(!window_alerts(&live).is_empty());
}
