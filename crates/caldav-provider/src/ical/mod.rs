//! iCalendar (RFC 5545) to busy time, usable on its own.
//!
//! [`Calendar::parse`] reads a calendar and keeps only what busy time
//! needs: each VEVENT's start, end, duration, recurrence (RRULE, RDATE,
//! EXDATE, RECURRENCE-ID with RANGE) and busy status (STATUS, TRANSP,
//! X-MICROSOFT-CDO-BUSYSTATUS), the FREEBUSY periods of VFREEBUSY
//! components, and the VTIMEZONE definitions. Summaries, descriptions,
//! locations, attendees and every other property are skipped by the lexer
//! without being copied. [`Calendar::busy_time`] then expands the events
//! over a window and returns a [`FreeBusy`] plus the [`Problem`]s met.
//!
//! # Busy rules
//!
//! | event | busy kind |
//! |---|---|
//! | `STATUS:CANCELLED` | none |
//! | `X-MICROSOFT-CDO-BUSYSTATUS` present (FREE, TENTATIVE, BUSY, OOF, WORKINGELSEWHERE) | none, tentative, busy, out_of_office, working_elsewhere |
//! | `TRANSP:TRANSPARENT` | none |
//! | `STATUS:TENTATIVE` | tentative |
//! | otherwise | busy |
//!
//! All-day (DATE) events cover whole local days, and floating times are
//! local, both in [`ExpandOptions::default_zone`]. Without DTEND an event
//! lasts its DURATION, else one day for a DATE and nothing for a
//! DATE-TIME. VFREEBUSY periods map by FBTYPE (RFC 5545 §3.2.9).
//!
//! # Example
//!
//! ```
//! use availability::{BusyKind, Interval};
//! use caldav_provider::ical::{Calendar, ExpandOptions};
//!
//! let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Dentist\r\n\
//!             DTSTART:20250303T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\n\
//!             END:VEVENT\r\nEND:VCALENDAR\r\n";
//! let calendar = Calendar::parse(text)?;
//! let window = Interval::new(1_740_960_000, 1_741_219_200)?; // 2025-03-03..06 UTC
//! let report = calendar.busy_time(window, &ExpandOptions::default());
//! assert_eq!(report.busy.get(BusyKind::Busy).len(), 3);
//! assert!(report.problems.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use availability::{FreeBusy, Interval};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use self::values::{Dur, PeriodEnd, Recur, When, Zone};

mod expand;
mod lexer;
mod parse;
mod values;
mod zones;

/// A time zone by name, from the IANA database bundled with this crate
/// (never the host's): an IANA name (case-insensitive), a Windows name as
/// Exchange writes it (`Eastern Standard Time`), or a vendor-prefixed IANA
/// name (`/mozilla.org/20050126_1/America/New_York`).
///
/// # Example
///
/// ```
/// let tz = caldav_provider::ical::time_zone("W. Europe Standard Time").ok_or("unknown")?;
/// assert_eq!(tz.iana_name(), Some("Europe/Berlin"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn time_zone(name: &str) -> Option<TimeZone> {
    zones::by_name(name)
}

/// The zone a CalDAV `calendar-timezone` value (a VCALENDAR holding one
/// VTIMEZONE) stands for.
pub(crate) fn declared_zone(text: &str) -> Option<TimeZone> {
    parse::declared_zone(text)
}

/// A calendar reduced to what busy time needs.
///
/// Its `Debug` output shows counts only.
#[derive(Clone, Default)]
pub struct Calendar {
    events: Vec<Event>,
    free_busy: Vec<FreeBusyPeriod>,
    zones: Vec<ZoneEntry>,
    problems: Vec<Problem>,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar")
            .field("events", &self.events.len())
            .field("free_busy_periods", &self.free_busy.len())
            .field("zones", &self.zones.len())
            .field("problems", &self.problems.len())
            .finish()
    }
}

