//! The duty leader acknowledges an alert on `/duty` in headless Chromium, and the gateway records who and why.

use std::time::Duration;

use fantoccini::Locator;

use crate::chrome::Browser;
use crate::util::*;

#[tokio::test]
async fn an_alert_is_acknowledged_from_the_duty_page() {
    assert!(
        std::env::var_os("HALLWATCH_DASHBOARD_DIR").is_some(),
        "the browser test needs the built dashboard; run it with `cargo xtask test`"
    );
    let gw = Gateway::embedded().await;
    // None of the test devices reports, and all are always expected on: DEV-1 alerts open after the grace period.
    let alert_id = wait_for("an open DEV-1 alert", Duration::from_secs(30), || async {
        let alerts: Vec<serde_json::Value> = gw.get("/api/v1/alerts").await;
        alerts
            .iter()
            .find(|a| a["rule"] == "DEV-1" && a["state"] == "open")
            .and_then(|a| a["id"].as_u64())
    })
    .await;

    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&gw.url("/duty")).await.unwrap();
    // Device alerts are folded away on the duty page by default.
    let toggle = wait_for(
        "the device-alert toggle",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css(r#"[data-testid="show-device-alerts"]"#))
                .await
                .ok()
        },
    )
    .await;
    toggle.click().await.unwrap();
    let row = format!(r#"tr[data-alert-id="{alert_id}"]"#);
    let open = wait_for(
        "the alert's acknowledge button",
        Duration::from_secs(20),
        || async {
            c.find(Locator::Css(&format!(r#"{row} [data-testid="ack-open"]"#)))
                .await
                .ok()
        },
    )
    .await;
    open.click().await.unwrap();
    let by = c
        .find(Locator::Css(&format!(r#"{row} [data-testid="ack-by"]"#)))
        .await
        .unwrap();
    by.clear().await.unwrap();
    by.send_keys("值班长 王主任").await.unwrap();
    c.find(Locator::Css(&format!(r#"{row} [data-testid="ack-note"]"#)))
        .await
        .unwrap()
        .send_keys("已通知信息中心")
        .await
        .unwrap();
    c.find(Locator::Css(&format!(
        r#"{row} .ack-form button[type="submit"]"#
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();

    let acked = wait_for(
        "the acknowledgement in the API",
        Duration::from_secs(20),
        || async {
            let alerts: Vec<serde_json::Value> = gw.get("/api/v1/alerts").await;
            alerts
                .into_iter()
                .find(|a| a["id"] == alert_id && a["state"] == "acknowledged")
        },
    )
    .await;
    assert_eq!(acked["acknowledged_by"], "值班长 王主任");
    assert_eq!(acked["ack_note"], "已通知信息中心");
    browser.screenshot("duty-acknowledged.png").await;
    browser.client.clone().close().await.unwrap();
}
