//! Faults under a poll: providers that fail every way a network can, at
//! once, for different invitees. Google on wiremock answers 500, 503 with
//! Retry-After, 429 without, HTML instead of JSON, ten times the size cap,
//! and 401 with a revoked refresh token; Microsoft Graph and CalDAV are a
//! raw TCP server that drops connections or stalls mid-body. The poll
//! still answers, every affected invitee is unknown with the right status,
//! retries stay within the configured budget (and a second poll inside the
//! error TTL asks nobody again), and a restart finds the store intact.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::RetryConfig;
use common::{H, MONDAY, Validator, World, iv};
use credential_vault::SecretString;
use scheduling_assistant::{
    Actor, Assistant, ConnectionStatus, Group, Invitees, Participant, ParticipantId, Program,
    ProgramId, Provider, SlotRequest,
};
use scheduling_assistant::{GoogleConnector, MicrosoftConnector};
use scheduling_assistant::{VaultCalDavLogins, VaultTokens};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const GOOGLE: [&str; 7] = ["gok", "g500", "g503", "g429", "ghtml", "ghuge", "g401"];
const RETRIES: u32 = 2;
const CAP: usize = 64 * 1024;

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// Google's freeBusy, misbehaving by the caller's token.
fn google(r: &Request) -> ResponseTemplate {
    let auth = r
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let who = auth.strip_prefix("Bearer ya29.").unwrap_or("");
    match who {
        "gok" => ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"gok@example.org": {"busy": [
                {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z"}]}}
        })),
        "g500" => ResponseTemplate::new(500).set_body_string("internal"),
        "g503" => ResponseTemplate::new(503).insert_header("Retry-After", "1"),
        "g429" => ResponseTemplate::new(429).set_body_json(json!({"error": {
            "code": 429, "message": "Rate Limit Exceeded",
            "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}]}})),
        "ghtml" => ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_string("<html><body>Sign in to continue</body></html>"),
        "ghuge" => ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(format!(
                "{{\"calendars\": {{}}, \"pad\": \"{}\"}}",
                "x".repeat(10 * CAP)
            )),
        _ => ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401, "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED"}})),
    }
}

/// The token endpoints: a code exchange gives a token named after the code;
/// a refresh is refused (the grant was revoked).
fn tokens(r: &Request) -> ResponseTemplate {
    let body = String::from_utf8_lossy(&r.body).into_owned();
    if body.contains("grant_type=refresh_token") {
        return ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Token has been expired or revoked."
        }));
    }
    let code = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap_or("none")
        .to_owned();
    let prefix = if r.url.path().starts_with("/ms/") {
        "eyJ."
    } else {
        "ya29."
    };
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": format!("{prefix}{code}"), "expires_in": 3599,
        "refresh_token": format!("refresh-{code}"), "token_type": "Bearer"
    }))
}

/// A raw TCP server for the faults wiremock cannot make: a request whose
/// path mentions `stall` gets headers and half a body, then silence; any
/// other connection is dropped as soon as its request has arrived.
async fn raw_fault_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                let mut read = 0;
                while read < buf.len() {
                    match conn.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..read]);
                if head.lines().next().is_some_and(|l| l.contains("stall")) {
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                              Content-Length: 100000\r\n\r\n{\"value\": [",
                        )
                        .await;
                    tokio::time::sleep(Duration::from_secs(120)).await;
                }
                // Dropped: the connection closes without an answer.
            });
        }
    });
    (base, task)
}

fn retry() -> RetryConfig {
    RetryConfig::default()
        .max_retries(RETRIES)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
}

