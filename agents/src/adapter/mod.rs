//! `hall-queue-adapter`: connects a hall's existing queue system to HallWatch (Q-1). The queue system writes its
//! ticket events to a TCP socket, one per line; the adapter translates each into a [`TicketEvent`] on
//! `{prefix}/queue/{dispenser_id}/ticket` and answers the line with `OK`, or with `ERR <reason>` when it cannot
//! (the bad line is counted and logged, and the connection stays open).
//!
//! # The vendor feed
//!
//! UTF-8 text, one event per line (`\n` or `\r\n`), at most 4096 bytes. Either the plain form, fields separated by
//! spaces:
//!
//! ```text
//! 2026-12-03T09:01:02+08:00 ISSUE  A023 social_insurance
//! 2026-12-03T09:05:40+08:00 CALL   A023 social_insurance w03
//! 2026-12-03T09:12:10+08:00 SERVE  A023 social_insurance w03
//! 2026-12-03T09:07:40+08:00 NOSHOW A024 social_insurance w03
//! ```
//!
//! `time verb ticket service [window]`: the time is RFC 3339 with an offset; the verb is `ISSUE`, `CALL`, `SERVE`
//! or `NOSHOW` (any case); `CALL` needs the window, `SERVE` and `NOSHOW` may name it, `ISSUE` must not. A ticket
//! called twice is simply two `CALL` lines. Ids with spaces need the JSON form: one object per line, the
//! [`TicketEvent`] payload itself:
//!
//! ```text
//! {"action":"called","ticket":"A023","service":"social_insurance","window_id":"w03","at":"2026-12-03T09:05:40+08:00"}
//! ```
//!
//! with `action` one of `issued`, `called`, `served`, `no_show`. Empty lines and lines starting with `#` are
//! ignored without an answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::payload::{TicketAction, TicketEvent};
use hall_protocol::topic::Topic;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::link::{self, Backoff};

/// Longest line accepted; a longer one is answered with an error and skipped.
pub const MAX_LINE_BYTES: usize = 4096;

/// How the adapter reaches the broker and where it publishes.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    pub broker_host: String,
    pub broker_port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// MQTT topic prefix, e.g. `hall/demo-hall`.
    pub topic_prefix: String,
    /// The dispenser the events are published for (a `queue_dispenser` id of the hall config).
    pub dispenser_id: String,
}

/// Lines taken and refused since start.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
}

/// Parses one line of the feed into a ticket event, or says why not.
pub fn parse_line(line: &str) -> Result<TicketEvent, String> {
    let line = line.trim();
    if line.starts_with('{') {
        let event: TicketEvent =
            serde_json::from_str(line).map_err(|e| format!("bad JSON ticket event: {e}"))?;
        return check(event);
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [at, verb, ticket, service, rest @ ..] = fields.as_slice() else {
        return Err("expected: TIME VERB TICKET SERVICE [WINDOW]".into());
    };
    let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(at)
        .map_err(|_| format!("bad time {at:?}: expected RFC 3339 with an offset"))?;
    let action = match verb.to_ascii_uppercase().as_str() {
        "ISSUE" => TicketAction::Issued,
        "CALL" => TicketAction::Called,
        "SERVE" => TicketAction::Served,
        "NOSHOW" => TicketAction::NoShow,
        _ => {
            return Err(format!(
                "unknown verb {verb:?}: expected ISSUE, CALL, SERVE or NOSHOW"
            ));
        }
    };
    let window_id = match rest {
        [] => None,
        [window] => Some((*window).to_owned()),
        _ => return Err("too many fields: ids with spaces need the JSON form".into()),
    };
    check(TicketEvent {
        v: SCHEMA_VERSION,
        action,
        ticket: (*ticket).to_owned(),
        service: (*service).to_owned(),
        window_id,
        at,
    })
}

fn check(event: TicketEvent) -> Result<TicketEvent, String> {
    if event.ticket.is_empty() || event.service.is_empty() {
        return Err("ticket and service must not be empty".into());
    }
    match (event.action, &event.window_id) {
        (TicketAction::Called, None) => Err("CALL needs the window".into()),
        (TicketAction::Issued, Some(_)) => Err("ISSUE takes no window".into()),
        _ => Ok(event),
    }
}

/// Serves the feed on `listener` and publishes over MQTT until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: AdapterConfig,
    counters: Arc<Counters>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut options = MqttOptions::new(
        link::client_id("hqa-", &config.dispenser_id),
        config.broker_host.clone(),
        config.broker_port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    if let Some(username) = &config.username {
        options.set_credentials(
            username.clone(),
            config.password.clone().unwrap_or_default(),
        );
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let broker = format!("{}:{}", config.broker_host, config.broker_port);
    let mqtt = tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_secs(30));
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    tracing::info!(%broker, "connected to the MQTT broker");
                }
                Ok(_) => {}
                Err(rumqttc::ConnectionError::RequestsDone) => return,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in_secs = delay.as_secs_f32(), "cannot reach the MQTT broker; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    });
    let topic = Topic::QueueTicket {
        dispenser_id: config.dispenser_id.clone(),
    }
    .to_topic(&config.topic_prefix);
    tracing::info!(listen = %listener.local_addr()?, %topic, "hall-queue-adapter listening");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(stream, peer, client.clone(), topic.clone(), counters.clone()));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
        }
    }
    tracing::info!(
        accepted = counters.accepted.load(Ordering::Relaxed),
        rejected = counters.rejected.load(Ordering::Relaxed),
        "hall-queue-adapter stopping"
    );
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), mqtt).await;
    Ok(())
}

