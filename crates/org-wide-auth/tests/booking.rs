//! Booking through the scheduling account is opt-in per integration: no
//! writer without it; with it, Google's writer token asks for
//! `calendar.events` for the scheduling account only (reads keep
//! `calendar.freebusy`), and Exchange Online's writer shares the app-only
//! token. Google's token endpoint and Calendar API, Microsoft's token
//! endpoint and Graph, as wiremock in their documented shapes:
//! <https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests>,
//! <https://developers.google.com/workspace/calendar/api/v3/reference/events/insert>,
//! <https://learn.microsoft.com/en-us/graph/api/user-post-events>.

use std::sync::{Arc, Mutex};

use availability::{Interval, Meeting, MeetingChange, Person};
use org_wide_auth::{IntegrationKind, ValidationError};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::integrations::{exchange, google, google_echo, graph_token, jwt_claims, org_on, vault};

const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";

pub(crate) fn meeting() -> Meeting {
    Meeting {
        uid: "mtg-7f3c2a".to_owned(),
        sequence: 0,
        interval: Interval::new(1_741_165_200, 1_741_167_900).unwrap(),
        time_zone: "Europe/London".to_owned(),
        title: "Mentoring".to_owned(),
        description: "First session.".to_owned(),
        organiser: Person::new("mentoring@example.org"),
        attendees: vec![
            Person::new("ana@example.org"),
            Person::new("ben@example.org"),
        ],
    }
}

/// A Google server whose token endpoint records each assertion's claims
/// and answers a token named after its scope, refusing the events scope
/// (`unauthorized_client`) when `delegated_events` is false.
async fn google_server(delegated_events: bool) -> (MockServer, Arc<Mutex<Vec<Value>>>) {
    let server = MockServer::start().await;
    let claims = Arc::new(Mutex::new(Vec::new()));
    let seen = claims.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |r: &Request| {
            let c = jwt_claims(r);
            seen.lock().unwrap().push(c.clone());
            if c["scope"] == SCOPE_EVENTS && !delegated_events {
                return ResponseTemplate::new(401).set_body_json(json!({
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
                }));
            }
            let token = if c["scope"] == SCOPE_EVENTS { "ya29.events" } else { "ya29.freebusy" };
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.freebusy"))
        .respond_with(google_echo)
        .mount(&server)
        .await;
    (server, claims)
}

/// Without booking there is no writer; a kind not enabled has neither a
/// writer nor a scheduling account.
#[tokio::test]
async fn no_writer_without_booking() {
    let org = org_on(vault());
    for kind in [
        IntegrationKind::GoogleWorkspace,
        IntegrationKind::ExchangeOnline,
    ] {
        assert!(org.meeting_sender(kind).await.is_none());
        assert_eq!(org.scheduling_account(kind).await, None);
    }
    let (server, claims) = google_server(true).await;
    org.enable_google(google(&server)).await.unwrap();
    assert!(
        org.meeting_sender(IntegrationKind::GoogleWorkspace)
            .await
            .is_none()
    );
    assert_eq!(
        org.scheduling_account(IntegrationKind::GoogleWorkspace)
            .await
            .as_deref(),
        Some("mentoring@example.org")
    );
    // Only the free/busy scope was ever asked for.
    for c in claims.lock().unwrap().iter() {
        assert_eq!(c["scope"], SCOPE_FREEBUSY);
    }

    let server = MockServer::start().await;
    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"scheduleId": "mentoring@example.org", "scheduleItems": []}]})))
        .mount(&server)
        .await;
    org.enable_exchange_online(exchange(&server)).await.unwrap();
    assert!(
        org.meeting_sender(IntegrationKind::ExchangeOnline)
            .await
            .is_none()
    );
}

