//! Several assistant instances on one PostgreSQL database, in one test
//! process but each with its own connection pools (to PostgreSQL they are
//! separate clients, as separate processes would be): records written by
//! one are seen by the others, each participant's busy times are fetched
//! by exactly one instance per TTL, a dead or cancelled instance's leases
//! pass on, and token refreshes of one account happen once per expiry
//! with no refresh token used twice. `tests/multi_instance.rs` runs the
//! same with real `serve` processes and kills one.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use availability::{AccountId, BusyKind, Clock, FixedClock, FreeBusy, TokenSource};
use common::{Counting, H, MONDAY, Validator, iv, week};
use credential_vault::{
    Credential, Expect, KeyId, KeyRing, MasterKey, OAuthTokens, OwnerId, PostgresStore, SecretKind,
    SecretString, Vault,
};
use scheduling_assistant::VaultTokens;
use scheduling_assistant::{
    Actor, Assistant, Participant, ParticipantId, Program, ProgramId, Provider, Store,
};
use serde_json::json;
use tokio::sync::watch;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn admin() -> Actor {
    Actor::Administrator {
        admin: "ops".into(),
        on_behalf_of: None,
    }
}

async fn vault(url: &str) -> Arc<Vault> {
    Arc::new(Vault::new(
        Arc::new(PostgresStore::connect_without_tls(url).await.unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
    ))
}

/// An instance: its own pools on the shared database, the shared clock
/// and provider (the calendar provider is one service for everyone).
async fn instance(
    url: &str,
    clock: &Arc<FixedClock>,
    source: &Arc<Counting>,
    lease: Duration,
) -> Assistant {
    instance_on(url, clock.clone(), source, lease).await
}

/// An instance on any clock.
async fn instance_on(
    url: &str,
    clock: Arc<dyn Clock>,
    source: &Arc<Counting>,
    lease: Duration,
) -> Assistant {
    Assistant::builder()
        .store(Store::connect_postgres_without_tls(url).await.unwrap())
        .vault(vault(url).await)
        .clock(clock)
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .refresh_lease(lease)
        .build()
        .await
        .unwrap()
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(MONDAY + 7 * H).unwrap(),
    ))
}

