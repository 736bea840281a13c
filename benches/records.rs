//! Loading the records at start-up: programs, participants with their
//! memberships, pairs and groups with their members.
//!
//! ```text
//! cargo bench --bench records
//! ```
//!
//! A SQLite store of 8,000 participants in two programs, 3,999 pairs and
//! 400 groups of ten, written directly into the assistant's tables.
//!
//! - `records/assistant_build_8000`: `Assistant::builder().build()` on it:
//!   opening, reading every table, joining parents and children, resolving
//!   each program's policy.
//! - `records/floor_select_8000`: the same rows read with rusqlite alone
//!   (no grouping, no records built), the floor.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

#[path = "support/records_floor.rs"]
mod records_floor;
use records_floor::floor;

use criterion::{Criterion, criterion_group, criterion_main};
use scheduling_assistant::{
    Assistant, FixedClock, KeyId, KeyRing, MasterKey, Program, SqliteStore, Store, Vault,
};

const PEOPLE: usize = 8_000;

/// Writes the records (after the assistant's migrations have run).
fn seed(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..PEOPLE {
        tx.execute(
            "INSERT INTO assistant_participants (id, email, time_zone, name) VALUES (?1, ?2, 'UTC', ?1)",
            (format!("p{i}"), format!("p{i}@example.org")),
        )
        .unwrap();
        let program = if i % 2 == 0 { "spring" } else { "autumn" };
        tx.execute(
            "INSERT INTO assistant_memberships (program_id, participant_id) VALUES (?1, ?2)",
            (program, format!("p{i}")),
        )
        .unwrap();
    }
    for i in 0..PEOPLE / 2 - 1 {
        tx.execute(
            "INSERT INTO assistant_pairs (id, program_id, mentor, mentee) VALUES (?1, 'spring', ?2, ?3)",
            (format!("pair{i}"), format!("p{}", 2 * i), format!("p{}", 2 * i + 2)),
        )
        .unwrap();
    }
    for g in 0..PEOPLE / 20 {
        tx.execute(
            "INSERT INTO assistant_groups (id, program_id, name) VALUES (?1, 'autumn', ?1)",
            [format!("g{g}")],
        )
        .unwrap();
        for k in 0..10 {
            tx.execute(
                "INSERT INTO assistant_group_members (group_id, position, participant_id) VALUES (?1, ?2, ?3)",
                (format!("g{g}"), i64::try_from(k).unwrap(), format!("p{}", (g * 10 + k) * 2 + 1)),
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn records(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("records.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
    ));
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(1_772_409_600).unwrap(),
    ));
    let build = || {
        let (db, vault, clock) = (db.clone(), Arc::clone(&vault), Arc::clone(&clock));
        async move {
            Assistant::builder()
                .store(Store::open_sqlite(&db).await.unwrap())
                .vault(vault)
                .clock(clock)
                .build()
                .await
                .unwrap()
        }
    };
    rt.block_on(async {
        let a = build().await;
        a.add_program(Program::new("spring", "Spring"))
            .await
            .unwrap();
        a.add_program(Program::new("autumn", "Autumn"))
            .await
            .unwrap();
    });
    seed(&db);
    let loaded = rt.block_on(build());
    assert_eq!(loaded.participants().len(), PEOPLE);
    assert_eq!(loaded.groups().len(), PEOPLE / 20);
    let mut group = c.benchmark_group("records");
    group.sample_size(20);
    group.bench_function("assistant_build_8000", |b| {
        b.iter(|| black_box(rt.block_on(build())));
    });
    group.bench_function("floor_select_8000", |b| b.iter(|| black_box(floor(&db))));
    group.finish();
}

criterion_group!(benches, records);
criterion_main!(benches);
