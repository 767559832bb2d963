//! The journal's records beyond alerts: a maintenance mark (DEV-6) set over the API survives a SIGKILL and
//! restart, and a lifted one stays lifted; the webhook counters are on `/metrics`.

use crate::util::*;

fn path_segment(s: &str) -> String {
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

async fn post_mark(gw: &Gateway, id: &str) -> serde_json::Value {
    let resp = gw
        .client
        .post(gw.url(&format!("/api/v1/devices/{}/maintenance", path_segment(id))))
        .json(&serde_json::json!({"reason": "更换打印机", "by": "信息中心", "until": null}))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "marking {id}: {}",
        resp.status()
    );
    resp.json().await.unwrap()
}

async fn device(gw: &Gateway, id: &str) -> serde_json::Value {
    gw.get(&format!("/api/v1/devices/{}", path_segment(id)))
        .await
}

#[tokio::test]
async fn maintenance_marks_survive_kill_9() {
    let gw = Gateway::embedded().await;
    let marked = ["kiosk-1", TEST_DEVICES[1]];
    for id in marked {
        let view = post_mark(&gw, id).await;
        assert_eq!(view["maintenance"]["reason"], "更换打印机", "{view}");
    }
    // A mark set and lifted again must not come back.
    post_mark(&gw, "spare").await;
    let resp = gw
        .client
        .delete(gw.url("/api/v1/devices/spare/maintenance"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "lifting: {}", resp.status());
    // The webhook counters are rendered even with no webhook configured.
    assert_eq!(gw.metric("hallwatch_notify_sent_total").await, 0.0);

    // The API answers only once the mark is committed: kill at once.
    let gw = gw.kill_and_restart().await;
    for id in marked {
        let d = device(&gw, id).await;
        let m = &d["maintenance"];
        assert_eq!(m["reason"], "更换打印机", "{id}: {d}");
        assert_eq!(m["by"], "信息中心", "{id}: {d}");
        assert!(m["until"].is_null(), "{id}: {d}");
    }
    let spare = device(&gw, "spare").await;
    assert!(spare["maintenance"].is_null(), "{spare}");
    let other = device(&gw, TEST_DEVICES[2]).await;
    assert!(other["maintenance"].is_null(), "{other}");
}
