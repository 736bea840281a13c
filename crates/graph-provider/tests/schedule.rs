use std::sync::Arc;
use std::time::Duration;

use availability::conformance::{Fixture, check_source};
use availability::{
    AccountId, BusyKind, FreeBusy, FreeBusyRequest, FreeBusySource, RetryConfig, SourceErrorKind,
    StaticToken,
};
use graph_provider::GraphConfig;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    account_error, answer_always, answer_once, assert_fails_once, assert_over_the_cap, config,
    first_json_body, one_day, quick_retries, requests_seen, row, rows, source, static_source,
    window,
};
use crate::held::HeldServer;

/// The documented response shape, with capitalised statuses, a subject and
/// location that must be dropped, a `customTimeZone` and an unknown
/// address.
fn answer() -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": [
            {
                "scheduleId": "adele@contoso.com",
                "availabilityView": "000220000",
                "scheduleItems": [
                    {"isPrivate": false, "status": "Busy", "subject": "Let's go for lunch", "location": "Harry's Bar",
                     "start": {"dateTime": "2025-03-03T09:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-03T10:00:00.0000000", "timeZone": "UTC"}},
                    {"status": "tentative",
                     "start": {"dateTime": "2025-03-03T11:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-03T11:30:00.0000000", "timeZone": "UTC"}},
                    {"status": "Oof",
                     "start": {"dateTime": "2025-03-04T00:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-05T00:00:00.0000000", "timeZone": "UTC"}},
                    {"status": "workingElsewhere",
                     "start": {"dateTime": "2025-03-05T09:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-05T17:00:00.0000000", "timeZone": "UTC"}},
                    {"status": "Free",
                     "start": {"dateTime": "2025-03-06T09:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-06T10:00:00.0000000", "timeZone": "UTC"}}
                ],
                "workingHours": {
                    "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                    "startTime": "08:00:00.0000000",
                    "endTime": "17:00:00.0000000",
                    "timeZone": {"name": "Pacific Standard Time"}
                }
            },
            {
                "scheduleId": "meganb@contoso.com",
                "availabilityView": "2",
                "scheduleItems": [],
                "workingHours": {
                    "daysOfWeek": ["monday"],
                    "startTime": "09:00:00.0000000",
                    "endTime": "15:00:00.0000000",
                    "timeZone": {"@odata.type": "#microsoft.graph.customTimeZone", "bias": -60,
                                 "name": "Customized Time Zone",
                                 "standardOffset": {"time": "03:00:00.0000000", "dayOccurrence": 5, "dayOfWeek": "sunday", "month": 10, "year": 0},
                                 "daylightOffset": {"daylightBias": -60, "time": "02:00:00.0000000", "dayOccurrence": 5, "dayOfWeek": "sunday", "month": 3, "year": 0}}
                }
            },
            {
                "scheduleId": "nobody@contoso.com",
                "availabilityView": "",
                "error": {"message": "The specified mailbox nobody@contoso.com could not be found", "responseCode": "ErrorMailRecipientNotFound"}
            }
        ]
    })
}

