//! HallWatch's programs that stand in for devices: `hall-agent`, the small agent that runs on each kiosk and window
//! PC, and `hall-sim`, which plays a whole hall (every configured device, staff presence, faults) over real MQTT for
//! demos, tests and load generation.
//!
//! Both speak only the wire types of `hall-protocol`. The binaries in `src/bin/` are thin: they parse flags, set up
//! logging and call [`agent::run`] or [`sim::run`].

pub mod adapter;
pub mod agent;
pub mod link;
pub mod shutdown;
pub mod sim;

/// Sets up `tracing` to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

/// Every file in `config/` must parse with the type that reads it, and the example hall must hang together.
#[cfg(test)]
mod example_configs {
    use std::collections::BTreeSet;

    use hall_protocol::config::HallConfig;

    use crate::agent::AgentConfig;

    fn config_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
    }

    #[test]
    fn every_file_in_config_parses() {
        let mut n_files = 0;
        for entry in std::fs::read_dir(config_dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if name.starts_with("hall") && name.ends_with(".toml") {
                toml::from_str::<HallConfig>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else if name.starts_with("agent") && name.ends_with(".toml") {
                let cfg =
                    toml::from_str::<AgentConfig>(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                cfg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                panic!("{name}: no parser known for this file; teach this test about it");
            }
            n_files += 1;
        }
        assert!(n_files >= 2);
    }

    #[test]
    fn example_hall_references_resolve() {
        let text = std::fs::read_to_string(config_dir().join("hall.example.toml")).unwrap();
        let hall: HallConfig = toml::from_str(&text).unwrap();
        assert_eq!(hall.hall.id, "demo-hall");
        let units: BTreeSet<&str> = hall.units.iter().map(|u| u.id.as_str()).collect();
        let staff: BTreeSet<&str> = hall.staff.iter().map(|s| s.id.as_str()).collect();
        let services: BTreeSet<&str> = hall.services.iter().map(|s| s.id.as_str()).collect();
        let windows: BTreeSet<&str> = hall.windows.iter().map(|w| w.id.as_str()).collect();
        let devices: BTreeSet<&str> = hall.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(devices.len(), hall.devices.len(), "device ids are unique");
        assert_eq!(windows.len(), hall.windows.len(), "window ids are unique");
        assert!(hall.windows.len() >= 20);
        for s in &hall.staff {
            assert!(
                units.contains(s.unit.as_str()),
                "staff {}: unknown unit {}",
                s.id,
                s.unit
            );
        }
        for w in &hall.windows {
            assert!(
                units.contains(w.unit.as_str()),
                "window {}: unknown unit",
                w.id
            );
            assert!(
                staff.contains(w.a_post.as_str()),
                "window {}: unknown a_post",
                w.id
            );
            let b = w
                .b_post
                .as_deref()
                .expect("every example window has a B post");
            assert!(
                staff.contains(b) && b != w.a_post,
                "window {}: bad b_post",
                w.id
            );
            for s in &w.services {
                assert!(
                    services.contains(s.as_str()),
                    "window {}: unknown service {s}",
                    w.id
                );
            }
        }
        for d in &hall.devices {
            if let Some(w) = &d.window {
                assert!(
                    windows.contains(w.as_str()),
                    "device {}: unknown window {w}",
                    d.id
                );
            }
        }
        assert!(
            devices.iter().any(|id| id.contains(' ') && !id.is_ascii()),
            "a Unicode id with a space"
        );
        assert!(
            hall.units
                .iter()
                .any(|u| u.kind == hall_protocol::config::UnitKind::Single)
        );
    }
}
