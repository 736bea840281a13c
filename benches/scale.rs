//! Records at organisation scale (issue 27's baseline): cold start,
//! applying another instance's write, and enrolling one participant, at
//! 12,500 and 50,000 participants in 20 programs, with 0.4 pairs and 0.04
//! groups of ten per participant (50,000: 20,000 pairs, 2,000 groups).
//!
//! ```text
//! cargo bench --bench scale
//! ```
//!
//! On one SQLite file, written directly into the assistant's tables:
//!
//! - `scale/build_N`: `Assistant::builder().build()`: opening, reading
//!   every table, joining parents and children, resolving the programs'
//!   policies.
//! - `scale/floor_N`: the same rows read with rusqlite alone into nothing
//!   (the floor a cold start is compared with).
//! - `scale/apply_one_write_50000`: another instance on the same file
//!   enrols one participant; this instance's `reload()` applies it.
//! - `scale/enrol_one_50000`: the enrolment alone.
//!
//! The figures are a baseline: today a write elsewhere makes every instance
//! reload every record. One run on 2 cores (2026-12-03): build 36.1 ms at
//! 12,500 and 148 ms at 50,000 (4.1x for 4x the rows: linear), 4.0x the
//! floor (9.2 / 36.9 ms); applying one write 158 ms (1.06x a cold build,
//! where issue 27 asks for 1/100); enrolling one 2.5 ms.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "support/records_floor.rs"]
mod records_floor;
use records_floor::floor;

use criterion::{Criterion, criterion_group, criterion_main};
use scheduling_assistant::{
    Assistant, FixedClock, KeyId, KeyRing, MasterKey, Participant, Program, ProgramId, SqliteStore,
    Store, Vault,
};

const PROGRAMS: usize = 20;

fn program(i: usize) -> String {
    format!("prog{:02}", i % PROGRAMS)
}

/// Writes `people` participants (after the assistant's migrations and the
/// programs exist): each in one program, `people * 2 / 5` pairs inside a
/// program, `people / 25` groups of ten.
fn seed(db: &Path, people: usize) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut participant = tx
            .prepare("INSERT INTO assistant_participants (id, email, time_zone, name) VALUES (?1, ?2, 'Europe/London', ?1)")
            .unwrap();
        let mut membership = tx
            .prepare(
                "INSERT INTO assistant_memberships (program_id, participant_id) VALUES (?1, ?2)",
            )
            .unwrap();
        for i in 0..people {
            participant
                .execute((format!("p{i}"), format!("p{i}@example.org")))
                .unwrap();
            membership.execute((program(i), format!("p{i}"))).unwrap();
        }
        let mut pair = tx
            .prepare("INSERT INTO assistant_pairs (id, program_id, mentor, mentee) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        // p{i} and p{i + 20} share a program.
        for k in 0..people * 2 / 5 {
            let i = (k / PROGRAMS) * 2 * PROGRAMS + k % PROGRAMS;
            pair.execute((
                format!("pair{k}"),
                program(i),
                format!("p{i}"),
                format!("p{}", i + PROGRAMS),
            ))
            .unwrap();
        }
        let mut group = tx
            .prepare("INSERT INTO assistant_groups (id, program_id, name) VALUES (?1, ?2, ?1)")
            .unwrap();
        let mut member = tx
            .prepare("INSERT INTO assistant_group_members (group_id, position, participant_id) VALUES (?1, ?2, ?3)")
            .unwrap();
        for g in 0..people / 25 {
            group.execute((format!("g{g}"), program(g))).unwrap();
            for k in 0..10 {
                member
                    .execute((
                        format!("g{g}"),
                        i64::try_from(k).unwrap(),
                        format!("p{}", g + k * PROGRAMS * (people / 25 / PROGRAMS).max(1)),
                    ))
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
}

struct World {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    vault: Arc<Vault>,
    clock: Arc<FixedClock>,
}

impl World {
    async fn build(&self) -> Assistant {
        Assistant::builder()
            .store(Store::open_sqlite(&self.db).await.unwrap())
            .vault(Arc::clone(&self.vault))
            .clock(self.clock.clone())
            .build()
            .await
            .unwrap()
    }
}

fn world(rt: &tokio::runtime::Runtime, people: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scale.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
    ));
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(1_772_409_600).unwrap(),
    ));
    let w = World {
        _dir: dir,
        db,
        vault,
        clock,
    };
    rt.block_on(async {
        let a = w.build().await;
        for i in 0..PROGRAMS {
            a.add_program(Program::new(program(i), program(i)))
                .await
                .unwrap();
        }
    });
    seed(&w.db, people);
    let loaded = rt.block_on(w.build());
    assert_eq!(loaded.participants().len(), people);
    assert_eq!(loaded.groups().len(), people / 25);
    w
}

fn scale(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("scale");
    group.sample_size(10);
    for people in [12_500, 50_000] {
        let w = world(&rt, people);
        group.bench_function(format!("build_{people}"), |b| {
            b.iter(|| black_box(rt.block_on(w.build())));
        });
        group.bench_function(format!("floor_{people}"), |b| {
            b.iter(|| black_box(floor(&w.db)));
        });
        if people == 50_000 {
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
                            &[ProgramId::new("prog00")],
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
        }
    }
    group.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
