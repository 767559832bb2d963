//! `hall-sim`: plays a whole hall over real MQTT. It reads the same hall configuration as the gateway and runs every
//! configured device as a simulated agent, driven by a pure [`script::Script`] on a virtual [`clock::SimClock`].

pub mod calendar;
pub mod clock;
pub mod mqtt;
pub mod plan;
pub mod queue;
pub mod script;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use hall_protocol::config::HallConfig;

use self::clock::SimClock;
use self::mqtt::{BrokerTarget, Fleet, FleetIds};
use self::script::Script;

/// Command line of `hall-sim`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "hall-sim",
    version,
    about = "Simulates a whole HallWatch hall over MQTT"
)]
pub struct SimArgs {
    /// Hall configuration file (TOML; see config/hall.example.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Broker address `host:port`; default the hall config's `[broker]` host and port.
    #[arg(long, value_name = "HOST:PORT")]
    pub broker: Option<String>,
    /// MQTT username; the password comes from the HALLWATCH_MQTT_PASSWORD environment variable.
    #[arg(long)]
    pub username: Option<String>,
    /// How many times faster than real time the simulated hall runs (heartbeat intervals shrink accordingly).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Real Unix time (ms) at which the simulated clock shows `--clock-start`; give both or neither.
    #[arg(long, value_name = "MS", requires = "clock_start")]
    pub clock_anchor_unix_ms: Option<i64>,
    /// Simulated time (RFC 3339) at `--clock-anchor-unix-ms`.
    #[arg(long, value_name = "RFC3339", requires = "clock_anchor_unix_ms")]
    pub clock_start: Option<DateTime<chrono::FixedOffset>>,
    /// Seed of the random script; the same seed and clock replay the same day.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Base URL of the gateway (`http://HOST:PORT`); when given, the simulated day's leave is registered there
    /// once at start (`POST /api/v1/leave`), as the duty leader would enter it.
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Bearer token for `--gateway`; default the HALLWATCH_API_TOKEN environment variable.
    #[arg(long, value_name = "TOKEN")]
    pub gateway_token: Option<String>,
    /// Above this many devices, all devices share one MQTT connection (no per-device last wills).
    #[arg(long, default_value_t = 200)]
    pub max_connections: usize,
}

/// Loads the hall config and runs the simulation until SIGTERM or Ctrl-C; the body of `hall-sim`.
pub async fn main_with_args(args: SimArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading hall config {}", args.config.display()))?;
    let hall: HallConfig = toml::from_str(&text)
        .with_context(|| format!("parsing hall config {}", args.config.display()))?;
    run(hall, args, crate::shutdown::signal()).await
}

