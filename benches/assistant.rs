//! A group poll over 100 and 500 invitees and 4 weeks, through the whole
//! assistant.
//!
//! ```text
//! cargo bench --bench assistant
//! ```
//!
//! Every invitee connected Google by OAuth (each with their own token, as
//! participants do), and Google's `freeBusy` is a wiremock server on
//! loopback answering the documented JSON with about three meetings per
//! weekday per invitee.
//!
//! - `assistant/poll_100x4w/warm`: busy times cached; the poll is the
//!   policy's bookable hours, the slot search and the bookkeeping.
//! - `assistant/poll_100x4w/cold`: a cache TTL of zero, so every poll
//!   fetches all 100 calendars over HTTP (Google's freeBusy takes one
//!   token per request, so 100 requests, 4 in flight) and parses them.
//! - `assistant/floor_find_slots_100x4w`: the same slot search on the
//!   same sets with `availability::find_slots` alone, the floor.
//! - `assistant/poll_500x4w/warm` and `assistant/floor_find_slots_500x4w`:
//!   the same for a group of 500 (issue 27: at most 2x the floor).
//!
//! Pacing is off for the stand-in (`Pacing::off()`): wiremock has no
//! quota, and `cold` measures the HTTP and parsing, not a wait for
//! Google's per-project rate.
//! - `assistant/poll_100x4w_10zones/warm`: the warm poll once the same 100
//!   invitees live in 10 zones (New York to Nairobi), each one's working
//!   day read in their own zone; against `poll_100x4w/warm` (one zone),
//!   the cost of everyone's own hours.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use availability::{FixedClock, Interval, IntervalSet, find_slots};
use credential_vault::{KeyId, KeyRing, MasterKey, SqliteStore, Vault};
use criterion::{Criterion, criterion_group, criterion_main};
use scheduling_assistant::GoogleConnector;
use scheduling_assistant::VaultTokens;
use scheduling_assistant::{
    Actor, Assistant, Group, Invitees, Participant, ParticipantId, Program, Provider, SlotRequest,
    Store,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Monday 2 March 2026, 00:00 UTC.
const MONDAY: i64 = 1_772_409_600;
/// Ten zones whose 08:00-18:00 days share 13:00-15:00 UTC in March.
const ZONES: [&str; 10] = [
    "America/New_York",
    "America/Toronto",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Athens",
    "Africa/Lagos",
    "Africa/Nairobi",
];

/// Busy times for a calendar: about three meetings each weekday, from a
/// hash of the id so every run and both variants see the same data.
fn meetings(id: &str) -> Vec<(i64, i64)> {
    let mut h: u64 = id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut out = Vec::new();
    for day in 0..28 {
        if day % 7 >= 5 {
            continue;
        }
        for _ in 0..3 {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            let start = MONDAY + day * 86_400 + 7 * 3600 + i64::try_from(h % 20).unwrap() * 1800;
            let len = 1800 * (1 + i64::try_from((h >> 8) % 3).unwrap());
            out.push((start, start + len));
        }
    }
    out
}

fn rfc3339(s: i64) -> String {
    jiff::Timestamp::from_second(s).unwrap().to_string()
}

/// Google's freeBusy.query answer for the calendars asked
/// (<https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query>).
struct FreeBusyAnswer;

impl Respond for FreeBusyAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let mut calendars = serde_json::Map::new();
        for item in body["items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap();
            let busy: Vec<serde_json::Value> = meetings(id)
                .into_iter()
                .map(|(s, e)| serde_json::json!({"start": rfc3339(s), "end": rfc3339(e)}))
                .collect();
            calendars.insert(id.to_owned(), serde_json::json!({ "busy": busy }));
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "kind": "calendar#freeBusy",
            "timeMin": body["timeMin"], "timeMax": body["timeMax"],
            "calendars": calendars
        }))
    }
}

/// The token endpoint: a distinct access token per authorization code.
struct TokenAnswer;

impl Respond for TokenAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let code = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("code="))
            .unwrap_or("none")
            .to_owned();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("ya29.{code}"), "expires_in": 3599,
            "refresh_token": format!("1//{code}"), "token_type": "Bearer"
        }))
    }
}

struct Setup {
    warm: Assistant,
    cold: Assistant,
    _server: MockServer,
    _dir: tempfile::TempDir,
}

