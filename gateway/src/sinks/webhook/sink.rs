//! The sender task: one per webhook, with its rate window, retries and counters.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hall_protocol::api::AlertView;
use hall_protocol::config::{NotifyConfig, NotifyFormat};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::encoder::encode;
use crate::journal::{JournalHandle, NotificationRecord, NotifyOutcome};

/// Journals one outcome, if there is a journal. The journal stores the channel without its query string.
fn journal_outcome(
    journal: Option<&JournalHandle>,
    cfg: Option<&NotifyConfig>,
    alert: Option<&AlertView>,
    outcome: NotifyOutcome,
    attempts: u32,
    error: Option<String>,
) {
    let Some(j) = journal else {
        return;
    };
    j.record_notification(NotificationRecord {
        at: chrono::Utc::now(),
        channel: cfg.map(|c| c.url.clone()),
        format: cfg.map(|c| crate::journal::format_text(&c.format)),
        alert_id: alert.map(|a| a.id),
        rule: alert.map_or_else(|| "summary".to_owned(), |a| a.rule.clone()),
        outcome,
        attempts,
        error,
    });
}

/// Counters of the notification path, rendered on `/metrics`.
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Alerts handed to the notifier.
    pub offered: AtomicU64,
    /// Alerts refused because a queue was full (hub → notifier, or notifier → channel).
    pub dropped: AtomicU64,
    /// Messages delivered (alerts and summaries).
    pub sent: AtomicU64,
    /// Messages given up after every attempt.
    pub failed: AtomicU64,
    /// Alerts held back by a rate limit and counted in a summary message instead.
    pub summarised: AtomicU64,
}

