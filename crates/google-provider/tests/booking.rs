//! Booking through the scheduling account: `events.insert`, `events.patch`
//! and `events.delete` against wiremock answering the documented shapes.
//! <https://developers.google.com/workspace/calendar/api/v3/reference/events/insert>,
//! <https://developers.google.com/workspace/calendar/api/v3/reference/events/patch>,
//! <https://developers.google.com/workspace/calendar/api/v3/reference/events/delete>,
//! errors: <https://developers.google.com/workspace/calendar/api/guides/errors>

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountId, Delivered, Interval, Meeting, MeetingChange, MeetingSender, Person,
    SourceError, SourceErrorKind, StaticToken, TokenSource,
};
use google_provider::{GoogleEvents, RetryConfig};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{config, requests_seen, ts};

const ACCOUNT: &str = "mentoring@example.org";
const EVENTS: &str = "/calendar/v3/calendars/mentoring@example.org/events";
const ADDRESSES: [&str; 4] = [
    ACCOUNT,
    "ana@example.org",
    "ben@example.org",
    "cleo@example.org",
];

fn meeting() -> Meeting {
    Meeting {
        uid: "mtg-7f3c2a".to_owned(),
        sequence: 0,
        interval: Interval::new(ts("2025-03-05T09:00:00Z"), ts("2025-03-05T09:45:00Z")).unwrap(),
        time_zone: "Europe/London".to_owned(),
        title: "Mentoring: Ana and Ben".to_owned(),
        description: "First session of the spring program.".to_owned(),
        organiser: Person::new(ACCOUNT).named("Mentoring program"),
        attendees: vec![
            Person::new("ana@example.org").named("Ana"),
            Person::new("ben@example.org"),
        ],
    }
}

fn events(server: &MockServer) -> GoogleEvents {
    GoogleEvents::new(
        Arc::new(StaticToken::new("ya29.writer")),
        ACCOUNT,
        config(server),
    )
    .unwrap()
}

