//! A sweep of broken calendars through parsing, expansion and `IcsSource`:
//! every input ends in a typed error or a partial result with its broken
//! items named, within a time bound (no hang) and with memory proportional
//! to the input (no blow-up), and never a panic.

use std::sync::mpsc;
use std::time::Duration;

use availability::{AccountId, FreeBusyRequest, FreeBusySource};
use caldav_provider::IcsSource;
use caldav_provider::ical::{Calendar, ExpandOptions};
use jiff::tz::TimeZone;

use crate::common::{peer_files, window};

/// What one input did.
#[derive(Debug)]
enum Outcome {
    /// `ParseError`: not iCalendar at all.
    NotICalendar,
    /// Parsed; busy intervals, problems named, whether cut by a limit.
    Partial {
        intervals: usize,
        problems: usize,
        truncated: bool,
    },
}

/// Parses and expands over two years on another thread; a panic fails the
/// test naming the input, and so does taking longer than a minute.
fn run(name: &str, input: Vec<u8>) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("broken-{name}"))
        .stack_size(8 << 20)
        .spawn(move || {
            let outcome = match Calendar::parse_bytes(&input) {
                Err(_) => Outcome::NotICalendar,
                Ok(calendar) => {
                    let report = calendar.busy_time(
                        window("2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
                        &ExpandOptions::new(TimeZone::UTC),
                    );
                    let intervals = report.busy.entries().len();
                    Outcome::Partial {
                        intervals,
                        problems: calendar.problems().len() + report.problems.len(),
                        truncated: report.truncated,
                    }
                }
            };
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
        if let Outcome::Partial {
            intervals,
            problems,
            truncated,
        } = outcome
        {
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
                VALID.contains(&name.as_str()) || problems > 0,
                "{name}: nothing reported ({intervals} intervals, truncated {truncated})"
            );
        }
    }
    // A broken DTSTART is named with its line and UID.
    let calendar = Calendar::parse(&event("DTSTART:20261345T090000Z\r\n")).unwrap();
    let report = calendar.busy_time(
        window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        &ExpandOptions::new(TimeZone::UTC),
    );
    let all: Vec<_> = calendar.problems().iter().chain(&report.problems).collect();
    assert!(
        all.iter()
            .any(|p| p.uid.as_deref() == Some("e@t") && p.line > 0),
        "{all:?}"
    );
    assert!(matches!(
        run("not icalendar", b"hello".to_vec()),
        Outcome::NotICalendar
    ));
    assert!(tried >= 40, "{tried} inputs");
    eprintln!("broken sweep: {tried} hand-written inputs");
}

#[test]
fn every_truncation_of_the_peer_calendars_is_handled() {
    let mut tried = 0;
    for file in peer_files() {
        let text = std::fs::read(&file).unwrap();
        let step = (text.len() / 40).max(1);
        for cut in (0..text.len()).step_by(step) {
            run(
                &format!("{} cut at {cut}", file.display()),
                text[..cut].to_vec(),
            );
            tried += 1;
        }
    }
    assert!(tried > 100, "{tried}");
    eprintln!("broken sweep: {tried} truncated calendars");
}

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn huge_folds_nesting_lines_and_a_50_mb_file_stay_bounded() {
    // A SUMMARY folded over 100,000 lines (skipped without being joined),
    // and a DTSTART folded over 100,000 lines (one huge, invalid value).
    let mut folded = String::from("SUMMARY:start");
    for _ in 0..100_000 {
        folded.push_str("\r\n continued private text");
    }
    folded.push_str("\r\n");
    let out = run(
        "100k-line SUMMARY",
        event(&format!("{folded}{}", good())).into_bytes(),
    );
    assert!(
        matches!(out, Outcome::Partial { intervals: 1, .. }),
        "{out:?}"
    );
    let mut start = String::from("DTSTART:2026");
    for _ in 0..100_000 {
        start.push_str("\r\n 0");
    }
    start.push_str("\r\nDURATION:PT1H\r\n");
    let out = run("100k-line DTSTART", event(&start).into_bytes());
    assert!(
        matches!(out, Outcome::Partial { problems: 1.., .. }),
        "{out:?}"
    );
    // 100,000 nested BEGIN:VEVENT lines without END.
    let nested = format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:VEVENT\r\n".repeat(100_000));
    run("100k nested components", nested.into_bytes());
    // One 10 MB line without a line break.
    let long = format!("BEGIN:VCALENDAR\r\nX-LONG:{}", "a".repeat(10 << 20));
    run("10 MB line", long.into_bytes());

    // A 50 MB calendar of 200,000+ events: parsed and expanded with memory
    // a small multiple of its size.
    let mut big = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n");
    let mut i = 0u64;
    while big.len() < 50 << 20 {
        let day = i % 365;
        big.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:big-{i}@t\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:2026{:02}{:02}T{:02}0000Z\r\nDURATION:PT30M\r\n\
             SUMMARY:Private meeting number {i} with a long enough title\r\n\
             DESCRIPTION:Notes that are never read past the lexer\r\nEND:VEVENT\r\n",
            1 + day / 31 % 12,
            1 + day % 28,
            8 + i % 10
        ));
        i += 1;
    }
    big.push_str("END:VCALENDAR\r\n");
    let size = big.len() as u64;
    let before = peak_rss();
    let out = run("50 MB calendar", big.clone().into_bytes());
    let grew = peak_rss().saturating_sub(before);
    assert!(
        matches!(
            out,
            Outcome::Partial {
                intervals: 1..,
                problems: 0,
                ..
            }
        ),
        "{out:?}"
    );
    // The input copy handed to the thread counts too.
    assert!(grew < 8 * size, "peak memory grew {grew} bytes for {size}");
    eprintln!("50 MB calendar: {i} events, peak memory +{} MB", grew >> 20);

    // IcsSource refuses a file over its cap with a typed error, and reads
    // it under the default cap.
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
    assert_eq!(
        err.kind(),
        availability::SourceErrorKind::InvalidResponse,
        "{err}"
    );
    let source = IcsSource::new().with_file("big", &path);
    let answer = rt.block_on(source.free_busy(&request)).unwrap();
    assert!(answer.accounts[0].result.is_ok());
}
