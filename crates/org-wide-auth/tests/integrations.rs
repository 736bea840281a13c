use std::sync::Arc;

use availability::{BusyEntry, BusyKind, FixedClock, FreeBusyRequest, Interval};
use credential_vault::{AppSecret, KeyId, KeyRing, MasterKey, MemoryStore, SecretString, Vault};
use ews_provider::AuthMethod;
use ews_provider::test_support::AvailabilityDouble;
use org_wide_auth::{
    CONNECTED_THROUGH_ORGANISATION, Coverage, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace,
    IntegrationKind, OrgAuth, OrgError, ReadAs, ValidationError,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// An in-memory vault (shared by the instances of a restart test).
pub(crate) fn vault() -> Arc<Vault> {
    Arc::new(Vault::new(
        Arc::new(MemoryStore::new()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
    ))
}

/// An instance keeping its secrets in `vault`.
pub(crate) fn org_on(vault: Arc<Vault>) -> OrgAuth {
    OrgAuth::new(
        vault,
        Arc::new(FixedClock::new("2025-03-03T08:00:00Z".parse().unwrap())),
    )
}

fn org() -> OrgAuth {
    org_on(vault())
}

pub(crate) fn key() -> SecretString {
    SecretString::new(
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/test-service-account.json"),
        )
        .unwrap(),
    )
}

/// An EWS endpoint on wiremock answering `double`.
pub(crate) async fn ews_server(double: AvailabilityDouble) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/EWS/Exchange.asmx"))
        .respond_with(double)
        .mount(&server)
        .await;
    server
}

/// Exchange on-premise at `server`, Basic (plain HTTP is allowed to
/// loopback only, for tests), covering example.org.
pub(crate) fn on_premise(server: &MockServer) -> ExchangeOnPremise {
    ExchangeOnPremise::new(
        format!("{}/EWS/Exchange.asmx", server.uri()),
        "CORP\\scheduler",
        SecretString::new("Winter-2026!".to_owned()),
        "mentoring@example.org",
        Coverage::domains(["example.org"]),
    )
    .with_auth(AuthMethod::Basic)
}

pub(crate) fn participants() -> Vec<String> {
    (0..1000).map(|i| format!("p{i:04}@example.org")).collect()
}

pub(crate) fn week() -> Interval {
    Interval::new(1_740_960_000, 1_741_564_800).unwrap()
}

/// A Google freeBusy answer with nothing busy for every asked calendar.
pub(crate) fn google_echo(r: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let calendars: serde_json::Map<String, Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), json!({"busy": []})))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"calendars": calendars}))
}

pub(crate) fn google(server: &MockServer) -> GoogleWorkspace {
    GoogleWorkspace::new(
        key(),
        "mentoring@example.org",
        Coverage::domains(["example.org"]).allow(["guest@partner.example"]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri())
}

/// The claims of the JWT assertion a Google token request carries.
pub(crate) fn jwt_claims(r: &Request) -> Value {
    use base64::Engine as _;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
    let assertion = &form.iter().find(|(k, _)| k == "assertion").unwrap().1;
    let claims = assertion.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap()
}

fn jwt_sub(r: &Request) -> String {
    jwt_claims(r)["sub"].as_str().unwrap().to_owned()
}

/// Enabled after one real call; 1000 participants resolve to it and are
/// read through the scheduling account, 50 calendars to a request.
#[tokio::test]
async fn google_workspace_through_the_scheduling_account_for_a_thousand_participants() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|r: &Request| {
            assert_eq!(jwt_sub(r), "mentoring@example.org");
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(google_echo)
        .mount(&server)
        .await;
    let org = org();
    org.enable_google(google(&server).read_as(ReadAs::SchedulingAccount))
        .await
        .unwrap();
    assert!(org.has_secret(IntegrationKind::GoogleWorkspace).await);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "token + one probe"
    );

    let everyone = participants();
    for email in &everyone {
        assert_eq!(
            org.resolve(email).await,
            Some(IntegrationKind::GoogleWorkspace)
        );
    }
    assert_eq!(
        org.resolve("GUEST@partner.example").await,
        Some(IntegrationKind::GoogleWorkspace)
    );
    assert_eq!(org.resolve("someone@elsewhere.example").await, None);
    assert_eq!(
        CONNECTED_THROUGH_ORGANISATION,
        "Connected through your organisation"
    );

    let source = org.source(IntegrationKind::GoogleWorkspace).await.unwrap();
    let answer = source
        .free_busy(&FreeBusyRequest::new(week(), everyone.clone()))
        .await
        .unwrap();
    assert!(answer.accounts.iter().all(|a| a.result.is_ok()));
    let free_busy_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/calendar/v3/freeBusy")
        .count();
    // One probe, then ceil(1000 / 50) = 20 for the one-week window.
    assert_eq!(free_busy_calls, 1 + 20);
}

