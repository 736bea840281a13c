//! The stored JSON of `IntegrationSettings`. The assistant keeps it in its
//! database and old rows must still load, so it is pinned byte for byte:
//! once as what enabling each integration stores (snapshots), once as those
//! exact strings read back (and restored on a fresh instance).

use org_wide_auth::{IntegrationKind, IntegrationSettings, OrgAuth, ReadAs};
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::integrations::{
    ews_server, exchange, google, google_echo, graph_token, on_premise, org_on, vault,
};
use ews_provider::test_support::AvailabilityDouble;

/// The server's address in stored settings, as the strings below spell it.
const SERVER: &str = "http://wiremock";

const GOOGLE_EACH_PARTICIPANT: &str = r#"{"kind":"google_workspace","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":["guest@partner.example"],"via_scheduling_account":false,"token_uri":"http://wiremock/token","api_base":"http://wiremock"}"#;
const GOOGLE_VIA_SCHEDULING_ACCOUNT: &str = r#"{"kind":"google_workspace","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":["guest@partner.example"],"via_scheduling_account":true,"token_uri":"http://wiremock/token","api_base":"http://wiremock"}"#;
const EXCHANGE_ONLINE: &str = r#"{"kind":"exchange_online","tenant":"contoso.onmicrosoft.com","client_id":"11111111-2222-3333-4444-555555555555","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":[],"authority":"http://wiremock","graph_base":"http://wiremock/v1.0"}"#;
/// Booking on: written only when on, after every earlier field.
const GOOGLE_BOOKING: &str = r#"{"kind":"google_workspace","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":["guest@partner.example"],"via_scheduling_account":false,"token_uri":"http://wiremock/token","api_base":"http://wiremock","booking":true}"#;
const EXCHANGE_BOOKING: &str = r#"{"kind":"exchange_online","tenant":"contoso.onmicrosoft.com","client_id":"11111111-2222-3333-4444-555555555555","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":[],"authority":"http://wiremock","graph_base":"http://wiremock/v1.0","booking":true}"#;
const EXCHANGE_ON_PREMISE: &str = r#"{"kind":"exchange_on_premise","ews_url":"http://wiremock/EWS/Exchange.asmx","auth":"basic","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":[]}"#;
/// What a build before the EWS client stored: it still reads (and still
/// excludes Exchange Online), covering nobody.
const EXCHANGE_ON_PREMISE_RECORDED: &str =
    r#"{"kind":"exchange_on_premise","scheduling_account":"mentoring@example.org"}"#;
/// Google's own endpoints (no overrides).
const GOOGLE_DEFAULT_ENDPOINTS: &str = r#"{"kind":"google_workspace","scheduling_account":"mentoring@example.org","domains":["example.com","example.org"],"allow":[],"via_scheduling_account":false,"token_uri":null,"api_base":null}"#;
/// Extra root certificates, each DER as a standard base64 string.
const GOOGLE_EXTRA_ROOTS: &str = r#"{"kind":"google_workspace","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":[],"via_scheduling_account":false,"token_uri":null,"api_base":null,"extra_root_certificates":["MIIBAQ==","AAEC/w=="]}"#;
const EXCHANGE_EXTRA_ROOTS: &str = r#"{"kind":"exchange_online","tenant":"contoso.onmicrosoft.com","client_id":"11111111-2222-3333-4444-555555555555","scheduling_account":"mentoring@example.org","domains":["example.org"],"allow":["guest@partner.example"],"authority":null,"graph_base":null,"extra_root_certificates":["MIIBAQ=="]}"#;

/// What enabling each integration stores, with the wiremock address
/// replaced by [`SERVER`].
async fn stored(org: &OrgAuth, kind: IntegrationKind, server: &MockServer) -> String {
    let settings = org.settings().await;
    let settings = settings.iter().find(|s| s.kind() == kind).unwrap();
    serde_json::to_string(settings)
        .unwrap()
        .replace(&server.uri(), SERVER)
}

async fn google_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(google_echo)
        .mount(&server)
        .await;
    server
}