/// `n` participants in one program, set up and connected on `a`.
async fn seed(a: &Assistant, source: &Counting, n: usize) -> Vec<ParticipantId> {
    a.add_program(
        Program::new("mentoring", "Mentoring")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = true\n"),
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("p{i}");
        a.add_participant(
            Participant::new(
                id.as_str(),
                id.to_uppercase(),
                format!("{id}@example.org"),
                "UTC",
            ),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
        a.connect_icloud(
            &Actor::participant(id.as_str()),
            &pid(&id),
            &format!("{id}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .unwrap();
        source.set(
            &format!("{id}@example.org"),
            FreeBusy::from_entries([(BusyKind::Busy, iv(MONDAY + 9 * H, MONDAY + 10 * H))]),
        );
        ids.push(pid(&id));
    }
    ids
}

/// Every instance asks for every participant at once.
async fn everyone_asks(instances: &[Assistant], ids: &[ParticipantId]) {
    let asks = instances.iter().flat_map(|a| {
        ids.iter().map(move |p| {
            let a = a.clone();
            let p = p.clone();
            tokio::spawn(async move { a.availability(&admin(), &p, week()).await.unwrap() })
        })
    });
    for answer in futures_util::future::join_all(asks).await {
        let answer = answer.unwrap();
        assert!(answer.known, "{:?}", answer.reason);
        assert_eq!(
            answer.unavailable,
            vec![iv(MONDAY + 9 * H, MONDAY + 10 * H)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_fetch_each_participant_once_per_ttl() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::from_millis(50));
    let a = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let c = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    // Set up on A only: B and C read the records from the database.
    let ids = seed(&a, &source, 20).await;
    assert_eq!(source.total(), 0);
    let all = [a.clone(), b.clone(), c.clone()];

    everyone_asks(&all, &ids).await;
    for p in &ids {
        assert_eq!(source.asked(&format!("{p}@example.org")), 1, "{p}");
    }
    assert!(b.participants().len() == 20 && c.connection(&pid("p7")).is_some());

    // Within the TTL nobody fetches again, whichever instance is asked.
    clock.advance(599);
    everyone_asks(&all, &ids).await;
    assert_eq!(source.total(), 20);
    // After it, once more per participant in all.
    clock.advance(2);
    everyone_asks(&all, &ids).await;
    for p in &ids {
        assert_eq!(source.asked(&format!("{p}@example.org")), 2, "{p}");
    }

    // Background refreshers on all three: each stale participant once.
    clock.advance(601);
    let counts = futures_util::future::join_all(all.iter().map(|i| i.refresh(false))).await;
    assert_eq!(counts.iter().map(|c| c.fetched).sum::<usize>(), 20);
    assert_eq!(source.total(), 60);

    // A disconnection on B is seen by A and C at once: no busy times.
    assert!(
        b.disconnect(&Actor::participant("p3"), &pid("p3"))
            .await
            .unwrap()
    );
    for i in [&a, &c] {
        let answer = i.availability(&admin(), &pid("p3"), week()).await.unwrap();
        assert!(!answer.known);
        assert_eq!(
            i.status(&pid("p3")).await.text(),
            "Your calendar is not connected"
        );
    }
    assert_eq!(source.total(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_on_one_instance_are_used_by_another() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::ZERO);
    let a = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    a.add_program(Program::new("coaching", "Coaching"))
        .await
        .unwrap();
    // B enrols someone in A's program: it reloads before checking.
    b.add_participant(
        Participant::new("kai", "Kai", "kai@example.org", "Europe/Berlin"),
        &[ProgramId::new("coaching")],
    )
    .await
    .unwrap();
    assert!(a.participant(&pid("kai")).is_err(), "not loaded yet");
    assert!(a.reload().await.unwrap());
    assert_eq!(
        a.participant(&pid("kai")).unwrap().time_zone,
        "Europe/Berlin"
    );
    // Nothing changed since: a reload is a no-op.
    assert!(!a.reload().await.unwrap());
    // The unique email holds across instances.
    let err = a
        .add_participant(
            Participant::new("kai2", "Kai", "KAI@example.org", "UTC"),
            &[ProgramId::new("coaching")],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("email"), "{err}");
}

/// Puts a lease of a dead instance on `participant`'s row, expiring in
/// `ms` by the database's clock.
async fn plant_dead_lease(url: &str, participant: &str, ms: i64) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO assistant_busy (participant_id, source_key, account, window_start, \
             window_end, fetched_at, result_json, lease_owner, lease_until) \
             VALUES ($1, '', '', 0, 0, 0, '', 'a dead instance', \
             (extract(epoch from clock_timestamp()) * 1000)::bigint + $2) \
             ON CONFLICT (participant_id) DO UPDATE SET lease_owner = EXCLUDED.lease_owner, \
             lease_until = EXCLUDED.lease_until",
            &[&participant, &ms],
        )
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
}

/// The shared clock, counting its reads: a reader waiting for another
/// instance's lease reads it on every look at the row, so the count shows
/// that it is waiting without timing it.
#[derive(Debug)]
struct Watched {
    clock: Arc<FixedClock>,
    reads: watch::Sender<u64>,
}

impl Clock for Watched {
    fn now(&self) -> jiff::Timestamp {
        self.reads.send_modify(|n| *n += 1);
        self.clock.now()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_lease_expires_and_another_takes_over() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = Arc::new(Watched {
        clock: clock(),
        reads: watch::Sender::new(0),
    });
    let source = Counting::new(Duration::ZERO);
    let a = instance_on(&url, clock.clone(), &source, Duration::from_secs(30)).await;
    let ids = seed(&a, &source, 2).await;
    // An instance took p0's refresh and died: its lease runs an hour, far
    // beyond this refresh.
    plant_dead_lease(&url, "p0", 3_600_000).await;
    // A refresh (of everyone: nobody asked for them yet) leaves p0 to its
    // (dead) holder, refreshes p1.
    assert_eq!(a.refresh(true).await.fetched, 1);
    assert_eq!(source.asked("p0@example.org"), 0);
    // A reader waits while the lease lives: twenty looks at the row (two
    // clock reads each), and it has neither answered nor fetched.
    let reader = tokio::spawn({
        let a = a.clone();
        let p0 = ids[0].clone();
        async move { a.availability(&admin(), &p0, week()).await }
    });
    let mut reads = clock.reads.subscribe();
    let before = *reads.borrow_and_update();
    let _ = reads.wait_for(|n| *n >= before + 40).await.unwrap();
    assert!(!reader.is_finished(), "answered under another's live lease");
    assert_eq!(source.asked("p0@example.org"), 0);
    // The lease expires (by the database's clock): the reader takes over.
    plant_dead_lease(&url, "p0", -1).await;
    let answer = reader.await.unwrap().unwrap();
    assert!(answer.known, "{:?}", answer.reason);
    assert_eq!(
        answer.unavailable,
        vec![iv(MONDAY + 9 * H, MONDAY + 10 * H)]
    );
    assert_eq!(source.asked("p0@example.org"), 1);
}

/// A request cancelled during its fetch gives its lease back. A's leases
/// last an hour and B waits at most its own lease plus ten seconds, so B
/// can only answer if A's lease was given back; the source holds p0's
/// fetches, so A is cancelled while fetching, not after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_gives_its_lease_back() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::ZERO);
    let a = instance(&url, &clock, &source, Duration::from_secs(3600)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(5)).await;
    seed(&a, &source, 1).await;
    source.hold("p0@example.org");
    let request = tokio::spawn({
        let a = a.clone();
        async move { a.availability(&admin(), &pid("p0"), week()).await }
    });
    // A fetches only under its lease: the fetch started, the lease is A's.
    source.until_asked("p0@example.org", 1).await;
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    source.release("p0@example.org");
    let answer = b.availability(&admin(), &pid("p0"), week()).await.unwrap();
    assert!(answer.known, "{:?}", answer.reason);
    assert_eq!(source.asked("p0@example.org"), 2);
}

/// A token endpoint that rotates refresh tokens strictly: only the newest
/// refresh token is accepted, and each refresh issues the next. A refresh
/// token presented twice (two instances refreshing at once) is refused and
/// counted.
#[derive(Default)]
struct Rotating {
    newest: u32,
    refreshes: u32,
    refused: Vec<String>,
}

async fn rotating_token_endpoint(
    server: &MockServer,
    at: &str,
    prefix: &'static str,
) -> Arc<Mutex<Rotating>> {
    let state = Arc::new(Mutex::new(Rotating::default()));
    let log = state.clone();
    Mock::given(method("POST"))
        .and(path(at.to_owned()))
        .respond_with(move |r: &Request| {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let presented = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("refresh_token="))
                .unwrap_or("")
                .replace("%2E", ".");
            let mut s = log.lock().unwrap();
            if presented != format!("{prefix}{}", s.newest) {
                s.refused.push(presented);
                return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
            }
            s.newest += 1;
            s.refreshes += 1;
            let next = s.newest;
            // A moment's delay widens the window in which a second
            // instance could refresh too.
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(100))
                .set_body_json(json!({
                    "access_token": format!("access.{next}"), "expires_in": 3600,
                    "token_type": "Bearer", "refresh_token": format!("{prefix}{next}")
                }))
        })
        .mount(server)
        .await;
    state
}

/// Three instances, eight concurrent requests each, over five expiries.
async fn hammer(
    tokens: &[Arc<dyn TokenSource>],
    clock: &FixedClock,
    state: &Mutex<Rotating>,
) -> u32 {
    let account = AccountId::new("mel@example.org");
    for expiry in 1..=5 {
        clock.advance(2 * 3600);
        let asks = tokens.iter().flat_map(|t| {
            (0..8).map(|_| {
                let t = t.clone();
                let account = account.clone();
                tokio::spawn(async move { t.token(&account).await })
            })
        });
        for token in futures_util::future::join_all(asks).await {
            let token = token.unwrap().unwrap();
            assert_eq!(token.secret(), format!("access.{expiry}"));
        }
        assert_eq!(
            state.lock().unwrap().refreshes,
            expiry,
            "one refresh per expiry"
        );
    }
    state.lock().unwrap().refreshes
}

async fn stored_refresh_token(url: &str, kind: SecretKind) -> String {
    let stored = vault(url)
        .await
        .get(&OwnerId::new("mel@example.org").unwrap(), kind)
        .await
        .unwrap()
        .unwrap();
    stored
        .value
        .as_oauth()
        .unwrap()
        .refresh_token
        .as_ref()
        .unwrap()
        .secret()
        .to_owned()
}

async fn put_tokens(url: &str, credential: Credential) {
    vault(url)
        .await
        .put(
            &OwnerId::new("mel@example.org").unwrap(),
            &credential,
            Expect::Absent,
        )
        .await
        .unwrap();
}

fn expired(refresh: &str) -> OAuthTokens {
    OAuthTokens::new(SecretString::new("access.0".into()))
        .with_refresh_token(SecretString::new(refresh.into()))
        .with_expires_at(jiff::Timestamp::from_second(MONDAY).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_refresh_a_microsoft_account_once_per_expiry() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let server = MockServer::start().await;
    let state = rotating_token_endpoint(&server, "/common/oauth2/v2.0/token", "M.").await;
    put_tokens(&url, Credential::MicrosoftOauth(expired("M.0"))).await;
    let clock = clock();
    let mut tokens: Vec<Arc<dyn TokenSource>> = Vec::new();
    for _ in 0..3 {
        let oauth = Arc::new(
            graph_provider::GraphOAuth::new(
                graph_provider::AuthConfig::new("m", graph_provider::Tenant::common())
                    .redirect_uri("http://127.0.0.1/cb")
                    .authority(server.uri()),
            )
            .unwrap(),
        );
        tokens.push(Arc::new(graph_provider::UserTokens::with_clock(
            oauth,
            Arc::new(VaultTokens::microsoft(vault(&url).await)),
            clock.clone(),
        )));
    }
    assert_eq!(hammer(&tokens, &clock, &state).await, 5);
    assert!(state.lock().unwrap().refused.is_empty());
    // The newest refresh token is the one stored.
    assert_eq!(
        stored_refresh_token(&url, SecretKind::MicrosoftOauth).await,
        "M.5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_refresh_a_google_account_once_per_expiry() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let server = MockServer::start().await;
    let state = rotating_token_endpoint(&server, "/token", "G.").await;
    put_tokens(&url, Credential::GoogleOauth(expired("G.0"))).await;
    let clock = clock();
    let mut tokens: Vec<Arc<dyn TokenSource>> = Vec::new();
    for _ in 0..3 {
        let oauth = Arc::new(
            google_provider::GoogleOAuth::new(
                google_provider::OAuthConfig::new(
                    "g".to_owned(),
                    None,
                    "http://127.0.0.1/cb".to_owned(),
                )
                .with_endpoints(
                    format!("{}/auth", server.uri()),
                    format!("{}/token", server.uri()),
                    format!("{}/revoke", server.uri()),
                ),
            )
            .unwrap(),
        );
        tokens.push(Arc::new(google_provider::UserTokens::with_clock(
            oauth,
            Arc::new(VaultTokens::google(vault(&url).await)),
            clock.clone(),
        )));
    }
    assert_eq!(hammer(&tokens, &clock, &state).await, 5);
    assert!(state.lock().unwrap().refused.is_empty());
    assert_eq!(
        stored_refresh_token(&url, SecretKind::GoogleOauth).await,
        "G.5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_accounts_refreshing_at_once_than_the_pool_has_sessions() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/common/oauth2/v2.0/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(200))
                .set_body_json(json!({
                    "access_token": "access.new", "expires_in": 3600,
                    "token_type": "Bearer", "refresh_token": "M.new"
                })),
        )
        .mount(&server)
        .await;
    // One vault (a pool of 16 sessions), 40 accounts expiring together:
    // each refresh holds a session for its lock and needs another to read
    // and write. Without a cap on locks this would wait forever.
    let vault = vault(&url).await;
    for i in 0..40 {
        vault
            .put(
                &OwnerId::new(format!("u{i}@example.org")).unwrap(),
                &Credential::MicrosoftOauth(expired("M.0")),
                Expect::Absent,
            )
            .await
            .unwrap();
    }
    let oauth = Arc::new(
        graph_provider::GraphOAuth::new(
            graph_provider::AuthConfig::new("m", graph_provider::Tenant::common())
                .redirect_uri("http://127.0.0.1/cb")
                .authority(server.uri()),
        )
        .unwrap(),
    );
    let tokens = Arc::new(graph_provider::UserTokens::with_clock(
        oauth,
        Arc::new(VaultTokens::microsoft(vault)),
        clock(),
    ));
    let asks = (0..40).map(|i| {
        let tokens = tokens.clone();
        tokio::spawn(async move {
            tokens
                .token(&AccountId::new(format!("u{i}@example.org")))
                .await
        })
    });
    let all = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(asks),
    )
    .await
    .expect("refreshes finished");
    for token in all {
        assert_eq!(token.unwrap().unwrap().secret(), "access.new");
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn query_param(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

/// An instance with Google connections through `server`.
async fn google_instance(url: &str, clock: &Arc<FixedClock>, server: &MockServer) -> Assistant {
    let oauth = Arc::new(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new(
                "g".to_owned(),
                None,
                "http://127.0.0.1/api/oauth/callback".to_owned(),
            )
            .with_endpoints(
                format!("{}/auth", server.uri()),
                format!("{}/token", server.uri()),
                format!("{}/revoke", server.uri()),
            ),
        )
        .unwrap(),
    );
    let vault = vault(url).await;
    let source = google_provider::GoogleSource::new(
        Arc::new(google_provider::UserTokens::with_clock(
            oauth.clone(),
            Arc::new(VaultTokens::google(vault.clone())),
            clock.clone(),
        )),
        google_provider::GoogleConfig::default().base_url(server.uri()),
    )
    .unwrap();
    Assistant::builder()
        .store(Store::connect_postgres_without_tls(url).await.unwrap())
        .vault(vault)
        .clock(clock.clone())
        .source(Provider::Google, Arc::new(source))
        .oauth(
            Provider::Google,
            Arc::new(scheduling_assistant::GoogleConnector(oauth)),
        )
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_callback_may_reach_another_instance() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let server = MockServer::start().await;
    let verifiers: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = verifiers.clone();
    // Google's code exchange: https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |r: &Request| {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            if let Some(v) = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("code_verifier="))
            {
                seen.lock().unwrap().push(v.to_owned());
            }
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "ya29.gus", "expires_in": 3599, "token_type": "Bearer",
                "refresh_token": "1//gus",
                "scope": "https://www.googleapis.com/auth/calendar.freebusy"
            }))
        })
        .mount(&server)
        .await;
    let clock = clock();
    let a = google_instance(&url, &clock, &server).await;
    let b = google_instance(&url, &clock, &server).await;
    a.add_program(Program::new("m", "M").with_policy_toml("scheduling_assistant = true\n"))
        .await
        .unwrap();
    a.add_participant(
        Participant::new("gus", "Gus", "gus@example.org", "UTC"),
        &[ProgramId::new("m")],
    )
    .await
    .unwrap();
    let gus = Actor::participant("gus");

    // Started on A, the callback lands on B.
    let start = a
        .begin_connect(&gus, &pid("gus"), Provider::Google)
        .await
        .unwrap();
    let state = query_param(&start.authorization_url, "state");
    let challenge = query_param(&start.authorization_url, "code_challenge");
    let status = b.complete_connect(&state, "code-1").await.unwrap();
    assert_eq!(status.text(), "Your Google calendar is connected");
    assert_eq!(
        a.status(&pid("gus")).await.text(),
        "Your Google calendar is connected"
    );
    // B sent the verifier A made (RFC 7636 S256: the challenge is its
    // SHA-256, base64url).
    let verifier = verifiers.lock().unwrap()[0].clone();
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    assert_eq!(base64url(digest.as_ref()), challenge);
    // Once only, on any instance.
    for i in [&a, &b] {
        assert!(matches!(
            i.complete_connect(&state, "code-1").await,
            Err(scheduling_assistant::AssistantError::ConnectExpired)
        ));
    }
    let attempts = |owners: Vec<OwnerId>| {
        owners
            .into_iter()
            .filter(|o| o.as_str().starts_with("oauth-attempt:"))
            .count()
    };
    let shared_vault = vault(&url).await;
    assert_eq!(attempts(shared_vault.owners().await.unwrap()), 0);

    // An attempt that expired is refused everywhere, and the next attempt
    // clears it away.
    let stale = a
        .begin_connect(&gus, &pid("gus"), Provider::Google)
        .await
        .unwrap();
    clock.advance(601);
    let stale_state = query_param(&stale.authorization_url, "state");
    assert!(matches!(
        b.complete_connect(&stale_state, "code-2").await,
        Err(scheduling_assistant::AssistantError::ConnectExpired)
    ));
    let stale = a
        .begin_connect(&gus, &pid("gus"), Provider::Google)
        .await
        .unwrap();
    clock.advance(601);
    b.begin_connect(&gus, &pid("gus"), Provider::Google)
        .await
        .unwrap();
    assert_eq!(attempts(shared_vault.owners().await.unwrap()), 1);
    assert!(matches!(
        a.complete_connect(&query_param(&stale.authorization_url, "state"), "code-3")
            .await,
        Err(scheduling_assistant::AssistantError::ConnectExpired)
    ));
    assert_eq!(
        verifiers.lock().unwrap().len(),
        1,
        "no exchange of a stale attempt"
    );
}

