//! The real `hall-agent` binary against a real Mosquitto: retained online status with a boot id, heartbeats with
//! increasing sequence numbers, a clean retained offline on SIGTERM and the last will on SIGKILL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hall_protocol::payload::{Heartbeat, LinkState, StatusPayload};
use rumqttc::Publish;

mod util;
use util::{Mosquitto, subscribe, wait_for};

const HALL: &str = "it-hall";
/// A device id with Chinese, a space and a slash, to exercise topic escaping end to end.
const DEVICE: &str = "自助查询机 A区/1";

/// A running `hall-agent`; on drop it is killed and, if the test is failing, its log is printed.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(dir: &Path, port: u16) -> Agent {
        let config = dir.join("agent.toml");
        let mut f = std::fs::File::create(&config).unwrap();
        write!(
            f,
            r#"hall_id = "{HALL}"
device_id = "{DEVICE}"
heartbeat_interval_secs = 1

[broker]
host = "127.0.0.1"
port = {port}
keep_alive_secs = 5
max_backoff_secs = 2

[[checks]]
name = "always_ok"
command = "exit 0"
fault_code = "never"

[[checks]]
name = "receipt_printer"
command = "exit 1"
fault_code = "printer_paper_out"
"#
        )
        .unwrap();
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = dir.join(format!("agent-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_hall-agent"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start hall-agent");
        Agent { child, log }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, polling its status until `limit`.
    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "hall-agent did not exit within {limit:?}\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- hall-agent log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

fn status_topic() -> String {
    format!("hall/{HALL}/device/自助查询机 A区%2F1/status")
}

fn heartbeat_topic() -> String {
    format!("hall/{HALL}/device/自助查询机 A区%2F1/heartbeat")
}

fn status_of(p: &Publish) -> Option<StatusPayload> {
    (p.topic == status_topic())
        .then(|| serde_json::from_slice(&p.payload).expect("status payload parses"))
}

/// What a newcomer sees: the retained status, delivered on a fresh subscription with the retain flag set.
async fn retained_status(port: u16, tag: &str) -> StatusPayload {
    let (client, mut rx) = subscribe(port, &format!("probe-{tag}"), &status_topic()).await;
    let (retain, status) = wait_for(
        &mut rx,
        Duration::from_secs(10),
        "the retained status",
        |p| status_of(p).map(|s| (p.retain, s)),
    )
    .await;
    assert!(
        retain,
        "status must be delivered as retained to a new subscriber"
    );
    let _ = client.disconnect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_status_heartbeats_shutdown_and_last_will() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (_watcher, mut rx) = subscribe(broker.port, "watcher", &format!("hall/{HALL}/#")).await;
    let long = Duration::from_secs(15);

    // Start: online with a boot id, retained.
    let mut agent = Agent::start(dir.path(), broker.port);
    let online = wait_for(&mut rx, long, "online status", status_of).await;
    assert_eq!(online.state, LinkState::Online);
    assert_eq!(
        uuid::Uuid::parse_str(&online.boot_id)
            .unwrap()
            .get_version_num(),
        4
    );
    let boot_id = online.boot_id.clone();
    let seen = retained_status(broker.port, "1").await;
    assert_eq!(
        (seen.state, seen.boot_id.as_str()),
        (LinkState::Online, boot_id.as_str())
    );

    // Heartbeats: same boot id, seq increasing by one, real metrics, check results.
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        let hb: Heartbeat = wait_for(&mut rx, long, "a heartbeat", |p| {
            (p.topic == heartbeat_topic())
                .then(|| serde_json::from_slice(&p.payload).expect("heartbeat parses"))
        })
        .await;
        assert_eq!(hb.boot_id, boot_id);
        assert!(
            hb.metrics.mem_pct.is_some() && hb.metrics.cpu_pct.is_some(),
            "{hb:?}"
        );
        let checks: Vec<(&str, bool, Option<&str>)> = hb
            .checks
            .peripherals
            .iter()
            .map(|c| (c.name.as_str(), c.ok, c.fault_code.as_deref()))
            .collect();
        assert_eq!(
            checks,
            [
                ("always_ok", true, None),
                ("receipt_printer", false, Some("printer_paper_out"))
            ]
        );
        seqs.push(hb.seq);
    }
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "seq must increase by one: {seqs:?}"
    );

    // SIGTERM: a retained clean offline with the same boot id, and a clean exit.
    agent.signal("TERM");
    let offline = wait_for(&mut rx, long, "offline status after SIGTERM", status_of).await;
    assert_eq!(offline.state, LinkState::Offline);
    assert_eq!(offline.boot_id, boot_id);
    assert_eq!(offline.reason.as_deref(), Some("shutdown"));
    assert!(
        agent.wait_exit(long).await.success(),
        "hall-agent must exit 0 on SIGTERM\n{}",
        agent.log_text()
    );
    let seen = retained_status(broker.port, "2").await;
    assert_eq!(
        (seen.state, seen.reason.as_deref()),
        (LinkState::Offline, Some("shutdown"))
    );
    drop(agent);

    // A new start gets a new boot id; SIGKILL leaves it to the broker, which sends the last will.
    let agent = Agent::start(dir.path(), broker.port);
    let online = wait_for(&mut rx, long, "online status after restart", |p| {
        status_of(p).filter(|s| s.state == LinkState::Online)
    })
    .await;
    assert_ne!(online.boot_id, boot_id, "each start has a fresh boot id");
    wait_for(&mut rx, long, "a heartbeat after restart", |p| {
        (p.topic == heartbeat_topic()).then_some(())
    })
    .await;
    agent.signal("KILL");
    // The will comes when the broker sees the socket close, or at the latest after 1.5 x keep-alive (5 s).
    let will = wait_for(&mut rx, Duration::from_secs(20), "the last will", |p| {
        status_of(p).filter(|s| s.state == LinkState::Offline)
    })
    .await;
    assert_eq!(will.boot_id, online.boot_id);
    assert_eq!(will.reason.as_deref(), Some("last_will"));
    let seen = retained_status(broker.port, "3").await;
    assert_eq!(
        (seen.state, seen.boot_id.as_str()),
        (LinkState::Offline, online.boot_id.as_str())
    );
}
