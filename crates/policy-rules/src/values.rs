//! The value types of a policy file: weekdays, times of day, durations,
//! providers and zones, each with its TOML spelling.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::civil::Weekday;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements `Serialize` through `Display` and `Deserialize` through
/// `FromStr` (the error message becomes the TOML error, with its line).
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

const DAY_NAMES: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Monday),
    ("tue", "tuesday", Weekday::Tuesday),
    ("wed", "wednesday", Weekday::Wednesday),
    ("thu", "thursday", Weekday::Thursday),
    ("fri", "friday", Weekday::Friday),
    ("sat", "saturday", Weekday::Saturday),
    ("sun", "sunday", Weekday::Sunday),
];

/// A set of weekdays. TOML: a list of `mon`, `tue`, ... `sun` (full names
/// and any case accepted). Default: Monday to Friday.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

impl Weekdays {
    /// No day.
    pub const NONE: Self = Self(0);
    /// Monday to Friday.
    pub const WORKWEEK: Self = Self(0b001_1111);
    /// Every day.
    pub const ALL: Self = Self(0b111_1111);

    const fn bit(day: Weekday) -> u8 {
        1 << (day.to_monday_zero_offset() as u8)
    }

    /// Whether `day` is in the set.
    pub const fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// The set with `day` added.
    #[must_use]
    pub const fn with(self, day: Weekday) -> Self {
        Self(self.0 | Self::bit(day))
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        DAY_NAMES
            .into_iter()
            .map(|(_, _, d)| d)
            .filter(move |d| self.contains(*d))
    }
}

impl Default for Weekdays {
    fn default() -> Self {
        Self::WORKWEEK
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(day_name)).finish()
    }
}

/// The short TOML name of a day: `mon` ... `sun`.
pub fn day_name(day: Weekday) -> &'static str {
    DAY_NAMES[day.to_monday_zero_offset() as usize].0
}

/// Parses a day name: `mon` or `monday`, any case.
///
/// # Errors
///
/// A message naming the value and the accepted names.
pub fn parse_day(s: &str) -> Result<Weekday, String> {
    DAY_NAMES
        .iter()
        .find(|(short, long, _)| s.eq_ignore_ascii_case(short) || s.eq_ignore_ascii_case(long))
        .map(|&(_, _, d)| d)
        .ok_or_else(|| format!("unknown day {s:?} (expected mon, tue, wed, thu, fri, sat or sun)"))
}

impl Serialize for Weekdays {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(day_name))
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names
            .iter()
            .map(|n| parse_day(n))
            .collect::<Result<Self, _>>()
            .map_err(serde::de::Error::custom)
    }
}

