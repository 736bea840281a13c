//! Whose calendar is read: the account that consented, not the address a
//! participant was enrolled with. Google and the Microsoft identity
//! platform on wiremock answer the code exchange with the documented token
//! answer and ID token; Google's freeBusy and Graph's getSchedule and
//! calendarView answer only for the consenting accounts, and a calendar at
//! an enrolled address (somebody else's, as far as the test knows) must
//! never be asked for.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::{H, MONDAY, World, iv};
use provider_http::test_support::{google_id_token, microsoft_id_token};
use scheduling_assistant::{
    Actor, Assistant, ConnectionStatus, Pair, Participant, ParticipantId, Program, ProgramId,
    Provider,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GOOGLE_CLIENT: &str = "gid.apps.googleusercontent.com";
const MS_APP: &str = "11111111-2222-3333-4444-555555555555";
const CONTOSO: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ADA_OID: &str = "00000000-0000-0000-aaaa-00000000ada0";

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn me(s: &str) -> Actor {
    Actor::participant(s)
}

fn busy_json(start: &str, end: &str) -> serde_json::Value {
    json!([{"start": start, "end": end}])
}

async fn mock_providers(server: &MockServer) {
    // Google's code exchange answers with the ID token `openid email`
    // asks for (Google Identity, "OpenID Connect": exchange code for
    // access token and ID token).
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .and(body_string_contains("code=theo-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.theo", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": "1//theo", "scope": "https://www.googleapis.com/auth/calendar.freebusy openid https://www.googleapis.com/auth/userinfo.email",
            "id_token": google_id_token(GOOGLE_CLIENT, "110169484474386276334", "theo.r@gmail.com"),
        })))
        .mount(server)
        .await;
    // A code exchange from before accounts were learned: no ID token.
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .and(body_string_contains("code=maya-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.maya", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": "1//maya",
        })))
        .mount(server)
        .await;
    // freeBusy.query, keyed by the calendar ids asked for
    // (https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query).
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.theo"))
        .and(body_string_contains(r#""id":"theo.r@gmail.com""#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"theo.r@gmail.com": {"busy": busy_json("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")}}
        })))
        .expect(1)
        .mount(server)
        .await;
    // Maya's connection names no account: her enrolled address is read, as
    // before.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.maya"))
        .and(body_string_contains(r#""id":"maya@school.edu""#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"maya@school.edu": {"busy": busy_json("2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z")}}
        })))
        .expect(1)
        .mount(server)
        .await;
    // Microsoft identity platform code exchanges with v2 ID tokens
    // (https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference).
    for (code, tid, oid, user, access) in [
        ("ada-code", CONTOSO, ADA_OID, "ada.l@contoso.com", "eyJ.ada"),
        (
            "mia-code",
            graph_provider::CONSUMER_TENANT,
            "00000000-0000-0000-66f3-3332eca7ea81",
            "mia.k@outlook.com",
            "eyJ.mia",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path("/ms/common/oauth2/v2.0/token"))
            .and(body_string_contains(format!("code={code}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": access, "expires_in": 3599, "token_type": "Bearer",
                "refresh_token": format!("M.{code}"),
                "scope": "openid profile email Calendars.ReadBasic",
                "id_token": microsoft_id_token(MS_APP, tid, oid, user),
            })))
            .mount(server)
            .await;
    }
    // Ada's work account: getSchedule at her own object id, for the address
    // she signed in with (https://learn.microsoft.com/en-us/graph/api/calendar-getschedule).
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/users/{ADA_OID}/calendar/getSchedule")))
        .and(header("authorization", "Bearer eyJ.ada"))
        .and(body_string_contains(r#""schedules":["ada.l@contoso.com"]"#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{
                "scheduleId": "ada.l@contoso.com",
                "availabilityView": "",
                "scheduleItems": [{
                    "isPrivate": false, "status": "busy",
                    "start": {"dateTime": "2026-03-02T12:00:00.0000000", "timeZone": "UTC"},
                    "end": {"dateTime": "2026-03-02T13:00:00.0000000", "timeZone": "UTC"}
                }]
            }]
        })))
        .expect(1)
        .mount(server)
        .await;
    // Mia's personal account: calendarView with her own token
    // (https://learn.microsoft.com/en-us/graph/api/user-list-calendarview).
    Mock::given(method("GET"))
        .and(path("/v1.0/me/calendarView"))
        .and(header("authorization", "Bearer eyJ.mia"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{
                "start": {"dateTime": "2026-03-02T16:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-02T17:00:00.0000000", "timeZone": "UTC"},
                "showAs": "busy", "isAllDay": false, "isCancelled": false
            }]
        })))
        .expect(1)
        .mount(server)
        .await;
    // Anything else (an enrolled address at Google, getSchedule for Mia)
    // would read the wrong calendar.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("getSchedule$"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