/// Claims over the same new participants in different orders, on three
/// instances at once: rows are created and locked in one order, so no
/// claim deadlocks (each participant is fetched once, nobody gets an
/// error).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_in_different_orders_do_not_deadlock() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::from_millis(20));
    let a = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let c = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let ids = seed(&a, &source, 240).await;
    // Four rounds over participants never read before (their rows do not
    // exist yet): sorted on A, reversed on B, interleaved on C.
    for round in ids.chunks(60) {
        let sorted = round.to_vec();
        let reversed: Vec<ParticipantId> = round.iter().rev().cloned().collect();
        let interleaved: Vec<ParticipantId> = round
            .iter()
            .step_by(2)
            .chain(round.iter().skip(1).step_by(2).rev())
            .cloned()
            .collect();
        let polls = [(&a, sorted), (&b, reversed), (&c, interleaved)].map(|(i, people)| {
            let i = i.clone();
            tokio::spawn(async move {
                i.poll(
                    &admin(),
                    &scheduling_assistant::Invitees::List {
                        program: ProgramId::new("mentoring"),
                        participants: people,
                    },
                    scheduling_assistant::SlotRequest::new(Duration::from_secs(3600), week()),
                )
                .await
                .unwrap()
            })
        });
        for poll in futures_util::future::join_all(polls).await {
            let poll = poll.unwrap();
            assert!(poll.problems.is_empty(), "{:?}", poll.problems);
            assert_eq!(poll.connected, 60);
        }
    }
    for p in &ids {
        assert_eq!(source.asked(&format!("{p}@example.org")), 1, "{p}");
    }
}

