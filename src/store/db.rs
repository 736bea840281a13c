//! One connection type over both engines: statements written once
//! (standard SQL, `$n` parameters), values of two types (text, 64-bit
//! integers), SQLite on a blocking thread, PostgreSQL through a pool.

use std::sync::{Arc, Mutex};

use super::StoreError;
use super::changes::{Change, logged};

pub(super) fn backend<E: std::fmt::Display>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend {
        action,
        message: e.to_string(),
    }
}

/// A SQL value: the schema uses text and 64-bit integers only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
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

pub(super) type Row = Vec<Value>;

pub(super) fn text(row: &Row, i: usize) -> Result<String, StoreError> {
    match row.get(i) {
        Some(Value::Text(s)) => Ok(s.clone()),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected text, found {other:?}"
        ))),
    }
}

pub(super) fn int(row: &Row, i: usize) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(Value::Int(v)) => Ok(*v),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected an integer, found {other:?}"
        ))),
    }
}

#[derive(Clone)]
pub(super) enum Db {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    #[cfg(feature = "postgres")]
    Postgres(deadpool_postgres::Pool),
}

/// One statement of a transaction.
pub(super) type Statement = (&'static str, Vec<Value>);

impl Db {
    /// Runs statements in one transaction, bumps the records' revision
    /// in it and logs what they `changed` under it (every other instance
    /// then reloads those records: `changes.rs`).
    pub(super) async fn transaction(
        &self,
        mut statements: Vec<Statement>,
        changed: &[Change],
    ) -> Result<(), StoreError> {
        statements.extend(logged(changed));
        self.run(statements, None).await.map(|_| ())
    }

    /// Runs statements in one transaction without touching the records'
    /// revision (rows nobody keeps in memory: polls, votes, bookings).
    /// With `guarded`, the first statement must change a row, or nothing
    /// is written and `false` comes back: how a write that depends on a
    /// row's state (a poll still open, a claim still held) stays atomic.
    pub(super) async fn write(
        &self,
        statements: Vec<Statement>,
        guarded: bool,
    ) -> Result<bool, StoreError> {
        self.run(statements, guarded.then_some(0)).await
    }

    /// Runs statements in one transaction where the one at `guard` must
    /// change a row, or nothing is written and `false` comes back. The
    /// statements before it can take the locks its condition needs (in
    /// PostgreSQL, a later statement of a transaction sees what others
    /// committed while it waited for a row lock).
    pub(super) async fn write_guarded_at(
        &self,
        statements: Vec<Statement>,
        guard: usize,
    ) -> Result<bool, StoreError> {
        self.run(statements, Some(guard)).await
    }

    async fn run(
        &self,
        statements: Vec<Statement>,
        guard: Option<usize>,
    ) -> Result<bool, StoreError> {
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
                    for (i, (sql, params)) in statements.iter().enumerate() {
                        let changed = tx
                            .execute(
                                sql,
                                rusqlite::params_from_iter(params.iter().map(sqlite_param)),
                            )
                            .map_err(backend("writing"))?;
                        if guard == Some(i) && changed == 0 {
                            // Dropping the transaction rolls it back.
                            return Ok(false);
                        }
                    }
                    tx.commit().map_err(backend("committing"))?;
                    Ok(true)
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
                for (i, (sql, params)) in statements.iter().enumerate() {
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                        params.iter().map(pg_param).collect();
                    // Prepared once per pooled connection, not at every
                    // call (a round trip each).
                    let statement = tx.prepare_cached(sql).await.map_err(backend("writing"))?;
                    let changed = tx
                        .execute(&statement, &params)
                        .await
                        .map_err(backend("writing"))?;
                    if guard == Some(i) && changed == 0 {
                        tx.rollback().await.map_err(backend("rolling back"))?;
                        return Ok(false);
                    }
                }
                tx.commit().await.map_err(backend("committing"))?;
                Ok(true)
            }
        }
    }

    pub(super) async fn query(
        &self,
        sql: &'static str,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
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
                let statement = client
                    .prepare_cached(sql)
                    .await
                    .map_err(backend("reading"))?;
                let rows = client
                    .query(&statement, &params)
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

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(backend("running a blocking database call"))?
}

pub(super) fn sqlite_param(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
    }
}

#[cfg(feature = "postgres")]
pub(super) fn pg_param(v: &Value) -> &(dyn tokio_postgres::types::ToSql + Sync) {
    match v {
        Value::Text(s) => s,
        Value::Int(i) => i,
    }
}

/// Children of parent rows, by parent id, in one pass over `rows` whose
/// first column is the parent's id and second the child's (the order of
/// `rows` is kept within each parent).
pub(super) fn children(
    rows: &[Row],
) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for row in rows {
        out.entry(text(row, 0)?).or_default().push(text(row, 1)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_grouped_by_parent_in_row_order() {
        let rows: Vec<Row> = vec![
            vec!["g1".into(), "b".into()],
            vec!["g2".into(), "x".into()],
            vec!["g1".into(), "a".into()],
        ];
        let by = children(&rows).unwrap();
        assert_eq!(by["g1"], ["b", "a"]);
        assert_eq!(by["g2"], ["x"]);
        assert!(
            children(&[vec![Value::Int(1), "a".into()]]).is_err(),
            "a corrupt id"
        );
    }

    #[test]
    fn cells_of_the_wrong_type_are_corrupt_not_a_panic() {
        let row: Row = vec!["t".into(), 7.into()];
        assert_eq!(text(&row, 0).unwrap(), "t");
        assert_eq!(int(&row, 1).unwrap(), 7);
        assert!(matches!(text(&row, 1), Err(StoreError::Corrupt(_))));
        assert!(matches!(int(&row, 0), Err(StoreError::Corrupt(_))));
        assert!(matches!(int(&row, 5), Err(StoreError::Corrupt(_))));
    }
}
