//! Host metrics for the heartbeat, read with `sysinfo`: CPU, memory, the root file system's fill level and the
//! hottest temperature sensor, when the host has one.

use std::path::Path;

use hall_protocol::payload::Metrics;
use sysinfo::{Components, Disks, System};

/// Keeps the `sysinfo` handles between heartbeats: CPU usage is a difference between two refreshes, so the first
/// reading after start is only meaningful because [`HostMetrics::new`] already took one.
pub struct HostMetrics {
    system: System,
    disks: Disks,
    components: Components,
}

impl Default for HostMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HostMetrics {
    pub fn new() -> HostMetrics {
        let mut system = System::new();
        system.refresh_cpu_usage();
        system.refresh_memory();
        HostMetrics {
            system,
            disks: Disks::new_with_refreshed_list(),
            components: Components::new_with_refreshed_list(),
        }
    }

    /// Refreshes and reads the metrics. Blocking but quick (a few file reads on Linux).
    pub fn sample(&mut self) -> Metrics {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(true);
        self.components.refresh(false);

        let cpu_pct = Some(round1(f64::from(self.system.global_cpu_usage())));
        let total = self.system.total_memory();
        let mem_pct = (total > 0).then(|| {
            round1(100.0 * (total - self.system.available_memory()) as f64 / total as f64)
        });
        let disk_pct = self.root_disk_pct();
        let temp_c = self
            .components
            .iter()
            .filter_map(|c| c.temperature())
            .filter(|t| t.is_finite() && *t > -50.0)
            .map(f64::from)
            .reduce(f64::max)
            .map(round1);
        Metrics {
            cpu_pct,
            mem_pct,
            disk_pct,
            temp_c,
            latency_ms: None,
        }
    }

    /// Fill level of the file system holding `/` (or `C:\`): the disk with the longest mount point that is a
    /// prefix of the root, which on Unix is simply the one mounted at `/`.
    fn root_disk_pct(&self) -> Option<f64> {
        let root = if cfg!(windows) {
            Path::new("C:\\")
        } else {
            Path::new("/")
        };
        let disk = self
            .disks
            .iter()
            .filter(|d| root.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len())?;
        let total = disk.total_space();
        (total > 0).then(|| {
            round1(100.0 * (total - disk.available_space().min(total)) as f64 / total as f64)
        })
    }
}

/// Seconds since the host booted.
pub fn host_uptime_secs() -> u64 {
    System::uptime()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_percentages() {
        let mut m = HostMetrics::new();
        let s = m.sample();
        for v in [s.cpu_pct, s.mem_pct, s.disk_pct].into_iter().flatten() {
            assert!((0.0..=100.0).contains(&v), "{s:?}");
        }
        assert!(s.mem_pct.is_some(), "memory is always measurable: {s:?}");
    }
}
