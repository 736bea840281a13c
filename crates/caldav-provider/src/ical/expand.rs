//! Expansion of events over a window into busy time.
//!
//! Recurrence rules are computed by the `rrule` crate (a port of
//! python-dateutil's algorithm) on wall-clock times, and each wall-clock
//! instance is then placed in its zone with jiff: RFC 5545 §3.3.10 computes
//! recurrences in local time, and a local time that does not exist (a DST
//! gap) moves forward by the gap while an ambiguous one takes its first
//! occurrence (§3.3.5), which is jiff's "compatible" rule.

use std::collections::{HashMap, HashSet};

use availability::{BusyKind, FreeBusy, Interval};
use chrono::{Datelike, TimeZone as _, Timelike};
use jiff::ToSpan;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::values::{ByDay, Dur, Freq, PeriodEnd, Recur, Until, When, Zone};
use super::{BusyReport, Calendar, Event, ExpandOptions, Problem, ProblemKind, RDate, Status};

/// How far (seconds) wall-clock order and instant order can disagree
/// around a DST fold; generation runs this far past the window.
const FOLD_MARGIN: i64 = 2 * 86_400;

struct Ctx<'c> {
    cal: &'c Calendar,
    options: &'c ExpandOptions,
    window: Interval,
    entries: Vec<(BusyKind, Interval)>,
    problems: Vec<Problem>,
    unknown_zones: HashSet<u32>,
    truncated: bool,
}

pub(super) fn busy_time(cal: &Calendar, window: Interval, options: &ExpandOptions) -> BusyReport {
    let mut ctx = Ctx {
        cal,
        options,
        window,
        entries: Vec::new(),
        problems: cal.problems.clone(),
        unknown_zones: HashSet::new(),
        truncated: false,
    };

    // Group by UID: the masters (no RECURRENCE-ID) and their overrides.
    // Several masters with one UID are versions of one event (an old and
    // a new export, a CalDAV migration): the newest by RFC 5546 §2.1.5
    // wins, whatever the file order; versions that tie are all read (when
    // in doubt, busy), each with the overrides.
    let mut masters: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut overrides: HashMap<&str, Vec<&Event>> = HashMap::new();
    let mut standalone: Vec<&Event> = Vec::new();
    for (i, event) in cal.events.iter().enumerate() {
        match (&event.uid, event.recurrence_id.is_some()) {
            (Some(uid), true) => overrides.entry(uid).or_default().push(event),
            (Some(uid), false) => masters.entry(uid).or_default().push(i),
            _ => standalone.push(event),
        }
    }
    for event in standalone {
        ctx.series(event, &[]);
    }
    let version = |e: &Event| (e.sequence, e.stamp, e.modified);
    for (uid, versions) in &masters {
        let own = overrides.get(uid).map_or(&[][..], Vec::as_slice);
        let newest = versions.iter().map(|&i| version(&cal.events[i])).max();
        for &i in versions {
            let event = &cal.events[i];
            if Some(version(event)) == newest {
                ctx.series(event, own);
            } else {
                ctx.problem(event, ProblemKind::Superseded);
            }
        }
    }
    // Overrides whose master is not here (a server may send only the
    // instance a participant was invited to) stand on their own.
    for (uid, list) in &overrides {
        if !masters.contains_key(uid) {
            for event in list {
                ctx.single_override(event, None);
            }
        }
    }
    for period in &cal.free_busy {
        let start = ctx.instant(
            period.start,
            if period.utc {
                Zone::Utc
            } else {
                Zone::Floating
            },
        );
        let end = match period.end {
            PeriodEnd::At(dt, utc) => ctx.instant(dt, if utc { Zone::Utc } else { Zone::Floating }),
            PeriodEnd::After(dur) => ctx.end_after(period.start, Zone::Floating, start, dur),
        };
        if let (Some(s), Some(e)) = (start, end) {
            ctx.emit(Some(period.kind), s, e);
        }
    }
    let busy = FreeBusy::from_entries(ctx.entries).clip(window);
    BusyReport {
        busy,
        problems: ctx.problems,
        truncated: ctx.truncated,
    }
}

