//! Replay scenarios: recorded messages under `tests/replay/` run through `hall-gateway replay`, compared line for
//! line with the expected alert lines next to them. A changed rule shows up here as a diff of alerts.

use std::path::Path;
use std::process::Command;

use crate::util::bin;

fn replay(scenario: &str) -> (String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay");
    let out = Command::new(bin("hall-gateway"))
        .arg("replay")
        .arg("--config")
        .arg(dir.join("hall.toml"))
        .arg("--events")
        .arg(dir.join(format!("{scenario}.jsonl")))
        .args(["--output", "alerts"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(dir.join(format!("{scenario}.alerts.jsonl"))).unwrap();
    (String::from_utf8(out.stdout).unwrap(), expected)
}

#[test]
fn post_rules_day_replays_to_the_expected_alerts() {
    let (got, expected) = replay("post-day");
    assert_eq!(
        got, expected,
        "replay output differs from tests/replay/post-day.alerts.jsonl"
    );
    // The scenario covers each post rule at its boundary.
    for needle in [
        r#""at":"2026-12-03T09:00:30+08:00","rule":"POST-2","kind":"empty_window""#,
        r#""at":"2026-12-03T09:40:01+08:00","rule":"POST-3","kind":"step_away_overdue""#,
        r#""at":"2026-12-03T10:00:30+08:00","rule":"POST-3","kind":"empty_window""#,
    ] {
        assert!(got.contains(needle), "missing {needle} in\n{got}");
    }
}

#[test]
fn a_bad_line_in_a_recording_is_reported_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("bad.jsonl");
    std::fs::write(
        &events,
        "{\"at\":\"2026-12-03T09:00:00+08:00\",\"topic\":\"x\",\"payload\":{}}\nnot json\n",
    )
    .unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("replay/hall.toml");
    let out = Command::new(bin("hall-gateway"))
        .args(["replay", "--config"])
        .arg(cfg)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: not a record"), "{stderr}");
}
