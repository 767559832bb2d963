//! The outside programs the tests need, installed from Debian's packages when they are missing.

use std::path::Path;
use std::process::Command;

/// A program the tests run, and the Debian package that has it.
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
    pub why: &'static str,
}

/// Everything `cargo xtask test` needs on the machine.
pub const TEST_TOOLS: &[Tool] = &[
    Tool {
        program: "mosquitto",
        package: "mosquitto",
        why: "MQTT broker for integration tests",
    },
    Tool {
        program: "chromium",
        package: "chromium",
        why: "headless browser for dashboard tests",
    },
    Tool {
        program: "chromedriver",
        package: "chromium-driver",
        why: "WebDriver for the browser",
    },
    Tool {
        program: "influxd",
        package: "influxdb",
        why: "InfluxDB 1.x for the metrics sink",
    },
    Tool {
        program: "victoria-metrics",
        package: "victoria-metrics",
        why: "InfluxDB v2 write API for the sink",
    },
];

/// Fonts screenshots need for Chinese text.
const FONT_PACKAGE: &str = "fonts-noto-cjk";

/// Whether `program` is on PATH (or at /usr/sbin, where Debian puts some daemons).
pub fn have(program: &str) -> bool {
    which(program).is_some()
}

pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Installs the missing tools with apt-get when that is possible; says plainly what is missing otherwise.
pub fn ensure(tools: &[Tool]) -> anyhow::Result<()> {
    let mut packages: Vec<&str> = tools
        .iter()
        .filter(|t| !have(t.program))
        .map(|t| t.package)
        .collect();
    if !Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").exists() {
        packages.push(FONT_PACKAGE);
    }
    if packages.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} with apt-get", packages.join(" "));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let sudo: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let mut all: Vec<&str> = sudo.to_vec();
        all.extend_from_slice(args);
        let status = Command::new(all[0])
            .args(&all[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| anyhow::anyhow!("running {}: {e}", all.join(" ")))?;
        anyhow::ensure!(status.success(), "{} failed with {status}", all.join(" "));
        Ok(())
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    run(&install)?;
    for t in tools {
        anyhow::ensure!(
            have(t.program),
            "{} ({}) is still missing after installing {}",
            t.program,
            t.why,
            t.package
        );
    }
    Ok(())
}
