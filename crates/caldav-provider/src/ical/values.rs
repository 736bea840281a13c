//! RFC 5545 §3.3 value types that busy time needs: DATE, DATE-TIME,
//! DURATION, PERIOD, UTC-OFFSET and RECUR.

use jiff::civil::{Date, DateTime, Time};

/// Where a DATE-TIME's wall clock is read (RFC 5545 §3.3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Zone {
    /// Form #2, a trailing `Z`.
    Utc,
    /// Form #1, no `Z` and no TZID: the caller's zone.
    Floating,
    /// Form #3, `TZID=`: an index into the calendar's zone table.
    Tzid(u32),
}

/// A DATE or DATE-TIME value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// A whole local day (`VALUE=DATE`), read in the caller's zone.
    Date(Date),
    /// A wall-clock time in a zone.
    DateTime(DateTime, Zone),
}

impl When {
    pub(crate) fn is_date(&self) -> bool {
        matches!(self, Self::Date(_))
    }

    /// The wall clock (midnight for a DATE).
    pub(crate) fn civil(&self) -> DateTime {
        match *self {
            Self::Date(d) => d.to_datetime(Time::midnight()),
            Self::DateTime(dt, _) => dt,
        }
    }

    /// The zone (floating for a DATE).
    pub(crate) fn zone(&self) -> Zone {
        match *self {
            Self::Date(_) => Zone::Floating,
            Self::DateTime(_, z) => z,
        }
    }
}

fn digits<T: TryFrom<i64>>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().and_then(|v| T::try_from(v).ok())
}

/// `YYYYMMDD`.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.len() != 8 || !s.is_ascii() {
        return None;
    }
    Date::new(digits(&s[..4])?, digits(&s[4..6])?, digits(&s[6..8])?).ok()
}

/// `YYYYMMDDTHHMMSS[Z]`; returns the wall clock and whether it ends in `Z`.
/// A leap second (`60`) reads as `59`.
pub(crate) fn parse_date_time(s: &str) -> Option<(DateTime, bool)> {
    let s = s.trim();
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    if s.len() != 15 || !s.is_ascii() || !matches!(s.as_bytes()[8], b'T' | b't') {
        return None;
    }
    let date = parse_date(&s[..8])?;
    let hour: i8 = digits(&s[9..11])?;
    let minute: i8 = digits(&s[11..13])?;
    let second: i8 = digits::<i8>(&s[13..15])?.min(59);
    let time = Time::new(hour, minute, second, 0).ok()?;
    Some((date.to_datetime(time), utc))
}

/// A DATE or DATE-TIME, as `VALUE=` (or the value's shape) says.
pub(crate) fn parse_when(value: &str, value_type: Option<&str>, tzid: Option<u32>) -> Option<When> {
    let v = value.trim();
    let is_date = match value_type {
        Some(t) if t.eq_ignore_ascii_case("DATE") => true,
        Some(t) if t.eq_ignore_ascii_case("DATE-TIME") => false,
        _ => v.len() == 8,
    };
    if is_date {
        return parse_date(v).map(When::Date);
    }
    let (dt, utc) = parse_date_time(v)?;
    let zone = if utc {
        Zone::Utc
    } else {
        tzid.map_or(Zone::Floating, Zone::Tzid)
    };
    Some(When::DateTime(dt, zone))
}

/// An RFC 5545 §3.3.6 duration: nominal days (weeks count as 7 days, and a
/// day is a calendar day, 23 or 25 hours across a DST change) plus exact
/// seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dur {
    pub(crate) days: i64,
    pub(crate) seconds: i64,
}

impl Dur {
    pub(crate) fn is_negative(&self) -> bool {
        self.days < 0 || self.seconds < 0
    }
}