async fn graph_server() -> MockServer {
    let server = MockServer::start().await;
    graph_token(&server).await;
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"scheduleId": "mentoring@example.org", "scheduleItems": []}]})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn enabled_integrations_store_the_pinned_json() {
    let server = google_server().await;
    let org = org_on(vault());
    org.enable_google(google(&server)).await.unwrap();
    let each = stored(&org, IntegrationKind::GoogleWorkspace, &server).await;
    insta::assert_snapshot!("google_workspace_each_participant", each);
    assert_eq!(each, GOOGLE_EACH_PARTICIPANT);

    org.enable_google(google(&server).read_as(ReadAs::SchedulingAccount))
        .await
        .unwrap();
    let via = stored(&org, IntegrationKind::GoogleWorkspace, &server).await;
    insta::assert_snapshot!("google_workspace_via_scheduling_account", via);
    assert_eq!(via, GOOGLE_VIA_SCHEDULING_ACCOUNT);

    org.enable_google(google(&server).with_booking(true))
        .await
        .unwrap();
    let booking = stored(&org, IntegrationKind::GoogleWorkspace, &server).await;
    insta::assert_snapshot!("google_workspace_booking", booking);
    assert_eq!(booking, GOOGLE_BOOKING);

    let server = graph_server().await;
    let org = org_on(vault());
    org.enable_exchange_online(exchange(&server)).await.unwrap();
    let online = stored(&org, IntegrationKind::ExchangeOnline, &server).await;
    insta::assert_snapshot!("exchange_online", online);
    assert_eq!(online, EXCHANGE_ONLINE);

    // A fresh server: each enabling mints its own app-only token once.
    let server = graph_server().await;
    org.enable_exchange_online(exchange(&server).with_booking(true))
        .await
        .unwrap();
    let booking = stored(&org, IntegrationKind::ExchangeOnline, &server).await;
    insta::assert_snapshot!("exchange_online_booking", booking);
    assert_eq!(booking, EXCHANGE_BOOKING);

    let org = org_on(vault());
    let server = ews_server(AvailabilityDouble::new().mailbox("mentoring@example.org", &[])).await;
    org.enable_exchange_on_premise(on_premise(&server))
        .await
        .unwrap();
    let on_premise = stored(&org, IntegrationKind::ExchangeOnPremise, &server).await;
    assert!(!on_premise.contains("scheduler") && !on_premise.contains("Winter"));
    insta::assert_snapshot!("exchange_on_premise", on_premise);
    assert_eq!(on_premise, EXCHANGE_ON_PREMISE);
}

#[test]
fn stored_json_reads_back_and_serialises_to_the_same_bytes() {
    for (json, kind) in [
        (GOOGLE_EACH_PARTICIPANT, IntegrationKind::GoogleWorkspace),
        (
            GOOGLE_VIA_SCHEDULING_ACCOUNT,
            IntegrationKind::GoogleWorkspace,
        ),
        (GOOGLE_DEFAULT_ENDPOINTS, IntegrationKind::GoogleWorkspace),
        (GOOGLE_EXTRA_ROOTS, IntegrationKind::GoogleWorkspace),
        (GOOGLE_BOOKING, IntegrationKind::GoogleWorkspace),
        (EXCHANGE_ONLINE, IntegrationKind::ExchangeOnline),
        (EXCHANGE_EXTRA_ROOTS, IntegrationKind::ExchangeOnline),
        (EXCHANGE_BOOKING, IntegrationKind::ExchangeOnline),
        (EXCHANGE_ON_PREMISE, IntegrationKind::ExchangeOnPremise),
    ] {
        let settings: IntegrationSettings = serde_json::from_str(json).unwrap();
        assert_eq!(settings.kind(), kind, "{json}");
        assert_eq!(serde_json::to_string(&settings).unwrap(), json);
    }
}

/// The assistant stores the settings through `serde_json::Value` (keys
/// sorted) with a `generation` field added; such rows read as the settings
/// they were written from.
#[test]
fn stored_rows_with_sorted_keys_and_a_generation_read_back() {
    for (row, canonical) in [
        (
            r#"{"allow":["guest@partner.example"],"api_base":"http://wiremock","domains":["example.org"],"generation":"1741000000000-42-0","kind":"google_workspace","scheduling_account":"mentoring@example.org","token_uri":"http://wiremock/token","via_scheduling_account":true}"#,
            GOOGLE_VIA_SCHEDULING_ACCOUNT,
        ),
        (
            r#"{"allow":[],"api_base":null,"domains":["example.org"],"extra_root_certificates":["MIIBAQ==","AAEC/w=="],"generation":"g","kind":"google_workspace","scheduling_account":"mentoring@example.org","token_uri":null,"via_scheduling_account":false}"#,
            GOOGLE_EXTRA_ROOTS,
        ),
        (
            r#"{"allow":[],"authority":"http://wiremock","client_id":"11111111-2222-3333-4444-555555555555","domains":["example.org"],"generation":"g","graph_base":"http://wiremock/v1.0","kind":"exchange_online","scheduling_account":"mentoring@example.org","tenant":"contoso.onmicrosoft.com"}"#,
            EXCHANGE_ONLINE,
        ),
        (
            r#"{"allow":[],"auth":"basic","domains":["example.org"],"ews_url":"http://wiremock/EWS/Exchange.asmx","generation":"g","kind":"exchange_on_premise","scheduling_account":"mentoring@example.org"}"#,
            EXCHANGE_ON_PREMISE,
        ),
    ] {
        let read: IntegrationSettings = serde_json::from_str(row).unwrap();
        let expected: IntegrationSettings = serde_json::from_str(canonical).unwrap();
        assert_eq!(read, expected, "{row}");
        assert_eq!(serde_json::to_string(&read).unwrap(), canonical);
    }
}

