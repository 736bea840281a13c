//! Where programs, participants, pairs, groups and connections are kept:
//! the same SQLite file or PostgreSQL database as the credential vault,
//! in tables of their own (`assistant_*`), with versioned migrations.
//!
//! The SQL is written once (standard SQL both engines accept, `$n`
//! parameters) over a two-variant connection; rusqlite runs SQLite on a
//! blocking thread, tokio-postgres (behind the `postgres` feature) runs
//! PostgreSQL through a deadpool pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use policy_rules::Provider;

use crate::model::{
    Connection, Group, GroupId, Pair, PairId, Participant, ParticipantId, Program, ProgramId,
};

/// The schema, one migration per step; a database records how many it has
/// applied in `assistant_schema` and refuses to open when it is newer than
/// this build.
const MIGRATIONS: &[&str] = &[
    // 1: the records.
    "CREATE TABLE assistant_programs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, policy_toml TEXT NOT NULL);
     CREATE TABLE assistant_participants (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, time_zone TEXT NOT NULL,
        name TEXT NOT NULL);
     CREATE TABLE assistant_memberships (
        program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (program_id, participant_id));
     CREATE TABLE assistant_pairs (
        id TEXT PRIMARY KEY, program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        mentor TEXT NOT NULL REFERENCES assistant_participants(id),
        mentee TEXT NOT NULL REFERENCES assistant_participants(id));
     CREATE TABLE assistant_groups (
        id TEXT PRIMARY KEY, program_id TEXT NOT NULL REFERENCES assistant_programs(id),
        name TEXT NOT NULL);
     CREATE TABLE assistant_group_members (
        group_id TEXT NOT NULL REFERENCES assistant_groups(id),
        position BIGINT NOT NULL,
        participant_id TEXT NOT NULL REFERENCES assistant_participants(id),
        PRIMARY KEY (group_id, participant_id));
     CREATE TABLE assistant_connections (
        participant_id TEXT PRIMARY KEY REFERENCES assistant_participants(id),
        provider TEXT NOT NULL, account TEXT NOT NULL, connected_at BIGINT NOT NULL,
        needs_reconnect TEXT NOT NULL);",
    // 2: organisation integrations' settings (their secrets are in the vault).
    "CREATE TABLE assistant_org_integrations (
        kind TEXT PRIMARY KEY, settings_json TEXT NOT NULL);",
    // 3: several instances on one database. Busy times shared by them, one
    // row per participant with the refresh lease (used on PostgreSQL; see
    // `shared_cache`), and a revision every write of the records above
    // bumps, so instances know when to reload them.
    "CREATE TABLE assistant_busy (
        participant_id TEXT PRIMARY KEY, source_key TEXT NOT NULL, account TEXT NOT NULL,
        window_start BIGINT NOT NULL, window_end BIGINT NOT NULL,
        fetched_at BIGINT NOT NULL, result_json TEXT NOT NULL,
        lease_owner TEXT, lease_until BIGINT);
     CREATE TABLE assistant_revision (id BIGINT PRIMARY KEY, revision BIGINT NOT NULL);
     INSERT INTO assistant_revision (id, revision) VALUES (1, 0);",
    // 4: OAuth attempts between `begin_connect` and the provider's callback,
    // so any instance can complete them (the PKCE verifier is in the vault).
    "CREATE TABLE assistant_oauth_attempts (
        state_hash TEXT PRIMARY KEY, participant_id TEXT NOT NULL, provider TEXT NOT NULL,
        expires_at BIGINT NOT NULL);",
    // 5: when busy times were fetched, in milliseconds. `fetched_at` keeps
    // whole seconds for instances of the previous build during an upgrade;
    // readers take the later of the two, so rows either build wrote stay
    // fresh for both.
    "ALTER TABLE assistant_busy ADD COLUMN fetched_ms BIGINT NOT NULL DEFAULT 0;
     UPDATE assistant_busy SET fetched_ms = fetched_at * 1000;",
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

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

fn backend<E: std::fmt::Display>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend {
        action,
        message: e.to_string(),
    }
}

/// A SQL value: the schema uses text and 64-bit integers only.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Text(String),
    Int(i64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

type Row = Vec<Value>;

fn text(row: &Row, i: usize) -> Result<String, StoreError> {
    match row.get(i) {
        Some(Value::Text(s)) => Ok(s.clone()),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected text, found {other:?}"
        ))),
    }
}

