//! The leave register's rules (POST-5), pure: validation of a new entry and the late-notice flag.
//!
//! ## Late notice: how the working days are counted
//!
//! The regulation asks for annual leave to be reported "至少提前3个工作日" (at least 3 working days ahead). We read
//! it the way a deadline is usually counted in the hall: step back 3 working days from the day the leave starts;
//! the entry is in time if it is made on that day or earlier. Equivalently, count the working days `d` with
//!
//! ```text
//! creation date <= d < start date        (hall-local dates)
//! ```
//!
//! and flag the entry when there are fewer than 3. So for leave starting on a Thursday (Mon–Fri working), an entry
//! made on Monday at any hour is in time (Mon, Tue, Wed) and one made on Tuesday is late (Tue, Wed). An entry made
//! on a non-working day counts from the next working day: Sunday before that Thursday is in time too. The time of
//! day of either instant plays no part, only the hall-local dates; an entry made after the leave started is always
//! late. Only annual leave (年休假) is flagged; the other kinds (sick leave above all) cannot be planned ahead.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use hall_protocol::api::{LeaveKind, NewLeave};

use crate::model::calendar::Calendar;

/// Working days of notice annual leave needs (POST-5).
pub const ANNUAL_NOTICE_WORKING_DAYS: u32 = 3;

/// What the leave rules need to know of the hall's calendar (CAL-2).
pub trait HallDays {
    /// The hall's time zone.
    fn tz(&self) -> Tz;
    /// Whether the hall opens on `date` (hall-local).
    fn is_working_day(&self, date: NaiveDate) -> bool;
}

impl HallDays for Calendar {
    fn tz(&self) -> Tz {
        Calendar::tz(self)
    }
    fn is_working_day(&self, date: NaiveDate) -> bool {
        Calendar::is_working_day(self, date)
    }
}

