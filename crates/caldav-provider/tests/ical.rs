use std::time::Instant;

use availability::BusyKind;
use caldav_provider::ical::{Calendar, ExpandOptions, ParseError, ProblemKind, time_zone};

use crate::common::{fixtures, peer, peer_files, report, rows, two_weeks, vevent, window};

fn utc() -> ExpandOptions {
    ExpandOptions::default()
}

fn ny() -> ExpandOptions {
    ExpandOptions::new(time_zone("America/New_York").unwrap())
}

/// `(start, end)` of the busy kind only, for short assertions.
fn busy(text: &str, from: &str, to: &str) -> Vec<Row> {
    let r = report(text, window(from, to), &utc());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    rows(&r.busy)
}

type Row = (String, String, &'static str);

fn row(start: &str, end: &str, kind: &'static str) -> Row {
    (start.to_owned(), end.to_owned(), kind)
}

/// The peers' table (../shared/peers/NOTES.md §3), one fixture at a time,
/// over the two weeks around the US DST change.
#[test]
fn each_peer_fixture_gives_the_measured_busy_time() {
    let b = |s: &str, e: &str| row(s, e, "busy");
    let cases: Vec<(&str, Vec<Row>)> = vec![
        (
            "01",
            vec![b("2025-03-10T18:00:00Z", "2025-03-10T19:00:00Z")],
        ),
        (
            "02",
            vec![b("2025-03-05T00:00:00Z", "2025-03-06T00:00:00Z")],
        ),
        ("03", vec![]),
        ("04", vec![]),
        (
            "05",
            vec![
                b("2025-03-03T14:30:00Z", "2025-03-03T15:00:00Z"),
                b("2025-03-04T14:30:00Z", "2025-03-04T15:00:00Z"),
                b("2025-03-10T13:30:00Z", "2025-03-10T14:00:00Z"),
                b("2025-03-12T18:00:00Z", "2025-03-12T19:00:00Z"),
                b("2025-03-14T15:00:00Z", "2025-03-14T16:00:00Z"),
            ],
        ),
        (
            "06",
            vec![b("2025-03-09T03:00:00Z", "2025-03-09T08:00:00Z")],
        ),
        (
            "07",
            vec![row(
                "2025-03-11T20:00:00Z",
                "2025-03-11T21:00:00Z",
                "tentative",
            )],
        ),
        (
            "08",
            vec![b("2025-03-12T09:00:00Z", "2025-03-12T10:30:00Z")],
        ),
        (
            "09",
            vec![b("2025-03-13T12:00:00Z", "2025-03-13T13:00:00Z")],
        ),
        (
            "10",
            vec![b("2025-03-03T00:00:00Z", "2025-03-03T02:00:00Z")],
        ),
        ("11", vec![]),
        (
            "12",
            vec![b("2025-03-10T18:30:00Z", "2025-03-10T19:30:00Z")],
        ),
        (
            "13",
            vec![b("2025-03-15T00:00:00Z", "2025-03-16T00:00:00Z")],
        ),
        (
            "14",
            vec![
                b("2025-03-14T06:00:00Z", "2025-03-14T07:00:00Z"),
                b("2025-03-16T06:00:00Z", "2025-03-16T07:00:00Z"),
            ],
        ),
        (
            "15",
            vec![
                b("2025-03-10T11:00:00Z", "2025-03-10T11:30:00Z"),
                b("2025-03-12T11:00:00Z", "2025-03-12T11:30:00Z"),
                b("2025-03-13T11:00:00Z", "2025-03-13T11:30:00Z"),
                b("2025-03-14T11:00:00Z", "2025-03-14T11:30:00Z"),
            ],
        ),
    ];
    assert_eq!(cases.len(), peer_files().len());
    for (name, expected) in cases {
        let r = report(&peer(name), two_weeks(), &utc());
        assert!(r.problems.is_empty(), "{name}: {:?}", r.problems);
        assert_eq!(rows(&r.busy), expected, "fixture {name}");
    }
}

/// All fixtures in one text (several VCALENDARs) give the golden JSON that
/// the `freebusy` example must also print.
#[test]
fn all_peer_fixtures_together_match_the_golden_json() {
    let text: String = peer_files()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let r = report(&text, two_weeks(), &utc());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let golden =
        std::fs::read_to_string(fixtures().join("peers/expected-2025-03-03--17-utc.json")).unwrap();
    assert_eq!(serde_json::to_string(&r.busy).unwrap(), golden.trim());
}

/// Floating times and all-day dates are local to the zone the caller gives.
#[test]
fn floating_and_all_day_times_follow_the_default_zone() {
    let r = report(&peer("02"), two_weeks(), &ny());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-05T05:00:00Z", "2025-03-06T05:00:00Z", "busy")]
    );
    // After the DST change: 12:00 EDT is 16:00Z; the all-day 03-15 is 04:00Z.
    let r = report(&peer("09"), two_weeks(), &ny());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-13T16:00:00Z", "2025-03-13T17:00:00Z", "busy")]
    );
    let r = report(&peer("13"), two_weeks(), &ny());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-15T04:00:00Z", "2025-03-16T04:00:00Z", "busy")]
    );
    // A zoned event does not move with the default zone.
    let r = report(&peer("01"), two_weeks(), &ny());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-10T18:00:00Z", "2025-03-10T19:00:00Z", "busy")]
    );
}

