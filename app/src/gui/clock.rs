//! Times as an agent reads them: "3 min ago", a ticking "4:05" wait, "14:32".

use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, Utc};
use meshdesk_model::Millis;

/// The time zone times are shown in (the machine's; tests fix it to UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub FixedOffset);

impl Zone {
    pub fn utc() -> Zone {
        Zone(Utc.fix())
    }

    /// The machine's zone, as it is now.
    pub fn local() -> Zone {
        Zone(Local::now().offset().fix())
    }

    fn at(self, at: Millis) -> Option<DateTime<FixedOffset>> {
        DateTime::from_timestamp_millis(at).map(|t| t.with_timezone(&self.0))
    }
}

/// "now", "5 min", "2 h", "yesterday", "3 d", then the date.
pub fn ago(now: Millis, at: Millis, zone: Zone) -> String {
    let secs = (now - at).max(0) / 1000;
    match secs {
        0..=44 => "now".into(),
        45..=3599 => format!("{} min", (secs + 30) / 60),
        3600..=86_399 => format!("{} h", secs / 3600),
        _ => {
            let days = secs / 86_400;
            match (zone.at(now), zone.at(at)) {
                (Some(n), Some(a)) if days < 7 => {
                    if n.date_naive().pred_opt() == Some(a.date_naive()) {
                        "yesterday".into()
                    } else {
                        format!("{days} d")
                    }
                }
                (Some(n), Some(a)) if n.year() == a.year() => a.format("%-d %b").to_string(),
                (_, Some(a)) => a.format("%-d %b %Y").to_string(),
                _ => String::new(),
            }
        }
    }
}

/// A running duration: "0:42", "4:05", "1:02:03".
pub fn elapsed(now: Millis, since: Millis) -> String {
    duration((now - since).max(0) / 1000)
}

/// Seconds as "m:ss" or "h:mm:ss".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The time of day, "14:32"; with the date when it is not today.
pub fn stamp(now: Millis, at: Millis, zone: Zone) -> String {
    match (zone.at(now), zone.at(at)) {
        (Some(n), Some(a)) if n.date_naive() == a.date_naive() => a.format("%H:%M").to_string(),
        (Some(n), Some(a)) if n.year() == a.year() => a.format("%-d %b %H:%M").to_string(),
        (_, Some(a)) => a.format("%-d %b %Y %H:%M").to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_741_000_000_000; // 2025-03-03 11:06:40 UTC

    #[test]
    fn relative_times_read_naturally() {
        let z = Zone::utc();
        assert_eq!(ago(T, T - 10_000, z), "now");
        assert_eq!(ago(T, T - 60_000, z), "1 min");
        assert_eq!(ago(T, T - 3 * 3_600_000, z), "3 h");
        assert_eq!(ago(T, T - 86_400_000, z), "yesterday");
        assert_eq!(ago(T, T - 3 * 86_400_000, z), "3 d");
        assert_eq!(ago(T, T - 30 * 86_400_000, z), "1 Feb");
        assert_eq!(ago(T, T + 5_000, z), "now", "a clock slightly ahead is now");
    }

    #[test]
    fn durations_and_stamps() {
        assert_eq!(elapsed(T, T - 42_000), "0:42");
        assert_eq!(duration(245), "4:05");
        assert_eq!(duration(3723), "1:02:03");
        let z = Zone::utc();
        assert_eq!(stamp(T, T, z), "11:06");
        assert_eq!(stamp(T, T - 86_400_000, z), "2 Mar 11:06");
    }
}
