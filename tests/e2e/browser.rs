//! The dashboard in headless Chromium (driven through chromedriver): `/it` and `/wall` render live data, a device
//! turns offline on the page when its agent is killed, and screenshots are saved under `target/screenshots/`.

use std::time::Duration;

use fantoccini::Locator;

use crate::agent::start_agent;
use crate::chrome::Browser;
use crate::util::*;

#[tokio::test]
async fn the_it_view_shows_a_killed_agent_going_offline_and_the_wall_renders() {
    assert!(
        std::env::var_os("HALLWATCH_DASHBOARD_DIR").is_some(),
        "the browser test needs the built dashboard; run it with `cargo xtask test`"
    );
    let gw = Gateway::embedded().await;
    let agent = start_agent(&gw, "kiosk-1");
    let _other = start_agent(&gw, TEST_DEVICES[1]);
    let browser = Browser::start().await;
    browser.client.set_window_size(1920, 1080).await.unwrap();

    browser.client.goto(&gw.url("/it")).await.unwrap();
    let row = r#"[data-testid="device-row"][data-device-id="kiosk-1"]"#;
    browser
        .wait_attr(row, "data-state", "online", Duration::from_secs(20))
        .await;
    let text = browser
        .client
        .find(Locator::Css(row))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("一楼 东区"), "row text: {text}");
    browser.screenshot("it-online.png").await;

    agent.signal("KILL");
    browser
        .wait_attr(
            row,
            "data-state",
            "offline",
            Duration::from_secs(HEARTBEAT_SECS * MISSED + 5),
        )
        .await;
    browser.screenshot("it-offline.png").await;

    browser.client.goto(&gw.url("/wall")).await.unwrap();
    wait_for("the wall's hall clock", Duration::from_secs(20), || async {
        let el = browser
            .client
            .find(Locator::Css(r#"[data-testid="hall-clock"]"#))
            .await
            .ok()?;
        let text = el.text().await.ok()?;
        (!text.trim().is_empty()).then_some(())
    })
    .await;
    let shot = browser.screenshot("wall.png").await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot {} looks empty",
        shot.display()
    );
    let body = browser
        .client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("测试大厅"),
        "wall shows the hall name: {body}"
    );
    browser.client.clone().close().await.unwrap();
}
