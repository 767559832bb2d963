//! The quarantine file: lines the server will never accept, kept with its reason for an operator to read, fix
//! and replay, instead of being retried forever or silently lost.
//!
//! `data_dir/influxdb-quarantine.jsonl` holds one JSON object per line:
//! `{"time":"2026-12-03T08:15:00Z","reason":"HTTP 400: ... field type conflict ...","line":"<line protocol>"}`.
//! The file is bounded; once full, further rejected lines are dropped and counted.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};

/// File name of the quarantine under the data directory.
pub const FILE_NAME: &str = "influxdb-quarantine.jsonl";

/// Appends rejected lines with their reasons.
#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    file: File,
    bytes: u64,
    max_bytes: u64,
}

/// What happened to the lines given to [`Quarantine::add`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineOutcome {
    pub kept: u64,
    pub dropped: u64,
}

impl Quarantine {
    pub fn open(data_dir: &Path, max_bytes: u64) -> io::Result<Quarantine> {
        let path = data_dir.join(FILE_NAME);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let bytes = file.metadata()?.len();
        Ok(Quarantine {
            path,
            file,
            bytes,
            max_bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `lines` as rejected for `reason`, synced to disk.
    pub fn add<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a str>,
        reason: &str,
    ) -> io::Result<QuarantineOutcome> {
        let time = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut out = Vec::new();
        let mut outcome = QuarantineOutcome::default();
        for line in lines {
            let entry = serde_json::json!({ "time": time, "reason": reason, "line": line });
            let mut text = entry.to_string();
            text.push('\n');
            if self.bytes + (out.len() + text.len()) as u64 > self.max_bytes {
                outcome.dropped += 1;
                continue;
            }
            out.extend_from_slice(text.as_bytes());
            outcome.kept += 1;
        }
        if !out.is_empty() {
            self.file.write_all(&out)?;
            self.file.sync_data()?;
            self.bytes += out.len() as u64;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_json_lines_and_the_file_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Quarantine::open(dir.path(), 200).unwrap();
        let outcome = q.add(["m,a=\"x\" v=1 1"], "HTTP 400: bad").unwrap();
        assert_eq!(
            outcome,
            QuarantineOutcome {
                kept: 1,
                dropped: 0
            }
        );
        let text = std::fs::read_to_string(q.path()).unwrap();
        let entry: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(entry["line"], "m,a=\"x\" v=1 1");
        assert_eq!(entry["reason"], "HTTP 400: bad");
        let outcome = q.add(["x"; 5], "HTTP 400: bad").unwrap();
        assert!(outcome.dropped > 0 && outcome.kept + outcome.dropped == 5);
        assert!(std::fs::metadata(q.path()).unwrap().len() <= 200);
    }
}
