//! Records at organisation scale (issue 27): cold start, applying another
//! instance's write, and enrolling one participant, for an organisation of
//! 12,500 and 50,000 participants in 20 programs with 0.4 pairs and 0.04
//! groups of ten per participant (50,000: 20,000 pairs, 2,000 groups), on
//! SQLite and on PostgreSQL. The rows come from `support/org.rs`, the
//! generator the scale tests use.
//!
//! ```text
//! cargo bench --bench scale                      # SQLite
//! source scripts/postgres-env && start_test_postgres
//! cargo bench --all-features --bench scale       # and PostgreSQL
//! ```
//!
//! Per engine (`scale/sqlite/…`, `scale/postgres/…`):
//!
//! - `build_N`: `Assistant::builder().build()`, a cold start: opening,
//!   reading every table, joining parents and children, resolving the
//!   programs' policies. It is also what a full reload costs (a reload
//!   that cannot use the change log loads the same records; opening adds
//!   a schema-version read).
//! - `floor_N`: the same rows read with the engine's driver alone into
//!   structs of owned strings (a bare `SELECT` into structs).
//! - `apply_one_write_50000`: another instance enrols one participant;
//!   this instance's `reload()` applies it from the change log.
//! - `enrol_one_50000`: the enrolment alone.
//! - `memory_N` (printed): the resident set's growth over a cold start,
//!   per participant.
//!
//! The figures are in README's "Running several instances".
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "support/org.rs"]
mod org;
#[path = "support/records_floor.rs"]
mod records_floor;

use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use scheduling_assistant::{
    Assistant, FixedClock, KeyId, KeyRing, MasterKey, Participant, ProgramId, SqliteStore, Store,
    Vault,
};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// How an engine's instance is opened, and its floor read.
enum Engine {
    Sqlite {
        _dir: tempfile::TempDir,
        db: std::path::PathBuf,
    },
    #[cfg(feature = "postgres")]
    Postgres { url: String },
}

struct World {
    engine: Engine,
    clock: Arc<FixedClock>,
}

impl World {
    async fn build(&self) -> Assistant {
        let key = KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32]));
        let (store, vault) = match &self.engine {
            Engine::Sqlite { db, .. } => (
                Store::open_sqlite(db).await.unwrap(),
                Vault::new(Arc::new(SqliteStore::open(db).unwrap()), key),
            ),
            #[cfg(feature = "postgres")]
            Engine::Postgres { url } => (
                Store::connect_postgres_without_tls(url).await.unwrap(),
                Vault::new(
                    Arc::new(
                        credential_vault::PostgresStore::connect_without_tls(url)
                            .await
                            .unwrap(),
                    ),
                    key,
                ),
            ),
        };
        Assistant::builder()
            .store(store)
            .vault(Arc::new(vault))
            .clock(self.clock.clone())
            .build()
            .await
            .unwrap()
    }

    async fn floor(&self) -> usize {
        match &self.engine {
            Engine::Sqlite { db, .. } => records_floor::floor_structs(db),
            #[cfg(feature = "postgres")]
            Engine::Postgres { url } => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let task = tokio::spawn(connection);
                let n = records_floor::floor_structs_postgres(&client).await;
                drop(client);
                let _ = task.await;
                n
            }
        }
    }
}

fn group_name(w: &World) -> &'static str {
    match w.engine {
        Engine::Sqlite { .. } => "scale/sqlite",
        #[cfg(feature = "postgres")]
        Engine::Postgres { .. } => "scale/postgres",
    }
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(1_772_409_600).unwrap(),
    ))
}

fn sqlite(rt: &tokio::runtime::Runtime, people: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scale.sqlite3");
    let w = World {
        engine: Engine::Sqlite {
            _dir: dir,
            db: db.clone(),
        },
        clock: clock(),
    };
    rt.block_on(w.build());
    org::org(people).seed_sqlite(&db);
    w
}

#[cfg(feature = "postgres")]
fn postgres(rt: &tokio::runtime::Runtime, base: &str, people: usize) -> World {
    let name = format!("sa_scale_{}_{people}", std::process::id());
    rt.block_on(async {
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
    });
    let w = World {
        engine: Engine::Postgres {
            url: format!("{base}/{name}"),
        },
        clock: clock(),
    };
    rt.block_on(w.build());
    if let Engine::Postgres { url } = &w.engine {
        rt.block_on(org::org(people).seed_postgres(url));
    }
    w
}

/// This process's resident memory in bytes (Linux `/proc/self/statm`).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn measure(group: &mut Group<'_>, rt: &tokio::runtime::Runtime, w: &World, people: usize) {
    let before = resident();
    let loaded = rt.block_on(w.build());
    // What the loaded records hold: the growth of the resident set over
    // the load (the allocator keeps what the load freed, so an upper
    // bound), per participant.
    println!(
        "{}/memory_{people}: {} bytes per participant",
        group_name(w),
        resident().saturating_sub(before) / people
    );
    assert_eq!(loaded.participants().len(), people);
    assert_eq!(loaded.groups().len(), people / 25);
    assert_eq!(loaded.pairs().len(), people * 2 / 5);
    drop(loaded);
    group.bench_function(format!("build_{people}"), |b| {
        b.iter(|| black_box(rt.block_on(w.build())));
    });
    group.bench_function(format!("floor_{people}"), |b| {
        b.iter(|| black_box(rt.block_on(w.floor())));
    });
    if people != 50_000 {
        return;
    }
    let (a, other) = rt.block_on(async { (w.build().await, w.build().await) });
    let next = AtomicUsize::new(0);
    let enrol = |other: &Assistant| {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let other = other.clone();
        async move {
            other
                .add_participant(
                    Participant::new(
                        format!("new{n}"),
                        "New",
                        format!("new{n}@example.org"),
                        "UTC",
                    ),
                    &[ProgramId::new(org::program(0))],
                )
                .await
                .unwrap();
        }
    };
    group.bench_function("enrol_one_50000", |b| {
        b.iter(|| rt.block_on(enrol(&other)));
    });
    group.bench_function("apply_one_write_50000", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(enrol(&other));
                let started = std::time::Instant::now();
                assert!(rt.block_on(a.reload()).unwrap());
                total += started.elapsed();
            }
            total
        });
    });
    let n = next.load(Ordering::Relaxed);
    assert_eq!(a.participants().len(), people + n, "every write applied");
}

fn scale(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("scale/sqlite");
    group.sample_size(10);
    for people in [12_500, 50_000] {
        let w = sqlite(&rt, people);
        measure(&mut group, &rt, &w, people);
    }
    group.finish();

    #[cfg(feature = "postgres")]
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(base) => {
            let mut group = c.benchmark_group("scale/postgres");
            group.sample_size(10);
            for people in [12_500, 50_000] {
                let w = postgres(&rt, base.trim_end_matches('/'), people);
                measure(&mut group, &rt, &w, people);
            }
            group.finish();
        }
        Err(_) => eprintln!(
            "scale/postgres NOT RUN: TEST_POSTGRES_URL is not set \
             (source scripts/postgres-env && start_test_postgres)"
        ),
    }
}

criterion_group!(benches, scale);
criterion_main!(benches);
