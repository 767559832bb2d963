//! Citizens' ratings (RAT-1..3): satisfaction per window, person and day, the bad-rating follow-up, and rating
//! coverage.
//!
//! Pure: no IO and no clock. Satisfaction is the share of the top two of five levels (非常满意, 满意).
//!
//! Choices where the rules are silent:
//! - A rating counts for the person in its `staff_id`, else for the person signed in at the window when it
//!   arrives; a rating with neither counts for the window and the day only.
//! - The same rating delivered twice (same window, ticket and `at`) counts once.
//! - Every 不满意 / 非常不满意 raises its own RAT-2 alert, subject `rating:{window}:{date}:{ticket}` (or
//!   `…:#{n}`, the window's n-th rating of the day, for a rating without a ticket). The hall-local date is part of
//!   the subject because ticket numbers restart every day, and an alert still open from yesterday must not swallow
//!   today's. No condition ever clears such an alert: the duty leader's acknowledgement, with a note saying what
//!   was done, *is* the follow-up and resolves it.
//! - "Today" is the hall-local day of the receive time; at midnight the per-window and per-person counts restart,
//!   and the day's totals stay in the per-day record (the last [`DAYS_KEPT`] days).
//! - Coverage (RAT-3) is ratings / services completed at the window today; a window's rating pad that is offline
//!   during `service` is a coverage gap and is flagged on the window.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use hall_protocol::api::{SatisfactionView, WindowSatisfaction, WindowView};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::{RatingEvent, RatingLevel, Severity};

use super::alerts::AlertSpec;

/// Rule id of the bad-rating follow-up.
pub const RAT_BAD: &str = "RAT-2";
/// Days of per-day satisfaction kept in memory.
pub const DAYS_KEPT: usize = 400;

/// Counts of ratings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub ratings: u32,
    /// In the top two levels.
    pub satisfied: u32,
    /// 不满意 or 非常不满意.
    pub bad: u32,
}

impl Tally {
    fn add(&mut self, level: RatingLevel) {
        self.ratings += 1;
        self.satisfied += u32::from(level.is_satisfied());
        self.bad += u32::from(level.is_bad());
    }

    /// Share of the top two levels, if anyone rated (RAT-1).
    pub fn satisfaction(&self) -> Option<f64> {
        (self.ratings > 0).then(|| f64::from(self.satisfied) / f64::from(self.ratings))
    }
}

/// Ratings of the hall.
#[derive(Debug, Clone, Default)]
pub struct Ratings {
    staff_names: HashMap<String, String>,
    day: Option<NaiveDate>,
    windows: BTreeMap<String, Tally>,
    staff: BTreeMap<String, Tally>,
    days: BTreeMap<NaiveDate, Tally>,
    seen: HashSet<(String, Option<String>, DateTime<FixedOffset>)>,
}

impl Ratings {
    pub fn from_config(cfg: &HallConfig) -> Self {
        Ratings {
            staff_names: cfg
                .staff
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            ..Default::default()
        }
    }

    /// Moves to the hall-local `date`; on a new day the per-window and per-person counts restart. True when it
    /// did. The first call only records the date.
    pub fn roll_to(&mut self, date: NaiveDate) -> bool {
        let rolled = self.day.is_some_and(|d| d != date);
        self.day = Some(date);
        if rolled {
            self.windows.clear();
            self.staff.clear();
            self.seen.clear();
        }
        rolled
    }

