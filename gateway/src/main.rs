//! `hall-gateway`: flags, logging and config; everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hall_gateway::clock::{Clock, SystemClock, VirtualClock, unix_ms_now};
use hall_gateway::config::{self, ConfigError};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "hall-gateway",
    version,
    about = "HallWatch gateway: live state, rules and alerts of a service hall"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run(RunArgs),
    /// Check a hall config file and print every problem with its path.
    CheckConfig {
        /// The hall config file.
        file: PathBuf,
    },
    /// Feed recorded messages (JSON lines) through the hall model on a virtual clock; print changes and alerts.
    Replay {
        /// The hall config file.
        #[arg(long)]
        config: PathBuf,
        /// The recording: one `{"at", "topic", "payload"}` object per line.
        #[arg(long)]
        events: PathBuf,
        /// What to print.
        #[arg(long, value_enum, default_value = "all")]
        output: hall_gateway::replay::ReplayOutput,
        /// Seconds after the first message during which no alert is raised (as after a gateway start).
        #[arg(long, default_value_t = 0)]
        grace_secs: u64,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The hall config file.
    #[arg(long, default_value = "config/hall.example.toml")]
    config: PathBuf,
    /// Listen address for the API and dashboard; overrides `[http] listen`.
    #[arg(long)]
    listen: Option<String>,
    /// Broker port; overrides `[broker] port` (for the embedded broker too).
    #[arg(long)]
    broker_port: Option<u16>,
    /// Data directory; overrides `[data] dir`.
    #[arg(long)]
    data_dir: Option<String>,
    /// Folder of the built dashboard; overrides `[http] dashboard_dir`.
    #[arg(long)]
    dashboard_dir: Option<PathBuf>,
    /// Run on a virtual clock starting at this hall time (RFC 3339), for demos.
    #[arg(long)]
    clock_start: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Speed of the virtual clock (hall seconds per real second).
    #[arg(long, default_value_t = 1.0)]
    clock_speed: f64,
    /// Real Unix time (ms) at which the virtual clock reads `--clock-start`; share it with hall-sim.
    #[arg(long)]
    clock_anchor_unix_ms: Option<i64>,
    /// Append every ingested message to this file, in the format `replay` reads.
    #[arg(long)]
    record: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Replay {
            config,
            events,
            output,
            grace_secs,
        } => match replay(&config, &events, output, grace_secs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("hall-gateway replay: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Run(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("hall-gateway: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // rumqttd logs every normal client disconnect at ERROR; only its warnings about itself matter here.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=off"));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load(file) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} devices, {} windows, {} staff)",
                file.display(),
                cfg.raw.devices.len(),
                cfg.raw.windows.len(),
                cfg.raw.staff.len()
            );
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { path, problems }) => {
            for p in &problems {
                println!("{path}: {p}");
            }
            println!("{path}: {} problem(s)", problems.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn replay(
    config: &std::path::Path,
    events: &std::path::Path,
    output: hall_gateway::replay::ReplayOutput,
    grace_secs: u64,
) -> anyhow::Result<()> {
    let cfg = config::load(config)?;
    let file =
        std::fs::File::open(events).with_context(|| format!("opening {}", events.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stats = hall_gateway::replay::replay(
        &cfg,
        std::io::BufReader::new(file),
        output,
        std::time::Duration::from_secs(grace_secs),
        &mut out,
        &mut std::io::stderr(),
    )?;
    std::io::Write::flush(&mut out)?;
    eprintln!(
        "replayed {} messages ({} rejected, {} bad lines)",
        stats.messages, stats.rejected, stats.bad_lines
    );
    anyhow::ensure!(
        stats.bad_lines == 0,
        "{} lines of {} are not records",
        stats.bad_lines,
        events.display()
    );
    Ok(())
}

#[tokio::main]
async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut cfg = config::load(&args.config)?;
    if let Some(listen) = args.listen {
        cfg.raw.http.listen = listen;
    }
    if let Some(port) = args.broker_port {
        cfg.raw.broker.port = port;
    }
    if let Some(dir) = args.data_dir {
        cfg.raw.data.dir = dir;
    }
    let dashboard_dir = args
        .dashboard_dir
        .unwrap_or_else(|| PathBuf::from(&cfg.raw.http.dashboard_dir));
    let clock: Arc<dyn Clock> = match args.clock_start {
        Some(start) => {
            let anchor = args.clock_anchor_unix_ms.unwrap_or_else(unix_ms_now);
            tracing::info!(%start, speed = args.clock_speed, anchor, "running on a virtual clock");
            Arc::new(VirtualClock::new(anchor, start.to_utc(), args.clock_speed))
        }
        None => Arc::new(SystemClock::new()),
    };
    let http = tokio::net::TcpListener::bind(&cfg.raw.http.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.raw.http.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    hall_gateway::run(
        cfg,
        hall_gateway::RunOptions {
            http,
            clock,
            dashboard_dir,
            record: args.record,
        },
        shutdown,
    )
    .await
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("stopping");
    shutdown.cancel();
}
