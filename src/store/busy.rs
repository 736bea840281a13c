//! `assistant_busy` (PostgreSQL): every instance's shared busy times, one
//! row per participant with its refresh lease. This file owns the table's
//! SQL and its stored JSON; the lease protocol that uses it is
//! `busy::shared`.

use std::collections::HashMap;

use availability::{FreeBusy, Interval, SourceError};
use serde::{Deserialize, Serialize};

/// The database's clock in epoch milliseconds (lease times use it, so the
/// instances' own clocks may differ).
const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The columns every read returns, in [`BusyRow`]'s order (the last:
/// whether a lease is live now, on [`DB_NOW_MS`]'s clock).
const COLUMNS: &str = "participant_id, source_key, account, window_start, window_end, \
     GREATEST(fetched_ms, fetched_at * 1000), result_json, \
     (lease_until IS NOT NULL AND lease_until >= (extract(epoch from clock_timestamp()) * 1000)::bigint)";

/// A participant's stored answer, as `result_json`:
/// `{"busy": {...FreeBusy...}}` or `{"error": {"kind", "message",
/// "retry_after_secs"}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Stored {
    /// Busy times (intervals and kinds only: nothing else is known here).
    Busy(FreeBusy),
    /// Why the read failed (the message is the provider's status text,
    /// never a secret: see `SourceError`).
    Error(SourceError),
}

impl Stored {
    /// The stored form of a result.
    pub(crate) fn from_result(result: &Result<FreeBusy, SourceError>) -> Self {
        match result {
            Ok(fb) => Self::Busy(fb.clone()),
            Err(e) => Self::Error(e.clone()),
        }
    }

    /// The result it stands for.
    pub(crate) fn into_result(self) -> Result<FreeBusy, SourceError> {
        match self {
            Self::Busy(fb) => Ok(fb),
            Self::Error(e) => Err(e),
        }
    }

    /// The JSON text of `result_json`.
    pub(crate) fn encode(
        result: &Result<FreeBusy, SourceError>,
    ) -> Result<String, serde_json::Error> {
        serde_json::to_string(&Self::from_result(result))
    }

    /// Reads `result_json`: `None` for an empty (never fetched) row, or
    /// one this build cannot read, which is then fetched again and
    /// overwritten.
    pub(crate) fn decode(json: &str) -> Option<Result<FreeBusy, SourceError>> {
        if json.is_empty() {
            return None;
        }
        serde_json::from_str::<Self>(json)
            .ok()
            .map(Self::into_result)
    }
}

/// One row of `assistant_busy`.
#[derive(Debug)]
pub(crate) struct BusyRow {
    /// The source key's stored spelling.
    pub(crate) key: String,
    /// The account read.
    pub(crate) account: String,
    /// The window fetched, if any.
    pub(crate) window: Option<Interval>,
    /// When it was fetched (epoch milliseconds).
    pub(crate) fetched_ms: i64,
    /// The answer, if one was stored and can be read.
    pub(crate) result: Option<Result<FreeBusy, SourceError>>,
    /// A claim's lease on it is live (someone is fetching it).
    pub(crate) leased: bool,
}

/// One fetched answer to store.
pub(crate) struct BusyWrite<'a> {
    /// Whose.
    pub(crate) participant: &'a str,
    /// The source key's stored spelling.
    pub(crate) key: String,
    /// The account read.
    pub(crate) account: &'a str,
    /// The answer.
    pub(crate) result: &'a Result<FreeBusy, SourceError>,
}

/// What a statement on the table failed at, with PostgreSQL's error.
#[derive(Debug)]
pub(crate) struct BusyDbError {
    /// What was being done.
    pub(crate) action: &'static str,
    /// The database's error.
    pub(crate) error: tokio_postgres::Error,
}

/// A pool failure is reported like a statement's.
#[derive(Debug)]
pub(crate) enum BusyTableError {
    /// No connection from the pool.
    Connect(String),
    /// A statement failed.
    Db(BusyDbError),
    /// A result could not be encoded.
    Encode(serde_json::Error),
}

