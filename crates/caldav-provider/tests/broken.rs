//! A sweep of broken calendars through parsing, expansion and `IcsSource`:
//! every input ends in a typed error or a partial result with its broken
//! items named, within a time bound (no hang) and with memory proportional
//! to the input (no blow-up, measured in a child process), and never a
//! panic.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::Duration;

use availability::{
    AccountId, BusyKind, FreeBusy, FreeBusyRequest, FreeBusySource, Interval, SourceErrorKind,
};
use caldav_provider::IcsSource;
use caldav_provider::ical::{Calendar, ExpandOptions, ParseError, Problem, ProblemKind};
use jiff::tz::TimeZone;

use crate::common::{peer_files, window};

/// What a calendar that parsed yields over [`two_years`].
#[derive(Debug)]
struct Read {
    /// Busy time per kind, clipped to the window.
    busy: FreeBusy,
    /// Every problem: the parse's and the expansion's.
    problems: Vec<Problem>,
    /// Whether a series was cut by a limit.
    truncated: bool,
    /// VEVENTs kept by the parse.
    events: usize,
}

/// The window every input is expanded over.
fn two_years() -> Interval {
    window("2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
}

/// Parses and expands over [`two_years`] on another thread; a panic fails
/// the test naming the input, and so does taking longer than a minute.
fn run(name: &str, input: Vec<u8>) -> Result<Read, ParseError> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("broken-{name}"))
        .stack_size(8 << 20)
        .spawn(move || {
            let outcome = Calendar::parse_bytes(&input).map(|calendar| {
                let report = calendar.busy_time(two_years(), &ExpandOptions::new(TimeZone::UTC));
                // The report repeats the parse's problems before its own.
                assert!(report.problems.starts_with(calendar.problems()));
                Read {
                    busy: report.busy,
                    problems: report.problems,
                    truncated: report.truncated,
                    events: calendar.event_count(),
                }
            });
            let _ = tx.send(outcome);
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(outcome) => {
            handle.join().unwrap();
            outcome
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: no answer within 60 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = handle.join();
            panic!("{name}: panicked")
        }
    }
}

/// Every interval of every kind lies inside the window.
fn assert_inside_window(name: &str, busy: &FreeBusy) {
    for entry in busy.entries() {
        assert!(
            two_years().contains_interval(&entry.interval),
            "{name}: {entry:?} outside the window"
        );
    }
}

fn event(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:e@t\r\n\
         DTSTAMP:20260101T000000Z\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn good() -> &'static str {
    "DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n"
}

