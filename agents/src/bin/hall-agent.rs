//! `hall-agent --config FILE`: the HallWatch device agent. See `hall_agents::agent`.

use std::path::PathBuf;

use clap::Parser;

/// HallWatch device agent: status, heartbeats with host metrics, peripheral checks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Agent configuration file (TOML; see config/agent.example.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hall_agents::init_tracing();
    hall_agents::agent::main_with_config(&args.config).await
}
