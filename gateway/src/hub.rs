//! The hub: the one task that owns the hall model.
//!
//! Everything that changes the hall goes through it: MQTT messages from the source, queries and commands from the
//! API, and the passage of time. It never awaits a sink or a client: changes are coalesced, serialised once and
//! published on a broadcast channel every [`FLUSH_EVERY`]; a client that falls behind is resynchronised by the
//! API with a fresh snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use hall_protocol::api::{
    AckRequest, AlertState, AlertView, Change, DeviceView, LiveMessage, Snapshot, WindowView,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Now};
use crate::ingest;
use crate::model::alerts::AckError;
use crate::model::{Hall, Input, Refusal};
use crate::outputs::Outputs;
use crate::telemetry::{RejectReason, Telemetry};

/// How often coalesced changes are published.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How often the model is ticked (timeouts, phases, the clock).
pub const TICK_EVERY: Duration = Duration::from_millis(250);

/// One MQTT message as received, stamped with the gateway's clock.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub payload: Bytes,
    pub received: Now,
}

/// A published delta, serialised once for every client.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    pub json: Arc<str>,
}

/// Questions and commands for the hub.
pub enum Query {
    Snapshot(oneshot::Sender<Snapshot>),
    Devices(oneshot::Sender<Vec<DeviceView>>),
    Device(String, oneshot::Sender<Option<DeviceView>>),
    Windows(oneshot::Sender<Vec<WindowView>>),
    Alerts(oneshot::Sender<Vec<AlertView>>),
    Queues(oneshot::Sender<Vec<hall_protocol::api::QueueView>>),
    /// The leave register changed: the model takes the new entries (POST-4).
    SetLeave(Vec<hall_protocol::api::LeaveEntry>, oneshot::Sender<()>),
    DeviceHistory(
        String,
        oneshot::Sender<Option<hall_protocol::api::DeviceHistory>>,
    ),
    WindowHistory(
        String,
        oneshot::Sender<Option<hall_protocol::api::WindowHistory>>,
    ),
    /// DEV-6 maintenance marks.
    SetMaintenance {
        device_id: String,
        request: hall_protocol::api::MaintenanceRequest,
        reply: oneshot::Sender<Result<DeviceView, crate::model::MaintenanceError>>,
    },
    LiftMaintenance {
        device_id: String,
        reply: oneshot::Sender<Result<DeviceView, crate::model::MaintenanceError>>,
    },
    /// INS-1..3 inspection records.
    Inspections(oneshot::Sender<Vec<hall_protocol::api::InspectionView>>),
    InspectionExport(u64, oneshot::Sender<Option<InspectionExport>>),
    SignInspection {
        id: u64,
        request: hall_protocol::api::SignRequest,
        reply: oneshot::Sender<
            Result<hall_protocol::api::InspectionView, crate::model::inspection::SignError>,
        >,
    },
    Ack {
        id: u64,
        request: AckRequest,
        reply: oneshot::Sender<Result<AlertView, AckError>>,
    },
}

/// An inspection record with the hall's name and time zone, for the CSV and print exports.
pub struct InspectionExport {
    pub record: hall_protocol::api::InspectionView,
    pub hall_name: String,
    pub tz: chrono_tz::Tz,
}

/// The hub's address, cloned into the API.
#[derive(Clone)]
pub struct HubHandle {
    queries: mpsc::Sender<Query>,
    live: broadcast::Sender<Frame>,
}

/// The hub stopped (the gateway is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the hall model is shutting down")]
pub struct HubGone;