async fn open(world: &World, oauth: &MockServer, raw: &str) -> Assistant {
    let vault = world.vault();
    let google_oauth = Arc::new(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new("c", None, "http://127.0.0.1/cb").with_endpoints(
                format!("{}/auth", oauth.uri()),
                format!("{}/token", oauth.uri()),
                format!("{}/revoke", oauth.uri()),
            ),
        )
        .unwrap(),
    );
    let mut gconfig = google_provider::GoogleConfig::default()
        .base_url(oauth.uri())
        .retry(retry())
        .request_timeout(Duration::from_secs(2));
    gconfig.max_response_bytes = CAP;
    let google = google_provider::GoogleSource::new(
        Arc::new(google_provider::UserTokens::with_clock(
            google_oauth.clone(),
            Arc::new(VaultTokens::google(vault.clone())),
            world.clock.clone(),
        )),
        gconfig,
    )
    .unwrap();
    let graph_oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new("m", graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .authority(format!("{}/ms", oauth.uri())),
        )
        .unwrap(),
    );
    let graph = graph_provider::GraphSource::new(
        Arc::new(graph_provider::UserTokens::with_clock(
            graph_oauth.clone(),
            Arc::new(VaultTokens::microsoft(vault.clone())),
            world.clock.clone(),
        )),
        graph_provider::GraphConfig::default()
            .base_url(format!("{raw}/v1.0"))
            .retry(retry())
            .request_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let caldav = caldav_provider::CalDavSource::with_config(
        Arc::new(VaultCalDavLogins::for_server(
            vault.clone(),
            format!("{raw}/"),
        )),
        caldav_provider::CalDavConfig::default().request_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&world.path)
                .await
                .unwrap(),
        )
        .vault(vault)
        .clock(world.clock.clone())
        .source(Provider::Google, Arc::new(google))
        .source(Provider::Microsoft, Arc::new(graph))
        .source(Provider::Icloud, Arc::new(caldav))
        .oauth(Provider::Google, Arc::new(GoogleConnector(google_oauth)))
        .oauth(
            Provider::Microsoft,
            Arc::new(MicrosoftConnector(graph_oauth)),
        )
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap()
}

async fn oauth_connect(a: &Assistant, who: &str, provider: Provider) {
    let start = a
        .begin_connect(&Actor::participant(who), &pid(who), provider)
        .await
        .unwrap();
    let state = start
        .authorization_url
        .split('&')
        .find_map(|kv| kv.split_once("state=").map(|(_, v)| v.to_owned()))
        .unwrap();
    a.complete_connect(&state, who).await.unwrap();
}

