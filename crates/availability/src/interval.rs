//! [`Interval`]: one half-open span of UTC time in whole seconds.

use std::fmt;
use std::ops::Range;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// A half-open span of time `[start, end)` in UTC, in whole seconds since the
/// Unix epoch, with `start < end`.
///
/// # Why half-open
///
/// A meeting from 09:00 to 10:00 and one from 10:00 to 11:00 do not overlap:
/// with half-open intervals that is `[09:00, 10:00)` and `[10:00, 11:00)`,
/// which share no instant, and whose union is exactly `[09:00, 11:00)`. The
/// length is `end - start` with no `+ 1`, splitting at any instant gives two
/// intervals that tile the original, and the complement of a set of half-open
/// intervals is again a set of half-open intervals. Calendars agree: RFC 5545
/// `DTEND` and `FREEBUSY` periods are exclusive at the end, as are Google's
/// `timeMax` and Microsoft Graph's `endTime`.
///
/// # Range
///
/// Both ends lie in [`Interval::MIN_SECOND`]`..=`[`Interval::MAX_SECOND`], the
/// range that both [`jiff::Timestamp`] and [`time::OffsetDateTime`] can
/// represent, so converting an `Interval` to either is infallible.
///
/// # Example: a one-hour meeting
///
/// ```
/// use availability::Interval;
///
/// let start: jiff::Timestamp = "2026-01-05T09:00:00Z".parse()?;
/// let end: jiff::Timestamp = "2026-01-05T10:00:00Z".parse()?;
/// let meeting = Interval::from_jiff(start, end)?;
/// assert_eq!(meeting.len_secs(), 3600);
/// assert_eq!(meeting.to_string(), "2026-01-05T09:00:00Z/2026-01-05T10:00:00Z");
/// // An empty or inverted span is an error, never a panic.
/// assert!(Interval::new(10, 10).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// Why an [`Interval`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntervalError {
    /// `start >= end`: the span is empty or inverted.
    #[error("interval start ({start}) must be before its end ({end})")]
    NotIncreasing {
        /// The requested start, seconds since the Unix epoch.
        start: i64,
        /// The requested end, seconds since the Unix epoch.
        end: i64,
    },
    /// An end lies outside [`Interval::MIN_SECOND`]`..=`[`Interval::MAX_SECOND`].
    #[error(
        "{second} seconds since the Unix epoch is outside the supported range of years -9999 to 9999"
    )]
    OutOfRange {
        /// The offending instant, seconds since the Unix epoch.
        second: i64,
    },
}

impl Interval {
    /// The earliest supported instant: `-009999-01-02T01:59:59Z`, the first
    /// whole second of [`jiff::Timestamp::MIN`].
    pub const MIN_SECOND: i64 = -377_705_023_201;
    /// The latest supported instant: `9999-12-30T22:00:00Z`, the last whole
    /// second of [`jiff::Timestamp::MAX`].
    pub const MAX_SECOND: i64 = 253_402_207_200;

    /// Builds `[start, end)` from seconds since the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`IntervalError::NotIncreasing`] unless `start < end`, and
    /// [`IntervalError::OutOfRange`] if either end lies outside
    /// [`MIN_SECOND`](Self::MIN_SECOND)`..=`[`MAX_SECOND`](Self::MAX_SECOND).
    pub const fn new(start: i64, end: i64) -> Result<Self, IntervalError> {
        if start < Self::MIN_SECOND || start > Self::MAX_SECOND {
            return Err(IntervalError::OutOfRange { second: start });
        }
        if end < Self::MIN_SECOND || end > Self::MAX_SECOND {
            return Err(IntervalError::OutOfRange { second: end });
        }
        if start >= end {
            return Err(IntervalError::NotIncreasing { start, end });
        }
        Ok(Self { start, end })
    }

    /// Builds an interval from two [`jiff::Timestamp`]s.
    ///
    /// Sub-second parts widen the interval outwards (the start is rounded
    /// down and the end up to a whole second), so busy time is never lost.
    ///
    /// # Errors
    ///
    /// [`IntervalError::NotIncreasing`] unless `start < end`.
    pub fn from_jiff(start: Timestamp, end: Timestamp) -> Result<Self, IntervalError> {
        if start >= end {
            return Err(IntervalError::NotIncreasing {
                start: start.as_second(),
                end: end.as_second(),
            });
        }
        Self::new(floor_second(start), ceil_second(end))
    }

