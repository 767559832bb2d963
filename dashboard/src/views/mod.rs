//! The pages of the dashboard and the pieces they share.

pub mod common;
pub mod device;
pub mod duty;
pub mod home;
pub mod inspection;
pub mod it;
pub mod wall;
