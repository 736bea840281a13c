//! The PostgreSQL store, for several assistant instances sharing one database.

use std::collections::BTreeMap;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use crate::keys::KeyId;
use crate::secret::{OwnerId, SecretKind};
use crate::store::{
    Conflict, Expect, HeldLock, RecordKey, RecordLock, SecretStore, StoreError, StoredRecord,
    Version, Write, check,
};

const BACKEND: &str = "postgres";

/// Key of the transaction-scoped advisory lock that serialises migrations
/// of instances starting at the same time ("cvault" in ASCII).
const MIGRATION_LOCK: i64 = 0x0000_6376_6175_6c74;

/// How long [`SecretStore::lock`] waits for another instance's lock
/// (PostgreSQL's `lock_timeout` inside the locking transaction). A holder
/// refreshes one OAuth token, which its HTTP timeouts bound well below this.
const RECORD_LOCK_TIMEOUT: &str = "30s";

/// The advisory-lock key of a record: the first 8 bytes of SHA-256 over
/// a prefix, the owner and the kind, so unrelated users of advisory locks
/// in the same database are unlikely to collide with it.
fn record_lock_key(key: &RecordKey) -> i64 {
    let mut input = Vec::with_capacity(64);
    input.extend_from_slice(b"credential-vault record lock\0");
    input.extend_from_slice(key.owner.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(key.kind.as_str().as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(first)
}

/// A transaction-scoped advisory lock held on one pooled session.
struct PgLock {
    client: Option<deadpool_postgres::Client>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

#[async_trait]
impl HeldLock for PgLock {
    async fn release(mut self: Box<Self>) {
        if let Some(client) = self.client.take() {
            // COMMIT ends the transaction and with it the lock; the session
            // goes back to the pool. If COMMIT fails, the session is closed
            // (which releases the lock too) rather than reused.
            if client.batch_execute("COMMIT").await.is_err() {
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        // Not released (the holder was cancelled or failed): close the
        // session; the server then ends its transaction and lock.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// Schema migrations, applied in order; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: sealed records and the version sequence. `COLLATE "C"` gives
    // byte order, independent of the database locale, for rotation scans.
    r#"CREATE TABLE credential_vault_secrets (
           owner   TEXT COLLATE "C" NOT NULL,
           kind    TEXT COLLATE "C" NOT NULL,
           version BIGINT NOT NULL,
           key_id  BIGINT NOT NULL,
           sealed  BYTEA  NOT NULL,
           PRIMARY KEY (owner, kind)
       );
       CREATE INDEX credential_vault_secrets_key_id ON credential_vault_secrets (key_id);
       CREATE SEQUENCE credential_vault_version_seq;"#,
];

/// A [`SecretStore`] in PostgreSQL, for several assistant instances sharing
/// one database. Compare-and-set writes are single `UPDATE ... WHERE version
/// = $n` statements (re-checked by PostgreSQL after a concurrent update), so
/// two instances refreshing one token cannot both win.
///
/// [`SecretStore::lock`] is a transaction-scoped advisory lock
/// (`pg_advisory_xact_lock` on a hash of owner and kind) held on a pooled
/// session until released; at most half the pool holds locks at once, so
/// lock holders always have sessions left to read and write with.
///
/// Build it from your own `deadpool_postgres::Pool` with the TLS connector
/// your deployment needs ([`PostgresStore::from_pool`]), or for a database
/// on loopback or a private socket with [`PostgresStore::connect_without_tls`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Record locks each hold a pooled session: at most half the pool, so
    /// their holders always find a session to read and write with.
    lock_permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's config holds the connection password: never print it.
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.pool.status().size)
            .finish()
    }
}

fn backend<E>(action: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
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

impl PostgresStore {
    /// The newest schema version this build knows.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Connects without TLS (a pool of up to 16 connections) and migrates.
    /// Use it only where the network path is private (loopback, a Unix
    /// socket, a sidecar); otherwise use [`PostgresStore::from_pool`] with TLS.
    ///
    /// `url` is a libpq connection string, e.g.
    /// `postgres://vault@127.0.0.1:5432/assistant` (a password in it is
    /// never printed by this crate).
    ///
    /// # Errors
    /// [`StoreError::Backend`] for a bad URL or an unreachable server,
    /// [`StoreError::SchemaTooNew`].
    pub async fn connect_without_tls(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(backend("parsing the URL"))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(backend("building the pool"))?;
        Self::from_pool(pool).await
    }

    /// Uses `pool` (with whatever TLS it was built with) and migrates.
    /// The pool needs at least 2 sessions: a [record lock](SecretStore::lock)
    /// holds one while its owner reads and writes through another.
    ///
    /// # Errors
    /// [`StoreError::Misconfigured`] for a pool of fewer than 2 sessions,
    /// [`StoreError::Backend`], [`StoreError::SchemaTooNew`].
    pub async fn from_pool(pool: Pool) -> Result<Self, StoreError> {
        if pool.status().max_size < 2 {
            return Err(StoreError::Misconfigured {
                backend: "postgres",
                what: "the pool needs at least 2 sessions (a record lock holds one \
                       while the vault reads and writes through another)",
            });
        }
        let permits = (pool.status().max_size / 2).max(1);
        let store = Self {
            pool,
            lock_permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits)),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(backend("connecting"))
    }

    /// The schema version recorded in the database.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM credential_vault_schema",
                &[],
            )
            .await
            .map_err(backend("reading the schema version"))?;
        col(&row, 0)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(backend("starting the migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend("locking the migration"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS credential_vault_schema (
                 version    BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(backend("creating the schema table"))?;
        let found: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM credential_vault_schema",
                &[],
            )
            .await
            .map_err(backend("reading the schema version"))
            .and_then(|row| col(&row, 0))?;
        if found > Self::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                backend: BACKEND,
                found,
                supported: Self::SCHEMA_VERSION,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.batch_execute(sql)
                .await
                .map_err(backend("migrating the schema"))?;
            tx.execute(
                "INSERT INTO credential_vault_schema (version) VALUES ($1)",
                &[&(index as i64 + 1)],
            )
            .await
            .map_err(backend("recording the schema version"))?;
        }
        tx.commit()
            .await
            .map_err(backend("committing the migration"))
    }
}

