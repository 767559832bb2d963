//! The HallWatch wire: every type that crosses a process boundary.
//!
//! Devices and adapters publish MQTT messages ([`topic`], [`payload`]); the gateway and the simulator read one hall
//! configuration file ([`config`]); the dashboard and other clients talk REST and WebSocket to the gateway ([`api`]).
//! This crate holds serde types and pure helpers only, so it builds for `wasm32-unknown-unknown` and the dashboard
//! shares the very same types as the gateway.

pub mod api;
pub mod config;
pub mod payload;
pub mod topic;

/// Version of the JSON payload schema. Payloads carry it as `"v"`; the gateway rejects versions it does not know.
pub const SCHEMA_VERSION: u32 = 1;
