//! Process harness: free ports, the binaries under test, temp dirs, and waiting on conditions with a timeout.
//! On failure a process's log is printed, so a red test says what was run and what it said.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

/// A free loopback TCP port (bound and released; the OS does not hand it out again at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Path of a workspace binary, built next to this test binary by `cargo xtask test`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo xtask test`, which builds the binaries first",
        path.display()
    );
    path
}

/// Path of an outside program, or a failure that says how to get it.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed; `cargo xtask test` installs it"))
}

/// A child process that is killed when dropped, with its output in a log file.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
    pub cmdline: String,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, dir: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let cmdline = format!("{cmd:?}");
        let child = cmd
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmdline}: {e}"));
        Proc {
            name: name.into(),
            child: Some(child),
            log,
            cmdline,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {} failed", self.name);
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(
                std::io::stderr(),
                "---- {} ({}) log tail ----\n{tail}\n----",
                self.name,
                self.cmdline
            );
        }
    }
}

/// Polls `f` until it returns `Some`, or fails after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `hall-gateway`.
pub struct Gateway {
    pub proc: Proc,
    pub http_port: u16,
    pub broker_port: u16,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

/// Devices of the test hall: 1 s heartbeats, offline after 3 missed, always expected on.
pub const TEST_DEVICES: &[&str] = &["kiosk-1", "自助机 A,1=\"x\"\\y", "pc/w01+#", "spare"];
pub const HEARTBEAT_SECS: u64 = 1;
pub const MISSED: u64 = 3;

pub fn test_config(broker_port: u16, http_port: u16, embedded: bool, data_dir: &Path) -> String {
    let mut cfg = format!(
        r#"[hall]
id = "test-hall"
name = "测试大厅"

[broker]
embedded = {embedded}
port = {broker_port}
client_id = "gw-{broker_port}"

[http]
listen = "127.0.0.1:{http_port}"

[data]
dir = "{}"

[ingest]
max_payload_bytes = 65536
"#,
        data_dir.display()
    );
    for id in TEST_DEVICES {
        let id = id.replace('\\', "\\\\").replace('"', "\\\"");
        cfg.push_str(&format!(
            "\n[[devices]]\nid = \"{id}\"\nkind = \"wifi_ap\"\nlocation = \"一楼 东区\"\nheartbeat_interval_secs = {HEARTBEAT_SECS}\nmissed_heartbeats = {MISSED}\n"
        ));
    }
    cfg
}

impl Gateway {
    /// Starts the gateway with its embedded broker.
    pub async fn embedded() -> Gateway {
        Self::start(None).await
    }

    /// Starts the gateway with its embedded broker and `extra` appended to the test config.
    pub async fn embedded_with(extra: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (http_port, broker_port) = (free_port(), free_port());
        let config = test_config(broker_port, http_port, true, &dir.path().join("data"));
        std::fs::write(dir.path().join("hall.toml"), format!("{config}\n{extra}")).unwrap();
        Self::start_in(dir, http_port, broker_port, true).await
    }

    /// Starts the gateway against an outside broker on `broker_port`.
    pub async fn external(broker_port: u16) -> Gateway {
        Self::start(Some(broker_port)).await
    }

    async fn start(external_broker: Option<u16>) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let http_port = free_port();
        let broker_port = external_broker.unwrap_or_else(free_port);
        Self::start_in(dir, http_port, broker_port, external_broker.is_none()).await
    }

