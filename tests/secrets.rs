//! No secret in any log line, `Debug` output or error: every token,
//! refresh token, client secret, authorization code and app-specific
//! password used while connecting, refreshing (Google's kept refresh token,
//! Microsoft's rotated one), reading and failing is searched for in the
//! captured tracing output of every crate at TRACE level (reqwest and hyper
//! included) and in everything the assistant returned.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{MONDAY, Validator, World, iv};
use credential_vault::SecretString;
use scheduling_assistant::VaultTokens;
use scheduling_assistant::{
    Actor, Assistant, Participant, ParticipantId, Program, ProgramId, Provider,
};
use scheduling_assistant::{GoogleConnector, MicrosoftConnector};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRETS: [&str; 11] = [
    "gcs-CLIENT-SECRET-9f1",
    "mcs-CLIENT-SECRET-4d2",
    "code-GOOGLE-77a",
    "code-MS-31c",
    "ya29.FIRST-aa1",
    "ya29.SECOND-bb2",
    "1//REFRESH-cc3",
    "eyJ.FIRST-dd4",
    "eyJ.SECOND-ee5",
    "M.REFRESH-ONE-ff6",
    "M.REFRESH-TWO-0a7",
];
const APP_PASSWORD: &str = "abcd-APPPW-efgh-ijkl";

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn token(access: &str, refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer"});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

async fn mocks(server: &MockServer) {
    // Google: the code exchange, then a refresh that keeps the refresh token.
    Mock::given(method("POST"))
        .and(path("/g/token"))
        .and(body_string_contains("code=code-GOOGLE-77a"))
        .respond_with(token("ya29.FIRST-aa1", Some("1//REFRESH-cc3")))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/g/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(token("ya29.SECOND-bb2", None))
        .mount(server)
        .await;
    // Microsoft: the code exchange, then a refresh that rotates it.
    Mock::given(method("POST"))
        .and(path("/ms/common/oauth2/v2.0/token"))
        .and(body_string_contains("code=code-MS-31c"))
        .respond_with(token("eyJ.FIRST-dd4", Some("M.REFRESH-ONE-ff6")))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ms/common/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(token("eyJ.SECOND-ee5", Some("M.REFRESH-TWO-0a7")))
        .mount(server)
        .await;
    // The APIs: Google answers; Graph refuses, echoing nothing secret.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(|r: &Request| {
            let id = if r.headers.get("authorization").is_some() {
                "gus@example.org"
            } else {
                "x"
            };
            ResponseTemplate::new(200).set_body_json(json!({"calendars": {id: {"busy": []}}}))
        })
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/mel@example.org/calendar/getSchedule"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "ErrorAccessDenied", "message": "Access is denied."}})))
        .mount(server)
        .await;
}

