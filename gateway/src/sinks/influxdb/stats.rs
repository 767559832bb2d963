//! The sink's counters, shared by the handle and the worker, and their Prometheus rendering.
//!
//! Events that both log and count go through [`Stats`] methods, so a log line and its counter never disagree.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tracing::{debug, error, warn};

/// Live counters; cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Stats {
    points_accepted: AtomicU64,
    points_invalid: AtomicU64,
    fields_omitted: AtomicU64,
    points_written: AtomicU64,
    points_spooled: AtomicU64,
    points_quarantined: AtomicU64,
    points_dropped: AtomicU64,
    write_requests: AtomicU64,
    retries: AtomicU64,
    spool_bytes: AtomicU64,
    spool_lines: AtomicU64,
    spool_corrupt_records: AtomicU64,
    lines_in_memory: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Points encoded and queued.
    pub points_accepted: u64,
    /// Points rejected locally (bad names, no fields) or refused because the queue was full.
    pub points_invalid: u64,
    /// NaN and infinite float fields left out of otherwise valid points.
    pub fields_omitted: u64,
    /// Lines the server acknowledged (a line sent twice after a crash or retry counts twice).
    pub points_written: u64,
    /// Lines written to the disk spool.
    pub points_spooled: u64,
    /// Lines the server rejected for good, kept in the quarantine file.
    pub points_quarantined: u64,
    /// Lines lost: queue full, spool full under `drop_oldest`, quarantine full, spool not writable.
    pub points_dropped: u64,
    /// Write requests sent, bisection requests included.
    pub write_requests: u64,
    /// Failed attempts that will be (or were) tried again.
    pub retries: u64,
    /// Bytes in the disk spool now.
    pub spool_bytes: u64,
    /// Lines in the disk spool now.
    pub spool_lines: u64,
    /// Spool records found damaged (torn writes, bad checksums) and skipped.
    pub spool_corrupt_records: u64,
    /// Lines held in memory now: queued, batching, or in a batch not yet written nor spooled.
    pub lines_in_memory: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            points_accepted: self.points_accepted.load(Relaxed),
            points_invalid: self.points_invalid.load(Relaxed),
            fields_omitted: self.fields_omitted.load(Relaxed),
            points_written: self.points_written.load(Relaxed),
            points_spooled: self.points_spooled.load(Relaxed),
            points_quarantined: self.points_quarantined.load(Relaxed),
            points_dropped: self.points_dropped.load(Relaxed),
            write_requests: self.write_requests.load(Relaxed),
            retries: self.retries.load(Relaxed),
            spool_bytes: self.spool_bytes.load(Relaxed),
            spool_lines: self.spool_lines.load(Relaxed),
            spool_corrupt_records: self.spool_corrupt_records.load(Relaxed),
            lines_in_memory: self.lines_in_memory.load(Relaxed),
        }
    }

    pub(super) fn accepted(&self, omitted_fields: usize) {
        self.points_accepted.fetch_add(1, Relaxed);
        self.lines_in_memory.fetch_add(1, Relaxed);
        if omitted_fields > 0 {
            self.fields_omitted
                .fetch_add(omitted_fields as u64, Relaxed);
            debug!(omitted_fields, "non-finite float fields omitted");
        }
    }

    /// Undo of [`Stats::accepted`] for a line the queue refused.
    pub(super) fn queue_refused(&self) {
        self.points_accepted.fetch_sub(1, Relaxed);
        self.lines_in_memory.fetch_sub(1, Relaxed);
        self.points_invalid.fetch_add(1, Relaxed);
        debug!("metrics queue full, point refused");
    }

    pub(super) fn invalid(&self, reason: &dyn std::fmt::Display) {
        self.points_invalid.fetch_add(1, Relaxed);
        debug!(%reason, "point rejected");
    }

    pub(super) fn request(&self) {
        self.write_requests.fetch_add(1, Relaxed);
    }

    pub(super) fn written(&self, lines: u64) {
        self.points_written.fetch_add(lines, Relaxed);
    }

    pub(super) fn left_memory(&self, lines: u64) {
        self.lines_in_memory.fetch_sub(lines, Relaxed);
    }

    pub(super) fn spooled(&self, lines: u64) {
        self.points_spooled.fetch_add(lines, Relaxed);
    }

    pub(super) fn quarantined(&self, lines: u64, reason: &str) {
        self.points_quarantined.fetch_add(lines, Relaxed);
        error!(lines, %reason, "influxdb rejected lines; kept in the quarantine file");
    }

    pub(super) fn dropped(&self, lines: u64, why: &str) {
        self.points_dropped.fetch_add(lines, Relaxed);
        error!(lines, why, "metric lines dropped");
    }

    pub(super) fn retry(&self, reason: &str, wait_ms: u128, failures: u32) {
        self.retries.fetch_add(1, Relaxed);
        if failures <= 1 {
            warn!(%reason, wait_ms, "influxdb write failed; retrying, spooling meanwhile");
        } else {
            debug!(%reason, wait_ms, failures, "influxdb write failed again");
        }
    }

    pub(super) fn spool_state(&self, bytes: u64, lines: u64, corrupt_records: u64) {
        self.spool_bytes.store(bytes, Relaxed);
        self.spool_lines.store(lines, Relaxed);
        self.spool_corrupt_records.store(corrupt_records, Relaxed);
    }
}

impl StatsSnapshot {
    /// Appends the counters in the Prometheus text exposition format.
    pub fn render_prometheus(&self, out: &mut String) {
        let rows: [(&str, &str, &str, u64); 13] = [
            (
                "points_accepted_total",
                "counter",
                "Points encoded and queued.",
                self.points_accepted,
            ),
            (
                "points_invalid_total",
                "counter",
                "Points rejected before sending.",
                self.points_invalid,
            ),
            (
                "fields_omitted_total",
                "counter",
                "NaN or infinite fields left out.",
                self.fields_omitted,
            ),
            (
                "points_written_total",
                "counter",
                "Lines acknowledged by InfluxDB.",
                self.points_written,
            ),
            (
                "points_spooled_total",
                "counter",
                "Lines written to the disk spool.",
                self.points_spooled,
            ),
            (
                "points_quarantined_total",
                "counter",
                "Lines rejected by InfluxDB and quarantined.",
                self.points_quarantined,
            ),
            (
                "points_dropped_total",
                "counter",
                "Lines lost (queue, spool or quarantine full).",
                self.points_dropped,
            ),
            (
                "write_requests_total",
                "counter",
                "Write requests sent.",
                self.write_requests,
            ),
            (
                "retries_total",
                "counter",
                "Write attempts that failed and are retried.",
                self.retries,
            ),
            (
                "spool_corrupt_records_total",
                "counter",
                "Damaged spool records skipped.",
                self.spool_corrupt_records,
            ),
            (
                "spool_bytes",
                "gauge",
                "Bytes in the disk spool.",
                self.spool_bytes,
            ),
            (
                "spool_lines",
                "gauge",
                "Lines in the disk spool.",
                self.spool_lines,
            ),
            (
                "lines_in_memory",
                "gauge",
                "Lines held in memory, not yet written nor spooled.",
                self.lines_in_memory,
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(out, "# HELP hallwatch_influxdb_{name} {help}");
            let _ = writeln!(out, "# TYPE hallwatch_influxdb_{name} {kind}");
            let _ = writeln!(out, "hallwatch_influxdb_{name} {value}");
        }
    }
}
