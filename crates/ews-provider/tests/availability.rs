use availability::{AccountId, FreeBusyRequest, FreeBusySource, SourceErrorKind};
use ews_provider::test_support::AvailabilityDouble;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{config, fixture, requests_seen, row, rows, source, ts, window};

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .set_body_string(body)
}

/// The documented shape with `m:`/`t:` prefixes and times without an
/// offset (Exchange 2010 and later): every BusyType, an event overlapping
/// the window's start and end (clipped), `CalendarEventDetails` sent
/// although not asked (dropped), a same-named event in a foreign namespace
/// (not taken), per-mailbox errors beside results, a mailbox without data
/// and one with the merged stream only.
#[tokio::test]
async fn prefixed_answer_kinds_clipping_details_dropped_and_mailbox_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/EWS/Exchange.asmx"))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .respond_with(xml(fixture("prefixed.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let asked = [
        "adele@contoso.com",
        "nobody@contoso.com",
        "hidden@contoso.com",
        "nodata@contoso.com",
        "merged@contoso.com",
    ];
    let answer = source(config(&server))
        .free_busy(&FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
            asked,
        ))
        .await
        .unwrap();
    let requests = requests_seen(&server).await;
    insta::assert_snapshot!(
        "getuseravailability_request",
        String::from_utf8(requests[0].body.clone()).unwrap()
    );
    let ids: Vec<&str> = answer.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(ids, asked);
    let adele = answer.accounts[0].result.as_ref().unwrap();
    assert_eq!(
        rows(adele),
        vec![
            row("2025-03-03T00:00:00Z", "2025-03-03T01:00:00Z", "busy"),
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "tentative"),
            row(
                "2025-03-04T00:00:00Z",
                "2025-03-05T00:00:00Z",
                "out_of_office"
            ),
            row(
                "2025-03-05T09:00:00Z",
                "2025-03-05T17:00:00Z",
                "working_elsewhere"
            ),
            row("2025-03-09T20:00:00Z", "2025-03-10T00:00:00Z", "unknown"),
        ]
    );
    let kind = |i: usize| answer.accounts[i].result.as_ref().unwrap_err().kind();
    assert_eq!(kind(1), SourceErrorKind::NotFound);
    assert_eq!(kind(2), SourceErrorKind::Forbidden);
    // No data at all is unknown (an error), never an empty, free calendar.
    assert_eq!(kind(3), SourceErrorKind::Unavailable);
    let merged = answer.accounts[4].result.as_ref().unwrap();
    assert_eq!(
        rows(merged),
        vec![
            row("2025-03-03T00:30:00Z", "2025-03-03T01:00:00Z", "tentative"),
            row("2025-03-03T01:00:00Z", "2025-03-03T01:30:00Z", "busy"),
            row(
                "2025-03-03T02:30:00Z",
                "2025-03-03T03:00:00Z",
                "out_of_office"
            ),
            row("2025-03-03T03:00:00Z", "2025-03-03T03:30:00Z", "unknown"),
        ]
    );
    // Nothing of the details, nor any address, reaches the output.
    let seen = format!("{answer:?}");
    for secret in [
        "Dentist",
        "check-up",
        "Harley",
        "00000000AAAA",
        "Active Directory",
        "NoFreeBusyAccessException",
    ] {
        assert!(!seen.contains(secret), "{secret} in {seen}");
    }
    for a in &answer.accounts[1..4] {
        let message = a.result.as_ref().unwrap_err().to_string();
        assert!(!message.contains('@'), "{message}");
    }
}

/// The reference page's style: default namespaces (messages, then types on
/// each view's children), times with offsets and `Z` (Exchange 2007).
#[tokio::test]
async fn default_namespaces_and_offsets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(xml(fixture("default_ns.xml")))
        .mount(&server)
        .await;
    let answer = source(config(&server))
        .free_busy(&FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
            ["user1@example.com", "user2@example.com"],
        ))
        .await
        .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-03T11:00:00Z", "2025-03-03T11:30:00Z", "tentative"),
        ]
    );
    assert_eq!(
        rows(answer.accounts[1].result.as_ref().unwrap()),
        vec![row(
            "2025-03-04T13:00:00Z",
            "2025-03-04T14:00:00Z",
            "out_of_office"
        )]
    );
}

