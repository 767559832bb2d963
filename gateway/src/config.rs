//! Loading and checking the hall configuration.
//!
//! The file's shape lives in `hall_protocol::config` (the simulator reads the same file). Here it is parsed and
//! validated once, at startup, into a [`CheckedConfig`]; `hall-gateway check-config FILE` prints every problem
//! with its path (`windows[3].b_post: unknown staff id "s-019"`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use hall_protocol::config::HallConfig;

use crate::model::calendar::Calendar;

/// One problem in a config file, with the path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading hall config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing hall config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("hall config {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: String,
        problems: Vec<ConfigProblem>,
    },
}

/// A validated hall config.
#[derive(Debug, Clone)]
pub struct CheckedConfig {
    pub raw: HallConfig,
    pub calendar: Calendar,
}

/// Reads, parses and validates a hall config file.
pub fn load(path: &Path) -> Result<CheckedConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Parses and validates config text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<CheckedConfig, ConfigError> {
    let raw: HallConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;
    check(raw).map_err(|problems| ConfigError::Invalid {
        path: origin.to_owned(),
        problems,
    })
}

/// Validates a parsed config, collecting every problem.
pub fn check(raw: HallConfig) -> Result<CheckedConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut problem =
        |path: String, message: String| problems.push(ConfigProblem { path, message });

    if raw.hall.id.trim().is_empty() {
        problem("hall.id".into(), "must not be empty".into());
    }
    if raw.ingest.max_payload_bytes == 0 {
        problem(
            "ingest.max_payload_bytes".into(),
            "must be greater than 0".into(),
        );
    }
    if raw.ingest.queue_len == 0 {
        problem("ingest.queue_len".into(), "must be greater than 0".into());
    }
    if raw.http.listen.parse::<std::net::SocketAddr>().is_err() {
        problem(
            "http.listen".into(),
            format!("not a socket address: {:?}", raw.http.listen),
        );
    }
    for (kind, k) in &raw.device_kinds {
        if k.heartbeat_interval_secs == Some(0) {
            problem(
                format!("device_kinds.{}.heartbeat_interval_secs", kind.as_str()),
                "must be greater than 0".into(),
            );
        }
        if k.missed_heartbeats == Some(0) {
            problem(
                format!("device_kinds.{}.missed_heartbeats", kind.as_str()),
                "must be greater than 0".into(),
            );
        }
    }

    let units: HashMap<&str, &hall_protocol::config::UnitConfig> =
        raw.units.iter().map(|u| (u.id.as_str(), u)).collect();
    let staff: HashMap<&str, &hall_protocol::config::StaffConfig> =
        raw.staff.iter().map(|s| (s.id.as_str(), s)).collect();
    let services: HashSet<&str> = raw.services.iter().map(|s| s.id.as_str()).collect();
    let windows: HashSet<&str> = raw.windows.iter().map(|w| w.id.as_str()).collect();

    duplicates(
        raw.units.iter().map(|u| u.id.as_str()),
        "units",
        &mut problem,
    );
    duplicates(
        raw.staff.iter().map(|s| s.id.as_str()),
        "staff",
        &mut problem,
    );
    duplicates(
        raw.services.iter().map(|s| s.id.as_str()),
        "services",
        &mut problem,
    );
    duplicates(
        raw.windows.iter().map(|w| w.id.as_str()),
        "windows",
        &mut problem,
    );
    duplicates(
        raw.devices.iter().map(|d| d.id.as_str()),
        "devices",
        &mut problem,
    );

    for (i, s) in raw.staff.iter().enumerate() {
        if !units.contains_key(s.unit.as_str()) {
            problem(
                format!("staff[{i}].unit"),
                format!("unknown unit id {:?}", s.unit),
            );
        }
    }
    let mut numbers = HashMap::new();
    for (i, w) in raw.windows.iter().enumerate() {
        if let Some(prev) = numbers.insert(w.number, i) {
            problem(
                format!("windows[{i}].number"),
                format!("window number {} is also used by windows[{prev}]", w.number),
            );
        }
        if !units.contains_key(w.unit.as_str()) {
            problem(
                format!("windows[{i}].unit"),
                format!("unknown unit id {:?}", w.unit),
            );
        }
        if !staff.contains_key(w.a_post.as_str()) {
            problem(
                format!("windows[{i}].a_post"),
                format!("unknown staff id {:?}", w.a_post),
            );
        }
        match &w.b_post {
            None => problem(
                format!("windows[{i}].b_post"),
                "every window needs a B post (POST-1)".into(),
            ),
            Some(b) if !staff.contains_key(b.as_str()) => problem(
                format!("windows[{i}].b_post"),
                format!("unknown staff id {b:?}"),
            ),
            Some(b) if *b == w.a_post => problem(
                format!("windows[{i}].b_post"),
                format!("{b:?} is also the A post; the B post must be someone else"),
            ),
            Some(_) => {}
        }
        for (j, s) in w.services.iter().enumerate() {
            if !services.contains(s.as_str()) {
                problem(
                    format!("windows[{i}].services[{j}]"),
                    format!("unknown service id {s:?}"),
                );
            }
        }
    }
    for (i, d) in raw.devices.iter().enumerate() {
        if d.id.is_empty() {
            problem(format!("devices[{i}].id"), "must not be empty".into());
        }
        if d.heartbeat_interval_secs == Some(0) {
            problem(
                format!("devices[{i}].heartbeat_interval_secs"),
                "must be greater than 0".into(),
            );
        }
        if d.missed_heartbeats == Some(0) {
            problem(
                format!("devices[{i}].missed_heartbeats"),
                "must be greater than 0".into(),
            );
        }
        if let Some(w) = &d.window {
            if !windows.contains(w.as_str()) {
                problem(
                    format!("devices[{i}].window"),
                    format!("unknown window id {w:?}"),
                );
            }
        }
    }
    // The media register (DEV-5): every medium is numbered and assigned to a known person.
    duplicates(
        raw.media.iter().map(|m| m.serial.as_str()),
        "media",
        &mut problem,
    );
    for (i, m) in raw.media.iter().enumerate() {
        if m.serial.trim().is_empty() {
            problem(format!("media[{i}].serial"), "must not be empty".into());
        }
        if !staff.contains_key(m.owner.as_str()) {
            problem(
                format!("media[{i}].owner"),
                format!("unknown staff id {:?}", m.owner),
            );
        }
    }

    let calendar = Calendar::from_config(&raw.calendar);
    if let Err(cal) = &calendar {
        for (path, message) in cal {
            problem(path.clone(), message.clone());
        }
    }
    match calendar {
        Ok(calendar) if problems.is_empty() => Ok(CheckedConfig { raw, calendar }),
        _ => Err(problems),
    }
}

