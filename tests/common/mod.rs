//! Shared set-up for the assistant's tests: a SQLite file holding both the
//! vault and the assistant's tables, an injected clock, counting sources.
#![allow(dead_code, clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    Capabilities, FixedClock, FreeBusy, FreeBusyRequest, FreeBusyResponse, FreeBusySource,
    Interval, MemorySource, SourceError,
};
use caldav_provider::CalDavLogin;
use credential_vault::{KeyId, KeyRing, MasterKey, SqliteStore, Vault};
use scheduling_assistant::CalDavValidator;
use scheduling_assistant::{Assistant, AssistantBuilder, Store};
use tokio::sync::watch;

pub const H: i64 = 3600;
/// Monday 2 March 2026, 00:00 UTC.
pub const MONDAY: i64 = 1_772_409_600;

pub fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

pub fn iv(a: i64, b: i64) -> Interval {
    Interval::new(a, b).unwrap()
}

pub fn week() -> Interval {
    iv(MONDAY, MONDAY + 5 * 86_400)
}

/// A memory source that counts, per account, how often it was asked, and
/// can take a while to answer (so concurrent requests overlap). Tests wait
/// on its counts ([`Counting::until_asked`]: a fetch has started) and hold
/// an account's fetches until they release them ([`Counting::hold`]), so
/// they need no sleeps to know where a request is.
#[derive(Debug)]
pub struct Counting {
    pub inner: MemorySource,
    asked: watch::Sender<HashMap<String, usize>>,
    held: watch::Sender<HashSet<String>>,
    pub delay: Duration,
    caps: Capabilities,
}

impl Counting {
    pub fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: MemorySource::new(),
            asked: watch::Sender::new(HashMap::new()),
            held: watch::Sender::new(HashSet::new()),
            delay,
            caps: Capabilities::new(50),
        })
    }

    pub fn asked(&self, account: &str) -> usize {
        self.asked.borrow().get(account).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.asked.borrow().values().sum()
    }

    /// Returns once `account` has been asked for `n` times in all: the
    /// `n`th fetch has started (and is held, if the account is).
    pub async fn until_asked(&self, account: &str, n: usize) {
        let mut asked = self.asked.subscribe();
        let _ = asked
            .wait_for(|m| m.get(account).copied().unwrap_or(0) >= n)
            .await
            .unwrap();
    }

    /// Fetches of `account` (counted when they start) wait until
    /// [`Counting::release`].
    pub fn hold(&self, account: &str) {
        self.held.send_modify(|h| {
            h.insert(account.to_owned());
        });
    }

    /// Lets held and later fetches of `account` answer.
    pub fn release(&self, account: &str) {
        self.held.send_modify(|h| {
            h.remove(account);
        });
    }

    pub fn set(&self, account: &str, busy: FreeBusy) {
        self.inner.insert(account, busy);
    }
}

#[async_trait]
impl FreeBusySource for Counting {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        self.asked.send_modify(|asked| {
            for a in &request.accounts {
                *asked.entry(a.to_string()).or_default() += 1;
            }
        });
        let mut held = self.held.subscribe();
        let _ = held
            .wait_for(|h| request.accounts.iter().all(|a| !h.contains(a.as_str())))
            .await
            .unwrap();
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.free_busy(request).await
    }
}

/// A sender that records what it was asked to send, or fails as told.
#[derive(Debug, Default)]
pub struct Recorder {
    pub sent: Mutex<Vec<(availability::Meeting, availability::MeetingChange)>>,
    pub fail: Mutex<Option<SourceError>>,
}

#[async_trait]
impl availability::MeetingSender for Recorder {
    fn via(&self) -> &'static str {
        "email"
    }

    fn organiser(&self) -> Option<availability::Person> {
        Some(availability::Person::new("scheduling@example.org").named("Scheduling"))
    }

    async fn send(
        &self,
        meeting: &availability::Meeting,
        change: &availability::MeetingChange,
    ) -> Result<availability::Delivered, SourceError> {
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        self.sent
            .lock()
            .unwrap()
            .push((meeting.clone(), change.clone()));
        Ok(availability::Delivered {
            via: "email",
            event: None,
        })
    }
}

/// An iCloud validator that accepts or refuses every login.
#[derive(Debug)]
pub struct Validator(pub Option<SourceError>);