/// Runs the simulation of `hall` until `shutdown` resolves, then publishes every device's clean offline.
pub async fn run(
    hall: HallConfig,
    args: SimArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.speed.is_finite() && args.speed > 0.0,
        "--speed: must be a positive number, got {}",
        args.speed
    );
    let tz: chrono_tz::Tz = hall.calendar.timezone.parse().map_err(|_| {
        anyhow::anyhow!(
            "calendar.timezone: unknown time zone {:?}",
            hall.calendar.timezone
        )
    })?;
    let clock = Arc::new(match (args.clock_anchor_unix_ms, args.clock_start) {
        (Some(anchor), Some(start)) => {
            SimClock::new(anchor, start.with_timezone(&Utc), args.speed, tz)
        }
        _ => SimClock::starting_now(args.speed, tz),
    });
    let broker = broker_target(&hall, &args)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut script = Script::new(&hall, seed)?;
    let per_device = script.n_devices() <= args.max_connections;
    tracing::info!(
        hall_id = %hall.hall.id,
        broker = %format!("{}:{}", broker.host, broker.port),
        n_devices = script.n_devices(),
        n_windows = hall.windows.len(),
        speed = args.speed,
        seed,
        sim_now = %clock.now().to_rfc3339(),
        connections = if per_device { "one per device" } else { "shared" },
        "hall-sim starting"
    );

    let device_ids = (0..script.n_devices())
        .map(|i| script.device_id(i).to_owned())
        .collect();
    let window_ids = (0..hall.windows.len())
        .map(|i| script.window_id(i).to_owned())
        .collect();
    if let Some(gateway) = &args.gateway {
        let token = args
            .gateway_token
            .clone()
            .or_else(|| std::env::var("HALLWATCH_API_TOKEN").ok());
        match script.leave(clock.now()) {
            Some(leave) => register_leave(gateway, token.as_deref(), &leave).await,
            None => tracing::info!("no leave to register: the hall has no window with a B post"),
        }
    }
    let dispenser_id = hall
        .devices
        .iter()
        .find(|d| d.kind == hall_protocol::config::DeviceKind::QueueDispenser)
        .map(|d| d.id.clone());
    if dispenser_id.is_none() {
        tracing::warn!("the hall has no queue_dispenser device; no tickets are simulated");
    }
    let mut fleet = Fleet::new(
        hall.topic_prefix(),
        broker,
        clock.clone(),
        FleetIds {
            device_ids,
            window_ids,
            dispenser_id,
        },
        per_device,
        &hall.hall.id,
    );

    // Tick often enough that the shortest heartbeat interval is honoured to within a quarter of itself.
    let min_interval = script
        .min_interval()
        .and_then(|d| d.to_std().ok())
        .unwrap_or(Duration::from_secs(10));
    let tick =
        (clock.real(min_interval) / 4).clamp(Duration::from_millis(5), Duration::from_millis(250));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {
                for action in script.step(clock.now()) {
                    fleet.apply(action);
                }
            }
        }
    }
    fleet.shutdown().await;
    Ok(())
}

/// The leave register entry the simulator posts (POST-5).
#[derive(Debug, serde::Serialize)]
struct LeaveRequest<'a> {
    staff_id: &'a str,
    kind: &'a str,
    start: String,
    end: String,
    approver: &'a str,
    substitute: &'a str,
    note: &'a str,
    created_by: &'a str,
}

/// Registers the simulated day's leave with the gateway. Never fatal: a gateway without the endpoint (404) or
/// out of reach only costs the leave entry, and says so.
async fn register_leave(gateway: &str, token: Option<&str>, leave: &self::plan::Leave) {
    let url = format!("{}/api/v1/leave", gateway.trim_end_matches('/'));
    let body = LeaveRequest {
        staff_id: &leave.staff_id,
        kind: "sick",
        start: leave.start.to_rfc3339(),
        end: leave.end.to_rfc3339(),
        approver: "科室负责人",
        substitute: &leave.substitute,
        note: "病假一天，B岗顶岗",
        created_by: "hall-sim",
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build();
    let client = match client {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(%error, "cannot build an HTTP client; leave not registered");
            return;
        }
    };
    let mut request = client.post(&url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(resp) if resp.status().is_success() => {
            tracing::info!(staff_id = %leave.staff_id, substitute = %leave.substitute, start = %body.start, end = %body.end, "leave registered with the gateway");
        }
        Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND => {
            tracing::warn!(%url, "the gateway has no leave register endpoint (404); leave not registered");
        }
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            tracing::warn!(%url, %status, body = %text.chars().take(300).collect::<String>(), "the gateway refused the leave entry");
        }
        Err(error) => {
            tracing::warn!(%url, %error, "cannot reach the gateway; leave not registered")
        }
    }
}

fn broker_target(hall: &HallConfig, args: &SimArgs) -> anyhow::Result<BrokerTarget> {
    let (host, port) = match &args.broker {
        Some(addr) => {
            let (host, port) = addr
                .rsplit_once(':')
                .with_context(|| format!("--broker: expected HOST:PORT, got {addr:?}"))?;
            let port: u16 = port
                .parse()
                .with_context(|| format!("--broker: bad port in {addr:?}"))?;
            (
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port,
            )
        }
        None => (hall.broker.host.clone(), hall.broker.port),
    };
    Ok(BrokerTarget {
        host,
        port,
        username: args.username.clone(),
        password: std::env::var(crate::agent::config::PASSWORD_ENV).ok(),
    })
}