/// One feed connection: answer every line, never give up on a bad one.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    client: AsyncClient,
    topic: String,
    counters: Arc<Counters>,
) {
    tracing::info!(%peer, "queue system connected");
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%peer, %error, "feed read failed");
                break;
            }
        };
        let answer = if n > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            // Skip the rest of the over-long line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest).await;
            Err(format!("line longer than {MAX_LINE_BYTES} bytes"))
        } else {
            match std::str::from_utf8(&buf) {
                Err(_) => Err("line is not UTF-8".to_owned()),
                Ok(line) if line.trim().is_empty() || line.trim_start().starts_with('#') => {
                    continue;
                }
                Ok(line) => match parse_line(line) {
                    Ok(event) => client
                        .publish(
                            topic.clone(),
                            QoS::AtLeastOnce,
                            false,
                            link::to_json(&event),
                        )
                        .await
                        .map(|()| event)
                        .map_err(|e| format!("cannot queue for MQTT: {e}")),
                    Err(reason) => Err(reason),
                },
            }
        };
        let reply = match answer {
            Ok(event) => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, ticket = %event.ticket, action = ?event.action, "ticket event");
                "OK\n".to_owned()
            }
            Err(reason) => {
                let n = counters.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(%peer, %reason, n_rejected = n, "feed line rejected");
                format!("ERR {reason}\n")
            }
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            break;
        }
    }
    tracing::info!(%peer, "queue system disconnected");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_and_json_lines() {
        let e = parse_line("2026-12-03T09:05:40+08:00 CALL A023 social_insurance w03\r\n").unwrap();
        assert_eq!(e.action, TicketAction::Called);
        assert_eq!(
            (e.ticket.as_str(), e.service.as_str()),
            ("A023", "social_insurance")
        );
        assert_eq!(e.window_id.as_deref(), Some("w03"));
        assert_eq!(e.at.to_rfc3339(), "2026-12-03T09:05:40+08:00");
        let e = parse_line("2026-12-03T09:01:02+08:00 issue A023 social_insurance").unwrap();
        assert_eq!((e.action, e.window_id), (TicketAction::Issued, None));
        let e = parse_line(
            r#"{"action":"no_show","ticket":"A 1","service":"社保","window_id":"窗口 3","at":"2026-12-03T09:07:40+08:00"}"#,
        )
        .unwrap();
        assert_eq!(e.action, TicketAction::NoShow);
        assert_eq!(e.window_id.as_deref(), Some("窗口 3"));
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, why) in [
            (
                "2026-12-03T09:05:40+08:00 CALL A023 shebao",
                "needs the window",
            ),
            (
                "2026-12-03T09:05:40+08:00 ISSUE A023 shebao w1",
                "no window",
            ),
            ("yesterday ISSUE A023 shebao", "bad time"),
            (
                "2026-12-03T09:05:40+08:00 PRINT A023 shebao",
                "unknown verb",
            ),
            ("2026-12-03T09:05:40+08:00 ISSUE", "expected"),
            ("{\"action\":\"called\"}", "bad JSON"),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
