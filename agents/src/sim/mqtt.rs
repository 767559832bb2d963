//! The simulator's MQTT side: turns the script's [`Action`]s into publishes.
//!
//! Each device gets its own connection with its own last will, as a real agent would, so that dropping a link
//! makes the broker send that device's will. Past `max_connections` devices (a load test with thousands of them)
//! all devices share one connection instead; wills are then impossible and a silent device simply stops
//! heartbeating. Presence events, which in a hall come from badge readers and window logins rather than from one
//! supervised device, always go over the shared "control" connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hall_protocol::topic::Topic;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::task::JoinHandle;

use super::clock::SimClock;
use super::script::Action;
use crate::link::{self, Backoff};

const REQUEST_CHANNEL_CAPACITY: usize = 128;
/// How long a clean stop waits for every connection to send its offline status and DISCONNECT.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);

/// Where the broker is and how to log in.
#[derive(Debug, Clone)]
pub struct BrokerTarget {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The ids the script's indexes stand for.
#[derive(Debug, Clone)]
pub struct FleetIds {
    /// Device ids by device index.
    pub device_ids: Vec<String>,
    /// Window ids by window index.
    pub window_ids: Vec<String>,
    /// Where ticket events are published: the first queue dispenser of the hall.
    pub dispenser_id: Option<String>,
}

/// One MQTT connection driven by its own task.
struct Conn {
    client: AsyncClient,
    task: JoinHandle<()>,
}

/// A device's own link and the boot it belongs to.
struct DeviceLink {
    conn: Conn,
    boot_id: String,
}

/// All the simulator's connections.
pub struct Fleet {
    prefix: String,
    broker: BrokerTarget,
    clock: Arc<SimClock>,
    /// Per-device links; empty in shared mode.
    links: HashMap<usize, DeviceLink>,
    /// Current boot id per device, for the offline statuses at shutdown in shared mode.
    boots: HashMap<usize, String>,
    per_device: bool,
    control: Conn,
    device_ids: Vec<String>,
    window_ids: Vec<String>,
    /// Where ticket events are published: the first queue dispenser of the hall.
    dispenser_id: Option<String>,
    /// Devices switched off cleanly (not dropped), so switching on is not logged as a reboot.
    switched_off: std::collections::HashSet<usize>,
    /// Publishes dropped because a connection's request queue was full (the broker is slower than the script).
    pub dropped: Arc<AtomicU64>,
}

impl Fleet {
    /// Opens the control connection; device links open as the script connects devices.
    pub fn new(
        prefix: String,
        broker: BrokerTarget,
        clock: Arc<SimClock>,
        ids: FleetIds,
        per_device: bool,
        hall_id: &str,
    ) -> Fleet {
        let FleetIds {
            device_ids,
            window_ids,
            dispenser_id,
        } = ids;
        let client_id = link::client_id("hall-sim-", hall_id);
        let options = options(&broker, client_id);
        let control = spawn_conn(options, None);
        Fleet {
            prefix,
            broker,
            clock,
            links: HashMap::new(),
            boots: HashMap::new(),
            per_device,
            control,
            device_ids,
            window_ids,
            dispenser_id,
            switched_off: std::collections::HashSet::new(),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Carries out one action of the script.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Connect { device, boot_id } => self.connect(device, boot_id),
            Action::Heartbeat { device, heartbeat } => {
                let topic = Topic::DeviceHeartbeat {
                    device_id: self.device_ids[device].clone(),
                }
                .to_topic(&self.prefix);
                self.publish_for(
                    device,
                    topic,
                    QoS::AtMostOnce,
                    false,
                    link::to_json(&heartbeat),
                );
            }
            Action::GoSilent { device, drop_link } => {
                let id = &self.device_ids[device];
                if drop_link && let Some(link) = self.links.remove(&device) {
                    // Aborting the task drops the socket without DISCONNECT: the broker sends the last will.
                    link.conn.task.abort();
                    tracing::info!(device_id = %id, boot_id = %link.boot_id, "device drops off the network (last will)");
                } else {
                    tracing::info!(device_id = %id, "device stops heartbeating");
                }
            }
            Action::Event { device, event } => {
                tracing::info!(device_id = %self.device_ids[device], kind = ?event.kind, code = %event.code, "device fault event");
                let topic = Topic::DeviceEvent {
                    device_id: self.device_ids[device].clone(),
                }
                .to_topic(&self.prefix);
                self.publish_for(
                    device,
                    topic,
                    QoS::AtLeastOnce,
                    false,
                    link::to_json(&event),
                );
            }
            Action::Offline { device, boot_id } => self.offline(device, boot_id),
            Action::Ticket { event } => {
                let Some(dispenser_id) = self.dispenser_id.clone() else {
                    return;
                };
                tracing::debug!(ticket = %event.ticket, action = ?event.action, window_id = event.window_id.as_deref().unwrap_or(""), "ticket");
                self.publish_event(Topic::QueueTicket { dispenser_id }, link::to_json(&event));
            }
            Action::Rating { window, event } => {
                tracing::debug!(window_id = %self.window_ids[window], level = ?event.level, "rating");
                self.publish_event(
                    Topic::Rating {
                        window_id: self.window_ids[window].clone(),
                    },
                    link::to_json(&event),
                );
            }
            Action::Punch { terminal, punch } => {
                self.publish_event(
                    Topic::Attendance {
                        terminal_id: self.device_ids[terminal].clone(),
                    },
                    link::to_json(&punch),
                );
            }
            Action::Presence { window, presence } => {
                tracing::debug!(window_id = %self.window_ids[window], staff_id = %presence.staff_id, action = ?presence.action, reason = presence.reason.as_deref().unwrap_or(""), "presence");
                self.publish_event(
                    Topic::WindowPresence {
                        window_id: self.window_ids[window].clone(),
                    },
                    link::to_json(&presence),
                );
            }
        }
    }

