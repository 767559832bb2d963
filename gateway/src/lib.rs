//! HallWatch gateway: reads the hall's MQTT traffic, keeps the live state of the hall, applies the hall's rules,
//! raises alerts, and serves the API and the dashboard.
//!
//! `main.rs` is thin: it parses flags, sets up logging, loads the config and calls [`run`] with an already-bound
//! listener, so tests can run the whole gateway on `127.0.0.1:0`.

pub mod api;
pub mod broker;
pub mod clock;
pub mod config;
pub mod history;
pub mod hub;
pub mod ingest;
pub mod journal;
pub mod model;
pub mod outputs;
pub mod replay;
pub mod sinks;
pub mod sources;
pub mod telemetry;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::CheckedConfig;
use crate::hub::{HubChannels, IngestSettings};
use crate::model::{Hall, ModelOptions};
use crate::sources::mqtt::MqttSourceConfig;
use crate::telemetry::Telemetry;

/// How the gateway runs, beyond the hall config.
pub struct RunOptions {
    /// The listener for the API and dashboard, already bound.
    pub http: TcpListener,
    /// The clock every part of the gateway reads.
    pub clock: Arc<dyn Clock>,
    /// Folder of the built dashboard.
    pub dashboard_dir: PathBuf,
    /// Append every ingested message to this file (JSON lines, the `replay` format).
    pub record: Option<PathBuf>,
}

