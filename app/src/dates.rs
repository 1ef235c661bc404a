//! Dates people type for History's range, as the CLI and the window take
//! them: a day (`2026-12-01`, in the given time zone) or an exact time
//! (RFC 3339, `2026-12-01T09:30:00Z`).

use chrono::{DateTime, NaiveDate, TimeZone};
use meshdesk_model::Millis;

/// Which end of a range a typed date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// From the start of the day (or the exact time) on.
    Since,
    /// Up to the end of the day, or up to (not including) the exact time.
    Until,
}

/// A typed date that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD) or a time (RFC 3339, like 2026-12-01T09:30:00Z)")]
pub struct BadDate(pub String);

/// The range bound `raw` means, in milliseconds since the Unix epoch: a day
/// counts whole, so `until 2026-12-01` keeps what closed that day.
pub fn parse<Tz: TimeZone>(raw: &str, end: End, zone: &Tz) -> Result<Millis, BadDate> {
    let raw = raw.trim();
    let bad = || BadDate(raw.to_string());
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = match end {
            End::Since => day,
            End::Until => day.succ_opt().ok_or_else(bad)?,
        };
        let midnight = day.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
        // A zone may skip midnight (a DST change): take the day's first instant.
        let start = zone
            .from_local_datetime(&midnight)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                    .earliest()
            })
            .ok_or_else(bad)?;
        return Ok(start.timestamp_millis());
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| bad())
}

/// A moment typed for a snooze or a callback: `YYYY-MM-DD HH:MM` in the
/// given time zone, or an exact time (RFC 3339).
pub fn parse_moment<Tz: TimeZone>(raw: &str, zone: &Tz) -> Result<Millis, BadMoment> {
    let raw = raw.trim();
    let bad = || BadMoment(raw.to_string());
    if let Ok(local) = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M") {
        // A time a DST change skips is read an hour on.
        return zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.timestamp_millis())
            .ok_or_else(bad);
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.timestamp_millis())
        .map_err(|_| bad())
}

/// A typed moment that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time (YYYY-MM-DD HH:MM, or RFC 3339 like 2026-12-01T09:30:00Z)")]
pub struct BadMoment(pub String);

/// A typed length of time that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a length of time (like 45m, 2h, 1h30m, 3d)")]
pub struct BadDuration(pub String);

/// A length of time as people type it: numbers each followed by `d`, `h`,
/// `m` or `s` (`2h`, `1h30m`, `45m`, `3d`), in milliseconds; never zero.
pub fn parse_duration(raw: &str) -> Result<Millis, BadDuration> {
    let raw = raw.trim();
    let bad = || BadDuration(raw.to_string());
    let mut total: Millis = 0;
    let mut number = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: Millis = match c.to_ascii_lowercase() {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => return Err(bad()),
        };
        let n: Millis = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// A day as the window shows it in the date fields.
pub fn day<Tz: TimeZone>(at: Millis, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    DateTime::from_timestamp_millis(at)
        .map(|t| t.with_timezone(zone).format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A length of time as a clock shows it: `4:05`, or `1:02:03` past an hour.
pub fn clock(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn a_day_counts_whole_and_a_time_is_exact() -> Result<(), BadDate> {
        let dec1 = 1_764_547_200_000; // 2025-12-01T00:00:00Z
        assert_eq!(parse("2025-12-01", End::Since, &Utc)?, dec1);
        assert_eq!(parse(" 2025-12-01 ", End::Until, &Utc)?, dec1 + 86_400_000);
        let east = FixedOffset::east_opt(3600).ok_or_else(|| BadDate("zone".into()))?;
        assert_eq!(parse("2025-12-01", End::Since, &east)?, dec1 - 3_600_000);
        assert_eq!(
            parse("2025-12-01T09:30:00Z", End::Until, &Utc)?,
            dec1 + 34_200_000
        );
        assert_eq!(day(dec1 + 1, &Utc), "2025-12-01");
        Ok(())
    }

    #[test]
    fn a_snooze_is_typed_as_a_local_time_or_a_length() -> Result<(), BadMoment> {
        let dec1 = 1_764_547_200_000; // 2025-12-01T00:00:00Z
        assert_eq!(parse_moment("2025-12-01 09:30", &Utc)?, dec1 + 34_200_000);
        let east = FixedOffset::east_opt(3600).ok_or_else(|| BadMoment("zone".into()))?;
        assert_eq!(parse_moment("2025-12-01 09:30", &east)?, dec1 + 30_600_000);
        assert!(parse_moment("tomorrow", &Utc).is_err());
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration(" 3d "), Ok(259_200_000));
        for raw in ["", "2", "h", "0m", "2x", "99999999999999999d"] {
            assert_eq!(
                parse_duration(raw),
                Err(BadDuration(raw.trim().into())),
                "{raw}"
            );
        }
        Ok(())
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        for raw in ["yesterday", "2025-13-01", "01/12/2025", ""] {
            let err = parse(raw, End::Since, &Utc).err();
            assert_eq!(err, Some(BadDate(raw.to_string())), "{raw}");
        }
    }
}
