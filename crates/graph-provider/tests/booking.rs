//! Booking through the scheduling account's mailbox: create, update and
//! cancel against wiremock answering the documented shapes.
//! <https://learn.microsoft.com/en-us/graph/api/user-post-events>,
//! <https://learn.microsoft.com/en-us/graph/api/event-update>,
//! <https://learn.microsoft.com/en-us/graph/api/event-cancel>,
//! errors and throttling: <https://learn.microsoft.com/en-us/graph/errors>,
//! <https://learn.microsoft.com/en-us/graph/throttling>

use std::sync::Arc;
use std::time::Duration;

use availability::{
    Delivered, Interval, Meeting, MeetingChange, MeetingSender, Person, RetryConfig, SourceError,
    SourceErrorKind, StaticToken,
};
use graph_provider::GraphEvents;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{config, requests_seen};

const ACCOUNT: &str = "mentoring@contoso.com";
const EVENTS: &str = "/v1.0/users/mentoring@contoso.com/events";
const ADDRESSES: [&str; 4] = [
    ACCOUNT,
    "adele@contoso.com",
    "megan@contoso.com",
    "lee@contoso.com",
];
/// A Graph event id, in its documented shape.
const EVENT_ID: &str = "AAMkAGI1AAAt9AHjAAA=";

fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn meeting() -> Meeting {
    Meeting {
        uid: "mtg-7f3c2a".to_owned(),
        sequence: 0,
        interval: Interval::new(ts("2025-03-05T09:00:00Z"), ts("2025-03-05T09:45:00Z")).unwrap(),
        time_zone: "Europe/London".to_owned(),
        title: "Mentoring: Adele and Megan".to_owned(),
        description: "First session of the spring program.".to_owned(),
        organiser: Person::new(ACCOUNT).named("Mentoring program"),
        attendees: vec![
            Person::new("adele@contoso.com").named("Adele Vance"),
            Person::new("megan@contoso.com"),
        ],
    }
}

fn events(server: &MockServer) -> GraphEvents {
    GraphEvents::new(
        Arc::new(StaticToken::new("eyJ.app")),
        ACCOUNT,
        config(server),
    )
    .unwrap()
}

fn body(request: &wiremock::Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// The created event as Graph answers it (abridged from the doc's
/// example response).
fn created() -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('mentoring%40contoso.com')/events/$entity",
        "id": EVENT_ID,
        "iCalUId": "040000008200E00074C5B7101A82E0080000000028CEBE04",
        "subject": "Mentoring: Adele and Megan",
        "showAs": "busy",
        "transactionId": "mtg-7f3c2a",
        "organizer": {"emailAddress": {"name": "Mentoring program", "address": ACCOUNT}}
    })
}

/// Create, move (with a third attendee), cancel: the documented calls and
/// paths, the bodies pinned, `transactionId` = the UID, the event's id
/// kept.
#[tokio::test]
async fn create_update_cancel_through_the_scheduling_account() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EVENTS))
        .and(header("authorization", "Bearer eyJ.app"))
        .and(body_partial_json(json!({"transactionId": "mtg-7f3c2a"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(created()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{EVENTS}/{EVENT_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(created()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{EVENTS}/{EVENT_ID}/cancel")))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let sender = events(&server);
    assert_eq!(sender.via(), "graph");
    assert_eq!(sender.scheduling_account(), ACCOUNT);

    let mut meeting = meeting();
    let made = sender.send(&meeting, &MeetingChange::Create).await.unwrap();
    assert_eq!(
        made,
        Delivered {
            via: "graph",
            event: Some(EVENT_ID.to_owned())
        }
    );

    meeting.sequence = 1;
    meeting.interval =
        Interval::new(ts("2025-03-06T14:00:00Z"), ts("2025-03-06T14:45:00Z")).unwrap();
    meeting.attendees.push(Person::new("lee@contoso.com"));
    let update = MeetingChange::Update {
        event: made.event.clone(),
    };
    let moved = sender.send(&meeting, &update).await.unwrap();
    assert_eq!(moved.event.as_deref(), Some(EVENT_ID));

    meeting.sequence = 2;
    let cancel = MeetingChange::Cancel {
        event: made.event.clone(),
    };
    let cancelled = sender.send(&meeting, &cancel).await.unwrap();
    assert_eq!(cancelled.event.as_deref(), Some(EVENT_ID));

    let seen = requests_seen(&server).await;
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].url.path(), EVENTS);
    assert_eq!(body(&seen[0])["transactionId"], "mtg-7f3c2a");
    insta::assert_json_snapshot!("graph_create_request", body(&seen[0]));
    insta::assert_json_snapshot!("graph_update_request", body(&seen[1]));
    insta::assert_json_snapshot!("graph_cancel_request", body(&seen[2]));
}

/// A cancellation of an event already gone (404) is done; an update or a
/// cancellation without an event id is refused before any call.
#[tokio::test]
async fn gone_is_cancelled_and_no_event_id_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{EVENTS}/{EVENT_ID}/cancel")))
        .respond_with(graph_error(404, "ErrorItemNotFound"))
        .expect(1)
        .mount(&server)
        .await;
    let sender = events(&server).with_cancel_comment("Cancelled by the program.");
    let cancel = MeetingChange::Cancel {
        event: Some(EVENT_ID.to_owned()),
    };
    assert!(sender.send(&meeting(), &cancel).await.is_ok());
    assert_eq!(
        body(&requests_seen(&server).await[0]),
        json!({"comment": "Cancelled by the program."})
    );
    for change in [
        MeetingChange::Update { event: None },
        MeetingChange::Cancel { event: None },
    ] {
        let err = sender.send(&meeting(), &change).await.unwrap_err();
        assert_eq!(err.kind(), SourceErrorKind::NotFound, "{err}");
    }
    assert_eq!(requests_seen(&server).await.len(), 1);
}

/// Graph's error envelope, with addresses in its message as Exchange
/// sometimes writes them (they must not reach our errors).
fn graph_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "code": code,
        "message": "mentoring@contoso.com cannot invite adele@contoso.com",
        "innerError": {"date": "2025-03-05T09:00:00", "request-id": "b1b2", "client-request-id": "b1b2"}
    }}))
}