/// The busy kind of an event (module docs, "Busy rules").
fn kind(event: &Event) -> Option<BusyKind> {
    if event.status == Status::Cancelled {
        return None;
    }
    if let Some(cdo) = event.cdo {
        return cdo;
    }
    if event.transparent {
        return None;
    }
    if event.status == Status::Tentative {
        return Some(BusyKind::Tentative);
    }
    Some(BusyKind::Busy)
}

/// An instance's length: the event's DTEND (as an exact duration, or whole
/// days between DATEs), its DURATION, or the RFC 5545 §3.6.1 defaults.
#[derive(Clone, Copy, Debug)]
enum Length {
    Dur(Dur),
}

impl Ctx<'_> {
    fn problem(&mut self, event: &Event, kind: ProblemKind) {
        self.problems.push(Problem {
            line: event.line,
            uid: event.uid.as_deref().map(String::from),
            kind,
        });
    }

    fn tz(&mut self, zone: Zone) -> TimeZone {
        match zone {
            Zone::Utc => TimeZone::UTC,
            Zone::Floating => self.options.default_zone.clone(),
            Zone::Tzid(i) => {
                let entry = usize::try_from(i).ok().and_then(|i| self.cal.zones.get(i));
                match entry.and_then(|e| e.zone.clone()) {
                    Some(tz) => tz,
                    None => {
                        if self.unknown_zones.insert(i) {
                            self.problems.push(Problem {
                                line: 0,
                                uid: None,
                                kind: ProblemKind::UnknownTimeZone {
                                    tzid: entry.map(|e| e.tzid.clone()).unwrap_or_default(),
                                },
                            });
                        }
                        self.options.default_zone.clone()
                    }
                }
            }
        }
    }

    /// The instant (Unix seconds) of a wall-clock time in a zone.
    fn instant(&mut self, civil: DateTime, zone: Zone) -> Option<i64> {
        let tz = self.tz(zone);
        at(&tz, civil)
    }

    fn when_instant(&mut self, when: When) -> Option<i64> {
        self.instant(when.civil(), when.zone())
    }

    /// `start + dur`: nominal days on the wall clock in the zone, then exact
    /// seconds.
    fn end_after(
        &mut self,
        civil: DateTime,
        zone: Zone,
        start: Option<i64>,
        dur: Dur,
    ) -> Option<i64> {
        let base = if dur.days == 0 {
            start?
        } else {
            let later = civil.checked_add(dur.days.days()).ok()?;
            self.instant(later, zone)?
        };
        base.checked_add(dur.seconds)
    }

    /// Adds busy time if the kind is one and `[start, end)` meets the window.
    /// Adds `[start, end)` clipped to the window. An end before its start
    /// (RFC 5545 §3.8.2.2 forbids it, so any reading is a choice) is read as
    /// the swapped interval: a reading that drops it would lose busy time.
    fn emit(&mut self, kind: Option<BusyKind>, start: i64, end: i64) -> bool {
        let Some(kind) = kind else { return false };
        let (start, end) = (start.min(end), start.max(end));
        let s = start.max(self.window.start());
        let e = end.min(self.window.end());
        if s >= e {
            return false;
        }
        if let Ok(interval) = Interval::new(s, e) {
            self.entries.push((kind, interval));
            return true;
        }
        false
    }

    /// The length of each instance of `event`.
    fn length(&mut self, event: &Event, start: When) -> Option<Length> {
        if let Some(end) = event.end {
            let dur = match (start, end) {
                (When::Date(s), When::Date(e)) => Dur {
                    days: i64::from((e - s).get_days()),
                    seconds: 0,
                },
                _ => {
                    let s = self.when_instant(start)?;
                    let e = self.when_instant(end)?;
                    Dur {
                        days: 0,
                        seconds: e - s,
                    }
                }
            };
            return Some(Length::Dur(dur));
        }
        if let Some(dur) = event.duration {
            return Some(Length::Dur(dur));
        }
        Some(Length::Dur(if start.is_date() {
            Dur {
                days: 1,
                seconds: 0,
            }
        } else {
            Dur::default()
        }))
    }

    /// A zone for a value written floating next to a DTSTART with a TZID:
    /// RFC 5545 wants the same form, and the meaning is the master's zone.
    fn like_master(zone: Zone, master: Zone) -> Zone {
        match (zone, master) {
            (Zone::Floating, Zone::Tzid(_)) => master,
            _ => zone,
        }
    }

    /// Busy time of an override on its own (its master may be absent).
    fn single_override(&mut self, event: &Event, master_len: Option<Length>) {
        let Some(start) = event.start.or(event.recurrence_id) else {
            return;
        };
        let own = if event.end.is_some() || event.duration.is_some() {
            self.length(event, start)
        } else {
            master_len.or_else(|| self.length(event, start))
        };
        let Some(Length::Dur(dur)) = own else { return };
        if dur.is_negative() {
            // Read as the swapped interval (`emit`), and said.
            self.problem(event, ProblemKind::EndBeforeStart);
        }
        let s = self.when_instant(start);
        let e = self.end_after(start.civil(), start.zone(), s, dur);
        if let (Some(s), Some(e)) = (s, e) {
            self.emit(kind(event), s, e);
        }
    }

    /// Busy time of a master event and its overrides.
    fn series(&mut self, master: &Event, overrides: &[&Event]) {
        for message in &master.rule_errors {
            self.problem(
                master,
                ProblemKind::InvalidRule {
                    message: message.clone(),
                },
            );
        }
        let Some(start) = master.start else {
            // An override without a master in a UID-less event: on its own.
            self.single_override(master, None);
            return;
        };
        let Some(Length::Dur(dur)) = self.length(master, start) else {
            return;
        };
        if dur.is_negative() {
            // Each instance is read as the swapped interval (`emit`).
            self.problem(master, ProblemKind::EndBeforeStart);
        }
        let master_zone = start.zone();
        let master_kind = kind(master);

        // EXDATE: instants, and DATEs excluding a whole local day of a
        // DATE-TIME series (seen in the wild though RFC 5545 wants the same
        // value type as DTSTART).
        let mut ex_at: HashSet<i64> = HashSet::new();
        let mut ex_days: HashSet<Date> = HashSet::new();
        for ex in &master.exdates {
            match (ex, start) {
                (When::Date(d), When::DateTime(..)) => {
                    ex_days.insert(*d);
                }
                _ => {
                    let zone = Self::like_master(ex.zone(), master_zone);
                    if let Some(at) = self.instant(ex.civil(), zone) {
                        ex_at.insert(at);
                    }
                }
            }
        }

        // Overrides: by RECURRENCE-ID instant, and the THISANDFUTURE ones
        // sorted, each with its shift and length.
        let mut by_rid: HashSet<i64> = HashSet::new();
        let mut future: Vec<(i64, i64, Dur, Option<BusyKind>)> = Vec::new();
        let mut max_len = dur.days.abs() * 90_000 + dur.seconds.abs();
        for o in overrides {
            let Some(rid) = o.recurrence_id else { continue };
            let zone = Self::like_master(rid.zone(), master_zone);
            let Some(rid_at) = self.instant(rid.civil(), zone) else {
                continue;
            };
            // An override older than its master (a lower SEQUENCE) for an
            // instance that master has since excluded is stale: the newer
            // master deleted that instance (RFC 5546 §2.1.5 orders the
            // versions by SEQUENCE).
            let excluded = ex_at.contains(&rid_at) || ex_days.contains(&rid.civil().date());
            if excluded && o.sequence < master.sequence {
                self.problem(o, ProblemKind::Superseded);
                by_rid.insert(rid_at);
                continue;
            }
            by_rid.insert(rid_at);
            if o.this_and_future {
                let new_start = o.start.and_then(|s| self.when_instant(s)).unwrap_or(rid_at);
                let len = if o.end.is_some() || o.duration.is_some() {
                    o.start
                        .and_then(|s| self.length(o, s))
                        .map_or(dur, |Length::Dur(d)| d)
                } else {
                    dur
                };
                max_len = max_len.max(len.days.abs() * 90_000 + len.seconds.abs());
                future.push((rid_at, new_start - rid_at, len, kind(o)));
            }
            self.single_override(o, Some(Length::Dur(dur)));
        }
        future.sort_by_key(|f| f.0);
        let max_shift = future.iter().map(|f| f.1.abs()).max().unwrap_or(0);
        let lo = self.window.start().saturating_sub(max_len + max_shift);
        let hi = self.window.end().saturating_add(max_shift);

        let mut emitted = 0usize;
        let mut instance = |ctx: &mut Self, civil: DateTime, at: i64| -> bool {
            if ex_at.contains(&at) || ex_days.contains(&civil.date()) || by_rid.contains(&at) {
                return true;
            }
            let (shift, len, k) = match future.partition_point(|f| f.0 <= at) {
                0 => (0, dur, master_kind),
                n => {
                    let f = future[n - 1];
                    (f.1, f.2, f.3)
                }
            };
            let s = at + shift;
            let e = if len.days == 0 {
                Some(s + len.seconds)
            } else {
                civil
                    .checked_add(len.days.days())
                    .ok()
                    .and_then(|c| ctx.instant(c, master_zone))
                    .map(|e| e + shift + len.seconds)
            };
            if let Some(e) = e
                && ctx.emit(k, s, e)
            {
                emitted += 1;
                if emitted >= ctx.options.max_instances_per_series {
                    return false;
                }
            }
            true
        };

        // DTSTART is always the first instance (RFC 5545 §3.8.5.3).
        let Some(first) = self.when_instant(start) else {
            return;
        };
        let mut go_on = instance(self, start.civil(), first);

        for rdate in &master.rdates {
            match *rdate {
                RDate::At(when) => {
                    let zone = Self::like_master(when.zone(), master_zone);
                    if let Some(at) = self.instant(when.civil(), zone) {
                        go_on &= instance(self, when.civil(), at);
                    }
                }
                RDate::Period(civil, zone, end) => {
                    let zone = Self::like_master(zone, master_zone);
                    let s = self.instant(civil, zone);
                    let e = match end {
                        PeriodEnd::At(dt, utc) => {
                            self.instant(dt, if utc { Zone::Utc } else { zone })
                        }
                        PeriodEnd::After(d) => self.end_after(civil, zone, s, d),
                    };
                    if let (Some(s), Some(e)) = (s, e)
                        && !ex_at.contains(&s)
                        && !by_rid.contains(&s)
                    {
                        self.emit(master_kind, s, e);
                    }
                }
            }
        }

        if master.rules.is_empty() || !go_on {
            if !go_on {
                self.cut(master, self.options.max_instances_per_series, "instances");
            }
            return;
        }
        let tz = self.tz(master_zone);
        let default_tz = self.options.default_zone.clone();
        for rule in &master.rules {
            let until = until_check(rule.until, start, &default_tz);
            let set = match build(rule, start.civil()) {
                Ok(set) => set,
                Err(message) => {
                    self.problem(master, ProblemKind::InvalidRule { message });
                    continue;
                }
            };
            let mut iterations = 0usize;
            for generated in &set {
                iterations += 1;
                if iterations > self.options.max_iterations_per_series {
                    self.cut(master, self.options.max_iterations_per_series, "iterations");
                    break;
                }
                let Some(mut civil) = from_chrono(generated.naive_utc()) else {
                    break;
                };
                if start.is_date() {
                    // An all-day series has all-day instances, whatever
                    // BYHOUR and friends say.
                    civil = civil.date().to_datetime(jiff::civil::Time::midnight());
                }
                let Some(at) = at(&tz, civil) else { continue };
                if !until(civil, at) || at > hi.saturating_add(FOLD_MARGIN) {
                    break;
                }
                if at < lo || at == first || at > hi {
                    continue;
                }
                if !instance(self, civil, at) {
                    self.cut(master, self.options.max_instances_per_series, "instances");
                    return;
                }
            }
        }
    }

    fn cut(&mut self, event: &Event, limit: usize, what: &'static str) {
        self.truncated = true;
        self.problem(event, ProblemKind::Truncated { limit, what });
    }
}

