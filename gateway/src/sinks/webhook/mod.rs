//! Alert notifications to webhooks: a generic JSON webhook and the group robots of WeCom (企业微信) and DingTalk
//! (钉钉), chosen per rule and severity (`[[notify]]` in the hall config).
//!
//! The hub hands every newly raised alert to [`AlertNotifier::offer`], which never waits: the bounded channel to
//! the sender task is tried, and an alert that does not fit is counted as dropped. The task keeps one channel per
//! webhook: at most `max_per_minute` messages a minute, the rest summarised in one message when the minute is
//! over ("另有 K 条告警…"), each send retried with exponential backoff, logged, and counted on `/metrics`.

mod encoder;
mod sink;

pub use encoder::{encode, summary_text};
pub use sink::{AlertNotifier, RateWindow, WebhookStats, spawn, spawn_journalled};

#[cfg(test)]
mod integration_tests;