fn assert_no_address(err: &SourceError) {
    let text = format!("{err} {err:?}");
    for address in ADDRESSES {
        assert!(!text.contains(address), "{address} in {text}");
    }
}

async fn create_error(template: ResponseTemplate) -> (SourceError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EVENTS))
        .respond_with(template)
        .mount(&server)
        .await;
    let err = events(&server)
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap_err();
    assert_no_address(&err);
    (err, requests_seen(&server).await.len())
}

const RETRIES: usize = 3;

/// 401 (after one refresh), 403 (no `Calendars.ReadWrite`, or an
/// application access policy leaving the mailbox out), 500 and 503
/// (retried: `transactionId` makes the create safe to repeat): typed
/// errors, none carrying an address.
#[tokio::test]
async fn statuses_are_typed_and_name_no_address() {
    assert_eq!(RetryConfig::default().max_retries as usize, RETRIES);
    let (err, calls) = create_error(graph_error(401, "InvalidAuthenticationToken")).await;
    assert_eq!((err.kind(), calls), (SourceErrorKind::Unauthorized, 2));
    let (err, calls) = create_error(graph_error(403, "ErrorAccessDenied")).await;
    assert_eq!((err.kind(), calls), (SourceErrorKind::Forbidden, 1));
    assert!(err.message().contains("ErrorAccessDenied"), "{err}");
    for (status, code) in [(500, "generalException"), (503, "serviceNotAvailable")] {
        let (err, calls) =
            create_error(graph_error(status, code).insert_header("Retry-After", "0")).await;
        assert_eq!(
            (err.kind(), calls),
            (SourceErrorKind::Unavailable, 1 + RETRIES)
        );
    }
}

/// 429 with `Retry-After`: waited for and retried a bounded number of
/// times; a wait longer than the retries allow ends them at once, and the
/// error carries it.
#[tokio::test]
async fn throttling_is_retried_a_bounded_number_of_times() {
    let (err, calls) =
        create_error(graph_error(429, "ApplicationThrottled").insert_header("Retry-After", "120"))
            .await;
    assert_eq!(err.kind(), SourceErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(calls, 1);
    let (err, calls) =
        create_error(graph_error(429, "ApplicationThrottled").insert_header("Retry-After", "0"))
            .await;
    assert_eq!(err.kind(), SourceErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(calls, 1 + RETRIES);
}

/// A 2xx that is not an event with an id is an invalid response.
#[tokio::test]
async fn a_created_event_without_an_id_is_invalid() {
    for template in [
        ResponseTemplate::new(201).set_body_json(json!({"subject": "x", "showAs": "busy"})),
        ResponseTemplate::new(201).set_body_json(json!({"id": ""})),
        ResponseTemplate::new(201).set_body_string("{\"id\": \"AAMk\""),
        ResponseTemplate::new(201).set_body_string("adele@contoso.com"),
    ] {
        let (err, calls) = create_error(template).await;
        assert_eq!((err.kind(), calls), (SourceErrorKind::InvalidResponse, 1));
    }
}
