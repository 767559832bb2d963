//! The real `hall-sim` binary against a real Mosquitto, on a small hall at high speed: every device comes online
//! with a boot id and heartbeats, every A-post signs in at the virtual clock's time, a dropped device's last will
//! fires and it returns with a new boot id, and SIGTERM leaves every device retained `offline`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeDelta};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::{Heartbeat, LinkState, Presence, PresenceAction, StatusPayload};
use hall_protocol::topic::Topic;

mod util;
use util::{Mosquitto, subscribe, wait_for};

const HALL_TOML: &str = r#"
[hall]
id = "sim-hall"
[device_kinds.window_pc]
heartbeat_interval_secs = 10
[[units]]
id = "u1"
name = "社会保险科"
kind = "multi"
[[units]]
id = "u2"
name = "人才服务科"
kind = "single"
[[staff]]
id = "s-001"
name = "王秀英"
unit = "u1"
[[staff]]
id = "s-002"
name = "李建国"
unit = "u1"
[[staff]]
id = "s-003"
name = "张丽娟"
unit = "u2"
[[staff]]
id = "s-004"
name = "刘志强"
unit = "u2"
[[windows]]
id = "w01"
number = 1
unit = "u1"
a_post = "s-001"
b_post = "s-002"
[[windows]]
id = "w02"
number = 2
unit = "u2"
a_post = "s-003"
b_post = "s-004"
[[devices]]
id = "pc-w01"
kind = "window_pc"
location = "一楼"
window = "w01"
[[devices]]
id = "自助查询机 A区"
kind = "self_query_kiosk"
location = "咨询台"
heartbeat_interval_secs = 5
[[devices]]
id = "kiosk-01"
kind = "self_service_kiosk"
location = "一楼"
"#;

struct Sim {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- hall-sim log ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

fn start_sim(dir: &std::path::Path, port: u16, extra: &[&str]) -> Sim {
    let config = dir.join("hall.toml");
    std::fs::write(&config, HALL_TOML).unwrap();
    let log = dir.join("sim.log");
    let anchor = chrono::Utc::now().timestamp_millis().to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_hall-sim"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "--broker",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--speed",
            "600",
            "--seed",
            "42",
            "--clock-anchor-unix-ms",
            &anchor,
        ])
        .args(["--clock-start", "2026-12-03T08:25:00+08:00"])
        .args(extra)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start hall-sim");
    Sim { child, log }
}

fn hall() -> HallConfig {
    toml::from_str(HALL_TOML).unwrap()
}

const PREFIX: &str = "hall/sim-hall";

/// Which device a status or heartbeat topic belongs to.
fn device_of(topic: &str) -> Option<(String, bool)> {
    match Topic::parse(PREFIX, topic).ok()? {
        Topic::DeviceStatus { device_id } => Some((device_id, true)),
        Topic::DeviceHeartbeat { device_id } => Some((device_id, false)),
        _ => None,
    }
}

async fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "hall-sim did not exit within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every device comes online and heartbeats, both A-posts sign in at the virtual time, SIGTERM leaves all offline.
async fn plays_the_hall(extra: &[&str], expect_last_will: bool) {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let hall = hall();
    let all: BTreeSet<String> = hall.devices.iter().map(|d| d.id.clone()).collect();
    let (_watcher, mut rx) = subscribe(broker.port, "watcher", &format!("{PREFIX}/#")).await;
    let mut sim = start_sim(dir.path(), broker.port, extra);
    let long = Duration::from_secs(20);

    // Online with a boot id, then a heartbeat of that boot, for every device; both A-posts sign in.
    let mut boots: BTreeMap<String, String> = BTreeMap::new();
    let mut beating: BTreeSet<String> = BTreeSet::new();
    let mut signed_in: BTreeMap<String, (String, DateTime<FixedOffset>)> = BTreeMap::new();
    wait_for(
        &mut rx,
        long,
        "every device online and heartbeating, every window signed in",
        |p| {
            if let Some((device, is_status)) = device_of(&p.topic) {
                if is_status {
                    let s: StatusPayload = serde_json::from_slice(&p.payload).unwrap();
                    if s.state == LinkState::Online {
                        boots.insert(device, s.boot_id);
                    }
                } else {
                    let hb: Heartbeat = serde_json::from_slice(&p.payload).unwrap();
                    if boots.get(&device) == Some(&hb.boot_id) {
                        beating.insert(device);
                    }
                }
            } else if let Ok(Topic::WindowPresence { window_id }) = Topic::parse(PREFIX, &p.topic) {
                let presence: Presence = serde_json::from_slice(&p.payload).unwrap();
                if presence.action == PresenceAction::SignIn {
                    signed_in
                        .entry(window_id)
                        .or_insert((presence.staff_id, presence.at));
                }
            }
            (beating == all && signed_in.len() == 2).then_some(())
        },
    )
    .await;
    let start: DateTime<FixedOffset> = "2026-12-03T08:25:00+08:00".parse().unwrap();
    for (window, (staff, at)) in &signed_in {
        let w = hall.windows.iter().find(|w| &w.id == window).unwrap();
        // One A-post is on leave on the first simulated day; the B-post works that window.
        assert!(
            staff == &w.a_post || Some(staff) == w.b_post.as_ref(),
            "{window}: {staff}"
        );
        assert!(
            *at >= start && *at < start + TimeDelta::minutes(30),
            "sign-in at virtual time, got {at}"
        );
    }

    if expect_last_will {
        // An uncleanly dropped device: its will names its boot, and it comes back with a new one.
        let (device, old_boot) = wait_for(&mut rx, Duration::from_secs(60), "a last will", |p| {
            let (device, true) = device_of(&p.topic)? else {
                return None;
            };
            let s: StatusPayload = serde_json::from_slice(&p.payload).unwrap();
            if s.state == LinkState::Online {
                // Devices that only stopped heartbeating come back with new boots meanwhile.
                boots.insert(device, s.boot_id);
                return None;
            }
            (s.reason.as_deref() == Some("last_will")).then_some((device, s.boot_id))
        })
        .await;
        assert_eq!(
            boots.get(&device),
            Some(&old_boot),
            "the will carries the current boot's id"
        );
        let new_boot = wait_for(
            &mut rx,
            Duration::from_secs(60),
            "the dropped device back online",
            |p| {
                let (d, true) = device_of(&p.topic)? else {
                    return None;
                };
                let s: StatusPayload = serde_json::from_slice(&p.payload).unwrap();
                (d == device && s.state == LinkState::Online).then_some(s.boot_id)
            },
        )
        .await;
        assert_ne!(new_boot, old_boot);
    }

    let status = Command::new("kill")
        .args(["-TERM", &sim.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        wait_exit(&mut sim.child, long).await.success(),
        "hall-sim exits 0 on SIGTERM"
    );

    // Every device's retained status is now offline.
    let (_probe, mut retained) =
        subscribe(broker.port, "probe", &format!("{PREFIX}/device/+/status")).await;
    let mut offline = BTreeSet::new();
    wait_for(
        &mut retained,
        long,
        "a retained offline for every device",
        |p| {
            let (device, true) = device_of(&p.topic)? else {
                return None;
            };
            let s: StatusPayload = serde_json::from_slice(&p.payload).unwrap();
            assert!(p.retain && s.state == LinkState::Offline, "{device}: {s:?}");
            offline.insert(device);
            (offline == all).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_device_with_last_wills() {
    plays_the_hall(&[], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_connection_beyond_max_connections() {
    plays_the_hall(&["--max-connections", "0"], false).await;
}