#[async_trait]
impl CalDavValidator for Validator {
    async fn validate(&self, _login: &CalDavLogin) -> Result<(), SourceError> {
        match &self.0 {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub clock: Arc<FixedClock>,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assistant.sqlite3");
        Self {
            dir,
            path,
            clock: Arc::new(FixedClock::new(
                jiff::Timestamp::from_second(MONDAY + 7 * H).unwrap(),
            )),
        }
    }

    /// A vault over the same SQLite file.
    pub fn vault(&self) -> Arc<Vault> {
        Arc::new(Vault::new(
            Arc::new(SqliteStore::open(&self.path).unwrap()),
            KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
        ))
    }

    /// A builder with the store, a vault and the clock; add sources.
    pub async fn builder(&self) -> AssistantBuilder {
        Assistant::builder()
            .store(Store::open_sqlite(&self.path).await.unwrap())
            .vault(self.vault())
            .clock(self.clock.clone())
    }
}

/// The URL of a new, empty database on the PostgreSQL server the README
/// test command starts (`TEST_POSTGRES_URL`, no database path). Without the
/// variable the test fails, naming the command that provides the server;
/// outside CI, `CREDENTIAL_VAULT_SKIP_POSTGRES=1` skips explicitly.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_url() -> Option<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        if !in_ci && std::env::var("CREDENTIAL_VAULT_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("SKIPPED: PostgreSQL tests (CREDENTIAL_VAULT_SKIP_POSTGRES=1)");
            return None;
        }
        panic!(
            "TEST_POSTGRES_URL is not set: run `scripts/test`, which installs and starts \
             PostgreSQL on loopback, or point it at a server (postgres://user@127.0.0.1:PORT)"
        );
    };
    let base = base.trim_end_matches('/');
    let name = format!(
        "sa_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (admin, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    let task = tokio::spawn(connection);
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    drop(admin);
    let _ = task.await;
    Some(format!("{base}/{name}"))
}

/// The test service account's key (org-wide-auth's fixture).
pub fn service_account_key() -> credential_vault::SecretString {
    credential_vault::SecretString::new(
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/org-wide-auth/tests/test-service-account.json"),
        )
        .unwrap(),
    )
}

/// Google Workspace on wiremock: the JWT-bearer token endpoint of a
/// service account and freeBusy, where `busy_of(calendar id)` gives each
/// calendar's `busy` array.
/// https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
/// https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query
pub async fn mock_google_workspace(busy_of: fn(&str) -> serde_json::Value) -> wiremock::MockServer {
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(move |r: &wiremock::Request| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let calendars: serde_json::Map<String, serde_json::Value> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let id = i["id"].as_str().unwrap();
                    (id.to_owned(), json!({ "busy": busy_of(id) }))
                })
                .collect();
            ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "calendar#freeBusy", "calendars": calendars}))
        })
        .mount(&server)
        .await;
    server
}

/// Google and Microsoft Graph with participants' own OAuth, on `server`
/// (wiremock): authorization and token endpoints under `/google/` and
/// `/ms/common/oauth2/v2.0/`, the calendar APIs at the root and `/v1.0`,
/// tokens in `vault`, the clock of `world`.
pub fn with_own_oauth(
    builder: AssistantBuilder,
    world: &World,
    vault: &Arc<Vault>,
    server: &wiremock::MockServer,
    google_client: &str,
    ms_app: &str,
) -> AssistantBuilder {
    use policy_rules::Provider;
    use scheduling_assistant::{GoogleConnector, MicrosoftConnector, VaultTokens};
    let google_oauth = Arc::new(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new(google_client, None, "http://127.0.0.1/cb")
                .with_endpoints(
                    format!("{}/google/auth", server.uri()),
                    format!("{}/google/token", server.uri()),
                    format!("{}/google/revoke", server.uri()),
                ),
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
    let graph_oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new(ms_app, graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .authority(format!("{}/ms", server.uri())),
        )
        .unwrap(),
    );
    // The default mode: each account as its token says.
    let graph = graph_provider::GraphSource::new(
        Arc::new(graph_provider::UserTokens::with_clock(
            graph_oauth.clone(),
            Arc::new(VaultTokens::microsoft(vault.clone())),
            world.clock.clone(),
        )),
        graph_provider::GraphConfig::default().base_url(format!("{}/v1.0", server.uri())),
    )
    .unwrap();
    builder
        .source(Provider::Google, Arc::new(google))
        .source(Provider::Microsoft, Arc::new(graph))
        .oauth(Provider::Google, Arc::new(GoogleConnector(google_oauth)))
        .oauth(
            Provider::Microsoft,
            Arc::new(MicrosoftConnector(graph_oauth)),
        )
}