async fn setup(invitees: usize) -> Setup {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(TokenAnswer)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(FreeBusyAnswer)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [3; 32])),
    ));
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(MONDAY).unwrap(),
    ));
    let oauth = Arc::new(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new("bench", None, "http://127.0.0.1/cb").with_endpoints(
                format!("{}/auth", server.uri()),
                format!("{}/token", server.uri()),
                format!("{}/revoke", server.uri()),
            ),
        )
        .unwrap(),
    );
    let build = |ttl: Duration| {
        let vault = vault.clone();
        let oauth = oauth.clone();
        let clock = clock.clone();
        let db = db.clone();
        let uri = server.uri();
        async move {
            let source = google_provider::GoogleSource::new(
                Arc::new(google_provider::UserTokens::with_clock(
                    oauth.clone(),
                    Arc::new(VaultTokens::google(vault.clone())),
                    clock.clone(),
                )),
                google_provider::GoogleConfig::default()
                    .base_url(uri)
                    .pacing(google_provider::Pacing::off()),
            )
            .unwrap();
            Assistant::builder()
                .store(Store::open_sqlite(&db).await.unwrap())
                .vault(vault)
                .clock(clock)
                .cache_ttl(ttl)
                .source(Provider::Google, Arc::new(source))
                .oauth(Provider::Google, Arc::new(GoogleConnector(oauth)))
                .build()
                .await
                .unwrap()
        }
    };
    let warm = build(Duration::from_secs(600)).await;
    warm.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    let ids: Vec<ParticipantId> = (0..invitees)
        .map(|i| ParticipantId::new(format!("p{i:03}")))
        .collect();
    for id in &ids {
        warm.add_participant(
            Participant::new(id.clone(), id.as_str(), format!("{id}@example.org"), "UTC"),
            &["p".into()],
        )
        .await
        .unwrap();
        let start = warm
            .begin_connect(&Actor::Participant(id.clone()), id, Provider::Google)
            .await
            .unwrap();
        let state = start
            .authorization_url
            .split('&')
            .find_map(|kv| kv.strip_prefix("state="))
            .unwrap()
            .to_owned();
        warm.complete_connect(&state, &format!("code-{id}"))
            .await
            .unwrap();
    }
    warm.add_group(Group {
        id: "all".into(),
        program: "p".into(),
        name: "All".into(),
        members: ids,
    })
    .await
    .unwrap();
    // The cold assistant reads the same file: same people, same tokens.
    let cold = build(Duration::ZERO).await;
    Setup {
        warm,
        cold,
        _server: server,
        _dir: dir,
    }
}

fn request() -> SlotRequest {
    SlotRequest::new(
        Duration::from_secs(3600),
        Interval::new(MONDAY, MONDAY + 28 * 86_400).unwrap(),
    )
    .limit(10)
    .min_free(1)
}

fn assistant(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("assistant");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for invitees in [100, 500] {
        poll(&mut group, &rt, invitees);
    }
    group.finish();
}

fn poll(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    n: usize,
) {
    let s = rt.block_on(setup(n));
    let actor = Actor::participant("p000");
    let invitees = Invitees::Group("all".into());
    // Check once that both answer the same, from real fetched data.
    let warm_answer = rt
        .block_on(s.warm.poll(&actor, &invitees, request()))
        .unwrap();
    let cold_answer = rt
        .block_on(s.cold.poll(&actor, &invitees, request()))
        .unwrap();
    assert_eq!(warm_answer, cold_answer);
    assert_eq!(warm_answer.connected, n);
    assert!(warm_answer.problems.is_empty());

    group.bench_function(format!("poll_{n}x4w/warm"), |b| {
        b.iter(|| rt.block_on(s.warm.poll(&actor, &invitees, black_box(request()))))
    });
    group.bench_function(format!("poll_{n}x4w/cold"), |b| {
        b.iter(|| rt.block_on(s.cold.poll(&actor, &invitees, black_box(request()))))
    });

    // The floor: the slot search alone on the same sets.
    let policy = s.warm.policy(&"p".into()).unwrap();
    let window = request().window;
    let bookable = policy.bookable(window, jiff::Timestamp::from_second(MONDAY).unwrap());
    let sets: Vec<IntervalSet> = (0..n)
        .map(|i| {
            meetings(&format!("p{i:03}@example.org"))
                .into_iter()
                .map(|(a, b)| Interval::new(a, b).unwrap())
                .collect()
        })
        .collect();
    group.bench_function(format!("floor_find_slots_{n}x4w"), |b| {
        b.iter(|| {
            let query = policy
                .slot_query(Duration::from_secs(3600), &bookable)
                .min_free(1)
                .limit(10)
                .distinct(true);
            find_slots(&bookable, sets.iter().map(Some), black_box(query)).unwrap()
        })
    });

    if n != 100 {
        return;
    }
    // The same invitees moved into 10 zones (their calendars unchanged).
    rt.block_on(async {
        for i in 0..n {
            let id = ParticipantId::new(format!("p{i:03}"));
            let zone = ZONES[i % ZONES.len()];
            s.warm
                .add_participant(
                    Participant::new(id.clone(), id.as_str(), format!("{id}@example.org"), zone),
                    &["p".into()],
                )
                .await
                .unwrap();
        }
    });
    let zoned = rt
        .block_on(s.warm.poll(&actor, &invitees, request()))
        .unwrap();
    assert!(
        !zoned.slots.is_empty(),
        "10 zones still share two hours a day"
    );
    assert_ne!(zoned.slots, warm_answer.slots);
    group.bench_function("poll_100x4w_10zones/warm", |b| {
        b.iter(|| rt.block_on(s.warm.poll(&actor, &invitees, black_box(request()))))
    });
}

criterion_group!(benches, assistant);
criterion_main!(benches);
