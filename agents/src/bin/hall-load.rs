//! `hall-load --broker HOST:PORT --hall-id ID --devices N --messages M --connections C [--subscribe]`: publishes M
//! heartbeats for N devices (`load-00000` …) as fast as the broker accepts them, spread over C connections, and
//! prints one JSON line of timings. With `--subscribe` a plain subscriber on the same broker counts what it gets
//! back, which is the baseline `cargo xtask bench` compares the gateway's pipeline with.
//!
//! Unlike `hall-sim`, which plays a realistic day at a chosen speed, this program has one job: a fixed number of
//! messages, as fast as possible, with times a benchmark can use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::payload::{Heartbeat, Metrics};
use hall_protocol::topic::{Topic, default_prefix};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

/// Requests queued between a client handle and its event loop; 10 throttles badly, 1000 keeps the loop busy.
const REQUEST_CHANNEL_CAPACITY: usize = 1000;
/// Unacknowledged QoS 1 publishes per connection.
const INFLIGHT: u16 = 100;

#[derive(Parser)]
#[command(
    name = "hall-load",
    about = "Publishes heartbeats as fast as an MQTT broker takes them"
)]
struct Args {
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// Hall id; topics go under `hall/{hall_id}`.
    #[arg(long)]
    hall_id: String,
    /// Number of devices, named `load-00000`, `load-00001`, … (the gateway's config must list them).
    #[arg(long, default_value_t = 2000)]
    devices: u64,
    /// Heartbeats to publish in all, round-robin over the devices.
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// MQTT connections to publish over.
    #[arg(long, default_value_t = 4)]
    connections: u64,
    /// Publish with QoS 0 instead of QoS 1.
    #[arg(long)]
    qos0: bool,
    /// Also subscribe to `hall/{hall_id}/#` before publishing and count what arrives.
    #[arg(long)]
    subscribe: bool,
    /// Give up waiting for acknowledgements or subscribed messages after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

/// The name of device `i`; `cargo xtask bench` writes the same names into its hall config.
fn device_id(i: u64) -> String {
    format!("load-{i:05}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hall_agents::init_tracing();
    anyhow::ensure!(
        args.devices > 0 && args.connections > 0,
        "--devices and --connections must be at least 1"
    );
    let (host, port) = args
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--broker {}: expected HOST:PORT", args.broker))?;
    let prefix = default_prefix(&args.hall_id);
    let qos = if args.qos0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let options = |client_id: String| {
        let mut o = MqttOptions::new(client_id, host.clone(), port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(INFLIGHT);
        o.set_max_packet_size(1 << 20, 1 << 20);
        o
    };

    // Receive times are stamped against `epoch`; `start` comes after the subscriber is ready.
    let epoch = Instant::now();
    let subscriber = if args.subscribe {
        Some(
            subscribe(
                options(format!("hall-load-sub-{}", std::process::id())),
                &prefix,
                epoch,
            )
            .await?,
        )
    } else {
        None
    };

    let start = Instant::now();
    let start_unix_ms = chrono::Utc::now().timestamp_millis();
    let mut publishers = Vec::new();
    for c in 0..args.connections {
        let options = options(format!("hall-load-{}-{c}", std::process::id()));
        let (prefix, n_devices, n_conns, n_msgs) = (
            prefix.clone(),
            args.devices,
            args.connections,
            args.messages,
        );
        publishers.push(tokio::spawn(async move {
            publish(options, qos, &prefix, c, n_conns, n_devices, n_msgs).await
        }));
    }
    let mut published = 0;
    for p in publishers {
        published += tokio::time::timeout(timeout, p)
            .await
            .context("publishers timed out waiting for acknowledgements")???;
    }
    let publish_secs = start.elapsed().as_secs_f64();

    let mut report = serde_json::json!({
        "published": published,
        "qos": if args.qos0 { 0 } else { 1 },
        "start_unix_ms": start_unix_ms,
        "publish_secs": publish_secs,
    });
    if let Some((received, last)) = subscriber {
        let deadline = tokio::time::Instant::now() + timeout;
        while received.load(Ordering::Relaxed) < args.messages
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let last = Duration::from_nanos(last.load(Ordering::Relaxed));
        report["received"] = received.load(Ordering::Relaxed).into();
        // From the first publish to the last message received.
        report["receive_secs"] = last.saturating_sub(start - epoch).as_secs_f64().into();
    }
    println!("{report}");
    Ok(())
}

/// Connects a subscriber, waits for its SubAck and counts heartbeats from then on. Returns the count and the time
/// of the last one (nanoseconds since `epoch`).
async fn subscribe(
    options: MqttOptions,
    prefix: &str,
    epoch: Instant,
) -> anyhow::Result<(Arc<AtomicU64>, Arc<AtomicU64>)> {
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);
    client
        .subscribe(Topic::subscription(prefix), QoS::AtLeastOnce)
        .await?;
    let received = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let (r, l) = (received.clone(), last.clone());
    tokio::spawn(async move {
        let _client = client; // keeps the event loop's request channel open
        let mut subscribed_tx = Some(subscribed_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.topic.ends_with("/heartbeat") {
                        r.fetch_add(1, Ordering::Relaxed);
                        l.store(epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "subscriber connection failed");
                    return;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
        .await
        .context("no SubAck from the broker within 10 s")?
        .context("subscriber connection failed before its SubAck")?;
    Ok((received, last))
}

/// Publishes this connection's share (messages `i` with `i % n_conns == conn`) and returns once every one is
/// acknowledged (QoS 1) or written to the socket (QoS 0).
async fn publish(
    options: MqttOptions,
    qos: QoS,
    prefix: &str,
    conn: u64,
    n_conns: u64,
    n_devices: u64,
    n_msgs: u64,
) -> anyhow::Result<u64> {
    let share = (conn..n_msgs).step_by(n_conns as usize).count() as u64;
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);
    let done = tokio::spawn(async move {
        let mut acked = 0u64;
        while acked < share {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) if qos != QoS::AtMostOnce => acked += 1,
                Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => acked += 1,
                Ok(_) => {}
                Err(error) => anyhow::bail!("publisher connection failed: {error}"),
            }
        }
        // Let the disconnect request go out before the loop is dropped.
        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
        Ok(acked)
    });
    let boot_id = uuid::Uuid::new_v4().to_string();
    let topics: Vec<String> = (0..n_devices)
        .map(|d| {
            Topic::DeviceHeartbeat {
                device_id: device_id(d),
            }
            .to_topic(prefix)
        })
        .collect();
    for i in (conn..n_msgs).step_by(n_conns as usize) {
        let device = i % n_devices;
        let seq = i / n_devices + 1;
        let heartbeat = Heartbeat {
            v: SCHEMA_VERSION,
            seq,
            boot_id: boot_id.clone(),
            sent_at: chrono::Utc::now().fixed_offset(),
            uptime_secs: 3600 + seq,
            metrics: Metrics {
                cpu_pct: Some((i % 97) as f64),
                mem_pct: Some(40.0 + (i % 13) as f64),
                ..Metrics::default()
            },
            checks: Default::default(),
        };
        let payload = serde_json::to_vec(&heartbeat)?;
        client
            .publish(topics[device as usize].clone(), qos, false, payload)
            .await?;
    }
    let acked = done.await??;
    let _ = client.disconnect().await;
    Ok(acked)
}