/// Reads a column without panicking on an unexpected type (a schema
/// changed behind our back is an error, not a crash).
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(backend("reading a row"))
}

fn to_record(row: &Row) -> Result<StoredRecord, StoreError> {
    let owner: String = col(row, 0)?;
    let kind: String = col(row, 1)?;
    let version: i64 = col(row, 2)?;
    let key_id: i64 = col(row, 3)?;
    let sealed: Vec<u8> = col(row, 4)?;
    Ok(StoredRecord {
        key: RecordKey {
            owner: OwnerId::new(owner).map_err(|e| corrupt(e.to_string()))?,
            kind: SecretKind::from_name(&kind)
                .ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?,
        },
        version: Version(u64::try_from(version).map_err(|_| corrupt("negative version"))?),
        key_id: KeyId(u32::try_from(key_id).map_err(|_| corrupt("key id out of range"))?),
        sealed,
    })
}

async fn current_version(
    client: &impl tokio_postgres::GenericClient,
    key: &RecordKey,
) -> Result<Option<Version>, StoreError> {
    let row = client
        .query_opt(
            "SELECT version FROM credential_vault_secrets WHERE owner = $1 AND kind = $2",
            &[&key.owner.as_str(), &key.kind.as_str()],
        )
        .await
        .map_err(backend("reading a version"))?;
    row.map(|r| {
        let v: i64 = col(&r, 0)?;
        u64::try_from(v)
            .map(Version)
            .map_err(|_| corrupt("negative version"))
    })
    .transpose()
}

/// One compare-and-set write as a single statement.
async fn apply(
    client: &impl tokio_postgres::GenericClient,
    write: &Write,
) -> Result<Result<Version, Conflict>, StoreError> {
    let owner = write.key.owner.as_str();
    let kind = write.key.kind.as_str();
    let key_id = i64::from(write.key_id.0);
    let row = match write.expect {
        Expect::Absent => client
            .query_opt(
                "INSERT INTO credential_vault_secrets (owner, kind, version, key_id, sealed)
                 VALUES ($1, $2, nextval('credential_vault_version_seq'), $3, $4)
                 ON CONFLICT (owner, kind) DO NOTHING
                 RETURNING version",
                &[&owner, &kind, &key_id, &write.sealed],
            )
            .await
            .map_err(backend("inserting a record"))?,
        Expect::Version(Version(v)) => {
            let v = i64::try_from(v).map_err(|_| corrupt("version out of range"))?;
            client
                .query_opt(
                    "UPDATE credential_vault_secrets
                     SET version = nextval('credential_vault_version_seq'), key_id = $3, sealed = $4
                     WHERE owner = $1 AND kind = $2 AND version = $5
                     RETURNING version",
                    &[&owner, &kind, &key_id, &write.sealed, &v],
                )
                .await
                .map_err(backend("updating a record"))?
        }
        Expect::Any => client
            .query_opt(
                "INSERT INTO credential_vault_secrets (owner, kind, version, key_id, sealed)
                 VALUES ($1, $2, nextval('credential_vault_version_seq'), $3, $4)
                 ON CONFLICT (owner, kind) DO UPDATE SET
                     version = EXCLUDED.version, key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed
                 RETURNING version",
                &[&owner, &kind, &key_id, &write.sealed],
            )
            .await
            .map_err(backend("writing a record"))?,
    };
    match row {
        Some(row) => {
            let v: i64 = col(&row, 0)?;
            Ok(Ok(Version(
                u64::try_from(v).map_err(|_| corrupt("negative version"))?,
            )))
        }
        None => {
            let current = current_version(client, &write.key).await?;
            Ok(Err(Conflict {
                owner: write.key.owner.clone(),
                kind: write.key.kind,
                expected: write.expect,
                current,
            }))
        }
    }
}

