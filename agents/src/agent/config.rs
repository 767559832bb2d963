//! The agent's configuration file (`config/agent.example.toml`): which broker, which device, how often to
//! heartbeat, which peripheral checks to run, and the intranet-compliance probes (internet reachability, removable
//! media).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use hall_protocol::payload::Severity;
use serde::{Deserialize, Serialize};

/// Environment variable that overrides `broker.password`, so the secret need not sit in the file.
pub const PASSWORD_ENV: &str = "HALLWATCH_MQTT_PASSWORD";

/// The whole `hall-agent` configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Id of the hall this device belongs to; the topic prefix defaults to `hall/{hall_id}`.
    pub hall_id: String,
    /// MQTT topic prefix, when the hall does not use the default `hall/{hall_id}`.
    #[serde(default)]
    pub topic_prefix: Option<String>,
    /// This device's id, exactly as in the hall configuration (any Unicode allowed).
    pub device_id: String,
    /// Seconds between heartbeats; keep it equal to the device's interval in the hall configuration.
    #[serde(default = "default_heartbeat_interval_secs")]
    pub heartbeat_interval_secs: u64,
    /// The MQTT broker.
    #[serde(default)]
    pub broker: AgentBrokerConfig,
    /// Peripheral checks, run every heartbeat; results go into the heartbeat's `checks.peripherals`, and a check
    /// that starts or stops failing publishes one `fault_raised` / `fault_cleared` event (DEV-2).
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
    /// Internet-reachability probe for intranet machines (DEV-4); off when absent.
    #[serde(default)]
    pub internet_probe: Option<InternetProbeConfig>,
    /// Removable-media report (DEV-5).
    #[serde(default)]
    pub media: MediaConfig,
}

/// The internet-reachability probe: a TCP connect to each target; the machine reaches the internet if any
/// connects. The result goes into every heartbeat's `checks.internet_reachable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetProbeConfig {
    /// `host:port` targets on the internet, e.g. `223.5.5.5:53` (a public DNS server), `example.com:443`.
    pub targets: Vec<String>,
    /// How long one connect may take before it counts as unreachable.
    #[serde(default = "default_probe_timeout_ms")]
    pub timeout_ms: u64,
    /// Seconds between probes; at least 60, so the probe never looks like traffic of its own.
    #[serde(default = "default_probe_interval_secs")]
    pub interval_secs: u64,
}

/// Removable-media reporting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Report mounted removable storage (serial, label, mount point) in every heartbeat's
    /// `checks.removable_media`. Linux reads sysfs and `/dev/disk/by-id`; other systems report nothing.
    #[serde(default)]
    pub enabled: bool,
}

/// How the agent reaches the MQTT broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBrokerConfig {
    /// Broker host name or address.
    #[serde(default = "default_host")]
    pub host: String,
    /// Broker TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// MQTT username, if the broker requires one (per-device accounts are recommended).
    #[serde(default)]
    pub username: Option<String>,
    /// MQTT password; the `HALLWATCH_MQTT_PASSWORD` environment variable wins over this field.
    #[serde(default)]
    pub password: Option<String>,
    /// MQTT client id; default `ha-{device id, sanitised}-{hash}`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// MQTT keep-alive. The broker sends the last will after 1.5 times this without traffic from a vanished agent.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
    /// Longest wait between reconnection attempts; waits double from 1 s up to this.
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
}

impl Default for AgentBrokerConfig {
    fn default() -> Self {
        AgentBrokerConfig {
            host: default_host(),
            port: default_port(),
            username: None,
            password: None,
            client_id: None,
            keep_alive_secs: default_keep_alive_secs(),
            max_backoff_secs: default_max_backoff_secs(),
        }
    }
}

/// One peripheral check: a command whose exit status says whether the peripheral works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Name shown with the result, e.g. `receipt_printer`.
    pub name: String,
    /// Shell command (`sh -c` on Unix, `cmd /C` on Windows); exit status 0 means the peripheral is fine.
    pub command: String,
    /// Fault code reported while the check fails, e.g. `printer_offline` (DEV-2); used for every failure that
    /// `exit_codes` does not name, including a timeout or a command that cannot start.
    pub fault_code: String,
    /// Fault codes by exit status, e.g. `{ 1 = "printer_paper_low", 2 = "printer_paper_out", 3 = "printer_jam" }`,
    /// for a check command that tells several faults apart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exit_codes: BTreeMap<String, String>,
    /// Severity of that fault.
    #[serde(default)]
    pub severity: Severity,
    /// A check still running after this many seconds is killed and counts as failed.
    #[serde(default = "default_check_timeout_secs")]
    pub timeout_secs: u64,
}

impl CheckConfig {
    /// The fault code for a failed run: the one `exit_codes` names for `exit_status`, else `fault_code`.
    pub fn fault_code_for(&self, exit_status: Option<i32>) -> &str {
        exit_status
            .and_then(|c| {
                self.exit_codes
                    .iter()
                    .find(|(k, _)| k.parse::<i32>().ok() == Some(c))
            })
            .map_or(self.fault_code.as_str(), |(_, v)| v.as_str())
    }
}

/// The internet probe never runs more often than this (issue: "never more than one probe a minute").
pub const MIN_PROBE_INTERVAL_SECS: u64 = 60;

