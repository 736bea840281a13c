//! Booking a poll's slot for 10 invitees against viewing the poll warm.
//!
//! ```text
//! cargo bench --bench booking
//! ```
//!
//! The 10 invitees are covered by Google Workspace with booking on (the
//! scheduling account's calendar receives the meeting); Google's token
//! endpoint, `freeBusy` and `events.insert` are a wiremock server on
//! loopback answering the documented JSON, about three meetings per weekday
//! per invitee.
//!
//! - `booking/view_10/warm`: the creator's view of a stored poll: answers
//!   from the store, availability from the warm cache.
//! - `booking/book_10`: `book_poll`: the claim, a fresh read of all 10
//!   calendars bypassing the cache (one `freeBusy` per invitee, each
//!   impersonated), the `events.insert`, the stored booking. A new poll is
//!   created (untimed) for every booking.
//!
//! It prints the provider requests one booking makes.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use availability::FixedClock;
use credential_vault::{KeyId, KeyRing, MasterKey, SecretString, SqliteStore, Vault};
use criterion::{Criterion, criterion_group, criterion_main};
use org_wide_auth::{Coverage, GoogleWorkspace, OrgAuth};
use scheduling_assistant::{
    Actor, Assistant, BookOptions, Group, Invitees, Participant, ParticipantId, PollId,
    PollOptions, Program, SlotRequest, Store,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Monday 2 March 2026, 00:00 UTC.
const MONDAY: i64 = 1_772_409_600;
const INVITEES: usize = 10;

/// Three meetings each weekday of the week, from a hash of the id.
fn busy(id: &str) -> Value {
    let h = id
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31) + u64::from(b));
    let mut out = Vec::new();
    for day in 0..5 {
        for k in 0..3 {
            let start = MONDAY + day * 86_400 + 8 * 3600 + ((h + k * 5) % 18) as i64 * 1800;
            let f = |s: i64| jiff::Timestamp::from_second(s).unwrap().to_string();
            out.push(json!({"start": f(start), "end": f(start + 1800)}));
        }
    }
    Value::Array(out)
}

struct World {
    a: Assistant,
    server: MockServer,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let server = MockServer::start().await;
    // A token of its own for every subject impersonated, as Google mints.
    let minted = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |_: &Request| {
            let n = minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("ya29.bench{n}"), "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex("^/calendar/v3/calendars/[^/]+/events/evt$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(|r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let calendars: serde_json::Map<String, Value> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let id = i["id"].as_str().unwrap();
                    (id.to_owned(), json!({"busy": busy(id)}))
                })
                .collect();
            ResponseTemplate::new(200)
                .set_body_json(json!({"kind": "calendar#freeBusy", "calendars": calendars}))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/calendar/v3/calendars/[^/]+/events$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "evt", "status": "confirmed"
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("booking.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [5; 32])),
    ));
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(MONDAY - 86_400).unwrap(),
    ));
    let a = Assistant::builder()
        .store(Store::open_sqlite(&db).await.unwrap())
        .vault(vault.clone())
        .clock(clock.clone())
        .org_auth(Arc::new(OrgAuth::new(vault, clock)))
        .build()
        .await
        .unwrap();
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    let ids: Vec<ParticipantId> = (0..INVITEES)
        .map(|i| ParticipantId::new(format!("p{i}")))
        .collect();
    for id in &ids {
        a.add_participant(
            Participant::new(
                id.clone(),
                id.as_str(),
                format!("{id}@school.example"),
                "UTC",
            ),
            &["p".into()],
        )
        .await
        .unwrap();
    }
    a.add_group(Group {
        id: "g".into(),
        program: "p".into(),
        name: "G".into(),
        members: ids,
    })
    .await
    .unwrap();
    let key = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/org-wide-auth/tests/test-service-account.json"),
    )
    .unwrap();
    a.enable_google_workspace(
        GoogleWorkspace::new(
            SecretString::new(key),
            "scheduling@school.example",
            Coverage::domains(["school.example"]),
        )
        .endpoints(format!("{}/token", server.uri()), server.uri())
        .with_booking(true),
    )
    .await
    .unwrap();
    World {
        a,
        server,
        _dir: dir,
    }
}

async fn new_poll(a: &Assistant) -> PollId {
    a.create_poll(
        &Actor::participant("p0"),
        &Invitees::Group("g".into()),
        SlotRequest::new(
            Duration::from_secs(1800),
            availability::Interval::new(MONDAY, MONDAY + 5 * 86_400).unwrap(),
        )
        .limit(5)
        .min_free(1),
        PollOptions::new("Circle"),
    )
    .await
    .unwrap()
    .id
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = rt.block_on(world());
    let creator = Actor::participant("p0");
    let poll = rt.block_on(new_poll(&w.a));
    rt.block_on(async {
        let before = w.server.received_requests().await.unwrap().len();
        let id = new_poll(&w.a).await;
        let middle = w.server.received_requests().await.unwrap().len();
        let booking =
            w.a.book_poll(&creator, &id, 0, BookOptions::new().force(true))
                .await
                .unwrap();
        let seen = w.server.received_requests().await.unwrap();
        let by = |p: &dyn Fn(&Request) -> bool| seen[middle..].iter().filter(|r| p(r)).count();
        eprintln!(
            "one booking of {INVITEES} invitees: {} provider requests ({} freeBusy, {} events.insert, {} token); creating its poll (warm cache): {}",
            seen.len() - middle,
            by(&|r| r.url.path() == "/calendar/v3/freeBusy"),
            by(&|r| r.url.path().ends_with("/events")),
            by(&|r| r.url.path() == "/token"),
            middle - before,
        );
        w.a.cancel_booking(&creator, &booking.id).await.unwrap();
    });
    let mut group = c.benchmark_group("booking");
    group.sample_size(30);
    group.bench_function("view_10/warm", |b| {
        b.iter(|| rt.block_on(w.a.view_poll(&creator, &poll)).unwrap());
    });
    group.bench_function("book_10", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let id = rt.block_on(new_poll(&w.a));
                let start = Instant::now();
                let booking = rt
                    .block_on(w.a.book_poll(&creator, &id, 0, BookOptions::new().force(true)))
                    .unwrap();
                total += start.elapsed();
                // Untimed: free the slot again, so the week never fills.
                rt.block_on(w.a.cancel_booking(&creator, &booking.id))
                    .unwrap();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
