//! The dashboard in headless Chromium (driven through chromedriver): `/it` and `/wall` render live data, a device
//! turns offline on the page when its agent is killed, and screenshots are saved under `target/screenshots/`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::agent::start_agent;
use crate::util::*;

/// chromedriver on a free port, and a WebDriver session with headless Chromium.
struct Browser {
    client: Client,
    _driver: Proc,
    _dir: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = Proc::spawn(
            "chromedriver",
            Command::new(program("chromedriver")).arg(format!("--port={port}")),
            dir.path(),
        );
        let profile = dir.path().join("profile");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": program("chromium"),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1920,1080", "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let client = wait_for(
            "chromedriver to start a session",
            Duration::from_secs(30),
            || {
                let (caps, url) = (caps.clone(), url.clone());
                async move {
                    ClientBuilder::rustls()
                        .ok()?
                        .capabilities(caps)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await;
        Browser {
            client,
            _driver: driver,
            _dir: dir,
        }
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("HALLWATCH_SCREENSHOT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("hallwatch-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// Waits until an element matching `css` exists and has `attr` = `want`.
    async fn wait_attr(&self, css: &str, attr: &str, want: &str, timeout: Duration) {
        wait_for(&format!("{css} to have {attr}={want}"), timeout, || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            (el.attr(attr).await.ok()?.as_deref() == Some(want)).then_some(())
        })
        .await
    }
}

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
