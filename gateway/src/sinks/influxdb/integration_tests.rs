//! Tests against real servers: InfluxDB 1.x (`/usr/bin/influxd`, v1 API) and VictoriaMetrics
//! (`/usr/bin/victoria-metrics`, v2 write API). Each test starts its own server on free loopback ports with a
//! temporary data directory. `cargo xtask test` installs both servers.
//!
//! The test where the sink's process is killed re-runs this test binary as the child process (selected by the
//! `HALLWATCH_SINK_CHILD` environment variable), so no extra binary ships with the product.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hall_protocol::config::{InfluxApi, InfluxConfig};
use tokio_util::sync::CancellationToken;

use super::*;

const INFLUXD: &str = "/usr/bin/influxd";
const VICTORIA: &str = "/usr/bin/victoria-metrics";
const TIMEOUT: Duration = Duration::from_secs(90);
const CHILD_ENV: &str = "HALLWATCH_SINK_CHILD";

fn require(binary: &str) -> PathBuf {
    let path = PathBuf::from(binary);
    assert!(
        path.exists(),
        "{binary} is missing; `cargo xtask test` installs it (Debian packages influxdb and victoria-metrics)"
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it returns true, failing the test with `what` after the timeout.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server process, killed on drop; its log is printed when a test fails.
struct Server {
    child: Option<Child>,
    program: PathBuf,
    args: Vec<String>,
    dir: tempfile::TempDir,
    url: String,
    health: &'static str,
}

impl Server {
    fn influxd() -> Server {
        let program = require(INFLUXD);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n",
            rpc = free_port(),
            d = dir.path().display(),
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).unwrap();
        let args = vec!["-config".to_owned(), config_path.display().to_string()];
        Server::spawn(program, args, dir, port, "/ping")
    }

    fn victoria() -> Server {
        let program = require(VICTORIA);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let args = vec![
            format!("-httpListenAddr=127.0.0.1:{port}"),
            format!("-storageDataPath={}/data", dir.path().display()),
            "-retentionPeriod=100y".to_owned(),
            "-search.latencyOffset=1s".to_owned(),
            "-loggerLevel=ERROR".to_owned(),
        ];
        Server::spawn(program, args, dir, port, "/health")
    }

    fn spawn(
        program: PathBuf,
        args: Vec<String>,
        dir: tempfile::TempDir,
        port: u16,
        health: &'static str,
    ) -> Server {
        let mut server = Server {
            child: None,
            program,
            args,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            health,
        };
        server.start();
        server
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} {:?}: {e}", self.program.display(), self.args));
        self.child = Some(child);
    }

    async fn ready(&self) {
        let url = format!("{}{}", self.url, self.health);
        let http = reqwest::Client::new();
        wait_for(
            &format!("{} to answer {url}", self.program.display()),
            || {
                let request = http.get(&url).send();
                async move { request.await.is_ok_and(|r| r.status().is_success()) }
            },
        )
        .await;
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!(
                "--- {} {:?} log (tail) ---\n{tail}",
                self.program.display(),
                self.args
            );
        }
    }
}