/// `[+-]P[nW]` or `[+-]P[nD][T[nH][nM][nS]]`.
pub(crate) fn parse_duration(s: &str) -> Option<Dur> {
    let s = s.trim();
    let (sign, s) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    let (mut days, mut seconds) = (0i64, 0i64);
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in s.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            unit => {
                let n: i64 = digits(&number)?;
                number.clear();
                any = true;
                match (unit, in_time) {
                    ('W', false) => days = days.checked_add(n.checked_mul(7)?)?,
                    ('D', false) => days = days.checked_add(n)?,
                    ('H', true) => seconds = seconds.checked_add(n.checked_mul(3600)?)?,
                    ('M', true) => seconds = seconds.checked_add(n.checked_mul(60)?)?,
                    ('S', true) => seconds = seconds.checked_add(n)?,
                    _ => return None,
                }
            }
        }
    }
    if !number.is_empty() || !any {
        return None;
    }
    // Keep durations to what an interval can hold (about 10,000 years).
    if days > 4_000_000 || seconds > 400_000_000_000 {
        return None;
    }
    Some(Dur {
        days: sign * days,
        seconds: sign * seconds,
    })
}

/// The end of a PERIOD (RFC 5545 §3.3.9): explicit or start + duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PeriodEnd {
    At(DateTime, bool),
    After(Dur),
}

/// `start/end` or `start/duration`; the start is a DATE-TIME.
pub(crate) fn parse_period(s: &str) -> Option<((DateTime, bool), PeriodEnd)> {
    let (start, end) = s.trim().split_once('/')?;
    let start = parse_date_time(start)?;
    let end = if end.trim_start().starts_with(['P', 'p', '+', '-']) {
        PeriodEnd::After(parse_duration(end)?)
    } else {
        let (dt, utc) = parse_date_time(end)?;
        PeriodEnd::At(dt, utc)
    };
    Some((start, end))
}

/// A PERIOD written with DATE values (`19970101/19970102`, or a DATE and a
/// duration), which RFC 5545 §3.3.9 does not allow: read as whole local
/// days, from the first date's midnight to the last date's (an end not
/// after the start: that one day). Floating, like any DATE.
pub(crate) fn parse_date_period(s: &str) -> Option<(DateTime, PeriodEnd)> {
    let (start, end) = s.trim().split_once('/')?;
    let start = parse_date(start)?;
    let end = if end.trim_start().starts_with(['P', 'p', '+', '-']) {
        PeriodEnd::After(parse_duration(end)?)
    } else {
        let end = parse_date(end)?;
        let end = if end > start {
            end
        } else {
            start.tomorrow().ok()?
        };
        PeriodEnd::At(end.to_datetime(Time::midnight()), false)
    };
    Some((start.to_datetime(Time::midnight()), end))
}

/// `(+|-)HHMM[SS]` in seconds east of UTC.
pub(crate) fn parse_utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    if (body.len() != 4 && body.len() != 6) || !body.is_ascii() {
        return None;
    }
    let h: i32 = digits(&body[..2])?;
    let m: i32 = digits(&body[2..4])?;
    let sec: i32 = if body.len() == 6 {
        digits(&body[4..6])?
    } else {
        0
    };
    if h > 25 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// Frequencies of RFC 5545 §3.3.10, coarsest last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freq {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// `[+-n]DAY` in BYDAY; weekday 0 is Monday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByDay {
    pub(crate) nth: Option<i16>,
    pub(crate) weekday: u8,
}

/// The UNTIL part: a DATE, or a DATE-TIME that is UTC or floating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    Date(Date),
    DateTime(DateTime, bool),
}

/// A parsed RECUR value (RFC 5545 §3.3.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recur {
    pub(crate) freq: Freq,
    pub(crate) interval: u16,
    pub(crate) count: Option<u32>,
    pub(crate) until: Option<Until>,
    pub(crate) by_second: Vec<u8>,
    pub(crate) by_minute: Vec<u8>,
    pub(crate) by_hour: Vec<u8>,
    pub(crate) by_day: Vec<ByDay>,
    pub(crate) by_month_day: Vec<i8>,
    pub(crate) by_year_day: Vec<i16>,
    pub(crate) by_week_no: Vec<i8>,
    pub(crate) by_month: Vec<u8>,
    pub(crate) by_set_pos: Vec<i32>,
    pub(crate) wkst: u8,
}

fn weekday(s: &str) -> Option<u8> {
    const NAMES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .and_then(|i| u8::try_from(i).ok())
}

fn signed<T: TryFrom<i64>>(s: &str) -> Option<T> {
    let s = s.trim();
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v: i64 = digits(body)?;
    T::try_from(if neg { -v } else { v }).ok()
}

