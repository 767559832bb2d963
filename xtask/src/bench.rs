//! `cargo xtask bench`: heartbeats per second through the whole metrics pipeline (MQTT → hall-gateway → InfluxDB
//! sink → an InfluxDB-compatible server), beside what a plain subscriber gets from the same broker in the same run.
//!
//! Everything is a real process on loopback: the release `hall-gateway` with its embedded broker, VictoriaMetrics
//! (Debian's `victoria-metrics`, which accepts InfluxDB's `/api/v2/write`) and `hall-load` as the devices.
//!
//! 1. **Baseline**: `hall-load --subscribe` publishes M heartbeats under a hall id the gateway does not subscribe
//!    to, and a plain rumqttc subscriber in it counts them: broker throughput with nothing else at work.
//! 2. **Pipeline**: the same load under the gateway's hall id. The pipeline is done when the gateway has applied
//!    all M heartbeats and its sink holds nothing more (everything written, or counted as lost); the points are
//!    then counted in VictoriaMetrics (samples of `device_heartbeat_seq`), which must hold all M.
//!
//! Both rates run from the first publish to the last message received / point acknowledged.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::tools;

/// The hall id the gateway runs under; the baseline publishes under another one.
const HALL_ID: &str = "bench";
const BASELINE_HALL_ID: &str = "bench-baseline";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Devices in the benchmark hall.
    #[arg(long, default_value_t = 2000)]
    devices: u64,
    /// Heartbeats published in each phase.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// MQTT connections the load is spread over.
    #[arg(long, default_value_t = 4)]
    connections: u64,
    /// Longest wait for the pipeline to deliver every point, in seconds.
    #[arg(long, default_value_t = 90)]
    timeout_secs: u64,
}