/// The default impersonates each participant (`sub` = their email): one
/// token per subject, cached, and one request per participant.
#[tokio::test]
async fn google_workspace_impersonating_each_participant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|r: &Request| {
            let sub = jwt_sub(r);
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("ya29.{sub}"), "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let id = body["items"][0]["id"].as_str().unwrap().to_owned();
            let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
            assert_eq!(auth, format!("Bearer ya29.{id}"));
            assert_eq!(body["items"].as_array().unwrap().len(), 1);
            google_echo(r)
        })
        .mount(&server)
        .await;
    let org = org();
    org.enable_google(google(&server)).await.unwrap();
    let some: Vec<String> = participants().into_iter().take(100).collect();
    let source = org.source(IntegrationKind::GoogleWorkspace).await.unwrap();
    for _ in 0..2 {
        let answer = source
            .free_busy(&FreeBusyRequest::new(week(), some.clone()))
            .await
            .unwrap();
        assert!(answer.accounts.iter().all(|a| a.result.is_ok()));
    }
    let requests = server.received_requests().await.unwrap();
    let tokens = requests.iter().filter(|r| r.url.path() == "/token").count();
    let queries = requests
        .iter()
        .filter(|r| r.url.path() == "/calendar/v3/freeBusy")
        .count();
    // The scheduling account and 100 participants, each minted once.
    assert_eq!(tokens, 101);
    assert_eq!(queries, 1 + 200);
}

#[tokio::test]
async fn google_validation_explains_and_stores_nothing() {
    for (error, expected) in [
        ("unauthorized_client", "not authorised"),
        ("invalid_grant", "user not found"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": error})))
            .mount(&server)
            .await;
        let org = org();
        let err = org.enable_google(google(&server)).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!org.has_secret(IntegrationKind::GoogleWorkspace).await);
        assert_eq!(org.resolve("p0001@example.org").await, None);
        assert!(org.status().await.is_empty());
    }
    let org = org();
    let mut broken = google(&MockServer::start().await);
    broken.service_account_key = SecretString::new("{\"client_email\": 1}".to_owned());
    assert!(matches!(
        org.validate_google(&broken).await,
        Err(ValidationError::BadCredentials(_))
    ));
}

pub(crate) fn exchange(server: &MockServer) -> ExchangeOnline {
    ExchangeOnline::new(
        "contoso.onmicrosoft.com",
        "11111111-2222-3333-4444-555555555555",
        AppSecret::ClientSecret(SecretString::new("app-secret".to_owned())),
        "mentoring@example.org",
        Coverage::domains(["example.org"]),
    )
    .endpoints(server.uri(), format!("{}/v1.0", server.uri()))
}

pub(crate) async fn graph_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app"
        })))
        .expect(1)
        .mount(server)
        .await;
}

/// Mailbox `p{i:04}`'s one item: five minutes from `i` times ten minutes
/// into `week()` (Monday 3 March 2025), its status cycling through four of
/// getSchedule's (`busy`, `tentative`, `oof`, `workingElsewhere`).
fn mailbox_item(i: usize) -> (i64, &'static str, BusyKind) {
    let start = week().start() + i64::try_from(i).unwrap() * 600;
    let (status, kind) = [
        ("busy", BusyKind::Busy),
        ("tentative", BusyKind::Tentative),
        ("oof", BusyKind::OutOfOffice),
        ("workingElsewhere", BusyKind::WorkingElsewhere),
    ][i % 4];
    (start, status, kind)
}

/// A UTC `dateTimeTimeZone` within March 2025, as Graph writes it with
/// `Prefer: outlook.timezone="UTC"`.
fn graph_utc(t: i64) -> Value {
    let since = t - week().start();
    let (day, rest) = (since / 86_400, since % 86_400);
    json!({
        "dateTime": format!("2025-03-{:02}T{:02}:{:02}:00.0000000", 3 + day, rest / 3600, rest % 3600 / 60),
        "timeZone": "UTC"
    })
}

/// getSchedule as documented
/// (https://learn.microsoft.com/en-us/graph/api/calendar-getschedule):
/// each asked mailbox `p{i:04}@example.org` answers its own
/// [`mailbox_item`], with a subject and location that must be dropped;
/// others answer nothing busy.
fn schedules_of_their_own(r: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let value: Vec<Value> = body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s.as_str().unwrap();
            let items = match id
                .strip_prefix('p')
                .and_then(|rest| rest.strip_suffix("@example.org"))
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(i) => {
                    let (start, status, _) = mailbox_item(i);
                    vec![json!({
                        "isPrivate": false, "status": status,
                        "subject": "Private matter", "location": "Room 1",
                        "start": graph_utc(start), "end": graph_utc(start + 300)
                    })]
                }
                None => Vec::new(),
            };
            json!({"scheduleId": id, "availabilityView": "0", "scheduleItems": items})
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"value": value}))
}