impl HubHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Result<T, HubGone> {
        let (tx, rx) = oneshot::channel();
        self.queries.send(make(tx)).await.map_err(|_| HubGone)?;
        rx.await.map_err(|_| HubGone)
    }

    pub async fn snapshot(&self) -> Result<Snapshot, HubGone> {
        self.ask(Query::Snapshot).await
    }
    pub async fn devices(&self) -> Result<Vec<DeviceView>, HubGone> {
        self.ask(Query::Devices).await
    }
    pub async fn device(&self, id: String) -> Result<Option<DeviceView>, HubGone> {
        self.ask(|tx| Query::Device(id, tx)).await
    }
    pub async fn windows(&self) -> Result<Vec<WindowView>, HubGone> {
        self.ask(Query::Windows).await
    }
    pub async fn alerts(&self) -> Result<Vec<AlertView>, HubGone> {
        self.ask(Query::Alerts).await
    }
    /// Queue KPIs per service type.
    pub async fn queues(&self) -> Result<Vec<hall_protocol::api::QueueView>, HubGone> {
        self.ask(Query::Queues).await
    }
    /// Gives the model the current leave register.
    pub async fn set_leave(
        &self,
        entries: Vec<hall_protocol::api::LeaveEntry>,
    ) -> Result<(), HubGone> {
        self.ask(|tx| Query::SetLeave(entries, tx)).await
    }
    /// The last 24 h of a device; `None` for an unknown device.
    pub async fn device_history(
        &self,
        id: String,
    ) -> Result<Option<hall_protocol::api::DeviceHistory>, HubGone> {
        self.ask(|tx| Query::DeviceHistory(id, tx)).await
    }
    /// The last 24 h of a window; `None` for an unknown window.
    pub async fn window_history(
        &self,
        id: String,
    ) -> Result<Option<hall_protocol::api::WindowHistory>, HubGone> {
        self.ask(|tx| Query::WindowHistory(id, tx)).await
    }
    pub async fn ack(
        &self,
        id: u64,
        request: AckRequest,
    ) -> Result<Result<AlertView, AckError>, HubGone> {
        self.ask(|reply| Query::Ack { id, request, reply }).await
    }
    /// Marks a device under maintenance (DEV-6).
    pub async fn set_maintenance(
        &self,
        device_id: String,
        request: hall_protocol::api::MaintenanceRequest,
    ) -> Result<Result<DeviceView, crate::model::MaintenanceError>, HubGone> {
        self.ask(|reply| Query::SetMaintenance {
            device_id,
            request,
            reply,
        })
        .await
    }
    /// Lifts a device's maintenance mark (DEV-6).
    pub async fn lift_maintenance(
        &self,
        device_id: String,
    ) -> Result<Result<DeviceView, crate::model::MaintenanceError>, HubGone> {
        self.ask(|reply| Query::LiftMaintenance { device_id, reply })
            .await
    }
    /// Every inspection record, oldest first (INS-2).
    pub async fn inspections(&self) -> Result<Vec<hall_protocol::api::InspectionView>, HubGone> {
        self.ask(Query::Inspections).await
    }
    /// One inspection record with what it takes to render it.
    pub async fn inspection_export(&self, id: u64) -> Result<Option<InspectionExport>, HubGone> {
        self.ask(|tx| Query::InspectionExport(id, tx)).await
    }
    /// Signs an inspection record off (INS-3).
    pub async fn sign_inspection(
        &self,
        id: u64,
        request: hall_protocol::api::SignRequest,
    ) -> Result<
        Result<hall_protocol::api::InspectionView, crate::model::inspection::SignError>,
        HubGone,
    > {
        self.ask(|reply| Query::SignInspection { id, request, reply })
            .await
    }
    /// Subscribes to published deltas. Subscribe *before* asking for the snapshot, then skip deltas whose `seq` the
    /// snapshot already covers.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.live.subscribe()
    }
}

/// Settings of the ingest path.
pub struct IngestSettings {
    pub topic_prefix: String,
    pub max_payload_bytes: usize,
    /// Where to record every ingested message, if anywhere.
    pub recorder: Option<crate::replay::Recorder>,
    /// Where newly raised alerts are offered for webhook notification, if anywhere (never waited on).
    pub notifier: Option<crate::sinks::webhook::AlertNotifier>,
}

/// Channels between the hub and the rest of the gateway.
pub struct HubChannels {
    pub handle: HubHandle,
    pub inbound_tx: mpsc::Sender<Inbound>,
    inbound_rx: mpsc::Receiver<Inbound>,
    queries_rx: mpsc::Receiver<Query>,
}

impl HubChannels {
    pub fn new(inbound_len: usize, live_buffer: usize) -> Self {
        let (inbound_tx, inbound_rx) = mpsc::channel(inbound_len.max(1));
        let (queries_tx, queries_rx) = mpsc::channel(256);
        let (live, _) = broadcast::channel(live_buffer.max(16));
        HubChannels {
            handle: HubHandle {
                queries: queries_tx,
                live,
            },
            inbound_tx,
            inbound_rx,
            queries_rx,
        }
    }
}

