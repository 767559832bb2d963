//! The MQTT source: one rumqttc connection to the broker, subscribed to the hall's topics.
//!
//! It reconnects by itself with capped exponential backoff and subscribes again whenever the broker has no session
//! for it (a clean start or a lost session). Each message is stamped with the gateway's clock on receipt and handed
//! to the hub; when the hub is busy this task waits, and the broker holds the rest (QoS 1 with a persistent
//! session), so nothing acknowledged is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::hub::Inbound;
use crate::telemetry::Telemetry;

/// Settings of the MQTT source.
#[derive(Debug, Clone)]
pub struct MqttSourceConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub topic_prefix: String,
    pub max_backoff: Duration,
    /// Larger packets make the client drop the connection, so this is well above the ingest limit: oversized
    /// payloads are then refused one by one, with a count, instead of cutting the connection.
    pub max_packet_bytes: usize,
}

/// Runs the source until `shutdown`.
pub async fn run(
    cfg: MqttSourceConfig,
    clock: Arc<dyn Clock>,
    tx: mpsc::Sender<Inbound>,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) {
    let mut opts = MqttOptions::new(&cfg.client_id, &cfg.host, cfg.port);
    opts.set_keep_alive(Duration::from_secs(15));
    opts.set_clean_session(false);
    opts.set_max_packet_size(cfg.max_packet_bytes, cfg.max_packet_bytes);
    opts.set_inflight(100);
    if let Some(user) = &cfg.username {
        opts.set_credentials(user, cfg.password.clone().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 128);
    let filter = hall_protocol::topic::Topic::subscription(&cfg.topic_prefix);
    let min_backoff = Duration::from_millis(100);
    let mut backoff = min_backoff;
    let mut logged_down = false;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = eventloop.poll() => ev,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = min_backoff;
                logged_down = false;
                telemetry.broker_connected.store(true, Ordering::Relaxed);
                telemetry.broker_connects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(host = %cfg.host, port = cfg.port, session_present = ack.session_present, "connected to broker");
                if !ack.session_present {
                    // try_subscribe: this task is the one polling the event loop, so it must not wait on it.
                    if let Err(error) = client.try_subscribe(&filter, QoS::AtLeastOnce) {
                        tracing::error!(%error, filter, "subscribing failed; reconnecting");
                        let _ = client.try_disconnect();
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let msg = Inbound {
                    topic: p.topic,
                    payload: p.payload,
                    received: clock.now(),
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    sent = tx.send(msg) => if sent.is_err() { break },
                }
            }
            Ok(_) => {}
            Err(error) => {
                telemetry.broker_connected.store(false, Ordering::Relaxed);
                telemetry.broker_errors.fetch_add(1, Ordering::Relaxed);
                if !logged_down {
                    tracing::warn!(host = %cfg.host, port = cfg.port, %error, "broker connection lost; retrying with backoff");
                    logged_down = true;
                } else {
                    tracing::debug!(%error, ?backoff, "broker still unreachable");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(cfg.max_backoff);
            }
        }
    }
    let _ = client.try_disconnect();
    telemetry.broker_connected.store(false, Ordering::Relaxed);
}
