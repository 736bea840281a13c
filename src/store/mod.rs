//! Where programs, participants, pairs, groups and connections are kept:
//! the same SQLite file or PostgreSQL database as the credential vault,
//! in tables of their own (`assistant_*`), with versioned migrations.
//!
//! Files: `migrations` (the schema), `db` (the two engines), `changes`
//! (the log other instances apply), `demand` (the refresher's working
//! set), `records`, `attempts` and, on PostgreSQL, `busy` (each the one owner of its
//! tables' SQL).
//!
//! The SQL is written once (standard SQL both engines accept, `$n`
//! parameters) over a two-variant connection; rusqlite runs SQLite on a
//! blocking thread, tokio-postgres (behind the `postgres` feature) runs
//! PostgreSQL through a deadpool pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod attempts;
#[cfg(feature = "postgres")]
pub(crate) mod busy;
mod changes;
mod db;
mod demand;
mod migrations;
mod polls;
mod records;
mod sessions;

pub(crate) use changes::Change;
use db::{Db, backend, blocking, int};
pub use migrations::SCHEMA_VERSION;
use migrations::{MIGRATIONS, check_version, i64_of, usize_of};
pub(crate) use polls::{StoredBooking, StoredPoll, StoredSlot};
#[cfg(feature = "http")]
pub(crate) use sessions::StoredSession;

/// A storage failure. Messages name the action, never a secret or a
/// calendar's content (none is stored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("storage failed while {action}: {message}")]
    Backend {
        /// What was being done.
        action: &'static str,
        /// The engine's message.
        message: String,
    },
    /// The database was written by a newer build.
    #[error("the assistant's schema is version {found}, newer than this build's {known}")]
    SchemaTooNew {
        /// Found in the database.
        found: i64,
        /// Known to this build.
        known: i64,
    },
    /// A stored value could not be read back.
    #[error("corrupt assistant record: {0}")]
    Corrupt(String),
}

