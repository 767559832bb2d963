//! End-to-end tests over real processes: the gateway binary, its embedded broker or a real Mosquitto, real
//! `hall-agent` processes, and headless Chromium. `cargo xtask test` installs and builds what they need.

mod agent;
mod browser;
mod chrome;
mod duty;
mod gateway;
mod influx;
mod live;
mod records;
mod replay;
mod restart;
mod util;
mod wall;
