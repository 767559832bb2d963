//! Headless Chromium for the dashboard tests: chromedriver on a free port and a WebDriver session, with the
//! flags this machine needs (no sandbox as root, no background networking on a closed network).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::util::*;

/// A chromedriver process and a session with headless Chromium at 1920x1080.
pub struct Browser {
    pub client: Client,
    _driver: Proc,
    _dir: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        // The workspace enables more than one rustls crypto backend; pick one for the WebDriver client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = Proc::spawn(
            "chromedriver",
            Command::new(program("chromedriver")).arg(format!("--port={port}")),
            dir.path(),
        );
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": program("chromium"),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1920,1080", "--hide-scrollbars", "--lang=zh-CN",
                    format!("--user-data-dir={}", dir.path().join("profile").display()),
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

    /// Saves a PNG screenshot under `HALLWATCH_SCREENSHOT_DIR` (set by `cargo xtask test` to target/screenshots).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("HALLWATCH_SCREENSHOT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("hallwatch-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }

    /// Waits until an element matching `css` exists and has `attr` = `want`.
    pub async fn wait_attr(&self, css: &str, attr: &str, want: &str, timeout: Duration) {
        wait_for(&format!("{css} to have {attr}={want}"), timeout, || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            (el.attr(attr).await.ok()?.as_deref() == Some(want)).then_some(())
        })
        .await
    }
}
