//! From text to [`Calendar`]: only start, end, recurrence and busy-status
//! data survive; everything else is skipped by the lexer unread.

use std::collections::HashMap;

use availability::BusyKind;

use super::lexer::{ContentLines, Property, split};
use super::values::{
    Zone, parse_date_period, parse_date_time, parse_duration, parse_period, parse_recur,
    parse_utc_offset, parse_when,
};
use super::zones::{Observance, VTimezone, by_name};
use super::{
    Calendar, Event, FreeBusyPeriod, ParseError, Problem, ProblemKind, RDate, Status, ZoneEntry,
};

/// The properties busy time needs; every other line is skipped unread.
const WANTED: [&str; 21] = [
    "BEGIN",
    "END",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RRULE",
    "RDATE",
    "EXDATE",
    "RECURRENCE-ID",
    "UID",
    "SEQUENCE",
    "DTSTAMP",
    "LAST-MODIFIED",
    "TRANSP",
    "STATUS",
    "X-MICROSOFT-CDO-BUSYSTATUS",
    "FREEBUSY",
    "TZID",
    "TZOFFSETFROM",
    "TZOFFSETTO",
    "X-LIC-LOCATION",
];

fn wanted(name: &str) -> bool {
    WANTED.iter().any(|w| w.eq_ignore_ascii_case(name))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comp {
    VCalendar,
    VEvent,
    VFreeBusy,
    VTimezone,
    Observance,
    Other,
}

/// Longest value echoed in a problem (values are dates and rules, never
/// text, but a fuzzer's 1 MB line should not be copied around).
const ECHO: usize = 80;

fn echo(value: &str) -> String {
    let v = value.trim();
    match v.char_indices().nth(ECHO) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v.to_owned(),
    }
}

struct Parser {
    cal: Calendar,
    stack: Vec<Comp>,
    event: Option<Event>,
    vtimezone: Option<VTimezone>,
    observance: Option<Observance>,
    vtimezones: Vec<VTimezone>,
    tzid_index: HashMap<String, u32>,
    seen_calendar: bool,
}

pub(super) fn parse(text: &str) -> Result<Calendar, ParseError> {
    run(text).map(|p| p.cal)
}

/// The zone of the first VTIMEZONE in `text` (a CalDAV
/// `calendar-timezone` property holds a VCALENDAR with exactly one).
pub(super) fn declared_zone(text: &str) -> Option<jiff::tz::TimeZone> {
    run(text).ok()?.vtimezones.first()?.resolve()
}

fn run(text: &str) -> Result<Parser, ParseError> {
    let mut p = Parser {
        cal: Calendar::default(),
        stack: Vec::new(),
        event: None,
        vtimezone: None,
        observance: None,
        vtimezones: Vec::new(),
        tzid_index: HashMap::new(),
        seen_calendar: false,
    };
    for raw in ContentLines::new(text, wanted) {
        let Some(prop) = split(&raw.text) else {
            if !p.stack.is_empty() {
                p.problem(raw.line, None, ProblemKind::MalformedLine);
            }
            continue;
        };
        p.line(&prop, raw.line);
    }
    if !p.seen_calendar {
        return Err(ParseError::NotICalendar);
    }
    if let Some(&open) = p.stack.last() {
        let line = p.event.as_ref().map_or(0, |e| e.line);
        let uid = p.event.as_ref().and_then(|e| e.uid.clone());
        p.problem(
            line,
            uid,
            ProblemKind::Unterminated {
                component: format!("{open:?}").to_ascii_uppercase(),
            },
        );
    }
    p.finish_zones();
    Ok(p)
}

impl Parser {
    fn problem(&mut self, line: usize, uid: Option<Box<str>>, kind: ProblemKind) {
        self.cal.problems.push(Problem {
            line,
            uid: uid.map(String::from),
            kind,
        });
    }

    fn tzid(&mut self, prop: &Property<'_>) -> Option<u32> {
        let name = prop.param("TZID")?;
        if let Some(&i) = self.tzid_index.get(name) {
            return Some(i);
        }
        let i = u32::try_from(self.cal.zones.len()).ok()?;
        self.cal.zones.push(ZoneEntry {
            tzid: name.to_owned(),
            zone: None,
        });
        self.tzid_index.insert(name.to_owned(), i);
        Some(i)
    }