/// The assistant's tables in a SQLite file or a PostgreSQL database.
#[derive(Clone)]
pub struct Store {
    db: Db,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A pool's configuration may hold a database password: never print it.
        let engine = match &self.db {
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        };
        f.debug_struct("Store")
            .field("engine", &engine)
            .field("path", &self.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and migrates the
    /// assistant's tables. Use the same file as the vault's `SqliteStore`:
    /// WAL mode lets both connections share it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub async fn open_sqlite(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let p = path.clone();
        let conn = blocking(move || {
            let conn = rusqlite::Connection::open(&p).map_err(backend("opening the database"))?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(backend("setting the busy timeout"))?;
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(backend("enabling WAL"))?;
            // secure_delete: a deleted participant's rows are overwritten
            // with zeros, not left in free pages.
            conn.execute_batch(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
            )
            .map_err(backend("setting pragmas"))?;
            Ok(conn)
        })
        .await?;
        let store = Self {
            db: Db::Sqlite(Arc::new(Mutex::new(conn))),
            path: Some(path),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Uses a PostgreSQL pool (bring your own TLS connector) and migrates
    /// the assistant's tables under an advisory lock, so several instances
    /// can start at once.
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be reached or migrated.
    #[cfg(feature = "postgres")]
    pub async fn from_pool(pool: deadpool_postgres::Pool) -> Result<Self, StoreError> {
        let store = Self {
            db: Db::Postgres(pool),
            path: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to PostgreSQL at `url` without TLS (loopback or a private
    /// socket only) and migrates.
    ///
    /// # Errors
    /// [`StoreError`] for a bad URL or an unreachable database.
    #[cfg(feature = "postgres")]
    pub async fn connect_postgres_without_tls(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(backend("parsing the URL"))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(8)
            .build()
            .map_err(backend("building the pool"))?;
        Self::from_pool(pool).await
    }

    /// The records' revision: it changes on every write of programs,
    /// participants, pairs, groups, connections or integrations, by any
    /// instance sharing the database.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn revision(&self) -> Result<i64, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT revision FROM assistant_revision WHERE id = 1",
                vec![],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| int(r, 0))
    }

    /// On SQLite, moves every committed page into the file and empties
    /// the write-ahead log (`wal_checkpoint(TRUNCATE)`), so no older copy
    /// of a deleted row survives in the log (deleted rows are zeroed by
    /// `secure_delete`). Best effort: a busy checkpoint is logged. Nothing
    /// on PostgreSQL, where deleted rows go at the server's next vacuum.
    // Without the `postgres` feature SQLite is the only engine.
    #[allow(irrefutable_let_patterns)]
    pub(crate) async fn erase_freed(&self) {
        if let Db::Sqlite(conn) = &self.db {
            let conn = Arc::clone(conn);
            let done = blocking(move || {
                let conn = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(backend("checkpointing"))
            })
            .await;
            match done {
                Ok(0) => {}
                Ok(_) => tracing::warn!(
                    "the checkpoint after a deletion was busy; the log empties at a later one"
                ),
                Err(e) => tracing::warn!(error = %e, "the checkpoint after a deletion failed"),
            }
        }
    }

    /// Whether this store is PostgreSQL (shared by instances).
    pub fn is_shared(&self) -> bool {
        !matches!(self.db, Db::Sqlite(_))
    }

    /// The PostgreSQL pool, when this store is one.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres_pool(&self) -> Option<deadpool_postgres::Pool> {
        match &self.db {
            Db::Postgres(pool) => Some(pool.clone()),
            Db::Sqlite(_) => None,
        }
    }

    /// The SQLite file, if this store is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(conn) => {
                let conn = Arc::clone(conn);
                blocking(move || {
                    let mut conn = conn
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(backend("starting the migration"))?;
                    tx.execute_batch(
                        "CREATE TABLE IF NOT EXISTS assistant_schema (version BIGINT NOT NULL)",
                    )
                    .map_err(backend("creating the schema table"))?;
                    let found: Option<i64> = tx
                        .query_row("SELECT MAX(version) FROM assistant_schema", [], |r| {
                            r.get(0)
                        })
                        .map_err(backend("reading the schema version"))?;
                    let found = found.unwrap_or(0);
                    check_version(found)?;
                    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize_of(found)) {
                        tx.execute_batch(sql).map_err(backend("migrating"))?;
                        tx.execute(
                            "INSERT INTO assistant_schema (version) VALUES (?1)",
                            [i64_of(i + 1)],
                        )
                        .map_err(backend("recording the schema version"))?;
                    }
                    tx.commit().map_err(backend("committing the migration"))
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => {
                let mut client = pool.get().await.map_err(backend("connecting"))?;
                let tx = client
                    .transaction()
                    .await
                    .map_err(backend("starting the migration"))?;
                // One migrator at a time across instances ("assistant" as a key).
                tx.batch_execute(
                    "SELECT pg_advisory_xact_lock(7310512367142208512);
                     CREATE TABLE IF NOT EXISTS assistant_schema (version BIGINT NOT NULL);",
                )
                .await
                .map_err(backend("locking the migration"))?;
                let row = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0) FROM assistant_schema",
                        &[],
                    )
                    .await
                    .map_err(backend("reading the schema version"))?;
                let found: i64 = row
                    .try_get(0)
                    .map_err(backend("reading the schema version"))?;
                check_version(found)?;
                for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize_of(found)) {
                    tx.batch_execute(sql).await.map_err(backend("migrating"))?;
                    tx.execute(
                        "INSERT INTO assistant_schema (version) VALUES ($1)",
                        &[&i64_of(i + 1)],
                    )
                    .await
                    .map_err(backend("recording the schema version"))?;
                }
                tx.commit()
                    .await
                    .map_err(backend("committing the migration"))
            }
        }
    }

    /// The schema version recorded in the database.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT COALESCE(MAX(version), 0) FROM assistant_schema",
                vec![],
            )
            .await?;
        rows.first().map_or(Ok(0), |r| int(r, 0))
    }
}
