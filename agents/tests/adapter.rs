//! The real `hall-queue-adapter` binary between a feed connection and a real Mosquitto: good lines (plain and
//! JSON) are answered `OK` and published as ticket events in order; bad lines are answered `ERR <reason>` and the
//! connection keeps working.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hall_protocol::payload::{TicketAction, TicketEvent};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod util;
use util::{Mosquitto, free_port, subscribe, wait_for};

struct Adapter {
    child: Child,
    log: PathBuf,
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- hall-queue-adapter log ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// Connects once the adapter listens, retrying refused connects until `limit`.
async fn connect(port: u16, limit: Duration) -> TcpStream {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => return s,
            // Not listening yet: the process is still starting. Poll the condition, not the clock.
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("adapter not listening on {port} within {limit:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_lines_become_ticket_events() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_watcher, mut rx) =
        subscribe(broker.port, "watcher", "hall/it-queue/queue/+/ticket").await;
    let log = dir.path().join("adapter.log");
    let _adapter = Adapter {
        child: Command::new(env!("CARGO_BIN_EXE_hall-queue-adapter"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--broker", &format!("127.0.0.1:{}", broker.port)])
            .args(["--hall-id", "it-queue", "--dispenser-id", "1号 取号机"])
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start hall-queue-adapter"),
        log,
    };
    let stream = connect(port, Duration::from_secs(10)).await;
    let (read, mut write) = stream.into_split();
    let mut answers = BufReader::new(read).lines();
    let lines = [
        (
            "2026-12-03T09:01:02+08:00 ISSUE A023 social_insurance",
            "OK",
        ),
        ("# a comment line gets no answer", ""),
        (
            "2026-12-03T09:02:00+08:00 CALL A023 social_insurance",
            "ERR CALL needs the window",
        ),
        (
            "2026-12-03T09:05:40+08:00 CALL A023 social_insurance w03",
            "OK",
        ),
        ("not a line at all", "ERR bad time"),
        ("2026-12-03T09:05:40+08:00 ISSUE", "ERR expected"),
        (
            r#"{"action":"called","ticket":"A023","service":"social_insurance","window_id":"窗口 3","at":"2026-12-03T09:06:40+08:00"}"#,
            "OK",
        ),
        (
            "2026-12-03T09:12:10+08:00 SERVE A023 social_insurance w03",
            "OK",
        ),
        (
            "2026-12-03T09:13:00+08:00 NOSHOW A024 social_insurance w03",
            "OK",
        ),
    ];
    for (line, expected) in lines {
        write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        if expected.is_empty() {
            continue;
        }
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.next_line())
            .await
            .expect("an answer within 10 s")
            .unwrap()
            .expect("connection open");
        assert!(answer.starts_with(expected), "{line:?} → {answer:?}");
    }

    let mut got = Vec::new();
    wait_for(
        &mut rx,
        Duration::from_secs(10),
        "five ticket events",
        |p| {
            assert_eq!(p.topic, "hall/it-queue/queue/1号 取号机/ticket");
            let e: TicketEvent = serde_json::from_slice(&p.payload).unwrap();
            got.push((e.action, e.ticket, e.window_id));
            (got.len() == 5).then_some(())
        },
    )
    .await;
    let w = |s: &str| Some(s.to_owned());
    assert_eq!(
        got,
        vec![
            (TicketAction::Issued, "A023".into(), None),
            (TicketAction::Called, "A023".into(), w("w03")),
            (TicketAction::Called, "A023".into(), w("窗口 3")),
            (TicketAction::Served, "A023".into(), w("w03")),
            (TicketAction::NoShow, "A024".into(), w("w03")),
        ]
    );
}
