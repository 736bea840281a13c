//! Turning a `TZID` into a time zone: the IANA database bundled with jiff
//! (never the host's), Windows names, vendor-prefixed names, and, for zones
//! the database lacks, the calendar's own `VTIMEZONE` definition.

use std::sync::OnceLock;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};

use super::values::{Freq, Recur};

fn bundled() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// An IANA zone by name (case-insensitive), from the bundled database.
pub(crate) fn iana(name: &str) -> Option<TimeZone> {
    bundled().get(name.trim()).ok()
}

/// Resolves a `TZID` or `X-LIC-LOCATION` by name: an IANA name, a Windows
/// name (`Eastern Standard Time`), or a vendor-prefixed IANA name
/// (`/mozilla.org/20050126_1/America/New_York`,
/// `/citadel.org/20190914_1/Europe/Paris`, `/softwarestudio.org/.../Asia/Tokyo`).
pub(crate) fn by_name(name: &str) -> Option<TimeZone> {
    let name = name.trim().trim_matches('"');
    if name.is_empty() {
        return None;
    }
    if let Some(tz) = iana(name) {
        return Some(tz);
    }
    if let Some(tz) = availability::windows_zone_to_iana(name).and_then(iana) {
        return Some(tz);
    }
    // Drop leading path segments until the rest is an IANA name.
    let mut rest = name;
    while let Some(i) = rest.find('/') {
        rest = &rest[i + 1..];
        if rest.contains('/')
            && let Some(tz) = iana(rest)
        {
            return Some(tz);
        }
    }
    // A single-segment tail such as `/vendor/UTC`.
    iana(rest).filter(|_| rest != name)
}

/// One `STANDARD` or `DAYLIGHT` observance of a `VTIMEZONE`.
#[derive(Clone, Debug)]
pub(crate) struct Observance {
    pub(crate) daylight: bool,
    pub(crate) start: Option<DateTime>,
    pub(crate) offset_from: Option<i32>,
    pub(crate) offset_to: Option<i32>,
    pub(crate) rule: Option<Recur>,
}

/// A `VTIMEZONE` as the parser keeps it.
#[derive(Clone, Debug, Default)]
pub(crate) struct VTimezone {
    pub(crate) tzid: String,
    pub(crate) lic_location: Option<String>,
    pub(crate) observances: Vec<Observance>,
}

impl VTimezone {
    /// The zone this definition stands for: its name if the database knows
    /// it (the database has the full history; calendar clients often send
    /// only recent rules), else its own rules.
    pub(crate) fn resolve(&self) -> Option<TimeZone> {
        by_name(&self.tzid)
            .or_else(|| self.lic_location.as_deref().and_then(by_name))
            .or_else(|| self.by_rules())
    }

    /// The current rules as a POSIX TZ string (the newest ongoing yearly
    /// STANDARD and DAYLIGHT rules), or a fixed offset when there is no
    /// daylight saving.
    fn by_rules(&self) -> Option<TimeZone> {
        let newest = |daylight: bool| {
            self.observances
                .iter()
                .filter(|o| o.daylight == daylight && o.offset_to.is_some())
                .max_by_key(|o| (o.rule.is_some(), o.start))
        };
        let standard = newest(false);
        let daylight = newest(true);
        match (standard, daylight) {
            (Some(std), Some(dst)) if std.rule.is_some() && dst.rule.is_some() => {
                let posix = format!(
                    "STD{}DST{},{},{}",
                    posix_offset(std.offset_to?),
                    posix_offset(dst.offset_to?),
                    posix_rule(dst)?,
                    posix_rule(std)?
                );
                TimeZone::posix(&posix).ok()
            }
            (Some(only), _) | (None, Some(only)) => {
                Some(TimeZone::fixed(Offset::from_seconds(only.offset_to?).ok()?))
            }
            (None, None) => None,
        }
    }
}

/// POSIX offsets count west of Greenwich: `-5:00` is written `5:00:00`.
fn posix_offset(east: i32) -> String {
    let west = -east;
    let sign = if west < 0 { "-" } else { "" };
    let a = west.unsigned_abs();
    format!("{sign}{}:{:02}:{:02}", a / 3600, a / 60 % 60, a % 60)
}