    /// Applies a rating at `window`, received at hall-local time `local`. `None` for a duplicate; otherwise the
    /// RAT-2 alert to raise, if the rating is bad.
    pub fn apply(
        &mut self,
        window: &WindowView,
        ev: &RatingEvent,
        local: DateTime<Tz>,
    ) -> Option<Option<AlertSpec>> {
        let key = (window.id.clone(), ev.ticket.clone(), ev.at);
        if !self.seen.insert(key) {
            return None;
        }
        let date = local.date_naive();
        let at_window = self.windows.entry(window.id.clone()).or_default();
        at_window.add(ev.level);
        let n_at_window = at_window.ratings;
        self.days.entry(date).or_default().add(ev.level);
        while self.days.len() > DAYS_KEPT {
            self.days.pop_first();
        }
        let staff_id = ev
            .staff_id
            .clone()
            .or_else(|| window.staff.as_ref().map(|s| s.id.clone()));
        if let Some(id) = &staff_id {
            self.staff.entry(id.clone()).or_default().add(ev.level);
        }
        if !ev.level.is_bad() {
            return Some(None);
        }
        let person = staff_id
            .as_deref()
            .map(|id| self.staff_names.get(id).map(String::as_str).unwrap_or(id))
            .unwrap_or("（未知人员）");
        let (subject, ticket) = match &ev.ticket {
            Some(t) => (format!("rating:{}:{date}:{t}", window.id), t.as_str()),
            None => (
                format!("rating:{}:{date}:#{n_at_window}", window.id),
                "（无票号）",
            ),
        };
        Some(Some(AlertSpec {
            rule: RAT_BAD,
            kind: "bad_rating",
            subject,
            severity: Severity::Warning,
            message: format!(
                "{}号窗口 {person} 收到“{}”评价，票号 {ticket}，时间 {}，请值班领导回访",
                window.number,
                ev.level.label_zh(),
                local.format("%H:%M")
            ),
        }))
    }

    /// Today's counts at a window.
    pub fn window(&self, window_id: &str) -> Tally {
        self.windows.get(window_id).copied().unwrap_or_default()
    }

    /// Today's counts per staff id.
    pub fn by_staff(&self) -> &BTreeMap<String, Tally> {
        &self.staff
    }

    /// Counts per hall-local day.
    pub fn by_day(&self) -> &BTreeMap<NaiveDate, Tally> {
        &self.days
    }