impl AgentConfig {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading agent config {}", path.display()))?;
        let config: AgentConfig = toml::from_str(&text)
            .with_context(|| format!("parsing agent config {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("checking agent config {}", path.display()))?;
        Ok(config)
    }

    /// Rejects values that would make the agent misbehave rather than fail loudly.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.device_id.is_empty(), "device_id: must not be empty");
        anyhow::ensure!(
            !self.hall_id.is_empty() || self.topic_prefix.is_some(),
            "hall_id: must not be empty"
        );
        anyhow::ensure!(
            self.heartbeat_interval_secs >= 1,
            "heartbeat_interval_secs: must be at least 1"
        );
        anyhow::ensure!(
            self.broker.keep_alive_secs == 0 || self.broker.keep_alive_secs >= 1,
            "broker.keep_alive_secs: must be 0 (off) or at least 1"
        );
        anyhow::ensure!(
            self.broker.max_backoff_secs >= 1,
            "broker.max_backoff_secs: must be at least 1"
        );
        for (i, check) in self.checks.iter().enumerate() {
            anyhow::ensure!(
                !check.command.trim().is_empty(),
                "checks[{i}].command: must not be empty"
            );
            anyhow::ensure!(
                check.timeout_secs >= 1,
                "checks[{i}].timeout_secs: must be at least 1"
            );
            for key in check.exit_codes.keys() {
                anyhow::ensure!(
                    key.parse::<i32>().is_ok_and(|c| c != 0),
                    "checks[{i}].exit_codes: {key:?} is not a non-zero exit status"
                );
            }
        }
        if let Some(probe) = &self.internet_probe {
            anyhow::ensure!(
                !probe.targets.is_empty(),
                "internet_probe.targets: must name at least one host:port"
            );
            for (i, target) in probe.targets.iter().enumerate() {
                let port = target.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
                anyhow::ensure!(
                    matches!(port, Some(Ok(_))),
                    "internet_probe.targets[{i}]: expected host:port, got {target:?}"
                );
            }
            anyhow::ensure!(
                probe.interval_secs >= MIN_PROBE_INTERVAL_SECS,
                "internet_probe.interval_secs: must be at least {MIN_PROBE_INTERVAL_SECS}, got {}",
                probe.interval_secs
            );
            anyhow::ensure!(
                (1..=30_000).contains(&probe.timeout_ms),
                "internet_probe.timeout_ms: must be between 1 and 30000, got {}",
                probe.timeout_ms
            );
        }
        Ok(())
    }

    /// The MQTT topic prefix.
    pub fn topic_prefix(&self) -> String {
        self.topic_prefix
            .clone()
            .unwrap_or_else(|| hall_protocol::topic::default_prefix(&self.hall_id))
    }

    /// The MQTT client id.
    pub fn client_id(&self) -> String {
        self.broker
            .client_id
            .clone()
            .unwrap_or_else(|| crate::link::client_id("ha-", &self.device_id))
    }

    /// The password: the environment variable if set, else the file's.
    pub fn password(&self) -> Option<String> {
        std::env::var(PASSWORD_ENV)
            .ok()
            .or_else(|| self.broker.password.clone())
    }
}

fn default_heartbeat_interval_secs() -> u64 {
    hall_protocol::config::default_heartbeat_interval_secs()
}
fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    1883
}
fn default_keep_alive_secs() -> u64 {
    30
}
fn default_max_backoff_secs() -> u64 {
    30
}
fn default_check_timeout_secs() -> u64 {
    5
}
fn default_probe_timeout_ms() -> u64 {
    1500
}
fn default_probe_interval_secs() -> u64 {
    60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg: AgentConfig =
            toml::from_str("hall_id = \"h1\"\ndevice_id = \"自助查询机 A区\"\n").unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.topic_prefix(), "hall/h1");
        assert_eq!(cfg.heartbeat_interval_secs, 10);
        assert_eq!(cfg.broker.port, 1883);
        assert!(cfg.client_id().starts_with("ha-"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            toml::from_str::<AgentConfig>("hall_id = \"h1\"\ndevice_id = \"d\"\nheartbeat = 3\n")
                .unwrap_err();
        assert!(err.to_string().contains("heartbeat"), "{err}");
    }

    #[test]
    fn exit_codes_map_to_fault_codes_and_probe_interval_is_at_least_a_minute() {
        let cfg: AgentConfig = toml::from_str(
            r#"hall_id = "h1"
device_id = "d"
[[checks]]
name = "printer"
command = "true"
fault_code = "printer_error"
exit_codes = { 1 = "printer_paper_low", 2 = "printer_paper_out", 3 = "printer_jam" }
[internet_probe]
targets = ["223.5.5.5:53", "example.com:443"]
[media]
enabled = true
"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        let check = &cfg.checks[0];
        assert_eq!(check.fault_code_for(Some(2)), "printer_paper_out");
        assert_eq!(check.fault_code_for(Some(9)), "printer_error");
        assert_eq!(check.fault_code_for(None), "printer_error");
        let probe = cfg.internet_probe.clone().unwrap();
        assert_eq!((probe.timeout_ms, probe.interval_secs), (1500, 60));
        assert!(cfg.media.enabled);

        let mut fast = cfg.clone();
        fast.internet_probe.as_mut().unwrap().interval_secs = 59;
        assert!(
            fast.validate()
                .unwrap_err()
                .to_string()
                .contains("interval_secs")
        );
        let mut bad = cfg;
        bad.checks[0].exit_codes.insert("x".into(), "y".into());
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("exit_codes")
        );
    }

    #[test]
    fn the_example_config_parses_and_validates() {
        let cfg: AgentConfig =
            toml::from_str(include_str!("../../../config/agent.example.toml")).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.checks[0].fault_code_for(Some(3)), "printer_jam");
        assert!(cfg.internet_probe.is_some() && cfg.media.enabled);
    }

    #[test]
    fn zero_interval_is_rejected() {
        let cfg: AgentConfig =
            toml::from_str("hall_id = \"h1\"\ndevice_id = \"d\"\nheartbeat_interval_secs = 0\n")
                .unwrap();
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("heartbeat_interval_secs")
        );
    }
}
