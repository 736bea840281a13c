//! Three real `serve` processes on one PostgreSQL database, 300
//! participants with Google calendars on a wiremock stand-in of Google's
//! documented endpoints, busy times kept 8 s (`--cache-ttl`), leases of
//! 3 s, background refreshes every second on every instance, and readers
//! asking all instances over HTTP meanwhile. One instance is killed
//! (SIGKILL) while it holds refresh leases, then restarted.
//!
//! Asserted: each participant is fetched once per TTL in all (never twice
//! within one TTL, never much later than one), except the fetch a killed
//! instance had in flight; the survivors take over the dead instance's
//! participants within the lease plus a refresh tick; readers on every
//! instance get known busy times; afterwards every participant's busy
//! times, connection and vault record are in the database (nothing lost).
//! The figures are printed (run with `--nocapture`).
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credential_vault::{KeyId, KeyRing, MasterKey, OwnerId, PostgresStore, SecretKind, Vault};
use google_provider::{GoogleOAuth, OAuthConfig};
use scheduling_assistant::GoogleConnector;
use scheduling_assistant::VaultTokens;
use scheduling_assistant::{Actor, Assistant, Participant, ParticipantId, Program, ProgramId};
use scheduling_assistant::{Provider, Store};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PARTICIPANTS: usize = 300;
const TTL: u64 = 8;
const LEASE: u64 = 3;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("serve")
}

/// Every freeBusy request's calendars, with when it arrived.
type Log = Arc<Mutex<Vec<(Instant, Vec<String>)>>>;

/// Google's token endpoint (code exchange) and `freeBusy.query`, as
/// documented: https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
/// and https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query
async fn google(server: &MockServer) -> Log {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.shared-test", "expires_in": 86400,
            "token_type": "Bearer", "refresh_token": "1//refresh",
            "scope": "https://www.googleapis.com/auth/calendar.freebusy"
        })))
        .mount(server)
        .await;
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(move |r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let ids: Vec<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect();
            let calendars: serde_json::Map<String, Value> = ids
                .iter()
                .map(|id| {
                    (
                        id.clone(),
                        json!({"busy": [{"start": body["timeMin"], "end": tomorrow_10()}]}),
                    )
                })
                .collect();
            seen.lock().unwrap().push((Instant::now(), ids));
            // Slow enough that a kill lands while fetches are in flight.
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(400))
                .set_body_json(json!({
                    "kind": "calendar#freeBusy",
                    "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                    "calendars": calendars
                }))
        })
        .mount(server)
        .await;
    log
}

fn today() -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now - now.rem_euclid(86_400)).unwrap()
}

fn tomorrow_10() -> String {
    (today() + jiff::SignedDuration::from_hours(34)).to_string()
}

fn pid(i: usize) -> ParticipantId {
    ParticipantId::new(format!("p{i:03}"))
}