    /// Publishes a hall event (ticket, rating, punch, presence) on the control connection: QoS 1, not retained.
    fn publish_event(&self, topic: Topic, payload: Vec<u8>) {
        let topic = topic.to_topic(&self.prefix);
        publish(
            &self.control.client,
            &self.dropped,
            topic,
            QoS::AtLeastOnce,
            false,
            payload,
        );
    }

    fn connect(&mut self, device: usize, boot_id: String) {
        let id = self.device_ids[device].clone();
        let status_topic = link::status_topic(&self.prefix, &id);
        let online = link::to_json(&link::online(&boot_id, self.clock.now()));
        if self.switched_off.remove(&device) {
            tracing::debug!(device_id = %id, %boot_id, "device switched on");
        } else if self.boots.contains_key(&device) {
            tracing::info!(device_id = %id, %boot_id, "device back with a new boot");
        }
        self.boots.insert(device, boot_id.clone());
        if !self.per_device {
            publish(
                &self.control.client,
                &self.dropped,
                status_topic,
                QoS::AtLeastOnce,
                true,
                online,
            );
            return;
        }
        if let Some(old) = self.links.remove(&device) {
            // A device that stopped heartbeating but kept its link: close it cleanly, so no will fires.
            let _ = old.conn.client.try_disconnect();
        }
        let mut options = options(&self.broker, link::client_id("hs-", &id));
        options.set_last_will(link::last_will(&self.prefix, &id, &boot_id));
        let conn = spawn_conn(
            options,
            Some((status_topic, boot_id.clone(), self.clock.clone())),
        );
        self.links.insert(device, DeviceLink { conn, boot_id });
    }

    /// A clean switch-off: retained `offline` on the device's own link, then DISCONNECT (so no will fires).
    fn offline(&mut self, device: usize, boot_id: String) {
        let id = &self.device_ids[device];
        let topic = link::status_topic(&self.prefix, id);
        let payload = link::to_json(&link::offline(
            &boot_id,
            Some(self.clock.now()),
            link::REASON_SHUTDOWN,
        ));
        tracing::debug!(device_id = %id, %boot_id, "device switched off");
        self.switched_off.insert(device);
        self.boots.insert(device, boot_id);
        match self.links.remove(&device) {
            Some(old) => {
                publish(
                    &old.conn.client,
                    &self.dropped,
                    topic,
                    QoS::AtLeastOnce,
                    true,
                    payload,
                );
                let _ = old.conn.client.try_disconnect();
            }
            None => publish(
                &self.control.client,
                &self.dropped,
                topic,
                QoS::AtLeastOnce,
                true,
                payload,
            ),
        }
    }