/// App-only Graph: one token for the tenant, 1000 mailboxes as 50
/// getSchedule requests of 20, each mailbox answered with its own item.
#[tokio::test]
async fn exchange_online_end_to_end_for_a_thousand_participants() {
    let server = MockServer::start().await;
    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v1\.0/users/[^/]+/calendar/getSchedule$"))
        .respond_with(schedules_of_their_own)
        .mount(&server)
        .await;
    let org = org();
    let config = exchange(&server);
    assert!(
        config
            .admin_consent_url("https://assistant.example/consent", "s")
            .contains("/contoso.onmicrosoft.com/v2.0/adminconsent?client_id=11111111")
    );
    org.enable_exchange_online(config).await.unwrap();
    let everyone = participants();
    let made = org.connect_automatically(&everyone).await;
    assert_eq!(made.len(), 1000);
    let source = org.source(IntegrationKind::ExchangeOnline).await.unwrap();
    let answer = source
        .free_busy(&FreeBusyRequest::new(week(), everyone.clone()))
        .await
        .unwrap();
    assert_eq!(answer.accounts.len(), 1000);
    for (i, (asked, a)) in everyone.iter().zip(&answer.accounts).enumerate() {
        assert_eq!(a.account.as_str(), asked);
        let (start, _, kind) = mailbox_item(i);
        let entries = a.result.as_ref().unwrap().entries();
        assert_eq!(
            entries,
            vec![BusyEntry {
                interval: Interval::new(start, start + 300).unwrap(),
                kind
            }],
            "{asked}"
        );
    }
    let schedule_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/getSchedule"))
        .count();
    assert_eq!(schedule_calls, 1 + 50);
}

#[tokio::test]
async fn exchange_online_validation_names_missing_consent_and_unknown_users() {
    let cases = [
        (
            ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}})),
            "not authorised",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"scheduleId": "mentoring@example.org",
                "error": {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"}}]})),
            "user not found",
        ),
    ];
    for (template, expected) in cases {
        let server = MockServer::start().await;
        graph_token(&server).await;
        Mock::given(method("POST"))
            .and(path_regex(r"/getSchedule$"))
            .respond_with(template)
            .mount(&server)
            .await;
        let org = org();
        let err = org
            .enable_exchange_online(exchange(&server))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!org.has_secret(IntegrationKind::ExchangeOnline).await);
    }
}

/// Exchange on-premise end to end: one `GetUserAvailability` for the
/// scheduling account validates it (Basic login sent, nothing stored
/// before), covered participants are read through EWS with their own
/// items and per-mailbox errors, and disabling removes the login.
#[tokio::test]
async fn exchange_on_premise_validates_covers_and_reads_each_mailbox() {
    let week = week();
    let (s, e) = (week.start(), week.end());
    let double = AvailabilityDouble::new()
        .mailbox("mentoring@example.org", &[])
        .mailbox(
            "p0001@example.org",
            &[
                (s + 3600, s + 7200, "Busy"),
                (s + 86_400, s + 90_000, "OOF"),
            ],
        )
        .mailbox(
            "p0003@example.org",
            &[(s - 3600, s + 600, "Tentative"), (e - 60, e + 60, "NoData")],
        )
        .error("p0002@example.org", "ErrorNoFreeBusyAccess");
    let server = ews_server(double.clone()).await;
    let org = org();
    org.enable_exchange_on_premise(on_premise(&server))
        .await
        .unwrap();
    assert!(org.has_secret(IntegrationKind::ExchangeOnPremise).await);
    assert_eq!(double.asked(), [["mentoring@example.org"]], "one probe");
    let requests = server.received_requests().await.unwrap();
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("CORP\\scheduler:Winter-2026!")
    );
    assert_eq!(requests[0].headers["authorization"], basic.as_str());

    assert_eq!(
        org.resolve("P0001@Example.org").await,
        Some(IntegrationKind::ExchangeOnPremise)
    );
    assert_eq!(org.resolve("someone@other.example").await, None);
    let status = org.status().await;
    assert_eq!(status[0].kind, IntegrationKind::ExchangeOnPremise);
    assert_eq!(status[0].scheduling_account, "mentoring@example.org");

    let source = org
        .source(IntegrationKind::ExchangeOnPremise)
        .await
        .unwrap();
    let asked = [
        "p0001@example.org",
        "p0002@example.org",
        "p0003@example.org",
    ];
    let answer = source
        .free_busy(&FreeBusyRequest::new(week, asked))
        .await
        .unwrap();
    let ids: Vec<&str> = answer.accounts.iter().map(|a| a.account.as_str()).collect();
    assert_eq!(ids, asked);
    let entries =
        |i: usize| -> Vec<BusyEntry> { answer.accounts[i].result.as_ref().unwrap().entries() };
    assert_eq!(
        entries(0),
        [
            BusyEntry {
                interval: Interval::new(s + 3600, s + 7200).unwrap(),
                kind: BusyKind::Busy
            },
            BusyEntry {
                interval: Interval::new(s + 86_400, s + 90_000).unwrap(),
                kind: BusyKind::OutOfOffice
            },
        ]
    );
    assert!(matches!(
        answer.accounts[1].result,
        Err(availability::SourceError::Forbidden { .. })
    ));
    // Clipped to the window; NoData is unknown, never free.
    assert_eq!(
        entries(2),
        [
            BusyEntry {
                interval: Interval::new(s, s + 600).unwrap(),
                kind: BusyKind::Tentative
            },
            BusyEntry {
                interval: Interval::new(e - 60, e).unwrap(),
                kind: BusyKind::Unknown
            },
        ]
    );

    org.disable(IntegrationKind::ExchangeOnPremise)
        .await
        .unwrap();
    assert!(!org.has_secret(IntegrationKind::ExchangeOnPremise).await);
    assert_eq!(org.resolve("p0001@example.org").await, None);
}