/// With booking, enabling mints the writer's token (so a delegation
/// without `calendar.events` fails then): `sub` the scheduling account,
/// scope `calendar.events` alone. Reads keep `calendar.freebusy`. The
/// writer books on the scheduling account's calendar with that token.
#[tokio::test]
async fn google_booking_asks_calendar_events_for_the_scheduling_account_only() {
    let (server, claims) = google_server(true).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/mentoring@example.org/events"))
        .and(query_param("sendUpdates", "all"))
        .and(header("authorization", "Bearer ya29.events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "evt0001", "iCalUID": "mtg-7f3c2a"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let org = org_on(vault());
    org.enable_google(google(&server).with_booking(true))
        .await
        .unwrap();
    {
        let claims = claims.lock().unwrap();
        let writer: Vec<&Value> = claims
            .iter()
            .filter(|c| c["scope"] == SCOPE_EVENTS)
            .collect();
        assert_eq!(writer.len(), 1, "{claims:?}");
        assert_eq!(writer[0]["sub"], "mentoring@example.org");
        for c in claims.iter().filter(|c| c["scope"] != SCOPE_EVENTS) {
            assert_eq!(c["scope"], SCOPE_FREEBUSY);
        }
    }
    let sender = org
        .meeting_sender(IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    assert_eq!(sender.via(), "google");
    let delivered = sender
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap();
    assert_eq!(delivered.event.as_deref(), Some("evt0001"));
    // The token minted when enabling is the one used: no second mint.
    let mints = claims
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c["scope"] == SCOPE_EVENTS)
        .count();
    assert_eq!(mints, 1);
    assert!(
        org.meeting_sender(IntegrationKind::ExchangeOnline)
            .await
            .is_none()
    );
}

/// A delegation without `calendar.events` refuses booking when enabling:
/// the reason names the scope, and nothing is stored.
#[tokio::test]
async fn google_booking_without_the_delegated_scope_is_refused() {
    let (server, _) = google_server(false).await;
    let org = org_on(vault());
    let config = google(&server).with_booking(true);
    let err = org.validate_google(&config).await.unwrap_err();
    assert!(matches!(err, ValidationError::NotAuthorised(_)), "{err}");
    assert!(err.to_string().contains(SCOPE_EVENTS), "{err}");
    assert!(org.enable_google(config).await.is_err());
    assert!(!org.has_secret(IntegrationKind::GoogleWorkspace).await);
    assert!(
        org.meeting_sender(IntegrationKind::GoogleWorkspace)
            .await
            .is_none()
    );
    // Without booking the same delegation is enough.
    org.enable_google(google(&server)).await.unwrap();
}

/// Exchange Online with booking: the writer posts to the scheduling
/// account's mailbox with the one app-only token the reads use.
#[tokio::test]
async fn exchange_booking_posts_to_the_scheduling_mailbox() {
    let server = MockServer::start().await;
    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"scheduleId": "mentoring@example.org", "scheduleItems": []}]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/mentoring@example.org/events"))
        .and(header("authorization", "Bearer eyJ.app"))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["transactionId"], "mtg-7f3c2a");
            ResponseTemplate::new(201).set_body_json(json!({"id": "AAMkAGI1AAAt9AHjAAA="}))
        })
        .expect(1)
        .mount(&server)
        .await;
    let org = org_on(vault());
    org.enable_exchange_online(exchange(&server).with_booking(true))
        .await
        .unwrap();
    let sender = org
        .meeting_sender(IntegrationKind::ExchangeOnline)
        .await
        .unwrap();
    assert_eq!(sender.via(), "graph");
    let delivered = sender
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap();
    assert_eq!(delivered.event.as_deref(), Some("AAMkAGI1AAAt9AHjAAA="));
    assert_eq!(
        org.scheduling_account(IntegrationKind::ExchangeOnline)
            .await
            .as_deref(),
        Some("mentoring@example.org")
    );
    assert!(
        org.meeting_sender(IntegrationKind::GoogleWorkspace)
            .await
            .is_none()
    );
}