#[test]
fn busy_rules_status_transparency_and_the_microsoft_status() {
    let at = "DTSTART:20250303T090000Z\nDTEND:20250303T100000Z";
    let one = |extra: &str| {
        let r = report(
            &vevent(&format!("{at}\n{extra}")),
            window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
            &utc(),
        );
        r.busy
            .entries()
            .into_iter()
            .map(|e| e.kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(one(""), vec![BusyKind::Busy]);
    assert_eq!(one("STATUS:CONFIRMED"), vec![BusyKind::Busy]);
    assert_eq!(one("STATUS:TENTATIVE"), vec![BusyKind::Tentative]);
    assert_eq!(one("STATUS:CANCELLED"), vec![]);
    assert_eq!(one("TRANSP:TRANSPARENT"), vec![]);
    assert_eq!(one("TRANSP:OPAQUE"), vec![BusyKind::Busy]);
    assert_eq!(
        one("X-MICROSOFT-CDO-BUSYSTATUS:OOF"),
        vec![BusyKind::OutOfOffice]
    );
    assert_eq!(one("X-MICROSOFT-CDO-BUSYSTATUS:FREE"), vec![]);
    assert_eq!(
        one("X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE"),
        vec![BusyKind::WorkingElsewhere]
    );
    assert_eq!(
        one("X-MICROSOFT-CDO-BUSYSTATUS:tentative"),
        vec![BusyKind::Tentative]
    );
    // The Microsoft status overrides transparency and STATUS:TENTATIVE...
    assert_eq!(
        one("TRANSP:TRANSPARENT\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY"),
        vec![BusyKind::Busy]
    );
    assert_eq!(
        one("STATUS:TENTATIVE\nX-MICROSOFT-CDO-BUSYSTATUS:OOF"),
        vec![BusyKind::OutOfOffice]
    );
    // ...but a cancelled event never happens, and an unknown value is ignored.
    assert_eq!(
        one("STATUS:CANCELLED\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY"),
        vec![]
    );
    assert_eq!(
        one("X-MICROSOFT-CDO-BUSYSTATUS:SOMETHING-NEW"),
        vec![BusyKind::Busy]
    );
}

#[test]
fn missing_dtend_uses_duration_else_one_day_or_nothing() {
    let day = ("2025-03-01T00:00:00Z", "2025-03-10T00:00:00Z");
    assert_eq!(
        busy(&vevent("DTSTART;VALUE=DATE:20250303"), day.0, day.1),
        vec![row("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z", "busy")]
    );
    assert_eq!(
        busy(
            &vevent("DTSTART;VALUE=DATE:20250303\nDURATION:P2D"),
            day.0,
            day.1
        ),
        vec![row("2025-03-03T00:00:00Z", "2025-03-05T00:00:00Z", "busy")]
    );
    assert_eq!(
        busy(&vevent("DTSTART:20250303T090000Z"), day.0, day.1),
        vec![]
    );
    assert_eq!(
        busy(
            &vevent("DTSTART:20250303T090000Z\nDURATION:P1DT1H"),
            day.0,
            day.1
        ),
        vec![row("2025-03-03T09:00:00Z", "2025-03-04T10:00:00Z", "busy")]
    );
    // A nominal day across the DST change is 23 hours.
    let r = report(
        &vevent("DTSTART;TZID=America/New_York:20250308T120000\nDURATION:P1D"),
        window(day.0, day.1),
        &utc(),
    );
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-08T17:00:00Z", "2025-03-09T16:00:00Z", "busy")]
    );
}

#[test]
fn vfreebusy_periods_map_by_fbtype_in_every_form() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\n\
        DTSTART:20250303T000000Z\r\nDTEND:20250310T000000Z\r\n\
        FREEBUSY:20250303T090000Z/20250303T100000Z,20250303T110000Z/PT30M\r\n\
        FREEBUSY;FBTYPE=BUSY-TENTATIVE;VALUE=PERIOD:20250304T090000Z/20250304T1000\r\n 00Z\r\n\
        FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20250305T000000Z/P1D\r\n\
        FREEBUSY;FBTYPE=FREE:20250306T090000Z/20250306T100000Z\r\n\
        FREEBUSY;FBTYPE=X-CUSTOM:20250307T090000Z/20250307T093000Z\r\n\
        FREEBUSY:20250307T120000Z/P0D\r\n\
        END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        busy(text, "2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-03T11:00:00Z", "2025-03-03T11:30:00Z", "busy"),
            row("2025-03-04T09:00:00Z", "2025-03-04T10:00:00Z", "tentative"),
            row(
                "2025-03-05T00:00:00Z",
                "2025-03-06T00:00:00Z",
                "out_of_office"
            ),
            row("2025-03-07T09:00:00Z", "2025-03-07T09:30:00Z", "busy"),
        ]
    );
}

