use availability::{FreeBusyRequest, FreeBusySource, SourceErrorKind};
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