impl Calendar {
    /// Parses iCalendar text (CRLF or LF line ends, folded lines, a leading
    /// byte-order mark; unknown and `X-` properties are skipped). Several
    /// VCALENDAR objects in one text are read as one calendar.
    ///
    /// Broken items do not fail the parse: a VEVENT without DTSTART, a bad
    /// value, an unterminated component each become a [`Problem`]
    /// ([`problems`](Self::problems)) and the rest of the calendar counts.
    ///
    /// # Errors
    ///
    /// [`ParseError::NotICalendar`] when the text has no `BEGIN:VCALENDAR`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse(text)
    }

    /// Like [`parse`](Self::parse), for bytes: invalid UTF-8 (a Latin-1
    /// summary, say) is replaced, since only ASCII values are read.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        parse::parse(&String::from_utf8_lossy(bytes))
    }

    /// The number of VEVENT components kept (masters and overrides).
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Problems found while parsing.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The busy time inside `window`, coalesced per kind and clipped to it,
    /// with the parse problems and those met while expanding.
    pub fn busy_time(&self, window: Interval, options: &ExpandOptions) -> BusyReport {
        expand::busy_time(self, window, options)
    }
}

/// How [`Calendar::busy_time`] reads floating times and bounds recurrence.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExpandOptions {
    /// The zone for floating DATE-TIMEs and all-day DATEs: the
    /// participant's, or the calendar's `calendar-timezone`. Default UTC.
    pub default_zone: TimeZone,
    /// The most instances one recurring event may contribute inside the
    /// window; past it the series is cut and the report says so. Default
    /// 100,000.
    pub max_instances_per_series: usize,
    /// The most rule iterations spent on one recurring event, counting
    /// those before the window (a FREQ=SECONDLY rule from years ago). Past
    /// it the series is cut and the report says so. Default 2,000,000.
    pub max_iterations_per_series: usize,
}

impl Default for ExpandOptions {
    fn default() -> Self {
        Self::new(TimeZone::UTC)
    }
}

impl ExpandOptions {
    /// Options with `default_zone` for floating times and all-day dates.
    pub fn new(default_zone: TimeZone) -> Self {
        Self {
            default_zone,
            max_instances_per_series: 100_000,
            max_iterations_per_series: 2_000_000,
        }
    }

    /// Sets [`max_instances_per_series`](Self::max_instances_per_series).
    #[must_use]
    pub fn max_instances_per_series(mut self, n: usize) -> Self {
        self.max_instances_per_series = n;
        self
    }

    /// Sets [`max_iterations_per_series`](Self::max_iterations_per_series).
    #[must_use]
    pub fn max_iterations_per_series(mut self, n: usize) -> Self {
        self.max_iterations_per_series = n;
        self
    }
}

/// Busy time computed from a calendar.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct BusyReport {
    /// Busy time per kind, inside the window.
    pub busy: FreeBusy,
    /// What could not be read or was cut; the rest still counts.
    pub problems: Vec<Problem>,
    /// Whether a recurring event was cut by a limit of [`ExpandOptions`], so
    /// the busy time may be incomplete.
    pub truncated: bool,
}

/// Text that is not iCalendar at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No component at all: neither a `BEGIN:VCALENDAR` line nor a lone
    /// component (a VEVENT, VTODO, ... without its VCALENDAR).
    #[error("not an iCalendar object: no BEGIN:VCALENDAR or other component")]
    NotICalendar,
}

/// One thing in a calendar that could not be used, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {kind}", uid.as_ref().map(|u| format!(" (UID {u})")).unwrap_or_default())]
#[non_exhaustive]
pub struct Problem {
    /// The 1-based line of the component or property (0 if unknown).
    pub line: usize,
    /// The event's UID, if it had one.
    pub uid: Option<String>,
    /// What was wrong.
    pub kind: ProblemKind,
}

