//! Three real `serve` processes on one PostgreSQL database, 300
//! participants with Google calendars on a wiremock stand-in of Google's
//! documented endpoints, busy times kept 8 s (`--cache-ttl`), leases of
//! 3 s, background refreshes every second on every instance, and readers
//! asking all instances over HTTP meanwhile. One instance is killed
//! (SIGKILL) while it holds refresh leases, then restarted.
//!
//! The phases wait on what happened, not on the time: the stand-in's log
//! of requests (every participant refreshed twice, the dead instance's
//! participants fetched again, everyone refreshed twice after the
//! restart), and the leases in the table; the limits on those waits only
//! turn a hang into a failure.
//!
//! Asserted: 0.90 to 1.05 refreshes per participant per TTL (the TTL over
//! the mean time between a participant's fetches; three instances with
//! caches of their own would make 3), no participant fetched twice within
//! half a TTL except the fetch a killed instance had in flight, at most one
//! fetch per participant per TTL of the run (plus that repeat), and at
//! least 20 participants per freeBusy request on average; the survivors
//! fetch all the dead instance's participants again before it restarts;
//! every HTTP read on every instance gets known busy times (a read fails
//! only on the killed instance), the restarted one included; afterwards
//! every participant's busy times, connection and vault record are in the
//! database (nothing lost). The figures are printed (`--nocapture`).
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
use tokio::sync::watch;
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

/// Every freeBusy request's calendars, with when it arrived; the test
/// waits on it.
type Log = Arc<watch::Sender<Vec<(Instant, Vec<String>)>>>;

/// Waits until `done` holds of the log; `limit` seconds only turn a hang
/// into a failure naming `what`.
async fn until(
    log: &Log,
    limit: u64,
    what: &str,
    done: impl FnMut(&Vec<(Instant, Vec<String>)>) -> bool,
) {
    let mut rx = log.subscribe();
    let waited = tokio::time::timeout(Duration::from_secs(limit), rx.wait_for(done)).await;
    assert!(waited.is_ok(), "not within {limit} s: {what}");
}

/// Whether every participant was fetched at least `n` times after `since`.
fn everyone_fetched(log: &[(Instant, Vec<String>)], since: Instant, n: usize) -> bool {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (t, ids) in log {
        if *t > since {
            for id in ids {
                *counts.entry(id).or_default() += 1;
            }
        }
    }
    counts.len() == PARTICIPANTS && counts.values().all(|&c| c >= n)
}

