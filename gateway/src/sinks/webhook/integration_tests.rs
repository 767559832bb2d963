//! A webhook receiver started by the test (axum on 127.0.0.1:0) gets WeCom-format messages from the real sender.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use hall_protocol::api::{AlertState, AlertView};
use hall_protocol::config::{NotifyConfig, NotifyFormat};
use hall_protocol::payload::Severity;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{WebhookStats, spawn};

async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn hook(
        State(tx): State<mpsc::UnboundedSender<Value>>,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let _ = tx.send(body);
        Json(json!({"errcode": 0, "errmsg": "ok"}))
    }
    let app = Router::new()
        .route("/cgi-bin/webhook/send", post(hook))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/cgi-bin/webhook/send?key=test"), rx)
}

fn alert(id: u64, rule: &str) -> AlertView {
    AlertView {
        id,
        rule: rule.into(),
        kind: "internet_exposure".into(),
        subject: format!("device:pc{id}"),
        severity: Severity::Critical,
        state: AlertState::Open,
        message: format!("内网计算机 pc{id} 可以访问互联网"),
        raised_at: "2026-12-03T01:00:00Z".parse().unwrap(),
        acknowledged_at: None,
        acknowledged_by: None,
        ack_note: None,
        resolved_at: None,
    }
}

fn wecom(url: String, max_per_minute: u32) -> NotifyConfig {
    NotifyConfig {
        url,
        format: NotifyFormat::Wecom,
        rules: vec!["DEV-4".into()],
        min_severity: Severity::Warning,
        max_per_minute,
        max_attempts: 2,
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no webhook message within 10 s")
        .unwrap()
}

/// Waits until `counter` reaches `want` (the receiver sees a body before the sender has read the reply).
async fn counter_reaches(counter: &std::sync::atomic::AtomicU64, want: u64) {
    let wait = async {
        while counter.load(Ordering::Relaxed) < want {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("counter did not reach its value within 10 s");
    assert_eq!(counter.load(Ordering::Relaxed), want);
}

#[tokio::test]
async fn wecom_robot_gets_the_alert_once_and_other_rules_not_at_all() {
    let (url, mut rx) = receiver().await;
    let stats = Arc::new(WebhookStats::default());
    let shutdown = CancellationToken::new();
    let n = spawn(
        vec![wecom(url, 20)],
        16,
        Duration::from_secs(60),
        stats.clone(),
        shutdown.clone(),
    );
    n.offer(&alert(1, "DEV-4"));
    n.offer(&alert(2, "DEV-3")); // not this channel's rule
    n.offer(&alert(3, "DEV-4"));
    let first = next(&mut rx).await;
    assert_eq!(first["msgtype"], "markdown");
    let content = first["markdown"]["content"].as_str().unwrap();
    assert!(
        content.contains("内网计算机 pc1 可以访问互联网"),
        "{content}"
    );
    assert!(content.contains("DEV-4"));
    // The next message is the third alert: the first was sent once, the DEV-3 one not at all.
    let second = next(&mut rx).await;
    assert!(
        second["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("pc3")
    );
    counter_reaches(&stats.sent, 2).await;
    shutdown.cancel();
}

#[tokio::test]
async fn a_flood_is_rate_limited_and_summarised_never_dropped_silently() {
    let (url, mut rx) = receiver().await;
    let stats = Arc::new(WebhookStats::default());
    let shutdown = CancellationToken::new();
    let n = spawn(
        vec![wecom(url, 3)],
        64,
        Duration::from_millis(500),
        stats.clone(),
        shutdown.clone(),
    );
    for i in 1..=10 {
        n.offer(&alert(i, "DEV-4"));
    }
    for i in 1..=3 {
        let m = next(&mut rx).await;
        assert!(
            m["markdown"]["content"]
                .as_str()
                .unwrap()
                .contains(&format!("pc{i} "))
        );
    }
    let summary = next(&mut rx).await;
    let text = summary["markdown"]["content"].as_str().unwrap();
    assert!(text.contains("另有 7 条告警"), "{text}");
    assert_eq!(stats.summarised.load(Ordering::Relaxed), 7);
    counter_reaches(&stats.sent, 4).await;
    let mut metrics = String::new();
    stats.render_prometheus(&mut metrics);
    assert!(metrics.contains("hallwatch_notify_summarised_total 7"));
    shutdown.cancel();
}
