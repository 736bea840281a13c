//! The embedded SQLite store: one file, WAL, migrations in a version table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use crate::keys::KeyId;
use crate::secret::{OwnerId, SecretKind};
use crate::store::{
    Conflict, Expect, RecordKey, SecretStore, StoreError, StoredRecord, Version, Write, check,
};

const BACKEND: &str = "sqlite";

/// Schema migrations, applied in order; the version table records how many
/// ran. Never edit a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: sealed records and the version sequence.
    "CREATE TABLE credential_vault_secrets (
         owner   TEXT    NOT NULL,
         kind    TEXT    NOT NULL,
         version INTEGER NOT NULL,
         key_id  INTEGER NOT NULL,
         sealed  BLOB    NOT NULL,
         PRIMARY KEY (owner, kind)
     ) WITHOUT ROWID;
     CREATE INDEX credential_vault_secrets_key_id ON credential_vault_secrets (key_id);
     CREATE TABLE credential_vault_sequence (next_version INTEGER NOT NULL);
     INSERT INTO credential_vault_sequence (next_version) VALUES (1);",
];

/// A [`SecretStore`] in one SQLite file (bundled SQLite, WAL journal,
/// `synchronous=FULL`), created on first use with mode 0600 on Unix.
///
/// Calls run on Tokio's blocking pool over one connection. Several processes
/// may open the same file: writes take SQLite's write lock
/// (`BEGIN IMMEDIATE`) and wait up to the busy timeout for it.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use credential_vault::{KeyId, KeyRing, MasterKey, SqliteStore, Vault};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("vault.sqlite3"))?;
/// let key = MasterKey::from_base64(KeyId(1), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// let vault = Vault::new(Arc::new(store), KeyRing::new(key));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn backend(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Backend {
        backend: BACKEND,
        action,
        source: Box::new(source),
    }
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        what: what.into(),
    }
}

