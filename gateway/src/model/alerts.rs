//! The alert book: lifecycle open → acknowledged → resolved, one open alert per (rule, subject).
//!
//! Pure. The rules decide *whether* a condition holds; this book turns conditions into alerts, deduplicates them
//! and records who acknowledged what. Every alert carries the rule id of RULES.md it comes from.

use std::collections::{BTreeMap, HashMap};

use hall_protocol::api::{AlertState, AlertView};
use hall_protocol::payload::Severity;

use crate::clock::Now;

/// What a rule asks to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpec {
    /// Rule id, e.g. `DEV-1`.
    pub rule: &'static str,
    /// Alert kind, e.g. `device_offline`.
    pub kind: &'static str,
    /// `device:{id}`, `window:{id}`, ...
    pub subject: String,
    pub severity: Severity,
    pub message: String,
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("no alert with id {0}")]
    NotFound(u64),
    #[error("alert {0} is already resolved")]
    Resolved(u64),
    #[error("acknowledging needs a name in \"by\"")]
    MissingName,
    /// A bad-rating follow-up (RAT-2) must say what was done.
    #[error("following up a bad rating needs a note saying what was done")]
    MissingNote,
}

/// All alerts the gateway knows: open and acknowledged ones, and the most recent resolved ones.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    next_id: u64,
    alerts: BTreeMap<u64, AlertView>,
    open: HashMap<(String, String), u64>,
    max_resolved: usize,
}

impl AlertBook {
    /// A book keeping at most `max_resolved` resolved alerts in memory (the journal keeps them all).
    pub fn new(max_resolved: usize) -> Self {
        AlertBook {
            next_id: 1,
            alerts: BTreeMap::new(),
            open: HashMap::new(),
            max_resolved,
        }
    }

    /// Puts back alerts restored from the journal; ids continue after the highest one.
    pub fn restore(&mut self, alerts: impl IntoIterator<Item = AlertView>) {
        for a in alerts {
            self.next_id = self.next_id.max(a.id + 1);
            if a.state != AlertState::Resolved {
                self.open.insert((a.rule.clone(), a.subject.clone()), a.id);
            }
            self.alerts.insert(a.id, a);
        }
    }

    /// The id the next raised alert will get (so the journal can continue its numbering).
    pub fn set_next_id(&mut self, id: u64) {
        self.next_id = self.next_id.max(id);
    }