    /// Builds an interval from two [`time::OffsetDateTime`]s (any offsets).
    ///
    /// Sub-second parts widen the interval outwards, as in
    /// [`from_jiff`](Self::from_jiff).
    ///
    /// # Errors
    ///
    /// [`IntervalError::NotIncreasing`] unless `start < end`, and
    /// [`IntervalError::OutOfRange`] for instants jiff cannot represent (the
    /// last day of year 9999 after 22:00 UTC, the first of year -9999).
    pub fn from_time(start: OffsetDateTime, end: OffsetDateTime) -> Result<Self, IntervalError> {
        if start >= end {
            return Err(IntervalError::NotIncreasing {
                start: start.unix_timestamp(),
                end: end.unix_timestamp(),
            });
        }
        let end_second = end.unix_timestamp() + i64::from(end.nanosecond() > 0);
        Self::new(start.unix_timestamp(), end_second)
    }

    /// This interval cut into consecutive pieces of at most `max_len`
    /// seconds (at least 1), in order: how providers split a window longer
    /// than one request may cover.
    ///
    /// # Example
    ///
    /// ```
    /// use availability::Interval;
    ///
    /// let pieces = Interval::new(0, 250)?.pieces(100);
    /// assert_eq!(pieces, vec![Interval::new(0, 100)?, Interval::new(100, 200)?, Interval::new(200, 250)?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pieces(&self, max_len: i64) -> Vec<Self> {
        let step = max_len.max(1);
        let mut out = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = start.saturating_add(step).min(self.end);
            out.push(Self { start, end });
            start = end;
        }
        out
    }

    /// The inclusive start, in seconds since the Unix epoch.
    pub const fn start(&self) -> i64 {
        self.start
    }

    /// The exclusive end, in seconds since the Unix epoch.
    pub const fn end(&self) -> i64 {
        self.end
    }

    /// The length in seconds, always positive.
    pub const fn len_secs(&self) -> i64 {
        self.end - self.start
    }

    /// The start as a [`jiff::Timestamp`].
    pub fn start_jiff(&self) -> Timestamp {
        to_jiff(self.start)
    }

    /// The end as a [`jiff::Timestamp`].
    pub fn end_jiff(&self) -> Timestamp {
        to_jiff(self.end)
    }

    /// The start as a [`time::OffsetDateTime`] in UTC.
    pub fn start_time(&self) -> OffsetDateTime {
        to_time(self.start)
    }

    /// The end as a [`time::OffsetDateTime`] in UTC.
    pub fn end_time(&self) -> OffsetDateTime {
        to_time(self.end)
    }

    /// Whether the instant `second` lies in `[start, end)`.
    pub const fn contains(&self, second: i64) -> bool {
        self.start <= second && second < self.end
    }

    /// Whether `other` lies entirely within `self`.
    pub const fn contains_interval(&self, other: &Self) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the two intervals share at least one instant. Touching
    /// intervals such as `[1, 2)` and `[2, 3)` do not overlap.
    pub const fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The instants in both intervals, if any.
    pub fn intersection(&self, other: &Self) -> Option<Self> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(Self { start, end })
    }
}

fn floor_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() < 0 { s - 1 } else { s }
}

fn ceil_second(t: Timestamp) -> i64 {
    let s = t.as_second();
    if t.subsec_nanosecond() > 0 { s + 1 } else { s }
}

