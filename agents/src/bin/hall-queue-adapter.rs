//! `hall-queue-adapter --listen ADDR --broker HOST:PORT --hall-id ID --dispenser-id ID`: translates a queue
//! system's line feed into HallWatch ticket events. The feed format is in `hall_agents::adapter` and
//! agents/README.md.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

/// HallWatch queue-system adapter: vendor ticket feed over TCP → MQTT ticket events.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address the feed is served on.
    #[arg(long, default_value = "127.0.0.1:7010", value_name = "ADDR")]
    listen: String,
    /// MQTT broker `host:port`.
    #[arg(long, default_value = "127.0.0.1:1883", value_name = "HOST:PORT")]
    broker: String,
    /// MQTT username; the password comes from the HALLWATCH_MQTT_PASSWORD environment variable.
    #[arg(long)]
    username: Option<String>,
    /// Hall id; topics go under `hall/{hall_id}` unless --topic-prefix says otherwise.
    #[arg(long)]
    hall_id: String,
    /// MQTT topic prefix.
    #[arg(long)]
    topic_prefix: Option<String>,
    /// The queue_dispenser device id (from the hall config) the events belong to.
    #[arg(long)]
    dispenser_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hall_agents::init_tracing();
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .with_context(|| format!("--broker: expected HOST:PORT, got {:?}", args.broker))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--broker: bad port in {:?}", args.broker))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen: cannot bind {}", args.listen))?;
    let config = hall_agents::adapter::AdapterConfig {
        broker_host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        broker_port: port,
        username: args.username,
        password: std::env::var(hall_agents::agent::config::PASSWORD_ENV).ok(),
        topic_prefix: args
            .topic_prefix
            .unwrap_or_else(|| hall_protocol::topic::default_prefix(&args.hall_id)),
        dispenser_id: args.dispenser_id,
    };
    let counters = Arc::new(hall_agents::adapter::Counters::default());
    hall_agents::adapter::run(listener, config, counters, hall_agents::shutdown::signal()).await
}
