//! `hall-sim --config FILE [--broker HOST:PORT] [--speed N] [--clock-anchor-unix-ms MS --clock-start RFC3339]`:
//! simulates every device of a hall over MQTT. See `hall_agents::sim`.

use clap::Parser;
use hall_agents::sim::SimArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = SimArgs::parse();
    hall_agents::init_tracing();
    hall_agents::sim::main_with_args(args).await
}