fn list<T>(s: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|p| f(p).ok_or_else(|| format!("bad list element {:?}", p.trim())))
        .collect()
}

/// Parses a RECUR value; the error says which part is wrong.
pub(crate) fn parse_recur(s: &str) -> Result<Recur, String> {
    let mut freq = None;
    let mut r = Recur {
        freq: Freq::Daily,
        interval: 1,
        count: None,
        until: None,
        by_second: Vec::new(),
        by_minute: Vec::new(),
        by_hour: Vec::new(),
        by_day: Vec::new(),
        by_month_day: Vec::new(),
        by_year_day: Vec::new(),
        by_week_no: Vec::new(),
        by_month: Vec::new(),
        by_set_pos: Vec::new(),
        wkst: 0,
    };
    for part in s.trim().split(';').filter(|p| !p.trim().is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("part {part:?} has no '='"))?;
        let name = name.trim().to_ascii_uppercase();
        let bad = |what: &str| format!("bad {name} value {value:?}{what}");
        match name.as_str() {
            "FREQ" => {
                freq = Some(match value.trim().to_ascii_uppercase().as_str() {
                    "SECONDLY" => Freq::Secondly,
                    "MINUTELY" => Freq::Minutely,
                    "HOURLY" => Freq::Hourly,
                    "DAILY" => Freq::Daily,
                    "WEEKLY" => Freq::Weekly,
                    "MONTHLY" => Freq::Monthly,
                    "YEARLY" => Freq::Yearly,
                    _ => return Err(bad("")),
                });
            }
            "INTERVAL" => {
                r.interval = digits::<u16>(value.trim())
                    .filter(|&i| i > 0)
                    .ok_or_else(|| bad(" (1 to 65535)"))?;
            }
            "COUNT" => r.count = Some(digits(value.trim()).ok_or_else(|| bad(""))?),
            "UNTIL" => {
                let v = value.trim();
                r.until = Some(if v.len() == 8 {
                    Until::Date(parse_date(v).ok_or_else(|| bad(""))?)
                } else {
                    let (dt, utc) = parse_date_time(v).ok_or_else(|| bad(""))?;
                    Until::DateTime(dt, utc)
                });
            }
            "BYSECOND" => r.by_second = list(value, |p| digits(p.trim()).filter(|&v| v <= 60))?,
            "BYMINUTE" => r.by_minute = list(value, |p| digits(p.trim()).filter(|&v| v <= 59))?,
            "BYHOUR" => r.by_hour = list(value, |p| digits(p.trim()).filter(|&v| v <= 23))?,
            "BYDAY" => {
                r.by_day = list(value, |p| {
                    let p = p.trim();
                    let split = p.len().checked_sub(2)?;
                    let day = weekday(p.get(split..)?)?;
                    let nth = p.get(..split)?;
                    let nth = if nth.is_empty() {
                        None
                    } else {
                        Some(signed::<i16>(nth).filter(|n| *n != 0 && n.abs() <= 53)?)
                    };
                    Some(ByDay { nth, weekday: day })
                })?;
            }
            "BYMONTHDAY" => {
                r.by_month_day = list(value, |p| {
                    signed::<i8>(p).filter(|v| *v != 0 && v.abs() <= 31)
                })?;
            }
            "BYYEARDAY" => {
                r.by_year_day = list(value, |p| {
                    signed::<i16>(p).filter(|v| *v != 0 && v.abs() <= 366)
                })?;
            }
            "BYWEEKNO" => {
                r.by_week_no = list(value, |p| {
                    signed::<i8>(p).filter(|v| *v != 0 && v.abs() <= 53)
                })?;
            }
            "BYMONTH" => {
                r.by_month = list(value, |p| digits(p.trim()).filter(|v| (1..=12).contains(v)))?;
            }
            "BYSETPOS" => {
                r.by_set_pos = list(value, |p| {
                    signed::<i32>(p).filter(|v| *v != 0 && v.abs() <= 366)
                })?;
            }
            "WKST" => r.wkst = weekday(value.trim()).ok_or_else(|| bad(""))?,
            // RFC 7529 RSCALE: only the Gregorian scale is computed.
            "RSCALE" if value.trim().eq_ignore_ascii_case("GREGORIAN") => {}
            "SKIP" => {}
            other if other.starts_with("X-") => {}
            _ => return Err(format!("unknown part {name}")),
        }
    }
    r.freq = freq.ok_or("no FREQ")?;
    if r.count.is_some() && r.until.is_some() {
        return Err("both COUNT and UNTIL".to_owned());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn dates_and_date_times() {
        assert_eq!(parse_date("20250305"), Some(date(2025, 3, 5)));
        assert_eq!(parse_date("20250230"), None);
        assert_eq!(
            parse_date_time("20250305T093000Z"),
            Some((date(2025, 3, 5).at(9, 30, 0, 0), true))
        );
        assert_eq!(
            parse_date_time("20161231T235960"),
            Some((date(2016, 12, 31).at(23, 59, 59, 0), false))
        );
        assert_eq!(parse_date_time("20250305T9300"), None);
        assert_eq!(parse_date_time("2025030ST093000"), None);
        assert_eq!(
            parse_when("20250305", None, Some(3)),
            Some(When::Date(date(2025, 3, 5)))
        );
        assert_eq!(
            parse_when("20250305T010203", None, Some(3)),
            Some(When::DateTime(
                date(2025, 3, 5).at(1, 2, 3, 0),
                Zone::Tzid(3)
            ))
        );
    }

    #[test]
    fn durations() {
        let d = |days, seconds| Some(Dur { days, seconds });
        assert_eq!(parse_duration("PT1H30M"), d(0, 5400));
        assert_eq!(parse_duration("P1W"), d(7, 0));
        assert_eq!(parse_duration("P1DT2H3M4S"), d(1, 7384));
        assert_eq!(parse_duration("-PT15M"), d(0, -900));
        assert_eq!(parse_duration("P0D"), d(0, 0));
        for bad in [
            "",
            "P",
            "PT",
            "1H",
            "PT1",
            "P1H",
            "PT1D",
            "P99999999999999999999D",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn periods_and_offsets() {
        let start = (date(2025, 3, 12).at(9, 0, 0, 0), true);
        assert_eq!(
            parse_period("20250312T090000Z/PT1H30M"),
            Some((
                start,
                PeriodEnd::After(Dur {
                    days: 0,
                    seconds: 5400
                })
            ))
        );
        assert_eq!(
            parse_period("20250312T090000Z/20250312T100000Z"),
            Some((
                start,
                PeriodEnd::At(date(2025, 3, 12).at(10, 0, 0, 0), true)
            ))
        );
        assert_eq!(parse_utc_offset("-0500"), Some(-18000));
        assert_eq!(parse_utc_offset("+053000"), Some(19800));
        assert_eq!(parse_utc_offset("0500"), None);
        // Found by the ical_expand fuzz target: a multi-byte character where
        // digits belong must not split a char boundary.
        assert_eq!(parse_utc_offset("-0\u{e9}0"), None);
        assert_eq!(parse_date("2025\u{e9}305"), None);
        assert_eq!(parse_date_time("20250305T\u{e9}3000"), None);
    }

    #[test]
    fn recur_rules() {
        let r = parse_recur(
            "FREQ=MONTHLY;BYDAY=-1FR,2MO;BYSETPOS=1;WKST=SU;UNTIL=20251231T000000Z;X-FOO=1",
        )
        .unwrap();
        assert_eq!(r.freq, Freq::Monthly);
        assert_eq!(
            r.by_day,
            vec![
                ByDay {
                    nth: Some(-1),
                    weekday: 4
                },
                ByDay {
                    nth: Some(2),
                    weekday: 0
                }
            ]
        );
        assert_eq!(r.wkst, 6);
        assert_eq!(r.by_set_pos, vec![1]);
        for bad in [
            "",
            "INTERVAL=2",
            "FREQ=FORTNIGHTLY",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;BYMONTH=13",
            "FREQ=DAILY;COUNT=2;UNTIL=20250101",
            "FREQ=DAILY;BYDAY=XX",
            "FREQ=DAILY;FOO=1",
        ] {
            assert!(parse_recur(bad).is_err(), "{bad}");
        }
    }
}
