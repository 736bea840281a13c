//! credential-vault: seal and open per second, and rotating 100,000 secrets
//! in SQLite.
//!
//! ```text
//! cargo bench --bench vault
//! ```
//!
//! Groups:
//! - `vault/seal`, `vault/open`: one Microsoft OAuth credential of realistic
//!   size (1.8 kB access token, 0.9 kB refresh token) through
//!   `KeyRing::seal` / `KeyRing::open` (JSON encoding, header, AEAD).
//! - `vault/ring_aes_gcm_seal_floor`, `vault/ring_aes_gcm_open_floor`: bare
//!   ring AES-256-GCM on a buffer of the same plaintext length, the floor
//!   that the envelope's overhead is measured against.
//! - `vault/rotate_sqlite_100k`: `Vault::rotate` of 100,000 records in a
//!   SQLite file (batches of 500, one transaction each, WAL, synchronous=FULL),
//!   alternating the active key between iterations so every iteration
//!   re-seals all of them.
//! - `vault/rewrite_sqlite_100k_floor`: the same store writes (`put_many`
//!   of already sealed records, same batches) without any crypto, so the
//!   rotation's cost splits into storage and crypto.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use credential_vault::{
    Credential, Expect, KeyId, KeyRing, MasterKey, OAuthTokens, OwnerId, RecordKey, SecretStore,
    SqliteStore, Vault, Write,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const RECORDS: usize = 100_000;
const BATCH: usize = 500;

fn key(id: u32) -> MasterKey {
    MasterKey::from_bytes(KeyId(id), [id as u8; 32])
}

fn ring(active: u32, other: u32) -> KeyRing {
    KeyRing::new(key(active))
        .with_key(key(other))
        .expect("distinct ids")
}

fn credential() -> Credential {
    Credential::MicrosoftOauth(
        OAuthTokens::new("a".repeat(1800).into())
            .with_refresh_token("r".repeat(900).into())
            .with_expires_at(jiff::Timestamp::from_second(1_790_000_000).expect("valid"))
            .with_scopes(["offline_access", "Calendars.ReadBasic"]),
    )
}

fn seal_open(c: &mut Criterion) {
    let ring = ring(1, 2);
    let owner = OwnerId::new("participant-000042").expect("valid");
    let credential = credential();
    let (_, sealed) = ring.seal(&owner, &credential).expect("seals");
    let kind = credential.kind();

    let mut group = c.benchmark_group("vault");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal", |b| {
        b.iter(|| ring.seal(black_box(&owner), black_box(&credential)))
    });
    group.bench_function("open", |b| {
        b.iter(|| ring.open(black_box(&owner), kind, black_box(&sealed)))
    });

    // The floor: bare AES-256-GCM over the same number of plaintext bytes.
    let plaintext_len = sealed.len() - 15 - owner.as_str().len() - 12 - 16;
    let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("32 bytes"));
    let mut buffer = vec![0x41u8; plaintext_len];
    group.bench_function("ring_aes_gcm_seal_floor", |b| {
        b.iter(|| {
            let nonce = Nonce::assume_unique_for_key([1; 12]);
            aead.seal_in_place_separate_tag(nonce, Aad::from(b"header"), black_box(&mut buffer))
        })
    });
    let mut sealed_floor = vec![0x41u8; plaintext_len];
    let tag = aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([1; 12]),
            Aad::from(b"header"),
            &mut sealed_floor,
        )
        .expect("seals");
    sealed_floor.extend_from_slice(tag.as_ref());
    group.bench_function("ring_aes_gcm_open_floor", |b| {
        b.iter(|| {
            let mut copy = sealed_floor.clone();
            let nonce = Nonce::assume_unique_for_key([1; 12]);
            aead.open_in_place(nonce, Aad::from(b"header"), black_box(&mut copy))
                .map(|p| p.len())
        })
    });
    group.finish();
}

fn rotation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn SecretStore> =
        Arc::new(SqliteStore::open(dir.path().join("rotate.sqlite3")).expect("store"));
    let seal_ring = ring(1, 2);
    let credential = credential();

    // Seed 100,000 records sealed with key 1 (and keep them for the floor).
    let mut seeded = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let owner = OwnerId::new(format!("participant-{i:06}")).expect("valid");
        let (key_id, sealed) = seal_ring.seal(&owner, &credential).expect("seals");
        seeded.push(Write {
            key: RecordKey {
                owner,
                kind: credential.kind(),
            },
            key_id,
            sealed,
            expect: Expect::Any,
        });
    }
    runtime.block_on(async {
        for chunk in seeded.chunks(BATCH) {
            store.put_many(chunk.to_vec()).await.expect("seed");
        }
    });

    let mut group = c.benchmark_group("vault");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(RECORDS as u64));
    let mut active = 1;
    group.bench_function("rotate_sqlite_100k", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                // Re-seal everything with the other key.
                let (next, previous) = if active == 1 { (2, 1) } else { (1, 2) };
                let vault = Vault::new(Arc::clone(&store), ring(next, previous));
                let start = Instant::now();
                let report = runtime.block_on(vault.rotate(BATCH)).expect("rotation");
                total += start.elapsed();
                assert_eq!(report.resealed as usize, RECORDS);
                active = next;
            }
            total
        })
    });
    group.bench_function("rewrite_sqlite_100k_floor", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let start = Instant::now();
                runtime.block_on(async {
                    for chunk in seeded.chunks(BATCH) {
                        store.put_many(chunk.to_vec()).await.expect("write");
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, seal_open, rotation);
criterion_main!(benches);
