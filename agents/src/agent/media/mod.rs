//! Mounted removable storage (DEV-5), for the heartbeat's `checks.removable_media`. The platform part lives in
//! one file per system behind [`mounted_removable_media`]; the rest of the agent never looks at sysfs.

#[cfg(target_os = "linux")]
mod linux;

use hall_protocol::payload::RemovableMedium;

/// The removable storage media mounted right now, each with its serial number, label and mount point.
#[cfg(target_os = "linux")]
pub fn mounted_removable_media() -> Vec<RemovableMedium> {
    linux::mounted_removable_media()
}

/// Not implemented on this system: reports nothing, and says so once.
#[cfg(not(target_os = "linux"))]
pub fn mounted_removable_media() -> Vec<RemovableMedium> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!("removable-media reporting is implemented for Linux only; reporting none")
    });
    Vec::new()
}
