//! Components that send the hall's data out of the gateway. One folder per destination.

pub mod influxdb;
