//! The hall calendar as the simulator needs it (CAL-1..3): which days are working days and, on each, when
//! `pre_open`, the service periods and `closing` fall. Pure: dates and times in, times out.
//!
//! The gateway has its own, fuller calendar; this one reads the same `[calendar]` section of the hall config so
//! the simulated staff keep to the hours the gateway enforces.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, TimeZone, Weekday};
use chrono_tz::Tz;
use hall_protocol::config::{CalendarConfig, TimetableConfig};

type Time = DateTime<FixedOffset>;

/// A service period `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Time,
    pub end: Time,
}

impl Period {
    pub fn contains(&self, t: Time) -> bool {
        self.start <= t && t < self.end
    }
}

/// The times of one working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingDay {
    pub date: NaiveDate,
    /// Start of the morning meeting and inspection.
    pub pre_open: Time,
    /// The periods open on this day, in order (one on a half-day "X" slot).
    pub periods: Vec<Period>,
    /// End of the `closing` phase: the last period's end plus `closing_mins`.
    pub closing_end: Time,
}

impl WorkingDay {
    /// Whether `t` lies in a service period.
    pub fn in_service(&self, t: Time) -> bool {
        self.periods.iter().any(|p| p.contains(t))
    }

    /// The morning period, when open.
    pub fn morning(&self) -> Option<Period> {
        self.periods.first().copied().filter(|p| {
            p.start.time() < NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN)
        })
    }
}

/// The hall calendar, checked once from the config.
#[derive(Debug, Clone)]
pub struct HallCalendar {
    tz: Tz,
    summer_start: (u32, u32),
    winter_start: (u32, u32),
    summer: [(NaiveTime, NaiveTime); 2],
    winter: [(NaiveTime, NaiveTime); 2],
    pre_open: NaiveTime,
    closing: TimeDelta,
    /// Extra slots: weekday → (morning open, afternoon open).
    extra: Vec<(Weekday, bool, bool)>,
    holidays: BTreeSet<NaiveDate>,
    makeup: BTreeSet<NaiveDate>,
}

impl HallCalendar {
    /// Checks the `[calendar]` section; the error names the field and the value that was wrong.
    pub fn new(cfg: &CalendarConfig) -> anyhow::Result<HallCalendar> {
        let tz: Tz = cfg.timezone.parse().map_err(|_| {
            anyhow::anyhow!("calendar.timezone: unknown time zone {:?}", cfg.timezone)
        })?;
        let extra = cfg
            .extra_slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let day: Weekday = s.weekday.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "calendar.extra_slots[{i}].weekday: unknown weekday {:?}",
                        s.weekday
                    )
                })?;
                Ok((
                    day,
                    s.periods.iter().any(|p| p == "morning"),
                    s.periods.iter().any(|p| p == "afternoon"),
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(HallCalendar {
            tz,
            summer_start: month_day(&cfg.summer_start, "calendar.summer_start")?,
            winter_start: month_day(&cfg.winter_start, "calendar.winter_start")?,
            summer: timetable(&cfg.summer, "calendar.summer")?,
            winter: timetable(&cfg.winter, "calendar.winter")?,
            pre_open: hh_mm(&cfg.pre_open, "calendar.pre_open")?,
            closing: TimeDelta::minutes(i64::from(cfg.closing_mins)),
            extra,
            holidays: dates(&cfg.holidays, "calendar.holidays")?,
            makeup: dates(&cfg.makeup_days, "calendar.makeup_days")?,
        })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The hall-local date of `t`.
    pub fn date_of(&self, t: Time) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Whether `date` runs the summer timetable (from `summer_start` up to the day before `winter_start`).
    pub fn is_summer(&self, date: NaiveDate) -> bool {
        let md = (date.month(), date.day());
        if self.summer_start <= self.winter_start {
            self.summer_start <= md && md < self.winter_start
        } else {
            md >= self.summer_start || md < self.winter_start
        }
    }

    /// The working day on `date`, or `None` when the hall is closed (CAL-2).
    pub fn working_day(&self, date: NaiveDate) -> Option<WorkingDay> {
        let (morning, afternoon) = if self.makeup.contains(&date) {
            (true, true)
        } else if self.holidays.contains(&date) {
            (false, false)
        } else if date.weekday().num_days_from_monday() < 5 {
            (true, true)
        } else {
            self.extra
                .iter()
                .filter(|(d, _, _)| *d == date.weekday())
                .fold((false, false), |(m, a), (_, em, ea)| (m || *em, a || *ea))
        };
        if !morning && !afternoon {
            return None;
        }
        let table = if self.is_summer(date) {
            &self.summer
        } else {
            &self.winter
        };
        let mut periods = Vec::new();
        for (open, (start, end)) in [morning, afternoon].into_iter().zip(table.iter()) {
            if open {
                periods.push(Period {
                    start: self.at(date, *start),
                    end: self.at(date, *end),
                });
            }
        }
        let closing_end = periods.last().map(|p| p.end)? + self.closing;
        Some(WorkingDay {
            date,
            pre_open: self.at(date, self.pre_open),
            periods,
            closing_end,
        })
    }

    /// The working day that `t` belongs to or, after its closing (or on a closed day), the next one.
    pub fn current_or_next(&self, t: Time) -> Option<WorkingDay> {
        let mut date = self.date_of(t);
        for _ in 0..400 {
            if let Some(day) = self.working_day(date)
                && t < day.closing_end
            {
                return Some(day);
            }
            date = date.succ_opt()?;
        }
        None
    }

    fn at(&self, date: NaiveDate, time: NaiveTime) -> Time {
        let local = date.and_time(time);
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .unwrap_or_else(|| self.tz.from_utc_datetime(&local))
            .fixed_offset()
    }
}

fn hh_mm(s: &str, field: &str) -> anyhow::Result<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| anyhow::anyhow!("{field}: expected HH:MM, got {s:?}"))
}