async fn org_instance(url: &str, clock: &Arc<FixedClock>) -> Assistant {
    let vault = vault(url).await;
    let org = Arc::new(org_wide_auth::OrgAuth::new(vault.clone(), clock.clone()));
    Assistant::builder()
        .store(Store::connect_postgres_without_tls(url).await.unwrap())
        .vault(vault)
        .clock(clock.clone())
        .org_auth(org)
        .build()
        .await
        .unwrap()
}

/// Two instances with organisation integrations on one database, a
/// program "p" and Google Workspace on wiremock (everyone free).
async fn org_instances(url: &str) -> (MockServer, Arc<FixedClock>, Assistant, Assistant) {
    let server = common::mock_google_workspace(|_| json!([])).await;
    let clock = clock();
    let a = org_instance(url, &clock).await;
    let b = org_instance(url, &clock).await;
    a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true\n"))
        .await
        .unwrap();
    (server, clock, a, b)
}

fn workspace(server: &MockServer, domain: &str) -> org_wide_auth::GoogleWorkspace {
    org_wide_auth::GoogleWorkspace::new(
        common::service_account_key(),
        format!("scheduling@{domain}"),
        org_wide_auth::Coverage::domains([domain]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri())
}

/// An organisation integration enabled, changed or disabled on one
/// instance is applied on the others before their next read: a disabled
/// one covers nobody there any more (privacy), a changed one covers whom
/// its new settings say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_enabled_or_disabled_on_one_instance_apply_on_the_others() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let (server, clock, a, b) = org_instances(&url).await;
    for (id, email) in [("ada", "ada@school.example"), ("bo", "bo@other.example")] {
        a.add_participant(
            Participant::new(id, id, email, "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    let connected_text = "Your calendar is connected through your organisation";
    let known = |i: &Assistant, who: &'static str| {
        let i = i.clone();
        async move {
            i.availability(&admin(), &pid(who), week())
                .await
                .unwrap()
                .known
        }
    };

    a.enable_google_workspace(workspace(&server, "school.example"))
        .await
        .unwrap();
    // B, built before, picks it up on its next call.
    assert_eq!(b.status(&pid("ada")).await.text(), connected_text);
    assert!(known(&b, "ada").await);
    assert!(!known(&b, "bo").await);

    // Re-enabled with other coverage: B follows.
    a.disable_integration(org_wide_auth::IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    a.enable_google_workspace(workspace(&server, "other.example"))
        .await
        .unwrap();
    assert!(known(&b, "bo").await);
    assert!(!known(&b, "ada").await);
    assert_eq!(
        b.status(&pid("ada")).await.text(),
        "Your calendar is not connected"
    );

    // Disabled on A: B reads nobody through it any more, and asks Google
    // nothing more.
    a.disable_integration(org_wide_auth::IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    let asked = server.received_requests().await.unwrap().len();
    clock.advance(3600);
    assert!(!known(&b, "bo").await);
    assert_eq!(
        b.status(&pid("bo")).await.text(),
        "Your calendar is not connected"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), asked);
}

/// The HTTP layer picks up records written on another instance before
/// each request: a participant enrolled on A can sign in on B at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_see_records_written_on_another_instance() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::ZERO);
    let a = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = scheduling_assistant::http::router(
        b,
        scheduling_assistant::http::HttpConfig::demo(Default::default()),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let sign_in = || {
        http.post(format!("{base}/api/session"))
            .json(&json!({"participant": "kai"}))
            .send()
    };
    assert_eq!(sign_in().await.unwrap().status(), 404);
    a.add_program(Program::new("coaching", "Coaching"))
        .await
        .unwrap();
    a.add_participant(
        Participant::new("kai", "Kai", "kai@example.org", "UTC"),
        &[ProgramId::new("coaching")],
    )
    .await
    .unwrap();
    assert_eq!(sign_in().await.unwrap().status(), 200);
    server.abort();
}

/// Enabling and disabling an integration on an instance that keeps
/// reloading (another instance writes all the while, and requests keep
/// arriving) leaves it exactly as asked, here and in the store: a reload
/// never sees it changed in memory but not yet stored and undoes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn integrations_changed_during_reloads_stay_as_asked() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let (server, _clock, a, b) = org_instances(&url).await;
    a.add_participant(
        Participant::new("ada", "Ada", "ada@school.example", "UTC"),
        &[ProgramId::new("p")],
    )
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (b, stop) = (b.clone(), stop.clone());
        async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                b.add_participant(
                    Participant::new(format!("w{i}"), "W", format!("w{i}@else.example"), "UTC"),
                    &[ProgramId::new("p")],
                )
                .await
                .unwrap();
                i += 1;
            }
            i
        }
    });
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (a, stop) = (a.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    a.status(&pid("ada")).await;
                }
            })
        })
        .collect();
    let connected_text = "Your calendar is connected through your organisation";
    for _ in 0..8 {
        a.enable_google_workspace(workspace(&server, "school.example"))
            .await
            .unwrap();
        assert_eq!(a.status(&pid("ada")).await.text(), connected_text);
        assert_eq!(b.status(&pid("ada")).await.text(), connected_text);
        a.disable_integration(org_wide_auth::IntegrationKind::GoogleWorkspace)
            .await
            .unwrap();
        for i in [&a, &b] {
            assert_eq!(
                i.status(&pid("ada")).await.text(),
                "Your calendar is not connected"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }
    assert!(written > 8, "the other instance wrote {written} times");
}

/// An attempt whose row cannot be written leaves no sealed verifier
/// behind in the vault (no row would ever expire it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_write_leaves_no_verifier_behind() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let server = MockServer::start().await;
    let clock = clock();
    let a = google_instance(&url, &clock, &server).await;
    a.add_program(Program::new("m", "M").with_policy_toml("scheduling_assistant = true\n"))
        .await
        .unwrap();
    a.add_participant(
        Participant::new("gus", "Gus", "gus@example.org", "UTC"),
        &[ProgramId::new("m")],
    )
    .await
    .unwrap();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute("ALTER TABLE assistant_oauth_attempts RENAME TO attempts_gone")
        .await
        .unwrap();
    assert!(
        a.begin_connect(&Actor::participant("gus"), &pid("gus"), Provider::Google)
            .await
            .is_err()
    );
    let owners = vault(&url).await.owners().await.unwrap();
    assert!(
        !owners
            .iter()
            .any(|o| o.as_str().starts_with("oauth-attempt:")),
        "{owners:?}"
    );
}

