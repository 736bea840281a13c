//! A participant's own hours: narrower weekly hours and date overrides,
//! read in their own zone, always inside their program's (the assistant
//! intersects the two).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use availability::{Interval, IntervalSet};
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bookable::{local_date, local_range};
use crate::values::{TimeOfDay, Zone, day_name, parse_day};

/// A range of local time of day, `[start, end)` (`end` may be `24:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HoursRange {
    /// The first minute (`"HH:MM"`).
    #[cfg_attr(feature = "utoipa", schema(value_type = String, pattern = r"^([01][0-9]|2[0-4]):[0-5][0-9]$", examples("09:00")))]
    pub start: TimeOfDay,
    /// The end (`"HH:MM"`, after `start`).
    #[cfg_attr(feature = "utoipa", schema(value_type = String, pattern = r"^([01][0-9]|2[0-4]):[0-5][0-9]$", examples("12:30")))]
    pub end: TimeOfDay,
}

impl HoursRange {
    /// The range `[start, end)`.
    pub const fn new(start: TimeOfDay, end: TimeOfDay) -> Self {
        Self { start, end }
    }
}

/// A weekday as a map key: `"mon"` ... `"sun"` (or the full names).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Day(pub Weekday);

impl Day {
    fn index(self) -> i8 {
        self.0.to_monday_zero_offset()
    }
}

impl PartialOrd for Day {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Day {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index().cmp(&other.index())
    }
}

impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(day_name(self.0))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(day_name(self.0))
    }
}

impl FromStr for Day {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_day(s).map(Self)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A participant's own hours, in their zone: per weekday the ranges they
/// take meetings in (a weekday not listed keeps the program's hours), and
/// per date ranges that replace that day's (an empty list is a day off).
/// They only ever narrow: the assistant proposes a time only where both
/// these and the program's hours allow it.
///
/// JSON: `{"weekly": {"mon": [{"start": "09:00", "end": "12:00"}]},
/// "dates": {"2026-03-13": []}}`.
///
/// # Example: mornings only, and a day off
///
/// ```
/// use availability::Interval;
/// use policy_rules::{ParticipantHours, Zone};
///
/// let hours: ParticipantHours = serde_json::from_str(r#"{
///     "weekly": {"mon": [{"start": "09:00", "end": "12:00"}]},
///     "dates": {"2026-03-16": []}
/// }"#)?;
/// hours.validate()?;
/// let at = |s: &str| -> Result<i64, jiff::Error> { Ok(s.parse::<jiff::Timestamp>()?.as_second()) };
/// let zone = Zone::new("Europe/London")?;
/// // Monday 9 March: 09:00-12:00; Monday 16 March: off.
/// let mondays = Interval::new(at("2026-03-09T00:00:00Z")?, at("2026-03-10T00:00:00Z")?)?;
/// assert_eq!(hours.windows(mondays, &zone).as_slice(),
///     &[Interval::new(at("2026-03-09T09:00:00Z")?, at("2026-03-09T12:00:00Z")?)?]);
/// let off = Interval::new(at("2026-03-16T00:00:00Z")?, at("2026-03-17T00:00:00Z")?)?;
/// assert!(hours.windows(off, &zone).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "utoipa",
    derive(utoipa::ToSchema),
    schema(
        as = Hours,
        description = "A participant's own hours, in their zone: per weekday (mon..sun) the local ranges kept (a weekday not listed keeps the program's hours), per date (YYYY-MM-DD) ranges replacing that day's (an empty list is a day off)"
    )
)]
#[serde(deny_unknown_fields)]
pub struct ParticipantHours {
    /// Per weekday, the ranges kept (a weekday not listed: the whole day).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "utoipa", schema(value_type = BTreeMap<String, Vec<HoursRange>>))]
    pub weekly: BTreeMap<Day, Vec<HoursRange>>,
    /// Per date, the ranges that replace the day's (empty: a day off).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "utoipa", schema(value_type = BTreeMap<String, Vec<HoursRange>>))]
    pub dates: BTreeMap<Date, Vec<HoursRange>>,
}

impl ParticipantHours {
    /// Whether these hours narrow nothing.
    pub fn is_unrestricted(&self) -> bool {
        self.weekly.is_empty() && self.dates.is_empty()
    }