/// The kilobyte-sized hand-written cases: bad dates, zones, rules, NULs,
/// structure.
fn cases() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let bad_values = [
        (
            "bad month",
            "DTSTART:20261345T090000Z\r\nDTEND:20261345T100000Z\r\n",
        ),
        ("hour 25", "DTSTART:20260302T250000Z\r\n"),
        ("31 February", "DTSTART;VALUE=DATE:20260231\r\n"),
        ("short date", "DTSTART:2026\r\n"),
        ("empty start", "DTSTART:\r\n"),
        ("letters", "DTSTART:tomorrow morning\r\n"),
        (
            "end before start",
            "DTSTART:20260302T100000Z\r\nDTEND:20260302T090000Z\r\n",
        ),
        (
            "negative duration",
            "DTSTART:20260302T100000Z\r\nDURATION:-P1D\r\n",
        ),
        (
            "garbage duration",
            "DTSTART:20260302T100000Z\r\nDURATION:PXYZ\r\n",
        ),
        (
            "huge duration",
            "DTSTART:20260302T100000Z\r\nDURATION:P99999999W\r\n",
        ),
        ("year 9999", "DTSTART:99991231T235959Z\r\nDURATION:PT1H\r\n"),
        ("year 0", "DTSTART:00000101T000000Z\r\nDURATION:PT1H\r\n"),
        (
            "unknown zone",
            "DTSTART;TZID=Mars/Olympus_Mons:20260302T090000\r\nDURATION:PT1H\r\n",
        ),
        (
            "empty zone",
            "DTSTART;TZID=:20260302T090000\r\nDURATION:PT1H\r\n",
        ),
        (
            "quoted zone",
            "DTSTART;TZID=\"Europe/London:20260302T090000\r\n",
        ),
        (
            "rrule freq",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=FORTNIGHTLY\r\n",
        ),
        (
            "rrule count",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=-1\r\n",
        ),
        (
            "rrule interval 0",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;INTERVAL=0\r\n",
        ),
        (
            "rrule byday",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;BYDAY=XX,99MO\r\n",
        ),
        (
            "rrule until",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;UNTIL=soon\r\n",
        ),
        (
            "rrule empty",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:\r\n",
        ),
        (
            "rrule secondly",
            "DTSTART:20250101T000000Z\r\nDURATION:PT1S\r\nRRULE:FREQ=SECONDLY\r\n",
        ),
        (
            "rrule impossible",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\r\n",
        ),
        (
            "rrule bysetpos",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-400\r\n",
        ),
        (
            "exdate garbage",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:yesterday\r\n",
        ),
        (
            "rdate period",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nRDATE;VALUE=PERIOD:20260303T090000Z/garbage\r\n",
        ),
        (
            "recurrence-id garbage",
            "RECURRENCE-ID:not-a-date\r\nDTSTART:20260302T090000Z\r\n",
        ),
        ("no start", "DTEND:20260302T100000Z\r\n"),
        (
            "fbtype garbage",
            "DTSTART:20260302T090000Z\r\nDURATION:PT1H\r\nTRANSP:SOMETIMES\r\nSTATUS:MAYBE\r\n",
        ),
        (
            "param garbage",
            "DTSTART;;;=;VALUE=:20260302T090000Z\r\nDURATION:PT1H\r\n",
        ),
        ("no colon", "DTSTART20260302T090000Z\r\nDURATION:PT1H\r\n"),
    ];
    for (name, body) in bad_values {
        out.push((name.to_owned(), event(body)));
    }
    out.push(("not icalendar".into(), "hello, world\n".into()));
    out.push(("empty".into(), String::new()));
    out.push(("only begin".into(), "BEGIN:VCALENDAR\r\n".into()));
    out.push((
        "unclosed event".into(),
        format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{}", good()),
    ));
    out.push((
        "end without begin".into(),
        "BEGIN:VCALENDAR\r\nEND:VEVENT\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n".into(),
    ));
    out.push((
        "nested events".into(),
        event(&format!(
            "BEGIN:VEVENT\r\n{}END:VEVENT\r\n{}",
            good(),
            good()
        )),
    ));
    out.push((
        "broken vtimezone".into(),
                    "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Custom/Zone\r\nBEGIN:STANDARD\r\n\
             TZOFFSETFROM:+99\r\nTZOFFSETTO:garbage\r\nRRULE:FREQ=YEARLY;BYMONTH=13\r\n\
             END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:z@t\r\n\
             DTSTART;TZID=Custom/Zone:20260302T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            .into(),
    ));
    let mut cases: Vec<(String, Vec<u8>)> =
        out.into_iter().map(|(n, s)| (n, s.into_bytes())).collect();
    // NUL bytes and invalid UTF-8 everywhere.
    let base = event(good()).into_bytes();
    for step in [1, 7, 13] {
        let mut nul = base.clone();
        for b in nul.iter_mut().step_by(step) {
            *b = 0;
        }
        cases.push((format!("nul every {step}"), nul));
    }
    let mut latin = base.clone();
    latin.extend_from_slice(b"X-NOTE:\xff\xfe\xc3\x28\r\n");
    cases.push(("invalid utf-8".into(), latin));
    cases
}

#[test]
fn broken_calendars_end_in_a_typed_error_or_a_named_partial_result() {
    let mut tried = 0;
    for (name, input) in cases() {
        let outcome = run(&name, input);
        tried += 1;
        if let Ok(read) = outcome {
            assert_inside_window(&name, &read.busy);
            // Each broken event is either skipped with a problem named, or
            // (a value that merely does not block, a capped series) read.
            // Valid but degenerate inputs (outside the window, no instance,
            // unknown values that do not block, tolerated bytes) may read
            // nothing and report nothing; every other broken input names
            // what it skipped or cut.
            const VALID: [&str; 7] = [
                "year 9999",
                "year 0",
                "rrule impossible",
                "fbtype garbage",
                "param garbage",
                "nested events",
                "invalid utf-8",
            ];
            assert!(
                VALID.contains(&name.as_str()) || !read.problems.is_empty(),
                "{name}: nothing reported ({} intervals, truncated {})",
                read.busy.entries().len(),
                read.truncated
            );
        }
    }
    // A broken DTSTART is named with its line and UID.
    let calendar = Calendar::parse(&event("DTSTART:20261345T090000Z\r\n")).unwrap();
    let report = calendar.busy_time(
        window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        &ExpandOptions::new(TimeZone::UTC),
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.uid.as_deref() == Some("e@t") && p.line > 0),
        "{:?}",
        report.problems
    );
    assert!(matches!(
        run("not icalendar", b"hello".to_vec()),
        Err(ParseError::NotICalendar)
    ));
    // README: "42 broken calendars".
    assert_eq!(tried, 42, "README's count of broken calendars");
}