/// Ending a pair on one instance ends visibility on another at its next
/// call; deleting a participant there leaves no row of theirs, no sealed
/// secret and no cached busy time anywhere in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_pair_or_deleting_someone_on_one_instance_holds_on_every_instance() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = clock();
    let source = Counting::new(Duration::ZERO);
    let a = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let b = instance(&url, &clock, &source, Duration::from_secs(30)).await;
    let ids = seed(&a, &source, 2).await;
    a.add_pair(scheduling_assistant::Pair {
        id: "p0-p1".into(),
        program: "mentoring".into(),
        mentor: ids[0].clone(),
        mentee: ids[1].clone(),
    })
    .await
    .unwrap();
    let p1 = Actor::participant("p1");
    // B sees the pair (and caches p0's busy times in the shared table).
    let seen = b.availability(&p1, &ids[0], week()).await.unwrap();
    assert!(seen.known);
    a.end_pair(&"p0-p1".into()).await.unwrap();
    let after = b.availability(&p1, &ids[0], week()).await;
    assert!(
        matches!(
            after,
            Err(scheduling_assistant::AssistantError::NotAllowed(_))
        ),
        "{after:?}"
    );
    assert_eq!(b.pair_history().len(), 1);

    // Deleting p0 on B: nothing of p0 stays in any table.
    assert!(b.delete_participant(&ids[0]).await.unwrap());
    // A's next call sees it (the synchronous getters answer from its copy:
    // reload first, as README says).
    let gone = a.availability(&admin(), &ids[0], week()).await;
    assert!(
        matches!(
            gone,
            Err(scheduling_assistant::AssistantError::UnknownParticipant(_))
        ),
        "{gone:?}"
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "assistant_busy"), "{tables:?}");
    for t in &tables {
        // Every row as text: no mention of p0's id or addresses.
        let rows = client
            .query(&format!("SELECT CAST(t AS TEXT) FROM \"{t}\" t"), &[])
            .await
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            for needle in [
                "p0@example.org",
                "p0@icloud.com",
                "\"p0\"",
                "(p0,",
                ",p0,",
                ",p0)",
            ] {
                assert!(!text.contains(needle), "{t}: {text}");
            }
        }
    }
    drop(client);
    let _ = task.await;
}