/// The participants fetched after `since`.
fn fetched_after(log: &[(Instant, Vec<String>)], since: Instant) -> BTreeSet<String> {
    log.iter()
        .filter(|(t, _)| *t > since)
        .flat_map(|(_, ids)| {
            ids.iter()
                .map(|id| id.trim_end_matches("@example.org").to_owned())
        })
        .collect()
}

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
    let log: Log = Arc::new(watch::Sender::new(Vec::new()));
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
            seen.send_modify(|log| log.push((Instant::now(), ids)));
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
    // Everyone was asked for just now (as a read of each would record,
    // without its fetch in the log): all are in every instance's
    // refresher's working set.
    let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    let marked = db
        .execute(
            "INSERT INTO assistant_demand (participant_id, demanded_at)
             SELECT id, extract(epoch from now())::bigint FROM assistant_participants",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(marked, PARTICIPANTS as u64);
    drop(db);
    let _ = task.await;
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
        // Many readers sign in from one address.
        .args(["--sign-ins-per-minute", "100000"])
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

/// Signs in as `who` on `base`; the session cookie, or why the request
/// failed.
async fn try_sign_in(
    http: &reqwest::Client,
    base: &str,
    who: &ParticipantId,
) -> Result<String, reqwest::Error> {
    let response = http
        .post(format!("{base}/api/session"))
        .json(&json!({"participant": who.as_str()}))
        .send()
        .await?;
    assert!(response.status().is_success(), "{}", response.status());
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    Ok(cookie.split(';').next().unwrap().to_owned())
}

/// What the readers saw.
#[derive(Debug, Default)]
struct Reads {
    asked: usize,
    known: usize,
    /// Requests to the killed instance that failed (the only failures
    /// tolerated).
    lost: usize,
    /// Known answers per instance.
    known_by: BTreeMap<String, usize>,
}

/// Readers: participants reading their own busy times, round robin over
/// the live instances, until `stop`. A request may fail only if it went to
/// the instance in `killed` (taken from the live ones just before the kill).
async fn readers(
    http: reqwest::Client,
    live: Arc<Mutex<Vec<String>>>,
    killed: Arc<Mutex<Option<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Reads {
    let from = (today() + jiff::SignedDuration::from_hours(24)).to_string();
    let to = (today() + jiff::SignedDuration::from_hours(48)).to_string();
    let mut sessions: BTreeMap<(String, usize), String> = BTreeMap::new();
    let mut reads = Reads::default();
    let mut n = 0usize;
    let killed_is = |base: &str| killed.lock().unwrap().as_deref() == Some(base);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let bases = live.lock().unwrap().clone();
        let base = bases[n % bases.len()].clone();
        let who = (n * 7) % 40;
        let cookie = match sessions.get(&(base.clone(), who)) {
            Some(c) => c.clone(),
            None => match try_sign_in(&http, &base, &pid(who)).await {
                Ok(c) => {
                    sessions.insert((base.clone(), who), c.clone());
                    c
                }
                Err(e) => {
                    assert!(killed_is(&base), "signing in on {base}: {e}");
                    reads.lost += 1;
                    continue;
                }
            },
        };
        let response = http
            .get(format!("{base}/api/participants/{}/availability", pid(who)))
            .query(&[("from", &from), ("to", &to)])
            .header("cookie", cookie)
            .send()
            .await;
        let body: Result<Value, reqwest::Error> = match response {
            Ok(r) => {
                assert!(r.status().is_success(), "{base}: {}", r.status());
                r.json().await
            }
            Err(e) => Err(e),
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                assert!(killed_is(&base), "reading on {base}: {e}");
                reads.lost += 1;
                continue;
            }
        };
        reads.asked += 1;
        if body["known"] == json!(true) {
            assert_eq!(
                body["unavailable"][0]["end"].as_str().unwrap(),
                tomorrow_10()
            );
            reads.known += 1;
            *reads.known_by.entry(base).or_default() += 1;
        }
        // Pacing, not synchronisation: a reader, not a load test.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reads
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
    let killed = Arc::new(Mutex::new(None));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = tokio::spawn(readers(
        http.clone(),
        live.clone(),
        killed.clone(),
        stop.clone(),
    ));

    // Normal running: every participant read, then refreshed twice.
    let limit = 4 * TTL + 30;
    until(&log, limit, "everyone refreshed twice", |log| {
        everyone_fetched(log, began, 3)
    })
    .await;

    // Kill the instance that is refreshing a batch (holding its leases,
    // its fetches in flight).
    let found = tokio::time::timeout(Duration::from_secs(2 * TTL + 30), async {
        loop {
            for (n, instance) in instances.iter().enumerate() {
                let held = leases_of(&db, &instance.owner_prefix).await;
                if held.len() >= 20 {
                    return (n, held);
                }
            }
            // Polling the table for a state, not waiting for one.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let (victim, mut held) = found.expect("no instance leased a batch");
    let victim_prefix = instances[victim].owner_prefix.clone();
    let victim_base = instances[victim].base.clone();
    *killed.lock().unwrap() = Some(victim_base.clone());
    live.lock().unwrap().retain(|b| *b != victim_base);
    let mut dead = instances.remove(victim);
    dead.child.0.kill().unwrap();
    dead.child.0.wait().unwrap();
    let killed_at = Instant::now();
    // It may have taken more between the look and the kill: its leases
    // stay in the table until they expire.
    held.extend(leases_of(&db, &victim_prefix).await);

    // The survivors take its participants over: each is fetched again.
    until(
        &log,
        LEASE + 2 * TTL + 30,
        "the survivors took over",
        |log| {
            let since = fetched_after(log, killed_at);
            held.iter().all(|p| since.contains(p))
        },
    )
    .await;
    assert!(leases_of(&db, &dead.owner_prefix).await.is_empty());
    let takeover = {
        let log = log.borrow();
        held.iter()
            .filter_map(|p| {
                log.iter()
                    .filter(|(t, _)| *t > killed_at)
                    .find(|(_, ids)| {
                        ids.iter()
                            .any(|id| id.trim_end_matches("@example.org") == p)
                    })
                    .map(|(t, _)| *t - killed_at)
            })
            .max()
            .unwrap()
    };

    // Restart it: it joins the others, and everyone is refreshed twice more.
    let restarted = start(&url, &key_path, &server.uri(), true);
    let restarted_base = restarted.base.clone();
    live.lock().unwrap().push(restarted.base.clone());
    instances.push(restarted);
    let restarted_at = Instant::now();
    until(
        &log,
        limit,
        "everyone refreshed twice after the restart",
        |log| everyone_fetched(log, restarted_at, 2),
    )
    .await;

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reading.await.unwrap();
    drop(instances);
    let ran = began.elapsed();

    // Fetches per participant, in order.
    let log = log.borrow().clone();
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
    let (mut gaps, mut gap_sum, mut doubles) = (0u32, Duration::ZERO, Vec::new());
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
            // Far below a TTL: a second fetch, not a late first.
            if gap < ttl / 2 {
                doubles.push(format!("{p} ({gap:?})"));
            }
        }
    }
    assert!(
        doubles.is_empty(),
        "fetched twice within a TTL: {doubles:?}"
    );
    let mean_gap = gap_sum / gaps.max(1);
    let per_ttl = ttl.as_secs_f64() / mean_gap.as_secs_f64();
    assert!(
        (0.90..=1.05).contains(&per_ttl),
        "{per_ttl:.3} refreshes per participant per TTL (mean gap {mean_gap:?})"
    );
    // One fetch per participant per TTL of the run (a TTL's slack for
    // the ends), plus the dead instance's repeats: three instances with
    // caches of their own would make three times as many.
    let span = log.last().unwrap().0 - log[0].0;
    let ttls_run = usize::try_from(span.as_secs().div_ceil(TTL)).unwrap();
    let most = PARTICIPANTS * (ttls_run + 1) + held.len();
    assert!(
        fetches <= most,
        "{fetches} participant fetches in {span:?}, at most {most}"
    );
    assert!(
        requests * 20 <= fetches,
        "{fetches} participant fetches in {requests} requests: batches too small"
    );
    assert!(
        reads.asked > 50 && reads.known == reads.asked,
        "{} of {} reads known",
        reads.known,
        reads.asked
    );
    assert!(
        reads.known_by.get(&restarted_base).is_some_and(|&n| n > 0),
        "the restarted instance answered no read: {:?}",
        reads.known_by
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

    eprintln!(
        "FIGURES: {PARTICIPANTS} participants, 3 instances, TTL {TTL} s, lease {LEASE} s, \
         ran {:.1} s: {fetches} participant fetches (at most {most}) in {requests} freeBusy \
         requests; a participant's fetches {shortest:.2?} to {longest:.2?} apart (mean \
         {mean_gap:.2?}) = {per_ttl:.3} refreshes per participant per TTL (3 instances with \
         their own caches: 3.00); instance killed holding {} leases, all taken over after \
         {takeover:.2?}; {} of {} HTTP reads known ({} on the restarted instance), {} lost \
         on the killed one",
        ran.as_secs_f64(),
        held.len(),
        reads.known,
        reads.asked,
        reads.known_by.get(&restarted_base).copied().unwrap_or(0),
        reads.lost,
    );
}