    fn line(&mut self, prop: &Property<'_>, line: usize) {
        let name = prop.name;
        if name.eq_ignore_ascii_case("BEGIN") {
            self.begin(prop.value.trim(), line);
            return;
        }
        if name.eq_ignore_ascii_case("END") {
            self.end(line);
            return;
        }
        match self.stack.last() {
            Some(Comp::VEvent) => self.event_property(prop, line),
            Some(Comp::VFreeBusy) => self.free_busy_property(prop, line),
            Some(Comp::VTimezone) => {
                if let Some(vtz) = &mut self.vtimezone {
                    if name.eq_ignore_ascii_case("TZID") {
                        prop.value.trim().clone_into(&mut vtz.tzid);
                    } else if name.eq_ignore_ascii_case("X-LIC-LOCATION") {
                        vtz.lic_location = Some(prop.value.trim().to_owned());
                    }
                }
            }
            Some(Comp::Observance) => {
                if let Some(o) = &mut self.observance {
                    let v = prop.value;
                    if name.eq_ignore_ascii_case("DTSTART") {
                        o.start = parse_date_time(v).map(|(dt, _)| dt);
                    } else if name.eq_ignore_ascii_case("TZOFFSETFROM") {
                        o.offset_from = parse_utc_offset(v);
                    } else if name.eq_ignore_ascii_case("TZOFFSETTO") {
                        o.offset_to = parse_utc_offset(v);
                    } else if name.eq_ignore_ascii_case("RRULE") {
                        o.rule = parse_recur(v).ok();
                    }
                }
            }
            _ => {}
        }
    }

    fn begin(&mut self, what: &str, line: usize) {
        let top = self.stack.last().copied();
        // Where a calendar's components may be read: inside a VCALENDAR,
        // or (leniently, with a warning) outside any, or inside an unknown
        // or X- component that is not inside an event (a VALARM is).
        let in_calendar = top == Some(Comp::VCalendar);
        let stray = match top {
            None => true,
            Some(Comp::Other) => self.event.is_none() && self.vtimezone.is_none(),
            _ => false,
        };
        let comp = if what.eq_ignore_ascii_case("VCALENDAR") {
            self.seen_calendar = true;
            Comp::VCalendar
        } else if in_calendar || stray {
            let comp = if what.eq_ignore_ascii_case("VEVENT") {
                self.event = Some(Event::new(line));
                Comp::VEvent
            } else if what.eq_ignore_ascii_case("VFREEBUSY") {
                Comp::VFreeBusy
            } else if what.eq_ignore_ascii_case("VTIMEZONE") {
                self.vtimezone = Some(VTimezone::default());
                Comp::VTimezone
            } else {
                Comp::Other
            };
            // Any component outside a VCALENDAR (a lone VEVENT, VTODO,
            // VALARM, ...) makes the text iCalendar; events in it count.
            if top.is_none() || (stray && comp != Comp::Other) {
                self.seen_calendar = true;
                self.problem(
                    line,
                    None,
                    ProblemKind::Misplaced {
                        component: what.to_ascii_uppercase(),
                    },
                );
            }
            comp
        } else if top == Some(Comp::VTimezone)
            && (what.eq_ignore_ascii_case("STANDARD") || what.eq_ignore_ascii_case("DAYLIGHT"))
        {
            self.observance = Some(Observance {
                daylight: what.eq_ignore_ascii_case("DAYLIGHT"),
                start: None,
                offset_from: None,
                offset_to: None,
                rule: None,
            });
            Comp::Observance
        } else {
            Comp::Other
        };
        self.stack.push(comp);
    }