async fn build(world: &World, server: &MockServer) -> Assistant {
    let vault = world.vault();
    common::with_own_oauth(
        world.builder().await,
        world,
        &vault,
        server,
        GOOGLE_CLIENT,
        MS_APP,
    )
    .build()
    .await
    .unwrap()
}

fn state_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

async fn connect(a: &Assistant, who: &str, provider: Provider, code: &str) -> ConnectionStatus {
    let start = a
        .begin_connect(&me(who), &pid(who), provider)
        .await
        .unwrap();
    a.complete_connect(&state_of(&start.authorization_url), code)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_account_that_consented_is_read_and_shown_only_to_its_owner() {
    let server = MockServer::start().await;
    mock_providers(&server).await;
    let world = World::new();
    let a = build(&world, &server).await;
    a.add_program(Program::new("p", "Program").with_policy_toml("scheduling_assistant = true"))
        .await
        .unwrap();
    for who in ["theo", "maya", "ada", "mia"] {
        a.add_participant(
            Participant::new(who, who, format!("{who}@school.edu"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    for (id, mentor, mentee) in [("maya-theo", "maya", "theo"), ("ada-mia", "ada", "mia")] {
        a.add_pair(Pair {
            id: id.into(),
            program: "p".into(),
            mentor: pid(mentor),
            mentee: pid(mentee),
        })
        .await
        .unwrap();
    }

    // Each connects; the one who connected is told which account.
    let theo = connect(&a, "theo", Provider::Google, "theo-code").await;
    assert_eq!(
        theo.text(),
        "Your Google calendar (theo.r@gmail.com) is connected"
    );
    let maya = connect(&a, "maya", Provider::Google, "maya-code").await;
    assert_eq!(maya.text(), "Your Google calendar is connected");
    let ada = connect(&a, "ada", Provider::Microsoft, "ada-code").await;
    assert_eq!(
        ada.text(),
        "Your Microsoft 365 calendar (ada.l@contoso.com) is connected"
    );
    let mia = connect(&a, "mia", Provider::Microsoft, "mia-code").await;
    assert_eq!(
        mia.text(),
        "Your Microsoft 365 calendar (mia.k@outlook.com) is connected"
    );

    // The right calendars are read: each partner sees the other's busy
    // hour from the consenting account (and Maya's from her enrolled
    // address, her connection naming no other).
    let day = iv(MONDAY, MONDAY + 24 * H);
    for (viewer, target, busy_from) in [
        ("maya", "theo", 10),
        ("theo", "maya", 14),
        ("mia", "ada", 12),
        ("ada", "mia", 16),
    ] {
        let seen = a
            .availability(&me(viewer), &pid(target), day)
            .await
            .unwrap();
        assert!(seen.known, "{target}: {:?}", seen.reason);
        assert_eq!(
            seen.unavailable,
            vec![iv(MONDAY + busy_from * H, MONDAY + (busy_from + 1) * H)],
            "{viewer} sees {target}"
        );
    }

    // The address: to the participant and administrators, never partners.
    let admin = Actor::Administrator {
        admin: "coordinator".into(),
        on_behalf_of: None,
    };
    for (actor, shows) in [(me("theo"), true), (admin, true), (me("maya"), false)] {
        let s = a.status_for(&actor, &pid("theo")).await.unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json.contains("theo.r@gmail.com"),
            shows,
            "{actor:?}: {json}"
        );
        assert_eq!(s.text().contains("theo.r@gmail.com"), shows, "{actor:?}");
        assert!(!format!("{s:?}").contains("theo.r@gmail.com") || shows);
    }
    assert!(
        !a.status(&pid("theo"))
            .await
            .text()
            .contains("theo.r@gmail.com")
    );

    // After a restart the accounts are still known (sealed in the vault);
    // reads hit the busy cache, so no provider is asked again.
    drop(a);
    let again = build(&world, &server).await;
    assert_eq!(
        again
            .status_for(&me("ada"), &pid("ada"))
            .await
            .unwrap()
            .text(),
        "Your Microsoft 365 calendar (ada.l@contoso.com) is connected"
    );
    // The database (and its WAL) holds no address in the clear: it is
    // sealed with the tokens.
    let mut files = 0;
    for entry in std::fs::read_dir(world.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for address in ["theo.r@gmail.com", "ada.l@contoso.com", "mia.k@outlook.com"] {
            assert!(
                !bytes
                    .windows(address.len())
                    .any(|w| w == address.as_bytes()),
                "{address} in the clear"
            );
        }
    }
    assert!(files >= 1);
}