/// The structure of a cut calendar, read from its BEGIN and END lines
/// alone, independently of the parser. The last line may be a fragment;
/// like any line it opens or closes a component once it holds `BEGIN:` or
/// `END:`.
#[derive(Debug, Default)]
struct Shape {
    /// Whether any `BEGIN:` line was read (else the text is no iCalendar).
    begun: bool,
    /// The components open at the cut, outermost first, by name.
    open: Vec<String>,
    /// The VEVENT open at the cut: its BEGIN line (1-based) and its UID as
    /// far as it was read.
    event: Option<(usize, Option<String>)>,
    /// The bytes up to the end of the last line after which at most the
    /// outermost component was open: every component in them is complete.
    kept: usize,
    /// The lines in `kept`.
    kept_lines: usize,
    /// How many components were open at the end of `kept` (0 or 1).
    kept_depth: usize,
}

/// The value of `line` if it is the property `name` without parameters.
fn value_of<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let (n, v) = line.split_once(':')?;
    n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
}

impl Shape {
    fn of(text: &str) -> Self {
        let mut shape = Self::default();
        // (index in `open`, line, UID) of the open VEVENT.
        let mut event: Option<(usize, usize, Option<String>)> = None;
        let (mut pos, mut number) = (0, 0);
        while pos < text.len() {
            // RFC 5545 lines end in CRLF; LF and lone CR are read too.
            let len = text[pos..].find(['\r', '\n']).unwrap_or(text.len() - pos);
            let line = &text[pos..pos + len];
            let mut next = pos + len;
            if text[next..].starts_with("\r\n") {
                next += 2;
            } else if next < text.len() {
                next += 1;
            }
            number += 1;
            if let Some(name) = value_of(line, "BEGIN") {
                shape.begun = true;
                shape.open.push(name.to_ascii_uppercase());
                if event.is_none() && name.eq_ignore_ascii_case("VEVENT") {
                    event = Some((shape.open.len() - 1, number, None));
                }
            } else if value_of(line, "END").is_some() {
                shape.open.pop();
                if event
                    .as_ref()
                    .is_some_and(|(depth, ..)| *depth >= shape.open.len())
                {
                    event = None;
                }
            } else if let Some(uid) = value_of(line, "UID")
                && let Some((depth, _, own)) = &mut event
                && *depth + 1 == shape.open.len()
            {
                *own = Some(uid.to_owned());
            }
            if shape.open.len() <= 1 {
                shape.kept = next;
                shape.kept_lines = number;
                shape.kept_depth = shape.open.len();
            }
            pos = next;
        }
        shape.event = event.map(|(_, line, uid)| (line, uid));
        shape
    }
}

/// Each kind of `part` lies inside the same kind of `whole`.
fn is_within(part: &FreeBusy, whole: &FreeBusy) -> bool {
    BusyKind::ALL
        .into_iter()
        .all(|k| part.get(k).difference(whole.get(k)).is_empty())
}