#[test]
fn recurrence_until_in_utc_is_inclusive_and_exact() {
    // 09:00 NY daily; UNTIL is the UTC instant of the 03-12 occurrence.
    let text = vevent(
        "DTSTART;TZID=America/New_York:20250310T090000\nDURATION:PT30M\n\
         RRULE:FREQ=DAILY;UNTIL=20250312T130000Z",
    );
    let r = report(&text, two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-10T13:00:00Z", "2025-03-10T13:30:00Z", "busy"),
            row("2025-03-11T13:00:00Z", "2025-03-11T13:30:00Z", "busy"),
            row("2025-03-12T13:00:00Z", "2025-03-12T13:30:00Z", "busy"),
        ]
    );
    // A DATE UNTIL on a timed series keeps that whole local day.
    let text = vevent("DTSTART:20250310T220000Z\nDURATION:PT30M\nRRULE:FREQ=DAILY;UNTIL=20250311");
    assert_eq!(rows(&report(&text, two_weeks(), &utc()).busy).len(), 2);
}

#[test]
fn recurrence_by_parts_wkst_and_setpos() {
    // Last weekday of the month.
    let text = vevent(
        "DTSTART:20250131T090000Z\nDURATION:PT1H\n\
         RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=4",
    );
    let starts: Vec<_> = rows(
        &report(
            &text,
            window("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            &utc(),
        )
        .busy,
    )
    .into_iter()
    .map(|r| r.0)
    .collect();
    assert_eq!(
        starts,
        vec![
            "2025-01-31T09:00:00Z",
            "2025-02-28T09:00:00Z",
            "2025-03-31T09:00:00Z",
            "2025-04-30T09:00:00Z"
        ]
    );
    // RFC 5545 §3.3.10's WKST example: MO gives 4 instances, SU gives 4
    // different ones.
    let wkst = |day: &str| {
        let text = vevent(&format!(
            "DTSTART:19970805T090000Z\nDURATION:PT1H\n\
             RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST={day}"
        ));
        rows(
            &report(
                &text,
                window("1997-08-01T00:00:00Z", "1997-09-30T00:00:00Z"),
                &utc(),
            )
            .busy,
        )
        .into_iter()
        .map(|r| r.0[..10].to_owned())
        .collect::<Vec<_>>()
    };
    assert_eq!(
        wkst("MO"),
        vec!["1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24"]
    );
    assert_eq!(
        wkst("SU"),
        vec!["1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31"]
    );
}

#[test]
fn rdate_exdate_and_overrides() {
    let text = "BEGIN:VCALENDAR\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        RRULE:FREQ=DAILY;COUNT=5\r\n\
        RDATE:20250310T090000Z,20250311T090000Z\r\n\
        RDATE;VALUE=PERIOD:20250312T150000Z/PT2H\r\n\
        EXDATE:20250304T090000Z\r\nEXDATE:20250311T090000Z\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20250305T090000Z\r\n\
        DTSTART:20250305T130000Z\r\nDTEND:20250305T140000Z\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20250306T090000Z\r\n\
        DTSTART:20250306T090000Z\r\nDTEND:20250306T100000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:other\r\nRECURRENCE-ID:20250307T090000Z\r\n\
        DTSTART:20250307T170000Z\r\nDTEND:20250307T180000Z\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    assert_eq!(
        busy(text, "2025-03-01T00:00:00Z", "2025-03-20T00:00:00Z"),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-05T13:00:00Z", "2025-03-05T14:00:00Z", "busy"),
            row("2025-03-07T09:00:00Z", "2025-03-07T10:00:00Z", "busy"),
            // An override of another UID does not touch this series.
            row("2025-03-07T17:00:00Z", "2025-03-07T18:00:00Z", "busy"),
            row("2025-03-10T09:00:00Z", "2025-03-10T10:00:00Z", "busy"),
            row("2025-03-12T15:00:00Z", "2025-03-12T17:00:00Z", "busy"),
        ]
    );
}

#[test]
fn this_and_future_moves_every_later_instance() {
    let text = "BEGIN:VCALENDAR\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        RRULE:FREQ=DAILY;COUNT=5\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250305T090000Z\r\n\
        DTSTART:20250305T140000Z\r\nDTEND:20250305T143000Z\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let starts: Vec<_> = busy(text, "2025-03-01T00:00:00Z", "2025-03-20T00:00:00Z")
        .into_iter()
        .map(|r| (r.0, r.1))
        .collect();
    assert_eq!(
        starts,
        vec![
            (
                "2025-03-03T09:00:00Z".to_owned(),
                "2025-03-03T10:00:00Z".to_owned()
            ),
            (
                "2025-03-04T09:00:00Z".to_owned(),
                "2025-03-04T10:00:00Z".to_owned()
            ),
            (
                "2025-03-05T14:00:00Z".to_owned(),
                "2025-03-05T14:30:00Z".to_owned()
            ),
            (
                "2025-03-06T14:00:00Z".to_owned(),
                "2025-03-06T14:30:00Z".to_owned()
            ),
            (
                "2025-03-07T14:00:00Z".to_owned(),
                "2025-03-07T14:30:00Z".to_owned()
            ),
        ]
    );
}

