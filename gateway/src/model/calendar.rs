//! The hall calendar (CAL-1..3): which days are working days, which periods open, and the phase at any instant.
//!
//! Pure: built once from [`CalendarConfig`], then asked with a time passed in.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use hall_protocol::api::Phase;
use hall_protocol::config::{CalendarConfig, TimetableConfig};

/// A service period of a working day (CAL-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Morning,
    Afternoon,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Morning => "morning",
            Period::Afternoon => "afternoon",
        }
    }
}

/// One open period on a given day, in hall-local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPeriod {
    pub period: Period,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The plan of one working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPlan {
    pub date: NaiveDate,
    pub pre_open: NaiveTime,
    /// Open periods in time order; never empty.
    pub periods: Vec<OpenPeriod>,
    pub closing_end: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Timetable {
    morning: (NaiveTime, NaiveTime),
    afternoon: (NaiveTime, NaiveTime),
}

/// The checked calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    summer_start: (u32, u32),
    winter_start: (u32, u32),
    summer: Timetable,
    winter: Timetable,
    pre_open: NaiveTime,
    closing: TimeDelta,
    extra: HashMap<Weekday, BTreeSet<Period>>,
    holidays: BTreeSet<NaiveDate>,
    makeup_days: BTreeSet<NaiveDate>,
}

/// A problem in the calendar config, with its path below `calendar`.
pub type CalendarProblem = (String, String);