    /// Checks every range: `start` before `end`, `start` not `24:00`; and
    /// at most 366 dates.
    ///
    /// # Errors
    ///
    /// What is wrong, naming the day or date.
    pub fn validate(&self) -> Result<(), String> {
        let check = |what: String, ranges: &[HoursRange]| -> Result<(), String> {
            if ranges.len() > 24 {
                return Err(format!("{what}: at most 24 ranges a day"));
            }
            for r in ranges {
                if r.end <= r.start {
                    return Err(format!(
                        "{what}: {} - {} does not end after it starts",
                        r.start, r.end
                    ));
                }
            }
            Ok(())
        };
        for (day, ranges) in &self.weekly {
            check(day.to_string(), ranges)?;
        }
        if self.dates.len() > 366 {
            return Err("at most 366 dates".to_owned());
        }
        for (date, ranges) in &self.dates {
            check(date.to_string(), ranges)?;
        }
        Ok(())
    }

    /// The ranges kept on `date`: its override, else its weekday's, else
    /// the whole day.
    fn ranges_on(&self, date: Date) -> Vec<HoursRange> {
        if let Some(ranges) = self.dates.get(&date) {
            return ranges.clone();
        }
        match self.weekly.get(&Day(date.weekday())) {
            Some(ranges) => ranges.clone(),
            None => vec![HoursRange::new(TimeOfDay::MIDNIGHT, TimeOfDay::END_OF_DAY)],
        }
    }

    /// The instants in `window` inside these hours, each local date read
    /// in `zone` (DST-correct, as the program's hours are).
    pub fn windows(&self, window: Interval, zone: &Zone) -> IntervalSet {
        if self.is_unrestricted() {
            return IntervalSet::from(window);
        }
        let tz = zone.tz();
        let (Some(first), Some(last)) =
            (local_date(tz, window.start()), local_date(tz, window.end()))
        else {
            return IntervalSet::new();
        };
        let mut out = Vec::new();
        let mut date = first.yesterday().unwrap_or(first);
        let last = last.tomorrow().unwrap_or(last);
        while date <= last {
            for r in self.ranges_on(date) {
                local_range(tz, date, r.start, r.end, &mut out);
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        IntervalSet::from(out).clip(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn t(s: &str) -> TimeOfDay {
        s.parse().unwrap()
    }

    #[test]
    fn a_date_override_replaces_its_weekday_and_other_days_keep_the_whole_day() {
        let mut hours = ParticipantHours::default();
        hours.weekly.insert(
            Day(Weekday::Monday),
            vec![
                HoursRange::new(t("09:00"), t("10:00")),
                HoursRange::new(t("14:00"), t("15:30")),
            ],
        );
        hours.dates.insert(
            "2026-03-09".parse().unwrap(),
            vec![HoursRange::new(t("11:00"), t("12:00"))],
        );
        let zone = Zone::new("America/New_York").unwrap();
        let week = Interval::new(at("2026-03-09T00:00:00Z"), at("2026-03-17T04:00:00Z")).unwrap();
        let w = hours.windows(week, &zone);
        // Monday 9 March (EDT): the override, 11:00-12:00 local.
        assert!(w.covers(
            &Interval::new(at("2026-03-09T15:00:00Z"), at("2026-03-09T16:00:00Z")).unwrap()
        ));
        assert!(!w.contains(at("2026-03-09T13:00:00Z")));
        // Tuesday: the whole day.
        assert!(w.covers(
            &Interval::new(at("2026-03-10T04:00:00Z"), at("2026-03-11T04:00:00Z")).unwrap()
        ));
        // Monday 16 March: the weekly ranges, two of them.
        assert!(w.covers(
            &Interval::new(at("2026-03-16T13:00:00Z"), at("2026-03-16T14:00:00Z")).unwrap()
        ));
        assert!(w.covers(
            &Interval::new(at("2026-03-16T18:00:00Z"), at("2026-03-16T19:30:00Z")).unwrap()
        ));
        assert!(!w.contains(at("2026-03-16T16:00:00Z")));
    }

    #[test]
    fn bad_ranges_are_refused_and_json_round_trips() {
        let mut hours = ParticipantHours::default();
        hours.weekly.insert(
            Day(Weekday::Friday),
            vec![HoursRange::new(t("12:00"), t("09:00"))],
        );
        assert!(hours.validate().unwrap_err().contains("fri"));
        let json =
            r#"{"weekly":{"mon":[{"start":"09:00","end":"12:00"}]},"dates":{"2026-03-16":[]}}"#;
        let parsed: ParticipantHours = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        assert!(serde_json::from_str::<ParticipantHours>(r#"{"weekly":{"someday":[]}}"#).is_err());
        assert!(serde_json::from_str::<ParticipantHours>(r#"{"extra":1}"#).is_err());
        assert!(ParticipantHours::default().is_unrestricted());
    }
}