async fn influxql(server: &Server, query: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}/query", server.url))
        .query(&[("db", "hall"), ("q", query), ("epoch", "ns")])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{query}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn count(server: &Server, measurement: &str) -> u64 {
    let json = influxql(server, &format!("SELECT count(v) FROM \"{measurement}\"")).await;
    json["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

fn v1_config(server: &Server) -> InfluxConfig {
    let mut config = InfluxConfig::new(&server.url, InfluxApi::V1);
    config.database = Some("hall".into());
    config.request_timeout_secs = 5;
    config.max_retry_secs = 1;
    config.flush_interval_ms = 100;
    config
}

async fn influxd_with_database() -> Server {
    let server = Server::influxd();
    server.ready().await;
    influxql(&server, "CREATE DATABASE hall").await;
    server
}

/// Strings a hall really has, and the characters line protocol must escape.
fn awkward_ids() -> Vec<&'static str> {
    vec![
        "自助终端 #3",
        "a,b=c d",
        "\"quoted\" 'single'",
        "1号窗口=A岗",
        "trailing space ",
        "émoji 🙂 ok",
        "=,\"x",
    ]
}

#[tokio::test]
async fn v1_awkward_strings_round_trip_exactly() {
    let server = influxd_with_database().await;
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let sink =
        InfluxSink::start(&v1_config(&server), "大厅 1", data.path(), shutdown.clone()).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    let mut expected = BTreeMap::new();
    for (i, id) in awkward_ids().into_iter().enumerate() {
        let ts = t0 + i as i64;
        let note = format!("line one\nline \"two\" \\ {id}");
        sink.send(
            Point::at_ns("device heartbeat,x", ts)
                .tag("device", id)
                .tag("location", "一楼 东区, \"A\"")
                .field("cpu_pct", 12.5 + i as f64)
                .field("n", i as i64)
                .field("ok", i % 2 == 0)
                .field("note", note.clone()),
        )
        .unwrap();
        expected.insert(
            ts,
            (id.to_owned(), 12.5 + i as f64, i as i64, i % 2 == 0, note),
        );
    }
    assert!(matches!(
        sink.send(Point::at_ns("m", 1).tag("device", "a\nb").field("v", 1.0)),
        Err(SendError::Invalid(_))
    ));
    let n = expected.len() as u64;
    wait_for("points written", || async {
        sink.stats().points_written == n
    })
    .await;

    let json = influxql(&server, r#"SELECT * FROM "device heartbeat,x""#).await;
    let series = &json["results"][0]["series"][0];
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let col = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    let rows = series["values"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for row in rows {
        let ts = row[col("time")].as_i64().unwrap();
        let (id, cpu, n, ok, note) = &expected[&ts];
        assert_eq!(row[col("device")].as_str().unwrap(), id);
        assert_eq!(row[col("hall")].as_str().unwrap(), "大厅 1");
        assert_eq!(row[col("location")].as_str().unwrap(), "一楼 东区, \"A\"");
        assert_eq!(row[col("cpu_pct")].as_f64().unwrap(), *cpu);
        assert_eq!(row[col("n")].as_i64().unwrap(), *n);
        assert_eq!(row[col("ok")].as_bool().unwrap(), *ok);
        assert_eq!(row[col("note")].as_str().unwrap(), note);
    }
    let stats = sink.stats();
    assert_eq!(
        (
            stats.points_invalid,
            stats.points_dropped,
            stats.points_quarantined
        ),
        (1, 0, 0)
    );
    shutdown.cancel();
    sink.stopped().await;
}

#[tokio::test]
async fn v2_api_writes_to_victoria_metrics_with_exact_labels() {
    let server = Server::victoria();
    server.ready().await;
    let data = tempfile::tempdir().unwrap();
    let mut config = InfluxConfig::new(&server.url, InfluxApi::V2);
    (config.org, config.bucket, config.token) = (
        Some("hall".into()),
        Some("metrics".into()),
        Some("t".into()),
    );
    config.flush_interval_ms = 100;
    let shutdown = CancellationToken::new();
    let sink = InfluxSink::start(&config, "h1", data.path(), shutdown.clone()).unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let ids = awkward_ids();
    for (i, id) in ids.iter().enumerate() {
        let ts = (now_ms - 60_000 + i as i64) * 1_000_000;
        sink.send(
            Point::at_ns("queue", ts)
                .tag("device", *id)
                .field("waiting", i as f64)
                .field("served", i as u64),
        )
        .unwrap();
    }
    wait_for("points written", || async {
        sink.stats().points_written == ids.len() as u64
    })
    .await;

    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let exported = loop {
        let text = http
            .get(format!("{}/api/v1/export", server.url))
            .query(&[("match[]", r#"{__name__="queue_waiting"}"#)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut exported: BTreeMap<String, f64> = BTreeMap::new();
        for line in text.lines() {
            let series: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(series["metric"]["hall"], "h1");
            let device = series["metric"]["device"].as_str().unwrap().to_owned();
            exported.insert(device, series["values"][0].as_f64().unwrap());
        }
        if exported.len() == ids.len() {
            break exported;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the export: {exported:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(exported[*id], i as f64, "device {id:?}");
    }
    shutdown.cancel();
    sink.stopped().await;
}

#[tokio::test]
async fn a_poison_line_is_quarantined_and_the_rest_lands() {
    let server = influxd_with_database().await;
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let sink = InfluxSink::start(&v1_config(&server), "h1", data.path(), shutdown.clone()).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    sink.send(Point::at_ns("poison", t0).field("v", 1.0))
        .unwrap();
    wait_for("the float field to exist", || async {
        sink.stats().points_written == 1
    })
    .await;
    for i in 1..=5000i64 {
        let point = Point::at_ns("poison", t0 + i);
        let point = if i == 2500 {
            point.field("v", "not a number")
        } else {
            point.field("v", i as f64)
        };
        sink.send(point).unwrap();
    }
    wait_for("the batch to be settled", || async {
        let s = sink.stats();
        s.points_written + s.points_quarantined == 5001
    })
    .await;
    let stats = sink.stats();
    assert_eq!(
        (
            stats.points_written,
            stats.points_quarantined,
            stats.points_dropped
        ),
        (5000, 1, 0)
    );
    assert_eq!(count(&server, "poison").await, 5000);
    let quarantine = std::fs::read_to_string(data.path().join(quarantine::FILE_NAME)).unwrap();
    let entries: Vec<serde_json::Value> = quarantine
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]["line"]
            .as_str()
            .unwrap()
            .contains("not a number")
    );
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap()
            .contains("field type conflict"),
        "{}",
        entries[0]["reason"]
    );
    // Bisection of 5000 lines to one takes about 2·log2(5000) requests, not thousands, and no retry.
    assert!(
        stats.write_requests < 40,
        "{} requests",
        stats.write_requests
    );
    assert_eq!(stats.retries, 0);
    shutdown.cancel();
    sink.stopped().await;
}

const N_OUTAGE: i64 = 100_000;
const T_OUTAGE: i64 = 1_700_000_000_000_000_000;

fn outage_point(i: i64) -> Point {
    Point::at_ns("outage", T_OUTAGE + i * 1000)
        .tag("block", (i / 10_000).to_string())
        .field("v", i as f64)
}

#[tokio::test]
async fn a_server_outage_loses_nothing() {
    let mut server = influxd_with_database().await;
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let sink = InfluxSink::start(&v1_config(&server), "h1", data.path(), shutdown.clone()).unwrap();
    for i in 0..N_OUTAGE / 2 {
        sink.send_async(outage_point(i)).await.unwrap();
    }
    wait_for("some points written", || async {
        sink.stats().points_written >= 10_000
    })
    .await;
    server.kill();
    for i in N_OUTAGE / 2..N_OUTAGE {
        sink.send_async(outage_point(i)).await.unwrap();
    }
    wait_for("everything written or spooled", || async {
        let s = sink.stats();
        s.lines_in_memory == 0 && s.points_written + s.spool_lines >= N_OUTAGE as u64
    })
    .await;
    assert!(
        sink.stats().spool_lines > 0,
        "the outage spooled nothing: {:?}",
        sink.stats()
    );
    server.start();
    server.ready().await;
    wait_for("the spool to drain", || async {
        sink.stats().spool_lines == 0
    })
    .await;
    let stats = sink.stats();
    assert_eq!(stats.points_dropped, 0);
    assert!(stats.retries > 0);
    assert_eq!(count(&server, "outage").await, N_OUTAGE as u64, "{stats:?}");
    shutdown.cancel();
    sink.stopped().await;
}

/// Runs in the child process: sends points `from..to` to the sink and reports its counters on stdout until
/// killed.
async fn child_main(url: &str, data_dir: &Path, from: i64, to: i64) {
    let mut config = InfluxConfig::new(url, InfluxApi::V1);
    config.database = Some("hall".into());
    config.request_timeout_secs = 2;
    config.max_retry_secs = 1;
    config.flush_interval_ms = 100;
    let sink = InfluxSink::start(&config, "h1", data_dir, CancellationToken::new()).unwrap();
    for i in from..to {
        sink.send_async(outage_point(i)).await.unwrap();
    }
    loop {
        let s = sink.stats();
        println!(
            "stats written={} spooled={} memory={} spool_lines={}",
            s.points_written, s.points_spooled, s.lines_in_memory, s.spool_lines
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_child(
    url: &str,
    data_dir: &Path,
    from: i64,
    to: i64,
) -> (Child, std::sync::mpsc::Receiver<BTreeMap<String, u64>>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sinks::influxdb::integration_tests::a_killed_sink_loses_nothing_spooled",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{url}|{}|{from}|{to}", data_dir.display()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("stats ") {
                let map = rest
                    .split(' ')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
                    .collect();
                if tx.send(map).is_err() {
                    break;
                }
            }
        }
    });
    (child, rx)
}

async fn next_stats(
    rx: &std::sync::mpsc::Receiver<BTreeMap<String, u64>>,
    what: &str,
    check: impl Fn(&BTreeMap<String, u64>) -> bool,
) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let stats = tokio::task::block_in_place(|| rx.recv_timeout(left))
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
        if check(&stats) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sink_loses_nothing_spooled() {
    if let Ok(args) = std::env::var(CHILD_ENV) {
        let parts: Vec<&str> = args.split('|').collect();
        child_main(
            parts[0],
            Path::new(parts[1]),
            parts[2].parse().unwrap(),
            parts[3].parse().unwrap(),
        )
        .await;
        return;
    }
    let mut server = influxd_with_database().await;
    let data = tempfile::tempdir().unwrap();
    // First run: half the points while the server is up, then an outage, then the rest, then kill -9.
    let (mut child, rx) = spawn_child(&server.url, data.path(), 0, N_OUTAGE / 2);
    next_stats(&rx, "first half written", |s| {
        s["written"] >= (N_OUTAGE / 2) as u64
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    server.kill();
    let (mut child, rx) = spawn_child(&server.url, data.path(), N_OUTAGE / 2, N_OUTAGE);
    next_stats(&rx, "second half spooled", |s| {
        s["memory"] == 0 && s["spool_lines"] >= (N_OUTAGE / 2) as u64
    })
    .await;
    child.kill().unwrap(); // SIGKILL during the outage
    child.wait().unwrap();
    // Second run with the server back and nothing new to send: the leftover spool is drained.
    server.start();
    server.ready().await;
    let (mut child, rx) = spawn_child(&server.url, data.path(), 0, 0);
    next_stats(&rx, "leftover spool drained", |s| {
        s["spool_lines"] == 0 && s["written"] >= (N_OUTAGE / 2) as u64
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(count(&server, "outage").await, N_OUTAGE as u64);
}

/// A config pointing at a loopback port nobody listens on: every write is refused, as in an outage.
fn unreachable_config(policy: hall_protocol::config::SpoolFullPolicy) -> InfluxConfig {
    let mut config = InfluxConfig::new(format!("http://127.0.0.1:{}", free_port()), InfluxApi::V1);
    config.database = Some("hall".into());
    config.max_batch_lines = 100;
    config.flush_interval_ms = 20;
    config.max_retry_secs = 1;
    config.spool_max_bytes = 64 * 1024;
    config.spool_segment_bytes = 8 * 1024;
    config.spool_full_policy = policy;
    config
}

#[tokio::test]
async fn a_full_spool_drops_the_oldest_and_counts_every_line() {
    use hall_protocol::config::SpoolFullPolicy;
    let config = unreachable_config(SpoolFullPolicy::DropOldest);
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let sink = InfluxSink::start(&config, "h1", data.path(), shutdown.clone()).unwrap();
    let n = 20_000u64;
    for i in 0..n as i64 {
        sink.send_async(outage_point(i)).await.unwrap();
    }
    wait_for("every line spooled or dropped", || async {
        let s = sink.stats();
        s.lines_in_memory == 0 && s.spool_lines + s.points_dropped == n
    })
    .await;
    let stats = sink.stats();
    assert!(stats.points_dropped > 0, "{stats:?}");
    assert!(stats.spool_bytes <= config.spool_max_bytes, "{stats:?}");
    assert_eq!(stats.points_written, 0);
    shutdown.cancel();
    sink.stopped().await;
}

#[tokio::test]
async fn a_full_spool_under_block_pushes_back_on_the_sender() {
    use hall_protocol::config::SpoolFullPolicy;
    let mut config = unreachable_config(SpoolFullPolicy::Block);
    config.queue_lines = 1000;
    let data = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let sink = InfluxSink::start(&config, "h1", data.path(), shutdown.clone()).unwrap();
    let mut refused = 0u64;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    // Keep sending until the queue refuses points while the spool is full: the worker stopped taking lines.
    for i in 0.. {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue never refused: {:?}",
            sink.stats()
        );
        match sink.send(outage_point(i)) {
            Ok(()) => tokio::task::yield_now().await,
            Err(SendError::QueueFull) => {
                refused += 1;
                if sink.stats().spool_bytes > config.spool_max_bytes / 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("unexpected {error}"),
        }
    }
    let stats = sink.stats();
    assert_eq!(stats.points_dropped, 0, "block never drops: {stats:?}");
    assert!(stats.spool_bytes <= config.spool_max_bytes);
    assert_eq!(stats.points_invalid, refused);
    // The async variant waits instead of failing.
    let waiting = tokio::time::timeout(
        Duration::from_millis(200),
        sink.send_async(outage_point(-1)),
    )
    .await;
    assert!(
        waiting.is_err(),
        "send_async should wait while the spool is full"
    );
    shutdown.cancel();
    sink.stopped().await;
}