/// A local wall-clock time of day, `00:00` to `24:00` inclusive (`24:00`
/// is the end of the day, allowed as a `day_end`). TOML: `"HH:MM"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: Self = Self { minutes: 0 };
    /// The end of the day, `24:00`.
    pub const END_OF_DAY: Self = Self { minutes: 24 * 60 };

    /// `hour:minute`, with `24:00` the only valid time in hour 24.
    ///
    /// # Errors
    ///
    /// A message for hours above 24, minutes above 59, or `24:MM` with
    /// `MM > 0`.
    pub fn new(hour: u8, minute: u8) -> Result<Self, String> {
        if minute > 59 || hour > 24 || (hour == 24 && minute > 0) {
            return Err(format!(
                "{hour:02}:{minute:02} is not a time of day (00:00 to 24:00)"
            ));
        }
        Ok(Self {
            minutes: u16::from(hour) * 60 + u16::from(minute),
        })
    }

    /// `hour:00`, for `hour <= 24`.
    pub(crate) const fn from_hour(hour: u16) -> Self {
        Self { minutes: hour * 60 }
    }

    /// Minutes since local midnight, `0..=1440`.
    pub const fn minutes(self) -> u16 {
        self.minutes
    }

    /// The hour, `0..=24`.
    pub const fn hour(self) -> u8 {
        (self.minutes / 60) as u8
    }

    /// The minute, `0..=59`.
    pub const fn minute(self) -> u8 {
        (self.minutes % 60) as u8
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid time {s:?}: expected HH:MM, such as \"08:00\" or \"24:00\"");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || m.len() != 2 || !digits(m) {
            return Err(bad());
        }
        let hour: u8 = h.parse().map_err(|_| bad())?;
        let minute: u8 = m.parse().map_err(|_| bad())?;
        Self::new(hour, minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

string_serde!(TimeOfDay);

/// A length of time in whole seconds. TOML: one or more `<number><unit>`
/// parts, units `s`, `m`, `h`, `d` (24 hours) and `w` (7 days): `"30m"`,
/// `"12h"`, `"90d"`, `"1h30m"`, `"0m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PolicyDuration(u64);

impl PolicyDuration {
    /// From whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// As a [`std::time::Duration`].
    pub const fn to_std(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl From<PolicyDuration> for Duration {
    fn from(d: PolicyDuration) -> Self {
        d.to_std()
    }
}

const UNITS: [(char, u64); 5] = [
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

impl FromStr for PolicyDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "invalid duration {s:?}: {why} (expected parts like \"30m\", \"12h\", \"90d\", \"1h30m\")"
            )
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("a number must come before each unit"));
            }
            let (number, tail) = rest.split_at(digits);
            let mut chars = tail.chars();
            let unit = chars.next().ok_or_else(|| bad("missing unit"))?;
            let scale = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|&(_, scale)| scale)
                .ok_or_else(|| bad(&format!("unknown unit {unit:?}")))?;
            let n: u64 = number.parse().map_err(|_| bad("number too large"))?;
            total = n
                .checked_mul(scale)
                .and_then(|x| total.checked_add(x))
                .filter(|&t| t <= MAX_DURATION_SECS)
                .ok_or_else(|| bad("longer than 1000 years"))?;
            rest = chars.as_str();
        }
        Ok(Self(total))
    }
}

/// Durations above 1000 years are refused, so instants computed from them
/// stay in range.
const MAX_DURATION_SECS: u64 = 1000 * 366 * 86_400;

impl fmt::Display for PolicyDuration {
    /// The largest units first: `90d`, `1h30m`, `0m` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0m");
        }
        let mut rest = self.0;
        // Weeks are left as days: "14d" reads better than "2w" in policy files.
        for &(unit, scale) in &UNITS[1..] {
            if rest >= scale {
                write!(f, "{}{unit}", rest / scale)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

string_serde!(PolicyDuration);

/// A calendar provider a participant may connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    /// Google Calendar (`google`).
    Google,
    /// Microsoft 365 / Exchange Online / Outlook through Microsoft Graph
    /// (`microsoft`).
    Microsoft,
    /// Apple iCloud through CalDAV (`icloud`).
    Icloud,
}

/// The lowercase names (`google`, `microsoft`, `icloud`) as a string enum.
#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for Provider {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["google", "microsoft", "icloud"]))
            .into()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for Provider {}

impl Provider {
    /// Every provider.
    pub const ALL: [Self; 3] = [Self::Google, Self::Microsoft, Self::Icloud];

    /// The TOML name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Icloud => "icloud",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| s.eq_ignore_ascii_case(p.as_str()))
            .ok_or_else(|| format!("unknown provider {s:?} (expected google, microsoft or icloud)"))
    }
}

string_serde!(Provider);

/// A set of providers. TOML: a list of `google`, `microsoft`, `icloud`.
/// Default: all three.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Providers(u8);

impl Providers {
    /// No provider (participants cannot connect; organisation-wide
    /// authorisation may still cover them).
    pub const NONE: Self = Self(0);
    /// All three.
    pub const ALL: Self = Self(0b111);

    /// Whether `provider` is allowed.
    pub const fn contains(self, provider: Provider) -> bool {
        self.0 & (1 << provider as u8) != 0
    }