/// The instant of a wall-clock time, RFC 5545 §3.3.5 style (jiff's
/// "compatible": a gap moves forward, a fold takes the first).
fn at(tz: &TimeZone, civil: DateTime) -> Option<i64> {
    tz.to_ambiguous_timestamp(civil)
        .compatible()
        .ok()
        .map(|t| t.as_second())
}

/// Whether an instance is on or before UNTIL (RFC 5545 §3.3.10: UNTIL is
/// inclusive; in UTC when DTSTART has a zone, floating or a DATE
/// otherwise; a DATE UNTIL on a DATE-TIME series keeps that whole day).
fn until_check(
    until: Option<Until>,
    start: When,
    default_tz: &TimeZone,
) -> impl Fn(DateTime, i64) -> bool + use<> {
    enum Check {
        None,
        Instant(i64),
        Civil(DateTime),
        Day(Date),
    }
    let check = match (until, start) {
        (None, _) => Check::None,
        (Some(Until::Date(d)), _) => Check::Day(d),
        (Some(Until::DateTime(dt, true)), When::DateTime(_, Zone::Utc | Zone::Tzid(_))) => {
            Check::Instant(at(&TimeZone::UTC, dt).unwrap_or(i64::MAX))
        }
        (Some(Until::DateTime(dt, true)), _) => {
            // A UTC UNTIL on a floating or all-day series: read the series
            // in the default zone.
            let instant = at(&TimeZone::UTC, dt).unwrap_or(i64::MAX);
            match jiff::Timestamp::from_second(instant) {
                Ok(ts) => Check::Civil(default_tz.to_datetime(ts)),
                Err(_) => Check::None,
            }
        }
        (Some(Until::DateTime(dt, false)), _) => Check::Civil(dt),
    };
    move |civil: DateTime, instant: i64| match check {
        Check::None => true,
        Check::Instant(u) => instant <= u,
        Check::Civil(u) => civil <= u,
        Check::Day(d) => civil.date() <= d,
    }
}