    fn publish_for(&self, device: usize, topic: String, qos: QoS, retain: bool, payload: Vec<u8>) {
        let client = match self.links.get(&device) {
            Some(link) => &link.conn.client,
            None if !self.per_device => &self.control.client,
            // A device whose link was dropped publishes nothing.
            None => return,
        };
        publish(client, &self.dropped, topic, qos, retain, payload);
    }

    /// Publishes a retained clean `offline` for every device and disconnects every connection.
    pub async fn shutdown(mut self) {
        let now = self.clock.now();
        let mut tasks = Vec::new();
        for (device, link) in self.links.drain() {
            let topic = link::status_topic(&self.prefix, &self.device_ids[device]);
            let payload = link::to_json(&link::offline(
                &link.boot_id,
                Some(now),
                link::REASON_SHUTDOWN,
            ));
            let _ = link
                .conn
                .client
                .try_publish(topic, QoS::AtLeastOnce, true, payload);
            let _ = link.conn.client.try_disconnect();
            tasks.push(link.conn.task);
        }
        if !self.per_device {
            for (device, boot_id) in &self.boots {
                let topic = link::status_topic(&self.prefix, &self.device_ids[*device]);
                let payload =
                    link::to_json(&link::offline(boot_id, Some(now), link::REASON_SHUTDOWN));
                let _ = self
                    .control
                    .client
                    .publish(topic, QoS::AtLeastOnce, true, payload)
                    .await;
            }
        }
        let _ = self.control.client.try_disconnect();
        tasks.push(self.control.task);
        let n = tasks.len();
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_FLUSH, all).await.is_err() {
            tracing::warn!(
                n_connections = n,
                "not every connection closed cleanly in time"
            );
        } else {
            tracing::info!(
                n_connections = n,
                "every device published offline and disconnected"
            );
        }
    }
}

fn options(broker: &BrokerTarget, client_id: String) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_inflight(100);
    if let Some(username) = &broker.username {
        options.set_credentials(
            username.clone(),
            broker.password.clone().unwrap_or_default(),
        );
    }
    options
}

fn publish(
    client: &AsyncClient,
    dropped: &AtomicU64,
    topic: String,
    qos: QoS,
    retain: bool,
    payload: Vec<u8>,
) {
    if client.try_publish(topic, qos, retain, payload).is_err() {
        let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                n_dropped = n,
                "simulator publish queue full; dropping messages"
            );
        }
    }
}

/// Spawns the task that drives one connection. With `status`, the connection belongs to a device: its retained
/// `online` is queued first thing, so it precedes every heartbeat, and published again after each reconnection.
fn spawn_conn(options: MqttOptions, status: Option<(String, String, Arc<SimClock>)>) -> Conn {
    let client_id = options.client_id();
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);
    if let Some((topic, boot_id, clock)) = &status {
        let _ = client.try_publish(
            topic.clone(),
            QoS::AtLeastOnce,
            true,
            link::to_json(&link::online(boot_id, clock.now())),
        );
    }
    let task_client = client.clone();
    let task = tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_secs(10));
        let mut first = true;
        let mut disconnecting = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    if !std::mem::take(&mut first)
                        && let Some((topic, boot_id, clock)) = &status
                    {
                        let online = link::to_json(&link::online(boot_id, clock.now()));
                        let _ =
                            task_client.try_publish(topic.clone(), QoS::AtLeastOnce, true, online);
                    }
                }
                // After DISCONNECT, keep reading until the broker closes the connection: closing the socket
                // while its acknowledgements are still arriving makes the kernel reset the connection, and the
                // broker then discards what it had not read yet (our offline statuses).
                Ok(Event::Outgoing(Outgoing::Disconnect)) => disconnecting = true,
                Ok(_) => {}
                Err(_) if disconnecting => return,
                Err(rumqttc::ConnectionError::RequestsDone) => return,
                Err(error) => {
                    let delay = backoff.next_delay();
                    if status.is_some() {
                        tracing::debug!(client_id = %client_id, %error, "simulated device cannot reach the MQTT broker; retrying");
                    } else {
                        tracing::warn!(%error, retry_in_secs = delay.as_secs_f32(), "hall-sim cannot reach the MQTT broker; retrying");
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    });
    Conn { client, task }
}
