//! The sink itself: the handle the gateway sends points through, and the worker task that batches, writes,
//! retries, spools and quarantines.
//!
//! One worker task owns all state (current batch, in-memory batches, spool, quarantine), so nothing is shared
//! but the queue and the counters. Order is kept by one rule: a sealed batch stays in memory only while the
//! spool is empty, so batches in memory are always older than spooled ones, and the worker sends memory first,
//! then the spool. When a write from memory fails, the in-memory batches are put back at the spool's front.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hall_protocol::config::{InfluxConfig, SpoolFullPolicy};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use super::client::{self, ClientConfigError, WriteClient};
use super::point::{EncodeOptions, InvalidPoint, Point, encode};
use super::quarantine::Quarantine;
use super::retry::{Backoff, Verdict, classify, rejected_line_numbers};
use super::spool::{RecordId, Spool, SpoolError};
use super::stats::{Stats, StatsSnapshot};

/// Sealed batches kept in memory (while the spool is empty) before further ones go to disk.
const MAX_MEMORY_BATCHES: usize = 2;

/// Why the sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Config(#[from] ClientConfigError),
    #[error("influxdb.max_batch_lines must be at least 1")]
    ZeroBatch,
    #[error("opening the spool in {path}: {source}")]
    Spool {
        path: String,
        source: std::io::Error,
    },
    #[error("opening the quarantine file in {path}: {source}")]
    Quarantine {
        path: String,
        source: std::io::Error,
    },
}

/// Why a point was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("point rejected: {0}")]
    Invalid(#[from] InvalidPoint),
    #[error("metrics queue is full")]
    QueueFull,
    #[error("the sink has stopped")]
    Closed,
}

/// Starts sinks.
pub struct InfluxSink;

impl InfluxSink {
    /// Starts the sink described by `config`: opens the spool under `data_dir/spool` (leftover batches from an
    /// earlier run are sent first), builds the client and spawns the worker. Every point gets the tag
    /// `hall = hall_id` unless it has one. On `shutdown` the worker spools what it holds in memory and stops.
    pub fn start(
        config: &InfluxConfig,
        hall_id: &str,
        data_dir: &Path,
        shutdown: CancellationToken,
    ) -> Result<SinkHandle, SinkError> {
        let client = client::from_config(config)?;
        Self::start_with_client(config, hall_id, data_dir, Arc::from(client), shutdown)
    }

    /// [`InfluxSink::start`] with a client of the caller's choice.
    pub fn start_with_client(
        config: &InfluxConfig,
        hall_id: &str,
        data_dir: &Path,
        client: Arc<dyn WriteClient>,
        shutdown: CancellationToken,
    ) -> Result<SinkHandle, SinkError> {
        if config.max_batch_lines == 0 {
            return Err(SinkError::ZeroBatch);
        }
        let spool_dir = data_dir.join("spool");
        let (spool, report) = Spool::open(
            &spool_dir,
            config.spool_max_bytes,
            config.spool_segment_bytes,
        )
        .map_err(|source| SinkError::Spool {
            path: spool_dir.display().to_string(),
            source,
        })?;
        let quarantine =
            Quarantine::open(data_dir, config.quarantine_max_bytes).map_err(|source| {
                SinkError::Quarantine {
                    path: data_dir.display().to_string(),
                    source,
                }
            })?;
        if report.records > 0 || report.corrupt_records > 0 {
            info!(
                batches = report.records,
                lines = report.lines,
                corrupt_records = report.corrupt_records,
                "influxdb spool holds batches from an earlier run; sending them first"
            );
        }
        let stats = Arc::new(Stats::default());
        stats.spool_state(spool.bytes(), spool.lines(), spool.corrupt_records());
        let (tx, rx) = mpsc::channel(config.queue_lines.max(1));
        let worker = Worker {
            client: client.clone(),
            stats: stats.clone(),
            spool,
            quarantine,
            policy: config.spool_full_policy,
            max_batch_lines: config.max_batch_lines,
            flush_interval: Duration::from_millis(config.flush_interval_ms),
            building: Vec::new(),
            building_deadline: None,
            memory: VecDeque::new(),
            blocked: None,
            backoff: Backoff::new(Duration::from_secs(config.max_retry_secs)),
            retry_at: None,
        };
        let task = tokio::spawn(worker.run(rx, shutdown));
        Ok(SinkHandle {
            tx,
            stats,
            hall_id: hall_id.into(),
            options: EncodeOptions {
                unsigned: client.supports_unsigned(),
            },
            task: Arc::new(Mutex::new(Some(task))),
        })
    }
}