/// Runs the hub until `shutdown`.
pub async fn run(
    mut hall: Hall,
    channels: HubChannels,
    clock: Arc<dyn Clock>,
    mut settings: IngestSettings,
    outputs: Outputs,
    telemetry: Arc<Telemetry>,
    shutdown: CancellationToken,
) {
    let HubChannels {
        handle,
        mut inbound_rx,
        mut queries_rx,
        ..
    } = channels;
    let live = handle.live.clone();
    drop(handle);
    let mut hub = Hub {
        seq: 0,
        pending: Vec::new(),
        live,
        telemetry,
        outputs,
        notifier: settings.notifier.take(),
    };
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    let mut tick = tokio::time::interval(TICK_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(q) = queries_rx.recv() => hub.answer(&mut hall, q, clock.now()),
            _ = tick.tick() => {
                hall.tick(clock.now(), &mut hub.pending);
                hub.outputs.on_kept(hall.take_kept());
            }
            _ = flush.tick() => {
                hub.flush(clock.now());
                flush_recorder(&mut settings);
            }
            Some(msg) = inbound_rx.recv() => {
                hub.ingest(&mut hall, &mut settings, msg);
                // Drain what is already queued without going round the select for each message.
                for _ in 0..1024 {
                    match inbound_rx.try_recv() {
                        Ok(msg) => hub.ingest(&mut hall, &mut settings, msg),
                        Err(_) => break,
                    }
                }
            }
        }
    }
    hub.flush(clock.now());
    flush_recorder(&mut settings);
    tracing::debug!("hub stopped");
}

fn flush_recorder(settings: &mut IngestSettings) {
    if let Some(rec) = settings.recorder.as_mut() {
        if let Err(error) = rec.flush() {
            tracing::error!(%error, "recording failed; recording stopped");
            settings.recorder = None;
        }
    }
}

struct Hub {
    seq: u64,
    pending: Vec<Change>,
    live: broadcast::Sender<Frame>,
    telemetry: Arc<Telemetry>,
    outputs: Outputs,
    notifier: Option<crate::sinks::webhook::AlertNotifier>,
}

impl Hub {
    fn ingest(&mut self, hall: &mut Hall, settings: &mut IngestSettings, msg: Inbound) {
        let t = &self.telemetry;
        t.messages_received.fetch_add(1, Ordering::Relaxed);
        if let Some(rec) = settings.recorder.as_mut() {
            if let Err(error) = rec.record(msg.received.wall, &msg.topic, &msg.payload) {
                tracing::error!(%error, "recording failed; recording stopped");
                settings.recorder = None;
            }
        }
        let input = match ingest::decode(
            &settings.topic_prefix,
            settings.max_payload_bytes,
            &msg.topic,
            &msg.payload,
        ) {
            Ok(input) => input,
            Err(r) => return t.reject(r.reason, &r.source, &r.detail),
        };
        // Copied only when an output takes heartbeats (the InfluxDB sink); apply consumes the input.
        let heartbeat = match &input {
            Input::Heartbeat { device_id, payload } if self.outputs.takes_heartbeats() => {
                Some((device_id.clone(), payload.clone()))
            }
            _ => None,
        };
        match hall.apply(input, msg.received, &mut self.pending) {
            Ok(()) => {
                t.messages_applied.fetch_add(1, Ordering::Relaxed);
                if let Some((id, hb)) = heartbeat {
                    self.outputs.on_heartbeat(&id, &hb, msg.received.wall);
                }
            }
            Err(Refusal::UnknownDevice(id)) => t.reject(
                RejectReason::UnknownDevice,
                &id,
                &"device id not in the hall config",
            ),
            Err(Refusal::UnknownWindow(id)) => t.reject(
                RejectReason::UnknownWindow,
                &id,
                &"window id not in the hall config",
            ),
            Err(Refusal::StaleStatus(id)) => t.reject(
                RejectReason::StaleStatus,
                &id,
                &"offline status from an older boot after fresh heartbeats",
            ),
            Err(Refusal::UnknownService(id)) => t.reject(
                RejectReason::UnknownService,
                &id,
                &"service type not in the hall config",
            ),
        }
    }