/// 250 mailboxes over 120 days: batches of 100 (3) times pieces of at
/// most 42 days (3) = 9 requests, each mailbox with exactly its own items
/// from every piece, answers in request order.
#[tokio::test]
async fn batches_of_100_and_pieces_of_42_days_make_9_requests() {
    let start = ts("2025-01-01T00:00:00Z");
    let day = 86_400;
    let ids: Vec<String> = (0..250)
        .map(|i| format!("user{i:03}@contoso.com"))
        .collect();
    let mut double = AvailabilityDouble::new();
    let own = |i: i64| -> Vec<(i64, i64, &'static str)> {
        // Minute i of days 1, 50 and 100: one event in each piece.
        [1, 50, 100]
            .map(|d| {
                (
                    start + d * day + i * 60,
                    start + d * day + i * 60 + 30,
                    "Busy",
                )
            })
            .to_vec()
    };
    for (i, id) in ids.iter().enumerate() {
        double = double.mailbox(id, &own(i as i64));
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(double.clone())
        .mount(&server)
        .await;
    let answer = source(config(&server))
        .free_busy(&FreeBusyRequest::new(
            window("2025-01-01T00:00:00Z", "2025-05-01T00:00:00Z"),
            ids.clone(),
        ))
        .await
        .unwrap();
    let asked = double.asked();
    assert_eq!(asked.len(), 9, "3 batches x 3 pieces");
    assert_eq!(requests_seen(&server).await.len(), 9);
    let mut sizes: Vec<usize> = asked.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 50, 50, 100, 100, 100, 100, 100, 100]);
    let got: Vec<&str> = answer.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, a) in answer.accounts.iter().enumerate() {
        let busy = a.result.as_ref().unwrap();
        let mine: Vec<(i64, i64)> = busy
            .entries()
            .into_iter()
            .map(|e| (e.interval.start(), e.interval.end()))
            .collect();
        let want: Vec<(i64, i64)> = own(i as i64).into_iter().map(|(s, e, _)| (s, e)).collect();
        assert_eq!(mine, want, "{}", a.account);
    }
}

/// A mailbox asked twice is answered twice; an empty request asks nothing.
#[tokio::test]
async fn duplicates_and_empty_requests() {
    let server = MockServer::start().await;
    let double = AvailabilityDouble::new().mailbox(
        "ada@contoso.com",
        &[(
            ts("2025-03-03T09:00:00Z"),
            ts("2025-03-03T10:00:00Z"),
            "Busy",
        )],
    );
    Mock::given(method("POST"))
        .respond_with(double.clone())
        .mount(&server)
        .await;
    let source = source(config(&server));
    let w = window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z");
    let empty = source
        .free_busy(&FreeBusyRequest::new(w, Vec::<AccountId>::new()))
        .await
        .unwrap();
    assert!(empty.accounts.is_empty());
    assert!(double.asked().is_empty());
    let twice = source
        .free_busy(&FreeBusyRequest::new(
            w,
            ["ada@contoso.com", "ada@contoso.com"],
        ))
        .await
        .unwrap();
    assert_eq!(twice.accounts.len(), 2);
    assert_eq!(
        twice.accounts[0].result.as_ref().unwrap(),
        twice.accounts[1].result.as_ref().unwrap()
    );
}

/// The benchmark fixture (100 mailboxes x 42 days, Exchange 2013 style)
/// reads whole: every mailbox answered, every event inside the window.
#[test]
fn the_100_mailbox_fixture_reads() {
    let body = fixture("availability_100.xml");
    let ids: Vec<AccountId> = (0..100)
        .map(|i| AccountId::new(format!("user{i:03}@contoso.com")))
        .collect();
    let w = window("2025-03-03T00:00:00Z", "2025-04-14T00:00:00Z");
    let answers = ews_provider::fuzzing::availability_busy(body.as_bytes(), &ids, w).unwrap();
    assert_eq!(answers.len(), 100);
    for (_, answer) in &answers {
        let busy = answer.as_ref().unwrap();
        assert!(busy.entries().len() >= 60, "{}", busy.entries().len());
    }
}
