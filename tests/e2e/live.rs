//! The live WebSocket: a snapshot first, then deltas whose `seq` increases by one.

use std::time::Duration;

use futures_util::StreamExt;
use hall_protocol::api::{Change, LiveMessage};
use rumqttc::QoS;

use crate::util::*;

#[tokio::test]
async fn live_stream_sends_a_snapshot_then_gapless_deltas() {
    let gw = Gateway::embedded().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/api/v1/live", gw.http_port))
            .await
            .unwrap();
    let next = |msg: tokio_tungstenite::tungstenite::Message| -> LiveMessage {
        serde_json::from_str(msg.to_text().unwrap()).unwrap()
    };
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let LiveMessage::Snapshot(snapshot) = next(first) else {
        panic!("first message must be a snapshot")
    };
    assert_eq!(snapshot.hall_id, "test-hall");
    assert_eq!(snapshot.devices.len(), TEST_DEVICES.len());

    let client = mqtt_client(gw.broker_port, "t-live").await;
    client
        .publish(
            device_topic("kiosk-1", "heartbeat"),
            QoS::AtLeastOnce,
            false,
            heartbeat("b1", 1),
        )
        .await
        .unwrap();

    let mut seq = snapshot.seq;
    let mut saw_device = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !saw_device {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a delta with the device")
            .unwrap()
            .unwrap();
        match next(msg) {
            LiveMessage::Delta { seq: s, changes } => {
                assert_eq!(s, seq + 1, "deltas must not skip");
                seq = s;
                saw_device = changes.iter().any(|c| matches!(c, Change::Device(d) if d.id == "kiosk-1" && d.state.as_str() == "online"));
            }
            LiveMessage::Snapshot(_) => panic!("unexpected resync"),
        }
    }
}
