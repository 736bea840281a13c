use availability::{Interval, IntervalSet};
use policy_rules::ProgramPolicy;

fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn policy(zone: &str, start: &str, end: &str) -> ProgramPolicy {
    ProgramPolicy::from_toml(&format!(
        r#"
        time_zone = "{zone}"
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        day_start = "{start}"
        day_end = "{end}"
        horizon = "3650d"
        "#
    ))
    .unwrap()
}

/// The bookable windows of `policy` between two UTC instants, as strings.
fn windows(policy: &ProgramPolicy, from: &str, to: &str) -> Vec<String> {
    let window = Interval::new(ts(from), ts(to)).unwrap();
    let now = jiff::Timestamp::from_second(ts("2026-01-01T00:00:00Z")).unwrap();
    policy
        .bookable(window, now)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// (zone, day_start, day_end, query from, query to, expected windows)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const CASES: &[Case] = &[
    // New York, spring forward Sun 8 Mar 2026 02:00 EST -> 03:00 EDT.
    (
        "America/New_York",
        "01:00",
        "04:00",
        "2026-03-08T00:00:00Z",
        "2026-03-09T00:00:00Z",
        &["2026-03-08T06:00:00Z/2026-03-08T08:00:00Z"],
    ), // 2 h of wall clock
    (
        "America/New_York",
        "13:00",
        "17:00",
        "2026-03-07T00:00:00Z",
        "2026-03-09T00:00:00Z",
        &[
            "2026-03-07T18:00:00Z/2026-03-07T22:00:00Z",
            "2026-03-08T17:00:00Z/2026-03-08T21:00:00Z",
        ],
    ),
    // A start inside the gap begins at the transition (03:00 EDT).
    (
        "America/New_York",
        "02:30",
        "05:00",
        "2026-03-08T00:00:00Z",
        "2026-03-09T00:00:00Z",
        &["2026-03-08T07:00:00Z/2026-03-08T09:00:00Z"],
    ),
    // An end inside the gap ends at the transition.
    (
        "America/New_York",
        "00:00",
        "02:30",
        "2026-03-08T00:00:00Z",
        "2026-03-09T00:00:00Z",
        &["2026-03-08T05:00:00Z/2026-03-08T07:00:00Z"],
    ),
    // New York, fall back Sun 1 Nov 2026 02:00 EDT -> 01:00 EST: 01:00-03:00 is 3 h.
    (
        "America/New_York",
        "01:00",
        "03:00",
        "2026-11-01T00:00:00Z",
        "2026-11-02T00:00:00Z",
        &["2026-11-01T05:00:00Z/2026-11-01T08:00:00Z"],
    ),
    (
        "America/New_York",
        "13:00",
        "17:00",
        "2026-10-31T00:00:00Z",
        "2026-11-02T00:00:00Z",
        &[
            "2026-10-31T17:00:00Z/2026-10-31T21:00:00Z",
            "2026-11-01T18:00:00Z/2026-11-01T22:00:00Z",
        ],
    ),
    // Hours that repeat in the fold are bookable both times.
    (
        "America/New_York",
        "00:00",
        "01:30",
        "2026-11-01T00:00:00Z",
        "2026-11-02T00:00:00Z",
        &[
            "2026-11-01T04:00:00Z/2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z/2026-11-01T06:30:00Z",
        ],
    ),
    // London, Sun 29 Mar 2026 01:00 GMT -> 02:00 BST; Sun 25 Oct 02:00 BST -> 01:00 GMT.
    (
        "Europe/London",
        "00:00",
        "03:00",
        "2026-03-29T00:00:00Z",
        "2026-03-29T12:00:00Z",
        &["2026-03-29T00:00:00Z/2026-03-29T02:00:00Z"],
    ),
    (
        "Europe/London",
        "14:00",
        "16:00",
        "2026-03-28T00:00:00Z",
        "2026-03-30T00:00:00Z",
        &[
            "2026-03-28T14:00:00Z/2026-03-28T16:00:00Z",
            "2026-03-29T13:00:00Z/2026-03-29T15:00:00Z",
        ],
    ),
    (
        "Europe/London",
        "00:00",
        "03:00",
        "2026-10-24T12:00:00Z",
        "2026-10-25T12:00:00Z",
        &["2026-10-24T23:00:00Z/2026-10-25T03:00:00Z"],
    ), // 4 h
    (
        "Europe/London",
        "14:00",
        "16:00",
        "2026-10-24T00:00:00Z",
        "2026-10-26T00:00:00Z",
        &[
            "2026-10-24T13:00:00Z/2026-10-24T15:00:00Z",
            "2026-10-25T14:00:00Z/2026-10-25T16:00:00Z",
        ],
    ),
    // Lord Howe: a 30-minute shift. Sun 4 Oct 2026 02:00 +10:30 -> 02:30 +11;
    // Sun 5 Apr 2026 02:00 +11 -> 01:30 +10:30.
    (
        "Australia/Lord_Howe",
        "01:00",
        "04:00",
        "2026-10-03T00:00:00Z",
        "2026-10-04T00:00:00Z",
        &["2026-10-03T14:30:00Z/2026-10-03T17:00:00Z"],
    ), // 2.5 h
    (
        "Australia/Lord_Howe",
        "13:00",
        "17:00",
        "2026-10-03T12:00:00Z",
        "2026-10-04T12:00:00Z",
        &["2026-10-04T02:00:00Z/2026-10-04T06:00:00Z"],
    ),
    (
        "Australia/Lord_Howe",
        "01:00",
        "04:00",
        "2026-04-04T00:00:00Z",
        "2026-04-05T00:00:00Z",
        &["2026-04-04T14:00:00Z/2026-04-04T17:30:00Z"],
    ), // 3.5 h
    (
        "Australia/Lord_Howe",
        "13:00",
        "17:00",
        "2026-04-04T12:00:00Z",
        "2026-04-05T12:00:00Z",
        &["2026-04-05T02:30:00Z/2026-04-05T06:30:00Z"],
    ),
    // Kolkata: +05:30 all year.
    (
        "Asia/Kolkata",
        "09:00",
        "17:00",
        "2026-01-05T00:00:00Z",
        "2026-01-06T00:00:00Z",
        &["2026-01-05T03:30:00Z/2026-01-05T11:30:00Z"],
    ),
    (
        "Asia/Kolkata",
        "09:00",
        "17:00",
        "2026-07-05T00:00:00Z",
        "2026-07-06T00:00:00Z",
        &["2026-07-05T03:30:00Z/2026-07-05T11:30:00Z"],
    ),
    // Chatham: +12:45 / +13:45. Sun 27 Sep 2026 02:45 -> 03:45; Sun 5 Apr 2026 03:45 -> 02:45.
    (
        "Pacific/Chatham",
        "02:00",
        "05:00",
        "2026-09-26T12:00:00Z",
        "2026-09-27T00:00:00Z",
        &["2026-09-26T13:15:00Z/2026-09-26T15:15:00Z"],
    ), // 2 h
    (
        "Pacific/Chatham",
        "13:00",
        "17:00",
        "2026-09-26T12:00:00Z",
        "2026-09-27T12:00:00Z",
        &["2026-09-26T23:15:00Z/2026-09-27T03:15:00Z"],
    ),
    (
        "Pacific/Chatham",
        "02:00",
        "05:00",
        "2026-04-04T12:00:00Z",
        "2026-04-05T00:00:00Z",
        &["2026-04-04T12:15:00Z/2026-04-04T16:15:00Z"],
    ), // 4 h
    (
        "Pacific/Chatham",
        "13:00",
        "17:00",
        "2026-04-04T12:00:00Z",
        "2026-04-05T12:00:00Z",
        &["2026-04-05T00:15:00Z/2026-04-05T04:15:00Z"],
    ),
];

