use std::sync::Arc;
use std::time::Duration;

use availability::conformance::{Fixture, check_source};
use availability::{
    AccountId, BusyKind, FreeBusy, FreeBusyRequest, FreeBusySource, SourceErrorKind,
};
use google_provider::{GoogleConfig, RetryConfig, StaticToken};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    account_error, answer_always, answer_once, assert_fails_once, assert_over_the_cap, config,
    first_json_body, one_day, quick_retries, requests_seen, row, rows, source, static_source, ts,
    window,
};
use crate::held::HeldServer;

/// Answers a freeBusy query like Google: one hour busy at 09:00 UTC on
/// the first day of the asked range for every calendar, except ids
/// starting with `missing` (notFound) and `broken` (internalError).
fn echo(request: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(echo_body(&request.body))
}

/// The body [`echo`] answers to a freeBusy query's body.
fn echo_body(request: &[u8]) -> Value {
    let body: Value = serde_json::from_slice(request).unwrap();
    let day = &body["timeMin"].as_str().unwrap()[..10];
    let mut calendars = serde_json::Map::new();
    for item in body["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let answer = if id.starts_with("missing") {
            json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
        } else if id.starts_with("broken") {
            json!({"errors": [{"domain": "global", "reason": "internalError"}], "busy": []})
        } else {
            json!({"busy": [{"start": format!("{day}T09:00:00Z"), "end": format!("{day}T10:00:00Z")}]})
        };
        calendars.insert(id.to_owned(), answer);
    }
    json!({
        "kind": "calendar#freeBusy",
        "timeMin": body["timeMin"],
        "timeMax": body["timeMax"],
        "calendars": calendars,
    })
}

#[tokio::test]
async fn the_request_is_the_documented_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer shared-token"))
        .and(header("content-type", "application/json"))
        .respond_with(echo)
        .expect(1)
        .mount(&server)
        .await;
    let source = static_source(&server);
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
            [
                "ana@example.org",
                "missing@example.org",
                "broken@example.org",
            ],
        ))
        .await
        .unwrap();
    insta::assert_json_snapshot!("freebusy_request", first_json_body(&server).await);
    // The rest of the batch succeeds despite per-calendar errors.
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy")]
    );
    let kind = |i: usize| answer.accounts[i].result.as_ref().unwrap_err().kind();
    assert_eq!(kind(1), SourceErrorKind::NotFound);
    assert_eq!(kind(2), SourceErrorKind::Unavailable);
}

/// 1000 participants sharing a token over 90 days: ceil(1000/50) = 20
/// requests for each of the two 60-day pieces, 4 in flight at once and
/// never more (the server holds each request until 4 are in flight).
#[tokio::test]
async fn a_thousand_participants_go_out_fifty_to_a_request_per_piece() {
    let config = GoogleConfig::default();
    assert_eq!(config.concurrency, 4);
    let held = HeldServer::start(config.concurrency, 40, |_, body| {
        echo_body(body).to_string()
    });
    let source = source(
        Arc::new(StaticToken::new("shared-token")),
        config.base_url(held.uri()).retry(quick_retries()),
    );
    let ids: Vec<String> = (0..1000).map(|i| format!("p{i:04}@example.org")).collect();
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            window("2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z"),
            ids.clone(),
        ))
        .await
        .unwrap();
    let requests = held.requests();
    assert_eq!(requests.len(), 40);
    let mut sizes: Vec<usize> = requests
        .iter()
        .map(|(path, body)| {
            assert_eq!(path, "/calendar/v3/freeBusy");
            let body: Value = serde_json::from_slice(body).unwrap();
            let span =
                ts(body["timeMax"].as_str().unwrap()) - ts(body["timeMin"].as_str().unwrap());
            assert!(span <= 60 * 86_400, "{span}");
            assert_eq!(body["calendarExpansionMax"], 50);
            body["items"].as_array().unwrap().len()
        })
        .collect();
    sizes.dedup();
    assert_eq!(sizes, vec![50]);
    assert_eq!(held.peak(), 4);
    assert!(!held.stalled(), "4 requests were never in flight at once");
    // In request order, each with a busy hour on the first day of both
    // pieces.
    let got: Vec<&str> = answer.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for a in &answer.accounts {
        assert_eq!(a.result.as_ref().unwrap().entries().len(), 2);
    }
}

