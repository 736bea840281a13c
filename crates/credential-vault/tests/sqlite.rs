use std::sync::Arc;

use credential_vault::{SecretKind, SecretStore, SqliteStore, StoreError, Vault};

use crate::common::{owner, ring, samples};
use crate::{contract, rotation};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("vault.sqlite3")).unwrap()
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract::check_store(Arc::new(open(&dir))).await;
}

#[tokio::test]
async fn file_is_created_private_in_wal_mode_with_a_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite3");
    assert!(!path.exists());
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::SCHEMA_VERSION
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let vault = Vault::new(Arc::new(store.clone()), ring(1, &[]));
    vault.insert(&owner("p"), &samples()[0]).await.unwrap();
    // WAL mode: the write-ahead log exists beside the database.
    assert!(dir.path().join("vault.sqlite3-wal").exists());
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let vault = Vault::new(Arc::new(open(&dir)), ring(1, &[]));
        for credential in samples() {
            vault.insert(&owner("p"), &credential).await.unwrap();
        }
    }
    let store = open(&dir);
    assert_eq!(
        store.schema_version().await.unwrap(),
        SqliteStore::SCHEMA_VERSION
    );
    let vault = Vault::new(Arc::new(store), ring(1, &[]));
    for credential in samples() {
        let read = vault
            .get(&owner("p"), credential.kind())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.value, credential);
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    // A later build recorded schema version 99.
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "INSERT INTO credential_vault_schema (version) VALUES (99)",
            [],
        )
        .unwrap();
    }
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == SqliteStore::SCHEMA_VERSION),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unwritable_location_is_a_typed_error() {
    let error = SqliteStore::open("/nonexistent-dir/vault.sqlite3").unwrap_err();
    assert!(matches!(error, StoreError::Backend { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_compare_and_set_across_two_connections_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one file: two connections, as two processes would have.
    let a = Vault::new(Arc::new(open(&dir)), ring(1, &[]));
    let b = Vault::new(Arc::new(open(&dir)), ring(1, &[]));
    contract::concurrent_compare_and_set(vec![a, b], 8, 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_readers_never_see_a_torn_token() {
    let dir = tempfile::tempdir().unwrap();
    contract::readers_never_see_a_torn_token(contract::vault(Arc::new(open(&dir))), 200, 3).await;
}

#[tokio::test]
async fn sqlite_rotation_stopped_after_every_batch_loses_nothing() {
    let dirs = std::sync::Mutex::new(Vec::new());
    rotation::rotation_stopped_after_every_batch(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite3");
        dirs.lock().unwrap().push(dir);
        async move {
            let store: Arc<dyn SecretStore> = Arc::new(SqliteStore::open(&path).unwrap());
            // A restart opens a new connection on the same file.
            let reopen: Box<dyn Fn() -> Arc<dyn SecretStore> + Send> =
                Box::new(move || Arc::new(SqliteStore::open(&path).unwrap()));
            (store, reopen)
        }
    })
    .await;
}

#[tokio::test]
async fn a_record_tampered_in_the_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite3");
    let vault = Vault::new(Arc::new(SqliteStore::open(&path).unwrap()), ring(1, &[]));
    vault.insert(&owner("p"), &samples()[2]).await.unwrap();
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        let mut sealed: Vec<u8> = raw
            .query_row("SELECT sealed FROM credential_vault_secrets", [], |row| {
                row.get(0)
            })
            .unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x40;
        raw.execute("UPDATE credential_vault_secrets SET sealed = ?1", [sealed])
            .unwrap();
    }
    let error = vault
        .get(&owner("p"), SecretKind::AppleAppPassword)
        .await
        .unwrap_err();
    assert!(
        matches!(error, credential_vault::VaultError::Tampered { .. }),
        "{error:?}"
    );
}

/// Environment variable naming the database the child process rotates.
const CHILD_DB: &str = "CREDENTIAL_VAULT_TEST_ROTATE_CHILD_DB";
const KILL_RECORDS: usize = 4000;

/// Rotation in a real process killed with SIGKILL at several points: after
/// each kill every record still opens with the ring, and a resumed rotation
/// finishes and lets key 1 retire.
///
/// The test runs its own binary again, filtered to itself, with `CHILD_DB`
/// set: that child rotates the database until it is killed.
#[test]
fn sqlite_rotation_killed_mid_flight_loses_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(path) = std::env::var(CHILD_DB) {
        runtime.block_on(async {
            let vault = Vault::new(Arc::new(SqliteStore::open(&path).unwrap()), ring(2, &[1]));
            vault.rotate(20).await.unwrap();
        });
        return;
    }
    runtime.block_on(kill_rotation_and_check());
}

async fn kill_rotation_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.sqlite3");
    let store: Arc<dyn SecretStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let credential = samples()[1].clone();
    let writes: Vec<_> = (0..KILL_RECORDS)
        .map(|i| {
            let who = owner(&format!("p-{i:05}"));
            let (key_id, sealed) = ring(1, &[]).seal(&who, &credential).unwrap();
            credential_vault::Write {
                key: credential_vault::RecordKey {
                    owner: who,
                    kind: credential.kind(),
                },
                key_id,
                sealed,
                expect: credential_vault::Expect::Absent,
            }
        })
        .collect();
    store.put_many(writes).await.unwrap();

    let mut kills = 0;
    for target in [200u64, 1500, 3000] {
        let moved = |store: &Arc<dyn SecretStore>| {
            let store = store.clone();
            async move {
                store
                    .key_usage()
                    .await
                    .unwrap()
                    .get(&credential_vault::KeyId(2))
                    .copied()
                    .unwrap_or(0)
            }
        };
        if moved(&store).await >= KILL_RECORDS as u64 {
            break;
        }
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite::sqlite_rotation_killed_mid_flight_loses_nothing",
            ])
            .env(CHILD_DB, &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once it has moved past `target` records (or finished).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while moved(&store).await < target && std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();

        // Every record opens, whichever key sealed it.
        let vault = Vault::new(Arc::new(SqliteStore::open(&path).unwrap()), ring(2, &[1]));
        for i in (0..KILL_RECORDS).step_by(7) {
            let read = vault
                .get(&owner(&format!("p-{i:05}")), credential.kind())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(read.value, credential);
        }
        assert_eq!(vault.owners().await.unwrap().len(), KILL_RECORDS);
    }
    assert!(
        kills > 0,
        "the child always finished before it could be killed"
    );

    let vault = Vault::new(Arc::new(SqliteStore::open(&path).unwrap()), ring(2, &[1]));
    let report = vault.rotate(500).await.unwrap();
    assert_eq!(report.remaining, 0);
    vault.retire_key(credential_vault::KeyId(1)).await.unwrap();
    let only_new = Vault::new(Arc::new(SqliteStore::open(&path).unwrap()), ring(2, &[]));
    for i in 0..KILL_RECORDS {
        let read = only_new
            .get(&owner(&format!("p-{i:05}")), credential.kind())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.value, credential);
    }
}