#[async_trait]
impl SecretStore for PostgresStore {
    async fn lock(&self, key: &RecordKey) -> Result<RecordLock, StoreError> {
        let permit = std::sync::Arc::clone(&self.lock_permits)
            .acquire_owned()
            .await
            .map_err(|_| corrupt("the lock semaphore was closed"))?;
        let client = self.client().await?;
        let held = PgLock {
            client: Some(client),
            _permit: permit,
        };
        let Some(client) = held.client.as_ref() else {
            return Err(corrupt("lost the locking session"));
        };
        // On an error the transaction is aborted: `held` is dropped, which
        // closes the session instead of pooling it.
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{RECORD_LOCK_TIMEOUT}'"
            ))
            .await
            .map_err(backend("starting a lock"))?;
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&record_lock_key(key)])
            .await
            .map_err(backend("taking a record lock"))?;
        Ok(RecordLock::held(Box::new(held)))
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT owner, kind, version, key_id, sealed FROM credential_vault_secrets
                 WHERE owner = $1 AND kind = $2",
                &[&key.owner.as_str(), &key.kind.as_str()],
            )
            .await
            .map_err(backend("reading a record"))?;
        row.as_ref().map(to_record).transpose()
    }

    async fn put(&self, write: Write) -> Result<Version, StoreError> {
        let client = self.client().await?;
        Ok(apply(&**client, &write).await??)
    }

    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(backend("starting a batch"))?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in &writes {
            outcomes.push(apply(&*tx, write).await?);
        }
        tx.commit().await.map_err(backend("committing a batch"))?;
        Ok(outcomes)
    }

    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let owner = key.owner.as_str();
        let kind = key.kind.as_str();
        let deleted = match expect {
            Expect::Any => client
                .execute(
                    "DELETE FROM credential_vault_secrets WHERE owner = $1 AND kind = $2",
                    &[&owner, &kind],
                )
                .await
                .map_err(backend("deleting a record"))?,
            Expect::Version(Version(v)) => {
                let v = i64::try_from(v).map_err(|_| corrupt("version out of range"))?;
                let n = client
                    .execute(
                        "DELETE FROM credential_vault_secrets
                         WHERE owner = $1 AND kind = $2 AND version = $3",
                        &[&owner, &kind, &v],
                    )
                    .await
                    .map_err(backend("deleting a record"))?;
                if n == 0 {
                    let current = current_version(&**client, key).await?;
                    check(key, expect, current)?;
                }
                n
            }
            Expect::Absent => {
                let current = current_version(&**client, key).await?;
                check(key, expect, current)?;
                0
            }
        };
        Ok(deleted > 0)
    }

    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM credential_vault_secrets WHERE owner = $1",
                &[&owner.as_str()],
            )
            .await
            .map_err(backend("deleting an owner's records"))
    }

    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT owner FROM credential_vault_secrets ORDER BY owner",
                &[],
            )
            .await
            .map_err(backend("listing owners"))?;
        rows.iter()
            .map(|row| OwnerId::new(col::<String>(row, 0)?).map_err(|e| corrupt(e.to_string())))
            .collect()
    }

    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT kind FROM credential_vault_secrets WHERE owner = $1",
                &[&owner.as_str()],
            )
            .await
            .map_err(backend("listing kinds"))?;
        let mut kinds = rows
            .iter()
            .map(|row| {
                let name: String = col(row, 0)?;
                SecretKind::from_name(&name)
                    .ok_or_else(|| corrupt(format!("unknown kind {name:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        kinds.sort();
        Ok(kinds)
    }

    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let client = self.client().await?;
        let key_id = i64::from(key_id.0);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows =
            match after {
                None => client
                    .query(
                        "SELECT owner, kind, version, key_id, sealed FROM credential_vault_secrets
                     WHERE key_id <> $1 ORDER BY owner, kind LIMIT $2",
                        &[&key_id, &limit],
                    )
                    .await,
                Some(after) => client
                    .query(
                        "SELECT owner, kind, version, key_id, sealed FROM credential_vault_secrets
                     WHERE key_id <> $1 AND (owner, kind) > ($2, $3)
                     ORDER BY owner, kind LIMIT $4",
                        &[&key_id, &after.owner.as_str(), &after.kind.as_str(), &limit],
                    )
                    .await,
            }
            .map_err(backend("scanning for rotation"))?;
        rows.iter().map(to_record).collect()
    }

    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key_id, COUNT(*) FROM credential_vault_secrets GROUP BY key_id",
                &[],
            )
            .await
            .map_err(backend("counting key usage"))?;
        rows.iter()
            .map(|row| {
                let id: i64 = col(row, 0)?;
                let n: i64 = col(row, 1)?;
                let id = u32::try_from(id).map_err(|_| corrupt("key id out of range"))?;
                Ok((KeyId(id), n.unsigned_abs()))
            })
            .collect()
    }
}
