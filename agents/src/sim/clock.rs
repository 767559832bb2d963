//! The simulator's virtual clock. With `--clock-anchor-unix-ms A --clock-start S --speed N`, the simulated time at
//! real Unix time `t` is `S + (t - A) × N`; any other process given the same three values (the gateway in a demo or
//! a test) computes the very same simulated time without talking to the simulator. Without the flags the clock
//! starts at the real time when the simulator starts.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use chrono_tz::Tz;

/// Maps real time to simulated time.
#[derive(Debug, Clone)]
pub struct SimClock {
    anchor_unix_ms: i64,
    start: DateTime<Utc>,
    speed: f64,
    tz: Tz,
}

impl SimClock {
    /// A clock that shows `start` at real Unix time `anchor_unix_ms` and runs `speed` times faster than real time.
    pub fn new(anchor_unix_ms: i64, start: DateTime<Utc>, speed: f64, tz: Tz) -> SimClock {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        SimClock {
            anchor_unix_ms,
            start,
            speed,
            tz,
        }
    }

    /// A clock that starts at the current real time.
    pub fn starting_now(speed: f64, tz: Tz) -> SimClock {
        let now = Utc::now();
        SimClock::new(now.timestamp_millis(), now, speed, tz)
    }

    /// Simulated time at real Unix time `unix_ms`.
    pub fn at_unix_ms(&self, unix_ms: i64) -> DateTime<FixedOffset> {
        let sim_ms = ((unix_ms - self.anchor_unix_ms) as f64 * self.speed).round() as i64;
        (self.start + TimeDelta::milliseconds(sim_ms))
            .with_timezone(&self.tz)
            .fixed_offset()
    }

    /// Simulated time now, in the hall's time zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.at_unix_ms(Utc::now().timestamp_millis())
    }

    /// How long a simulated span takes in real time.
    pub fn real(&self, sim: Duration) -> Duration {
        sim.div_f64(self.speed)
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_time_runs_at_speed_from_the_anchor() {
        let start: DateTime<Utc> = "2026-12-03T00:10:00Z".parse().unwrap();
        let clock = SimClock::new(1_000_000, start, 60.0, chrono_tz::Asia::Shanghai);
        assert_eq!(
            clock.at_unix_ms(1_000_000).to_rfc3339(),
            "2026-12-03T08:10:00+08:00"
        );
        // One real second is one simulated minute.
        assert_eq!(
            clock.at_unix_ms(1_001_000).to_rfc3339(),
            "2026-12-03T08:11:00+08:00"
        );
        assert_eq!(clock.real(Duration::from_secs(60)), Duration::from_secs(1));
    }
}
