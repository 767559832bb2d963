//! Pieces of an MQTT device link shared by `hall-agent` and `hall-sim`: client ids, the status payloads (online,
//! clean offline, last will) and the reconnect backoff.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::payload::{LinkState, StatusPayload};
use hall_protocol::topic::Topic;
use rumqttc::{LastWill, QoS};

/// Reason carried by the offline status registered as the last will.
pub const REASON_LAST_WILL: &str = "last_will";
/// Reason carried by the offline status published on a clean stop.
pub const REASON_SHUTDOWN: &str = "shutdown";

/// Longest client id we produce. MQTT 3.1.1 only guarantees 23 characters, but every broker we target (Mosquitto,
/// EMQX, rumqttd) accepts far more; 64 keeps ids readable without pushing limits.
const MAX_CLIENT_ID_LEN: usize = 64;

/// A client id for a device: `{prefix}{id}` with anything outside `[A-Za-z0-9_-]` replaced by `_`, and a short
/// stable hash of the full device id appended, so that ids which differ only in non-ASCII characters
/// (`自助查询机 A区` and `自助查询机 B区`) still get distinct client ids. Brokers disconnect the older of two
/// clients sharing an id, so distinctness matters more than beauty.
pub fn client_id(prefix: &str, device_id: &str) -> String {
    let mut cleaned: String = device_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let budget = MAX_CLIENT_ID_LEN.saturating_sub(prefix.len() + 9);
    cleaned.truncate(budget);
    format!("{prefix}{cleaned}-{:08x}", fnv1a32(device_id.as_bytes()))
}

/// FNV-1a, 32 bits: tiny, stable across releases and platforms (unlike `DefaultHasher`).
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The retained status topic of a device.
pub fn status_topic(prefix: &str, device_id: &str) -> String {
    Topic::DeviceStatus {
        device_id: device_id.to_owned(),
    }
    .to_topic(prefix)
}

/// The `online` status published (retained) after every ConnAck.
pub fn online(boot_id: &str, at: DateTime<FixedOffset>) -> StatusPayload {
    StatusPayload {
        v: SCHEMA_VERSION,
        state: LinkState::Online,
        boot_id: boot_id.to_owned(),
        at: Some(at),
        reason: None,
    }
}

/// An `offline` status with a reason.
pub fn offline(boot_id: &str, at: Option<DateTime<FixedOffset>>, reason: &str) -> StatusPayload {
    StatusPayload {
        v: SCHEMA_VERSION,
        state: LinkState::Offline,
        boot_id: boot_id.to_owned(),
        at,
        reason: Some(reason.to_owned()),
    }
}

/// The retained QoS 1 last will for one connection of a device. It carries no time: it is registered long before
/// the broker sends it.
pub fn last_will(prefix: &str, device_id: &str, boot_id: &str) -> LastWill {
    let payload = to_json(&offline(boot_id, None, REASON_LAST_WILL));
    LastWill::new(
        status_topic(prefix, device_id),
        payload,
        QoS::AtLeastOnce,
        true,
    )
}

/// Serialises a wire payload. Our payload types are plain data, so this cannot fail.
pub fn to_json<T: serde::Serialize>(payload: &T) -> Vec<u8> {
    serde_json::to_vec(payload).expect("wire payloads serialise")
}

/// Capped exponential backoff between reconnection attempts: 1 s, 2 s, 4 s … up to the cap; reset on ConnAck.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at one second (or the cap, if smaller).
    pub fn new(max: Duration) -> Backoff {
        let max = max.max(Duration::from_millis(100));
        Backoff {
            next: Duration::from_secs(1).min(max),
            max,
        }
    }

    /// The wait before the next attempt; doubles the one after it.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to the first step, after a successful connection.
    pub fn reset(&mut self) {
        self.next = Duration::from_secs(1).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_ascii_and_distinct_for_unicode_ids() {
        let a = client_id("ha-", "自助查询机 A区");
        let b = client_id("ha-", "自助查询机 B区");
        assert_ne!(a, b);
        assert!(a.starts_with("ha-"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
        assert_eq!(client_id("ha-", "kiosk-01"), client_id("ha-", "kiosk-01"));
        assert!(client_id("ha-", &"x".repeat(500)).len() <= MAX_CLIENT_ID_LEN);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let seen: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seen, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn last_will_is_a_retained_offline_with_the_boot_id() {
        let will = last_will("hall/h1", "自助查询机 A区", "boot-1");
        assert!(will.retain);
        assert_eq!(will.qos, QoS::AtLeastOnce);
        assert_eq!(will.topic, "hall/h1/device/自助查询机 A区/status");
        let status: StatusPayload = serde_json::from_slice(&will.message).unwrap();
        assert_eq!(status.state, LinkState::Offline);
        assert_eq!(status.boot_id, "boot-1");
        assert_eq!(status.reason.as_deref(), Some(REASON_LAST_WILL));
    }
}