/// What was wrong with part of a calendar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A VEVENT with neither DTSTART nor RECURRENCE-ID; skipped.
    #[error("event has no DTSTART; skipped")]
    MissingStart,
    /// A property value that could not be read; the property is ignored
    /// (for DTSTART, the event is skipped).
    #[error("{property} value {value:?} could not be read")]
    InvalidValue {
        /// The property name.
        property: &'static str,
        /// The value (shortened).
        value: String,
    },
    /// An RRULE that could not be read or expanded; only DTSTART (and any
    /// RDATE) counts for the event.
    #[error("RRULE ignored: {message}")]
    InvalidRule {
        /// Why.
        message: String,
    },
    /// A TZID that neither the calendar's VTIMEZONEs nor the time zone
    /// database define; its times were read in the default zone.
    #[error("unknown time zone {tzid:?}; read in the default zone")]
    UnknownTimeZone {
        /// The TZID.
        tzid: String,
    },
    /// DTEND before DTSTART, or a negative DURATION (RFC 5545 §3.8.2.2
    /// and §3.8.2.5 forbid both): read as the swapped interval, since a
    /// reading that drops it would lose busy time.
    #[error("event ends before it starts; read as the swapped interval")]
    EndBeforeStart,
    /// A recurring event hit a limit of [`ExpandOptions`] and was cut.
    #[error("recurrence cut after {limit} {what}")]
    Truncated {
        /// The limit reached.
        limit: usize,
        /// `"instances"` or `"iterations"`.
        what: &'static str,
    },
    /// A component without its END line (a truncated file).
    #[error("{component} is not terminated")]
    Unterminated {
        /// The component name.
        component: String,
    },
    /// Another version of the same event (one UID, no RECURRENCE-ID) is
    /// newer by RFC 5546 §2.1.5 (a higher `SEQUENCE`, then a later
    /// `DTSTAMP`, then a later `LAST-MODIFIED`): this one is ignored.
    #[error("an older version of this event is ignored (a newer one has the same UID)")]
    Superseded,
    /// An RDATE PERIOD written with DATE values (`19970101/19970102`),
    /// which RFC 5545 §3.3.9 does not allow: read as the whole local days
    /// it names, the reading that never loses busy time (both peers agree).
    #[error("RDATE period written with dates; read as whole days")]
    DatePeriod,
    /// A line that is not `NAME[;PARAMS]:VALUE`.
    #[error("malformed content line")]
    MalformedLine,
    /// A component outside any VCALENDAR (a lone `BEGIN:VEVENT` or
    /// `BEGIN:VTODO` file or resource), or a VEVENT nested in an unknown or
    /// `X-` component: read anyway, as both peers do (when in doubt, busy).
    #[error("{component} outside a VCALENDAR; read anyway")]
    Misplaced {
        /// The component name.
        component: String,
    },
}

/// A resolved TZID.
#[derive(Clone, Debug)]
struct ZoneEntry {
    tzid: String,
    zone: Option<TimeZone>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Tentative,
    Cancelled,
    Other,
}

#[derive(Clone, Debug)]
enum RDate {
    At(When),
    Period(DateTime, Zone, PeriodEnd),
}

/// A VEVENT, as far as busy time needs it.
#[derive(Clone, Debug)]
struct Event {
    line: usize,
    uid: Option<Box<str>>,
    start: Option<When>,
    end: Option<When>,
    duration: Option<Dur>,
    rules: Vec<Recur>,
    rule_errors: Vec<String>,
    rdates: Vec<RDate>,
    exdates: Vec<When>,
    recurrence_id: Option<When>,
    this_and_future: bool,
    /// `SEQUENCE` (0 when absent), `DTSTAMP` and `LAST-MODIFIED` (Unix
    /// seconds): which of two versions of one event is the newer.
    sequence: i64,
    stamp: Option<i64>,
    modified: Option<i64>,
    status: Status,
    transparent: bool,
    /// `Some(None)`: X-MICROSOFT-CDO-BUSYSTATUS:FREE.
    cdo: Option<Option<availability::BusyKind>>,
}

/// One FREEBUSY period of a VFREEBUSY.
#[derive(Clone, Debug)]
struct FreeBusyPeriod {
    kind: availability::BusyKind,
    start: DateTime,
    utc: bool,
    end: PeriodEnd,
}