fn int(row: &Row, i: usize) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(Value::Int(v)) => Ok(*v),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected an integer, found {other:?}"
        ))),
    }
}

#[derive(Clone)]
enum Db {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    #[cfg(feature = "postgres")]
    Postgres(deadpool_postgres::Pool),
}

/// One statement of a transaction.
type Statement = (&'static str, Vec<Value>);

impl Db {
    /// Runs statements in one transaction, and bumps the records'
    /// revision in it (every instance then reloads them).
    async fn transaction(&self, mut statements: Vec<Statement>) -> Result<(), StoreError> {
        statements.push((
            "UPDATE assistant_revision SET revision = revision + 1 WHERE id = 1",
            Vec::new(),
        ));
        match self {
            Self::Sqlite(conn) => {
                let conn = Arc::clone(conn);
                blocking(move || {
                    let mut conn = conn
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(backend("starting a transaction"))?;
                    for (sql, params) in &statements {
                        tx.execute(
                            sql,
                            rusqlite::params_from_iter(params.iter().map(sqlite_param)),
                        )
                        .map_err(backend("writing"))?;
                    }
                    tx.commit().map_err(backend("committing"))
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(pool) => {
                let mut client = pool.get().await.map_err(backend("connecting"))?;
                let tx = client
                    .transaction()
                    .await
                    .map_err(backend("starting a transaction"))?;
                for (sql, params) in &statements {
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                        params.iter().map(pg_param).collect();
                    tx.execute(*sql, &params)
                        .await
                        .map_err(backend("writing"))?;
                }
                tx.commit().await.map_err(backend("committing"))
            }
        }
    }

    async fn query(&self, sql: &'static str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            Self::Sqlite(conn) => {
                let conn = Arc::clone(conn);
                blocking(move || {
                    let conn = conn
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let mut stmt = conn.prepare_cached(sql).map_err(backend("reading"))?;
                    let columns = stmt.column_count();
                    let mut rows = stmt
                        .query(rusqlite::params_from_iter(params.iter().map(sqlite_param)))
                        .map_err(backend("reading"))?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next().map_err(backend("reading"))? {
                        let mut values = Vec::with_capacity(columns);
                        for i in 0..columns {
                            values.push(match row.get_ref(i).map_err(backend("reading"))? {
                                rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Value::Text(String::from_utf8_lossy(t).into_owned())
                                }
                                other => {
                                    return Err(StoreError::Corrupt(format!(
                                        "unexpected SQLite value {:?}",
                                        other.data_type()
                                    )));
                                }
                            });
                        }
                        out.push(values);
                    }
                    Ok(out)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(pool) => {
                let client = pool.get().await.map_err(backend("connecting"))?;
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    params.iter().map(pg_param).collect();
                let rows = client
                    .query(sql, &params)
                    .await
                    .map_err(backend("reading"))?;
                rows.iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| {
                                if *row.columns()[i].type_() == tokio_postgres::types::Type::INT8 {
                                    row.try_get::<_, i64>(i).map(Value::Int)
                                } else {
                                    row.try_get::<_, String>(i).map(Value::Text)
                                }
                                .map_err(backend("reading"))
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(backend("running a blocking database call"))?
}

fn sqlite_param(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
    }
}

#[cfg(feature = "postgres")]
fn pg_param(v: &Value) -> &(dyn tokio_postgres::types::ToSql + Sync) {
    match v {
        Value::Text(s) => s,
        Value::Int(i) => i,
    }
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
            conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
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

    /// Keeps an OAuth attempt (see `Assistant::begin_connect`).
    #[cfg(feature = "postgres")]
    pub(crate) async fn put_attempt(
        &self,
        state_hash: &str,
        participant: &ParticipantId,
        provider: Provider,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.db
            .query(
                "INSERT INTO assistant_oauth_attempts \
                 (state_hash, participant_id, provider, expires_at) VALUES ($1, $2, $3, $4)",
                vec![
                    state_hash.into(),
                    participant.as_str().into(),
                    provider.as_str().into(),
                    expires_at.into(),
                ],
            )
            .await
            .map(|_| ())
    }

    /// Removes and returns an OAuth attempt, once.
    #[cfg(feature = "postgres")]
    pub(crate) async fn take_attempt(
        &self,
        state_hash: &str,
    ) -> Result<Option<(ParticipantId, Provider, i64)>, StoreError> {
        let rows = self
            .db
            .query(
                "DELETE FROM assistant_oauth_attempts WHERE state_hash = $1 \
                 RETURNING participant_id, provider, expires_at",
                vec![state_hash.into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let provider: Provider = text(row, 1)?
            .parse()
            .map_err(|_| StoreError::Corrupt("an OAuth attempt's provider".to_owned()))?;
        Ok(Some((
            ParticipantId::new(text(row, 0)?),
            provider,
            int(row, 2)?,
        )))
    }

    /// Removes OAuth attempts that expired unused; their state hashes.
    #[cfg(feature = "postgres")]
    pub(crate) async fn take_expired_attempts(&self, now: i64) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "DELETE FROM assistant_oauth_attempts WHERE expires_at <= $1 RETURNING state_hash",
                vec![now.into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
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

    pub(crate) async fn put_program(&self, p: &Program) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "INSERT INTO assistant_programs (id, name, policy_toml) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                 policy_toml = excluded.policy_toml",
                vec![
                    p.id.as_str().into(),
                    p.name.clone().into(),
                    p.policy_toml.clone().into(),
                ],
            )])
            .await
    }

    pub(crate) async fn programs(&self) -> Result<Vec<Program>, StoreError> {
        self.db
            .query(
                "SELECT id, name, policy_toml FROM assistant_programs ORDER BY id",
                vec![],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Program {
                    id: ProgramId::new(text(r, 0)?),
                    name: text(r, 1)?,
                    policy_toml: text(r, 2)?,
                })
            })
            .collect()
    }

    pub(crate) async fn put_participant(
        &self,
        p: &Participant,
        programs: &[ProgramId],
    ) -> Result<(), StoreError> {
        let mut statements: Vec<Statement> = vec![(
            "INSERT INTO assistant_participants (id, email, time_zone, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET email = excluded.email,
             time_zone = excluded.time_zone, name = excluded.name",
            vec![
                p.id.as_str().into(),
                p.email.clone().into(),
                p.time_zone.clone().into(),
                p.name.clone().into(),
            ],
        )];
        for program in programs {
            statements.push((
                "INSERT INTO assistant_memberships (program_id, participant_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                vec![program.as_str().into(), p.id.as_str().into()],
            ));
        }
        self.db.transaction(statements).await
    }

    pub(crate) async fn participants(
        &self,
    ) -> Result<Vec<(Participant, Vec<ProgramId>)>, StoreError> {
        let people = self
            .db
            .query(
                "SELECT id, email, time_zone, name FROM assistant_participants ORDER BY id",
                vec![],
            )
            .await?;
        let memberships = self
            .db
            .query(
                "SELECT participant_id, program_id FROM assistant_memberships
                 ORDER BY participant_id, program_id",
                vec![],
            )
            .await?;
        people
            .iter()
            .map(|r| {
                let id = text(r, 0)?;
                let programs = memberships
                    .iter()
                    .filter(|m| matches!(m.first(), Some(Value::Text(p)) if *p == id))
                    .map(|m| text(m, 1).map(ProgramId::new))
                    .collect::<Result<_, _>>()?;
                Ok((
                    Participant {
                        id: ParticipantId::new(id),
                        email: text(r, 1)?,
                        time_zone: text(r, 2)?,
                        name: text(r, 3)?,
                    },
                    programs,
                ))
            })
            .collect()
    }

    pub(crate) async fn put_pair(&self, p: &Pair) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "INSERT INTO assistant_pairs (id, program_id, mentor, mentee) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET program_id = excluded.program_id,
                 mentor = excluded.mentor, mentee = excluded.mentee",
                vec![
                    p.id.as_str().into(),
                    p.program.as_str().into(),
                    p.mentor.as_str().into(),
                    p.mentee.as_str().into(),
                ],
            )])
            .await
    }

    pub(crate) async fn pairs(&self) -> Result<Vec<Pair>, StoreError> {
        self.db
            .query(
                "SELECT id, program_id, mentor, mentee FROM assistant_pairs ORDER BY id",
                vec![],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Pair {
                    id: PairId::new(text(r, 0)?),
                    program: ProgramId::new(text(r, 1)?),
                    mentor: ParticipantId::new(text(r, 2)?),
                    mentee: ParticipantId::new(text(r, 3)?),
                })
            })
            .collect()
    }

    pub(crate) async fn put_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut statements: Vec<Statement> = vec![
            (
                "INSERT INTO assistant_groups (id, program_id, name) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET program_id = excluded.program_id,
                 name = excluded.name",
                vec![
                    g.id.as_str().into(),
                    g.program.as_str().into(),
                    g.name.clone().into(),
                ],
            ),
            (
                "DELETE FROM assistant_group_members WHERE group_id = $1",
                vec![g.id.as_str().into()],
            ),
        ];
        for (i, member) in g.members.iter().enumerate() {
            statements.push((
                "INSERT INTO assistant_group_members (group_id, position, participant_id)
                 VALUES ($1, $2, $3)",
                vec![
                    g.id.as_str().into(),
                    i64_of(i).into(),
                    member.as_str().into(),
                ],
            ));
        }
        self.db.transaction(statements).await
    }

    pub(crate) async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let groups = self
            .db
            .query(
                "SELECT id, program_id, name FROM assistant_groups ORDER BY id",
                vec![],
            )
            .await?;
        let members = self
            .db
            .query(
                "SELECT group_id, participant_id FROM assistant_group_members
                 ORDER BY group_id, position",
                vec![],
            )
            .await?;
        groups
            .iter()
            .map(|r| {
                let id = text(r, 0)?;
                let members = members
                    .iter()
                    .filter(|m| matches!(m.first(), Some(Value::Text(g)) if *g == id))
                    .map(|m| text(m, 1).map(ParticipantId::new))
                    .collect::<Result<_, _>>()?;
                Ok(Group {
                    id: GroupId::new(id),
                    program: ProgramId::new(text(r, 1)?),
                    name: text(r, 2)?,
                    members,
                })
            })
            .collect()
    }

    pub(crate) async fn put_connection(&self, c: &Connection) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "INSERT INTO assistant_connections
                 (participant_id, provider, account, connected_at, needs_reconnect)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (participant_id) DO UPDATE SET provider = excluded.provider,
                 account = excluded.account, connected_at = excluded.connected_at,
                 needs_reconnect = excluded.needs_reconnect",
                vec![
                    c.participant.as_str().into(),
                    c.provider.as_str().into(),
                    c.account.clone().into(),
                    c.connected_at.into(),
                    c.needs_reconnect.clone().unwrap_or_default().into(),
                ],
            )])
            .await
    }

    pub(crate) async fn delete_connection(&self, p: &ParticipantId) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "DELETE FROM assistant_connections WHERE participant_id = $1",
                vec![p.as_str().into()],
            )])
            .await
    }

    pub(crate) async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.db
            .query(
                "SELECT participant_id, provider, account, connected_at, needs_reconnect
                 FROM assistant_connections ORDER BY participant_id",
                vec![],
            )
            .await?
            .iter()
            .map(|r| {
                let provider: Provider = text(r, 1)?.parse().map_err(StoreError::Corrupt)?;
                let reason = text(r, 4)?;
                Ok(Connection {
                    participant: ParticipantId::new(text(r, 0)?),
                    provider,
                    account: text(r, 2)?,
                    connected_at: int(r, 3)?,
                    needs_reconnect: (!reason.is_empty()).then_some(reason),
                })
            })
            .collect()
    }
}

impl Store {
    pub(crate) async fn put_integration(&self, kind: &str, json: String) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "INSERT INTO assistant_org_integrations (kind, settings_json) VALUES ($1, $2)
                 ON CONFLICT (kind) DO UPDATE SET settings_json = excluded.settings_json",
                vec![kind.into(), json.into()],
            )])
            .await
    }

    pub(crate) async fn delete_integration(&self, kind: &str) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "DELETE FROM assistant_org_integrations WHERE kind = $1",
                vec![kind.into()],
            )])
            .await
    }

    pub(crate) async fn integrations(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT settings_json FROM assistant_org_integrations ORDER BY kind",
                vec![],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
    }
}

fn check_version(found: i64) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn usize_of(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}

fn i64_of(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
