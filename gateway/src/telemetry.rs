//! The gateway's own telemetry: counters shown on `GET /metrics` (Prometheus text format), and the log lines that
//! go with them. A rejection is counted and logged through one function, so the log and the counter never disagree;
//! the log is limited to one line per reason and source per minute, the counter never is.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why an MQTT message was not applied to the hall model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The topic is outside the hall prefix or matches no known shape.
    UnknownTopic,
    /// The payload is larger than `ingest.max_payload_bytes`.
    PayloadTooLarge,
    /// The payload is not valid JSON of the topic's type.
    MalformedPayload,
    /// The payload's schema version is not one this gateway knows.
    UnsupportedVersion,
    /// The device id is not in the hall config.
    UnknownDevice,
    /// The window id is not in the hall config.
    UnknownWindow,
    /// A retained `offline` from an older boot than the live one (DEV-1).
    StaleStatus,
    /// A ticket event's service type is not in the hall config.
    UnknownService,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        RejectReason::UnknownTopic,
        RejectReason::PayloadTooLarge,
        RejectReason::MalformedPayload,
        RejectReason::UnsupportedVersion,
        RejectReason::UnknownDevice,
        RejectReason::UnknownWindow,
        RejectReason::StaleStatus,
        RejectReason::UnknownService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownTopic => "unknown_topic",
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::MalformedPayload => "malformed_payload",
            RejectReason::UnsupportedVersion => "unsupported_version",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::UnknownWindow => "unknown_window",
            RejectReason::StaleStatus => "stale_status",
            RejectReason::UnknownService => "unknown_service",
        }
    }

    fn idx(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

const LOG_EVERY: Duration = Duration::from_secs(60);

/// Counters of the gateway, shared by all tasks.
#[derive(Default)]
pub struct Telemetry {
    pub messages_received: AtomicU64,
    pub messages_applied: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    pub broker_connected: AtomicBool,
    pub broker_connects: AtomicU64,
    pub broker_errors: AtomicU64,
    pub live_clients: AtomicI64,
    pub live_resyncs: AtomicU64,
    pub deltas_sent: AtomicU64,
    pub alerts_raised: AtomicU64,
    last_logged: Mutex<HashMap<(RejectReason, String), Instant>>,
}

impl Telemetry {
    /// Counts a rejection and logs it, at most once per reason and source per minute.
    pub fn reject(&self, reason: RejectReason, source: &str, detail: &dyn std::fmt::Display) {
        self.rejected[reason.idx()].fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_logged.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let key = (reason, source.to_owned());
        if last
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < LOG_EVERY)
        {
            return;
        }
        if last.len() > 10_000 {
            last.retain(|_, t| now.duration_since(*t) < LOG_EVERY);
        }
        last.insert(key, now);
        tracing::warn!(reason = reason.as_str(), source, %detail, "message rejected (logged once a minute per source)");
    }

    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected[reason.idx()].load(Ordering::Relaxed)
    }

    /// Appends the gateway's counters in Prometheus text format.
    pub fn render_prometheus(&self, out: &mut String) {
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            out,
            "hallwatch_messages_received_total",
            "MQTT messages received.",
            load(&self.messages_received),
        );
        counter(
            out,
            "hallwatch_messages_applied_total",
            "MQTT messages applied to the hall model.",
            load(&self.messages_applied),
        );
        let _ = writeln!(
            out,
            "# HELP hallwatch_messages_rejected_total MQTT messages rejected, by reason.\n# TYPE hallwatch_messages_rejected_total counter"
        );
        for r in RejectReason::ALL {
            let _ = writeln!(
                out,
                "hallwatch_messages_rejected_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.rejected(r)
            );
        }
        gauge(
            out,
            "hallwatch_broker_connected",
            "1 while connected to the MQTT broker.",
            self.broker_connected.load(Ordering::Relaxed) as i64,
        );
        counter(
            out,
            "hallwatch_broker_connects_total",
            "Successful connections to the broker.",
            load(&self.broker_connects),
        );
        counter(
            out,
            "hallwatch_broker_errors_total",
            "Broker connection errors.",
            load(&self.broker_errors),
        );
        gauge(
            out,
            "hallwatch_live_clients",
            "Connected live WebSocket clients.",
            self.live_clients.load(Ordering::Relaxed),
        );
        counter(
            out,
            "hallwatch_live_resyncs_total",
            "Fresh snapshots sent to live clients that fell behind.",
            load(&self.live_resyncs),
        );
        counter(
            out,
            "hallwatch_deltas_total",
            "Live deltas published.",
            load(&self.deltas_sent),
        );
        counter(
            out,
            "hallwatch_alerts_raised_total",
            "Alerts raised since start.",
            load(&self.alerts_raised),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_counted_even_when_the_log_is_limited() {
        let t = Telemetry::default();
        for _ in 0..5 {
            t.reject(RejectReason::MalformedPayload, "kiosk-1", &"expected value");
        }
        assert_eq!(t.rejected(RejectReason::MalformedPayload), 5);
        let mut out = String::new();
        t.render_prometheus(&mut out);
        assert!(
            out.contains("hallwatch_messages_rejected_total{reason=\"malformed_payload\"} 5"),
            "{out}"
        );
    }
}