/// Whether leave of `kind`, entered at `created` and starting at `start` (both hall-local), is late notice.
///
/// See the module docs for how the working days are counted.
pub fn is_late_notice(
    kind: LeaveKind,
    created: NaiveDateTime,
    start: NaiveDateTime,
    is_working_day: impl Fn(NaiveDate) -> bool,
) -> bool {
    if kind != LeaveKind::Annual {
        return false;
    }
    let mut n_working = 0;
    let mut day = created.date();
    let start_date = start.date();
    // Stops as soon as the notice is enough, so a leave entered a year ahead costs three steps, not 365.
    while day < start_date && n_working < ANNUAL_NOTICE_WORKING_DAYS {
        if is_working_day(day) {
            n_working += 1;
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    n_working < ANNUAL_NOTICE_WORKING_DAYS
}

/// [`is_late_notice`] for instants, read in the hall's time zone.
pub fn late_notice_in_hall(
    kind: LeaveKind,
    created: DateTime<Utc>,
    start: DateTime<Utc>,
    days: &impl HallDays,
) -> bool {
    let tz = days.tz();
    is_late_notice(
        kind,
        created.with_timezone(&tz).naive_local(),
        start.with_timezone(&tz).naive_local(),
        |d| days.is_working_day(d),
    )
}

/// Why a new leave entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaveError {
    #[error("leave needs the staff id of the person on leave in \"staff_id\"")]
    MissingStaff,
    #[error("leave needs the name of who enters it in \"by\"")]
    MissingAuthor,
    #[error("leave must end after it starts (start {start}, end {end})")]
    EndNotAfterStart { start: String, end: String },
    #[error("the substitute {0:?} is the person on leave")]
    SubstituteIsSelf(String),
    #[error("recording a return needs a name in \"by\"")]
    MissingReturner,
}

/// Checks a new entry and trims its names; empty optional fields become `None`.
pub fn validate(mut new: NewLeave) -> Result<NewLeave, LeaveError> {
    new.staff_id = new.staff_id.trim().to_owned();
    new.by = new.by.trim().to_owned();
    new.approver = non_empty(new.approver);
    new.substitute = non_empty(new.substitute);
    if new.staff_id.is_empty() {
        return Err(LeaveError::MissingStaff);
    }
    if new.by.is_empty() {
        return Err(LeaveError::MissingAuthor);
    }
    if new.end <= new.start {
        return Err(LeaveError::EndNotAfterStart {
            start: new.start.to_rfc3339(),
            end: new.end.to_rfc3339(),
        });
    }
    if new.substitute.as_deref() == Some(new.staff_id.as_str()) {
        return Err(LeaveError::SubstituteIsSelf(new.staff_id));
    }
    Ok(new)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveTime, Weekday};

    /// Monday to Friday, except the listed holidays.
    fn weekdays_except(holidays: &[NaiveDate]) -> impl Fn(NaiveDate) -> bool + '_ {
        move |d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d)
    }

    fn at(date: &str, time: &str) -> NaiveDateTime {
        NaiveDateTime::new(
            date.parse().unwrap(),
            NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
        )
    }

    #[test]
    fn late_notice_boundaries() {
        // 2026-03-02 is a Monday; leave starts Thursday 2026-03-05 08:30.
        let start = at("2026-03-05", "08:30");
        let cases = [
            // (created, late?, why)
            ("2026-02-26", "17:00", false, "Thursday before: plenty"),
            (
                "2026-03-01",
                "23:59",
                false,
                "Sunday: Mon, Tue, Wed still ahead",
            ),
            (
                "2026-03-02",
                "00:00",
                false,
                "Monday start of day: Mon, Tue, Wed",
            ),
            (
                "2026-03-02",
                "23:59",
                false,
                "Monday end of day: the day itself counts",
            ),
            ("2026-03-03", "00:00", true, "Tuesday: only Tue, Wed"),
            ("2026-03-04", "09:00", true, "Wednesday"),
            ("2026-03-05", "08:00", true, "the day it starts"),
            ("2026-03-06", "08:00", true, "after it started"),
        ];
        for (date, time, late, why) in cases {
            assert_eq!(
                is_late_notice(
                    LeaveKind::Annual,
                    at(date, time),
                    start,
                    weekdays_except(&[])
                ),
                late,
                "{why}"
            );
        }
    }

    #[test]
    fn late_notice_skips_holidays_and_counts_makeup_days() {
        // Leave starts Thursday 2026-03-05; Tuesday 03-03 is a holiday, so Monday leaves only Mon and Wed.
        let holiday = ["2026-03-03".parse().unwrap()];
        let start = at("2026-03-05", "08:30");
        assert!(is_late_notice(
            LeaveKind::Annual,
            at("2026-03-02", "09:00"),
            start,
            weekdays_except(&holiday)
        ));
        // Friday before: Fri, Mon, Wed.
        assert!(!is_late_notice(
            LeaveKind::Annual,
            at("2026-02-27", "09:00"),
            start,
            weekdays_except(&holiday)
        ));
        // A make-up Saturday (调休上班) counts as a working day: an entry on Saturday 02-28 for leave starting
        // Wednesday 03-04 has Sat, Mon, Tue with the make-up day, only Mon, Tue without it.
        let makeup: NaiveDate = "2026-02-28".parse().unwrap();
        let with_makeup = |d: NaiveDate| d == makeup || weekdays_except(&[])(d);
        let start_wed = at("2026-03-04", "08:30");
        assert!(!is_late_notice(
            LeaveKind::Annual,
            at("2026-02-28", "10:00"),
            start_wed,
            with_makeup
        ));
        assert!(is_late_notice(
            LeaveKind::Annual,
            at("2026-02-28", "10:00"),
            start_wed,
            weekdays_except(&[])
        ));
    }

    #[test]
    fn only_annual_leave_is_flagged() {
        let created = at("2026-03-05", "08:00");
        let start = at("2026-03-05", "08:30");
        for kind in LeaveKind::ALL {
            let late = is_late_notice(kind, created, start, weekdays_except(&[]));
            assert_eq!(late, kind == LeaveKind::Annual, "{kind:?}");
        }
    }

    #[test]
    fn late_notice_in_hall_reads_local_dates() {
        struct Weekdays;
        impl HallDays for Weekdays {
            fn tz(&self) -> Tz {
                chrono_tz::Asia::Shanghai
            }
            fn is_working_day(&self, d: NaiveDate) -> bool {
                !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
            }
        }
        // Monday 2026-03-02 00:30 in Shanghai is still Sunday in UTC: the hall's date is what counts.
        let created: DateTime<Utc> = "2026-03-01T16:30:00Z".parse().unwrap();
        let start: DateTime<Utc> = "2026-03-05T00:30:00Z".parse().unwrap();
        assert!(!late_notice_in_hall(
            LeaveKind::Annual,
            created,
            start,
            &Weekdays
        ));
        // Tuesday 00:30 in Shanghai is Monday in UTC, but the hall's Tuesday is late.
        let created: DateTime<Utc> = "2026-03-02T16:30:00Z".parse().unwrap();
        assert!(late_notice_in_hall(
            LeaveKind::Annual,
            created,
            start,
            &Weekdays
        ));
    }

    fn new_leave() -> NewLeave {
        NewLeave {
            staff_id: " s-001 ".into(),
            kind: LeaveKind::Sick,
            start: "2026-03-05T08:30:00+08:00".parse().unwrap(),
            end: "2026-03-05T12:00:00+08:00".parse().unwrap(),
            approver: Some("  ".into()),
            substitute: Some("s-002".into()),
            note: String::new(),
            by: "王主任".into(),
        }
    }

    #[test]
    fn validation() {
        let ok = validate(new_leave()).unwrap();
        assert_eq!(ok.staff_id, "s-001");
        assert_eq!(ok.approver, None);

        let mut l = new_leave();
        l.staff_id = "  ".into();
        assert_eq!(validate(l), Err(LeaveError::MissingStaff));

        let mut l = new_leave();
        l.by = "".into();
        assert_eq!(validate(l), Err(LeaveError::MissingAuthor));

        let mut l = new_leave();
        l.end = l.start;
        assert!(matches!(
            validate(l),
            Err(LeaveError::EndNotAfterStart { .. })
        ));

        // Same instant written with another offset is not "after".
        let mut l = new_leave();
        l.end = "2026-03-05T00:30:00+00:00".parse().unwrap();
        assert!(matches!(
            validate(l),
            Err(LeaveError::EndNotAfterStart { .. })
        ));

        let mut l = new_leave();
        l.substitute = Some("s-001 ".into());
        assert_eq!(
            validate(l),
            Err(LeaveError::SubstituteIsSelf("s-001".into()))
        );
    }
}
