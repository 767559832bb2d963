//! The InfluxDB sink: the hall's metrics go to InfluxDB (v2 or v1 write API), batched, retried, spooled to disk
//! while the server is unreachable, and never lost silently.
//!
//! # Interface
//!
//! ```ignore
//! let sink = InfluxSink::start(&config, "hall-1", data_dir, shutdown.clone())?;   // -> SinkHandle
//! sink.send(Point::new("device_heartbeat", now).tag("device", id).field("cpu_pct", 12.5))?; // never waits
//! sink.send_async(point).await?;               // waits for queue room (the `block` policy's back-pressure)
//! let counters: StatsSnapshot = sink.stats();
//! sink.render_prometheus(&mut body);           // for GET /metrics
//! shutdown.cancel(); sink.stopped().await;     // memory is spooled, the next start sends it
//! ```
//!
//! # Guarantees
//!
//! - **At least once** for every line that reached the spool: a spooled batch is removed only after the server
//!   acknowledged it, and every append is fsynced, so `kill -9` loses nothing spooled. A batch may be sent twice
//!   after a crash or a failed-then-retried request; InfluxDB keeps one point per series and timestamp, so it is
//!   stored once.
//! - **In order**: batches are sent in the order they were sealed, the spool drained oldest first.
//! - **What memory may lose**: on `kill -9` while the server is healthy, the lines queued or batching in memory
//!   (at most `queue_lines` plus two batches). On a clean shutdown memory is spooled.
//! - **Bounded**: the spool never exceeds `spool_max_bytes`. When it is full, `drop_oldest` deletes the oldest
//!   segment and counts its lines in `points_dropped`; `block` stops taking lines: the queue fills, `send_async`
//!   waits and `send` refuses (counted in `points_invalid`).
//! - **Bad data never blocks good data**: points that cannot be encoded faithfully are refused at `send` with
//!   a reason (see [`point`]); lines the server rejects are isolated and quarantined (see [`retry`] for the
//!   rules and [`quarantine`] for the file); nothing is retried forever except a server that does not answer.
//!
//! # Layout
//!
//! [`point`] (points, encoding), [`client`] (the v1/v2 HTTP clients behind [`client::WriteClient`]), [`retry`]
//! (retry rules), [`spool`] (disk spool), [`quarantine`], [`stats`] (counters), [`sink`] (the worker).

pub mod client;
pub mod point;
pub mod quarantine;
pub mod retry;
pub mod sink;
pub mod spool;
pub mod stats;

#[cfg(test)]
mod integration_tests;

pub use point::{EncodeOptions, FieldValue, InvalidPoint, Point};
pub use sink::{InfluxSink, SendError, SinkError, SinkHandle};
pub use stats::StatsSnapshot;
