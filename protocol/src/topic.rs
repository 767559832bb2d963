//! MQTT topic scheme: `{prefix}/device/{device_id}/status` and friends, under one configurable prefix
//! (default `hall/{hall_id}`).
//!
//! Ids may hold any Unicode, spaces and punctuation. The characters MQTT gives a meaning in a topic level
//! (`/`, `+`, `#`), the escape character `%` itself and NUL are percent-encoded in a level, so every id survives
//! the round trip exactly.

use std::fmt;

/// A parsed topic below the hall prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// Retained `online` / `offline` status; the agent's last will is the `offline` one.
    DeviceStatus { device_id: String },
    /// Periodic heartbeat with host metrics and check results.
    DeviceHeartbeat { device_id: String },
    /// Fault raised / cleared.
    DeviceEvent { device_id: String },
    /// Staff sign-in, sign-out, step-away and return at a window.
    WindowPresence { window_id: String },
    /// Ticket issued / called / served / no-show from a queue dispenser or caller.
    QueueTicket { dispenser_id: String },
    /// A citizen's rating from a window's rating pad.
    Rating { window_id: String },
    /// A punch on an attendance terminal.
    Attendance { terminal_id: String },
}

/// Why a topic is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicError {
    /// The topic does not start with the hall prefix.
    OutsidePrefix,
    /// The part after the prefix matches no known shape.
    UnknownShape,
    /// An id level is empty or holds a malformed percent escape.
    BadId,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TopicError::OutsidePrefix => "topic outside the hall prefix",
            TopicError::UnknownShape => "topic matches no known shape",
            TopicError::BadId => "topic id level is empty or badly escaped",
        })
    }
}

impl std::error::Error for TopicError {}

/// The default prefix for a hall: `hall/{hall_id}` (the id escaped as a topic level).
pub fn default_prefix(hall_id: &str) -> String {
    format!("hall/{}", encode_level(hall_id))
}

/// Percent-encodes the characters that cannot appear literally in one topic level.
pub fn encode_level(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            '+' => out.push_str("%2B"),
            '#' => out.push_str("%23"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`encode_level`]. Fails on an empty level or a malformed escape.
pub fn decode_level(level: &str) -> Result<String, TopicError> {
    if level.is_empty() {
        return Err(TopicError::BadId);
    }
    if !level.contains('%') {
        return Ok(level.to_owned());
    }
    let bytes = level.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = level.get(i + 1..i + 3).ok_or(TopicError::BadId)?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| TopicError::BadId)?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TopicError::BadId)
}

impl Topic {
    /// The full topic string under `prefix`.
    pub fn to_topic(&self, prefix: &str) -> String {
        let (kind, id, tail) = match self {
            Topic::DeviceStatus { device_id } => ("device", device_id, Some("status")),
            Topic::DeviceHeartbeat { device_id } => ("device", device_id, Some("heartbeat")),
            Topic::DeviceEvent { device_id } => ("device", device_id, Some("event")),
            Topic::WindowPresence { window_id } => ("window", window_id, Some("presence")),
            Topic::QueueTicket { dispenser_id } => ("queue", dispenser_id, Some("ticket")),
            Topic::Rating { window_id } => ("rating", window_id, None),
            Topic::Attendance { terminal_id } => ("attendance", terminal_id, None),
        };
        match tail {
            Some(tail) => format!("{prefix}/{kind}/{}/{tail}", encode_level(id)),
            None => format!("{prefix}/{kind}/{}", encode_level(id)),
        }
    }

    /// Parses a full topic received under `prefix`.
    pub fn parse(prefix: &str, topic: &str) -> Result<Topic, TopicError> {
        let rest = topic
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or(TopicError::OutsidePrefix)?;
        let levels: Vec<&str> = rest.split('/').collect();
        let topic = match levels.as_slice() {
            ["device", id, "status"] => Topic::DeviceStatus {
                device_id: decode_level(id)?,
            },
            ["device", id, "heartbeat"] => Topic::DeviceHeartbeat {
                device_id: decode_level(id)?,
            },
            ["device", id, "event"] => Topic::DeviceEvent {
                device_id: decode_level(id)?,
            },
            ["window", id, "presence"] => Topic::WindowPresence {
                window_id: decode_level(id)?,
            },
            ["queue", id, "ticket"] => Topic::QueueTicket {
                dispenser_id: decode_level(id)?,
            },
            ["rating", id] => Topic::Rating {
                window_id: decode_level(id)?,
            },
            ["attendance", id] => Topic::Attendance {
                terminal_id: decode_level(id)?,
            },
            _ => return Err(TopicError::UnknownShape),
        };
        Ok(topic)
    }

    /// The subscription filter that covers every topic of a hall.
    pub fn subscription(prefix: &str) -> String {
        format!("{prefix}/#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_ids_round_trip() {
        let prefix = default_prefix("示范大厅");
        for id in [
            "kiosk-01",
            "窗口 3号",
            "a/b+c#d%e",
            "x=1,y=\"2\"\\",
            "100%",
            "é\u{0}z",
        ] {
            for t in [
                Topic::DeviceStatus {
                    device_id: id.into(),
                },
                Topic::DeviceHeartbeat {
                    device_id: id.into(),
                },
                Topic::DeviceEvent {
                    device_id: id.into(),
                },
                Topic::WindowPresence {
                    window_id: id.into(),
                },
                Topic::QueueTicket {
                    dispenser_id: id.into(),
                },
                Topic::Rating {
                    window_id: id.into(),
                },
                Topic::Attendance {
                    terminal_id: id.into(),
                },
            ] {
                let s = t.to_topic(&prefix);
                assert_eq!(Topic::parse(&prefix, &s), Ok(t), "{s}");
            }
        }
    }

    #[test]
    fn foreign_and_malformed_topics_are_rejected() {
        let p = "hall/h1";
        assert_eq!(
            Topic::parse(p, "other/h1/device/x/status"),
            Err(TopicError::OutsidePrefix)
        );
        assert_eq!(
            Topic::parse(p, "hall/h10/device/x/status"),
            Err(TopicError::OutsidePrefix)
        );
        assert_eq!(
            Topic::parse(p, "hall/h1/device/x/colour"),
            Err(TopicError::UnknownShape)
        );
        assert_eq!(
            Topic::parse(p, "hall/h1/device//status"),
            Err(TopicError::BadId)
        );
        assert_eq!(
            Topic::parse(p, "hall/h1/device/%zz/status"),
            Err(TopicError::BadId)
        );
        assert_eq!(
            Topic::parse(p, "hall/h1/device/%ff/status"),
            Err(TopicError::BadId)
        );
    }
}
