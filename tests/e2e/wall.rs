//! The wall display at 1920x1080 with 60 windows, in headless Chromium: no scrollbar, no tile overlapping another
//! or leaving the screen, and a presence sign-in over MQTT changes a tile's state. The screenshot is saved as
//! `wall-60.png` under `HALLWATCH_SCREENSHOT_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::chrome::Browser;
use crate::util::*;

const HALL_ID: &str = "wall-hall";
const SERVICES: &[(&str, &str, &str)] = &[
    ("shebao", "社保业务", "A"),
    ("jiuye", "就业登记", "B"),
    ("yibao", "医保业务", "C"),
    ("rencai", "人才服务", "D"),
];
const STAFF_NAMES: &[&str] = &[
    "王秀英",
    "李建国",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵敏",
    "黄磊",
    "周婷",
    "吴昊",
    "欧阳志远",
    "司马晓燕",
];

/// A hall config with `n` windows, each with an A and a B post, spread over four multi-person units and services.
pub fn wall_config(n: usize, broker_port: u16, http_port: u16, data_dir: &Path) -> String {
    let mut cfg = format!(
        r#"[hall]
id = "{HALL_ID}"
name = "示范市人社局政务服务大厅"

[broker]
embedded = true
port = {broker_port}
client_id = "gw-{broker_port}"

[http]
listen = "127.0.0.1:{http_port}"

[data]
dir = "{}"
"#,
        data_dir.display()
    );
    for (id, name, prefix) in SERVICES {
        cfg.push_str(&format!(
            "\n[[services]]\nid = \"{id}\"\nname = \"{name}\"\nticket_prefix = \"{prefix}\"\nservice_level_mins = 30\n"
        ));
        cfg.push_str(&format!(
            "\n[[units]]\nid = \"u-{id}\"\nname = \"{name}科\"\nkind = \"multi\"\n"
        ));
    }
    for i in 0..n {
        let (service, _, _) = SERVICES[i % SERVICES.len()];
        for post in ["a", "b"] {
            let name = format!(
                "{}{}",
                STAFF_NAMES[(i * 2 + usize::from(post == "b")) % STAFF_NAMES.len()],
                i + 1
            );
            cfg.push_str(&format!(
                "\n[[staff]]\nid = \"s-{i:02}{post}\"\nname = \"{name}\"\nunit = \"u-{service}\"\n"
            ));
        }
        cfg.push_str(&format!(
            "\n[[windows]]\nid = \"w{:02}\"\nnumber = {}\nunit = \"u-{service}\"\na_post = \"s-{i:02}a\"\nb_post = \"s-{i:02}b\"\nservices = [\"{service}\"]\n",
            i + 1,
            i + 1
        ));
    }
    cfg
}