    fn end(&mut self, line: usize) {
        let Some(comp) = self.stack.pop() else {
            self.problem(line, None, ProblemKind::MalformedLine);
            return;
        };
        match comp {
            Comp::VEvent => {
                if let Some(event) = self.event.take() {
                    if event.start.is_none() && event.recurrence_id.is_none() {
                        self.problem(event.line, event.uid.clone(), ProblemKind::MissingStart);
                    } else {
                        self.cal.events.push(event);
                    }
                }
            }
            Comp::VTimezone => {
                if let Some(vtz) = self.vtimezone.take() {
                    self.vtimezones.push(vtz);
                }
            }
            Comp::Observance => {
                if let (Some(o), Some(vtz)) = (self.observance.take(), &mut self.vtimezone) {
                    vtz.observances.push(o);
                }
            }
            Comp::VCalendar | Comp::VFreeBusy | Comp::Other => {}
        }
    }

    fn event_property(&mut self, prop: &Property<'_>, line: usize) {
        let name = prop.name;
        let tzid = self.tzid(prop);
        let Some(event) = self.event.as_mut() else {
            return;
        };
        let value = prop.value;
        let value_type = prop.param("VALUE");
        let mut bad = None;
        let mut date_period = false;
        if name.eq_ignore_ascii_case("UID") {
            event.uid = Some(value.trim().into());
        } else if name.eq_ignore_ascii_case("SEQUENCE") {
            match value.trim().parse::<i64>() {
                Ok(n) => event.sequence = n,
                Err(_) => bad = Some("SEQUENCE"),
            }
        } else if name.eq_ignore_ascii_case("DTSTAMP") || name.eq_ignore_ascii_case("LAST-MODIFIED")
        {
            // UTC date-times (RFC 5545 3.8.7.2, 3.8.7.3); read as UTC
            // whatever the suffix, only to order versions of one event.
            let at = parse_date_time(value)
                .and_then(|(dt, _)| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
                .map(|t| t.as_second());
            match at {
                Some(at) if name.eq_ignore_ascii_case("DTSTAMP") => event.stamp = Some(at),
                Some(at) => event.modified = Some(at),
                None => {}
            }
        } else if name.eq_ignore_ascii_case("DTSTART") {
            event.start = parse_when(value, value_type, tzid);
            if event.start.is_none() {
                bad = Some("DTSTART");
            }
        } else if name.eq_ignore_ascii_case("DTEND") {
            event.end = parse_when(value, value_type, tzid);
            if event.end.is_none() {
                bad = Some("DTEND");
            }
        } else if name.eq_ignore_ascii_case("DURATION") {
            event.duration = parse_duration(value);
            if event.duration.is_none() {
                bad = Some("DURATION");
            }
        } else if name.eq_ignore_ascii_case("RECURRENCE-ID") {
            event.recurrence_id = parse_when(value, value_type, tzid);
            event.this_and_future = prop
                .param("RANGE")
                .is_some_and(|r| r.trim().eq_ignore_ascii_case("THISANDFUTURE"));
            if event.recurrence_id.is_none() {
                bad = Some("RECURRENCE-ID");
            }
        } else if name.eq_ignore_ascii_case("RRULE") {
            match parse_recur(&unescaped(value)) {
                Ok(rule) => event.rules.push(rule),
                Err(message) => event.rule_errors.push(message),
            }
        } else if name.eq_ignore_ascii_case("RDATE") || name.eq_ignore_ascii_case("EXDATE") {
            let is_rdate = name.eq_ignore_ascii_case("RDATE");
            let period = value_type.is_some_and(|t| t.eq_ignore_ascii_case("PERIOD"));
            let value = unescaped(value);
            for item in value.split(',').filter(|v| !v.trim().is_empty()) {
                if is_rdate && (period || item.contains('/')) {
                    match parse_period(item) {
                        Some(((start, utc), end)) => {
                            let zone = if utc {
                                Zone::Utc
                            } else {
                                tzid.map_or(Zone::Floating, Zone::Tzid)
                            };
                            event.rdates.push(RDate::Period(start, zone, end));
                        }
                        None => match parse_date_period(item) {
                            // Whole local days: the reading that never
                            // loses busy time; said in the result.
                            Some((start, end)) => {
                                event.rdates.push(RDate::Period(
                                    start,
                                    tzid.map_or(Zone::Floating, Zone::Tzid),
                                    end,
                                ));
                                date_period = true;
                            }
                            None => bad = Some("RDATE"),
                        },
                    }
                } else {
                    match parse_when(item, value_type, tzid) {
                        Some(when) if is_rdate => event.rdates.push(RDate::At(when)),
                        Some(when) => event.exdates.push(when),
                        None => bad = Some(if is_rdate { "RDATE" } else { "EXDATE" }),
                    }
                }
            }
        } else if name.eq_ignore_ascii_case("STATUS") {
            let v = value.trim();
            event.status = if v.eq_ignore_ascii_case("CANCELLED") {
                Status::Cancelled
            } else if v.eq_ignore_ascii_case("TENTATIVE") {
                Status::Tentative
            } else {
                Status::Other
            };
        } else if name.eq_ignore_ascii_case("TRANSP") {
            event.transparent = value.trim().eq_ignore_ascii_case("TRANSPARENT");
        } else if name.eq_ignore_ascii_case("X-MICROSOFT-CDO-BUSYSTATUS") {
            // Only the five documented values override; anything else is
            // ignored so the standard properties decide.
            let v = value.trim();
            event.cdo = if v.eq_ignore_ascii_case("FREE") {
                Some(None)
            } else if ["BUSY", "TENTATIVE", "OOF", "WORKINGELSEWHERE"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(v))
            {
                BusyKind::from_free_busy_status(v).map(Some)
            } else {
                None
            };
        }
        let uid = event.uid.clone();
        if let Some(property) = bad {
            self.problem(
                line,
                uid.clone(),
                ProblemKind::InvalidValue {
                    property,
                    value: echo(value),
                },
            );
        }
        if date_period {
            self.problem(line, uid, ProblemKind::DatePeriod);
        }
    }

    fn free_busy_property(&mut self, prop: &Property<'_>, line: usize) {
        if !prop.name.eq_ignore_ascii_case("FREEBUSY") {
            return;
        }
        // RFC 5545 §3.2.9: FBTYPE defaults to BUSY; FREE gives no busy time.
        let Some(kind) = BusyKind::from_fbtype(prop.param("FBTYPE").unwrap_or("BUSY")) else {
            return;
        };
        for item in prop.value.split(',').filter(|v| !v.trim().is_empty()) {
            match parse_period(item) {
                Some(((start, utc), end)) => self.cal.free_busy.push(FreeBusyPeriod {
                    kind,
                    start,
                    utc,
                    end,
                }),
                None => self.problem(
                    line,
                    None,
                    ProblemKind::InvalidValue {
                        property: "FREEBUSY",
                        value: echo(item),
                    },
                ),
            }
        }
    }

    /// Resolves every TZID used: the calendar's VTIMEZONE of that name
    /// first, then the name itself.
    fn finish_zones(&mut self) {
        for entry in &mut self.cal.zones {
            let defined = self.vtimezones.iter().find(|v| v.tzid == entry.tzid);
            entry.zone = match defined {
                Some(vtz) => vtz.resolve(),
                None => by_name(&entry.tzid),
            };
        }
    }
}

impl Event {
    fn new(line: usize) -> Self {
        Self {
            line,
            uid: None,
            start: None,
            end: None,
            duration: None,
            rules: Vec::new(),
            rule_errors: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            recurrence_id: None,
            this_and_future: false,
            sequence: 0,
            stamp: None,
            modified: None,
            status: Status::Other,
            transparent: false,
            cdo: None,
        }
    }
}

/// A RECUR, DATE-TIME or PERIOD list with TEXT escapes taken out: a
/// backslash is no part of those values (RFC 5545 §3.3.10, §3.3.5,
/// §3.3.9; §3.3.11 escapes TEXT only), yet a server that rewrites
/// properties as TEXT writes `\;` and `\,` into them (measured: Xandikos
/// on an RRULE with spaces and an RDATE with one bad period). Reading the
/// separators they escape keeps the busy time the rule or list holds.
fn unescaped(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('\\') {
        std::borrow::Cow::Owned(value.replace("\\;", ";").replace("\\,", ","))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}