fn db(action: &'static str) -> impl Fn(tokio_postgres::Error) -> BusyTableError + Copy {
    move |error| BusyTableError::Db(BusyDbError { action, error })
}

/// The table over a pool.
#[derive(Clone, Debug)]
pub(crate) struct BusyTable {
    pool: deadpool_postgres::Pool,
}

fn parse_row(row: &tokio_postgres::Row) -> Result<(String, BusyRow), tokio_postgres::Error> {
    let participant: String = row.try_get(0)?;
    let window_start: i64 = row.try_get(3)?;
    let window_end: i64 = row.try_get(4)?;
    let json: String = row.try_get(6)?;
    Ok((
        participant,
        BusyRow {
            key: row.try_get(1)?,
            account: row.try_get(2)?,
            window: Interval::new(window_start, window_end).ok(),
            fetched_ms: row.try_get(5)?,
            result: Stored::decode(&json),
            leased: row.try_get(7)?,
        },
    ))
}

impl BusyTable {
    /// The table in the database behind `pool`.
    pub(crate) fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, BusyTableError> {
        self.pool
            .get()
            .await
            .map_err(|e| BusyTableError::Connect(e.to_string()))
    }

    /// The rows of `ids` that exist.
    pub(crate) async fn load(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, BusyRow>, BusyTableError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM assistant_busy WHERE participant_id = ANY($1)"),
                &[&ids],
            )
            .await
            .map_err(db("reading"))?;
        rows.iter()
            .map(parse_row)
            .collect::<Result<HashMap<_, _>, _>>()
            .map_err(db("reading"))
    }

    /// Takes leases under `token` for `lease_ms` (on the database's clock)
    /// on those of `ids` whose lease is free or expired and for which
    /// `fresh` says no; returns the leased ids and the rows found fresh.
    ///
    /// `ids` are sorted and without repeats here: every instance then
    /// inserts and locks rows in the same order, so two claims over
    /// overlapping participants wait for each other instead of
    /// deadlocking. Rows another instance is claiming at that instant are
    /// skipped (`FOR UPDATE SKIP LOCKED`).
    pub(crate) async fn claim(
        &self,
        ids: impl IntoIterator<Item = String>,
        token: &str,
        lease_ms: i64,
        fresh: impl Fn(&str, &BusyRow) -> Option<bool>,
    ) -> Result<(Vec<String>, HashMap<String, BusyRow>), BusyTableError> {
        let fail = db("leasing");
        let ids: Vec<String> = ids
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut client = self.client().await?;
        // A row to lock for participants never read, inserted (and its
        // row lock released) before the claim's transaction.
        client
            .execute(
                "INSERT INTO assistant_busy (participant_id, source_key, account, window_start, \
             window_end, fetched_at, result_json) SELECT p, '', '', 0, 0, 0, '' \
             FROM unnest($1::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n \
             ON CONFLICT (participant_id) DO NOTHING",
                &[&ids],
            )
            .await
            .map_err(fail)?;
        let tx = client.transaction().await.map_err(fail)?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM assistant_busy \
                     WHERE participant_id = ANY($1) \
                     AND (lease_until IS NULL OR lease_until < {DB_NOW_MS}) \
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&ids],
            )
            .await
            .map_err(fail)?;
        let mut leased = Vec::new();
        let mut found_fresh = HashMap::new();
        for row in &rows {
            let (id, row) = parse_row(row).map_err(fail)?;
            match fresh(&id, &row) {
                None => {}
                Some(true) => {
                    found_fresh.insert(id, row);
                }
                Some(false) => leased.push(id),
            }
        }
        if !leased.is_empty() {
            tx.execute(
                &format!(
                    "UPDATE assistant_busy SET lease_owner = $2, lease_until = {DB_NOW_MS} + $3 \
                     WHERE participant_id = ANY($1)"
                ),
                &[&leased, &token, &lease_ms],
            )
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok((leased, found_fresh))
    }

    /// Stores fetched answers over `window` dated `now_ms`, clearing the
    /// lease, where the claim `token` still holds it. Returns how many
    /// rows it wrote.
    pub(crate) async fn store(
        &self,
        writes: &[BusyWrite<'_>],
        token: &str,
        window: Interval,
        now_ms: i64,
    ) -> Result<u64, BusyTableError> {
        let mut ids = Vec::with_capacity(writes.len());
        let mut keys = Vec::with_capacity(writes.len());
        let mut accounts = Vec::with_capacity(writes.len());
        let mut json = Vec::with_capacity(writes.len());
        for w in writes {
            ids.push(w.participant.to_owned());
            keys.push(w.key.clone());
            accounts.push(w.account.to_owned());
            json.push(Stored::encode(w.result).map_err(BusyTableError::Encode)?);
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE assistant_busy AS b SET source_key = u.k, account = u.a, \
                 window_start = $4, window_end = $5, fetched_at = $6::bigint / 1000, fetched_ms = $6::bigint, \
                 result_json = u.r, lease_owner = NULL, lease_until = NULL \
                 FROM unnest($1::text[], $2::text[], $3::text[], $7::text[]) AS u(p, k, a, r) \
                 WHERE b.participant_id = u.p AND b.lease_owner = $8",
                &[
                    &ids,
                    &keys,
                    &accounts,
                    &window.start(),
                    &window.end(),
                    &now_ms,
                    &json,
                    &token,
                ],
            )
            .await
            .map_err(db("writing"))
    }

    /// Gives up the leases the claim `token` still holds on `ids` (one
    /// another claim has taken since, after this one expired, is left
    /// alone).
    pub(crate) async fn release(&self, ids: &[String], token: &str) -> Result<(), BusyTableError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE assistant_busy SET lease_owner = NULL, lease_until = NULL \
                 WHERE participant_id = ANY($1) AND lease_owner = $2",
                &[&ids, &token],
            )
            .await
            .map(|_| ())
            .map_err(db("releasing"))
    }

    /// Deletes a participant's row.
    pub(crate) async fn forget(&self, participant: &str) -> Result<(), BusyTableError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM assistant_busy WHERE participant_id = $1",
                &[&participant],
            )
            .await
            .map(|_| ())
            .map_err(db("forgetting"))
    }
}