/// Exchange Online and on-premise exclude each other across instances,
/// checked in the database: A validates Exchange Online while B enables
/// on-premise and stores it first (A's probe is held until then, so both
/// passed their in-memory checks). A's save is refused as a conflict, its
/// secret removed, and every instance then covers the school through
/// on-premise only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_online_and_on_premise_racing_on_two_instances_store_one() {
    use ews_provider::test_support::AvailabilityDouble;
    use org_wide_auth::{Coverage, ExchangeOnPremise, ExchangeOnline, IntegrationKind, OrgError};
    use scheduling_assistant::AssistantError;
    use std::sync::mpsc;

    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let ews = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/EWS/Exchange.asmx"))
        .respond_with(
            AvailabilityDouble::new()
                .mailbox("scheduling@school.example", &[])
                .mailbox("ada@school.example", &[]),
        )
        .mount(&ews)
        .await;
    // Graph: the app token, and a getSchedule probe held until released
    // (this mock server's own thread waits; the EWS one is another).
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/school.example/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app"
        })))
        .mount(&graph)
        .await;
    let (arrived_tx, arrived) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let (arrived_tx, released) = (Mutex::new(arrived_tx), Mutex::new(released));
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("/calendar/getSchedule$"))
        .respond_with(move |_: &Request| {
            let _ = arrived_tx.lock().unwrap().send(());
            let _ = released
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
            ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"scheduleId": "scheduling@school.example", "scheduleItems": []}]}))
        })
        .mount(&graph)
        .await;

    let clock = clock();
    let a = org_instance(&url, &clock).await;
    let b = org_instance(&url, &clock).await;
    a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true\n"))
        .await
        .unwrap();
    a.add_participant(
        Participant::new("ada", "ada", "ada@school.example", "UTC"),
        &[ProgramId::new("p")],
    )
    .await
    .unwrap();
    let coverage = Coverage::domains(["school.example"]);
    let online = ExchangeOnline::new(
        "school.example",
        "client",
        credential_vault::AppSecret::ClientSecret(SecretString::new("s".into())),
        "scheduling@school.example",
        coverage.clone(),
    )
    .endpoints(graph.uri(), format!("{}/v1.0", graph.uri()));
    let on_premise = ExchangeOnPremise::new(
        format!("{}/EWS/Exchange.asmx", ews.uri()),
        "SCHOOL\\scheduler",
        SecretString::new("pw".into()),
        "scheduling@school.example",
        coverage,
    )
    .with_auth(ews_provider::AuthMethod::Basic);

    let racing = {
        let a = a.clone();
        tokio::spawn(async move { a.enable_exchange_online(online).await })
    };
    tokio::task::spawn_blocking(move || arrived.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("A's probe reached Graph");
    let connected = b.enable_exchange_on_premise(on_premise).await.unwrap();
    assert_eq!(connected.len(), 1);
    release.send(()).unwrap();
    let err = racing.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            AssistantError::Organisation(OrgError::ExchangeConflict {
                enabled: IntegrationKind::ExchangeOnPremise,
                requested: IntegrationKind::ExchangeOnline,
            })
        ),
        "{err}"
    );

    // One integration stored; A's secret is gone; both cover ada through
    // on-premise, and so does a third instance started now.
    let c = org_instance(&url, &clock).await;
    let vault = vault(&url).await;
    let online_owner = OwnerId::new("org:exchange-online").unwrap();
    assert!(vault.kinds(&online_owner).await.unwrap().is_empty());
    for instance in [&a, &b, &c] {
        assert_eq!(
            instance.status(&pid("ada")).await.text(),
            "Your calendar is connected through your organisation"
        );
        assert!(
            instance
                .availability(&admin(), &pid("ada"), week())
                .await
                .unwrap()
                .known
        );
    }
}