/// Every cut of every peer fixture is either refused as
/// [`ParseError::NotICalendar`] (no `BEGIN:` line survives) or read, and
/// then its busy time is that of the components complete before the cut,
/// with the cut named as one [`ProblemKind::Unterminated`] (on the cut
/// event's line and UID when the cut falls inside an event): what is lost
/// is never lost silently. A cut past the last END reads as the whole file.
#[test]
fn every_truncation_of_the_peer_calendars_is_refused_or_read_with_the_cut_named() {
    let (mut tried, mut refused, mut whole) = (0, 0, 0);
    let (mut in_event, mut lost, mut within, mut extra) = (0, 0, 0, 0);
    for file in peer_files() {
        let text = std::fs::read(&file).unwrap();
        let full = run(&file.display().to_string(), text.clone()).unwrap();
        assert!(
            full.problems.is_empty(),
            "{}: {:?}",
            file.display(),
            full.problems
        );
        let step = (text.len() / 40).max(1);
        for cut in (0..text.len()).step_by(step) {
            tried += 1;
            let name = format!("{} cut at {cut}", file.display());
            let prefix = String::from_utf8_lossy(&text[..cut]).into_owned();
            let shape = Shape::of(&prefix);
            let read = match run(&name, prefix.clone().into_bytes()) {
                Err(ParseError::NotICalendar) => {
                    assert!(!shape.begun, "{name}: refused, yet it has a BEGIN line");
                    refused += 1;
                    continue;
                }
                Err(e) => panic!("{name}: refused with {e:?}"),
                Ok(read) => read,
            };
            assert!(shape.begun, "{name}: read without any BEGIN line");
            assert_inside_window(&name, &read.busy);
            assert!(!read.truncated, "{name}: no series is long enough to cut");
            if shape.open.is_empty() {
                // Cut inside or after the last END line: the whole file.
                assert_eq!(read.busy, full.busy, "{name}");
                assert_eq!(read.problems, full.problems, "{name}");
                whole += 1;
                continue;
            }

            // The model: the complete components before the cut, closed.
            let mut complete = prefix[..shape.kept].to_owned();
            if shape.kept_depth == 1 {
                if !complete.is_empty() && !complete.ends_with(['\r', '\n']) {
                    complete.push_str("\r\n");
                }
                complete.push_str("END:VCALENDAR\r\n");
            }
            let model = run(&format!("{name}, complete part"), complete.into_bytes()).unwrap();
            assert_eq!(
                read.busy, model.busy,
                "{name}: busy time other than the complete components'"
            );
            assert_eq!(read.events, model.events, "{name}");

            // Its problems, plus the cut named once, plus any met in the
            // dropped lines after the complete part; nothing else.
            let mut rest = read.problems.clone();
            for p in &model.problems {
                let i = rest
                    .iter()
                    .position(|q| q == p)
                    .unwrap_or_else(|| panic!("{name}: {p} not reported: {:?}", read.problems));
                rest.remove(i);
            }
            let (cuts, dropped): (Vec<_>, Vec<_>) = rest
                .into_iter()
                .partition(|p| matches!(p.kind, ProblemKind::Unterminated { .. }));
            let [named] = &cuts[..] else {
                panic!("{name}: the cut is not named once: {:?}", read.problems)
            };
            for p in &dropped {
                assert!(p.line > shape.kept_lines, "{name}: {p} before the cut");
            }
            let ProblemKind::Unterminated { component } = &named.kind else {
                unreachable!()
            };
            // The parser names these components; an open STANDARD or
            // DAYLIGHT it names OBSERVANCE, and any other OTHER.
            let inner = shape.open.last().unwrap();
            let outer = shape.open.len() == 1 && inner == "VCALENDAR";
            let top = shape.open.len() == 2
                && shape.open[0] == "VCALENDAR"
                && ["VEVENT", "VTIMEZONE", "VFREEBUSY"].contains(&inner.as_str());
            if outer || top {
                assert_eq!(component, inner, "{name}");
            }
            if let Some((line, uid)) = &shape.event {
                assert_eq!(named.line, *line, "{name}: {named}");
                assert_eq!(&named.uid, uid, "{name}: {named}");
                in_event += 1;
            }

            // What the cut loses, it names (above); what it adds is from an
            // event an override after the cut would have changed.
            if read.busy != full.busy {
                lost += 1;
            }
            if is_within(&read.busy, &full.busy) {
                within += 1;
            } else {
                let after = String::from_utf8_lossy(&text[shape.kept..]);
                assert!(
                    after.contains("RECURRENCE-ID"),
                    "{name}: busy time the whole file does not have: {:?} vs {:?}",
                    read.busy,
                    full.busy
                );
                extra += 1;
            }
        }
    }
    eprintln!(
        "broken sweep: {tried} cuts: {refused} refused, {whole} whole, {in_event} inside an \
         event, {lost} losing busy time, {extra} with an override cut off"
    );
    // README: "651 truncations"; and each kind of cut is met.
    assert_eq!(tried, 651, "README's count of truncations");
    assert!(refused > 0 && whole > 0 && in_event > 100, "{tried}");
    assert!(lost > 100 && within > 0 && extra > 0, "{tried}");
}

