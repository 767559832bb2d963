//! `hall-agent`: the small program that runs on each kiosk and window PC.
//!
//! It owns one MQTT connection. Every connection gets a fresh `boot_id`: the retained last will registered for the
//! connection carries it, and so does the retained `online` status published on its ConnAck. A will that the broker
//! fires late (after a half-open connection was taken over) therefore names an older `boot_id` than the current
//! `online`, and nobody mistakes it for the current state; the agent also watches its own status topic and
//! re-asserts `online` when such a stale `offline` lands there.
//!
//! Heartbeats (with host metrics and check results) go out every `heartbeat_interval_secs` while connected; while
//! disconnected they are skipped, not queued, because a late heartbeat says nothing true. On SIGTERM or Ctrl-C the
//! agent publishes a retained `offline` with reason `shutdown`, waits for the broker to acknowledge it, and
//! disconnects cleanly so that the will is discarded.

pub mod checks;
pub mod config;
pub mod media;
pub mod metrics;
pub mod probe;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::payload::{Checks, Heartbeat, LinkState, StatusPayload};
use hall_protocol::topic::Topic;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::watch;

pub use config::AgentConfig;

use crate::link::{self, Backoff};

/// Requests buffered between the agent and its MQTT event loop (100+ keeps rumqttc from throttling).
const REQUEST_CHANNEL_CAPACITY: usize = 128;
/// How long a clean stop waits for the broker to take the `offline` status and the DISCONNECT.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// A fresh random boot id.
pub fn new_boot_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Local::now().fixed_offset()
}