    /// Kills the gateway with SIGKILL and starts it again on the same ports, config and data directory.
    pub async fn kill_and_restart(self) -> Gateway {
        self.proc.signal("KILL");
        let Gateway {
            mut proc,
            http_port,
            broker_port,
            dir,
            ..
        } = self;
        proc.wait_exit(Duration::from_secs(10))
            .expect("the gateway dies on SIGKILL");
        let previous_log = proc.log();
        drop(proc);
        std::fs::write(
            dir.path().join("hall-gateway.before-restart.log"),
            previous_log,
        )
        .unwrap();
        Self::start_in(dir, http_port, broker_port, true).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        http_port: u16,
        broker_port: u16,
        embedded: bool,
    ) -> Gateway {
        let config = dir.path().join("hall.toml");
        // A restart keeps the config it was first given.
        if !config.exists() {
            std::fs::write(
                &config,
                test_config(broker_port, http_port, embedded, &dir.path().join("data")),
            )
            .unwrap();
        }
        let dashboard = std::env::var_os("HALLWATCH_DASHBOARD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.path().join("no-dashboard"));
        let proc = Proc::spawn(
            "hall-gateway",
            Command::new(bin("hall-gateway"))
                .arg("run")
                .arg("--config")
                .arg(&config)
                .arg("--dashboard-dir")
                .arg(dashboard)
                .env("RUST_LOG", "info,rumqttd=off"),
            dir.path(),
        );
        let gw = Gateway {
            proc,
            http_port,
            broker_port,
            dir,
            client: reqwest::Client::new(),
        };
        let url = gw.url("/healthz");
        let client = gw.client.clone();
        wait_for(
            "the gateway to connect to its broker",
            Duration::from_secs(20),
            || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let h: serde_json::Value =
                        client.get(&url).send().await.ok()?.json().await.ok()?;
                    (h["broker_connected"] == true).then_some(())
                }
            },
        )
        .await;
        gw
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one sample in `/metrics`, e.g. `hallwatch_messages_rejected_total{reason="unknown_topic"}`.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no sample {sample} in /metrics:\n{text}"))
    }

    /// The state of device `id` from `GET /api/v1/devices`.
    pub async fn device_state(&self, id: &str) -> String {
        let devices: Vec<serde_json::Value> = self.get("/api/v1/devices").await;
        devices
            .iter()
            .find(|d| d["id"] == id)
            .map(|d| d["state"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("device {id:?} missing from /api/v1/devices"))
    }

    pub async fn wait_device_state(&self, id: &str, want: &str, timeout: Duration) {
        wait_for(
            &format!("device {id:?} to be {want}"),
            timeout,
            || async move { (self.device_state(id).await == want).then_some(()) },
        )
        .await
    }
}

/// A real Mosquitto on a free port, with `max_queued_messages` lifted (its default drops QoS 1 messages).
pub struct Mosquitto {
    pub port: u16,
    pub proc: Proc,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Self::start_on(free_port()).expect("mosquitto starts on a free port")
    }

    /// Starts Mosquitto on `port`; `None` if it could not listen there.
    pub fn start_on(port: u16) -> Option<Mosquitto> {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n"),
        )
        .unwrap();
        let mut proc = Proc::spawn(
            "mosquitto",
            Command::new(program("mosquitto")).arg("-c").arg(&conf),
            dir.path(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if proc.wait_exit(Duration::from_millis(20)).is_some() || Instant::now() > deadline {
                return None;
            }
        }
        Some(Mosquitto {
            port,
            proc,
            _dir: dir,
        })
    }
}

/// An MQTT client for publishing test traffic.
pub async fn mqtt_client(port: u16, id: &str) -> rumqttc::AsyncClient {
    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(2 * 1024 * 1024, 2 * 1024 * 1024);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 256);
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}

/// A heartbeat payload.
pub fn heartbeat(boot: &str, seq: u64) -> String {
    serde_json::json!({
        "v": 1, "seq": seq, "boot_id": boot, "sent_at": chrono::Utc::now().to_rfc3339(),
        "uptime_secs": seq, "metrics": {"cpu_pct": 12.5, "mem_pct": 40.0}
    })
    .to_string()
}

/// The topic of a device under the test hall's prefix.
pub fn device_topic(id: &str, leaf: &str) -> String {
    let topic = match leaf {
        "status" => hall_protocol::topic::Topic::DeviceStatus {
            device_id: id.into(),
        },
        "heartbeat" => hall_protocol::topic::Topic::DeviceHeartbeat {
            device_id: id.into(),
        },
        _ => hall_protocol::topic::Topic::DeviceEvent {
            device_id: id.into(),
        },
    };
    topic.to_topic("hall/test-hall")
}
