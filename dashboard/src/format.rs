//! Formatting of times, durations and state keys for display. Pure functions.

use chrono::{DateTime, Datelike, FixedOffset, Utc, Weekday};
use hall_protocol::api::{Phase, WindowState};

use crate::i18n::{self, Lang};

/// `09:41:05`
pub fn hms(t: &DateTime<FixedOffset>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// `2026年12月3日 星期四` / `Thu 3 Dec 2026`
pub fn date_long(t: &DateTime<FixedOffset>) -> String {
    match i18n::lang() {
        Lang::Zh => {
            let wd = match t.weekday() {
                Weekday::Mon => "一",
                Weekday::Tue => "二",
                Weekday::Wed => "三",
                Weekday::Thu => "四",
                Weekday::Fri => "五",
                Weekday::Sat => "六",
                Weekday::Sun => "日",
            };
            format!("{}年{}月{}日 星期{}", t.year(), t.month(), t.day(), wd)
        }
        Lang::En => t.format("%a %-d %b %Y").to_string(),
    }
}

/// A gateway timestamp in the hall's time zone, as `HH:MM:SS`, with the date in front when it is not today.
pub fn hall_local(then: DateTime<Utc>, now: Option<&DateTime<FixedOffset>>) -> String {
    match now {
        Some(now) => {
            let local = then.with_timezone(now.offset());
            if local.date_naive() == now.date_naive() {
                hms(&local)
            } else {
                local.format("%m-%d %H:%M").to_string()
            }
        }
        None => then.format("%H:%M:%S UTC").to_string(),
    }
}

/// `N秒前` and friends.
pub fn ago(secs: i64) -> String {
    let t = i18n::t();
    let (template, n) = match secs {
        s if s < 60 => (t.secs_ago, s),
        s if s < 3_600 => (t.mins_ago, s / 60),
        s if s < 86_400 => (t.hours_ago, s / 3_600),
        s => (t.days_ago, s / 86_400),
    };
    i18n::fill(template, &[("n", n.to_string())])
}

/// `5:07` or `1:05:07`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3_600, (secs % 3_600) / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A percentage without decimals.
pub fn pct(v: f64) -> String {
    format!("{:.0}%", v)
}

/// The snake_case name of a window state, for `data-state` and CSS classes.
pub fn window_state_key(state: WindowState) -> &'static str {
    match state {
        WindowState::StaffedA => "staffed_a",
        WindowState::CoveredB => "covered_b",
        WindowState::CoveredOther => "covered_other",
        WindowState::AwayReported => "away_reported",
        WindowState::Empty => "empty",
        WindowState::Closed => "closed",
    }
}

/// The snake_case name of a phase, for CSS classes.
pub fn phase_key(phase: Phase) -> &'static str {
    match phase {
        Phase::Closed => "closed",
        Phase::PreOpen => "pre_open",
        Phase::Service => "service",
        Phase::Lunch => "lunch",
        Phase::Closing => "closing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(307), "5:07");
        assert_eq!(duration(3_907), "1:05:07");
        assert_eq!(duration(-5), "0:00");
    }
}