#[cfg(test)]
mod tests {
    use availability::{BusyKind, FreeBusy, Interval, SourceError};

    use super::Stored;

    #[test]
    // The strings are what the build before the busy-cache seam wrote.
    fn stored_answers_keep_the_shape_previous_builds_wrote() {
        let busy: Result<FreeBusy, SourceError> = Ok(FreeBusy::from_entries([
            (BusyKind::Busy, Interval::new(3_600, 7_200).unwrap()),
            (
                BusyKind::OutOfOffice,
                Interval::new(86_400, 172_800).unwrap(),
            ),
        ]));
        let failed: Result<FreeBusy, SourceError> = Err(SourceError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(30)),
        });
        insta::assert_snapshot!(Stored::encode(&busy).unwrap(), @r#"{"busy":{"busy":[{"start":"1970-01-01T01:00:00Z","end":"1970-01-01T02:00:00Z","kind":"busy"},{"start":"1970-01-02T00:00:00Z","end":"1970-01-03T00:00:00Z","kind":"out_of_office"}]}}"#);
        insta::assert_snapshot!(Stored::encode(&failed).unwrap(), @r#"{"error":{"kind":"rate_limited","message":"","retry_after_secs":30}}"#);
        for json in [
            Stored::encode(&busy).unwrap(),
            Stored::encode(&failed).unwrap(),
        ] {
            let back = Stored::decode(&json).unwrap();
            assert_eq!(Stored::encode(&back).unwrap(), json);
        }
        assert!(Stored::decode("").is_none(), "a never-fetched row");
        assert!(
            Stored::decode("{\"melted\":1}").is_none(),
            "a row this build cannot read"
        );
    }
}