#[test]
fn huge_folds_nesting_and_lines_are_read_with_their_problems_named() {
    let hour = window("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    let one_hour = FreeBusy::from_entries([(BusyKind::Busy, hour)]);

    // A SUMMARY folded over 100,000 lines is skipped unread: the event
    // counts and nothing is wrong.
    let mut folded = String::from("SUMMARY:start");
    for _ in 0..100_000 {
        folded.push_str("\r\n continued private text");
    }
    folded.push_str("\r\n");
    let name = "100k-line SUMMARY";
    let read = run(name, event(&format!("{folded}{}", good())).into_bytes()).unwrap();
    assert_eq!(read.busy, one_hour, "{name}");
    assert!(read.problems.is_empty(), "{name}: {:?}", read.problems);

    // A DTSTART folded over 100,000 lines is one invalid value, named
    // shortened, and its event is dropped with a named problem.
    let mut start = String::from("DTSTART:2026");
    for _ in 0..100_000 {
        start.push_str("\r\n 0");
    }
    start.push_str("\r\nDURATION:PT1H\r\n");
    let name = "100k-line DTSTART";
    let read = run(name, event(&start).into_bytes()).unwrap();
    assert!(read.busy.is_empty(), "{name}: {:?}", read.busy);
    assert_bad_start_dropped(name, &read.problems, "2026000");

    // 100,000 nested BEGIN:VEVENT lines without END: the outer event (line
    // 2) is named as not terminated, and nothing is busy.
    let name = "100k nested components";
    let nested = format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:VEVENT\r\n".repeat(100_000));
    let read = run(name, nested.into_bytes()).unwrap();
    assert!(read.busy.is_empty(), "{name}: {:?}", read.busy);
    assert!(
        matches!(
            &read.problems[..],
            [Problem {
                line: 2,
                uid: None,
                kind: ProblemKind::Unterminated { .. },
                ..
            }]
        ),
        "{name}: {:?}",
        read.problems
    );

    // One 10 MB line without a line break, in a VCALENDAR never closed:
    // the cut VCALENDAR is named, and nothing is busy.
    let name = "10 MB line";
    let long = format!("BEGIN:VCALENDAR\r\nX-LONG:{}", "a".repeat(10 << 20));
    let read = run(name, long.into_bytes()).unwrap();
    assert!(read.busy.is_empty(), "{name}: {:?}", read.busy);
    let [
        Problem {
            kind: ProblemKind::Unterminated { component },
            ..
        },
    ] = &read.problems[..]
    else {
        panic!("{name}: {:?}", read.problems)
    };
    assert_eq!(component, "VCALENDAR", "{name}");

    // A 10 MB DTSTART value: named shortened, its event dropped and named,
    // and the next event still counts.
    let name = "10 MB DTSTART";
    let mut long = event(&format!("DTSTART:{}\r\n", "1".repeat(10 << 20)));
    long.truncate(long.len() - "END:VCALENDAR\r\n".len());
    long.push_str("BEGIN:VEVENT\r\nUID:f@t\r\n");
    long.push_str(good());
    long.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    let read = run(name, long.into_bytes()).unwrap();
    assert_eq!(read.busy, one_hour, "{name}");
    assert_bad_start_dropped(name, &read.problems, "1111111");
}

/// Exactly two problems: event `e@t`'s DTSTART (starting with `head`,
/// shortened to at most 80 characters and "...") could not be read, and
/// the event was dropped for want of a start.
fn assert_bad_start_dropped(name: &str, problems: &[Problem], head: &str) {
    let [bad, dropped] = problems else {
        panic!("{name}: {problems:?}")
    };
    let ProblemKind::InvalidValue { property, value } = &bad.kind else {
        panic!("{name}: {bad}")
    };
    assert_eq!(*property, "DTSTART", "{name}");
    assert!(
        value.starts_with(head) && value.ends_with("...") && value.len() <= 83,
        "{name}: {value:?}"
    );
    assert_eq!(bad.uid.as_deref(), Some("e@t"), "{name}");
    assert_eq!(dropped.kind, ProblemKind::MissingStart, "{name}");
    assert_eq!(dropped.uid.as_deref(), Some("e@t"), "{name}");
}

/// A 50 MB calendar of 200,000+ half-hour events in 2026, and its busy
/// time: at most 730 distinct slots, since the events repeat.
fn big_calendar() -> (String, usize, FreeBusy) {
    let mut big = String::with_capacity((50 << 20) + 1024);
    big.push_str("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n");
    let mut slots = BTreeSet::new();
    let mut i = 0u64;
    while big.len() < 50 << 20 {
        let day = i % 365;
        let (month, mday, hour) = (1 + day / 31 % 12, 1 + day % 28, 8 + i % 10);
        write!(
            big,
            "BEGIN:VEVENT\r\nUID:big-{i}@t\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:2026{month:02}{mday:02}T{hour:02}0000Z\r\nDURATION:PT30M\r\n\
             SUMMARY:Private meeting number {i} with a long enough title\r\n\
             DESCRIPTION:Notes that are never read past the lexer\r\nEND:VEVENT\r\n",
        )
        .unwrap();
        slots.insert((month, mday, hour));
        i += 1;
    }
    big.push_str("END:VCALENDAR\r\n");
    let busy = FreeBusy::from_entries(slots.into_iter().map(|(month, mday, hour)| {
        let at = format!("2026-{month:02}-{mday:02}T{hour:02}:00:00Z");
        let start: jiff::Timestamp = at.parse().unwrap();
        let start = start.as_second();
        (BusyKind::Busy, Interval::new(start, start + 1800).unwrap())
    }));
    (big, usize::try_from(i).unwrap(), busy)
}

/// The child below, started by the test after it.
const CHILD: &str = "fifty_mb_calendar_in_a_child_process";

/// The bound README states: the parse of a 50 MB calendar peaks under this
/// many times its size, counting the whole process (test harness, input).
const PEAK_PER_INPUT_BYTE: u64 = 4;

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Builds, parses and expands the 50 MB calendar, checks what it reads,
/// and prints its own peak memory for the parent.
#[test]
#[ignore = "a child process of a_50_mb_calendar_peaks_under_the_readme_bound"]
fn fifty_mb_calendar_in_a_child_process() {
    let (big, events, expected) = big_calendar();
    let size = big.len();
    let read = run("50 MB calendar", big.into_bytes()).unwrap();
    assert_eq!(read.events, events);
    assert_eq!(read.busy, expected);
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert!(!read.truncated);
    println!("child: size={size} events={events} peak_rss={}", peak_rss());
}

/// Runs the child alone in a fresh process of this test binary, so the
/// peak it reports is the parse's and the harness's, not other tests'.
#[test]
fn a_50_mb_calendar_peaks_under_the_readme_bound() {
    let path = format!("{}::{CHILD}", module_path!());
    let (_, test) = path.split_once("::").unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--ignored", "--exact", test, "--nocapture"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {test} failed:\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("child: "))
        .unwrap_or_else(|| panic!("child printed no figures:\n{stdout}"));
    let figure = |key: &str| -> u64 {
        let field = line.split(' ').find_map(|f| f.strip_prefix(key)).unwrap();
        field.strip_prefix('=').unwrap().parse().unwrap()
    };
    let (size, events, peak) = (figure("size"), figure("events"), figure("peak_rss"));
    assert!(size >= 50 << 20 && events >= 200_000, "{line}");
    eprintln!(
        "50 MB calendar: {events} events, {} MB, child peak {} MB ({:.2} times)",
        size >> 20,
        peak >> 20,
        peak as f64 / size as f64
    );
    assert!(
        peak < PEAK_PER_INPUT_BYTE * size,
        "peak {peak} bytes for {size}: over {PEAK_PER_INPUT_BYTE} times"
    );
}

/// `IcsSource` refuses the 50 MB file over a 10 MB cap with a typed error,
/// and reads it under the default cap into the expected busy time.
#[test]
fn ics_source_caps_a_50_mb_file_and_reads_it_under_the_default_cap() {
    let (big, _, expected) = big_calendar();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ics");
    std::fs::write(&path, &big).unwrap();
    drop(big);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let one_week = window("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z");
    let request = FreeBusyRequest::new(one_week, [AccountId::new("big")]);
    let capped = IcsSource::new()
        .with_file("big", &path)
        .with_max_file_bytes(10 << 20);
    let answer = rt.block_on(capped.free_busy(&request)).unwrap();
    let err = answer.accounts[0].result.as_ref().unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::InvalidResponse, "{err}");
    let source = IcsSource::new().with_file("big", &path);
    let answer = rt.block_on(source.free_busy(&request)).unwrap();
    let busy = answer.accounts[0].result.as_ref().unwrap();
    assert!(!busy.is_empty());
    assert_eq!(*busy, expected.clip(one_week));
}