#[test]
fn instances_in_a_dst_gap_move_forward_and_keep_their_length() {
    // 02:30 New York does not exist on 2025-03-09: RFC 5545 §3.3.5 reads it
    // as 03:30 EDT (07:30Z).
    let text = vevent(
        "DTSTART;TZID=America/New_York:20250308T023000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3",
    );
    assert_eq!(
        busy(&text, "2025-03-08T00:00:00Z", "2025-03-12T00:00:00Z"),
        vec![
            row("2025-03-08T07:30:00Z", "2025-03-08T08:30:00Z", "busy"),
            row("2025-03-09T07:30:00Z", "2025-03-09T08:30:00Z", "busy"),
            row("2025-03-10T06:30:00Z", "2025-03-10T07:30:00Z", "busy"),
        ]
    );
}

#[test]
fn non_iana_zone_names_and_custom_vtimezones() {
    for tzid in [
        "Eastern Standard Time",
        "/mozilla.org/20050126_1/America/New_York",
        "\"/citadel.org/20190914_1/America/New_York\"",
    ] {
        let text = vevent(&format!(
            "DTSTART;TZID={tzid}:20250310T140000\nDTEND;TZID={tzid}:20250310T150000"
        ));
        assert_eq!(
            busy(&text, "2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z"),
            vec![row("2025-03-10T18:00:00Z", "2025-03-10T19:00:00Z", "busy")],
            "{tzid}"
        );
    }
    // A zone the database lacks, defined by the calendar (UTC+5:45, no DST,
    // and a made-up DST zone with US rules).
    let text = "BEGIN:VCALENDAR\r\n\
        BEGIN:VTIMEZONE\r\nTZID:Custom Fixed\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n\
        TZOFFSETFROM:+0545\r\nTZOFFSETTO:+0545\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
        BEGIN:VTIMEZONE\r\nTZID:Custom Eastern\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:20070311T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n\
        BEGIN:STANDARD\r\nDTSTART:20071104T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
        BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Custom Fixed:20250310T120000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:b\r\nDTSTART;TZID=Custom Eastern:20250307T120000\r\nDURATION:PT1H\r\n\
        RRULE:FREQ=WEEKLY;COUNT=2\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    assert_eq!(
        busy(text, "2025-03-01T00:00:00Z", "2025-03-20T00:00:00Z"),
        vec![
            row("2025-03-07T17:00:00Z", "2025-03-07T18:00:00Z", "busy"),
            row("2025-03-10T06:15:00Z", "2025-03-10T07:15:00Z", "busy"),
            row("2025-03-14T16:00:00Z", "2025-03-14T17:00:00Z", "busy"),
        ]
    );
    // An unknown TZID with no definition is read in the default zone and
    // reported.
    let r = report(
        &vevent("DTSTART;TZID=Mars/Olympus:20250310T120000\nDURATION:PT1H"),
        two_weeks(),
        &utc(),
    );
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-10T12:00:00Z", "2025-03-10T13:00:00Z", "busy")]
    );
    assert!(matches!(
        &r.problems[..],
        [p] if matches!(&p.kind, ProblemKind::UnknownTimeZone { tzid } if tzid == "Mars/Olympus")
    ));
}

/// Only times, recurrence and status survive parsing.
#[test]
fn titles_descriptions_locations_and_attendees_are_not_kept() {
    let secrets = [
        "Dentist appointment",
        "root canal",
        "Main Street 5",
        "alice@example.org",
    ];
    let text = vevent(&format!(
        "SUMMARY:{}\nDESCRIPTION:{}\nLOCATION:{}\nATTENDEE;CN=Alice:mailto:{}\n\
         DTSTART:20250303T090000Z\nDTEND:20250303T100000Z\nRRULE:FREQ=DAILY;COUNT=2",
        secrets[0], secrets[1], secrets[2], secrets[3]
    ));
    let calendar = Calendar::parse(&text).unwrap();
    let report = calendar.busy_time(two_weeks(), &utc());
    let seen = format!(
        "{calendar:?} {report:?} {} {:?}",
        serde_json::to_string(&report.busy).unwrap(),
        calendar.problems()
    );
    for secret in secrets {
        assert!(!seen.contains(secret), "{secret} leaked: {seen}");
    }
    assert_eq!(report.busy.entries().len(), 2);
}

#[test]
fn broken_items_are_reported_and_the_rest_counts() {
    let text = "BEGIN:VCALENDAR\r\n\
        BEGIN:VEVENT\r\nUID:no-start\r\nSUMMARY:x\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:bad-date\r\nDTSTART:2025-03-03\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:bad-rule\r\nDTSTART:20250303T090000Z\r\nDURATION:PT1H\r\n\
        RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:backwards\r\nDTSTART:20250304T090000Z\r\nDTEND:20250304T080000Z\r\nEND:VEVENT\r\n\
        this line has no colon\r\n\
        BEGIN:VEVENT\r\nUID:good\r\nDTSTART:20250305T090000Z\r\nDTEND:20250305T100000Z\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:cut\r\nDTSTART:20250306T090000Z\r\n";
    let r = report(text, two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            // `backwards` (DTEND before DTSTART): the swapped interval.
            row("2025-03-04T08:00:00Z", "2025-03-04T09:00:00Z", "busy"),
            row("2025-03-05T09:00:00Z", "2025-03-05T10:00:00Z", "busy"),
        ]
    );
    let kinds: Vec<_> = r
        .problems
        .iter()
        .map(|p| {
            (
                p.uid.clone().unwrap_or_default(),
                std::mem::discriminant(&p.kind),
            )
        })
        .collect();
    let has = |uid: &str, kind: ProblemKind| {
        kinds.contains(&(uid.to_owned(), std::mem::discriminant(&kind)))
    };
    assert!(
        has("no-start", ProblemKind::MissingStart),
        "{:?}",
        r.problems
    );
    assert!(
        has(
            "bad-date",
            ProblemKind::InvalidValue {
                property: "DTSTART",
                value: String::new()
            }
        ),
        "{:?}",
        r.problems
    );
    assert!(
        has(
            "bad-rule",
            ProblemKind::InvalidRule {
                message: String::new()
            }
        ),
        "{:?}",
        r.problems
    );
    assert!(
        has("backwards", ProblemKind::EndBeforeStart),
        "{:?}",
        r.problems
    );
    assert!(has("", ProblemKind::MalformedLine), "{:?}", r.problems);
    assert!(
        has(
            "cut",
            ProblemKind::Unterminated {
                component: String::new()
            }
        ),
        "{:?}",
        r.problems
    );
}