#[test]
fn dst_table() {
    for (zone, start, end, from, to, want) in CASES {
        let got = windows(&policy(zone, start, end), from, to);
        assert_eq!(&got, want, "{zone} {start}-{end} in {from}..{to}");
    }
}

#[test]
fn window_crossing_local_midnight() {
    // Every day 00:00-24:00 in New York: a query from 22:00 to 02:00 local
    // is bookable throughout, as one interval.
    let all_day = policy("America/New_York", "00:00", "24:00");
    assert_eq!(
        windows(&all_day, "2026-01-05T03:00:00Z", "2026-01-05T07:00:00Z"),
        ["2026-01-05T03:00:00Z/2026-01-05T07:00:00Z"]
    );
    // Sundays only: the part after local midnight (Monday) is not bookable.
    let sundays = ProgramPolicy::from_toml(
        "time_zone = \"America/New_York\"\ndays = [\"sun\"]\nday_start = \"00:00\"\nday_end = \"24:00\"",
    )
    .unwrap();
    assert_eq!(
        windows(&sundays, "2026-01-05T03:00:00Z", "2026-01-05T07:00:00Z"),
        ["2026-01-05T03:00:00Z/2026-01-05T05:00:00Z"]
    );
    // Santiago skips local midnight on Sun 6 Sep 2026 (24:00 -> 01:00): the
    // Saturday's 24:00 and the Sunday's start meet at the transition.
    let santiago = policy("America/Santiago", "00:00", "24:00");
    assert_eq!(
        windows(&santiago, "2026-09-05T00:00:00Z", "2026-09-07T00:00:00Z"),
        ["2026-09-05T00:00:00Z/2026-09-07T00:00:00Z"]
    );
}