impl Calendar {
    /// Checks the config; every problem is reported with its path.
    pub fn from_config(cfg: &CalendarConfig) -> Result<Calendar, Vec<CalendarProblem>> {
        let mut problems = Vec::new();
        let mut problem =
            |path: &str, msg: String| problems.push((format!("calendar.{path}"), msg));
        let tz: Tz = cfg.timezone.parse().unwrap_or_else(|_| {
            problem("timezone", format!("unknown time zone {:?}", cfg.timezone));
            chrono_tz::Asia::Shanghai
        });
        let summer_start = parse_month_day(&cfg.summer_start).unwrap_or_else(|e| {
            problem("summer_start", e);
            (5, 1)
        });
        let winter_start = parse_month_day(&cfg.winter_start).unwrap_or_else(|e| {
            problem("winter_start", e);
            (10, 1)
        });
        if summer_start == winter_start {
            problem(
                "winter_start",
                "summer and winter timetables start on the same day".into(),
            );
        }
        let summer = parse_timetable(&cfg.summer, "summer", &mut problem);
        let winter = parse_timetable(&cfg.winter, "winter", &mut problem);
        let pre_open = parse_time(&cfg.pre_open).unwrap_or_else(|e| {
            problem("pre_open", e);
            NaiveTime::from_hms_opt(8, 15, 0).unwrap_or_default()
        });
        for (name, tt) in [("summer", &summer), ("winter", &winter)] {
            if pre_open > tt.morning.0 {
                problem(
                    "pre_open",
                    format!(
                        "pre_open {pre_open} is after the {name} morning start {}",
                        tt.morning.0
                    ),
                );
            }
        }
        let mut extra: HashMap<Weekday, BTreeSet<Period>> = HashMap::new();
        for (i, slot) in cfg.extra_slots.iter().enumerate() {
            let Ok(day) = slot.weekday.parse::<Weekday>() else {
                problem(
                    &format!("extra_slots[{i}].weekday"),
                    format!("unknown weekday {:?}", slot.weekday),
                );
                continue;
            };
            for (j, p) in slot.periods.iter().enumerate() {
                match p.as_str() {
                    "morning" => extra.entry(day).or_default().insert(Period::Morning),
                    "afternoon" => extra.entry(day).or_default().insert(Period::Afternoon),
                    other => {
                        problem(
                            &format!("extra_slots[{i}].periods[{j}]"),
                            format!("unknown period {other:?}"),
                        );
                        false
                    }
                };
            }
        }
        let mut dates = |list: &[String], name: &str| {
            let mut set = BTreeSet::new();
            for (i, d) in list.iter().enumerate() {
                match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(date) => {
                        set.insert(date);
                    }
                    Err(_) => problem(
                        &format!("{name}[{i}]"),
                        format!("not a date (YYYY-MM-DD): {d:?}"),
                    ),
                }
            }
            set
        };
        let holidays = dates(&cfg.holidays, "holidays");
        let makeup_days = dates(&cfg.makeup_days, "makeup_days");
        for d in holidays.intersection(&makeup_days) {
            problems.push((
                "calendar.makeup_days".into(),
                format!("{d} is both a holiday and a make-up day"),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Calendar {
            tz,
            summer_start,
            winter_start,
            summer,
            winter,
            pre_open,
            closing: TimeDelta::minutes(cfg.closing_mins as i64),
            extra,
            holidays,
            makeup_days,
        })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether `date` uses the summer timetable (CAL-1): from `summer_start` up to the day before `winter_start`.
    pub fn is_summer(&self, date: NaiveDate) -> bool {
        let md = (date.month(), date.day());
        if self.summer_start < self.winter_start {
            md >= self.summer_start && md < self.winter_start
        } else {
            md >= self.summer_start || md < self.winter_start
        }
    }

    /// The plan of `date`, or `None` when the hall is closed all day (CAL-2).
    pub fn day_plan(&self, date: NaiveDate) -> Option<DayPlan> {
        let periods: BTreeSet<Period> = if self.makeup_days.contains(&date) {
            [Period::Morning, Period::Afternoon].into()
        } else if self.holidays.contains(&date) {
            BTreeSet::new()
        } else if date.weekday().number_from_monday() <= 5 {
            [Period::Morning, Period::Afternoon].into()
        } else {
            self.extra.get(&date.weekday()).cloned().unwrap_or_default()
        };
        if periods.is_empty() {
            return None;
        }
        let tt = if self.is_summer(date) {
            &self.summer
        } else {
            &self.winter
        };
        let periods: Vec<OpenPeriod> = periods
            .into_iter()
            .map(|period| {
                let (start, end) = match period {
                    Period::Morning => tt.morning,
                    Period::Afternoon => tt.afternoon,
                };
                OpenPeriod { period, start, end }
            })
            .collect();
        let first = periods[0].start;
        // The morning meeting comes before the first period; an afternoon-only day keeps the same lead time.
        let pre_open = first - (tt.morning.0 - self.pre_open);
        let closing_end = periods[periods.len() - 1].end + self.closing;
        Some(DayPlan {
            date,
            pre_open,
            periods,
            closing_end,
        })
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day_plan(date).is_some()
    }

    /// The hall-local date of an instant.
    pub fn local_date(&self, wall: DateTime<Utc>) -> NaiveDate {
        wall.with_timezone(&self.tz).date_naive()
    }

    /// The phase at an instant (CAL-3).
    pub fn phase_at(&self, wall: DateTime<Utc>) -> Phase {
        let local = wall.with_timezone(&self.tz);
        let Some(plan) = self.day_plan(local.date_naive()) else {
            return Phase::Closed;
        };
        let t = local.time();
        if t < plan.pre_open {
            return Phase::Closed;
        }
        if t < plan.periods[0].start {
            return Phase::PreOpen;
        }
        if plan.periods.iter().any(|p| t >= p.start && t < p.end) {
            return Phase::Service;
        }
        let last_end = plan.periods[plan.periods.len() - 1].end;
        if t < last_end {
            return Phase::Lunch;
        }
        if t < plan.closing_end {
            return Phase::Closing;
        }
        Phase::Closed
    }

    /// The open period at an instant, if any.
    pub fn period_at(&self, wall: DateTime<Utc>) -> Option<OpenPeriod> {
        let local = wall.with_timezone(&self.tz);
        let t = local.time();
        self.day_plan(local.date_naive())?
            .periods
            .into_iter()
            .find(|p| t >= p.start && t < p.end)
    }

    /// Converts a hall-local date and time to UTC (the earlier instant when ambiguous).
    pub fn to_utc(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("not a time (HH:MM): {s:?}"))
}

fn parse_month_day(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("not a month-day (MM-DD): {s:?}");
    let (m, d) = s.split_once('-').ok_or_else(bad)?;
    let (m, d): (u32, u32) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    NaiveDate::from_ymd_opt(2024, m, d).ok_or_else(bad)?;
    Ok((m, d))
}

fn parse_timetable(
    tt: &TimetableConfig,
    name: &str,
    problem: &mut impl FnMut(&str, String),
) -> Timetable {
    let mut pair = |p: &[String; 2], which: &str| {
        let path = format!("{name}.{which}");
        let start = parse_time(&p[0]).unwrap_or_else(|e| {
            problem(&path, e);
            NaiveTime::MIN
        });
        let end = parse_time(&p[1]).unwrap_or_else(|e| {
            problem(&path, e);
            NaiveTime::MIN
        });
        if start >= end {
            problem(
                &path,
                format!("period ends ({end}) before it starts ({start})"),
            );
        }
        (start, end)
    };
    let morning = pair(&tt.morning, "morning");
    let afternoon = pair(&tt.afternoon, "afternoon");
    if morning.1 > afternoon.0 {
        problem(
            &format!("{name}.afternoon"),
            format!(
                "afternoon starts ({}) before the morning ends ({})",
                afternoon.0, morning.1
            ),
        );
    }
    Timetable { morning, afternoon }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_protocol::config::ExtraSlotConfig;

    fn cal(f: impl FnOnce(&mut CalendarConfig)) -> Calendar {
        let mut cfg = CalendarConfig::default();
        f(&mut cfg);
        Calendar::from_config(&cfg).unwrap()
    }

    /// Hall-local (Asia/Shanghai) time to UTC.
    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn phases_of_a_winter_working_day() {
        let c = cal(|_| {});
        // 2026-12-03 is a Thursday, winter timetable.
        let table = [
            ("2026-12-03T08:14:59", Phase::Closed),
            ("2026-12-03T08:15:00", Phase::PreOpen),
            ("2026-12-03T08:29:59", Phase::PreOpen),
            ("2026-12-03T08:30:00", Phase::Service),
            ("2026-12-03T11:59:59", Phase::Service),
            ("2026-12-03T12:00:00", Phase::Lunch),
            ("2026-12-03T13:59:59", Phase::Lunch),
            ("2026-12-03T14:00:00", Phase::Service),
            ("2026-12-03T17:29:59", Phase::Service),
            ("2026-12-03T17:30:00", Phase::Closing),
            ("2026-12-03T17:59:59", Phase::Closing),
            ("2026-12-03T18:00:00", Phase::Closed),
        ];
        for (t, want) in table {
            assert_eq!(c.phase_at(at(t)), want, "{t}");
        }
    }

    #[test]
    fn summer_afternoon_runs_1430_to_1800_and_switch_dates_are_inclusive() {
        let c = cal(|_| {});
        // CAL-1: summer from May 1 to Sep 30 inclusive.
        assert!(!c.is_summer(NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()));
        assert!(c.is_summer(NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()));
        assert!(c.is_summer(NaiveDate::from_ymd_opt(2026, 9, 30).unwrap()));
        assert!(!c.is_summer(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()));
        // 2026-09-30 is a Wednesday (summer), 2026-10-08 a Thursday (winter).
        assert_eq!(c.phase_at(at("2026-09-30T14:15:00")), Phase::Lunch);
        assert_eq!(c.phase_at(at("2026-09-30T17:45:00")), Phase::Service);
        assert_eq!(c.phase_at(at("2026-10-08T14:15:00")), Phase::Service);
        assert_eq!(c.phase_at(at("2026-10-08T17:45:00")), Phase::Closing);
    }

    #[test]
    fn holidays_weekends_makeup_days_and_extra_slots() {
        let c = cal(|c| {
            c.holidays = vec!["2026-10-01".into()];
            c.makeup_days = vec!["2026-10-10".into()];
            c.extra_slots = vec![ExtraSlotConfig {
                weekday: "sat".into(),
                periods: vec!["morning".into()],
            }];
        });
        // A holiday on a Thursday is closed.
        assert_eq!(c.phase_at(at("2026-10-01T09:00:00")), Phase::Closed);
        // A make-up Saturday opens both periods.
        assert_eq!(c.phase_at(at("2026-10-10T15:00:00")), Phase::Service);
        // An ordinary Saturday opens the extra morning slot only ("5+X").
        assert_eq!(c.phase_at(at("2026-12-05T09:00:00")), Phase::Service);
        assert_eq!(c.phase_at(at("2026-12-05T12:10:00")), Phase::Closing);
        assert_eq!(c.phase_at(at("2026-12-05T15:00:00")), Phase::Closed);
        // Sunday is closed.
        assert_eq!(c.phase_at(at("2026-12-06T09:00:00")), Phase::Closed);
    }

    #[test]
    fn bad_calendar_reports_every_problem_with_its_path() {
        let mut cfg = CalendarConfig::default();
        cfg.timezone = "Mars/Olympus".into();
        cfg.summer.morning = ["09:00".into(), "08:00".into()];
        cfg.holidays = vec!["2026-13-01".into()];
        let problems = Calendar::from_config(&cfg).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"calendar.timezone"), "{problems:?}");
        assert!(paths.contains(&"calendar.summer.morning"), "{problems:?}");
        assert!(paths.contains(&"calendar.holidays[0]"), "{problems:?}");
    }
}
