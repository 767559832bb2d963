//! Recording and replaying what the gateway ingests.
//!
//! A recording is JSON lines, one message each: `{"at": RFC 3339 with offset, "topic": ..., "payload": JSON}`.
//! A payload that was not JSON is recorded as a JSON string of its text (lossy for invalid UTF-8). Replay feeds the
//! lines through the same decoding and hall model as the live gateway, on a manual clock set to each line's `at`,
//! ticking once a second in between so that timers (debounces, heartbeat timeouts, phases) fire when they would
//! have. It prints every change and alert as JSON lines: this is how a rule is debugged ("why did this alert
//! fire?") and how rules are tested.

use std::io::{BufRead, Write};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use hall_protocol::api::{AlertView, Change};
use serde::{Deserialize, Serialize};

use crate::clock::{ManualClock, Now};
use crate::config::CheckedConfig;
use crate::ingest;
use crate::model::{Hall, ModelOptions};

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub at: DateTime<FixedOffset>,
    pub topic: String,
    pub payload: serde_json::Value,
}

impl Recorded {
    /// Records a message as received.
    pub fn new(at: DateTime<FixedOffset>, topic: &str, payload: &[u8]) -> Recorded {
        let payload = serde_json::from_slice(payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
        });
        Recorded {
            at,
            topic: topic.to_owned(),
            payload,
        }
    }

    /// The payload bytes to feed back.
    pub fn payload_bytes(&self) -> Vec<u8> {
        match &self.payload {
            serde_json::Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }
    }
}

/// What replay prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayOutput {
    /// Every change: devices, windows, alerts (the clock is left out).
    All,
    /// Alerts only, one compact line per lifecycle step.
    Alerts,
}

/// A compact alert line: what replay tests compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLine {
    pub at: DateTime<FixedOffset>,
    pub rule: String,
    pub kind: String,
    pub subject: String,
    pub state: String,
}

impl AlertLine {
    fn from_alert(at: DateTime<FixedOffset>, a: &AlertView) -> AlertLine {
        let state = serde_json::to_value(a.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        AlertLine {
            at,
            rule: a.rule.clone(),
            kind: a.kind.clone(),
            subject: a.subject.clone(),
            state,
        }
    }
}

/// Counts of a replay run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    pub messages: u64,
    pub rejected: u64,
    pub bad_lines: u64,
}

/// Replays `events` through the model, writing JSON lines to `out`. Lines that are not valid records are reported
/// on `errors` with their line number and skipped.
pub fn replay(
    cfg: &CheckedConfig,
    events: impl BufRead,
    output: ReplayOutput,
    grace: Duration,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> std::io::Result<ReplayStats> {
    let prefix = cfg.raw.topic_prefix();
    let max = cfg.raw.ingest.max_payload_bytes;
    let options = ModelOptions {
        startup_grace: grace,
        ..ModelOptions::for_config(&cfg.raw)
    };
    let mut hall = Hall::new(cfg, options, 1.0);
    let tz = cfg.calendar.tz();
    let mut clock: Option<ManualClock> = None;
    let mut stats = ReplayStats::default();
    let mut changes = Vec::new();
    let emit = |changes: &mut Vec<Change>, now: Now, out: &mut dyn Write| -> std::io::Result<()> {
        let at = now.wall.with_timezone(&tz).fixed_offset();
        for change in changes.drain(..) {
            match (output, &change) {
                (_, Change::Clock(_)) => {}
                (ReplayOutput::Alerts, Change::Alert(a)) => {
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&AlertLine::from_alert(at, a))?
                    )?;
                }
                (ReplayOutput::Alerts, _) => {}
                (ReplayOutput::All, change) => {
                    let line = serde_json::json!({ "at": at, "change": change });
                    writeln!(out, "{line}")?;
                }
            }
        }
        Ok(())
    };
    for (n, line) in events.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: Recorded = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                stats.bad_lines += 1;
                writeln!(errors, "line {}: not a record: {e}", n + 1)?;
                continue;
            }
        };
        let at = rec.at.with_timezone(&Utc);
        let clock = clock.get_or_insert_with(|| ManualClock::new(at));
        // Let time pass up to this message, a second at a time, so timers fire when they would have.
        let mut now = clock_now(clock);
        while now.wall + TimeDelta::seconds(1) < at {
            now = clock.set(now.wall + TimeDelta::seconds(1));
            hall.tick(now, &mut changes);
            emit(&mut changes, now, out)?;
        }
        // The message first, then the tick at the same instant: a heartbeat arriving exactly at a deadline
        // counts, as it does live (DEV-1).
        let now = clock.set(at);
        stats.messages += 1;
        match ingest::decode(&prefix, max, &rec.topic, &rec.payload_bytes()) {
            Ok(input) => {
                if hall.apply(input, now, &mut changes).is_err() {
                    stats.rejected += 1;
                }
            }
            Err(_) => stats.rejected += 1,
        }
        hall.tick(now, &mut changes);
        emit(&mut changes, now, out)?;
    }
    Ok(stats)
}

fn clock_now(clock: &ManualClock) -> Now {
    use crate::clock::Clock as _;
    clock.now()
}

/// Appends what the gateway ingests to a recording file.
pub struct Recorder {
    out: std::io::BufWriter<std::fs::File>,
    tz: chrono_tz::Tz,
}

impl Recorder {
    pub fn create(path: &std::path::Path, tz: chrono_tz::Tz) -> std::io::Result<Recorder> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Recorder {
            out: std::io::BufWriter::new(file),
            tz,
        })
    }

    pub fn record(
        &mut self,
        at: DateTime<Utc>,
        topic: &str,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let rec = Recorded::new(at.with_timezone(&self.tz).fixed_offset(), topic, payload);
        serde_json::to_writer(&mut self.out, &rec)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