/// Programs, participants and their Google connections (through the
/// OAuth code flow), written to the database by an assistant that then
/// goes away; the instances find everything there.
async fn seed(url: &str, key: MasterKey, server: &MockServer) {
    let vault = Arc::new(Vault::new(
        Arc::new(PostgresStore::connect_without_tls(url).await.unwrap()),
        KeyRing::new(key),
    ));
    let oauth = GoogleOAuth::new(
        OAuthConfig::new(
            "test-client".to_owned(),
            None,
            "http://127.0.0.1/api/oauth/callback".to_owned(),
        )
        .with_endpoints(
            format!("{}/auth", server.uri()),
            format!("{}/token", server.uri()),
            format!("{}/revoke", server.uri()),
        ),
    )
    .unwrap();
    let oauth = Arc::new(oauth);
    let source = google_provider::GoogleSource::new(
        Arc::new(google_provider::UserTokens::new(
            oauth.clone(),
            Arc::new(VaultTokens::google(vault.clone())),
        )),
        google_provider::GoogleConfig::default().base_url(server.uri()),
    )
    .unwrap();
    let a = Assistant::builder()
        .store(Store::connect_postgres_without_tls(url).await.unwrap())
        .vault(vault)
        .source(Provider::Google, Arc::new(source))
        .oauth(Provider::Google, Arc::new(GoogleConnector(oauth)))
        .build()
        .await
        .unwrap();
    a.add_program(
        Program::new("mentoring", "Mentoring").with_policy_toml("scheduling_assistant = true\n"),
    )
    .await
    .unwrap();
    for i in 0..PARTICIPANTS {
        let id = pid(i);
        a.add_participant(
            Participant::new(id.as_str(), id.as_str(), format!("{id}@example.org"), "UTC"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
        let start = a
            .begin_connect(&Actor::Participant(id.clone()), &id, Provider::Google)
            .await
            .unwrap();
        let state = start
            .authorization_url
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("state="))
            .unwrap()
            .to_owned();
        a.complete_connect(&state, &format!("code-{i}"))
            .await
            .unwrap();
    }
}

struct Instance {
    child: Killed,
    base: String,
    owner_prefix: String,
}

/// Starts `serve` on the database: with `--database`, or (`url_in_env`)
/// through `DATABASE_URL`, as one keeps a password out of the process list.
fn start(url: &str, key: &Path, google: &str, url_in_env: bool) -> Instance {
    let mut command = Command::new(serve_binary());
    if url_in_env {
        command.env("DATABASE_URL", url);
    } else {
        command.args(["--database", url]).env_remove("DATABASE_URL");
    }
    let mut child = command
        .args(["--addr", "127.0.0.1:0", "--key"])
        .arg(key)
        .args(["--cache-ttl", &TTL.to_string(), "--refresh-every", "1"])
        .args(["--lease", &LEASE.to_string()])
        .env("GOOGLE_CLIENT_ID", "test-client")
        .env("GOOGLE_AUTH_URL", format!("{google}/auth"))
        .env("GOOGLE_TOKEN_URL", format!("{google}/token"))
        .env("GOOGLE_API_URL", google)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    let owner_prefix = format!("pid {} at ", child.id());
    Instance {
        child: Killed(child),
        base,
        owner_prefix,
    }
}

/// Signs in as `who` on `base`; the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, who: &ParticipantId) -> String {
    let response = http
        .post(format!("{base}/api/session"))
        .json(&json!({"participant": who.as_str()}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// Readers: participants reading their own busy times, round robin over
/// the live instances, until `stop`. Returns how many answers were known.
async fn readers(
    http: reqwest::Client,
    live: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (usize, usize) {
    let from = (today() + jiff::SignedDuration::from_hours(24)).to_string();
    let to = (today() + jiff::SignedDuration::from_hours(48)).to_string();
    let mut sessions: BTreeMap<(String, usize), String> = BTreeMap::new();
    let (mut asked, mut known) = (0, 0);
    let mut n = 0usize;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let bases = live.lock().unwrap().clone();
        let base = bases[n % bases.len()].clone();
        let who = (n * 7) % 40;
        let cookie = match sessions.get(&(base.clone(), who)) {
            Some(c) => c.clone(),
            None => {
                let c = sign_in(&http, &base, &pid(who)).await;
                sessions.insert((base.clone(), who), c.clone());
                c
            }
        };
        let response = http
            .get(format!("{base}/api/participants/{}/availability", pid(who)))
            .query(&[("from", &from), ("to", &to)])
            .header("cookie", cookie)
            .send()
            .await;
        // An instance killed between the snapshot and the request.
        let Ok(response) = response else { continue };
        asked += 1;
        let body: Value = response.json().await.unwrap();
        if body["known"] == json!(true) {
            assert_eq!(
                body["unavailable"][0]["end"].as_str().unwrap(),
                tomorrow_10()
            );
            known += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (asked, known)
}

async fn leases_of(db: &tokio_postgres::Client, prefix: &str) -> BTreeSet<String> {
    db.query(
        "SELECT participant_id FROM assistant_busy WHERE lease_owner LIKE $1",
        &[&format!("{prefix}%")],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<_, String>(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_share_one_database() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockServer::start().await;
    let log = google(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("vault.key");
    let key = MasterKey::create_dev_key_file(KeyId(1), &key_path).unwrap();
    seed(&url, key, &server).await;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);

    let began = Instant::now();
    let mut instances: Vec<Instance> = (0..3)
        .map(|_| start(&url, &key_path, &server.uri(), false))
        .collect();
    let live = Arc::new(Mutex::new(
        instances.iter().map(|i| i.base.clone()).collect::<Vec<_>>(),
    ));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = tokio::spawn(readers(http.clone(), live.clone(), stop.clone()));

    // Two TTLs of normal running.
    tokio::time::sleep(Duration::from_secs(2 * TTL)).await;

    // Kill the instance that is refreshing a batch (holding its leases,
    // its fetches in flight).
    let (victim, mut held) = 'found: loop {
        for (n, instance) in instances.iter().enumerate() {
            let held = leases_of(&db, &instance.owner_prefix).await;
            if held.len() >= 20 {
                break 'found (n, held);
            }
        }
        assert!(
            began.elapsed() < Duration::from_secs(2 * TTL + 30),
            "no instance leased a batch"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let victim_prefix = instances[victim].owner_prefix.clone();
    let victim_base = instances[victim].base.clone();
    live.lock().unwrap().retain(|b| *b != victim_base);
    let mut dead = instances.remove(victim);
    dead.child.0.kill().unwrap();
    dead.child.0.wait().unwrap();
    let killed_at = Instant::now();
    // It may have taken more between the look and the kill: its leases
    // stay in the table until they expire.
    held.extend(leases_of(&db, &victim_prefix).await);

    // The survivors take its participants over: each is fetched again.
    let takeover = loop {
        let fetched_since: BTreeSet<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t > killed_at)
            .flat_map(|(_, ids)| {
                ids.iter()
                    .map(|id| id.trim_end_matches("@example.org").to_owned())
            })
            .collect();
        if held.iter().all(|p| fetched_since.contains(p)) {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(LEASE + TTL + 10),
            "the dead instance's participants were not taken over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(leases_of(&db, &dead.owner_prefix).await.is_empty());
    // The lease's rest, a refresh tick and a fetch.
    assert!(
        takeover < Duration::from_secs(LEASE + 6),
        "took {takeover:?} to take over"
    );

    // Restart it: it joins the others.
    let restarted = start(&url, &key_path, &server.uri(), true);
    live.lock().unwrap().push(restarted.base.clone());
    instances.push(restarted);
    tokio::time::sleep(Duration::from_secs(2 * TTL)).await;

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (asked, known) = reading.await.unwrap();
    drop(instances);
    let ran = began.elapsed();

    // Fetches per participant, in order.
    let log = log.lock().unwrap().clone();
    let requests = log.len();
    let mut times: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for (t, ids) in &log {
        for id in ids {
            times
                .entry(id.trim_end_matches("@example.org").to_owned())
                .or_default()
                .push(*t);
        }
    }
    assert_eq!(times.len(), PARTICIPANTS, "every participant was read");
    let ttl = Duration::from_secs(TTL);
    let mut shortest = Duration::MAX;
    let mut longest = Duration::ZERO;
    let mut fetches = 0;
    let (mut gaps, mut gap_sum) = (0u32, Duration::ZERO);
    for (p, ts) in &times {
        fetches += ts.len();
        for pair in ts.windows(2) {
            let gap = pair[1] - pair[0];
            // The fetch the killed instance had in flight is repeated by
            // the survivor that takes its lease over.
            let straddles_kill = pair[0] <= killed_at && pair[1] > killed_at;
            if straddles_kill && held.contains(p) {
                continue;
            }
            gaps += 1;
            gap_sum += gap;
            shortest = shortest.min(gap);
            longest = longest.max(gap);
            // Ages are whole seconds: a row fetched at 12.9 s is 8 s old
            // at 20.0 s.
            assert!(
                gap + Duration::from_millis(1500) >= ttl,
                "{p} fetched twice within one TTL ({gap:?})"
            );
            assert!(
                gap <= ttl + Duration::from_secs(LEASE + 4),
                "{p} went {gap:?} without a refresh"
            );
        }
    }
    assert!(
        asked > 50 && known == asked,
        "{known} of {asked} reads known"
    );

    // Nothing lost: busy times, connections and credentials of everyone.
    let stored: i64 = db
        .query_one(
            "SELECT count(*) FROM assistant_busy WHERE result_json LIKE '{\"busy\":%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, PARTICIPANTS as i64);
    let connections: i64 = db
        .query_one("SELECT count(*) FROM assistant_connections", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(connections, PARTICIPANTS as i64);
    let vault = Vault::new(
        Arc::new(PostgresStore::connect_without_tls(&url).await.unwrap()),
        KeyRing::new(MasterKey::from_file(KeyId(1), &key_path).unwrap()),
    );
    for i in 0..PARTICIPANTS {
        let owner = OwnerId::new(format!("{}@example.org", pid(i))).unwrap();
        let tokens = vault.get(&owner, SecretKind::GoogleOauth).await.unwrap();
        assert!(tokens.is_some(), "{} lost their tokens", pid(i));
    }

    let mean_gap = gap_sum / gaps.max(1);
    eprintln!(
        "FIGURES: {PARTICIPANTS} participants, 3 instances, TTL {TTL} s, lease {LEASE} s, \
         ran {:.1} s: {fetches} participant fetches in {requests} freeBusy requests; a \
         participant's fetches {shortest:.2?} to {longest:.2?} apart (mean {mean_gap:.2?}) = \
         {:.2} refreshes per participant per TTL (3 instances with their own caches: 3.00); \
         instance killed holding {} leases, all taken over after {takeover:.2?}; {known} of \
         {asked} HTTP reads known",
        ran.as_secs_f64(),
        ttl.as_secs_f64() / mean_gap.as_secs_f64(),
        held.len(),
    );
}