#[test]
fn notice_and_horizon_cut_windows() {
    let p = ProgramPolicy::from_toml(
        r#"
        time_zone = "Europe/Berlin"
        day_start = "09:00"
        day_end = "17:00"
        min_notice = "3h"
        horizon = "2d"
        "#,
    )
    .unwrap();
    // Now: Monday 5 Jan 2026, 10:00 in Berlin (09:00Z).
    let now = jiff::Timestamp::from_second(ts("2026-01-05T09:00:00Z")).unwrap();
    let week = Interval::new(ts("2026-01-05T00:00:00Z"), ts("2026-01-12T00:00:00Z")).unwrap();
    let got: Vec<String> = p
        .bookable(week, now)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            // Notice: not before 13:00 local.
            "2026-01-05T12:00:00Z/2026-01-05T16:00:00Z",
            "2026-01-06T08:00:00Z/2026-01-06T16:00:00Z",
            // Horizon: not after Wednesday 10:00 local.
            "2026-01-07T08:00:00Z/2026-01-07T09:00:00Z",
        ]
    );
    // A window entirely past the horizon is empty.
    let later = Interval::new(ts("2026-02-01T00:00:00Z"), ts("2026-02-08T00:00:00Z")).unwrap();
    assert_eq!(p.bookable(later, now), IntervalSet::new());
}

#[test]
fn slot_grid_follows_local_midnight() {
    // Kolkata (+05:30) with an hourly step: starts at :30 UTC.
    let p = ProgramPolicy::from_toml(
        "time_zone = \"Asia/Kolkata\"\nslot_step = \"1h\"\nday_start = \"09:00\"\nday_end = \"12:00\"",
    )
    .unwrap();
    let now = jiff::Timestamp::from_second(ts("2026-01-01T00:00:00Z")).unwrap();
    let day = Interval::new(ts("2026-01-05T00:00:00Z"), ts("2026-01-06T00:00:00Z")).unwrap();
    let starts = p.slot_starts(&p.bookable(day, now));
    let want: Vec<i64> = [
        "2026-01-05T03:30:00Z",
        "2026-01-05T04:30:00Z",
        "2026-01-05T05:30:00Z",
    ]
    .iter()
    .map(|s| ts(s))
    .collect();
    assert_eq!(starts, want);

    // New York fall back with a 30-minute step: 01:00 and 01:30 happen twice
    // and give two candidates each; spring forward: 02:00 and 02:30 never happen.
    let ny = policy("America/New_York", "00:00", "24:00");
    let fall = Interval::new(ts("2026-11-01T04:00:00Z"), ts("2026-11-01T08:00:00Z")).unwrap();
    let got: Vec<String> = ny
        .slot_starts(&IntervalSet::from(fall))
        .into_iter()
        .map(|t| jiff::Timestamp::from_second(t).unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "2026-11-01T04:00:00Z", // 00:00 EDT
            "2026-11-01T04:30:00Z",
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
            "2026-11-01T07:30:00Z",
        ]
    );
    let spring = Interval::new(ts("2026-03-08T05:00:00Z"), ts("2026-03-08T08:00:00Z")).unwrap();
    let got: Vec<String> = ny
        .slot_starts(&IntervalSet::from(spring))
        .into_iter()
        .map(|t| jiff::Timestamp::from_second(t).unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "2026-03-08T05:00:00Z", // 00:00 EST
            "2026-03-08T05:30:00Z",
            "2026-03-08T06:00:00Z", // 01:00 EST
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:00:00Z", // 03:00 EDT
            "2026-03-08T07:30:00Z",
        ]
    );
}