/// The pinned strings restore on a fresh instance sharing the vault, which
/// then reports the same settings and status.
#[tokio::test]
async fn stored_json_restores_on_a_fresh_instance() {
    let vault = vault();
    let server = google_server().await;
    org_on(vault.clone())
        .enable_google(google(&server))
        .await
        .unwrap();
    let server = graph_server().await;
    org_on(vault.clone())
        .enable_exchange_online(exchange(&server))
        .await
        .unwrap();
    let server = ews_server(AvailabilityDouble::new().mailbox("mentoring@example.org", &[])).await;
    org_on(vault.clone())
        .enable_exchange_on_premise(on_premise(&server))
        .await
        .unwrap();
    for (json, covered, booking) in [
        (
            GOOGLE_EACH_PARTICIPANT,
            Some("guest@partner.example"),
            false,
        ),
        (
            GOOGLE_VIA_SCHEDULING_ACCOUNT,
            Some("ana@example.org"),
            false,
        ),
        (GOOGLE_DEFAULT_ENDPOINTS, Some("ben@example.com"), false),
        (GOOGLE_BOOKING, Some("ana@example.org"), true),
        (EXCHANGE_ONLINE, Some("ana@example.org"), false),
        (EXCHANGE_BOOKING, Some("ana@example.org"), true),
        (EXCHANGE_ON_PREMISE, Some("ana@example.org"), false),
    ] {
        // A loopback address (no call is made): the EWS source refuses
        // plain HTTP anywhere else.
        let json = json.replace(SERVER, "http://127.0.0.1:9");
        let json = json.as_str();
        let settings: IntegrationSettings = serde_json::from_str(json).unwrap();
        let restarted = org_on(vault.clone());
        restarted.restore(&settings).await.unwrap();
        let again = restarted.settings().await;
        assert_eq!(again, vec![settings.clone()]);
        assert_eq!(serde_json::to_string(&again[0]).unwrap(), json);
        let status = restarted.status().await;
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].kind, settings.kind());
        assert_eq!(status[0].scheduling_account, "mentoring@example.org");
        assert_eq!(status[0].automatic_connections, 0);
        assert_eq!(
            restarted.meeting_sender(settings.kind()).await.is_some(),
            booking,
            "{json}"
        );
        assert_eq!(
            restarted
                .scheduling_account(settings.kind())
                .await
                .as_deref(),
            Some("mentoring@example.org")
        );
        match covered {
            Some(email) => {
                assert_eq!(restarted.resolve(email).await, Some(settings.kind()));
                assert!(restarted.source(settings.kind()).await.is_some());
            }
            None => {
                assert!(status[0].coverage.domains.is_empty());
                assert!(restarted.source(settings.kind()).await.is_none());
            }
        }
    }
}

/// Settings a build before the EWS client stored read and restore without
/// a secret: on-premise stays recorded (so it still excludes Exchange
/// Online) and covers nobody until enabled again with a URL and login.
#[tokio::test]
async fn on_premise_recorded_before_its_client_still_reads_and_covers_nobody() {
    let settings: IntegrationSettings = serde_json::from_str(EXCHANGE_ON_PREMISE_RECORDED).unwrap();
    assert_eq!(settings.kind(), IntegrationKind::ExchangeOnPremise);
    let org = org_on(vault());
    org.restore(&settings).await.unwrap();
    assert_eq!(org.status().await.len(), 1);
    assert_eq!(org.resolve("ana@example.org").await, None);
    assert!(
        org.source(IntegrationKind::ExchangeOnPremise)
            .await
            .is_none()
    );
    let server = MockServer::start().await;
    assert!(matches!(
        org.enable_exchange_online(exchange(&server)).await,
        Err(org_wide_auth::OrgError::ExchangeConflict { .. })
    ));
}