    /// Today's satisfaction and coverage (RAT-1, RAT-3). `served_at` gives the services completed at a window
    /// today; `pad_offline` whether its rating pad is a coverage gap now.
    pub fn view(
        &self,
        windows: &[WindowView],
        services_today: u32,
        served_at: impl Fn(&str) -> u32,
        pad_offline: impl Fn(&str) -> bool,
    ) -> SatisfactionView {
        let today = self
            .day
            .and_then(|d| self.days.get(&d).copied())
            .unwrap_or_default();
        SatisfactionView {
            ratings_today: today.ratings,
            satisfied_today: today.satisfied,
            bad_today: today.bad,
            services_today,
            windows: windows
                .iter()
                .map(|w| {
                    let t = self.window(&w.id);
                    WindowSatisfaction {
                        window_id: w.id.clone(),
                        ratings: t.ratings,
                        satisfied: t.satisfied,
                        services: served_at(&w.id),
                        pad_offline: pad_offline(&w.id),
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hall_protocol::api::{StaffRef, WindowState};
    use hall_protocol::config::UnitKind;

    fn window(id: &str, number: u32, staff: Option<&str>) -> WindowView {
        WindowView {
            id: id.into(),
            number,
            unit: "u".into(),
            unit_name: "社保科".into(),
            unit_kind: UnitKind::Multi,
            services: vec!["sb".into()],
            state: WindowState::StaffedA,
            staff: staff.map(|s| StaffRef {
                id: s.into(),
                name: s.into(),
            }),
            a_post: StaffRef {
                id: "a".into(),
                name: "张三".into(),
            },
            b_post: None,
            since: None,
            away_reason: None,
            current_ticket: None,
            served_today: 0,
        }
    }

    fn ratings() -> Ratings {
        let cfg: HallConfig = toml::from_str(
            r#"
[hall]
id = "h"
[[staff]]
id = "a"
name = "张三"
unit = "u"
[[staff]]
id = "b"
name = "李四"
unit = "u"
"#,
        )
        .unwrap();
        let mut r = Ratings::from_config(&cfg);
        r.roll_to(NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        r
    }

    fn local(d: u32, h: u32, m: u32) -> DateTime<Tz> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 12, d, h, m, 0)
            .unwrap()
    }

    fn rating(
        level: RatingLevel,
        ticket: Option<&str>,
        staff: Option<&str>,
        m: u32,
    ) -> RatingEvent {
        RatingEvent {
            v: 1,
            level,
            ticket: ticket.map(Into::into),
            staff_id: staff.map(Into::into),
            at: local(3, 9, m).fixed_offset(),
        }
    }

    use RatingLevel::*;

    #[test]
    fn every_bad_rating_and_only_a_bad_one_raises_rat2() {
        // (level, ticket, expected subject of the alert)
        let table: &[(RatingLevel, Option<&str>, Option<&str>)] = &[
            (VerySatisfied, Some("A001"), None),
            (Satisfied, Some("A002"), None),
            (Basic, Some("A003"), None),
            (
                Dissatisfied,
                Some("A004"),
                Some("rating:w1:2026-12-03:A004"),
            ),
            (
                VeryDissatisfied,
                Some("A005"),
                Some("rating:w1:2026-12-03:A005"),
            ),
            (Dissatisfied, None, Some("rating:w1:2026-12-03:#6")),
            (VeryDissatisfied, None, Some("rating:w1:2026-12-03:#7")),
        ];
        let mut r = ratings();
        let w1 = window("w1", 1, Some("a"));
        for (i, &(level, ticket, subject)) in table.iter().enumerate() {
            let alert = r
                .apply(&w1, &rating(level, ticket, None, i as u32), local(3, 9, 5))
                .expect("not a duplicate");
            assert_eq!(
                alert.as_ref().map(|a| a.subject.as_str()),
                subject,
                "{level:?}"
            );
            if let Some(a) = alert {
                assert_eq!((a.rule, a.kind), ("RAT-2", "bad_rating"));
            }
        }
        let a = r
            .apply(
                &w1,
                &rating(Dissatisfied, Some("A008"), Some("b"), 30),
                local(3, 9, 42),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            a.message,
            "1号窗口 李四 收到“不满意”评价，票号 A008，时间 09:42，请值班领导回访"
        );
        assert_eq!(
            r.window("w1"),
            Tally {
                ratings: 8,
                satisfied: 2,
                bad: 5
            }
        );
    }

    #[test]
    fn satisfaction_per_window_person_and_day() {
        let mut r = ratings();
        let w1 = window("w1", 1, Some("a"));
        let w2 = window("w2", 2, None);
        let now = local(3, 10, 0);
        r.apply(&w1, &rating(VerySatisfied, Some("A001"), None, 1), now);
        r.apply(&w1, &rating(Basic, Some("A002"), None, 2), now);
        r.apply(&w1, &rating(Satisfied, Some("A003"), Some("b"), 3), now);
        r.apply(&w2, &rating(Satisfied, Some("A004"), None, 4), now);
        // The same rating delivered twice counts once.
        assert_eq!(
            r.apply(&w2, &rating(Satisfied, Some("A004"), None, 4), now),
            None
        );
        assert_eq!(r.window("w1").satisfaction(), Some(2.0 / 3.0));
        assert_eq!(r.window("w2").satisfaction(), Some(1.0));
        assert_eq!(r.window("w3").satisfaction(), None);
        // w2 had nobody signed in: its rating counts for no person.
        let staff: Vec<(&str, u32, u32)> = r
            .by_staff()
            .iter()
            .map(|(id, t)| (id.as_str(), t.ratings, t.satisfied))
            .collect();
        assert_eq!(staff, vec![("a", 2, 1), ("b", 1, 1)]);
        let view = r.view(
            &[w1.clone(), w2.clone()],
            5,
            |id| if id == "w1" { 4 } else { 1 },
            |id| id == "w2",
        );
        assert_eq!(
            (
                view.ratings_today,
                view.satisfied_today,
                view.bad_today,
                view.services_today
            ),
            (4, 3, 0, 5)
        );
        assert_eq!(
            view.windows,
            vec![
                WindowSatisfaction {
                    window_id: "w1".into(),
                    ratings: 3,
                    satisfied: 2,
                    services: 4,
                    pad_offline: false
                },
                WindowSatisfaction {
                    window_id: "w2".into(),
                    ratings: 1,
                    satisfied: 1,
                    services: 1,
                    pad_offline: true
                },
            ]
        );
        // A new day: windows and people start again, the day record keeps yesterday.
        assert!(r.roll_to(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()));
        r.apply(
            &w1,
            &rating(Dissatisfied, Some("A001"), None, 1),
            local(4, 9, 0),
        );
        assert_eq!(r.window("w1").ratings, 1);
        let days: Vec<(u32, u32)> = r
            .by_day()
            .values()
            .map(|t| (t.ratings, t.satisfied))
            .collect();
        assert_eq!(days, vec![(4, 3), (1, 0)]);
        assert_eq!(r.view(&[], 0, |_| 0, |_| false).ratings_today, 1);
    }
}