/// Runs the gateway until `shutdown` is cancelled.
pub async fn run(
    cfg: CheckedConfig,
    opts: RunOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let raw = &cfg.raw;
    let telemetry = Arc::new(Telemetry::default());
    let prefix = raw.topic_prefix();
    // The broker must pass payloads above our own limit, so that they are refused and counted here.
    let max_packet_bytes = (raw.ingest.max_payload_bytes * 4).max(1024 * 1024);

    if raw.broker.embedded {
        let addr = format!("{}:{}", raw.broker.host, raw.broker.port);
        let addr = addr
            .parse()
            .with_context(|| format!("embedded broker address {addr:?}"))?;
        broker::start(addr, max_packet_bytes)?;
    }

    let model_options = ModelOptions::for_config(raw);
    let mut hall = Hall::new(&cfg, model_options, opts.clock.speed());
    let recorder = match &opts.record {
        Some(path) => Some(
            replay::Recorder::create(path, cfg.calendar.tz())
                .with_context(|| format!("opening recording file {}", path.display()))?,
        ),
        None => None,
    };
    let channels = HubChannels::new(raw.ingest.queue_len, raw.http.live_buffer);
    let handle = channels.handle.clone();
    let inbound_tx = channels.inbound_tx.clone();

    let mut tasks = tokio::task::JoinSet::new();
    let data_dir = PathBuf::from(&raw.data.dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    // The sink stops after the hub, so the hub's last points still reach it (and its spool).
    let sink_shutdown = CancellationToken::new();
    let sink = match &raw.influxdb {
        Some(influx) => Some(
            sinks::influxdb::InfluxSink::start(
                influx,
                &raw.hall.id,
                &data_dir,
                sink_shutdown.clone(),
            )
            .context("starting the InfluxDB sink")?,
        ),
        None => None,
    };
    let journal = journal::Journal::open(&data_dir).context("opening the journal")?;
    let journal_handle = journal.handle();
    restore(&mut hall, &journal_handle, raw, opts.clock.now().wall)?;
    let outputs = outputs::Outputs::new(raw, sink.clone(), Some(journal_handle.clone()));
    let webhook_stats = Arc::new(sinks::webhook::WebhookStats::default());
    tasks.spawn(hub::run(
        hall,
        channels,
        opts.clock.clone(),
        IngestSettings {
            topic_prefix: prefix.clone(),
            max_payload_bytes: raw.ingest.max_payload_bytes,
            recorder,
            notifier: (!raw.notify.is_empty()).then(|| {
                sinks::webhook::spawn_journalled(
                    raw.notify.clone(),
                    1024,
                    std::time::Duration::from_secs(60),
                    webhook_stats.clone(),
                    Some(journal_handle.clone()),
                    shutdown.clone(),
                )
            }),
        },
        outputs,
        telemetry.clone(),
        shutdown.clone(),
    ));
    let password = std::env::var("HALLWATCH_MQTT_PASSWORD")
        .ok()
        .or_else(|| raw.broker.password.clone());
    tasks.spawn(sources::mqtt::run(
        MqttSourceConfig {
            host: raw.broker.host.clone(),
            port: raw.broker.port,
            client_id: raw.broker.client_id.clone(),
            username: raw.broker.username.clone(),
            password,
            topic_prefix: prefix,
            max_backoff: Duration::from_secs(raw.broker.max_backoff_secs.max(1)),
            max_packet_bytes,
        },
        opts.clock.clone(),
        inbound_tx,
        telemetry.clone(),
        shutdown.clone(),
    ));

    let state = api::AppState {
        hub: handle,
        telemetry: telemetry.clone(),
        started: Instant::now(),
        extra_metrics: {
            let sink = sink.clone();
            let journal = journal_handle.clone();
            let webhook_stats = webhook_stats.clone();
            Arc::new(move |out: &mut String| {
                if let Some(sink) = &sink {
                    sink.render_prometheus(out);
                }
                webhook_stats.render_prometheus(out);
                render_journal_metrics(&journal.stats(), out);
            })
        },
        journal: journal_handle.clone(),
        calendar: cfg.calendar.clone(),
        clock: opts.clock.clone(),
    };
    let router = api::app(state, opts.dashboard_dir);
    let addr = opts.http.local_addr()?;
    tracing::info!(%addr, "serving the API and dashboard");
    let server_shutdown = shutdown.clone();
    let server = axum::serve(opts.http, router)
        .with_graceful_shutdown(async move { server_shutdown.cancelled().await });
    server.await.context("HTTP server failed")?;
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    // Everything the hub handed to the journal is committed before the process ends.
    if let Err(error) = journal_handle.sync().await {
        tracing::error!(%error, "journal sync at shutdown failed");
    }
    tokio::task::spawn_blocking(move || journal.close())
        .await
        .ok();
    sink_shutdown.cancel();
    if let Some(sink) = sink {
        sink.stopped().await;
    }
    Ok(())
}

/// Restores what the journal kept from before a restart (open alerts, window staffing, the leave register,
/// inspection records, maintenance marks in force) and
/// records A/B post assignments that changed since the last start in the audit trail (POST-6).
fn restore(
    hall: &mut Hall,
    journal: &journal::JournalHandle,
    raw: &hall_protocol::config::HallConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let open = journal
        .open_alerts()
        .context("reading open alerts from the journal")?;
    let max_id = journal.max_alert_id().context("reading the journal")?;
    let windows = journal
        .last_window_states()
        .context("reading window states from the journal")?;
    let leave = journal
        .leave_list(None)
        .context("reading the leave register")?;
    tracing::info!(
        open_alerts = open.len(),
        windows = windows.len(),
        leave = leave.len(),
        "restored from the journal"
    );
    hall.restore(open, max_id, &windows);
    hall.set_leave(&leave);
    let inspections = journal
        .inspections()
        .context("reading inspection records from the journal")?;
    let maintenance = journal
        .active_maintenance()
        .context("reading maintenance marks from the journal")?;
    tracing::info!(
        inspections = inspections.len(),
        maintenance = maintenance.len(),
        "restored inspection records and maintenance marks"
    );
    hall.restore_records(inspections, maintenance);

    let audit = journal
        .audit_list(10_000)
        .context("reading the audit trail")?;
    for w in &raw.windows {
        let subject = format!("window:{}", w.id);
        let new = serde_json::json!({ "a_post": w.a_post, "b_post": w.b_post });
        let last = audit
            .iter()
            .filter(|e| e.action == "window.assign" && e.subject == subject)
            .max_by_key(|e| e.id);
        if last.and_then(|e| e.new.as_ref()) != Some(&new) {
            journal.append_audit(hall_protocol::api::AuditEntry {
                id: 0,
                at: now,
                who: "hall config".into(),
                action: "window.assign".into(),
                subject,
                old: last.and_then(|e| e.new.clone()),
                new: Some(new),
            });
        }
    }
    Ok(())
}

fn render_journal_metrics(stats: &journal::JournalStats, out: &mut String) {
    use std::fmt::Write as _;
    for (name, help, v) in [
        (
            "hallwatch_journal_written_total",
            "Records committed to the journal.",
            stats.written,
        ),
        (
            "hallwatch_journal_dropped_total",
            "Records dropped before reaching the journal (data loss).",
            stats.dropped,
        ),
        (
            "hallwatch_journal_failed_total",
            "Records whose journal write failed.",
            stats.failed,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
}