fn body(request: &wiremock::Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Create, move (with a third attendee), cancel: the documented calls, the
/// bodies pinned, `sendUpdates=all` on each, the insert's `id` kept.
#[tokio::test]
async fn create_update_cancel_through_the_scheduling_account() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EVENTS))
        .and(query_param("sendUpdates", "all"))
        .and(header("authorization", "Bearer ya29.writer"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "evt0001", "status": "confirmed",
            "iCalUID": "mtg-7f3c2a", "sequence": 0,
            "htmlLink": "https://www.google.com/calendar/event?eid=ZXZ0MDAwMQ",
            "organizer": {"email": ACCOUNT, "self": true}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{EVENTS}/evt0001")))
        .and(query_param("sendUpdates", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "evt0001", "sequence": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{EVENTS}/evt0001")))
        .and(query_param("sendUpdates", "all"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let sender = events(&server);
    assert_eq!(sender.via(), "google");
    assert_eq!(sender.scheduling_account(), ACCOUNT);

    let mut meeting = meeting();
    let created = sender.send(&meeting, &MeetingChange::Create).await.unwrap();
    assert_eq!(
        created,
        Delivered {
            via: "google",
            event: Some("evt0001".to_owned())
        }
    );

    meeting.sequence = 1;
    meeting.interval =
        Interval::new(ts("2025-03-06T14:00:00Z"), ts("2025-03-06T14:45:00Z")).unwrap();
    meeting.attendees.push(Person::new("cleo@example.org"));
    let update = MeetingChange::Update {
        event: created.event.clone(),
    };
    let moved = sender.send(&meeting, &update).await.unwrap();
    assert_eq!(moved.event.as_deref(), Some("evt0001"));

    meeting.sequence = 2;
    let cancel = MeetingChange::Cancel {
        event: created.event.clone(),
    };
    let cancelled = sender.send(&meeting, &cancel).await.unwrap();
    assert_eq!(cancelled.event.as_deref(), Some("evt0001"));

    let seen = requests_seen(&server).await;
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(request.url.query(), Some("sendUpdates=all"));
    }
    insta::assert_json_snapshot!("google_insert_request", body(&seen[0]));
    insta::assert_json_snapshot!("google_patch_request", body(&seen[1]));
    assert!(seen[2].body.is_empty(), "a delete has no body");
}

/// An event already deleted (410 Gone) is cancelled; an update or a
/// cancellation without an event id is refused before any call.
#[tokio::test]
async fn gone_is_cancelled_and_no_event_id_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{EVENTS}/evt0001")))
        .respond_with(ResponseTemplate::new(410).set_body_json(json!({"error": {
            "code": 410, "message": "Resource has been deleted",
            "errors": [{"domain": "global", "reason": "deleted", "message": "Resource has been deleted"}]
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let sender = events(&server);
    let cancel = MeetingChange::Cancel {
        event: Some("evt0001".to_owned()),
    };
    assert!(sender.send(&meeting(), &cancel).await.is_ok());
    for change in [
        MeetingChange::Update { event: None },
        MeetingChange::Cancel { event: None },
    ] {
        let err = sender.send(&meeting(), &change).await.unwrap_err();
        assert_eq!(err.kind(), SourceErrorKind::NotFound, "{err}");
    }
    assert_eq!(requests_seen(&server).await.len(), 1);
}

/// Google's error envelope, with the addresses in its message as Google
/// sometimes writes them (they must not reach our errors).
fn google_error(status: u16, reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "code": status,
        "message": format!("{reason} for mentoring@example.org inviting ana@example.org"),
        "errors": [{"domain": "global", "reason": reason,
                    "message": "ana@example.org ben@example.org"}]
    }}))
}

fn assert_no_address(err: &SourceError) {
    let text = format!("{err} {err:?}");
    for address in ADDRESSES {
        assert!(!text.contains(address), "{address} in {text}");
    }
}

async fn insert_error(template: ResponseTemplate) -> (SourceError, usize) {
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

/// 401 (after one refresh), 403 without a rate-limit reason (the scope is
/// missing), 500 and 503: typed errors, none carrying an address. Insert
/// is not sent again after a 5xx: the event may exist.
#[tokio::test]
async fn statuses_of_an_insert_are_typed_and_a_5xx_is_not_retried() {
    let (err, calls) = insert_error(google_error(401, "authError")).await;
    assert_eq!((err.kind(), calls), (SourceErrorKind::Unauthorized, 2));
    let (err, calls) = insert_error(google_error(403, "insufficientPermissions")).await;
    assert_eq!((err.kind(), calls), (SourceErrorKind::Forbidden, 1));
    for status in [500, 503] {
        let (err, calls) = insert_error(google_error(status, "backendError")).await;
        assert_eq!((err.kind(), calls), (SourceErrorKind::Unavailable, 1));
    }
}

/// A 429 (or 403 `rateLimitExceeded`) did nothing, so insert is retried,
/// a bounded number of times; a `Retry-After` longer than the retries
/// wait for ends them at once, and the error carries the wait.
#[tokio::test]
async fn throttled_inserts_are_retried_a_bounded_number_of_times() {
    let (err, calls) =
        insert_error(google_error(429, "rateLimitExceeded").insert_header("Retry-After", "3600"))
            .await;
    assert_eq!(err.kind(), SourceErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(calls, 1);
    let (err, calls) =
        insert_error(google_error(429, "rateLimitExceeded").insert_header("Retry-After", "0"))
            .await;
    assert_eq!(err.kind(), SourceErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert_eq!(calls, 1 + RetryConfig::default().max_retries as usize);
    let (err, calls) = insert_error(google_error(403, "userRateLimitExceeded")).await;
    assert_eq!(err.kind(), SourceErrorKind::RateLimited);
    assert_eq!(calls, 1 + RetryConfig::default().max_retries as usize);
}

/// A second insert of the same `iCalUID` is refused with 409 `duplicate`
/// (the documented body): one call, a typed error, no address, also when
/// Google's message names them.
/// <https://developers.google.com/workspace/calendar/api/guides/errors#409_the_requested_identifier_already_exists>
#[tokio::test]
async fn a_duplicate_insert_is_refused_once_and_typed() {
    let documented = ResponseTemplate::new(409).set_body_json(json!({"error": {
        "errors": [{"domain": "global", "reason": "duplicate",
                    "message": "The requested identifier already exists."}],
        "code": 409,
        "message": "The requested identifier already exists."
    }}));
    for template in [documented, google_error(409, "duplicate")] {
        let (err, calls) = insert_error(template).await;
        assert_eq!(
            (err.kind(), calls),
            (SourceErrorKind::InvalidResponse, 1),
            "{err}"
        );
    }
}

/// A patch is idempotent: a 503 is retried, then returned as unavailable.
#[tokio::test]
async fn a_patch_is_retried_on_503() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{EVENTS}/evt0001")))
        .respond_with(google_error(503, "backendError").insert_header("Retry-After", "0"))
        .mount(&server)
        .await;
    let update = MeetingChange::Update {
        event: Some("evt0001".to_owned()),
    };
    let err = events(&server).send(&meeting(), &update).await.unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Unavailable);
    assert_no_address(&err);
    assert_eq!(
        requests_seen(&server).await.len(),
        1 + RetryConfig::default().max_retries as usize
    );
}

/// A 200 that is not an Event with an id is an invalid response.
#[tokio::test]
async fn an_insert_answer_without_an_id_is_invalid() {
    for template in [
        ResponseTemplate::new(200)
            .set_body_json(json!({"kind": "calendar#event", "status": "confirmed"})),
        ResponseTemplate::new(200).set_body_json(json!({"id": ""})),
        ResponseTemplate::new(200).set_body_string("{\"id\": \"evt0001\""),
        ResponseTemplate::new(200).set_body_string("<html>ana@example.org</html>"),
    ] {
        let (err, calls) = insert_error(template).await;
        assert_eq!((err.kind(), calls), (SourceErrorKind::InvalidResponse, 1));
    }
}

/// A token source whose refusal names the account it was asked for (as
/// Google's `invalid_grant` explanation does).
#[derive(Debug)]
struct Refusing;

#[async_trait]
impl TokenSource for Refusing {
    async fn token(&self, account: &AccountId) -> Result<AccessToken, SourceError> {
        Err(SourceError::NotFound {
            message: format!(
                "Google refused to impersonate {}",
                account.as_str().to_uppercase()
            ),
        })
    }
}

/// The token source's explanation keeps its kind but loses the address.
#[tokio::test]
async fn a_token_refusal_names_no_address() {
    let server = MockServer::start().await;
    let sender = GoogleEvents::new(Arc::new(Refusing), ACCOUNT, config(&server)).unwrap();
    let err = sender
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "Google refused to impersonate [address]",
        "{err}"
    );
    assert!(requests_seen(&server).await.is_empty());
}
