//! Components that send the hall's data out of the gateway. One folder per destination.

pub mod influxdb;
pub mod points;
pub mod webhook;