pub fn run(root: &Path, args: BenchArgs) -> anyhow::Result<()> {
    if !tools::have("victoria-metrics") {
        tools::ensure(&[tools::Tool {
            program: "victoria-metrics",
            package: "victoria-metrics",
            why: "InfluxDB v2 write API for the benchmark",
        }])?;
    }
    crate::cargo(
        root,
        &[
            "build",
            "--release",
            "-p",
            "hall-gateway",
            "-p",
            "hall-agents",
            "--bin",
            "hall-gateway",
            "--bin",
            "hall-load",
        ],
    )?;
    let bin = crate::target_dir(root).join("release");
    let dir = TempDir::new()?;
    let vm_binary = tools::which("victoria-metrics").context("victoria-metrics is not on PATH")?;

    let vm_port = free_port()?;
    let vm_addr = format!("127.0.0.1:{vm_port}");
    let _vm = Proc::spawn(
        "victoria-metrics",
        Command::new(vm_binary)
            .arg(format!("-httpListenAddr={vm_addr}"))
            .arg(format!(
                "-storageDataPath={}",
                dir.path.join("vm").display()
            ))
            .arg("-search.latencyOffset=1s")
            .arg("-search.disableCache")
            .arg("-loggerLevel=WARN"),
        &dir.path.join("victoria-metrics.log"),
    )?;
    wait_for("VictoriaMetrics", Duration::from_secs(20), || {
        Ok(http_get(&vm_addr, "/health").is_ok_and(|(status, _)| status == 200))
    })?;

    let broker_port = free_port()?;
    let http_port = free_port()?;
    let http_addr = format!("127.0.0.1:{http_port}");
    let config = dir.path.join("hall.toml");
    std::fs::write(
        &config,
        hall_config(
            args.devices,
            broker_port,
            &http_addr,
            &vm_addr,
            &dir.path.join("data"),
        ),
    )?;
    let gateway = Proc::spawn(
        "hall-gateway",
        Command::new(bin.join("hall-gateway"))
            .args(["run", "--config"])
            .arg(&config)
            .arg("--dashboard-dir")
            .arg(dir.path.join("no-dashboard"))
            .env("RUST_LOG", "warn,rumqttd=off"),
        &dir.path.join("gateway.log"),
    )?;
    wait_for("hall-gateway", Duration::from_secs(20), || {
        Ok(
            http_get(&http_addr, "/healthz").is_ok_and(|(status, _)| status == 200)
                && TcpStream::connect(("127.0.0.1", broker_port)).is_ok(),
        )
    })?;

    let broker = format!("127.0.0.1:{broker_port}");
    let load = |hall_id: &str, subscribe: bool| -> anyhow::Result<LoadReport> {
        let mut cmd = Command::new(bin.join("hall-load"));
        cmd.args(["--broker", &broker, "--hall-id", hall_id])
            .args(["--devices", &args.devices.to_string()])
            .args(["--messages", &args.messages.to_string()])
            .args(["--connections", &args.connections.to_string()])
            .args(["--timeout-secs", &args.timeout_secs.to_string()])
            .env("RUST_LOG", "warn");
        if subscribe {
            cmd.arg("--subscribe");
        }
        eprintln!(
            "xtask: hall-load --hall-id {hall_id} --devices {} --messages {} --connections {}{}",
            args.devices,
            args.messages,
            args.connections,
            if subscribe { " --subscribe" } else { "" }
        );
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .context("running hall-load")?;
        anyhow::ensure!(out.status.success(), "hall-load failed with {}", out.status);
        LoadReport::parse(&String::from_utf8_lossy(&out.stdout))
    };

    // 1. Baseline: the broker and a plain subscriber.
    let baseline = load(BASELINE_HALL_ID, true)?;
    anyhow::ensure!(
        baseline.received == args.messages,
        "the baseline subscriber got {} of {} messages",
        baseline.received,
        args.messages
    );
    let baseline_rate = args.messages as f64 / baseline.receive_secs;

    // 2. Pipeline: the same load into the gateway, until its sink has handed everything on.
    let before = Metrics::fetch(&http_addr)?;
    let pipeline = load(HALL_ID, false)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let (after, end_unix_ms) = loop {
        let m = Metrics::fetch(&http_addr)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let applied = m.get("messages_applied_total") - before.get("messages_applied_total");
        let rejected = m.get("messages_rejected_total") - before.get("messages_rejected_total");
        if applied + rejected >= args.messages as f64
            && m.get("lines_in_memory") == 0.0
            && m.get("spool_lines") == 0.0
        {
            break (m, now_ms);
        }
        if Instant::now() > deadline {
            bail!(
                "the pipeline did not finish within {} s: applied {applied}, rejected {rejected}, in memory {}, \
                 spooled {}; see {}",
                args.timeout_secs,
                m.get("lines_in_memory"),
                m.get("spool_lines"),
                dir.path.join("gateway.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let pipeline_secs = (end_unix_ms - pipeline.start_unix_ms) as f64 / 1000.0;
    // Written points are searchable after VictoriaMetrics' next in-memory flush (about a second).
    let mut landed = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        landed = count_samples(&vm_addr, "device_heartbeat_seq")?;
        if landed >= args.messages {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let pipeline_rate = landed.min(args.messages) as f64 / pipeline_secs;
    let peak_rss_kib = vm_hwm_kib(gateway.child.id())?;
    let delta = |name: &str| after.get(name) - before.get(name);

    println!();
    println!(
        "HallWatch bench: {} heartbeats, {} devices, {} QoS 1 connections, embedded broker, VictoriaMetrics",
        args.messages, args.devices, args.connections
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| baseline: plain subscriber | {:.0} msgs/s ({} msgs in {:.2} s) |",
        baseline_rate, baseline.received, baseline.receive_secs
    );
    println!(
        "| pipeline: points landed in VictoriaMetrics | {:.0} points/s ({} points in {:.2} s) |",
        pipeline_rate, landed, pipeline_secs
    );
    println!(
        "| pipeline / baseline | {:.2} |",
        pipeline_rate / baseline_rate
    );
    println!(
        "| publishing alone (pipeline phase) | {:.0} msgs/s |",
        args.messages as f64 / pipeline.publish_secs
    );
    println!(
        "| gateway peak RSS (VmHWM) | {:.1} MiB |",
        peak_rss_kib as f64 / 1024.0
    );
    println!();
    println!("gateway /metrics after the run (this phase):");
    for name in [
        "messages_applied_total",
        "messages_rejected_total",
        "points_accepted_total",
        "points_written_total",
        "points_invalid_total",
        "points_spooled_total",
        "points_dropped_total",
        "points_quarantined_total",
        "write_requests_total",
        "retries_total",
    ] {
        println!("  {name:<26} {}", delta(name));
    }
    anyhow::ensure!(
        landed == args.messages,
        "VictoriaMetrics holds {landed} heartbeat points, expected {}",
        args.messages
    );
    Ok(())
}

/// A hall of `n_devices` devices named as `hall-load` names them, with a heartbeat interval long enough that none
/// goes offline during the run, and `[influxdb]` pointing at VictoriaMetrics.
fn hall_config(
    n_devices: u64,
    broker_port: u16,
    http_addr: &str,
    vm_addr: &str,
    data: &Path,
) -> String {
    let mut cfg = format!(
        r#"[hall]
id = "{HALL_ID}"
name = "bench"

[broker]
embedded = true
host = "127.0.0.1"
port = {broker_port}
client_id = "hall-gateway-bench"

[http]
listen = "{http_addr}"

[data]
dir = "{}"

[ingest]
queue_len = 16384

[influxdb]
url = "http://{vm_addr}"
api = "v2"
org = "bench"
bucket = "bench"
token = "bench"
"#,
        data.display()
    );
    for i in 0..n_devices {
        cfg.push_str(&format!(
            "\n[[devices]]\nid = \"load-{i:05}\"\nkind = \"wifi_ap\"\nlocation = \"bench\"\nheartbeat_interval_secs = 3600\n"
        ));
    }
    cfg
}

/// What `hall-load` prints: one JSON object.
struct LoadReport {
    start_unix_ms: i64,
    publish_secs: f64,
    received: u64,
    receive_secs: f64,
}

impl LoadReport {
    fn parse(stdout: &str) -> anyhow::Result<LoadReport> {
        let line = stdout.lines().last().unwrap_or_default();
        let num = |key: &str| -> anyhow::Result<f64> {
            json_number(line, key).with_context(|| format!("hall-load printed no `{key}`: {line}"))
        };
        Ok(LoadReport {
            start_unix_ms: num("start_unix_ms")? as i64,
            publish_secs: num("publish_secs")?,
            received: json_number(line, "received").unwrap_or(0.0) as u64,
            receive_secs: json_number(line, "receive_secs").unwrap_or(0.0),
        })
    }
}

/// The number after `"key":` in a flat JSON object (enough for hall-load's one line of numbers).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let rest = &json[json.find(&format!("\"{key}\":"))? + key.len() + 3..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// The gateway's `/metrics`, summed by metric name without the `hallwatch_…` prefix and labels.
struct Metrics(Vec<(String, f64)>);

impl Metrics {
    fn get_text(addr: &str) -> anyhow::Result<String> {
        let (status, body) = http_get(addr, "/metrics")?;
        anyhow::ensure!(status == 200, "GET /metrics answered {status}");
        Ok(body)
    }

    fn fetch(addr: &str) -> anyhow::Result<Metrics> {
        let body = Self::get_text(addr)?;
        let rows = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                let name = name.split('{').next()?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect();
        Ok(Metrics(rows))
    }

    /// The sum of every series whose name ends with `_{suffix}` (or is `suffix`).
    fn get(&self, suffix: &str) -> f64 {
        self.0
            .iter()
            .filter(|(n, _)| n == suffix || n.ends_with(&format!("_{suffix}")))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Samples of `metric` in VictoriaMetrics, counted from its export API (every raw sample, no query window).
fn count_samples(vm_addr: &str, metric: &str) -> anyhow::Result<u64> {
    let (status, body) = http_get(vm_addr, &format!("/api/v1/export?match[]={metric}&start=0"))?;
    anyhow::ensure!(
        status == 200,
        "VictoriaMetrics export answered {status}: {body}"
    );
    // One JSON object per series: {"metric":{...},"values":[...],"timestamps":[...]}.
    Ok(body
        .lines()
        .filter_map(|l| {
            let ts = &l[l.find("\"timestamps\":[")? + 14..];
            let ts = &ts[..ts.find(']')?];
            Some(if ts.is_empty() {
                0
            } else {
                ts.split(',').count() as u64
            })
        })
        .sum())
}

/// Peak resident set size of a process, from `/proc/PID/status`.
fn vm_hwm_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")
}

/// A plain HTTP/1.0 GET (the servers then close the connection and send no chunked bodies).
fn http_get(addr: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no HTTP status from {addr}{path}"))?;
    Ok((status, body.to_owned()))
}

fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not come up within {} s", timeout.as_secs())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process that is killed (by its own pid) when the benchmark ends, however it ends.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> anyhow::Result<Proc> {
        let file = std::fs::File::create(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Proc {
            name,
            child,
            log: log.to_owned(),
        })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!(
                "xtask: {} had exited ({status}); its log: {}",
                self.name,
                self.log.display()
            );
            if let Ok(log) = std::fs::read_to_string(&self.log) {
                eprintln!(
                    "{}",
                    log.lines()
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory removed at the end (kept when `HALLWATCH_BENCH_KEEP` is set, to read the logs).
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("hallwatch-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("HALLWATCH_BENCH_KEEP").is_some() {
            eprintln!("xtask: bench files kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
