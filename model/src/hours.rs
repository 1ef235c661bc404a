//! Business hours: when a campaign answers, as weekly opening spans in the
//! campaign's time zone (an IANA name, so summer time moves with the
//! place), and what the webchat widget tells a visitor outside them.
//!
//! The week is written the way a person says it and stored as written:
//! `mon-fri 09:00-13:00, 15:00-18:00; sat 10:00-14:00`. Entries are
//! separated by `;` or new lines; days are `mon`…`sun`, ranges (`mon-fri`),
//! lists (`mon,wed`) or `daily`; spans are `HH:MM-HH:MM` (`24:00` ends a
//! day) or `closed`. A day no entry names is closed.

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::Millis;

/// The longest the week or the closed message may be, in characters.
pub const MAX_HOURS_TEXT: usize = 500;

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct BusinessHours {
    /// An IANA time zone, e.g. `Europe/Madrid`.
    pub zone: String,
    /// The opening spans, as written (see the module's doc).
    pub week: String,
    /// What the widget says while the campaign is closed.
    pub closed_message: String,
}

#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum HoursError {
    #[error("unknown time zone `{0}` (write it as Europe/Madrid, America/New_York, UTC…)")]
    Zone(String),
    #[error(
        "`{0}` is no day: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or daily"
    )]
    Day(String),
    #[error("`{0}` is no opening span: write it as 09:00-18:00, or closed")]
    Span(String),
    #[error("`{0}` needs its days and its hours, as in `mon-fri 09:00-18:00`")]
    Entry(String),
    #[error("the business hours are open no time at all: give at least one span")]
    NeverOpen,
    #[error("a closed message is needed: it is what visitors read outside the hours")]
    NoMessage,
    #[error("the {0} is longer than {MAX_HOURS_TEXT} characters")]
    TooLong(&'static str),
}

/// The week checked: open minutes per weekday (Monday first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    zone: Tz,
    days: [Vec<(u16, u16)>; 7],
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl BusinessHours {
    /// Checks the hours as a supervisor wrote them.
    pub fn schedule(&self) -> Result<Schedule, HoursError> {
        if self.week.chars().count() > MAX_HOURS_TEXT {
            return Err(HoursError::TooLong("week"));
        }
        if self.closed_message.chars().count() > MAX_HOURS_TEXT {
            return Err(HoursError::TooLong("closed message"));
        }
        if self.closed_message.trim().is_empty() {
            return Err(HoursError::NoMessage);
        }
        let zone: Tz = self
            .zone
            .trim()
            .parse()
            .map_err(|_| HoursError::Zone(self.zone.trim().to_string()))?;
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for entry in self.week.split([';', '\n']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let (which, spans) = entry
                .split_once(char::is_whitespace)
                .ok_or_else(|| HoursError::Entry(entry.to_string()))?;
            let which = day_set(which)?;
            let spans = span_list(spans.trim())?;
            for (day, on) in which.iter().enumerate() {
                if *on {
                    days[day].extend(spans.iter().copied());
                }
            }
        }
        if days.iter().all(Vec::is_empty) {
            return Err(HoursError::NeverOpen);
        }
        Ok(Schedule { zone, days })
    }

    /// Whether the campaign is open at `at`; hours that do not check out
    /// (written by an older or a broken node) count as always open, so no
    /// visitor is turned away by a typo.
    pub fn is_open(&self, at: Millis) -> bool {
        self.schedule().map(|s| s.is_open(at)).unwrap_or(true)
    }
}

impl Schedule {
    pub fn is_open(&self, at: Millis) -> bool {
        let Some(local) = self.zone.timestamp_millis_opt(at).single() else {
            return true;
        };
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.days[day]
            .iter()
            .any(|(open, close)| *open <= minute && minute < *close)
    }
}

