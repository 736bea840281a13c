use availability::{
    BusyKind, Capabilities, FreeBusy, Interval, IntervalSet, KindSet, SourceError, SourceErrorKind,
};

fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn iv(a: &str, b: &str) -> Interval {
    Interval::new(at(a), at(b)).unwrap()
}

#[test]
fn interval_json() {
    insta::assert_json_snapshot!(iv("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"));
}

#[test]
fn interval_set_json() {
    let set = IntervalSet::from_unsorted([
        iv("2026-01-05T13:00:00Z", "2026-01-05T14:00:00Z"),
        iv("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"),
        iv("2026-01-05T10:00:00Z", "2026-01-05T10:30:00Z"),
    ]);
    insta::assert_json_snapshot!(set);
}

#[test]
fn free_busy_json_is_the_freebusy_contract() {
    // Coalesced per kind, sorted by start then kind, UTC, whole seconds.
    let fb = FreeBusy::from_entries([
        (
            BusyKind::OutOfOffice,
            iv("2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"),
        ),
        (
            BusyKind::Busy,
            iv("2026-01-05T09:30:00Z", "2026-01-05T11:00:00Z"),
        ),
        (
            BusyKind::Busy,
            iv("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"),
        ),
        (
            BusyKind::Tentative,
            iv("2026-01-05T09:00:00Z", "2026-01-05T09:30:00Z"),
        ),
        (
            BusyKind::WorkingElsewhere,
            iv("2026-01-05T13:00:00Z", "2026-01-05T17:00:00Z"),
        ),
        (
            BusyKind::Unknown,
            iv("2026-01-05T18:00:00Z", "2026-01-05T19:00:00Z"),
        ),
    ]);
    insta::assert_json_snapshot!(fb);
    let back: FreeBusy = serde_json::from_value(serde_json::to_value(&fb).unwrap()).unwrap();
    assert_eq!(back, fb);
}

#[test]
fn free_busy_yaml() {
    let fb = FreeBusy::from_entries([(
        BusyKind::Tentative,
        iv("2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"),
    )]);
    insta::assert_yaml_snapshot!(fb);
}

#[test]
fn kind_set_and_error_kinds_json() {
    insta::assert_json_snapshot!((
        KindSet::default(),
        KindSet::ALL,
        [
            SourceErrorKind::Unauthorized,
            SourceErrorKind::Forbidden,
            SourceErrorKind::NotFound,
            SourceErrorKind::RateLimited,
            SourceErrorKind::Unavailable,
            SourceErrorKind::InvalidResponse,
            SourceErrorKind::Transport,
        ],
    ));
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for bad in [
        r#"{"busy":[{"start":"2026-01-05T10:00:00Z","end":"2026-01-05T09:00:00Z","kind":"busy"}]}"#,
        r#"{"busy":[{"start":"2026-01-05T09:00:00Z","end":"2026-01-05T10:00:00Z","kind":"oof"}]}"#,
        r#"{"busy":[{"start":"2026-01-05T09:00:00Z","kind":"busy"}]}"#,
        r#"{"busy":[],"extra":1}"#,
        r#"[{"start":"not a time","end":"2026-01-05T10:00:00Z"}]"#,
        "",
    ] {
        assert!(serde_json::from_str::<FreeBusy>(bad).is_err(), "{bad}");
    }
    assert!(
        serde_json::from_str::<IntervalSet>(
            r#"[{"start":"2026-01-05T09:00:00Z","end":"2026-01-05T09:00:00Z"}]"#
        )
        .is_err()
    );
}

#[test]
fn errors_display_without_surprises() {
    let e = SourceError::RateLimited {
        retry_after: Some(std::time::Duration::from_secs(30)),
    };
    assert_eq!(e.to_string(), "rate limited (retry after 30s)");
    assert!(e.is_transient());
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
    let e = SourceError::Unauthorized {
        message: "token revoked".into(),
    };
    assert!(e.needs_reconnect() && !e.is_transient());
    assert_eq!(e.kind().as_str(), "unauthorized");
    assert_eq!(Capabilities::new(0).max_accounts_per_request, 1);
}