/// `Mm.w.d/time` from a yearly rule such as `FREQ=YEARLY;BYMONTH=3;BYDAY=2SU`
/// (or the older `BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14`).
fn posix_rule(o: &Observance) -> Option<String> {
    let rule = o.rule.as_ref()?;
    if rule.freq != Freq::Yearly || rule.by_month.len() != 1 || rule.by_day.len() != 1 {
        return None;
    }
    let month = rule.by_month[0];
    let day = rule.by_day[0];
    let week = match (day.nth, rule.by_month_day.iter().min()) {
        (Some(n @ 1..=4), _) => n,
        (Some(-1), _) => 5,
        (None, Some(&first)) if first > 0 && rule.by_month_day.len() == 7 => {
            i16::from((first + 6) / 7)
        }
        (None, Some(&-7)) => 5,
        _ => return None,
    };
    // POSIX weekday 0 is Sunday; ours 0 is Monday.
    let weekday = (day.weekday + 1) % 7;
    let at = o.start?.time();
    Some(format!(
        "M{month}.{week}.{weekday}/{}:{:02}:{:02}",
        at.hour(),
        at.minute(),
        at.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::values::parse_recur;
    use jiff::civil::date;

    #[test]
    fn names_resolve_through_the_database_windows_and_vendor_prefixes() {
        for name in [
            "America/New_York",
            "america/new_york",
            "Eastern Standard Time",
            "/mozilla.org/20050126_1/America/New_York",
            "/softwarestudio.org/Olson_20011030_5/America/New_York",
            "\"America/New_York\"",
        ] {
            let tz = by_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(tz.iana_name(), Some("America/New_York"), "{name}");
        }
        assert!(by_name("Custom Zone").is_none());
        // Every Windows name of the table resolves in the bundled database.
        for name in [
            "Eastern Standard Time",
            "Yukon Standard Time",
            "UTC+13",
            "AUS Central Standard Time",
        ] {
            assert!(by_name(name).is_some(), "{name}");
        }
        assert!(by_name("").is_none());
        assert!(by_name("/vendor/Not_A/Zone").is_none());
    }

    fn observance(daylight: bool, from: i32, to: i32, rule: &str, hour: i8) -> Observance {
        Observance {
            daylight,
            start: Some(date(2007, 3, 11).at(hour, 0, 0, 0)),
            offset_from: Some(from),
            offset_to: Some(to),
            rule: Some(parse_recur(rule).unwrap()),
        }
    }

    #[test]
    fn an_unknown_zone_is_built_from_its_rules() {
        let vtz = VTimezone {
            tzid: "My Eastern Time".to_owned(),
            lic_location: None,
            observances: vec![
                observance(
                    false,
                    -4 * 3600,
                    -5 * 3600,
                    "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
                    2,
                ),
                observance(
                    true,
                    -5 * 3600,
                    -4 * 3600,
                    "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
                    2,
                ),
            ],
        };
        let tz = vtz.resolve().unwrap();
        let ny = iana("America/New_York").unwrap();
        for dt in [
            date(2025, 1, 15).at(12, 0, 0, 0),
            date(2025, 3, 9).at(1, 59, 0, 0),
            date(2025, 3, 9).at(3, 0, 0, 0),
            date(2025, 7, 1).at(12, 0, 0, 0),
            date(2025, 11, 2).at(1, 30, 0, 0),
            date(2025, 11, 2).at(2, 30, 0, 0),
        ] {
            assert_eq!(
                tz.to_ambiguous_timestamp(dt).compatible().unwrap(),
                ny.to_ambiguous_timestamp(dt).compatible().unwrap(),
                "{dt}"
            );
        }
        let fixed = VTimezone {
            tzid: "Somewhere".to_owned(),
            lic_location: None,
            observances: vec![Observance {
                daylight: false,
                start: None,
                offset_from: Some(19800),
                offset_to: Some(19800),
                rule: None,
            }],
        };
        let tz = fixed.resolve().unwrap();
        assert_eq!(tz.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds(), 19800);
    }
}