impl WebhookStats {
    pub fn render_prometheus(&self, out: &mut String) {
        for (name, help, v) in [
            (
                "hallwatch_notify_offered_total",
                "alerts offered to webhooks",
                &self.offered,
            ),
            (
                "hallwatch_notify_dropped_total",
                "alerts dropped because a notify queue was full",
                &self.dropped,
            ),
            (
                "hallwatch_notify_sent_total",
                "webhook messages delivered",
                &self.sent,
            ),
            (
                "hallwatch_notify_failed_total",
                "webhook messages that failed after all retries",
                &self.failed,
            ),
            (
                "hallwatch_notify_summarised_total",
                "alerts held back by a rate limit and summarised",
                &self.summarised,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

/// The hub's end: offers alerts without ever waiting.
#[derive(Clone)]
pub struct AlertNotifier {
    tx: mpsc::Sender<AlertView>,
    pub stats: Arc<WebhookStats>,
    journal: Option<JournalHandle>,
}

impl AlertNotifier {
    /// Queues an alert for the webhooks; a full queue drops it and counts the drop.
    pub fn offer(&self, alert: &AlertView) {
        self.stats.offered.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(alert.clone()).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(alert_id = alert.id, rule = %alert.rule, "notify queue full; alert not sent to webhooks");
            journal_outcome(
                self.journal.as_ref(),
                None,
                Some(alert),
                NotifyOutcome::Dropped,
                0,
                Some("notify queue full".into()),
            );
        }
    }
}

/// A fixed rate window: at most `max` messages per `window`; what is held back is counted for one summary.
#[derive(Debug, Clone)]
pub struct RateWindow {
    max: u32,
    window: Duration,
    start: Option<Instant>,
    sent: u32,
    held: u64,
}

impl RateWindow {
    pub fn new(max: u32, window: Duration) -> Self {
        RateWindow {
            max: max.max(1),
            window,
            start: None,
            sent: 0,
            held: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        if self.start.is_none_or(|s| now >= s + self.window) {
            self.start = Some(now);
            self.sent = 0;
        }
    }

    /// Whether a message may go at `now`; if not it is counted as held back.
    pub fn admit(&mut self, now: Instant) -> bool {
        self.roll(now);
        if self.sent < self.max {
            self.sent += 1;
            true
        } else {
            self.held += 1;
            false
        }
    }

    /// When the held-back alerts are due to be summarised.
    pub fn summary_due(&self) -> Option<Instant> {
        (self.held > 0).then(|| self.start.map(|s| s + self.window))?
    }

    /// Takes the held-back count for a summary; the summary itself counts against the new window.
    pub fn take_held(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.sent += 1;
        std::mem::take(&mut self.held)
    }
}

fn wants(cfg: &NotifyConfig, a: &AlertView) -> bool {
    a.severity >= cfg.min_severity
        && (cfg.rules.is_empty() || cfg.rules.iter().any(|r| *r == a.rule))
}

/// Starts one sender task per webhook; `window` is the rate window (one minute in production).
pub fn spawn(
    configs: Vec<NotifyConfig>,
    queue_len: usize,
    window: Duration,
    stats: Arc<WebhookStats>,
    shutdown: CancellationToken,
) -> AlertNotifier {
    spawn_journalled(configs, queue_len, window, stats, None, shutdown)
}

/// [`spawn`], journalling every send's outcome (sent, failed, summarised, dropped) when `journal` is given.
pub fn spawn_journalled(
    configs: Vec<NotifyConfig>,
    queue_len: usize,
    window: Duration,
    stats: Arc<WebhookStats>,
    journal: Option<JournalHandle>,
    shutdown: CancellationToken,
) -> AlertNotifier {
    let (tx, mut rx) = mpsc::channel::<AlertView>(queue_len.max(1));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let mut channels = Vec::new();
    for (idx, cfg) in configs.into_iter().enumerate() {
        let (ctx, crx) = mpsc::channel::<AlertView>(queue_len.max(1));
        channels.push((cfg.clone(), ctx));
        tokio::spawn(channel_task(
            idx,
            cfg,
            crx,
            window,
            client.clone(),
            stats.clone(),
            journal.clone(),
            shutdown.clone(),
        ));
    }
    let fan_stats = stats.clone();
    let fan_journal = journal.clone();
    tokio::spawn(async move {
        loop {
            let alert = tokio::select! {
                _ = shutdown.cancelled() => break,
                a = rx.recv() => match a { Some(a) => a, None => break },
            };
            for (cfg, ctx) in &channels {
                if wants(cfg, &alert) && ctx.try_send(alert.clone()).is_err() {
                    fan_stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        alert_id = alert.id,
                        "notify channel queue full; alert not sent"
                    );
                    journal_outcome(
                        fan_journal.as_ref(),
                        Some(cfg),
                        Some(&alert),
                        NotifyOutcome::Dropped,
                        0,
                        Some("notify channel queue full".into()),
                    );
                }
            }
        }
    });
    AlertNotifier { tx, stats, journal }
}

async fn channel_task(
    idx: usize,
    cfg: NotifyConfig,
    mut rx: mpsc::Receiver<AlertView>,
    window: Duration,
    client: reqwest::Client,
    stats: Arc<WebhookStats>,
    journal: Option<JournalHandle>,
    shutdown: CancellationToken,
) {
    let journal = journal.as_ref();
    let mut rate = RateWindow::new(cfg.max_per_minute, window);
    loop {
        let due = rate.summary_due();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            a = rx.recv() => {
                let Some(a) = a else { break };
                if rate.admit(Instant::now()) {
                    let body = encode(cfg.format, Some(&a), 0);
                    deliver(idx, &cfg, &client, &stats, &body, Some(&a), journal).await;
                } else {
                    stats.summarised.fetch_add(1, Ordering::Relaxed);
                    journal_outcome(journal, Some(&cfg), Some(&a), NotifyOutcome::Summarised, 0, None);
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                let n = rate.take_held(Instant::now());
                let body = encode(cfg.format, None, n);
                deliver(idx, &cfg, &client, &stats, &body, None, journal).await;
            }
        }
    }
}

/// Sends one message with retries; logs and counts the outcome. The URL is never logged (it holds the key).
async fn deliver(
    idx: usize,
    cfg: &NotifyConfig,
    client: &reqwest::Client,
    stats: &WebhookStats,
    body: &serde_json::Value,
    alert: Option<&AlertView>,
    journal: Option<&JournalHandle>,
) {
    let what = alert.map_or("summary", |a| a.rule.as_str());
    let mut delay = Duration::from_millis(500);
    let attempts = cfg.max_attempts.max(1);
    for attempt in 1..=attempts {
        match try_send(cfg.format, client, &cfg.url, body).await {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(channel = idx, format = ?cfg.format, what, attempt, "notification sent");
                journal_outcome(
                    journal,
                    Some(cfg),
                    alert,
                    NotifyOutcome::Sent,
                    attempt,
                    None,
                );
                return;
            }
            Err(error) if attempt < attempts => {
                tracing::warn!(channel = idx, what, attempt, %error, "notification failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Err(error) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(channel = idx, what, attempts, %error, "notification failed; given up");
                journal_outcome(
                    journal,
                    Some(cfg),
                    alert,
                    NotifyOutcome::Failed,
                    attempts,
                    Some(error),
                );
            }
        }
    }
}

async fn try_send(
    format: NotifyFormat,
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("http status {status}"));
    }
    if format == NotifyFormat::Json {
        return Ok(());
    }
    // The robots answer 200 with `{"errcode": 0}` on success and a non-zero errcode (e.g. rate limited) otherwise.
    let reply: serde_json::Value = resp.json().await.map_err(|e| e.without_url().to_string())?;
    match reply.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) | None => Ok(()),
        Some(code) => Err(format!(
            "robot errcode {code}: {}",
            reply.get("errmsg").and_then(|m| m.as_str()).unwrap_or("")
        )),
    }
}
