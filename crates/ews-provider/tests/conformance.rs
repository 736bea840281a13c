use std::time::Duration;

use availability::conformance::{Fixture, check_source};
use availability::{AccountId, BusyKind, FreeBusy, Interval};
use ews_provider::test_support::AvailabilityDouble;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

use crate::common::{config, source, ts, window};

/// Every check runs against the double: batches of 5 (so
/// `over_batch_limit` and `per_account_errors` run) and windows of one
/// day over a three-day fixture (so `window_pieces` runs).
#[tokio::test]
async fn the_conformance_checks_all_run() {
    let day = 86_400;
    let start = ts("2025-03-03T00:00:00Z");
    let events = [
        (start + 9 * 3600, start + 10 * 3600, "Busy"),
        (
            start + day + 11 * 3600,
            start + day + 12 * 3600,
            "Tentative",
        ),
        (
            start + 2 * day + 8 * 3600,
            start + 2 * day + 18 * 3600,
            "OOF",
        ),
        (
            start + 2 * day + 20 * 3600,
            start + 2 * day + 21 * 3600,
            "WorkingElsewhere",
        ),
    ];
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(AvailabilityDouble::new().mailbox("known@contoso.com", &events))
        .mount(&server)
        .await;
    let source = source(
        config(&server)
            .max_mailboxes_per_request(5)
            .max_window(Duration::from_secs(86_400)),
    );
    let expected = FreeBusy::from_entries(events.iter().map(|&(s, e, k)| {
        let kind = match k {
            "Busy" => BusyKind::Busy,
            "Tentative" => BusyKind::Tentative,
            "OOF" => BusyKind::OutOfOffice,
            _ => BusyKind::WorkingElsewhere,
        };
        (kind, Interval::new(s, e).unwrap())
    }));
    let fixture = Fixture {
        window: window("2025-03-03T00:00:00Z", "2025-03-06T00:00:00Z"),
        known: AccountId::new("known@contoso.com"),
        expected,
        missing: AccountId::new("missing@contoso.com"),
    };
    let report = check_source(&source, &fixture).await.unwrap();
    assert_eq!(
        report.ran,
        [
            "empty_request",
            "request_order",
            "missing_account_not_found",
            "per_account_errors",
            "known_account",
            "kinds",
            "sub_window",
            "window_pieces",
            "over_batch_limit",
        ]
    );
    assert!(report.not_run.is_empty(), "{:?}", report.not_run);
}