/// A refused login or a missing scheduling mailbox stores nothing.
#[tokio::test]
async fn exchange_on_premise_validation_failures_store_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let org = org();
    let err = org
        .enable_exchange_on_premise(on_premise(&server))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OrgError::Validation(ValidationError::NotAuthorised(_))),
        "{err}"
    );
    assert!(!err.to_string().contains("Winter-2026!"));
    assert!(!org.has_secret(IntegrationKind::ExchangeOnPremise).await);

    let server = ews_server(AvailabilityDouble::new()).await;
    let err = org
        .enable_exchange_on_premise(on_premise(&server))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OrgError::Validation(ValidationError::UserNotFound(_))),
        "{err}"
    );
    assert!(org.status().await.is_empty());
    assert!(!org.has_secret(IntegrationKind::ExchangeOnPremise).await);
}

#[tokio::test]
async fn exchange_online_and_on_premise_exclude_each_other() {
    let ews = ews_server(AvailabilityDouble::new().mailbox("mentoring@example.org", &[])).await;
    let org = org();
    org.enable_exchange_on_premise(on_premise(&ews))
        .await
        .unwrap();
    let server = MockServer::start().await;
    let err = org
        .enable_exchange_online(exchange(&server))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        OrgError::ExchangeConflict {
            enabled: IntegrationKind::ExchangeOnPremise,
            requested: IntegrationKind::ExchangeOnline
        }
    ));
    // Nothing was asked of the server.
    assert!(server.received_requests().await.unwrap().is_empty());
    org.disable(IntegrationKind::ExchangeOnPremise)
        .await
        .unwrap();

    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"scheduleId": "mentoring@example.org", "scheduleItems": []}]})))
        .mount(&server)
        .await;
    org.enable_exchange_online(exchange(&server)).await.unwrap();
    let probes = ews.received_requests().await.unwrap().len();
    assert!(matches!(
        org.enable_exchange_on_premise(on_premise(&ews)).await,
        Err(OrgError::ExchangeConflict { .. })
    ));
    // Refused before any call.
    assert_eq!(ews.received_requests().await.unwrap().len(), probes);
}

/// Disabling removes the integration, its secret, and exactly the
/// connections it made; participants outside it are untouched.
#[tokio::test]
async fn disabling_removes_exactly_what_it_created() {
    let server = MockServer::start().await;
    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"scheduleId": "mentoring@example.org", "scheduleItems": []}]})))
        .mount(&server)
        .await;
    let org = org();
    org.enable_exchange_online(exchange(&server)).await.unwrap();
    let asked = vec![
        "ana@example.org".to_owned(),
        "ben@example.org".to_owned(),
        "own-google@gmail.example".to_owned(),
    ];
    let made = org.connect_automatically(&asked).await;
    assert_eq!(made.len(), 2);
    assert_eq!(org.status().await[0].automatic_connections, 2);
    let removed = org.disable(IntegrationKind::ExchangeOnline).await.unwrap();
    assert_eq!(
        removed,
        vec!["ana@example.org".to_owned(), "ben@example.org".to_owned()]
    );
    assert!(!org.has_secret(IntegrationKind::ExchangeOnline).await);
    assert_eq!(org.resolve("ana@example.org").await, None);
    assert!(org.status().await.is_empty());
}