fn month_day(s: &str, field: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("{field}: expected MM-DD, got {s:?}");
    let (m, d) = s.split_once('-').ok_or_else(bad)?;
    let (m, d) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok((m, d))
}

fn timetable(t: &TimetableConfig, field: &str) -> anyhow::Result<[(NaiveTime, NaiveTime); 2]> {
    Ok([
        (
            hh_mm(&t.morning[0], &format!("{field}.morning[0]"))?,
            hh_mm(&t.morning[1], &format!("{field}.morning[1]"))?,
        ),
        (
            hh_mm(&t.afternoon[0], &format!("{field}.afternoon[0]"))?,
            hh_mm(&t.afternoon[1], &format!("{field}.afternoon[1]"))?,
        ),
    ])
}

fn dates(list: &[String], field: &str) -> anyhow::Result<BTreeSet<NaiveDate>> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("{field}[{i}]: expected YYYY-MM-DD, got {s:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> HallCalendar {
        HallCalendar::new(&CalendarConfig {
            extra_slots: vec![hall_protocol::config::ExtraSlotConfig {
                weekday: "sat".into(),
                periods: vec!["morning".into()],
            }],
            holidays: vec!["2026-10-01".into()],
            makeup_days: vec!["2026-10-10".into()],
            ..CalendarConfig::default()
        })
        .unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn winter_and_summer_timetables() {
        let winter = cal().working_day(d("2026-12-03")).unwrap();
        assert_eq!(winter.pre_open.to_rfc3339(), "2026-12-03T08:15:00+08:00");
        assert_eq!(
            winter.periods[1].start.to_rfc3339(),
            "2026-12-03T14:00:00+08:00"
        );
        assert_eq!(winter.closing_end.to_rfc3339(), "2026-12-03T18:00:00+08:00");
        let summer = cal().working_day(d("2026-09-30")).unwrap();
        assert_eq!(
            summer.periods[1].start.to_rfc3339(),
            "2026-09-30T14:30:00+08:00"
        );
        assert!(!cal().is_summer(d("2026-10-01")));
        assert!(cal().is_summer(d("2026-05-01")));
    }

    #[test]
    fn holidays_weekends_extra_slots_and_makeup_days() {
        let c = cal();
        assert!(c.working_day(d("2026-10-01")).is_none(), "holiday");
        assert!(c.working_day(d("2026-12-06")).is_none(), "sunday");
        let sat = c.working_day(d("2026-12-05")).unwrap();
        assert_eq!(sat.periods.len(), 1, "saturday morning slot");
        assert_eq!(sat.closing_end.to_rfc3339(), "2026-12-05T12:30:00+08:00");
        assert_eq!(
            c.working_day(d("2026-10-10")).unwrap().periods.len(),
            2,
            "make-up day"
        );
        let evening: Time = "2026-12-04T19:00:00+08:00".parse().unwrap();
        assert_eq!(c.current_or_next(evening).unwrap().date, d("2026-12-05"));
    }
}
