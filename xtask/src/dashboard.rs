//! Builds the dashboard: the `hall-dashboard` crate to wasm, then its JavaScript bindings, into a folder the
//! gateway serves as its static site.
//!
//! wasm-bindgen runs as a library (`wasm-bindgen-cli-support`, pinned to the exact `wasm-bindgen` version in
//! Cargo.lock), so no global CLI tool is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CRATE: &str = "hall-dashboard";
/// Name of the generated files: `hall_dashboard.js` and `hall_dashboard_bg.wasm`.
const OUT_NAME: &str = "hall_dashboard";

/// Builds the dashboard into `target/dashboard/` under `workspace_root` and returns that folder.
///
/// `release` uses the size-optimised `release-wasm` profile. The folder holds `index.html`, `style.css`,
/// `hall_dashboard.js` and `hall_dashboard_bg.wasm`; the gateway serves it at `/` and answers `/wall`, `/duty` and
/// `/it` with `index.html`.
pub fn build(workspace_root: &Path, release: bool) -> anyhow::Result<PathBuf> {
    ensure_wasm_target()?;

    let target_dir = workspace_root.join("target").join("wasm");
    // `cargo` from PATH on purpose: `env!("CARGO")` names one toolchain's binary, which breaks when a dependency
    // ships its own rust-toolchain.toml.
    let mut cargo = Command::new("cargo");
    cargo
        .current_dir(workspace_root)
        .args([
            "build",
            "-p",
            CRATE,
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    let profile_dir = if release {
        cargo.args(["--profile", "release-wasm"]);
        "release-wasm"
    } else {
        "debug"
    };
    run(&mut cargo)?;

    let wasm = target_dir
        .join(WASM_TARGET)
        .join(profile_dir)
        .join(format!("{CRATE}.wasm"));
    let out_dir = workspace_root.join("target").join("dashboard");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("creating dashboard output folder {}", out_dir.display()))?;

    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name(OUT_NAME)
        .web(true)
        .context("selecting the web target of wasm-bindgen")?
        // Without this the generated `init()` has no default URL for the wasm file and fails in the browser with
        // "WebAssembly.instantiate(): Argument 0 must be a buffer source".
        .omit_default_module_path(false)
        .typescript(false)
        .debug(!release)
        .remove_name_section(release)
        .remove_producers_section(release)
        .generate(&out_dir)
        .with_context(|| format!("generating JavaScript bindings for {}", wasm.display()))?;

    let source = workspace_root.join("dashboard");
    for file in ["index.html", "style.css"] {
        std::fs::copy(source.join(file), out_dir.join(file))
            .with_context(|| format!("copying dashboard/{file} to {}", out_dir.display()))?;
    }
    Ok(out_dir)
}

/// Installs the wasm target with rustup when it is missing.
fn ensure_wasm_target() -> anyhow::Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list --installed` (is rustup installed?)")?;
    if !output.status.success() {
        bail!(
            "`rustup target list --installed` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
