//! The one clock interface of the gateway.
//!
//! Production uses the real clock; the demo uses a virtual clock shared with `hall-sim` (a start time and a speed,
//! anchored at a real Unix time that both processes are given); replay drives a manual clock from the recorded
//! times. The hall model never reads a clock: the code that owns IO asks a [`Clock`] and passes [`Now`] in.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};

/// One reading of the clock: a monotonic part for liveness and timers, a wall part for calendars and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time since the clock's origin; never goes back.
    pub mono: Duration,
    /// Wall-clock time (UTC) as the hall sees it.
    pub wall: DateTime<Utc>,
}

impl Now {
    /// A reading `d` later (for tests and replay).
    pub fn after(self, d: Duration) -> Now {
        Now {
            mono: self.mono + d,
            wall: self.wall + TimeDelta::from_std(d).unwrap_or(TimeDelta::zero()),
        }
    }
}

/// Source of [`Now`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Now;
    /// How many hall seconds pass per real second (1 for the real clock).
    fn speed(&self) -> f64 {
        1.0
    }
}

/// The real clock: `Instant` for the monotonic part, the system time for the wall part.
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now {
            mono: self.origin.elapsed(),
            wall: Utc::now(),
        }
    }
}

/// A virtual clock: hall time = `start + (real now - anchor) * speed`. Two processes given the same anchor, start
/// and speed agree on the hall's time, which is how the demo's gateway and simulator share one working day.
pub struct VirtualClock {
    anchor_unix_ms: i64,
    start: DateTime<Utc>,
    speed: f64,
    origin: Instant,
    origin_virtual_ms: f64,
}

impl VirtualClock {
    pub fn new(anchor_unix_ms: i64, start: DateTime<Utc>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let elapsed_ms = (unix_ms_now() - anchor_unix_ms).max(0) as f64;
        VirtualClock {
            anchor_unix_ms,
            start,
            speed,
            origin: Instant::now(),
            origin_virtual_ms: elapsed_ms * speed,
        }
    }

    pub fn anchor_unix_ms(&self) -> i64 {
        self.anchor_unix_ms
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Now {
        // The monotonic part scales the real monotonic clock, so it never goes back even if the system time does.
        let virt_ms =
            self.origin_virtual_ms + self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed;
        let wall = self.start + TimeDelta::milliseconds(virt_ms as i64);
        Now {
            mono: Duration::from_secs_f64(virt_ms / 1000.0),
            wall,
        }
    }

    fn speed(&self) -> f64 {
        self.speed
    }
}

/// A clock set by hand: replay moves it to each recorded time.
pub struct ManualClock {
    now: Mutex<Now>,
}

impl ManualClock {
    pub fn new(wall: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(Now {
                mono: Duration::ZERO,
                wall,
            }),
        }
    }

    /// Moves the clock to `wall`; a time earlier than the current one leaves the clock where it is.
    pub fn set(&self, wall: DateTime<Utc>) -> Now {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(d) = (wall - now.wall).to_std() {
            *now = now.after(d);
        }
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Now {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_runs_at_its_speed_from_the_anchor() {
        let start: DateTime<Utc> = "2026-12-03T00:00:00Z".parse().unwrap();
        let clock = VirtualClock::new(unix_ms_now() - 1000, start, 60.0);
        let now = clock.now();
        // One real second since the anchor is a minute of hall time.
        assert!(now.wall >= start + TimeDelta::seconds(60), "{now:?}");
        assert!(now.wall < start + TimeDelta::seconds(120), "{now:?}");
        assert!(now.mono >= Duration::from_secs(60));
    }

    #[test]
    fn manual_clock_never_goes_back() {
        let t0: DateTime<Utc> = "2026-12-03T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(t0);
        let a = clock.set(t0 + TimeDelta::seconds(5));
        let b = clock.set(t0 + TimeDelta::seconds(2));
        assert_eq!(a, b);
        assert_eq!(a.mono, Duration::from_secs(5));
    }
}
