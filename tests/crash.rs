//! A process killed (SIGKILL) in the middle of Microsoft token refreshes
//! loses nothing: the vault's record still opens, holds a refresh token the
//! provider issued (the newest, or the one before when the kill fell
//! between the provider's answer and the vault's write, which Microsoft
//! still accepts), and a new process refreshes from it.
//!
//! The child is this test binary run again, filtered to
//! `child_refreshes_until_killed`, which refreshes in a loop against the
//! parent's wiremock token endpoint and a SQLite vault, printing a line per
//! refresh.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use availability::{AccountId, FixedClock, TokenSource};
use credential_vault::{
    Credential, Expect, KeyId, KeyRing, MasterKey, OAuthTokens, OwnerId, SecretKind, SecretString,
    SqliteStore, Vault,
};
use scheduling_assistant::VaultTokens;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "mel@example.org";

fn vault(db: &str) -> Vault {
    Vault::new(
        Arc::new(SqliteStore::open(db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [11; 32])),
    )
}

/// The child: refreshes forever, two hours of clock apart. Ignored, so a
/// normal run never counts it as a test; the parent runs it with
/// `--ignored --exact` and the environment it needs.
#[tokio::test]
#[ignore = "the child process of a_kill_during_token_refreshes_loses_nothing, started by it"]
async fn child_refreshes_until_killed() {
    let (Ok(db), Ok(authority)) = (
        std::env::var("CRASH_CHILD_DB"),
        std::env::var("CRASH_CHILD_AUTHORITY"),
    ) else {
        panic!(
            "run only by a_kill_during_token_refreshes_loses_nothing, which sets CRASH_CHILD_DB"
        );
    };
    let vault = Arc::new(vault(&db));
    let clock = Arc::new(FixedClock::new(jiff::Timestamp::now()));
    let oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new("m", graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .authority(authority),
        )
        .unwrap(),
    );
    let account = AccountId::new(ACCOUNT);
    for n in 0.. {
        clock.advance(2 * 3600);
        let tokens = graph_provider::UserTokens::with_clock(
            oauth.clone(),
            Arc::new(VaultTokens::microsoft(vault.clone())),
            clock.clone(),
        );
        tokens.token(&account).await.unwrap();
        println!("refreshed {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_token_refreshes_loses_nothing() {
    // The token endpoint rotates: refresh token N gets N+1; any issued
    // refresh token is accepted (as Microsoft accepts a superseded one for
    // a while), anything else is invalid_grant.
    let issued: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec!["M.0".to_owned()]));
    let server = MockServer::start().await;
    let log = issued.clone();
    Mock::given(method("POST"))
        .and(path("/common/oauth2/v2.0/token"))
        .respond_with(move |r: &Request| {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let presented = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("refresh_token="))
                .unwrap_or("")
                .replace("%2E", ".");
            let mut issued = log.lock().unwrap();
            if !issued.contains(&presented) {
                return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
            }
            let next = format!("M.{}", issued.len());
            issued.push(next.clone());
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("eyJ.{next}"), "expires_in": 3600,
                "token_type": "Bearer", "refresh_token": next
            }))
        })
        .mount(&server)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vault.sqlite3");
    let db = db.to_str().unwrap().to_owned();
    let owner = OwnerId::new(ACCOUNT).unwrap();
    vault(&db)
        .put(
            &owner,
            &Credential::MicrosoftOauth(
                OAuthTokens::new(SecretString::new("eyJ.0".into()))
                    .with_refresh_token(SecretString::new("M.0".into())),
            ),
            Expect::Absent,
        )
        .await
        .unwrap();

    for kill_after in [3, 25, 80] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_refreshes_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CRASH_CHILD_DB", &db)
            .env("CRASH_CHILD_AUTHORITY", server.uri())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let seen = tokio::task::spawn_blocking(move || {
            let mut seen = 0;
            for line in BufReader::new(stdout).lines() {
                if line.unwrap().starts_with("refreshed ") {
                    seen += 1;
                    if seen == kill_after {
                        break;
                    }
                }
            }
            seen
        })
        .await
        .unwrap();
        // SIGKILL, mid-loop: the next refresh is usually in flight.
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(seen, kill_after, "the child stopped early");

        let stored = vault(&db)
            .get(&owner, SecretKind::MicrosoftOauth)
            .await
            .expect("the record opens after the kill")
            .expect("the record is still there");
        let refresh = stored
            .value
            .as_oauth()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .secret()
            .to_owned();
        let issued = issued.lock().unwrap().clone();
        let position = issued.iter().position(|t| *t == refresh).unwrap();
        assert!(
            position + 2 >= issued.len(),
            "kill after {kill_after}: stored {refresh}, newest {}",
            issued.last().unwrap()
        );
    }
    // A healthy process carries on from what is stored.
    let clock = Arc::new(FixedClock::new(jiff::Timestamp::now()));
    clock.advance(1000 * 3600);
    let oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new("m", graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .authority(server.uri()),
        )
        .unwrap(),
    );
    let tokens = graph_provider::UserTokens::with_clock(
        oauth,
        Arc::new(VaultTokens::microsoft(Arc::new(vault(&db)))),
        clock,
    );
    tokens.token(&AccountId::new(ACCOUNT)).await.unwrap();
}
