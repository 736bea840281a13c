use availability::conformance::{Fixture, check_source};
use availability::{AccountId, FreeBusy, FreeBusyRequest, FreeBusySource, SourceErrorKind};
use caldav_provider::IcsSource;
use caldav_provider::ical::time_zone;

use crate::common::{fixtures, rows, two_weeks};

#[tokio::test]
async fn answers_every_account_in_order_with_per_account_errors() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("html.ics");
    std::fs::write(&html, "<html>not a calendar</html>").unwrap();
    let big = dir.path().join("big.ics");
    std::fs::write(&big, vec![b' '; 8192]).unwrap();
    let source = IcsSource::new()
        .with_max_file_bytes(4096)
        .with_file("weekly", fixtures().join("peers/05-weekly.ics"))
        .with_file_in_zone(
            "allday-ny",
            fixtures().join("peers/02-allday.ics"),
            time_zone("America/New_York").unwrap(),
        )
        .with_file("missing", dir.path().join("nope.ics"))
        .with_file("html", &html)
        .with_file("big", &big);
    let accounts = [
        "weekly",
        "allday-ny",
        "missing",
        "html",
        "big",
        "unregistered",
    ];
    let response = source
        .free_busy(&FreeBusyRequest::new(two_weeks(), accounts))
        .await
        .unwrap();
    let ids: Vec<_> = response
        .accounts
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    assert_eq!(ids, accounts);
    let weekly = response.accounts[0].result.as_ref().unwrap();
    assert_eq!(rows(weekly).len(), 5);
    let allday = response.accounts[1].result.as_ref().unwrap();
    assert_eq!(
        rows(allday),
        vec![(
            "2025-03-05T05:00:00Z".to_owned(),
            "2025-03-06T05:00:00Z".to_owned(),
            "busy"
        )]
    );
    let kind = |i: usize| response.accounts[i].result.as_ref().unwrap_err().kind();
    assert_eq!(kind(2), SourceErrorKind::NotFound);
    assert_eq!(kind(3), SourceErrorKind::InvalidResponse);
    assert_eq!(kind(4), SourceErrorKind::InvalidResponse);
    assert_eq!(kind(5), SourceErrorKind::NotFound);
    let message = response.accounts[4]
        .result
        .as_ref()
        .unwrap_err()
        .to_string();
    assert!(message.contains("over the 4096-byte cap"), "{message}");
}

/// `availability`'s conformance checks over the peers' fixtures in one
/// file: its golden busy time, and not found for an account whose file
/// does not exist.
#[tokio::test]
async fn passes_the_conformance_checks() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.ics");
    let text: String = crate::common::peer_files()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    std::fs::write(&all, text).unwrap();
    let source = IcsSource::new()
        .with_file("known", &all)
        .with_file("missing", dir.path().join("nope.ics"));
    let golden =
        std::fs::read_to_string(fixtures().join("peers/expected-2025-03-03--17-utc.json")).unwrap();
    let fixture = Fixture {
        window: two_weeks(),
        known: AccountId::new("known"),
        expected: serde_json::from_str::<FreeBusy>(&golden).unwrap(),
        missing: AccountId::new("missing"),
    };
    let report = check_source(&source, &fixture).await.unwrap();
    let not_run: Vec<&str> = report.not_run.iter().map(|(c, _)| *c).collect();
    assert_eq!(not_run, ["window_pieces", "over_batch_limit"]);
}