/// Makes the page's viewport exactly 1920x1080 (the window has browser chrome around it, even headless).
async fn set_viewport(client: &Client, w: u32, h: u32) {
    client.set_window_size(w, h).await.unwrap();
    for _ in 0..3 {
        let inner = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (iw, ih) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        if (iw, ih) == (w, h) {
            return;
        }
        let (ow, oh) = client.get_window_size().await.unwrap();
        client
            .set_window_size(ow as u32 + w - iw, oh as u32 + h - ih)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_wall_fits_60_windows_on_a_1080p_screen_and_follows_presence() {
    assert!(
        std::env::var_os("HALLWATCH_DASHBOARD_DIR").is_some(),
        "the browser test needs the built dashboard; run it with `cargo xtask test`"
    );
    let dir = tempfile::tempdir().unwrap();
    let (http_port, broker_port) = (free_port(), free_port());
    let config = dir.path().join("hall.toml");
    std::fs::write(
        &config,
        wall_config(60, broker_port, http_port, &dir.path().join("data")),
    )
    .unwrap();
    // A Thursday morning in service hours on a virtual clock, whatever the real time is.
    let _gw = Proc::spawn(
        "hall-gateway",
        Command::new(bin("hall-gateway"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--dashboard-dir")
            .arg(std::env::var_os("HALLWATCH_DASHBOARD_DIR").unwrap())
            .arg("--clock-start")
            .arg("2026-12-03T09:00:00+08:00")
            .env("RUST_LOG", "info,rumqttd=off"),
        dir.path(),
    );
    let base = format!("http://127.0.0.1:{http_port}");
    let http = reqwest::Client::new();
    wait_for("the gateway", Duration::from_secs(30), || {
        let (http, url) = (http.clone(), format!("{base}/healthz"));
        async move {
            let h: serde_json::Value = http.get(&url).send().await.ok()?.json().await.ok()?;
            (h["broker_connected"] == true).then_some(())
        }
    })
    .await;

    let b = Browser::start().await;
    set_viewport(&b.client, 1920, 1080).await;
    b.client.goto(&format!("{base}/wall")).await.unwrap();
    let tiles = r#"[data-testid="window-tile"]"#;
    wait_for("60 tiles", Duration::from_secs(30), || async {
        let n = b.client.find_all(Locator::Css(tiles)).await.ok()?.len();
        (n == 60).then_some(())
    })
    .await;
    // Let fonts and the layout settle.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let geometry = b
        .client
        .execute(
            r#"
            const de = document.documentElement;
            const boxes = [...document.querySelectorAll('[data-testid="window-tile"]')].map(e => {
                const r = e.getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom, e.dataset.windowId];
            });
            // Text that is cut off inside a tile: an element whose content is wider or taller than its box,
            // ellipsis excepted (those are allowed to shorten names).
            const clipped = [...document.querySelectorAll('[data-testid="window-tile"] .tile-num, [data-testid="window-tile"] .tile-ticket-value')]
                .filter(e => e.scrollWidth > e.clientWidth + 1)
                .map(e => e.textContent);
            return {
                sh: de.scrollHeight, sw: de.scrollWidth, ih: window.innerHeight, iw: window.innerWidth,
                bsh: document.body.scrollHeight, bsw: document.body.scrollWidth,
                boxes, clipped,
            };
            "#,
            vec![],
        )
        .await
        .unwrap();
    let num = |k: &str| geometry[k].as_f64().unwrap();
    let (iw, ih) = (num("iw"), num("ih"));
    assert_eq!((iw, ih), (1920.0, 1080.0), "viewport");
    assert!(
        num("sh") <= ih && num("sw") <= iw && num("bsh") <= ih && num("bsw") <= iw,
        "the wall scrolls: {geometry}"
    );
    let boxes: Vec<(f64, f64, f64, f64, String)> = geometry["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let f = |i: usize| b[i].as_f64().unwrap();
            (f(0), f(1), f(2), f(3), b[4].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(boxes.len(), 60);
    for (l, t, r, bt, id) in &boxes {
        assert!(
            *l >= 0.0 && *t >= 0.0 && *r <= iw && *bt <= ih,
            "tile {id} leaves the screen: {l},{t},{r},{bt}"
        );
        assert!(
            r - l >= 100.0 && bt - t >= 80.0,
            "tile {id} is too small to read: {}x{}",
            r - l,
            bt - t
        );
    }
    for (i, a) in boxes.iter().enumerate() {
        for c in &boxes[i + 1..] {
            let overlap = a.0 < c.2 - 0.5 && c.0 < a.2 - 0.5 && a.1 < c.3 - 0.5 && c.1 < a.3 - 0.5;
            assert!(!overlap, "tiles {} and {} overlap: {a:?} {c:?}", a.4, c.4);
        }
    }
    assert_eq!(
        geometry["clipped"].as_array().unwrap().len(),
        0,
        "text cut off in tiles: {}",
        geometry["clipped"]
    );

    // A sign-in at window 7 shows on its tile.
    let tile7 = r#"[data-testid="window-tile"][data-window-id="w07"]"#;
    let before = b
        .client
        .find(Locator::Css(tile7))
        .await
        .unwrap()
        .attr("data-state")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(before, "staffed_a");
    let mqtt = mqtt_client(broker_port, "wall-test").await;
    let topic = hall_protocol::topic::Topic::WindowPresence {
        window_id: "w07".into(),
    }
    .to_topic(&format!("hall/{HALL_ID}"));
    let payload = serde_json::json!({
        "v": 1, "action": "sign_in", "staff_id": "s-06a", "source": "badge",
        "at": "2026-12-03T09:00:05+08:00",
    })
    .to_string();
    wait_for("w07 to be staffed", Duration::from_secs(20), || {
        let (mqtt, topic, payload) = (mqtt.clone(), topic.clone(), payload.clone());
        let client = b.client.clone();
        async move {
            let _ = mqtt
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            let el = client.find(Locator::Css(tile7)).await.ok()?;
            (el.attr("data-state").await.ok()??.as_str() == "staffed_a").then_some(())
        }
    })
    .await;
    let text = b
        .client
        .find(Locator::Css(tile7))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("7"), "tile text: {text}");

    let dir = std::env::var_os("HALLWATCH_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hallwatch-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("wall-60.png");
    std::fs::write(&shot, b.client.screenshot().await.unwrap()).unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    b.client.clone().close().await.unwrap();
}