/// Retry-After is honoured up to the maximum: three retries, so four
/// requests. How long is waited is the retry loop's (`wait_for`'s unit
/// tests in provider-http); here the requests are counted.
#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let server = MockServer::start().await;
    answer_once(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    let rate_limited = json!({
        "error": {"code": 403, "message": "Rate Limit Exceeded",
                  "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded"}]}
    });
    answer_once(
        &server,
        ResponseTemplate::new(403).set_body_json(rate_limited),
    )
    .await;
    answer_once(&server, ResponseTemplate::new(503)).await;
    Mock::given(method("POST"))
        .respond_with(echo)
        .mount(&server)
        .await;
    let answer = static_source(&server)
        .free_busy(&one_day(["ana@example.org"]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    assert_eq!(requests_seen(&server).await.len(), 4);
}

/// A Retry-After longer than the maximum ends the retries at once: one
/// request, and the error carries what was asked.
#[tokio::test]
async fn a_retry_after_over_the_maximum_is_not_waited() {
    let server = MockServer::start().await;
    answer_always(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    let mut retry = quick_retries();
    retry.max_retry_after = Duration::from_millis(500);
    let impatient = source(
        Arc::new(StaticToken::new("shared-token")),
        config(&server).retry(retry),
    );
    let error = account_error(&impatient, "ana@example.org").await;
    assert_eq!(error.kind(), SourceErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(requests_seen(&server).await.len(), 1);
}

#[tokio::test]
async fn other_failures_are_typed_and_not_retried() {
    let cases = vec![
        (
            ResponseTemplate::new(403).set_body_json(json!({
                "error": {"code": 403, "errors": [{"reason": "forbidden"}]}
            })),
            SourceErrorKind::Forbidden,
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "error": {"code": 400, "errors": [{"reason": "timeRangeTooLong"}]}
            })),
            SourceErrorKind::InvalidResponse,
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"calendars\": [not json"),
            SourceErrorKind::InvalidResponse,
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"),
            SourceErrorKind::InvalidResponse,
        ),
    ];
    for (template, kind) in cases {
        assert_fails_once(
            template,
            kind,
            static_source,
            "ana@example.org",
            "shared-token",
        )
        .await;
    }
}

#[tokio::test]
async fn a_slow_server_times_out_and_a_huge_answer_is_refused() {
    let server = MockServer::start().await;
    answer_always(
        &server,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(10)),
    )
    .await;
    let slow = source(
        Arc::new(StaticToken::new("t")),
        config(&server)
            .request_timeout(Duration::from_millis(200))
            .retry(RetryConfig::none()),
    );
    assert_eq!(
        account_error(&slow, "ana@example.org").await.kind(),
        SourceErrorKind::Unavailable
    );
    let capped = |big: &MockServer| {
        let config = config(big).max_response_bytes(10_000);
        source(Arc::new(StaticToken::new("t")), config)
    };
    assert_over_the_cap(100_000, capped, "ana@example.org").await;
}

/// What the conformance peer holds for `ana@example.org`: an hour, a
/// period across the boundary of the 3-day pieces the test's source asks,
/// and one across the end of the window.
const ANA: [(&str, &str); 3] = [
    ("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z"),
    ("2025-03-05T23:00:00Z", "2025-03-06T01:00:00Z"),
    ("2025-03-09T23:00:00Z", "2025-03-10T02:00:00Z"),
];

/// Answers a freeBusy query as Google documents it, from `ANA`: each
/// period overlapping the asked range, as stored (not clipped), and
/// `notFound` for any other calendar.
fn ana_calendar(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let (from, to) = (
        ts(body["timeMin"].as_str().unwrap()),
        ts(body["timeMax"].as_str().unwrap()),
    );
    let mut calendars = serde_json::Map::new();
    for item in body["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let answer = if id == "ana@example.org" {
            let busy: Vec<Value> = ANA
                .iter()
                .filter(|(s, e)| ts(s) < to && ts(e) > from)
                .map(|(s, e)| json!({"start": s, "end": e}))
                .collect();
            json!({"busy": busy})
        } else {
            json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
        };
        calendars.insert(id.to_owned(), answer);
    }
    ResponseTemplate::new(200).set_body_json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": body["timeMin"],
        "timeMax": body["timeMax"],
        "calendars": calendars,
    }))
}

/// `availability`'s conformance checks, against wiremock speaking the
/// documented freeBusy JSON, with pieces of 3 days over a week.
#[tokio::test]
async fn passes_the_conformance_checks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(ana_calendar)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.max_window = Duration::from_secs(3 * 86_400);
    // Small batches, so the over-limit check runs too.
    config.max_calendars_per_request = 4;
    let source = source(Arc::new(StaticToken::new("shared-token")), config);
    let fixture = Fixture {
        window: window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
        known: AccountId::new("ana@example.org"),
        expected: FreeBusy::from_entries([
            (BusyKind::Busy, window(ANA[0].0, ANA[0].1)),
            (BusyKind::Busy, window(ANA[1].0, ANA[1].1)),
            (BusyKind::Busy, window(ANA[2].0, "2025-03-10T00:00:00Z")),
        ]),
        missing: AccountId::new("nobody@example.org"),
    };
    let report = check_source(&source, &fixture).await.unwrap();
    // Every check ran: pieces, the batch limit, kinds (busy only).
    assert!(report.not_run.is_empty(), "{report:?}");
}
