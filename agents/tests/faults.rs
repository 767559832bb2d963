//! A real `hall-agent` over a real Mosquitto whose printer check is a shell command toggled by a file: the fault is
//! raised once when the check starts failing (with the exit status mapped by `exit_codes` and the command's stderr
//! in the message), not again while it keeps failing, and cleared once when it passes. The heartbeats carry the
//! internet probe's result (a local listener stands in for the internet) and the removable-media report.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hall_protocol::payload::{DeviceEvent, DeviceEventKind, Heartbeat};

mod util;
use util::{Mosquitto, subscribe, wait_for};

struct Agent {
    child: Child,
    log: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- hall-agent log ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

enum Seen {
    Heartbeat(Heartbeat),
    Event(DeviceEvent),
}

fn seen(p: &rumqttc::Publish) -> Option<Seen> {
    if p.topic.ends_with("/heartbeat") {
        Some(Seen::Heartbeat(serde_json::from_slice(&p.payload).unwrap()))
    } else if p.topic.ends_with("/event") {
        Some(Seen::Event(serde_json::from_slice(&p.payload).unwrap()))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_raises_its_fault_once_and_clears_it_once() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("paper-out");
    let internet = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"hall_id = "it-faults"
device_id = "kiosk-9"
heartbeat_interval_secs = 1

[broker]
host = "127.0.0.1"
port = {port}
keep_alive_secs = 5
max_backoff_secs = 2

[[checks]]
name = "receipt_printer"
command = "if [ -e '{flag}' ]; then echo 'paper out at tray 1' >&2; exit 2; fi"
fault_code = "printer_error"
exit_codes = {{ 1 = "printer_paper_low", 2 = "printer_paper_out", 3 = "printer_jam" }}

[internet_probe]
targets = ["{internet}"]
timeout_ms = 1000

[media]
enabled = true
"#,
            port = broker.port,
            flag = flag.display(),
            internet = internet.local_addr().unwrap(),
        ),
    )
    .unwrap();
    let (_watcher, mut rx) =
        subscribe(broker.port, "watcher", "hall/it-faults/device/kiosk-9/#").await;
    let log = dir.path().join("agent.log");
    let _agent = Agent {
        child: Command::new(env!("CARGO_BIN_EXE_hall-agent"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start hall-agent"),
        log,
    };
    let limit = Duration::from_secs(20);

    let first = wait_for(
        &mut rx,
        limit,
        "a heartbeat with the printer ok",
        |p| match seen(p)? {
            Seen::Heartbeat(hb) if hb.checks.peripherals.first().is_some_and(|c| c.ok) => Some(hb),
            Seen::Event(e) => panic!("no fault while the check passes: {e:?}"),
            _ => None,
        },
    )
    .await;
    assert_eq!(
        first.checks.internet_reachable,
        Some(true),
        "the probe reached the listener"
    );
    assert!(
        first.checks.removable_media.is_some(),
        "media are reported when enabled"
    );

    std::fs::write(&flag, "").unwrap();
    let raised = wait_for(&mut rx, limit, "fault_raised", |p| match seen(p)? {
        Seen::Event(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(raised.kind, DeviceEventKind::FaultRaised);
    assert_eq!(
        raised.code, "printer_paper_out",
        "exit status 2 maps to paper out"
    );
    assert!(
        raised.message.contains("paper out at tray 1"),
        "{}",
        raised.message
    );

    // Three more failing heartbeats and no second event.
    let mut failing = 0;
    wait_for(
        &mut rx,
        limit,
        "three failing heartbeats",
        |p| match seen(p)? {
            Seen::Event(e) => panic!("the fault is raised once only: {e:?}"),
            Seen::Heartbeat(hb) => {
                let check = &hb.checks.peripherals[0];
                assert!(!check.ok);
                assert_eq!(check.fault_code.as_deref(), Some("printer_paper_out"));
                failing += 1;
                (failing == 3).then_some(())
            }
        },
    )
    .await;

    std::fs::remove_file(&flag).unwrap();
    let cleared = wait_for(&mut rx, limit, "fault_cleared", |p| match seen(p)? {
        Seen::Event(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(cleared.kind, DeviceEventKind::FaultCleared);
    assert_eq!(cleared.code, "printer_paper_out");
    let mut passing = 0;
    wait_for(&mut rx, limit, "two passing heartbeats", |p| {
        match seen(p)? {
            Seen::Event(e) => panic!("cleared once only: {e:?}"),
            Seen::Heartbeat(hb) => {
                assert!(hb.checks.peripherals[0].ok);
                passing += 1;
                (passing == 2).then_some(())
            }
        }
    })
    .await;
}