fn to_chrono(civil: DateTime) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDate::from_ymd_opt(
        i32::from(civil.year()),
        u32::try_from(civil.month()).ok()?,
        u32::try_from(civil.day()).ok()?,
    )?
    .and_hms_opt(
        u32::try_from(civil.hour()).ok()?,
        u32::try_from(civil.minute()).ok()?,
        u32::try_from(civil.second()).ok()?,
    )
}

fn from_chrono(naive: chrono::NaiveDateTime) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(naive.year()).ok()?,
        i8::try_from(naive.month()).ok()?,
        i8::try_from(naive.day()).ok()?,
        i8::try_from(naive.hour()).ok()?,
        i8::try_from(naive.minute()).ok()?,
        i8::try_from(naive.second()).ok()?,
        0,
    )
    .ok()
}

fn weekday(i: u8) -> chrono::Weekday {
    match i {
        0 => chrono::Weekday::Mon,
        1 => chrono::Weekday::Tue,
        2 => chrono::Weekday::Wed,
        3 => chrono::Weekday::Thu,
        4 => chrono::Weekday::Fri,
        5 => chrono::Weekday::Sat,
        _ => chrono::Weekday::Sun,
    }
}

/// The rule as an `rrule` set over wall-clock time (UNTIL is checked by
/// the caller, exactly, against instants).
fn build(rule: &Recur, start: DateTime) -> Result<rrule::RRuleSet, String> {
    let naive = to_chrono(start).ok_or("DTSTART out of range")?;
    let dt_start = rrule::Tz::UTC.from_utc_datetime(&naive);
    let freq = match rule.freq {
        Freq::Secondly => rrule::Frequency::Secondly,
        Freq::Minutely => rrule::Frequency::Minutely,
        Freq::Hourly => rrule::Frequency::Hourly,
        Freq::Daily => rrule::Frequency::Daily,
        Freq::Weekly => rrule::Frequency::Weekly,
        Freq::Monthly => rrule::Frequency::Monthly,
        Freq::Yearly => rrule::Frequency::Yearly,
    };
    let months: Vec<chrono::Month> = rule
        .by_month
        .iter()
        .filter_map(|&m| chrono::Month::try_from(m).ok())
        .collect();
    let by_day = rule
        .by_day
        .iter()
        .map(|&ByDay { nth, weekday: w }| match nth {
            Some(n) => rrule::NWeekday::Nth(n, weekday(w)),
            None => rrule::NWeekday::Every(weekday(w)),
        })
        .collect();
    let mut r = rrule::RRule::new(freq)
        .interval(rule.interval)
        .week_start(weekday(rule.wkst))
        .by_month(&months)
        .by_weekday(by_day)
        .by_month_day(rule.by_month_day.clone())
        .by_year_day(rule.by_year_day.clone())
        .by_week_no(rule.by_week_no.clone())
        .by_hour(rule.by_hour.clone())
        .by_minute(rule.by_minute.clone())
        .by_second(rule.by_second.clone())
        .by_set_pos(rule.by_set_pos.clone());
    if let Some(count) = rule.count {
        r = r.count(count);
    }
    r.build(dt_start)
        .map(rrule::RRuleSet::limit)
        .map_err(|e| e.to_string())
}
