//! A mailbox's working hours from getSchedule, with Windows zone names
//! (`Pacific Standard Time`) mapped to IANA zones.

use jiff::civil::{Time, Weekday};
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};

use crate::wire::WorkingHoursWire;

/// When a mailbox's owner works, as Outlook stores it: one range for the
/// listed weekdays (Outlook has no per-day hours in this API).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkingHours {
    /// The working days.
    pub days: Vec<Weekday>,
    /// Start of the working day, local.
    pub start: Time,
    /// End of the working day, local.
    pub end: Time,
    /// The zone of `start` and `end`: an IANA zone (Windows names are
    /// mapped; a `customTimeZone` becomes its standard offset).
    pub zone: TimeZone,
}

/// A zone by IANA name (bundled database, never the host's) or by Windows
/// name.
pub(crate) fn zone(name: &str) -> Option<TimeZone> {
    static DB: std::sync::OnceLock<TimeZoneDatabase> = std::sync::OnceLock::new();
    let db = DB.get_or_init(TimeZoneDatabase::bundled);
    db.get(name.trim())
        .ok()
        .or_else(|| availability::windows_zone_to_iana(name).and_then(|iana| db.get(iana).ok()))
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// `08:00:00.0000000` and the like.
fn time(s: &str) -> Option<Time> {
    let s = s.split('.').next()?;
    s.parse().ok()
}

impl WorkingHours {
    pub(crate) fn from_wire(w: &WorkingHoursWire) -> Option<Self> {
        let tz = w.time_zone.as_ref()?;
        let zone = match (&tz.name, tz.bias) {
            (Some(name), _) if zone(name).is_some() => zone(name)?,
            // customTimeZone: `bias` is minutes west of UTC.
            (_, Some(bias)) => TimeZone::fixed(Offset::from_seconds(-bias * 60).ok()?),
            _ => return None,
        };
        Some(Self {
            days: w.days_of_week.iter().filter_map(|d| weekday(d)).collect(),
            start: time(w.start_time.as_deref()?)?,
            end: time(w.end_time.as_deref()?)?,
            zone,
        })
    }
}