async fn requests_with(server: &MockServer, token: &str) -> usize {
    let auth = format!("Bearer ya29.{token}");
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.url.path() == "/calendar/v3/freeBusy"
                && r.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&auth)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_answers_through_every_kind_of_provider_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(google)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(tokens)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ms/common/oauth2/v2.0/token"))
        .respond_with(tokens)
        .mount(&server)
        .await;
    let (raw, _raw_task) = raw_fault_server().await;
    let world = World::new();
    let a = open(&world, &server, &raw).await;
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    let mut everyone: Vec<&str> = GOOGLE.to_vec();
    everyone.extend(["mdrop", "mstall", "idrop", "none"]);
    for id in &everyone {
        a.add_participant(
            Participant::new(*id, *id, format!("{id}@example.org"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_group(Group {
        id: "all".into(),
        program: "p".into(),
        name: "All".into(),
        members: everyone.iter().map(|s| pid(s)).collect(),
    })
    .await
    .unwrap();
    for id in GOOGLE {
        oauth_connect(&a, id, Provider::Google).await;
    }
    oauth_connect(&a, "mdrop", Provider::Microsoft).await;
    oauth_connect(&a, "mstall", Provider::Microsoft).await;
    a.connect_icloud(
        &Actor::participant("idrop"),
        &pid("idrop"),
        "idrop",
        SecretString::new("pw".into()),
    )
    .await
    .unwrap();
    let before = (
        a.participants(),
        a.groups(),
        everyone
            .iter()
            .map(|p| a.connection(&pid(p)))
            .collect::<Vec<_>>(),
    );

    let request = SlotRequest::new(Duration::from_secs(3600), iv(MONDAY, MONDAY + 86_400))
        .limit(3)
        .min_free(1);
    // The administrator sees why each calendar failed, in the provider's
    // words (below); a member of the group sees only the fixed reason
    // codes (at the end, from the same cached answers).
    let poll = a
        .poll(
            &Actor::global_admin("coordinator"),
            &Invitees::Group("all".into()),
            request,
        )
        .await
        .unwrap();
    assert_eq!(poll.invitees, everyone.len());
    // Only gok could be read: 08:00 is free for gok, 10:00 is not.
    let first = &poll.slots[0];
    assert_eq!(first.interval.start(), MONDAY + 8 * H);
    assert_eq!(first.free, vec![pid("gok")]);
    assert_eq!(first.unknown.len(), everyone.len() - 1);
    assert!(
        poll.slots
            .iter()
            .all(|s| s.interval.start() != MONDAY + 10 * H)
    );
    let failed: Vec<&str> = poll
        .problems
        .iter()
        .map(|p| p.participant.as_str())
        .collect();
    for id in [
        "g500", "g503", "g429", "ghtml", "ghuge", "g401", "mdrop", "mstall", "idrop",
    ] {
        assert!(
            failed.contains(&id),
            "{id} not reported: {:?}",
            poll.problems
        );
    }
    let reason = |id: &str| {
        poll.problems
            .iter()
            .find(|p| p.participant.as_str() == id)
            .unwrap()
            .reason
            .clone()
    };
    assert!(
        reason("g503").contains("503") || reason("g503").contains("unavailable"),
        "{}",
        reason("g503")
    );
    assert!(
        reason("g429").contains("rate limited"),
        "{}",
        reason("g429")
    );
    assert!(
        reason("ghtml").contains("invalid response"),
        "{}",
        reason("ghtml")
    );
    assert!(
        reason("ghuge").contains("invalid response"),
        "{}",
        reason("ghuge")
    );

    // Statuses: the revoked one needs reconnecting, the rest are connected
    // but unreachable for now, with the reason; "none" has no calendar.
    assert!(matches!(
        a.status(&pid("g401")).await,
        ConnectionStatus::NeedsReconnecting { .. }
    ));
    for id in [
        "g500", "g503", "g429", "ghtml", "ghuge", "mdrop", "mstall", "idrop",
    ] {
        assert!(
            matches!(
                a.status(&pid(id)).await,
                ConnectionStatus::Unreachable { .. }
            ),
            "{id}: {:?}",
            a.status(&pid(id)).await
        );
    }
    assert_eq!(
        a.status(&pid("gok")).await.text(),
        "Your Google calendar is connected"
    );
    assert_eq!(
        poll.connected,
        everyone.len() - 2,
        "all but none and the revoked one"
    );

    // Retry budget: transient failures are tried 1 + RETRIES times, the
    // rest once; a second poll inside the error TTL asks nobody again.
    let budget = 1 + RETRIES as usize;
    let counts = [
        ("g500", budget),
        ("g503", budget),
        ("g429", budget),
        ("ghtml", 1),
        ("ghuge", 1),
    ];
    for (id, expected) in counts {
        assert_eq!(requests_with(&server, id).await, expected, "{id}");
    }
    assert!(
        requests_with(&server, "g401").await <= 2,
        "a 401 may be retried once after a refresh"
    );
    let total = server.received_requests().await.unwrap().len();
    let member = a
        .poll(
            &Actor::participant("gok"),
            &Invitees::Group("all".into()),
            request,
        )
        .await
        .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), total);
    // A member of the group sees the same failures as fixed codes only.
    assert!(!member.problems.is_empty());
    for p in &member.problems {
        assert!(
            [
                scheduling_assistant::REASON_RECONNECT,
                scheduling_assistant::REASON_UNREADABLE
            ]
            .contains(&p.reason.as_str()),
            "{p:?}"
        );
    }

    // Nothing in the store was hurt.
    drop(a);
    let a = open(&world, &server, &raw).await;
    let after = (
        a.participants(),
        a.groups(),
        everyone
            .iter()
            .map(|p| a.connection(&pid(p)))
            .collect::<Vec<_>>(),
    );
    assert_eq!(before.0, after.0);
    assert_eq!(before.1, after.1);
    for (b, c) in before.2.iter().zip(&after.2) {
        // Only the revoked one changed: it is now marked.
        let (b, c) = (b.clone(), c.clone());
        match (b, c) {
            (Some(b), Some(c)) if b.participant.as_str() == "g401" => {
                assert!(c.needs_reconnect.is_some());
                assert_eq!((b.provider, b.account), (c.provider, c.account));
            }
            (b, c) => assert_eq!(b, c),
        }
    }
    for id in everyone.iter().filter(|i| **i != "none") {
        assert!(a.has_secret(&pid(id)).await, "{id}'s secret");
    }
}
