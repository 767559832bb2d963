//! From the leave register to what the post rules need (POST-4, POST-5): who is away, when, whether it is half a
//! day or more, and who is expected to cover.

use chrono::{DateTime, Utc};
use hall_protocol::api::{LeaveEntry, WindowState, WindowTransition};

use super::calendar::Calendar;
use super::windows::Absence;

/// Whether `[start, end)` covers at least one whole service period of some working day: "half a day or more"
/// (半天以上（含半天）, POST-4).
pub fn is_half_day_or_more(calendar: &Calendar, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let (first, last) = (calendar.local_date(start), calendar.local_date(end));
    let mut day = first;
    while day <= last {
        if let Some(plan) = calendar.day_plan(day) {
            for p in &plan.periods {
                let (Some(ps), Some(pe)) =
                    (calendar.to_utc(day, p.start), calendar.to_utc(day, p.end))
                else {
                    continue;
                };
                if start <= ps && pe <= end {
                    return true;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    false
}

/// The absences of the register: entries not yet returned (a return ends the absence at the return time).
pub fn absences(
    calendar: &Calendar,
    entries: &[LeaveEntry],
    staff_name: impl Fn(&str) -> String,
) -> Vec<Absence> {
    entries
        .iter()
        .filter_map(|e| {
            let start = e.start.to_utc();
            let end = e
                .returned_at
                .map_or(e.end.to_utc(), |r| r.min(e.end.to_utc()));
            (end > start).then(|| Absence {
                staff_id: e.staff_id.clone(),
                start,
                end,
                half_day_or_more: is_half_day_or_more(calendar, start, e.end.to_utc()),
                substitute: e.substitute.as_deref().map(&staff_name),
            })
        })
        .collect()
}

/// Who was at a window according to its last journalled transition: `(present, away)`.
pub fn presence_of(t: &WindowTransition) -> (Option<String>, Option<(String, Option<String>)>) {
    let staff = t.staff.as_ref().map(|s| s.id.clone());
    match t.state {
        WindowState::AwayReported => (None, staff.map(|s| (s, t.reason.clone()))),
        WindowState::Empty => (None, None),
        _ => (staff, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_protocol::config::CalendarConfig;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn half_a_day_means_a_whole_service_period() {
        let c = Calendar::from_config(&CalendarConfig::default()).unwrap();
        // 2026-12-03 is a winter Thursday: 08:30–12:00 and 14:00–17:30.
        assert!(
            is_half_day_or_more(&c, at("2026-12-03T08:30:00"), at("2026-12-03T12:00:00")),
            "exactly the morning"
        );
        assert!(
            !is_half_day_or_more(&c, at("2026-12-03T08:31:00"), at("2026-12-03T12:00:00")),
            "a minute short"
        );
        assert!(
            !is_half_day_or_more(&c, at("2026-12-03T09:00:00"), at("2026-12-03T16:00:00")),
            "parts of both"
        );
        assert!(
            is_half_day_or_more(&c, at("2026-12-03T13:00:00"), at("2026-12-04T09:00:00")),
            "the afternoon"
        );
        // A weekend has no period to miss.
        assert!(!is_half_day_or_more(
            &c,
            at("2026-12-05T00:00:00"),
            at("2026-12-07T00:00:00")
        ));
    }
}
