//! The embedded MQTT broker (rumqttd), so a hall can run with nothing else installed.
//!
//! rumqttd's `start` blocks, so the broker gets its own thread; it has no shutdown API and lives as long as the
//! process. Production points the gateway at Mosquitto or EMQX instead (`[broker] embedded = false`).

use std::collections::HashMap;
use std::net::SocketAddr;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Starts the broker on `listen` in a thread of its own.
pub fn start(listen: SocketAddr, max_payload_bytes: usize) -> anyhow::Result<()> {
    // Fail early and clearly if the port is taken; rumqttd would only log it from its thread.
    drop(
        std::net::TcpListener::bind(listen)
            .map_err(|e| anyhow::anyhow!("embedded broker cannot listen on {listen}: {e}"))?,
    );
    let server = ServerSettings {
        name: "v4-1".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: max_payload_bytes,
            max_inflight_count: 500,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    };
    let mut broker = Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(error) = broker.start() {
                tracing::error!(%error, "embedded broker stopped");
            }
        })?;
    tracing::info!(%listen, "embedded MQTT broker started");
    Ok(())
}
