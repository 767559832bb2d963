//! `cargo xtask demo`: the whole system on one machine — the gateway with its embedded broker and SQLite, the
//! simulated hall, and the dashboard — on one shared virtual clock, so the demo shows a working day whatever the
//! real time is.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chrono::{Datelike, FixedOffset, NaiveTime, TimeZone, Utc, Weekday};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Hall time at which the demo day starts (HH:MM, hall time zone UTC+8).
    #[arg(long, default_value = "08:00")]
    start: String,
    /// How many times faster than real time the day runs.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    /// Run on the real clock instead of a virtual working day.
    #[arg(long)]
    real_clock: bool,
    /// Hall config file.
    #[arg(long, default_value = "config/hall.example.toml")]
    config: String,
}

/// Kills the children when the demo ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for child in self.0.iter_mut().rev() {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run(root: &Path, args: DemoArgs) -> anyhow::Result<()> {
    let dashboard = crate::dashboard::build(root, true)?;
    crate::cargo(
        root,
        &["build", "-p", "hall-gateway", "-p", "hall-agents", "--bins"],
    )?;
    let bin = crate::target_dir(root).join("debug");

    let mut clock_args: Vec<String> = Vec::new();
    if !args.real_clock {
        let start = demo_start(&args.start)?;
        let anchor = Utc::now().timestamp_millis();
        clock_args = vec![
            "--clock-start".into(),
            start,
            "--clock-speed".into(),
            args.speed.to_string(),
            "--clock-anchor-unix-ms".into(),
            anchor.to_string(),
        ];
    }

    let mut children = Children(Vec::new());
    let gateway = Command::new(bin.join("hall-gateway"))
        .current_dir(root)
        .args(["run", "--config", &args.config, "--dashboard-dir"])
        .arg(&dashboard)
        .args(&clock_args)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting hall-gateway: {e}"))?;
    children.0.push(gateway);
    wait_healthy("127.0.0.1:8080", &mut children.0[0])?;
    let mut sim_clock = clock_args.clone();
    if let Some(i) = sim_clock.iter().position(|a| a == "--clock-speed") {
        sim_clock[i] = "--speed".into();
    }
    let sim = Command::new(bin.join("hall-sim"))
        .current_dir(root)
        .args([
            "--config",
            &args.config,
            "--gateway",
            "http://127.0.0.1:8080",
        ])
        .args(&sim_clock)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting hall-sim: {e}"))?;
    children.0.push(sim);

    println!();
    println!("  HallWatch demo is running: http://127.0.0.1:8080");
    println!("    wall display  http://127.0.0.1:8080/wall");
    println!("    duty leader   http://127.0.0.1:8080/duty");
    println!("    IT centre     http://127.0.0.1:8080/it");
    println!("  Ctrl-C stops it.");
    println!();

    loop {
        std::thread::sleep(Duration::from_millis(500));
        for child in children.0.iter_mut() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("a demo process exited ({status}); see its log above");
            }
        }
    }
}

/// The demo day's start: today at `hhmm` in the hall's zone (UTC+8), moved back to Friday on a weekend.
fn demo_start(hhmm: &str) -> anyhow::Result<String> {
    let tz = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let time = NaiveTime::parse_from_str(hhmm, "%H:%M")
        .map_err(|_| anyhow::anyhow!("--start must be HH:MM, got {hhmm:?}"))?;
    let mut date = Utc::now().with_timezone(&tz).date_naive();
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date = date.pred_opt().unwrap_or(date);
    }
    let start = tz
        .from_local_datetime(&date.and_time(time))
        .single()
        .ok_or_else(|| anyhow::anyhow!("no such local time {date} {time}"))?;
    Ok(start.to_rfc3339())
}

/// Waits until the gateway answers `/healthz`, or fails if it exits first.
fn wait_healthy(addr: &str, gateway: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = gateway.try_wait()? {
            anyhow::bail!("hall-gateway exited during startup ({status}); see its log above");
        }
        if http_get_ok(addr, "/healthz") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("hall-gateway did not answer on {addr} within 30 s")
}

fn http_get_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}