fn duplicates<'a>(
    ids: impl Iterator<Item = &'a str>,
    section: &str,
    problem: &mut impl FnMut(String, String),
) {
    let mut seen = HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(first) = seen.insert(id, i) {
            problem(
                format!("{section}[{i}].id"),
                format!("duplicate id {id:?} (first at {section}[{first}])"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = r#"
[hall]
id = "h1"

[[units]]
id = "u1"
name = "社保科"
kind = "single"

[[staff]]
id = "s-001"
name = "张三"
unit = "u1"

[[staff]]
id = "s-002"
name = "李四"
unit = "u9"

[[windows]]
id = "w1"
number = 1
unit = "u1"
a_post = "s-001"
b_post = "s-019"

[[windows]]
id = "w2"
number = 1
unit = "u1"
a_post = "s-001"

[[devices]]
id = "k1"
kind = "self_service_kiosk"
location = "东区"
window = "w9"
heartbeat_interval_secs = 0
"#;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let Err(ConfigError::Invalid { problems, .. }) = parse(BAD, "bad.toml") else {
            panic!("expected problems")
        };
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        for want in [
            "staff[1].unit: unknown unit id \"u9\"",
            "windows[0].b_post: unknown staff id \"s-019\"",
            "windows[1].b_post: every window needs a B post (POST-1)",
            "windows[1].number: window number 1 is also used by windows[0]",
            "devices[0].window: unknown window id \"w9\"",
            "devices[0].heartbeat_interval_secs: must be greater than 0",
        ] {
            assert!(
                shown.iter().any(|s| s == want),
                "missing {want:?} in {shown:#?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = parse("[hall]\nid = \"h1\"\ncolour = \"red\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