impl SqliteStore {
    /// The newest schema version this build knows.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating if needed) the store at `path` and migrates its schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be created or opened,
    /// [`StoreError::SchemaTooNew`] when a newer build wrote it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        create_private(&path).map_err(|source| StoreError::Backend {
            backend: BACKEND,
            action: "creating the database file",
            source: Box::new(source),
        })?;
        let mut conn = Connection::open(&path).map_err(backend("opening the database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend("setting the busy timeout"))?;
        // WAL lets readers run during a write; FULL syncs the WAL at every
        // commit, so a stored (rotated) refresh token survives a power loss.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(backend("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(corrupt(format!("journal mode is {mode}, not wal")));
        }
        // secure_delete: a deleted secret's row (its owner id is a
        // participant's address) is overwritten with zeros, not left in a
        // free page.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
            .map_err(backend("setting synchronous and secure_delete"))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.run(|conn| current_version(conn)).await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` aborts its transaction (rusqlite rolls back
            // on drop), so the connection is consistent even if poisoned.
            let mut guard = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|join| StoreError::Backend {
            backend: BACKEND,
            action: "running a blocking database call",
            source: Box::new(join),
        })?
    }
}

/// Creates the file with mode 0600 if it does not exist (SQLite would
/// create it with the umask's permissions).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM credential_vault_schema",
        [],
        |row| row.get(0),
    )
    .map_err(backend("reading the schema version"))
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend("starting the migration"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS credential_vault_schema (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
         );",
    )
    .map_err(backend("creating the schema table"))?;
    let found = current_version(&tx)?;
    if found > SqliteStore::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            backend: BACKEND,
            found,
            supported: SqliteStore::SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)
            .map_err(backend("migrating the schema"))?;
        tx.execute(
            "INSERT INTO credential_vault_schema (version) VALUES (?1)",
            params![index as i64 + 1],
        )
        .map_err(backend("recording the schema version"))?;
    }
    tx.commit().map_err(backend("committing the migration"))
}

fn row_to_record(
    owner: String,
    kind: String,
    version: i64,
    key_id: i64,
    sealed: Vec<u8>,
) -> Result<StoredRecord, StoreError> {
    let owner = OwnerId::new(owner).map_err(|e| corrupt(e.to_string()))?;
    let kind =
        SecretKind::from_name(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
    let version = u64::try_from(version).map_err(|_| corrupt("negative version"))?;
    let key_id = u32::try_from(key_id).map_err(|_| corrupt("key id out of range"))?;
    Ok(StoredRecord {
        key: RecordKey { owner, kind },
        version: Version(version),
        key_id: KeyId(key_id),
        sealed,
    })
}

type Row = (String, String, i64, i64, Vec<u8>);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn version_of(conn: &Connection, key: &RecordKey) -> Result<Option<Version>, StoreError> {
    conn.prepare_cached(
        "SELECT version FROM credential_vault_secrets WHERE owner = ?1 AND kind = ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![key.owner.as_str(), key.kind.as_str()], |row| {
            row.get::<_, i64>(0)
        })
        .optional()
    })
    .map_err(backend("reading a version"))?
    .map(|v| {
        u64::try_from(v)
            .map(Version)
            .map_err(|_| corrupt("negative version"))
    })
    .transpose()
}

/// Applies one write inside an open transaction.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    write: &Write,
) -> Result<Result<Version, Conflict>, StoreError> {
    let current = version_of(tx, &write.key)?;
    if let Err(conflict) = check(&write.key, write.expect, current) {
        return Ok(Err(conflict));
    }
    let next: i64 = tx
        .prepare_cached(
            "UPDATE credential_vault_sequence SET next_version = next_version + 1
             RETURNING next_version - 1",
        )
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(backend("drawing a version"))?;
    tx.prepare_cached(
        "INSERT INTO credential_vault_secrets (owner, kind, version, key_id, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (owner, kind) DO UPDATE SET
             version = excluded.version, key_id = excluded.key_id, sealed = excluded.sealed",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            write.key.owner.as_str(),
            write.key.kind.as_str(),
            next,
            i64::from(write.key_id.0),
            write.sealed
        ])
    })
    .map_err(backend("writing a record"))?;
    let version = u64::try_from(next).map_err(|_| corrupt("negative version"))?;
    Ok(Ok(Version(version)))
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let key = key.clone();
        self.run(move |conn| {
            conn.query_row(
                "SELECT owner, kind, version, key_id, sealed FROM credential_vault_secrets
                 WHERE owner = ?1 AND kind = ?2",
                params![key.owner.as_str(), key.kind.as_str()],
                read_row,
            )
            .optional()
            .map_err(backend("reading a record"))?
            .map(|(o, k, v, id, s)| row_to_record(o, k, v, id, s))
            .transpose()
        })
        .await
    }

    async fn put(&self, write: Write) -> Result<Version, StoreError> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("starting a write"))?;
            let outcome = apply(&tx, &write)?;
            if outcome.is_ok() {
                tx.commit().map_err(backend("committing a write"))?;
            }
            Ok(outcome?)
        })
        .await
    }

    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("starting a batch"))?;
            let outcomes = writes
                .iter()
                .map(|w| apply(&tx, w))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().map_err(backend("committing a batch"))?;
            Ok(outcomes)
        })
        .await
    }

    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError> {
        let key = key.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("starting a delete"))?;
            let current = version_of(&tx, &key)?;
            check(&key, expect, current)?;
            let n = tx
                .execute(
                    "DELETE FROM credential_vault_secrets WHERE owner = ?1 AND kind = ?2",
                    params![key.owner.as_str(), key.kind.as_str()],
                )
                .map_err(backend("deleting a record"))?;
            tx.commit().map_err(backend("committing a delete"))?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError> {
        let owner = owner.clone();
        self.run(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM credential_vault_secrets WHERE owner = ?1",
                    params![owner.as_str()],
                )
                .map_err(backend("deleting an owner's records"))?;
            Ok(n as u64)
        })
        .await
    }

    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT DISTINCT owner FROM credential_vault_secrets ORDER BY owner")
                .map_err(backend("listing owners"))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(backend("listing owners"))?;
            rows.map(|row| {
                let owner = row.map_err(backend("listing owners"))?;
                OwnerId::new(owner).map_err(|e| corrupt(e.to_string()))
            })
            .collect()
        })
        .await
    }

    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError> {
        let owner = owner.clone();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare("SELECT kind FROM credential_vault_secrets WHERE owner = ?1")
                .map_err(backend("listing kinds"))?;
            let rows = stmt
                .query_map(params![owner.as_str()], |row| row.get::<_, String>(0))
                .map_err(backend("listing kinds"))?;
            let mut kinds = rows
                .map(|row| {
                    let name = row.map_err(backend("listing kinds"))?;
                    SecretKind::from_name(&name)
                        .ok_or_else(|| corrupt(format!("unknown kind {name:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            kinds.sort();
            Ok(kinds)
        })
        .await
    }

    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let after = after.map(|k| (k.owner.as_str().to_owned(), k.kind.as_str()));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let key_id = i64::from(key_id.0);
        self.run(move |conn| {
            // Two statements rather than one with an `?2 = 0 OR ...` switch:
            // the row-value range must be plain for SQLite to seek the primary
            // key instead of rescanning from the start on every batch.
            let mut stmt;
            let rows = match &after {
                None => {
                    stmt = conn
                        .prepare_cached(
                            "SELECT owner, kind, version, key_id, sealed
                             FROM credential_vault_secrets
                             WHERE key_id <> ?1 ORDER BY owner, kind LIMIT ?2",
                        )
                        .map_err(backend("scanning for rotation"))?;
                    stmt.query_map(params![key_id, limit], read_row)
                }
                Some((owner, kind)) => {
                    stmt = conn
                        .prepare_cached(
                            "SELECT owner, kind, version, key_id, sealed
                             FROM credential_vault_secrets
                             WHERE (owner, kind) > (?2, ?3) AND key_id <> ?1
                             ORDER BY owner, kind LIMIT ?4",
                        )
                        .map_err(backend("scanning for rotation"))?;
                    stmt.query_map(params![key_id, owner, kind, limit], read_row)
                }
            }
            .map_err(backend("scanning for rotation"))?;
            rows.map(|row| {
                let (o, k, v, id, s) = row.map_err(backend("scanning for rotation"))?;
                row_to_record(o, k, v, id, s)
            })
            .collect()
        })
        .await
    }

    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT key_id, COUNT(*) FROM credential_vault_secrets GROUP BY key_id")
                .map_err(backend("counting key usage"))?;
            let rows = stmt
                .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
                .map_err(backend("counting key usage"))?;
            rows.map(|row| {
                let (id, n) = row.map_err(backend("counting key usage"))?;
                let id = u32::try_from(id).map_err(|_| corrupt("key id out of range"))?;
                Ok((KeyId(id), n.unsigned_abs()))
            })
            .collect()
        })
        .await
    }
}