    /// The set with `provider` added.
    #[must_use]
    pub const fn with(self, provider: Provider) -> Self {
        Self(self.0 | (1 << provider as u8))
    }

    /// The providers in the set.
    pub fn iter(self) -> impl Iterator<Item = Provider> {
        Provider::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl Default for Providers {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromIterator<Provider> for Providers {
    fn from_iter<I: IntoIterator<Item = Provider>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Providers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Providers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Provider>::deserialize(deserializer).map(|v| v.into_iter().collect())
    }
}

/// An IANA time zone from jiff's bundled database (never the host's, so a
/// machine's stale or missing `/usr/share/zoneinfo` or its `TZ` cannot
/// change a policy). TOML: the zone's name, such as `"Europe/London"`.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Looks up `name` (case-insensitive) in the bundled database.
    ///
    /// # Errors
    ///
    /// A message naming the zone when the database lacks it.
    pub fn new(name: &str) -> Result<Self, String> {
        let tz = bundled().get(name).map_err(|_| {
            format!("unknown time zone {name:?} (expected an IANA name such as \"Europe/London\")")
        })?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Ok(Self { name, tz })
    }

    /// UTC.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// The canonical IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's rules.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

/// The bundled database, opened once.
fn bundled() -> &'static TimeZoneDatabase {
    static DB: std::sync::OnceLock<TimeZoneDatabase> = std::sync::OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.name, f)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Zone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::new(s)
    }
}

string_serde!(Zone);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, secs, shown) in [
            ("30m", 1800, "30m"),
            ("12h", 43_200, "12h"),
            ("90d", 90 * 86_400, "90d"),
            ("1h30m", 5400, "1h30m"),
            ("2w", 14 * 86_400, "14d"),
            ("0m", 0, "0m"),
            ("45s", 45, "45s"),
        ] {
            let d: PolicyDuration = s.parse().unwrap();
            assert_eq!(d.as_secs(), secs, "{s}");
            assert_eq!(d.to_string(), shown);
        }
        for bad in [
            "",
            "30",
            "m",
            "30x",
            "-5m",
            "1.5h",
            "30 m",
            "99999999999999999999d",
            "1001y",
        ] {
            assert!(bad.parse::<PolicyDuration>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_of_day() {
        assert_eq!("08:00".parse::<TimeOfDay>().unwrap().minutes(), 480);
        assert_eq!("8:05".parse::<TimeOfDay>().unwrap().minutes(), 485);
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap(), TimeOfDay::END_OF_DAY);
        for bad in [
            "24:01", "25:00", "12:60", "12", "12:5", "aa:bb", "", "-1:00", "12:00:00",
        ] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn days_and_providers() {
        assert_eq!(parse_day("Mon").unwrap(), Weekday::Monday);
        assert_eq!(parse_day("sunday").unwrap(), Weekday::Sunday);
        assert!(parse_day("funday").unwrap_err().contains("funday"));
        assert_eq!("iCloud".parse::<Provider>().unwrap(), Provider::Icloud);
        assert!("yahoo".parse::<Provider>().is_err());
        assert_eq!(Weekdays::default().iter().count(), 5);
    }

    #[test]
    fn zones_come_from_the_bundle() {
        let z = Zone::new("america/new_york").unwrap();
        assert_eq!(z.name(), "America/New_York");
        assert!(
            Zone::new("Mars/Olympus_Mons")
                .unwrap_err()
                .contains("Mars/Olympus_Mons")
        );
        assert_eq!(Zone::new("UTC").unwrap().name(), "UTC");
    }
}

/// Whose local day a program's `days`, `day_start` and `day_end` are read
/// in (`hours_in`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursIn {
    /// Each participant's own zone (the default): a slot is proposed only
    /// if it lies inside every invitee's local working day.
    #[default]
    Participant,
    /// The program's `time_zone` for everyone (the behaviour before
    /// participants' zones were used).
    Program,
}