#[test]
fn not_icalendar_is_an_error_and_odd_bytes_are_survived() {
    assert_eq!(Calendar::parse("").unwrap_err(), ParseError::NotICalendar);
    assert_eq!(
        Calendar::parse("<html>hello</html>").unwrap_err(),
        ParseError::NotICalendar
    );
    // NUL bytes, Latin-1 text, LF only, a BOM.
    let mut bytes = b"\xef\xbb\xbfBEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:caf\xe9\0\n\
        DTSTART:20250303T090000Z\nDTEND:20250303T100000Z\nEND:VEVENT\nEND:VCALENDAR\n"
        .to_vec();
    bytes.extend_from_slice(b"\0\0\0");
    let calendar = Calendar::parse_bytes(&bytes).unwrap();
    assert_eq!(
        calendar.busy_time(two_weeks(), &utc()).busy.entries().len(),
        1
    );
}

/// A rule with millions of instances in the window is cut with a flag,
/// quickly, instead of hanging or exhausting memory.
#[test]
fn unbounded_rules_are_capped_with_a_flag() {
    let text = vevent("DTSTART:20250101T000000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY");
    let started = Instant::now();
    let r = report(
        &text,
        window("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        &utc().max_instances_per_series(10_000),
    );
    assert!(r.truncated);
    assert!(matches!(
        r.problems[..],
        [ref p] if matches!(p.kind, ProblemKind::Truncated { limit: 10_000, .. })
    ));
    // Consecutive seconds coalesce into one interval of 10,000 s.
    assert_eq!(r.busy.get(BusyKind::Busy).total_secs(), 10_000);
    // Far before the window: iterations, not instances, run out.
    let text = vevent("DTSTART:19700101T000000Z\nDURATION:PT1S\nRRULE:FREQ=MINUTELY");
    let r = report(
        &text,
        window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
        &utc().max_iterations_per_series(50_000),
    );
    assert!(r.truncated);
    assert!(matches!(
        r.problems[..],
        [ref p] if matches!(p.kind, ProblemKind::Truncated { what: "iterations", .. })
    ));
    // Generous bound so a slow debug build on a loaded machine passes; the
    // point is "no hang".
    assert!(started.elapsed().as_secs() < 60);
}

/// A daily rule from decades ago still reaches the window exactly.
#[test]
fn old_series_reach_the_window() {
    let text =
        vevent("DTSTART;TZID=Europe/Berlin:19900101T080000\nDURATION:PT1H\nRRULE:FREQ=DAILY");
    assert_eq!(
        busy(&text, "2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z"),
        vec![row("2025-07-01T06:00:00Z", "2025-07-01T07:00:00Z", "busy")]
    );
}

/// Found by the comparison with the Python peer on the 10 MB benchmark
/// calendar: an all-day series whose RRULE has BYHOUR still has all-day
/// instances.
#[test]
fn regression_all_day_series_with_byhour_keeps_whole_days() {
    let text = vevent(
        "DTSTART;VALUE=DATE:20250303\nDURATION:P1D\nRRULE:FREQ=DAILY;BYHOUR=9,14;BYMINUTE=0;COUNT=5",
    );
    assert_eq!(
        busy(&text, "2025-03-01T00:00:00Z", "2025-03-10T00:00:00Z"),
        vec![row("2025-03-03T00:00:00Z", "2025-03-06T00:00:00Z", "busy")]
    );
}

/// A file or resource holding a lone VEVENT (no VCALENDAR wrapper), as
/// icalendar's own `issue_156_RDATE_with_PERIOD.ics` does, and a VEVENT
/// nested in an X- component: both peers read them, so do we, with a
/// warning in the partial result instead of refusing the whole file.
#[test]
fn a_lone_or_nested_vevent_is_read_with_a_warning() {
    // icalendar's tests/events/issue_156_RDATE_with_PERIOD.ics, verbatim.
    let lone = "BEGIN:VEVENT\r\nSUMMARY:RDATE period\r\nDTSTART:19961230T020000Z\r\n\
        DTEND:19961230T060000Z\r\nUID:rdate_period\r\n\
        RDATE;VALUE=PERIOD:19970101T180000Z/19970102T070000Z\r\nEND:VEVENT\r\n";
    let r = report(
        lone,
        window("1996-12-01T00:00:00Z", "1997-02-01T00:00:00Z"),
        &utc(),
    );
    assert_eq!(
        rows(&r.busy),
        vec![
            row("1996-12-30T02:00:00Z", "1996-12-30T06:00:00Z", "busy"),
            row("1997-01-01T18:00:00Z", "1997-01-02T07:00:00Z", "busy"),
        ]
    );
    assert!(
        matches!(&r.problems[..], [p] if matches!(&p.kind, ProblemKind::Misplaced { component } if component == "VEVENT")),
        "{:?}",
        r.problems
    );
    // Inside an X- component, inside or outside a VCALENDAR.
    for text in [
        "BEGIN:VCALENDAR\r\nBEGIN:X-WRAPPER\r\nBEGIN:VEVENT\r\nUID:n\r\n\
         DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\nEND:VEVENT\r\n\
         END:X-WRAPPER\r\nEND:VCALENDAR\r\n",
        "BEGIN:X-WRAPPER\r\nBEGIN:VEVENT\r\nUID:n\r\n\
         DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\nEND:VEVENT\r\n\
         END:X-WRAPPER\r\n",
    ] {
        let r = report(text, two_weeks(), &utc());
        assert_eq!(
            rows(&r.busy),
            vec![row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy")],
            "{text}"
        );
        assert!(
            !r.problems.is_empty()
                && r.problems
                    .iter()
                    .all(|p| matches!(p.kind, ProblemKind::Misplaced { .. })),
            "{:?}",
            r.problems
        );
    }
    // A lone VTODO is iCalendar too: no busy time, one warning (both
    // peers read icalendar's tests/todos/example.ics the same way).
    let todo = "BEGIN:VTODO\r\nUID:t\r\nDUE:20250303T090000Z\r\nEND:VTODO\r\n";
    let r = report(todo, two_weeks(), &utc());
    assert!(rows(&r.busy).is_empty());
    assert!(
        matches!(&r.problems[..], [p] if matches!(&p.kind, ProblemKind::Misplaced { component } if component == "VTODO"))
    );
    // A VALARM's contents are still not events, and text without any
    // component is still refused.
    let alarm = vevent(
        "DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        BEGIN:VALARM\r\nBEGIN:VEVENT\r\nDTSTART:20250304T090000Z\r\nEND:VEVENT\r\nEND:VALARM\r\n",
    );
    let r = report(&alarm, two_weeks(), &utc());
    assert_eq!(rows(&r.busy).len(), 1, "{:?}", rows(&r.busy));
    assert_eq!(
        Calendar::parse("SUMMARY:no component\r\n").unwrap_err(),
        ParseError::NotICalendar
    );
}

/// DTEND before DTSTART (recurring-ical-events' own
/// `end_before_start_event.ics` and `issue_132_swapped_start_and_end.ics`):
/// RFC 5545 §3.8.2.2 forbids it, so any reading is a choice; the swapped
/// interval never loses busy time, for a single event and for every
/// instance of a series. Both peers read the same interval.
#[test]
fn an_end_before_the_start_is_read_as_the_swapped_interval() {
    let single = vevent(
        "DTSTART;TZID=Europe/Berlin:20250304T083000\r\nDTEND;TZID=Europe/Berlin:20250304T080000",
    );
    let r = report(&single, two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-04T07:00:00Z", "2025-03-04T07:30:00Z", "busy")]
    );
    assert!(matches!(&r.problems[..], [p] if p.kind == ProblemKind::EndBeforeStart));
    let daily =
        vevent("DTSTART:20250303T100000Z\r\nDTEND:20250303T090000Z\r\nRRULE:FREQ=DAILY;COUNT=2");
    let r = report(&daily, two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-04T09:00:00Z", "2025-03-04T10:00:00Z", "busy"),
        ]
    );
}

/// RDATE PERIODs written with DATE values (icalendar's own
/// `issue_1633_rdate_with_dates.ics`, and with a TZID): RFC 5545 §3.3.9
/// allows only DATE-TIMEs, so any reading is a choice; whole local days
/// never lose busy time, and both peers read it so.
#[test]
fn an_rdate_period_of_dates_is_read_as_whole_days() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:19970101T180000Z\r\n\
        RDATE;VALUE=PERIOD:19970101/19970102\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = report(
        text,
        window("1996-12-01T00:00:00Z", "1997-02-01T00:00:00Z"),
        &utc(),
    );
    assert_eq!(
        rows(&r.busy),
        vec![row("1997-01-01T00:00:00Z", "1997-01-02T00:00:00Z", "busy")]
    );
    assert!(
        matches!(&r.problems[..], [p] if p.kind == ProblemKind::DatePeriod),
        "{:?}",
        r.problems
    );
    // With a TZID the days are that zone's; a period ending where it
    // starts is its one day; a duration counts from the day's midnight.
    let zoned = vevent(
        "DTSTART;TZID=America/New_York:20250303T090000\r\n\
         DTEND;TZID=America/New_York:20250303T100000\r\n\
         RDATE;TZID=America/New_York;VALUE=PERIOD:20250305/20250305,20250307/PT2H",
    );
    let r = report(&zoned, two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-03T14:00:00Z", "2025-03-03T15:00:00Z", "busy"),
            row("2025-03-05T05:00:00Z", "2025-03-06T05:00:00Z", "busy"),
            row("2025-03-07T05:00:00Z", "2025-03-07T07:00:00Z", "busy"),
        ]
    );
}