    fn answer(&mut self, hall: &mut Hall, q: Query, now: Now) {
        // Replies go to a oneshot; a caller that gave up is no concern of ours.
        match q {
            Query::Snapshot(tx) => {
                let _ = tx.send(hall.snapshot(self.seq, now));
            }
            Query::Devices(tx) => {
                let _ = tx.send(hall.devices(now));
            }
            Query::Device(id, tx) => {
                let _ = tx.send(hall.device_view(&id, now));
            }
            Query::Windows(tx) => {
                let _ = tx.send(hall.window_views());
            }
            Query::Alerts(tx) => {
                let _ = tx.send(hall.alerts.all().cloned().collect());
            }
            Query::Queues(tx) => {
                let _ = tx.send(hall.queue_views(now));
            }
            Query::SetLeave(entries, tx) => {
                hall.set_leave(&entries);
                let _ = tx.send(());
            }
            Query::DeviceHistory(id, tx) => {
                let known = hall.device_view(&id, now).is_some();
                let _ = tx.send(known.then(|| self.outputs.device_history(&id)));
            }
            Query::WindowHistory(id, tx) => {
                let known = hall.windows.contains(&id);
                let _ = tx.send(known.then(|| self.outputs.window_history(&id)));
            }
            Query::SetMaintenance {
                device_id,
                request,
                reply,
            } => {
                let result = hall.set_maintenance(
                    &device_id,
                    &request.reason,
                    &request.by,
                    request.until,
                    now,
                    &mut self.pending,
                );
                // Queued for the journal before the reply, so the API can wait for its commit.
                self.outputs.on_kept(hall.take_kept());
                let _ = reply.send(result);
            }
            Query::LiftMaintenance { device_id, reply } => {
                let result = hall.lift_maintenance(&device_id, now, &mut self.pending);
                self.outputs.on_kept(hall.take_kept());
                let _ = reply.send(result);
            }
            Query::Inspections(tx) => {
                let _ = tx.send(hall.inspections.all().to_vec());
            }
            Query::InspectionExport(id, tx) => {
                let _ = tx.send(hall.inspections.get(id).map(|r| InspectionExport {
                    record: r.clone(),
                    hall_name: hall.hall_name.clone(),
                    tz: hall.calendar().tz(),
                }));
            }
            Query::SignInspection { id, request, reply } => {
                let result =
                    hall.sign_inspection(id, &request.by, &request.notes, now, &mut self.pending);
                self.outputs.on_kept(hall.take_kept());
                let _ = reply.send(result);
            }
            Query::Ack { id, request, reply } => {
                let result = hall.ack(id, &request.by, &request.note, now);
                if let Ok(a) = &result {
                    self.pending.push(Change::Alert(a.clone()));
                }
                let _ = reply.send(result);
            }
        }
    }

    /// Publishes the pending changes as one delta, keeping only the latest change per subject.
    fn flush(&mut self, now: Now) {
        if self.pending.is_empty() {
            return;
        }
        // The outputs see every change, so a state that lasted less than a flush (a quick hand-over) is still
        // journalled; live clients get the coalesced delta.
        let all = std::mem::take(&mut self.pending);
        self.outputs.on_changes(&all, now.wall);
        let changes = coalesce(all);
        let raised = changes
            .iter()
            .filter(|c| matches!(c, Change::Alert(a) if a.state == AlertState::Open))
            .count();
        self.telemetry
            .alerts_raised
            .fetch_add(raised as u64, Ordering::Relaxed);
        if let Some(n) = &self.notifier {
            for c in &changes {
                if let Change::Alert(a) = c {
                    if a.state == AlertState::Open {
                        n.offer(a);
                    }
                }
            }
        }
        self.seq += 1;
        let msg = LiveMessage::Delta {
            seq: self.seq,
            changes,
        };
        match serde_json::to_string(&msg) {
            Ok(json) => {
                self.telemetry.deltas_sent.fetch_add(1, Ordering::Relaxed);
                // No receiver is fine: nobody is watching.
                let _ = self.live.send(Frame {
                    seq: self.seq,
                    json: json.into(),
                });
            }
            Err(error) => {
                tracing::error!(%error, "serialising a live delta failed; clients will resync")
            }
        }
    }
}

/// Keeps the last change per (type, id), in the order of their last occurrence.
fn coalesce(changes: Vec<Change>) -> Vec<Change> {
    let key = |c: &Change| -> (u8, String) {
        match c {
            Change::Device(d) => (0, d.id.clone()),
            Change::Window(w) => (1, w.id.clone()),
            Change::Alert(a) => (2, a.id.to_string()),
            Change::Clock(_) => (3, String::new()),
            Change::Queue(q) => (4, q.service.clone()),
            Change::Satisfaction(_) => (5, String::new()),
        }
    };
    let mut last: HashMap<(u8, String), usize> = HashMap::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        last.insert(key(c), i);
    }
    changes
        .into_iter()
        .enumerate()
        .filter(|(i, c)| last.get(&key(c)) == Some(i))
        .map(|(_, c)| c)
        .collect()
}