#[tokio::test]
async fn get_schedule_shape_statuses_working_hours_and_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/adele@contoso.com/calendar/getSchedule"))
        .and(header("authorization", "Bearer app-token"))
        .and(header("prefer", "outlook.timezone=\"UTC\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let source = static_source(&server);
    let ids: Vec<AccountId> = [
        "adele@contoso.com",
        "meganb@contoso.com",
        "nobody@contoso.com",
    ]
    .into_iter()
    .map(AccountId::from)
    .collect();
    let reports = source
        .schedules(&ids, window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"))
        .await;
    insta::assert_json_snapshot!("getschedule_request", first_json_body(&server).await);
    let adele = reports[0].1.as_ref().unwrap();
    assert_eq!(
        rows(&adele.busy),
        vec![
            row("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "busy"),
            row("2025-03-03T11:00:00Z", "2025-03-03T11:30:00Z", "tentative"),
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
        ]
    );
    let hours = adele.working_hours.as_ref().unwrap();
    assert_eq!(hours.zone.iana_name(), Some("America/Los_Angeles"));
    assert_eq!(hours.days.len(), 5);
    assert_eq!(hours.start, jiff::civil::time(8, 0, 0, 0));
    let megan = reports[1].1.as_ref().unwrap();
    let custom = megan.working_hours.as_ref().unwrap();
    assert_eq!(
        custom.zone.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds(),
        3600
    );
    assert_eq!(
        reports[2].1.as_ref().unwrap_err().kind(),
        SourceErrorKind::NotFound
    );
    // Nothing of the subject or location is kept anywhere.
    let seen = format!("{reports:?}");
    assert!(!seen.contains("lunch") && !seen.contains("Harry"), "{seen}");
}

/// 45 mailboxes over 100 days: batches of 20 (3) times pieces under 62
/// days (2) = 6 requests.
#[tokio::test]
async fn batches_of_twenty_and_windows_under_62_days() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let value: Vec<Value> = body["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| json!({"scheduleId": s, "scheduleItems": [
                    {"status": "busy", "start": body["startTime"], "end": {"dateTime": body["startTime"]["dateTime"].as_str().unwrap().replace("T00:00:00", "T01:00:00"), "timeZone": "UTC"}}
                ]}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"value": value}))
        })
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..45).map(|i| format!("user{i:02}@contoso.com")).collect();
    let answer = static_source(&server)
        .free_busy(&FreeBusyRequest::new(
            window("2025-01-01T00:00:00Z", "2025-04-11T00:00:00Z"),
            ids.clone(),
        ))
        .await
        .unwrap();
    let requests = requests_seen(&server).await;
    assert_eq!(requests.len(), 6);
    let sixty_days = jiff::SignedDuration::from_hours(60 * 24);
    assert_eq!(
        GraphConfig::default().max_window,
        Duration::from_secs(60 * 86_400)
    );
    for r in &requests {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(body["schedules"].as_array().unwrap().len() <= 20);
        // Each piece spans at most 60 days (Graph refuses 62 or more).
        let at = |key: &str| -> jiff::civil::DateTime {
            assert_eq!(body[key]["timeZone"], "UTC");
            body[key]["dateTime"].as_str().unwrap().parse().unwrap()
        };
        let span = at("startTime").duration_until(at("endTime"));
        assert!(
            span > jiff::SignedDuration::ZERO && span <= sixty_days,
            "a piece of {span:?}"
        );
        let first = body["schedules"][0].as_str().unwrap();
        assert_eq!(
            r.url.path(),
            format!("/v1.0/users/{first}/calendar/getSchedule")
        );
    }
    let got: Vec<&str> = answer.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for a in &answer.accounts {
        assert_eq!(a.result.as_ref().unwrap().entries().len(), 2);
    }
}