/// Two versions of one event (one UID, no RECURRENCE-ID), as exports and
/// CalDAV migrations produce (recurring-ical-events' own
/// `issue_148_ignored_exdate.ics`): RFC 5546 §2.1.5 decides, the higher
/// SEQUENCE, then the later DTSTAMP, then the later LAST-MODIFIED, and the
/// answer never depends on the file's order. Versions that tie are all
/// read (when in doubt, busy).
#[test]
fn of_two_masters_with_one_uid_the_newer_wins_in_any_order() {
    let old = "BEGIN:VEVENT\r\nUID:111\r\nDTSTAMP:20240707T214014Z\r\nSEQUENCE:1\r\n\
        DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n";
    let new = "BEGIN:VEVENT\r\nUID:111\r\nDTSTAMP:20240707T214014Z\r\nSEQUENCE:2\r\n\
        DTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE:20250304T090000Z\r\nEND:VEVENT\r\n";
    let wrap = |a: &str, b: &str| format!("BEGIN:VCALENDAR\r\n{a}{b}END:VCALENDAR\r\n");
    let expected = vec![
        row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
        row("2025-03-05T09:00:00Z", "2025-03-05T10:00:00Z", "busy"),
    ];
    for text in [wrap(old, new), wrap(new, old)] {
        let r = report(&text, two_weeks(), &utc());
        assert_eq!(rows(&r.busy), expected);
        assert!(
            matches!(&r.problems[..], [p] if p.kind == ProblemKind::Superseded),
            "{:?}",
            r.problems
        );
    }
    // Same SEQUENCE: the later DTSTAMP wins.
    let stamped = new
        .replace("SEQUENCE:2", "SEQUENCE:1")
        .replace("DTSTAMP:20240707T214014Z", "DTSTAMP:20240708T000000Z");
    for text in [wrap(old, &stamped), wrap(&stamped, old)] {
        assert_eq!(rows(&report(&text, two_weeks(), &utc()).busy), expected);
    }
    // A full tie: both are read, so nothing is lost.
    let tied = new.replace("SEQUENCE:2", "SEQUENCE:1");
    let r = report(&wrap(old, &tied), two_weeks(), &utc());
    assert_eq!(rows(&r.busy).len(), 3, "{:?}", rows(&r.busy));
}