    /// Raises an alert unless one is already open for the same (rule, subject).
    pub fn raise(&mut self, spec: AlertSpec, now: Now) -> Option<AlertView> {
        let key = (spec.rule.to_owned(), spec.subject.clone());
        if self.open.contains_key(&key) {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let alert = AlertView {
            id,
            rule: spec.rule.into(),
            kind: spec.kind.into(),
            subject: spec.subject,
            severity: spec.severity,
            state: AlertState::Open,
            message: spec.message,
            raised_at: now.wall,
            acknowledged_at: None,
            acknowledged_by: None,
            ack_note: None,
            resolved_at: None,
        };
        self.open.insert(key, id);
        self.alerts.insert(id, alert.clone());
        Some(alert)
    }

    /// Resolves the open alert for (rule, subject), if any.
    pub fn resolve(&mut self, rule: &str, subject: &str, now: Now) -> Option<AlertView> {
        let id = self.open.remove(&(rule.to_owned(), subject.to_owned()))?;
        let alert = self.alerts.get_mut(&id)?;
        alert.state = AlertState::Resolved;
        alert.resolved_at = Some(now.wall);
        let out = alert.clone();
        self.trim_resolved();
        Some(out)
    }

    /// Whether an alert is open (or acknowledged) for (rule, subject).
    pub fn is_open(&self, rule: &str, subject: &str) -> bool {
        self.open
            .contains_key(&(rule.to_owned(), subject.to_owned()))
    }

    /// Subjects of the open alerts of `rule` whose subject starts with `prefix`.
    pub fn open_subjects(&self, rule: &str, prefix: &str) -> Vec<String> {
        self.open
            .keys()
            .filter(|(r, s)| r == rule && s.starts_with(prefix))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Raises when `active`, resolves when not: the usual shape of a condition-driven rule.
    pub fn set(&mut self, active: bool, spec: AlertSpec, now: Now) -> Option<AlertView> {
        if active {
            self.raise(spec, now)
        } else {
            self.resolve(spec.rule, &spec.subject, now)
        }
    }

    pub fn ack(&mut self, id: u64, by: &str, note: &str, now: Now) -> Result<AlertView, AckError> {
        if by.trim().is_empty() {
            return Err(AckError::MissingName);
        }
        let alert = self.alerts.get_mut(&id).ok_or(AckError::NotFound(id))?;
        if alert.state == AlertState::Resolved {
            return Err(AckError::Resolved(id));
        }
        alert.state = AlertState::Acknowledged;
        alert.acknowledged_at = Some(now.wall);
        alert.acknowledged_by = Some(by.trim().to_owned());
        alert.ack_note = Some(note.to_owned());
        Ok(alert.clone())
    }

    /// Open and acknowledged alerts, oldest first.
    pub fn active(&self) -> impl Iterator<Item = &AlertView> {
        self.alerts
            .values()
            .filter(|a| a.state != AlertState::Resolved)
    }

    /// Every alert in memory, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &AlertView> {
        self.alerts.values()
    }

    pub fn get(&self, id: u64) -> Option<&AlertView> {
        self.alerts.get(&id)
    }

    fn trim_resolved(&mut self) {
        let n_resolved = self.alerts.len() - self.open.len();
        if n_resolved <= self.max_resolved {
            return;
        }
        let mut excess = n_resolved - self.max_resolved;
        self.alerts.retain(|_, a| {
            if excess > 0 && a.state == AlertState::Resolved {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now(secs: u64) -> Now {
        Now {
            mono: Duration::ZERO,
            wall: "2026-12-03T01:00:00Z".parse().unwrap(),
        }
        .after(Duration::from_secs(secs))
    }

    fn spec(subject: &str) -> AlertSpec {
        AlertSpec {
            rule: "DEV-1",
            kind: "device_offline",
            subject: subject.into(),
            severity: Severity::Warning,
            message: "离线".into(),
        }
    }

    #[test]
    fn one_open_alert_per_rule_and_subject() {
        let mut book = AlertBook::new(10);
        let a = book.raise(spec("device:k1"), now(0)).unwrap();
        assert!(book.raise(spec("device:k1"), now(1)).is_none());
        let b = book.raise(spec("device:k2"), now(1)).unwrap();
        assert_ne!(a.id, b.id);
        let r = book.resolve("DEV-1", "device:k1", now(5)).unwrap();
        assert_eq!(r.state, AlertState::Resolved);
        assert_eq!(r.resolved_at, Some(now(5).wall));
        // Once resolved, the condition may raise a new alert.
        let c = book.raise(spec("device:k1"), now(6)).unwrap();
        assert!(c.id > b.id);
    }

    #[test]
    fn acknowledge_keeps_it_active_until_resolved() {
        let mut book = AlertBook::new(10);
        let a = book.raise(spec("device:k1"), now(0)).unwrap();
        assert_eq!(book.ack(a.id, " ", "", now(1)), Err(AckError::MissingName));
        let acked = book.ack(a.id, "王主任", "已通知厂家", now(2)).unwrap();
        assert_eq!(acked.state, AlertState::Acknowledged);
        assert_eq!(book.active().count(), 1);
        assert!(book.raise(spec("device:k1"), now(3)).is_none());
        book.resolve("DEV-1", "device:k1", now(4));
        assert_eq!(
            book.ack(a.id, "王主任", "", now(5)),
            Err(AckError::Resolved(a.id))
        );
        assert_eq!(
            book.ack(999, "王主任", "", now(5)),
            Err(AckError::NotFound(999))
        );
    }

    #[test]
    fn resolved_alerts_are_trimmed_oldest_first() {
        let mut book = AlertBook::new(2);
        for i in 0..5 {
            book.raise(spec(&format!("device:k{i}")), now(i));
            book.resolve("DEV-1", &format!("device:k{i}"), now(i));
        }
        let ids: Vec<u64> = book.all().map(|a| a.id).collect();
        assert_eq!(ids, vec![4, 5]);
    }
}