/// Runs the agent until `shutdown` resolves, then says goodbye on the wire.
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    config.validate()?;
    let prefix = config.topic_prefix();
    let status_topic = link::status_topic(&prefix, &config.device_id);
    let heartbeat_topic = Topic::DeviceHeartbeat {
        device_id: config.device_id.clone(),
    }
    .to_topic(&prefix);
    let broker_addr = format!("{}:{}", config.broker.host, config.broker.port);

    let mut options = MqttOptions::new(
        config.client_id(),
        config.broker.host.clone(),
        config.broker.port,
    );
    options.set_keep_alive(Duration::from_secs(config.broker.keep_alive_secs));
    options.set_clean_session(true);
    options.set_inflight(100);
    if let Some(username) = &config.broker.username {
        options.set_credentials(username.clone(), config.password().unwrap_or_default());
    }
    // The boot id of the *next* connection; its will is registered before connecting.
    let mut next_boot_id = new_boot_id();
    options.set_last_will(link::last_will(&prefix, &config.device_id, &next_boot_id));
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);

    let (boot_tx, boot_rx) = watch::channel::<Option<String>>(None);
    let event_topic = Topic::DeviceEvent {
        device_id: config.device_id.clone(),
    }
    .to_topic(&prefix);
    let heartbeats = tokio::spawn(heartbeat_loop(
        client.clone(),
        HeartbeatTopics {
            heartbeat: heartbeat_topic,
            event: event_topic,
        },
        config.clone(),
        boot_rx,
    ));

    tracing::info!(device_id = %config.device_id, broker = %broker_addr, topic = %status_topic, "hall-agent starting");
    let mut own = StatusLink {
        client: client.clone(),
        status_topic: status_topic.clone(),
        qos1_unsent: 0,
    };
    let mut backoff = Backoff::new(Duration::from_secs(config.broker.max_backoff_secs));
    let mut current_boot_id: Option<String> = None;
    let mut ever_connected = false;
    tokio::pin!(shutdown);

    loop {
        let event = tokio::select! {
            () = &mut shutdown => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let boot_id = std::mem::replace(&mut next_boot_id, new_boot_id());
                eventloop.mqtt_options.set_last_will(link::last_will(
                    &prefix,
                    &config.device_id,
                    &next_boot_id,
                ));
                tracing::info!(broker = %broker_addr, boot_id = %boot_id, "connected to MQTT broker, online");
                own.publish_status(&link::online(&boot_id, now()));
                if let Err(error) = client.try_subscribe(status_topic.clone(), QoS::AtLeastOnce) {
                    tracing::warn!(%error, "cannot subscribe to own status topic");
                }
                current_boot_id = Some(boot_id.clone());
                boot_tx.send_replace(Some(boot_id));
                backoff.reset();
                ever_connected = true;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) if publish.topic == status_topic => {
                let Some(boot_id) = &current_boot_id else {
                    continue;
                };
                match serde_json::from_slice::<StatusPayload>(&publish.payload) {
                    Ok(status)
                        if status.state == LinkState::Offline && &status.boot_id != boot_id =>
                    {
                        tracing::info!(stale_boot_id = %status.boot_id, "stale offline status from an earlier connection; re-asserting online");
                        own.publish_status(&link::online(boot_id, now()));
                    }
                    Ok(status)
                        if status.state == LinkState::Online && &status.boot_id != boot_id =>
                    {
                        tracing::warn!(other_boot_id = %status.boot_id, "another agent publishes as this device");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "unreadable payload on own status topic"),
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => {
                own.qos1_unsent = own.qos1_unsent.saturating_sub(1);
            }
            Ok(_) => {}
            Err(error) => {
                current_boot_id = None;
                boot_tx.send_replace(None);
                own.qos1_unsent = 0;
                let delay = backoff.next_delay();
                if ever_connected {
                    tracing::warn!(broker = %broker_addr, %error, retry_in_secs = delay.as_secs_f32(), "lost connection to MQTT broker; reconnecting");
                } else {
                    tracing::warn!(broker = %broker_addr, %error, retry_in_secs = delay.as_secs_f32(), "cannot connect to MQTT broker; retrying");
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }

    heartbeats.abort();
    match current_boot_id {
        Some(boot_id) => {
            own.publish_status(&link::offline(&boot_id, Some(now()), link::REASON_SHUTDOWN));
            let flushed = own
                .flush_and_disconnect(&mut eventloop, SHUTDOWN_FLUSH)
                .await;
            if flushed {
                tracing::info!(boot_id = %boot_id, "published offline (shutdown) and disconnected");
            } else {
                tracing::warn!(boot_id = %boot_id, "broker did not confirm the offline status in time; the last will stands in");
            }
        }
        None => tracing::info!("not connected at shutdown; the broker keeps the last will"),
    }
    Ok(())
}

/// The agent's side of the connection: publishes the retained status and counts QoS 1 publishes not yet written,
/// so that a clean stop knows when its `offline` has left.
struct StatusLink {
    client: AsyncClient,
    status_topic: String,
    qos1_unsent: usize,
}

impl StatusLink {
    fn publish_status(&mut self, status: &StatusPayload) {
        match self.client.try_publish(
            self.status_topic.clone(),
            QoS::AtLeastOnce,
            true,
            link::to_json(status),
        ) {
            Ok(()) => self.qos1_unsent += 1,
            Err(error) => {
                tracing::warn!(%error, state = ?status.state, "cannot queue status publish")
            }
        }
    }

    /// Drives the event loop until every queued QoS 1 publish is written and acknowledged, then sends DISCONNECT.
    /// Returns whether all of it happened within `limit`.
    async fn flush_and_disconnect(&mut self, eventloop: &mut EventLoop, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let drained = tokio::time::timeout(limit, async {
            while self.qos1_unsent > 0 || eventloop.state.inflight() > 0 {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => {
                        self.qos1_unsent = self.qos1_unsent.saturating_sub(1);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "connection lost while publishing offline status");
                        return false;
                    }
                }
            }
            true
        })
        .await
        .unwrap_or(false);
        if !drained {
            return false;
        }
        if self.client.try_disconnect().is_err() {
            return false;
        }
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(200));
        // Read on until the broker closes the connection: dropping the socket while packets from the broker are
        // still arriving makes the kernel reset it, and a broker may then discard what it had not read yet.
        let mut disconnect_sent = false;
        let _ = tokio::time::timeout(remaining, async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => disconnect_sent = true,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        })
        .await;
        disconnect_sent
    }
}