#[tokio::test]
async fn throttling_is_retried_and_failures_are_typed() {
    let server = MockServer::start().await;
    let throttled = ResponseTemplate::new(429).insert_header("Retry-After", "1");
    answer_once(&server, throttled).await;
    answer_once(&server, ResponseTemplate::new(503)).await;
    let empty = json!({"value": [{"scheduleId": "adele@contoso.com", "scheduleItems": []}]});
    answer_always(&server, ResponseTemplate::new(200).set_body_json(empty)).await;
    let answer = static_source(&server)
        .free_busy(&one_day(["adele@contoso.com"]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    // Both retried (how long is waited is `wait_for`'s, unit-tested in
    // provider-http): three requests.
    assert_eq!(requests_seen(&server).await.len(), 3);
    // A Retry-After over the maximum ends the retries at once: one
    // request, the error carrying what was asked.
    let server = MockServer::start().await;
    let throttled = ResponseTemplate::new(429).insert_header("Retry-After", "1");
    answer_always(&server, throttled).await;
    let mut retry = quick_retries();
    retry.max_retry_after = Duration::from_millis(500);
    let impatient = source(
        Arc::new(StaticToken::new("app-token")),
        config(&server).retry(retry),
    );
    let error = account_error(&impatient, "adele@contoso.com").await;
    assert_eq!(error.kind(), SourceErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(requests_seen(&server).await.len(), 1);
    for (template, kind) in [
        (
            ResponseTemplate::new(403).set_body_json(
                json!({"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}),
            ),
            SourceErrorKind::Forbidden,
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"value\": [oops"),
            SourceErrorKind::InvalidResponse,
        ),
        (
            ResponseTemplate::new(200).set_delay(Duration::from_secs(10)),
            SourceErrorKind::Unavailable,
        ),
    ] {
        let impatient = |server: &MockServer| {
            let config = config(server)
                .request_timeout(Duration::from_millis(300))
                .retry(RetryConfig::none());
            source(Arc::new(StaticToken::new("app-token")), config)
        };
        assert_fails_once(template, kind, impatient, "adele@contoso.com", "app-token").await;
    }
}

/// Graph allows 4 concurrent requests per mailbox: of ten queries about
/// one mailbox, 4 are in flight at once and never more (the server holds
/// each request until 4 are in flight or all ten have arrived).
#[tokio::test]
async fn at_most_four_requests_per_mailbox_at_once() {
    let config = GraphConfig::default();
    assert_eq!(config.pacing.concurrency, Some(4));
    let held = HeldServer::start(4, 10, |_, _| {
        json!({"value": [{"scheduleId": "adele@contoso.com", "scheduleItems": []}]}).to_string()
    });
    let source = Arc::new(source(
        Arc::new(StaticToken::new("app-token")),
        config
            .base_url(format!("{}/v1.0", held.uri()))
            .retry(quick_retries()),
    ));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            source.free_busy(&one_day(["adele@contoso.com"])).await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap().accounts[0].result.is_ok());
    }
    let requests = held.requests();
    assert_eq!(requests.len(), 10);
    for (path, _) in &requests {
        assert_eq!(path, "/v1.0/users/adele@contoso.com/calendar/getSchedule");
    }
    assert_eq!(held.peak(), 4);
    assert!(!held.stalled(), "4 requests were never in flight at once");
}

#[tokio::test]
async fn a_huge_answer_is_refused() {
    let capped = |server: &MockServer| {
        let config = config(server).max_response_bytes(10_000);
        source(Arc::new(StaticToken::new("app-token")), config)
    };
    assert_over_the_cap(50_000, capped, "adele@contoso.com").await;
}

/// What the conformance peer holds for `adele@contoso.com`: every kind,
/// a free item, a period across the boundary of the 3-day pieces the
/// test's source asks, and one across the end of the window.
const ADELE: [(&str, &str, &str); 5] = [
    ("Busy", "2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z"),
    ("tentative", "2025-03-05T23:00:00Z", "2025-03-06T01:00:00Z"),
    ("Free", "2025-03-07T09:00:00Z", "2025-03-07T10:00:00Z"),
    (
        "workingElsewhere",
        "2025-03-07T12:00:00Z",
        "2025-03-07T17:00:00Z",
    ),
    ("Oof", "2025-03-09T23:00:00Z", "2025-03-10T02:00:00Z"),
];

/// A Graph `dateTimeTimeZone` in UTC for an RFC 3339 `Z` time.
fn graph_time(rfc3339: &str) -> Value {
    let wall = rfc3339.trim_end_matches('Z');
    json!({"dateTime": format!("{wall}.0000000"), "timeZone": "UTC"})
}

/// Answers getSchedule as Graph documents it, from `ADELE`: each item
/// overlapping the asked range, as stored (not clipped), and
/// `ErrorMailRecipientNotFound` for any other address.
fn adele_mailbox(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let utc = |t: &Value| crate::common::ts(&format!("{}Z", t["dateTime"].as_str().unwrap()));
    let (from, to) = (utc(&body["startTime"]), utc(&body["endTime"]));
    let value: Vec<Value> = body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap();
            if id != "adele@contoso.com" {
                return json!({"scheduleId": id, "availabilityView": "",
                    "error": {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"}});
            }
            let items: Vec<Value> = ADELE
                .iter()
                .filter(|(_, s, e)| crate::common::ts(s) < to && crate::common::ts(e) > from)
                .map(|(status, s, e)| {
                    json!({"status": status, "subject": "dropped",
                           "start": graph_time(s), "end": graph_time(e)})
                })
                .collect();
            json!({"scheduleId": id, "availabilityView": "", "scheduleItems": items})
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"value": value}))
}

/// `availability`'s conformance checks, against wiremock speaking the
/// documented getSchedule JSON, with pieces of 3 days over a week.
#[tokio::test]
async fn passes_the_conformance_checks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/adele@contoso.com/calendar/getSchedule"))
        .respond_with(adele_mailbox)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/nobody@contoso.com/calendar/getSchedule"))
        .respond_with(adele_mailbox)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.max_window = Duration::from_secs(3 * 86_400);
    // Small batches, so the over-limit check runs too.
    config.max_schedules_per_request = 4;
    let source = source(Arc::new(StaticToken::new("app-token")), config);
    let at = |i: usize| window(ADELE[i].1, ADELE[i].2);
    let fixture = Fixture {
        window: window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
        known: AccountId::new("adele@contoso.com"),
        expected: FreeBusy::from_entries([
            (BusyKind::Busy, at(0)),
            (BusyKind::Tentative, at(1)),
            (BusyKind::WorkingElsewhere, at(3)),
            (
                BusyKind::OutOfOffice,
                window(ADELE[4].1, "2025-03-10T00:00:00Z"),
            ),
        ]),
        missing: AccountId::new("nobody@contoso.com"),
    };
    let report = check_source(&source, &fixture).await.unwrap();
    // Every check ran: pieces, the batch limit, every kind.
    assert!(report.not_run.is_empty(), "{report:?}");
}
