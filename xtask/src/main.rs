//! `cargo xtask`: the project's front door. `demo` runs the whole system on one machine, `test` runs every test
//! with the real components they need, `bench` measures throughput.

mod bench;
mod dashboard;
mod demo;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "HallWatch development tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the dashboard and run the gateway (embedded broker) with a simulated hall at http://127.0.0.1:8080.
    Demo(demo::DemoArgs),
    /// Run every test, installing and starting what they need (Mosquitto, Chromium, InfluxDB, VictoriaMetrics).
    Test {
        /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Measure points per second through MQTT, the gateway and its InfluxDB sink into VictoriaMetrics.
    Bench(bench::BenchArgs),
    /// Build the dashboard only (into target/dashboard).
    Dashboard {
        /// Build without size optimisation (faster).
        #[arg(long)]
        dev: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Task::Demo(args) => demo::run(&root, args),
        Task::Test { args } => test(&root, &args),
        Task::Bench(args) => bench::run(&root, args),
        Task::Dashboard { dev } => dashboard::build(&root, !dev)
            .map(|dir| println!("dashboard built in {}", dir.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts host binaries: `CARGO_TARGET_DIR` when set (relative to the workspace root), else `target/`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Runs `cargo` from PATH (not the `CARGO` of this process: see ARCHITECTURE.md on toolchain files).
fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new("cargo")
        .args(args)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(
        status.success(),
        "cargo {} failed with {status}",
        args.join(" ")
    );
    Ok(())
}

fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    tools::ensure(tools::TEST_TOOLS)?;
    let dashboard = dashboard::build(root, true)?;
    // The end-to-end tests run the real binaries; build them first so the tests find them next to themselves.
    cargo(
        root,
        &[
            "build",
            "--workspace",
            "--exclude",
            "hall-dashboard",
            "--bins",
        ],
    )?;
    let mut args: Vec<&str> = vec!["test", "--workspace", "--exclude", "hall-dashboard"];
    if !extra.is_empty() {
        args.push("--");
        args.extend(extra.iter().map(String::as_str));
    }
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new("cargo")
        .args(&args)
        .current_dir(root)
        .env("HALLWATCH_DASHBOARD_DIR", &dashboard)
        .env("HALLWATCH_SCREENSHOT_DIR", root.join("target/screenshots"))
        .status()?;
    anyhow::ensure!(status.success(), "tests failed ({status})");
    Ok(())
}
