//! A bounded load test of the availability endpoint on loopback, warm
//! cache: requests per second and latency percentiles at 64 concurrent
//! clients.
//!
//! ```text
//! cargo bench --bench serve_load
//! ```
//!
//! The server is `scheduling_assistant::http::router` (every defence on:
//! the demo's stored sessions, host and origin checks, limits, headers)
//! served by `http::serve`, over the demo's
//! calendars (`examples/data`, read by `IcsSource`), on its own 2-thread
//! runtime; 64 clients (keep-alive connections, a 2-thread runtime of their
//! own, on the same 2 cores) each send 250 `GET
//! /api/participants/maya/availability` for a week as Theo, her mentee:
//! 16,000 requests after 640 warm-up requests. For scale it also times the
//! same number of `Assistant::availability` calls made directly, without
//! HTTP, at the same concurrency.
//!
//! Then the same again with an organisation of 50,000 more participants
//! loaded beside the demo's 7 (`support/org.rs`: 20 programs, 20,000
//! pairs, 2,000 groups), alternating the two twice in one run, and the
//! ratio of their request rates (issue 27: at least 0.9x).
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use availability::{FixedClock, Interval};
use credential_vault::{KeyId, KeyRing, MasterKey, SecretString, SqliteStore, Vault};
use scheduling_assistant::http::{HttpConfig, ServeConfig, router, serve};
use scheduling_assistant::{Actor, Assistant, ParticipantId, Provider, Store};

#[path = "../examples/support/demo_data.rs"]
mod demo_data;
#[path = "support/org.rs"]
mod org;

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 250;
const WEEK: &str = "from=2026-03-05T00:00:00Z&to=2026-03-12T00:00:00Z";

async fn assistant(dir: &std::path::Path, extra: usize) -> Assistant {
    let db = dir.join("load.sqlite3");
    if extra > 0 {
        // The schema first, then the organisation straight into it.
        drop(Store::open_sqlite(&db).await.unwrap());
        org::org(extra).seed_sqlite(&db);
    }
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [5; 32])),
    ));
    let (ics, files) = demo_data::sources(&demo_data::default_data()).unwrap();
    let a = Assistant::builder()
        .store(Store::open_sqlite(&db).await.unwrap())
        .vault(vault)
        .clock(Arc::new(FixedClock::new(
            "2026-03-05T09:00:00Z".parse().unwrap(),
        )))
        .source(Provider::Icloud, Arc::new(ics))
        .caldav_validator(Arc::new(files))
        .build()
        .await
        .unwrap();
    demo_data::seed(&a).await.unwrap();
    for who in ["maya", "theo"] {
        a.connect_icloud(
            &Actor::participant(who),
            &ParticipantId::new(who),
            &format!("{who}@example.org"),
            SecretString::new("x".into()),
        )
        .await
        .unwrap();
    }
    a
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort_unstable();
    let n = latencies.len();
    println!(
        "serve_load/{name}: {n} requests, {CLIENTS} clients: {:.0} req/s, \
         p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        n as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies[n - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    // `cargo bench --no-run` builds this; `cargo test --benches` would run
    // it with `--bench` absent, so only run under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..4 {
        let (i, extra) = if round % 2 == 0 { (0, 0) } else { (1, 50_000) };
        rates[i].push(load(extra));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (demo, org) = (mean(&rates[0]), mean(&rates[1]));
    println!(
        "serve_load: with 50,000 participants loaded {org:.0} req/s, with the demo's 7 {demo:.0} \
         req/s (means of two alternating runs each): {:.2}x",
        org / demo
    );
}

/// One run with `extra` participants loaded beside the demo's; the HTTP
/// request rate.
fn load(extra: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a = server_rt.block_on(assistant(dir.path(), extra));
    assert_eq!(a.participants().len(), 7 + extra);
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a.clone(), HttpConfig::demo(Default::default()));
    // The production path: every layer of the router, and `http::serve`'s
    // connections (header-read timeout, connection cap, client addresses).
    server_rt.spawn(async move {
        serve(
            listener,
            app,
            ServeConfig::default(),
            std::future::pending(),
        )
        .await
        .unwrap();
    });

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{base}/api/participants/maya/availability?{WEEK}");
    let (http, cookie) = client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .unwrap();
        let r = http
            .post(format!("{base}/api/session"))
            .json(&serde_json::json!({"participant": "theo"}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (http, cookie)
    });

    let run = |per_client: usize| {
        client_rt.block_on(async {
            let start = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..CLIENTS {
                let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let t = Instant::now();
                        let r = http
                            .get(&url)
                            .header("cookie", &cookie)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 200);
                        let body = r.bytes().await.unwrap();
                        assert!(body.starts_with(b"{\"participant\":\"maya\""));
                        lat.push(t.elapsed());
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            (all, start.elapsed())
        })
    };
    run(10); // warm-up: connections, the cache
    let (latencies, elapsed) = run(PER_CLIENT);
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    report(
        &format!("availability_http_64/{}", 7 + extra),
        latencies,
        elapsed,
    );

    // The same calls without HTTP, for scale.
    let window = Interval::new(1_772_668_800, 1_772_668_800 + 7 * 86_400).unwrap();
    let (latencies, elapsed) = server_rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(PER_CLIENT);
                let (theo, maya) = (Actor::participant("theo"), ParticipantId::new("maya"));
                for _ in 0..PER_CLIENT {
                    let t = Instant::now();
                    let seen = a.availability(&theo, &maya, window).await.unwrap();
                    assert!(seen.known);
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        (all, start.elapsed())
    });
    report(
        &format!("availability_direct_64/{}", 7 + extra),
        latencies,
        elapsed,
    );
    server_rt.shutdown_background();
    rate
}
