//! Decoding MQTT messages into model inputs: topic, size limit, JSON, schema version.
//!
//! Pure; the hub counts and logs what this refuses (see [`crate::telemetry`]).

use hall_protocol::SCHEMA_VERSION;
use hall_protocol::topic::Topic;
use serde::de::DeserializeOwned;

use crate::model::Input;
use crate::telemetry::RejectReason;

/// A message refused before it reached the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    /// Who sent it, as far as we can tell (device id, or the topic).
    pub source: String,
    pub detail: String,
}

/// Decodes one message received on `topic` under `prefix`.
pub fn decode(
    prefix: &str,
    max_payload_bytes: usize,
    topic: &str,
    payload: &[u8],
) -> Result<Input, Rejection> {
    let parsed = Topic::parse(prefix, topic).map_err(|e| Rejection {
        reason: RejectReason::UnknownTopic,
        source: topic.chars().take(200).collect(),
        detail: e.to_string(),
    })?;
    let source = match &parsed {
        Topic::DeviceStatus { device_id }
        | Topic::DeviceHeartbeat { device_id }
        | Topic::DeviceEvent { device_id } => device_id.clone(),
        Topic::WindowPresence { window_id } | Topic::Rating { window_id } => window_id.clone(),
        Topic::QueueTicket { dispenser_id } => dispenser_id.clone(),
        Topic::Attendance { terminal_id } => terminal_id.clone(),
    };
    if payload.len() > max_payload_bytes {
        return Err(Rejection {
            reason: RejectReason::PayloadTooLarge,
            source,
            detail: format!("{} bytes, limit {max_payload_bytes}", payload.len()),
        });
    }
    let input = match parsed {
        Topic::DeviceStatus { device_id } => Input::Status {
            payload: json(payload, &device_id)?,
            device_id,
        },
        Topic::DeviceHeartbeat { device_id } => Input::Heartbeat {
            payload: json(payload, &device_id)?,
            device_id,
        },
        Topic::DeviceEvent { device_id } => Input::DeviceEvent {
            payload: json(payload, &device_id)?,
            device_id,
        },
        Topic::WindowPresence { window_id } => Input::Presence {
            payload: json(payload, &window_id)?,
            window_id,
        },
        Topic::QueueTicket { dispenser_id } => Input::Ticket {
            payload: json(payload, &dispenser_id)?,
            dispenser_id,
        },
        Topic::Rating { window_id } => Input::Rating {
            payload: json(payload, &window_id)?,
            window_id,
        },
        Topic::Attendance { terminal_id } => Input::Punch {
            payload: json(payload, &terminal_id)?,
            terminal_id,
        },
    };
    Ok(input)
}

fn json<T: DeserializeOwned>(payload: &[u8], source: &str) -> Result<T, Rejection> {
    // Check the schema version first, so a future payload is refused for what it is, not as garbage.
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default)]
        v: Option<serde_json::Value>,
    }
    let rejection = |reason, detail: String| Rejection {
        reason,
        source: source.to_owned(),
        detail,
    };
    match serde_json::from_slice::<Version>(payload) {
        Ok(Version { v: Some(v) }) if v.as_u64() != Some(SCHEMA_VERSION as u64) => {
            return Err(rejection(
                RejectReason::UnsupportedVersion,
                format!("schema version {v}, expected {SCHEMA_VERSION}"),
            ));
        }
        _ => {}
    }
    serde_json::from_slice(payload)
        .map_err(|e| rejection(RejectReason::MalformedPayload, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "hall/h1";

    #[test]
    fn decodes_a_heartbeat() {
        let input = decode(
            P,
            1024,
            "hall/h1/device/自助机 1/heartbeat",
            br#"{"v":1,"seq":1,"boot_id":"b","sent_at":"2026-12-03T08:00:00+08:00"}"#,
        )
        .unwrap();
        assert!(matches!(input, Input::Heartbeat { ref device_id, .. } if device_id == "自助机 1"));
    }

    #[test]
    fn rejections_carry_their_reason() {
        let reason =
            |topic: &str, payload: &[u8]| decode(P, 64, topic, payload).unwrap_err().reason;
        assert_eq!(reason("elsewhere/x", b"{}"), RejectReason::UnknownTopic);
        assert_eq!(
            reason("hall/h1/device/k/heartbeat", &[b' '; 65]),
            RejectReason::PayloadTooLarge
        );
        assert_eq!(
            reason("hall/h1/device/k/heartbeat", b"{not json"),
            RejectReason::MalformedPayload
        );
        assert_eq!(
            reason("hall/h1/device/k/heartbeat", b"{\"v\":1}"),
            RejectReason::MalformedPayload
        );
        assert_eq!(
            reason("hall/h1/device/k/status", b"{\"v\":2,\"state\":\"online\"}"),
            RejectReason::UnsupportedVersion
        );
    }
}