/// `mon`, `mon-fri`, `mon,wed,fri`, `daily`: which weekdays.
fn day_set(raw: &str) -> Result<[bool; 7], HoursError> {
    let mut set = [false; 7];
    let day = |d: &str| {
        DAYS.iter()
            .position(|x| d.trim().to_ascii_lowercase().starts_with(x))
            .ok_or_else(|| HoursError::Day(raw.to_string()))
    };
    for part in raw.split(',') {
        let part = part.trim();
        if part.eq_ignore_ascii_case("daily") {
            set = [true; 7];
            continue;
        }
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                // mon-fri, or across the weekend: fri-mon.
                let mut d = from;
                loop {
                    set[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => set[day(part)?] = true,
        }
    }
    Ok(set)
}

/// `09:00-13:00, 15:00-18:00` or `closed`: minutes of the day.
fn span_list(raw: &str) -> Result<Vec<(u16, u16)>, HoursError> {
    if raw.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(str::trim)
        .map(|span| {
            let bad = || HoursError::Span(span.to_string());
            let (open, close) = span.split_once('-').ok_or_else(bad)?;
            let (open, close) = (
                minute(open).ok_or_else(bad)?,
                minute(close).ok_or_else(bad)?,
            );
            if close <= open {
                return Err(bad());
            }
            Ok((open, close))
        })
        .collect()
}

/// `HH:MM` as minutes since midnight (`24:00` is the day's end).
fn minute(raw: &str) -> Option<u16> {
    let (h, m) = raw.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(week: &str, zone: &str) -> BusinessHours {
        BusinessHours {
            zone: zone.into(),
            week: week.into(),
            closed_message: "We are closed; leave a message.".into(),
        }
    }

    /// Milliseconds for a wall-clock time in `zone`.
    fn at(zone: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Millis {
        let tz: Tz = zone.parse().expect("a zone");
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("a time")
            .timestamp_millis()
    }

    #[test]
    fn weekdays_with_a_lunch_break_and_a_short_saturday() {
        let h = hours(
            "mon-fri 09:00-13:00, 15:00-18:00; sat 10:00-14:00",
            "Europe/Madrid",
        );
        let z = "Europe/Madrid";
        // 2026-12-07 is a Monday.
        assert!(h.is_open(at(z, 2026, 12, 7, 9, 0)));
        assert!(!h.is_open(at(z, 2026, 12, 7, 13, 30)), "lunch");
        assert!(h.is_open(at(z, 2026, 12, 7, 17, 59)));
        assert!(!h.is_open(at(z, 2026, 12, 7, 18, 0)), "closing time");
        assert!(h.is_open(at(z, 2026, 12, 12, 11, 0)), "Saturday morning");
        assert!(!h.is_open(at(z, 2026, 12, 13, 11, 0)), "Sunday");
    }

    #[test]
    fn the_zone_keeps_local_hours_across_summer_time() {
        let h = hours("daily 09:00-17:00", "Europe/Madrid");
        // 08:30 UTC is 09:30 in winter (UTC+1) and 10:30 in summer (UTC+2).
        let winter = at("UTC", 2026, 1, 15, 7, 30); // 08:30 Madrid: closed
        let summer = at("UTC", 2026, 7, 15, 7, 30); // 09:30 Madrid: open
        assert!(!h.is_open(winter));
        assert!(h.is_open(summer));
    }

    #[test]
    fn bad_hours_are_refused_with_their_reason() {
        let refused = |week: &str, zone: &str| hours(week, zone).schedule().err();
        assert_eq!(
            refused("daily 09:00-17:00", "Mars/Olympus"),
            Some(HoursError::Zone("Mars/Olympus".into()))
        );
        assert_eq!(
            refused("someday 09:00-17:00", "UTC"),
            Some(HoursError::Day("someday".into()))
        );
        assert_eq!(
            refused("mon 17:00-09:00", "UTC"),
            Some(HoursError::Span("17:00-09:00".into()))
        );
        assert_eq!(
            refused("mon 25:00-26:00", "UTC"),
            Some(HoursError::Span("25:00-26:00".into()))
        );
        assert_eq!(refused("mon", "UTC"), Some(HoursError::Entry("mon".into())));
        assert_eq!(refused("mon closed", "UTC"), Some(HoursError::NeverOpen));
        let mut silent = hours("daily 09:00-17:00", "UTC");
        silent.closed_message = " ".into();
        assert_eq!(silent.schedule().err(), Some(HoursError::NoMessage));
        // What does not check out never turns a visitor away.
        assert!(hours("someday", "UTC").is_open(0));
    }

    #[test]
    fn a_range_may_wrap_over_the_weekend_and_24_00_ends_the_day() {
        let h = hours("fri-mon 00:00-24:00", "UTC");
        assert!(h.is_open(at("UTC", 2026, 12, 6, 23, 59)), "Sunday night");
        assert!(!h.is_open(at("UTC", 2026, 12, 8, 12, 0)), "Tuesday");
    }
}