/// An override older than its master (recurring-ical-events' own
/// `issue_163_deleted_modification.ics`): the series was changed later
/// (a higher SEQUENCE) to exclude that instance, so the older override is
/// stale and gives no busy time; an override at least as new as its
/// master still counts even where the master excludes the instance.
#[test]
fn an_older_override_of_an_instance_the_newer_master_excluded_is_stale() {
    let cal = |override_sequence: u32| {
        format!(
            "BEGIN:VCALENDAR\r\n\
             BEGIN:VEVENT\r\nUID:111\r\nSEQUENCE:{override_sequence}\r\n\
             RECURRENCE-ID;VALUE=DATE:20250310\r\n\
             DTSTART;VALUE=DATE:20250310\r\nDTEND;VALUE=DATE:20250313\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:111\r\nSEQUENCE:2\r\n\
             DTSTART;VALUE=DATE:20250303\r\nDTEND;VALUE=DATE:20250304\r\n\
             RRULE:FREQ=WEEKLY;COUNT=2\r\nEXDATE;VALUE=DATE:20250310\r\nEND:VEVENT\r\n\
             END:VCALENDAR\r\n"
        )
    };
    let r = report(&cal(1), two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![row("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z", "busy")]
    );
    assert!(matches!(&r.problems[..], [p] if p.kind == ProblemKind::Superseded));
    let r = report(&cal(2), two_weeks(), &utc());
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z", "busy"),
            row("2025-03-10T00:00:00Z", "2025-03-13T00:00:00Z", "busy"),
        ]
    );
}

