//! HallWatch's programs that stand in for devices: `hall-agent`, the small agent that runs on each kiosk and window
//! PC, and `hall-sim`, which plays a whole hall (every configured device, staff presence, faults) over real MQTT for
//! demos, tests and load generation.
//!
//! Both speak only the wire types of `hall-protocol`. The binaries in `src/bin/` are thin: they parse flags, set up
//! logging and call [`agent::run`] or [`sim::run`].

pub mod agent;
pub mod link;
pub mod shutdown;
pub mod sim;

/// Sets up `tracing` to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