struct HeartbeatTopics {
    heartbeat: String,
    event: String,
}

/// Publishes heartbeats while connected: one right after each (re)connection, then every interval. Sequence numbers
/// restart at 1 with each `boot_id`. Each heartbeat runs the peripheral checks and publishes a fault event for each
/// check that started or stopped failing; the internet probe runs at most every `interval_secs`, and the media
/// scan every heartbeat when enabled.
async fn heartbeat_loop(
    client: AsyncClient,
    topics: HeartbeatTopics,
    config: AgentConfig,
    mut boot_rx: watch::Receiver<Option<String>>,
) {
    let started = Instant::now();
    let mut host = metrics::HostMetrics::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(config.heartbeat_interval_secs));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_boot: Option<String> = None;
    let mut seq: u64 = 0;
    let mut faults = checks::FaultTracker::new(config.checks.len());
    let mut internet: Option<bool> = None;
    let mut last_probe: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = boot_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                ticker.reset_immediately();
                continue;
            }
        }
        let Some(boot_id) = boot_rx.borrow().clone() else {
            continue;
        };
        if last_boot.as_deref() != Some(boot_id.as_str()) {
            last_boot = Some(boot_id.clone());
            seq = 0;
        }
        let outcomes = checks::run_all(&config.checks).await;
        if let Some(probe) = &config.internet_probe
            && last_probe.is_none_or(|t| t.elapsed() >= Duration::from_secs(probe.interval_secs))
        {
            last_probe = Some(Instant::now());
            let reachable =
                probe::internet_reachable(&probe.targets, Duration::from_millis(probe.timeout_ms))
                    .await;
            if reachable && internet != Some(true) {
                tracing::warn!(targets = ?probe.targets, "this intranet machine reaches the internet");
            }
            internet = Some(reachable);
        }
        let removable_media = if config.media.enabled {
            tokio::task::spawn_blocking(media::mounted_removable_media)
                .await
                .ok()
        } else {
            None
        };
        let metrics = host.sample();
        // The link may have dropped while the checks ran; a heartbeat for a gone connection is skipped, and the
        // check results wait for the next round so that no fault event is lost with it.
        if boot_rx.borrow().as_deref() != Some(boot_id.as_str()) {
            continue;
        }
        let (peripherals, events) = faults.update(&config.checks, &outcomes, now());
        for event in events {
            tracing::info!(kind = ?event.kind, code = %event.code, message = %event.message, "fault event");
            if let Err(error) = client
                .publish(
                    topics.event.clone(),
                    QoS::AtLeastOnce,
                    false,
                    link::to_json(&event),
                )
                .await
            {
                tracing::warn!(%error, "cannot queue fault event");
                return;
            }
        }
        seq += 1;
        let heartbeat = Heartbeat {
            v: SCHEMA_VERSION,
            seq,
            boot_id,
            sent_at: now(),
            uptime_secs: started.elapsed().as_secs(),
            metrics,
            checks: Checks {
                internet_reachable: internet,
                peripherals,
                removable_media,
            },
        };
        if let Err(error) = client
            .publish(
                topics.heartbeat.clone(),
                QoS::AtMostOnce,
                false,
                link::to_json(&heartbeat),
            )
            .await
        {
            tracing::warn!(%error, "cannot queue heartbeat");
            return;
        }
        tracing::debug!(seq, "heartbeat sent");
    }
}

/// Loads the config file and runs the agent until SIGTERM or Ctrl-C; the body of `hall-agent`.
pub async fn main_with_config(path: &std::path::Path) -> anyhow::Result<()> {
    let config = AgentConfig::load(path)
        .with_context(|| format!("starting hall-agent with {}", path.display()))?;
    run(config, crate::shutdown::signal()).await
}