fn state_of(url: &str) -> String {
    url.split('&')
        .find_map(|kv| kv.split_once("state=").map(|(_, v)| v.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn no_secret_in_logs_debug_or_errors() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    mocks(&server).await;
    let world = World::new();
    let vault = world.vault();
    let google_oauth = Arc::new(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new(
                "gid",
                Some(SecretString::new(SECRETS[0].into())),
                "http://127.0.0.1/cb",
            )
            .with_endpoints(
                format!("{}/g/auth", server.uri()),
                format!("{}/g/token", server.uri()),
                format!("{}/g/revoke", server.uri()),
            ),
        )
        .unwrap(),
    );
    let graph_oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new("mid", graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .client_secret(SecretString::new(SECRETS[1].into()))
                .authority(format!("{}/ms", server.uri())),
        )
        .unwrap(),
    );
    let google = google_provider::GoogleSource::new(
        Arc::new(google_provider::UserTokens::with_clock(
            google_oauth.clone(),
            Arc::new(VaultTokens::google(vault.clone())),
            world.clock.clone(),
        )),
        google_provider::GoogleConfig::default().base_url(server.uri()),
    )
    .unwrap();
    let graph = graph_provider::GraphSource::new(
        Arc::new(graph_provider::UserTokens::with_clock(
            graph_oauth.clone(),
            Arc::new(VaultTokens::microsoft(vault.clone())),
            world.clock.clone(),
        )),
        graph_provider::GraphConfig::default().base_url(format!("{}/v1.0", server.uri())),
    )
    .unwrap();
    let a = Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&world.path)
                .await
                .unwrap(),
        )
        .vault(vault.clone())
        .clock(world.clock.clone())
        .source(Provider::Google, Arc::new(google))
        .source(Provider::Microsoft, Arc::new(graph))
        .source(Provider::Icloud, common::Counting::new(Duration::ZERO))
        .oauth(
            Provider::Google,
            Arc::new(GoogleConnector(google_oauth.clone())),
        )
        .oauth(
            Provider::Microsoft,
            Arc::new(MicrosoftConnector(graph_oauth.clone())),
        )
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true"))
        .await
        .unwrap();
    for id in ["gus", "mel", "ivy"] {
        a.add_participant(
            Participant::new(id, id, format!("{id}@example.org"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    let me = Actor::participant;
    let pid = ParticipantId::new;
    let mut out: Vec<String> = Vec::new();

    let start = a
        .begin_connect(&me("gus"), &pid("gus"), Provider::Google)
        .await
        .unwrap();
    out.push(format!("{start:?}"));
    out.push(format!(
        "{:?}",
        a.complete_connect(&state_of(&start.authorization_url), SECRETS[2])
            .await
    ));
    let start = a
        .begin_connect(&me("mel"), &pid("mel"), Provider::Microsoft)
        .await
        .unwrap();
    out.push(format!(
        "{:?}",
        a.complete_connect(&state_of(&start.authorization_url), SECRETS[3])
            .await
    ));
    out.push(format!(
        "{:?}",
        a.connect_icloud(
            &me("ivy"),
            &pid("ivy"),
            "ivy@icloud.com",
            SecretString::new(APP_PASSWORD.into())
        )
        .await
    ));
    // A wrong code and a wrong state: errors, also searched.
    let start = a
        .begin_connect(&me("gus"), &pid("gus"), Provider::Google)
        .await
        .unwrap();
    let wrong = a
        .complete_connect(&state_of(&start.authorization_url), "not-the-code")
        .await;
    out.push(format!("{wrong:?}"));
    if let Err(e) = wrong {
        out.push(e.to_string());
    }

    // Jump a year ahead: both access tokens expired, so reading refreshes
    // them (Microsoft rotating its refresh token).
    world.clock.advance(400 * 86_400);
    let week = iv(MONDAY + 400 * 86_400, MONDAY + 405 * 86_400);
    for who in ["gus", "mel"] {
        let seen = a
            .availability(&Actor::admin_on_behalf_of("c", "gus"), &pid(who), week)
            .await;
        out.push(format!("{seen:?}"));
        out.push(a.status(&pid(who)).await.text());
    }
    let requests = server.received_requests().await.unwrap();
    let refreshes = requests
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("grant_type=refresh_token"))
        .count();
    assert_eq!(refreshes, 2, "one refresh per account");
    // The rotated refresh token is the one stored.
    let stored = vault
        .get(
            &credential_vault::OwnerId::new("mel@example.org").unwrap(),
            credential_vault::SecretKind::MicrosoftOauth,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored
            .value
            .as_oauth()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .secret(),
        SECRETS[10]
    );
    out.push(format!(
        "{stored:?} {vault:?} {a:?} {google_oauth:?} {graph_oauth:?}"
    ));
    assert!(a.disconnect(&me("gus"), &pid("gus")).await.unwrap());

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.lines().count() > 50,
        "TRACE logging was captured ({} lines)",
        logs.lines().count()
    );
    let all = out.join("\n");
    for secret in SECRETS.iter().chain([&APP_PASSWORD]) {
        for (form, text) in encodings(secret) {
            assert!(
                !logs.contains(&text),
                "{secret} ({form}: {text}) in the logs"
            );
            assert!(
                !all.contains(&text),
                "{secret} ({form}: {text}) in an output, Debug or error"
            );
        }
    }
}

/// The forms a secret could leak in: raw, percent-encoded (RFC 3986,
/// upper- and lower-case hex; form encoding's `+` for a space), and base64
/// in the standard and URL-safe alphabets (RFC 4648 §4 and §5), with and
/// without padding. A secret inside a longer base64 text (`user:secret`,
/// a JWT) is encoded at one of three offsets: for each, the characters
/// that only the secret's bytes determine.
fn encodings(secret: &str) -> Vec<(&'static str, String)> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }
    fn percent(secret: &str, lower: bool) -> String {
        secret
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ if lower => format!("%{b:02x}"),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let mut forms = vec![
        ("raw", secret.to_owned()),
        ("percent-encoded", percent(secret, false)),
        ("percent-encoded, lower-case hex", percent(secret, true)),
    ];
    for (name, alphabet) in [("base64", STANDARD), ("URL-safe base64", URL_SAFE)] {
        let bare = base64(secret.as_bytes(), alphabet);
        let padding = "=".repeat((4 - bare.len() % 4) % 4);
        forms.push((name, format!("{bare}{padding}")));
        forms.push((name, bare));
        for offset in 1..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let text = base64(&bytes, alphabet);
            let (start, end) = ((offset * 8).div_ceil(6), bytes.len() * 8 / 6);
            forms.push((name, text[start..end].to_owned()));
        }
    }
    forms
}

/// The encodings are right (RFC 4648 §10's vectors), and a secret inside a
/// longer base64 text is found at every offset.
#[test]
fn the_encodings_looked_for_are_the_real_ones() {
    let forms = |s: &str| encodings(s).into_iter().map(|(_, t)| t).collect::<Vec<_>>();
    for (input, padded, bare) in [
        ("f", "Zg==", "Zg"),
        ("fo", "Zm8=", "Zm8"),
        ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
    ] {
        assert!(forms(input).contains(&padded.to_owned()), "{input}");
        assert!(forms(input).contains(&bare.to_owned()), "{input}");
    }
    // U+FBFF is ef af bf in UTF-8: `76+/` in the standard alphabet,
    // `76-_` in the URL-safe one.
    assert!(forms("\u{fbff}").contains(&"76+/".to_owned()));
    assert!(forms("\u{fbff}").contains(&"76-_".to_owned()));
    assert!(forms("1//REFRESH-cc3").contains(&"1%2F%2FREFRESH-cc3".to_owned()));
    // "Qfoobar" and "QQfoobar" in base64: UWZvb2Jhcg==, UVFmb29iYXI=.
    let inner = forms("foobar");
    assert!(
        inner
            .iter()
            .any(|f| f.len() >= 6 && "UWZvb2Jhcg==".contains(f.as_str()))
    );
    assert!(
        inner
            .iter()
            .any(|f| f.len() >= 6 && "UVFmb29iYXI=".contains(f.as_str()) && f != "Zm9vYmFy")
    );
}
