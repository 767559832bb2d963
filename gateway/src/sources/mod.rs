//! Where the gateway's input comes from.

pub mod mqtt;