fn to_jiff(second: i64) -> Timestamp {
    // Every `Interval` end lies in jiff's range (checked in `Interval::new`),
    // so this never falls back; the fallback only keeps the function total.
    Timestamp::from_second(second).unwrap_or(if second < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn to_time(second: i64) -> OffsetDateTime {
    // As in `to_jiff`: jiff's range lies inside time's, so this never falls back.
    OffsetDateTime::from_unix_timestamp(second).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl fmt::Display for Interval {
    /// RFC 3339 start and end joined by `/`, as an RFC 5545 PERIOD:
    /// `2026-01-05T09:00:00Z/2026-01-05T10:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.start_jiff(), self.end_jiff())
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<Range<Timestamp>> for Interval {
    type Error = IntervalError;

    fn try_from(range: Range<Timestamp>) -> Result<Self, IntervalError> {
        Self::from_jiff(range.start, range.end)
    }
}

impl TryFrom<Range<OffsetDateTime>> for Interval {
    type Error = IntervalError;

    fn try_from(range: Range<OffsetDateTime>) -> Result<Self, IntervalError> {
        Self::from_time(range.start, range.end)
    }
}

impl TryFrom<Range<i64>> for Interval {
    type Error = IntervalError;

    fn try_from(range: Range<i64>) -> Result<Self, IntervalError> {
        Self::new(range.start, range.end)
    }
}

impl From<Interval> for Range<Timestamp> {
    fn from(iv: Interval) -> Self {
        iv.start_jiff()..iv.end_jiff()
    }
}

impl From<Interval> for Range<OffsetDateTime> {
    fn from(iv: Interval) -> Self {
        iv.start_time()..iv.end_time()
    }
}

impl From<Interval> for Range<i64> {
    fn from(iv: Interval) -> Self {
        iv.start..iv.end
    }
}

/// The serialised form: `{"start": "2026-01-05T09:00:00Z", "end": "..."}`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
struct Wire {
    /// The first instant (RFC 3339, UTC).
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    start: Timestamp,
    /// The end, after `start` (half-open).
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    end: Timestamp,
}

/// The schema of the serialised form, `{"start", "end"}` (RFC 3339).
#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for Interval {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Wire as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for Interval {}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            start: self.start_jiff(),
            end: self.end_jiff(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        Self::from_jiff(wire.start, wire.end).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_constants_match_jiff_and_fit_time() {
        assert_eq!(Timestamp::MIN.as_second(), Interval::MIN_SECOND);
        assert_eq!(Timestamp::MAX.as_second(), Interval::MAX_SECOND);
        assert!(OffsetDateTime::from_unix_timestamp(Interval::MIN_SECOND).is_ok());
        assert!(OffsetDateTime::from_unix_timestamp(Interval::MAX_SECOND).is_ok());
        let full = Interval::new(Interval::MIN_SECOND, Interval::MAX_SECOND).unwrap();
        assert_eq!(full.start_jiff().as_second(), Interval::MIN_SECOND);
        assert_eq!(full.end_time().unix_timestamp(), Interval::MAX_SECOND);
    }

    #[test]
    fn rejects_empty_inverted_and_out_of_range() {
        assert_eq!(
            Interval::new(5, 5),
            Err(IntervalError::NotIncreasing { start: 5, end: 5 })
        );
        assert!(matches!(
            Interval::new(6, 5),
            Err(IntervalError::NotIncreasing { .. })
        ));
        assert!(matches!(
            Interval::new(0, Interval::MAX_SECOND + 1),
            Err(IntervalError::OutOfRange { .. })
        ));
        assert!(matches!(
            Interval::new(i64::MIN, 0),
            Err(IntervalError::OutOfRange { .. })
        ));
    }

    #[test]
    fn subseconds_widen_outwards() {
        let a: Timestamp = "2026-01-05T09:00:00.5Z".parse().unwrap();
        let b: Timestamp = "2026-01-05T09:00:01.25Z".parse().unwrap();
        let iv = Interval::from_jiff(a, b).unwrap();
        assert_eq!(iv.to_string(), "2026-01-05T09:00:00Z/2026-01-05T09:00:02Z");
        let neg_a: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        let iv = Interval::from_jiff(neg_a, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!((iv.start(), iv.end()), (-1, 0));
        assert!(Interval::from_jiff(a, a).is_err());

        let t0 = OffsetDateTime::from_unix_timestamp_nanos(1_500_000_000).unwrap();
        let t1 = OffsetDateTime::from_unix_timestamp_nanos(2_000_000_001).unwrap();
        let iv = Interval::from_time(t0, t1).unwrap();
        assert_eq!((iv.start(), iv.end()), (1, 3));
        assert!(Interval::from_time(t1, t0).is_err());
    }

    #[test]
    fn conversions_round_trip() {
        let iv = Interval::new(1_767_603_600, 1_767_607_200).unwrap();
        let r: Range<Timestamp> = iv.into();
        assert_eq!(Interval::try_from(r).unwrap(), iv);
        let r: Range<OffsetDateTime> = iv.into();
        assert_eq!(r.start.offset(), time::UtcOffset::UTC);
        assert_eq!(Interval::try_from(r).unwrap(), iv);
        let r: Range<i64> = iv.into();
        assert_eq!(Interval::try_from(r).unwrap(), iv);
    }

    #[test]
    fn overlap_is_half_open() {
        let a = Interval::new(0, 10).unwrap();
        let b = Interval::new(10, 20).unwrap();
        assert!(!a.overlaps(&b));
        assert_eq!(a.intersection(&b), None);
        assert!(a.contains(0) && a.contains(9) && !a.contains(10));
        let c = Interval::new(5, 15).unwrap();
        assert_eq!(a.intersection(&c), Some(Interval::new(5, 10).unwrap()));
        assert!(a.contains_interval(&Interval::new(2, 10).unwrap()));
    }

    #[test]
    fn serde_validates() {
        // 10:00+01:00 is 09:00Z: an empty interval.
        let err = serde_json::from_str::<Interval>(
            r#"{"start":"2026-01-05T09:00:00Z","end":"2026-01-05T10:00:00+01:00"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("must be before"), "{err}");
        let err = serde_json::from_str::<Interval>(
            r#"{"start":"2026-01-05T10:00:00Z","end":"2026-01-05T09:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("must be before"), "{err}");
        let ok: Interval = serde_json::from_str(
            r#"{"start":"2026-01-05T09:00:00Z","end":"2026-01-05T11:00:00+01:00"}"#,
        )
        .unwrap();
        assert_eq!(ok.len_secs(), 3600);
        assert!(serde_json::from_str::<Interval>(r#"{"start":"x","end":"y"}"#).is_err());
    }
}