/// DST, written from RFC 5545's text (not from either peer):
/// - §3.8.5.3: with DTEND, every instance keeps the *exact* duration of
///   DTSTART..DTEND, also when it crosses a change;
/// - §3.3.6: `DURATION:P1D` is one nominal day (23 hours across the spring
///   change), `PT24H` exactly 24 hours;
/// - §3.3.5: a local time in a gap is read with the offset before the gap,
///   an ambiguous one as its first occurrence.
///
/// The Python peer (icalendar 7.3 + recurring-ical-events 3.8, measured)
/// agrees on the nightly series and on P1D; it reads `PT24H` as 23 hours
/// (nominal), drops the event in the gap altogether, and gives the one in
/// the fold 90 minutes (it adds the duration on the wall clock).
#[test]
fn dst_changes_keep_exact_and_nominal_durations_as_rfc_5545_says() {
    let ny = |body: &str| vevent(body);
    let march = window("2025-03-07T00:00:00Z", "2025-03-12T00:00:00Z");
    // 23:00-01:00 New York every night: the night of 8-9 March crosses the
    // change and still lasts two exact hours (04:00Z-06:00Z; 02:00 EST is
    // 03:00 EDT on the wall clock).
    let nightly = ny("DTSTART;TZID=America/New_York:20250307T230000\r\n\
         DTEND;TZID=America/New_York:20250308T010000\r\nRRULE:FREQ=DAILY;COUNT=3");
    assert_eq!(
        rows(&report(&nightly, march, &utc()).busy),
        vec![
            row("2025-03-08T04:00:00Z", "2025-03-08T06:00:00Z", "busy"),
            row("2025-03-09T04:00:00Z", "2025-03-09T06:00:00Z", "busy"),
            // After the change: 23:00 EDT.
            row("2025-03-10T03:00:00Z", "2025-03-10T05:00:00Z", "busy"),
        ]
    );
    // P1D from noon on 8 March ends at noon on 9 March (EDT): 23 hours.
    let nominal = ny("DTSTART;TZID=America/New_York:20250308T120000\r\nDURATION:P1D");
    assert_eq!(
        rows(&report(&nominal, march, &utc()).busy),
        vec![row("2025-03-08T17:00:00Z", "2025-03-09T16:00:00Z", "busy")]
    );
    let exact = ny("DTSTART;TZID=America/New_York:20250308T120000\r\nDURATION:PT24H");
    assert_eq!(
        rows(&report(&exact, march, &utc()).busy),
        vec![row("2025-03-08T17:00:00Z", "2025-03-09T17:00:00Z", "busy")]
    );
    // 02:30 on 9 March does not exist in New York: the offset before the
    // gap (-05:00) reads it as 07:30Z.
    let gap = ny("DTSTART;TZID=America/New_York:20250309T023000\r\nDURATION:PT30M");
    assert_eq!(
        rows(&report(&gap, march, &utc()).busy),
        vec![row("2025-03-09T07:30:00Z", "2025-03-09T08:00:00Z", "busy")]
    );
    // 01:30 on 2 November happens twice: the first (EDT, -04:00).
    let fold = ny("DTSTART;TZID=America/New_York:20251102T013000\r\nDURATION:PT30M");
    assert_eq!(
        rows(
            &report(
                &fold,
                window("2025-11-01T00:00:00Z", "2025-11-03T00:00:00Z"),
                &utc()
            )
            .busy
        ),
        vec![row("2025-11-02T05:30:00Z", "2025-11-02T06:00:00Z", "busy")]
    );
}

/// `RECURRENCE-ID;RANGE=THISANDFUTURE` (RFC 5545 §3.8.4.4): the override
/// applies to its instance and every later one, which move by the same
/// shift and take its length; none of them stays at its old time too. The
/// Python peer gives the same five intervals.
#[test]
fn this_and_future_moves_every_later_instance_and_leaves_none_behind() {
    let text = "BEGIN:VCALENDAR\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20250303T090000Z\r\nDTEND:20250303T100000Z\r\n\
        RRULE:FREQ=DAILY;COUNT=5\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250305T090000Z\r\n\
        DTSTART:20250305T140000Z\r\nDTEND:20250305T153000Z\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let r = report(text, two_weeks(), &utc());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(
        rows(&r.busy),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-04T09:00:00Z", "2025-03-04T10:00:00Z", "busy"),
            row("2025-03-05T14:00:00Z", "2025-03-05T15:30:00Z", "busy"),
            row("2025-03-06T14:00:00Z", "2025-03-06T15:30:00Z", "busy"),
            row("2025-03-07T14:00:00Z", "2025-03-07T15:30:00Z", "busy"),
        ]
    );
}

/// A server that rewrites properties as TEXT escapes the separators of an
/// RRULE and an RDATE list (measured on Xandikos); the escapes are no part
/// of those values (RFC 5545 §3.3.11 escapes TEXT only), and reading them
/// as separators keeps every instance.
#[test]
fn text_escapes_a_server_wrote_into_rrule_and_rdate_are_read_as_separators() {
    let rule = vevent(
        "DTSTART:20250303T090000Z
         DTEND:20250303T093000Z
         RRULE:FREQ=DAILY\\;COUNT=3\\;BYDAY=MO\\,TU\\,WE",
    );
    assert_eq!(
        busy(&rule, "2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T09:30:00Z", "busy"),
            row("2025-03-04T09:00:00Z", "2025-03-04T09:30:00Z", "busy"),
            row("2025-03-05T09:00:00Z", "2025-03-05T09:30:00Z", "busy"),
        ]
    );
    let list = vevent(
        "DTSTART:20250303T090000Z
         DTEND:20250303T093000Z
         RDATE;VALUE=PERIOD:20250305T100000Z/20250305T110000Z\\,202503T10/PT1H",
    );
    let read = report(
        &list,
        window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
        &utc(),
    );
    assert_eq!(
        rows(&read.busy),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T09:30:00Z", "busy"),
            row("2025-03-05T10:00:00Z", "2025-03-05T11:00:00Z", "busy"),
        ]
    );
    // The bad second period is still said.
    assert!(!read.problems.is_empty(), "{:?}", read.problems);
}
