//! The gateway binary against its embedded broker and against a real Mosquitto: liveness (DEV-1), retained status
//! and last will, rejections of bad input, and a broker that goes away and comes back.

use std::time::{Duration, Instant};

use rumqttc::QoS;

use crate::util::*;

const UNICODE_ID: &str = TEST_DEVICES[1];

/// Publishes heartbeats for `id` every 300 ms until the returned task is aborted.
fn keep_alive(
    client: rumqttc::AsyncClient,
    id: &'static str,
    boot: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for seq in 1.. {
            let _ = client
                .publish(
                    device_topic(id, "heartbeat"),
                    QoS::AtLeastOnce,
                    false,
                    heartbeat(boot, seq),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

#[tokio::test]
async fn a_unicode_device_goes_online_then_offline_after_missed_heartbeats() {
    let gw = Gateway::embedded().await;
    assert_eq!(gw.device_state(UNICODE_ID).await, "unknown");
    let client = mqtt_client(gw.broker_port, "t-unicode").await;
    let beats = keep_alive(client, UNICODE_ID, "boot-1");
    gw.wait_device_state(UNICODE_ID, "online", Duration::from_secs(10))
        .await;
    let device: serde_json::Value = gw
        .get(&format!("/api/v1/devices/{}", urlencode(UNICODE_ID)))
        .await;
    assert_eq!(device["id"], UNICODE_ID);
    assert_eq!(device["location"], "一楼 东区");
    assert!(device["last_seen"].is_string(), "{device}");
    assert_eq!(device["metrics"]["cpu_pct"], 12.5);

    beats.abort();
    let stopped = Instant::now();
    gw.wait_device_state(
        UNICODE_ID,
        "offline",
        Duration::from_secs(HEARTBEAT_SECS * MISSED + 5),
    )
    .await;
    // DEV-1: offline after the configured missed heartbeats, not before.
    assert!(
        stopped.elapsed() >= Duration::from_millis(HEARTBEAT_SECS * MISSED * 1000 - 400),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(gw.device_state("spare").await, "unknown");
}

#[tokio::test]
async fn bad_input_is_counted_and_everything_else_keeps_working() {
    let gw = Gateway::embedded().await;
    let client = mqtt_client(gw.broker_port, "t-bad").await;
    let beats = keep_alive(client.clone(), "kiosk-1", "boot-1");
    gw.wait_device_state("kiosk-1", "online", Duration::from_secs(10))
        .await;

    let big = format!("{{\"v\":1,\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    let sends: [(String, Vec<u8>); 5] = [
        (device_topic("kiosk-1", "heartbeat"), b"{not json".to_vec()),
        (
            device_topic("kiosk-1", "heartbeat"),
            b"\xff\xfe\x00".to_vec(),
        ),
        (
            device_topic("no-such-device", "heartbeat"),
            heartbeat("b", 1).into_bytes(),
        ),
        (device_topic("kiosk-1", "heartbeat"), big.into_bytes()),
        (
            "hall/test-hall/device/kiosk-1/colour".to_owned(),
            b"{}".to_vec(),
        ),
    ];
    for (topic, payload) in sends {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    for (reason, at_least) in [
        ("malformed_payload", 2.0),
        ("unknown_device", 1.0),
        ("payload_too_large", 1.0),
        ("unknown_topic", 1.0),
    ] {
        let sample = format!("hallwatch_messages_rejected_total{{reason=\"{reason}\"}}");
        wait_for(
            &format!("{sample} >= {at_least}"),
            Duration::from_secs(10),
            || {
                let sample = sample.clone();
                let gw = &gw;
                async move { (gw.metric(&sample).await >= at_least).then_some(()) }
            },
        )
        .await;
    }
    // The device whose topic carried garbage is unaffected, and the gateway still serves.
    assert_eq!(gw.device_state("kiosk-1").await, "online");
    let health: serde_json::Value = gw.get("/healthz").await;
    assert_eq!(health["broker_connected"], true);
    // Each rejection is logged with its reason (once a minute per source), never silently swallowed.
    let log = gw.proc.log();
    assert!(
        log.contains("reason=\"payload_too_large\""),
        "gateway log:\n{log}"
    );
    beats.abort();
}

#[tokio::test]
async fn with_mosquitto_stale_retained_offline_is_ignored_and_a_clean_offline_is_immediate() {
    let broker = Mosquitto::start();
    // A retained offline left by an earlier boot is on the broker before the gateway starts.
    let client = mqtt_client(broker.port, "t-retained").await;
    let old_offline = serde_json::json!({"v": 1, "state": "offline", "boot_id": "boot-old", "reason": "last_will"}).to_string();
    client
        .publish(
            device_topic("kiosk-1", "status"),
            QoS::AtLeastOnce,
            true,
            old_offline.clone(),
        )
        .await
        .unwrap();

    let gw = Gateway::external(broker.port).await;
    gw.wait_device_state("kiosk-1", "offline", Duration::from_secs(10))
        .await;
    let beats = keep_alive(client.clone(), "kiosk-1", "boot-new");
    gw.wait_device_state("kiosk-1", "online", Duration::from_secs(10))
        .await;

    // The old boot's offline arrives again (a resubscription replays retained messages): it changes nothing.
    client
        .publish(
            device_topic("kiosk-1", "status"),
            QoS::AtLeastOnce,
            true,
            old_offline,
        )
        .await
        .unwrap();
    wait_for(
        "the stale status to be counted",
        Duration::from_secs(10),
        || async {
            (gw.metric("hallwatch_messages_rejected_total{reason=\"stale_status\"}")
                .await
                >= 1.0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(gw.device_state("kiosk-1").await, "online");

    // A clean stop of the live boot is offline at once, long before the heartbeat timeout.
    beats.abort();
    let clean = serde_json::json!({"v": 1, "state": "offline", "boot_id": "boot-new", "reason": "shutdown"}).to_string();
    let sent = Instant::now();
    client
        .publish(
            device_topic("kiosk-1", "status"),
            QoS::AtLeastOnce,
            true,
            clean,
        )
        .await
        .unwrap();
    gw.wait_device_state("kiosk-1", "offline", Duration::from_secs(10))
        .await;
    assert!(
        sent.elapsed() < Duration::from_secs(HEARTBEAT_SECS * MISSED),
        "{:?}",
        sent.elapsed()
    );
}

#[tokio::test]
async fn the_gateway_rides_out_a_broker_restart() {
    let mut broker = Mosquitto::start();
    let port = broker.port;
    let gw = Gateway::external(port).await;
    broker.proc.signal("KILL");
    broker.proc.wait_exit(Duration::from_secs(5));
    wait_for(
        "the gateway to notice the broker is gone",
        Duration::from_secs(20),
        || async {
            let h: serde_json::Value = gw.get("/healthz").await;
            (h["broker_connected"] == false).then_some(())
        },
    )
    .await;
    // The API keeps answering while the broker is down.
    assert_eq!(gw.device_state("kiosk-1").await, "unknown");

    let broker = restart_mosquitto_on(port);
    let client = mqtt_client(broker.port, "t-restart").await;
    let beats = keep_alive(client, "kiosk-1", "boot-1");
    // It reconnects by itself (backoff is capped) and subscribes again on the fresh session.
    gw.wait_device_state("kiosk-1", "online", Duration::from_secs(40))
        .await;
    beats.abort();
}

fn restart_mosquitto_on(port: u16) -> Mosquitto {
    // Mosquitto::start picks a free port; the gateway needs the same one back, so retry until it binds.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = Mosquitto::start_on(port);
        match m {
            Some(m) => return m,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("could not restart mosquitto on port {port}"),
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