/// The gateway's side of the sink. Cheap to clone.
#[derive(Clone)]
pub struct SinkHandle {
    tx: mpsc::Sender<String>,
    stats: Arc<Stats>,
    hall_id: Arc<str>,
    options: EncodeOptions,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl SinkHandle {
    fn prepare(&self, mut point: Point) -> Result<String, SendError> {
        point
            .tags
            .entry("hall".to_owned())
            .or_insert_with(|| self.hall_id.to_string());
        match encode(&point, self.options) {
            Ok(encoded) => {
                self.stats.accepted(encoded.omitted_fields);
                Ok(encoded.line)
            }
            Err(reason) => {
                self.stats.invalid(&reason);
                Err(reason.into())
            }
        }
    }

    /// Encodes and queues a point without ever waiting. A full queue (the spool is full under the `block`
    /// policy, or the disk stalls) refuses the point, counted as invalid.
    pub fn send(&self, point: Point) -> Result<(), SendError> {
        let line = self.prepare(point)?;
        self.tx.try_send(line).map_err(|error| {
            self.stats.queue_refused();
            match error {
                mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            }
        })
    }

    /// Encodes and queues a point, waiting for room in the queue: the back-pressure of the `block` policy.
    pub async fn send_async(&self, point: Point) -> Result<(), SendError> {
        let line = self.prepare(point)?;
        self.tx.send(line).await.map_err(|_| {
            self.stats.queue_refused();
            SendError::Closed
        })
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Appends the counters for `GET /metrics`.
    pub fn render_prometheus(&self, out: &mut String) {
        self.stats().render_prometheus(out);
    }

    /// Waits until the worker has stopped (after the shutdown token fired) and has spooled what it held.
    pub async fn stopped(&self) {
        let task = self.task.lock().expect("not poisoned").take();
        let Some(task) = task else { return };
        if let Err(error) = task.await {
            error!(%error, "influxdb sink worker failed");
        }
    }
}

/// A batch held in memory.
struct Batch {
    lines: Arc<Vec<String>>,
}

impl Batch {
    fn len(&self) -> u64 {
        self.lines.len() as u64
    }

    fn joined(&self) -> Vec<u8> {
        self.lines.join("\n").into_bytes()
    }
}

#[derive(Clone, Copy)]
enum Source {
    Memory,
    Spool(RecordId),
}

/// What became of one batch.
enum Delivery {
    /// Everything written except `rejected` (line, reason), which the server will never take.
    Done { rejected: Vec<(String, String)> },
    /// Nothing more can be done now; send the whole batch again later.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

type InFlight = Pin<Box<dyn Future<Output = Delivery> + Send>>;

struct Worker {
    client: Arc<dyn WriteClient>,
    stats: Arc<Stats>,
    spool: Spool,
    quarantine: Quarantine,
    policy: SpoolFullPolicy,
    max_batch_lines: usize,
    flush_interval: Duration,
    building: Vec<String>,
    building_deadline: Option<Instant>,
    /// Sealed batches not yet written, older than anything in the spool.
    memory: VecDeque<Batch>,
    /// A batch that found the spool full under the `block` policy; no line is taken from the queue meanwhile.
    blocked: Option<Batch>,
    backoff: Backoff,
    retry_at: Option<Instant>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<String>, shutdown: CancellationToken) {
        let mut in_flight: Option<(Source, u64, InFlight)> = None;
        loop {
            if in_flight.is_none() && self.retry_at.is_none() {
                in_flight = self.next_delivery();
            }
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                delivery = async { in_flight.as_mut().expect("guarded").2.as_mut().await }, if in_flight.is_some() => {
                    let (source, n_lines, _) = in_flight.take().expect("guarded");
                    self.finish(source, n_lines, delivery);
                }
                _ = sleep_until(self.retry_at.unwrap_or(far)), if self.retry_at.is_some() => self.retry_at = None,
                line = rx.recv(), if self.blocked.is_none() => match line {
                    Some(line) => self.push_line(line),
                    None => break,
                },
                _ = sleep_until(self.building_deadline.unwrap_or(far)), if self.building_deadline.is_some() && self.blocked.is_none() => {
                    self.seal();
                }
            }
        }
        drop(in_flight);
        self.spill_on_shutdown(rx);
    }

    fn push_line(&mut self, line: String) {
        if self.building.is_empty() {
            self.building_deadline = Some(Instant::now() + self.flush_interval);
        }
        self.building.push(line);
        if self.building.len() >= self.max_batch_lines {
            self.seal();
        }
    }

    fn seal(&mut self) {
        self.building_deadline = None;
        if self.building.is_empty() {
            return;
        }
        let batch = Batch {
            lines: Arc::new(std::mem::take(&mut self.building)),
        };
        if self.spool.is_empty() && self.memory.len() < MAX_MEMORY_BATCHES {
            self.memory.push_back(batch);
        } else {
            self.spool_append(batch);
        }
    }

    /// Puts a batch at the spool's back, applying the full policy.
    fn spool_append(&mut self, batch: Batch) {
        loop {
            match self.spool.append(&batch.joined(), batch.len() as u32) {
                Ok(()) => {
                    self.stats.spooled(batch.len());
                    self.stats.left_memory(batch.len());
                    break;
                }
                Err(SpoolError::Full { .. }) if self.policy == SpoolFullPolicy::DropOldest => {
                    match self.spool.drop_oldest() {
                        Ok(Some(lines)) => self
                            .stats
                            .dropped(lines, "spool full, oldest segment dropped"),
                        Ok(None) => unreachable!("a full spool has a segment"),
                        Err(error) => {
                            self.stats
                                .dropped(batch.len(), &format!("spool io: {error}"));
                            self.stats.left_memory(batch.len());
                            break;
                        }
                    }
                }
                Err(SpoolError::Full { .. }) => {
                    self.blocked = Some(batch);
                    break;
                }
                Err(error) => {
                    self.stats.dropped(batch.len(), &error.to_string());
                    self.stats.left_memory(batch.len());
                    break;
                }
            }
        }
        self.publish_spool_state();
    }

    fn publish_spool_state(&self) {
        self.stats.spool_state(
            self.spool.bytes(),
            self.spool.lines(),
            self.spool.corrupt_records(),
        );
    }

    /// The next batch to send: memory first (it is older), then the spool.
    fn next_delivery(&mut self) -> Option<(Source, u64, InFlight)> {
        let (source, lines) = if let Some(batch) = self.memory.front() {
            (Source::Memory, batch.lines.clone())
        } else {
            let spooled = match self.spool.peek() {
                Ok(spooled) => spooled?,
                Err(error) => {
                    error!(%error, "reading the influxdb spool");
                    self.retry_at = Some(Instant::now() + Duration::from_secs(1));
                    return None;
                }
            };
            self.publish_spool_state();
            let text = String::from_utf8_lossy(&spooled.lines);
            let lines: Vec<String> = influxdb_line_protocol::split_lines(&text)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            (Source::Spool(spooled.id), Arc::new(lines))
        };
        let n_lines = lines.len() as u64;
        let client = self.client.clone();
        let stats = self.stats.clone();
        Some((
            source,
            n_lines,
            Box::pin(async move { deliver(&*client, &stats, &lines).await }),
        ))
    }

    fn finish(&mut self, source: Source, n_lines: u64, delivery: Delivery) {
        match delivery {
            Delivery::Done { rejected } => {
                self.backoff.reset();
                self.stats.written(n_lines - rejected.len() as u64);
                self.quarantine_lines(rejected);
                match source {
                    Source::Memory => {
                        self.memory.pop_front();
                        self.stats.left_memory(n_lines);
                    }
                    Source::Spool(id) => {
                        if let Err(error) = self.spool.ack(id) {
                            error!(%error, "removing a written batch from the influxdb spool");
                        }
                        self.publish_spool_state();
                        if let Some(batch) = self.blocked.take() {
                            self.spool_append(batch);
                        }
                    }
                }
            }
            Delivery::Retry { after, reason } => {
                let wait = after.unwrap_or_else(|| self.backoff.next_delay(rand::random::<f64>()));
                self.stats
                    .retry(&reason, wait.as_millis(), self.backoff.failures().max(1));
                self.retry_at = Some(Instant::now() + wait);
                if matches!(source, Source::Memory) {
                    self.spill_memory();
                }
            }
        }
    }

    /// Moves the in-memory batches to the spool's front, oldest first, so an outage never depends on memory.
    /// Batches that do not fit stay in memory and are still sent first.
    fn spill_memory(&mut self) {
        while let Some(batch) = self.memory.pop_back() {
            match self.spool.prepend(&batch.joined(), batch.len() as u32) {
                Ok(()) => {
                    self.stats.spooled(batch.len());
                    self.stats.left_memory(batch.len());
                }
                Err(_) => {
                    self.memory.push_back(batch);
                    break;
                }
            }
        }
        self.publish_spool_state();
    }

    fn quarantine_lines(&mut self, rejected: Vec<(String, String)>) {
        // Lines rejected for the same reason are stored together (one fsync).
        let mut start = 0;
        while start < rejected.len() {
            let reason = &rejected[start].1;
            let end = start
                + rejected[start..]
                    .iter()
                    .take_while(|(_, r)| r == reason)
                    .count();
            let lines = rejected[start..end].iter().map(|(l, _)| l.as_str());
            match self.quarantine.add(lines, reason) {
                Ok(outcome) => {
                    if outcome.kept > 0 {
                        self.stats.quarantined(outcome.kept, reason);
                    }
                    if outcome.dropped > 0 {
                        self.stats.dropped(outcome.dropped, "quarantine file full");
                    }
                }
                Err(error) => self
                    .stats
                    .dropped((end - start) as u64, &format!("quarantine io: {error}")),
            }
            start = end;
        }
    }

    /// On shutdown nothing is sent any more: what is held in memory goes to the spool, for the next start.
    fn spill_on_shutdown(mut self, mut rx: mpsc::Receiver<String>) {
        rx.close();
        self.spill_memory();
        if !self.memory.is_empty() {
            let lines: u64 = self.memory.iter().map(Batch::len).sum();
            self.stats.dropped(lines, "spool full at shutdown");
            self.stats.left_memory(lines);
            self.memory.clear();
        }
        // Under `block`, waiting for room is impossible now: the append below drops what does not fit.
        self.policy = SpoolFullPolicy::DropOldest;
        if let Some(batch) = self.blocked.take() {
            self.spool_append(batch);
        }
        while let Ok(line) = rx.try_recv() {
            self.building.push(line);
            if self.building.len() >= self.max_batch_lines {
                let batch = Batch {
                    lines: Arc::new(std::mem::take(&mut self.building)),
                };
                self.spool_append(batch);
            }
        }
        if !self.building.is_empty() {
            let batch = Batch {
                lines: Arc::new(std::mem::take(&mut self.building)),
            };
            self.spool_append(batch);
        }
        info!(
            lines = self.spool.lines(),
            bytes = self.spool.bytes(),
            "influxdb sink stopped; spool kept"
        );
    }
}

/// Writes `lines`, isolating the ones the server rejects by bisection (or by the line numbers it reports).
async fn deliver(client: &dyn WriteClient, stats: &Stats, lines: &[String]) -> Delivery {
    let mut rejected = Vec::new();
    // Ranges still to write, the next one on top; halves are pushed back so the lower half goes first.
    let mut todo: Vec<Range<usize>> = Vec::new();
    todo.push(0..lines.len());
    while let Some(range) = todo.pop() {
        if range.is_empty() {
            continue;
        }
        let body = lines[range.clone()].join("\n").into_bytes();
        stats.request();
        let response = client.write(body).await;
        match classify(&response) {
            Verdict::Done => {}
            Verdict::Retry { after, reason } => return Delivery::Retry { after, reason },
            Verdict::Permanent { reason } => {
                rejected.extend(lines[range].iter().map(|l| (l.clone(), reason.clone())));
            }
            Verdict::Isolate { reason } => {
                let numbers = match &response {
                    super::retry::WriteResponse::Status { body, .. } => rejected_line_numbers(body),
                    _ => None,
                };
                if range.len() == 1 {
                    rejected.push((lines[range.start].clone(), reason));
                } else if let Some(numbers) =
                    numbers.filter(|n| n.iter().all(|&n| n >= 1 && n <= range.len()))
                {
                    // The server wrote the others and told which lines it refused.
                    for n in numbers {
                        rejected.push((lines[range.start + n - 1].clone(), reason.clone()));
                    }
                } else {
                    let mid = range.start + range.len() / 2;
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
            }
        }
    }
    Delivery::Done { rejected }
}
