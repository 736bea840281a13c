//! Busy times shared by every assistant instance on one PostgreSQL
//! database: one row per participant in `assistant_busy`, refreshed by
//! exactly one instance per TTL.
//!
//! An instance that needs a participant's busy time reads the row; when it
//! is missing or stale, the instance takes a *lease* on it: in one
//! transaction it locks the candidate rows with `SELECT ... FOR UPDATE SKIP
//! LOCKED` (rows another instance is claiming at that instant are skipped),
//! keeps those whose lease is free or expired and still stale, and writes
//! a token naming this claim and an expiry (`lease_until`, from the
//! database's clock) into them. It then fetches those participants,
//! batched per source, and stores the result, clearing the lease, but only
//! where this claim still holds it. Other instances wait for the row
//! (polling it) and use the stored result. A crashed instance's leases
//! expire, and the next instance to need those rows takes them over.
//! Within an instance, requests for the same participant share one flight
//! as in the in-memory cache.
//!
//! Clocks: lease expiries are compared on the database's clock, so a
//! skewed instance neither steals live leases nor keeps dead ones. A
//! fetch is dated (in milliseconds) by the assistant's [`Clock`], the one
//! tests inject, so the TTL is as good as the instances' agreement on the
//! time: a clock `s` seconds ahead refreshes up to `s` seconds early.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use std::sync::Arc;

use availability::{Clock, FreeBusy, Interval, SourceError, SourceErrorKind};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cache::{FetchCounts, OnFetched, SourceKey, Target, clip, fetch, usable_for};
use crate::model::ParticipantId;

/// How often an instance waiting for another's lease reads the row again.
const POLL: Duration = Duration::from_millis(100);

/// The database's clock in epoch milliseconds (lease times use it, so the
/// instances' own clocks may differ).
const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// A participant's stored answer.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Stored {
    /// Busy times (intervals and kinds only: nothing else is known here).
    Busy(FreeBusy),
    /// Why the read failed (the message is the provider's status text,
    /// never a secret: see `SourceError`).
    Error {
        kind: SourceErrorKind,
        message: String,
        retry_after_secs: Option<u64>,
    },
}

impl Stored {
    fn from_result(result: &Result<FreeBusy, SourceError>) -> Self {
        match result {
            Ok(fb) => Self::Busy(fb.clone()),
            Err(e) => Self::Error {
                kind: e.kind(),
                message: match e {
                    SourceError::Unauthorized { message }
                    | SourceError::Forbidden { message }
                    | SourceError::NotFound { message }
                    | SourceError::Unavailable { message, .. }
                    | SourceError::InvalidResponse { message }
                    | SourceError::Transport { message, .. } => message.clone(),
                    _ => String::new(),
                },
                retry_after_secs: e.retry_after().map(|d| d.as_secs()),
            },
        }
    }

    fn into_result(self) -> Result<FreeBusy, SourceError> {
        match self {
            Self::Busy(fb) => Ok(fb),
            Self::Error {
                kind,
                message,
                retry_after_secs,
            } => {
                let retry_after = retry_after_secs.map(Duration::from_secs);
                Err(match kind {
                    SourceErrorKind::Unauthorized => SourceError::Unauthorized { message },
                    SourceErrorKind::Forbidden => SourceError::Forbidden { message },
                    SourceErrorKind::NotFound => SourceError::NotFound { message },
                    SourceErrorKind::RateLimited => SourceError::RateLimited { retry_after },
                    SourceErrorKind::InvalidResponse => SourceError::InvalidResponse { message },
                    SourceErrorKind::Transport => SourceError::Transport {
                        message,
                        source: None,
                    },
                    _ => SourceError::Unavailable {
                        message,
                        retry_after,
                    },
                })
            }
        }
    }
}

/// One row of `assistant_busy` with a result.
struct Row {
    key: String,
    account: String,
    window: Option<Interval>,
    fetched_ms: i64,
    result: Option<Result<FreeBusy, SourceError>>,
}

fn source_key_text(key: SourceKey) -> String {
    match key {
        SourceKey::Personal(p) => format!("personal:{}", p.as_str()),
        SourceKey::Organisation(kind) => format!("organisation:{kind:?}"),
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A database failure: logged in full (PostgreSQL's own message), and
/// reported to callers as the cache being unavailable, without the
/// database's internals.
fn db_failed(action: &'static str) -> impl Fn(tokio_postgres::Error) -> SourceError + Copy {
    move |e| {
        let detail = e.as_db_error().map(|d| d.message().to_owned());
        tracing::warn!(action, error = %e, detail, "busy-time cache: database error");
        unavailable(format!("busy-time cache: {action} failed"))
    }
}

fn unavailable(message: impl Into<String>) -> SourceError {
    SourceError::Unavailable {
        message: message.into(),
        retry_after: None,
    }
}

/// The shared cache (see the module docs).
#[derive(Debug)]
pub(crate) struct SharedCache {
    pool: deadpool_postgres::Pool,
    clock: Arc<dyn Clock>,
    ttl_ms: i64,
    lease_ms: i64,
    me: String,
    claims: AtomicU64,
    flights: Mutex<HashMap<ParticipantId, watch::Receiver<bool>>>,
}

/// Removes this request's local flights when it finishes or is dropped,
/// and gives up the leases its claim may still hold (a cancelled request,
/// even one cancelled inside the claim's transaction, or a failed write),
/// so waiting instances need not wait for the expiry.
struct Flight<'a> {
    cache: &'a SharedCache,
    participants: Vec<ParticipantId>,
    /// The claim's token and the rows it may hold, until stored.
    claim: Option<(String, Vec<String>)>,
    _senders: Vec<watch::Sender<bool>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut flights = self.cache.flights();
        for p in &self.participants {
            flights.remove(p);
        }
        drop(flights);
        if let Some((token, ids)) = self.claim.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let pool = self.cache.pool.clone();
            // Only this claim's leases: one another claim has taken since
            // (after this one expired) is left alone.
            handle.spawn(async move {
                if let Ok(client) = pool.get().await {
                    let _ = client
                        .execute(
                            "UPDATE assistant_busy SET lease_owner = NULL, lease_until = NULL \
                             WHERE participant_id = ANY($1) AND lease_owner = $2",
                            &[&ids, &token],
                        )
                        .await;
                }
            });
        }
    }
}

impl SharedCache {
    pub(crate) fn new(
        pool: deadpool_postgres::Pool,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        lease: Duration,
    ) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            pool,
            clock,
            ttl_ms: millis(ttl),
            lease_ms: millis(lease).max(1),
            // Readable in the table: which process holds a lease.
            me: format!(
                "pid {} at {started:x}/{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            claims: AtomicU64::new(0),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// A token naming one claim of this instance (it goes into
    /// `lease_owner`).
    fn claim_token(&self) -> String {
        format!(
            "{} #{}",
            self.me,
            self.claims.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Now in milliseconds, read afresh: a request may wait (for a lease,
    /// a database connection) long enough that its start time would
    /// misdate a fetch.
    fn now(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<ParticipantId, watch::Receiver<bool>>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, SourceError> {
        self.pool
            .get()
            .await
            .map_err(|e| unavailable(format!("busy-time cache: connecting: {e}")))
    }

    fn parse_row(&self, row: &tokio_postgres::Row) -> Result<(String, Row), tokio_postgres::Error> {
        let participant: String = row.try_get(0)?;
        let window_start: i64 = row.try_get(3)?;
        let window_end: i64 = row.try_get(4)?;
        let json: String = row.try_get(6)?;
        let result = if json.is_empty() {
            None
        } else {
            // A row this build cannot read is treated as missing: it is
            // fetched again and overwritten.
            serde_json::from_str::<Stored>(&json)
                .ok()
                .map(Stored::into_result)
        };
        Ok((
            participant,
            Row {
                key: row.try_get(1)?,
                account: row.try_get(2)?,
                window: Interval::new(window_start, window_end).ok(),
                fetched_ms: row.try_get(5)?,
                result,
            },
        ))
    }

    fn usable(&self, row: &Row, t: &Target, window: Interval, now: i64) -> bool {
        let (Some(result), Some(row_window)) = (&row.result, row.window) else {
            return false;
        };
        row.key == source_key_text(t.key)
            && row.account == t.account.as_str()
            && usable_for(result, row.fetched_ms, row_window, self.ttl_ms, window, now)
    }

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, Row>, SourceError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT participant_id, source_key, account, window_start, window_end, \
                 GREATEST(fetched_ms, fetched_at * 1000), result_json FROM assistant_busy WHERE participant_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(db_failed("reading"))?;
        rows.iter()
            .map(|r| self.parse_row(r))
            .collect::<Result<HashMap<_, _>, _>>()
            .map_err(db_failed("reading"))
    }

    /// Takes leases, under `token`, on those of `targets` that are stale
    /// (all with `force`) and not leased by another claim. Returns the
    /// leased participants, and the rows found fresh meanwhile.
    async fn claim(
        &self,
        targets: &[&Target],
        token: &str,
        window: Interval,
        now: i64,
        force: bool,
    ) -> Result<(HashSet<String>, HashMap<String, Row>), SourceError> {
        let fail = db_failed("leasing");
        // Sorted and without repeats: every instance then inserts and
        // locks rows in the same order, so two claims over overlapping
        // participants wait for each other instead of deadlocking.
        let ids: Vec<String> = targets
            .iter()
            .map(|t| t.participant.as_str().to_owned())
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
                    "SELECT participant_id, source_key, account, window_start, window_end, \
                     GREATEST(fetched_ms, fetched_at * 1000), result_json FROM assistant_busy \
                     WHERE participant_id = ANY($1) \
                     AND (lease_until IS NULL OR lease_until < {DB_NOW_MS}) \
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&ids],
            )
            .await
            .map_err(fail)?;
        let by_id: HashMap<&str, &Target> = targets
            .iter()
            .map(|t| (t.participant.as_str(), *t))
            .collect();
        let mut leased = HashSet::new();
        let mut fresh = HashMap::new();
        for row in &rows {
            let (id, row) = self.parse_row(row).map_err(fail)?;
            let Some(t) = by_id.get(id.as_str()) else {
                continue;
            };
            if !force && self.usable(&row, t, window, now) {
                fresh.insert(id, row);
            } else {
                leased.insert(id);
            }
        }
        if !leased.is_empty() {
            let list: Vec<&String> = leased.iter().collect();
            tx.execute(
                &format!(
                    "UPDATE assistant_busy SET lease_owner = $2, lease_until = {DB_NOW_MS} + $3 \
                     WHERE participant_id = ANY($1)"
                ),
                &[&list, &token, &self.lease_ms],
            )
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok((leased, fresh))
    }

    /// Stores fetched results where the claim `token` still holds the
    /// lease, dated `now` (milliseconds).
    async fn store(
        &self,
        results: &[(&Target, &Result<FreeBusy, SourceError>)],
        token: &str,
        window: Interval,
        now: i64,
    ) -> Result<u64, SourceError> {
        let mut ids = Vec::with_capacity(results.len());
        let mut keys = Vec::with_capacity(results.len());
        let mut accounts = Vec::with_capacity(results.len());
        let mut json = Vec::with_capacity(results.len());
        for (t, result) in results {
            ids.push(t.participant.as_str().to_owned());
            keys.push(source_key_text(t.key));
            accounts.push(t.account.as_str().to_owned());
            json.push(
                serde_json::to_string(&Stored::from_result(result))
                    .map_err(|e| unavailable(format!("busy-time cache: encoding: {e}")))?,
            );
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
                    &now,
                    &json,
                    &token,
                ],
            )
            .await
            .map_err(db_failed("writing"))
    }

    /// Forgets a participant (disconnected, reconnected) for every
    /// instance. A fetch in flight for them stores nothing afterwards.
    pub(crate) async fn forget(&self, participant: &ParticipantId) {
        let result = match self.client().await {
            Ok(client) => client
                .execute(
                    "DELETE FROM assistant_busy WHERE participant_id = $1",
                    &[&participant.as_str()],
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(%participant, error = %e, "could not forget cached busy times");
        }
    }

    /// Of `participants`, those whose stored busy times are older than the
    /// TTL (or missing).
    pub(crate) async fn stale(&self, participants: Vec<ParticipantId>) -> Vec<ParticipantId> {
        let ids: Vec<String> = participants.iter().map(|p| p.as_str().to_owned()).collect();
        let Ok(rows) = self.load(&ids).await else {
            return participants;
        };
        let now = self.now();
        participants
            .into_iter()
            .filter(|p| {
                rows.get(p.as_str()).is_none_or(|r| {
                    r.result.is_none() || now.saturating_sub(r.fetched_ms) >= self.ttl_ms
                })
            })
            .collect()
    }

    /// The last error read for a participant, if their last read failed.
    pub(crate) async fn last_error(&self, participant: &ParticipantId) -> Option<SourceError> {
        let mut rows = self.load(&[participant.as_str().to_owned()]).await.ok()?;
        rows.remove(participant.as_str())?.result?.err()
    }

    /// As [`crate::cache::Cache::get`], across instances. With `wait`,
    /// participants another instance is refreshing are waited for (up to
    /// the lease plus ten seconds); without it (background refreshes),
    /// only what this instance could lease is fetched.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn get(
        &self,
        targets: &[Target],
        window: Interval,
        fetch_window: Interval,
        now: i64,
        force: bool,
        wait: bool,
        on_fetched: OnFetched<'_>,
    ) -> (
        HashMap<ParticipantId, Result<FreeBusy, SourceError>>,
        FetchCounts,
    ) {
        // The caller's `now` dates the request; each round reads the clock
        // again, and a fetch is dated when its lease is taken.
        let _ = now;
        let mut answers: HashMap<ParticipantId, Result<FreeBusy, SourceError>> =
            HashMap::with_capacity(targets.len());
        let mut counts = FetchCounts::default();
        let mut force = force;
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::try_from(self.lease_ms).unwrap_or(u64::MAX))
            + Duration::from_secs(10);
        loop {
            let remaining: Vec<&Target> = {
                let mut seen = HashSet::new();
                targets
                    .iter()
                    .filter(|t| !answers.contains_key(&t.participant))
                    .filter(|t| seen.insert(t.participant.clone()))
                    .collect()
            };
            if remaining.is_empty() {
                break;
            }
            let now = self.now();
            if !force {
                let ids: Vec<String> = remaining
                    .iter()
                    .map(|t| t.participant.as_str().to_owned())
                    .collect();
                match self.load(&ids).await {
                    Ok(rows) => {
                        for t in &remaining {
                            if let Some(row) = rows.get(t.participant.as_str())
                                && self.usable(row, t, window, now)
                                && let Some(result) = &row.result
                            {
                                answers.insert(t.participant.clone(), clip(result, window));
                            }
                        }
                    }
                    Err(e) => {
                        for t in &remaining {
                            answers.insert(t.participant.clone(), Err(e.clone()));
                        }
                        break;
                    }
                }
            }
            // This instance's own flights: join them rather than lease.
            let mut mine: Vec<&Target> = Vec::new();
            let mut waits = Vec::new();
            let mut senders = Vec::new();
            {
                let mut flights = self.flights();
                for t in remaining {
                    if answers.contains_key(&t.participant) {
                        continue;
                    }
                    if let Some(rx) = flights.get(&t.participant) {
                        waits.push(rx.clone());
                    } else {
                        let (tx, rx) = watch::channel(false);
                        flights.insert(t.participant.clone(), rx);
                        senders.push(tx);
                        mine.push(t);
                    }
                }
            }
            let token = self.claim_token();
            let mut flight = Flight {
                cache: self,
                participants: mine.iter().map(|t| t.participant.clone()).collect(),
                claim: (!mine.is_empty()).then(|| {
                    let ids = mine.iter().map(|t| t.participant.as_str().to_owned());
                    (token.clone(), ids.collect())
                }),
                _senders: senders,
            };
            let mut elsewhere = false;
            if !mine.is_empty() {
                let now = self.now();
                match self.claim(&mine, &token, window, now, force).await {
                    Ok((leased, fresh)) => {
                        for t in &mine {
                            if let Some(row) = fresh.get(t.participant.as_str())
                                && let Some(result) = &row.result
                            {
                                answers.insert(t.participant.clone(), clip(result, window));
                            }
                        }
                        let ours: Vec<&Target> = mine
                            .iter()
                            .copied()
                            .filter(|t| leased.contains(t.participant.as_str()))
                            .collect();
                        elsewhere = ours.len() + fresh.len() < mine.len();
                        if ours.is_empty() {
                            flight.claim = None;
                        } else {
                            let fetched = fetch(&ours, fetch_window).await;
                            let pairs: Vec<(&Target, &Result<FreeBusy, SourceError>)> =
                                ours.iter().copied().zip(fetched.iter()).collect();
                            if let Err(e) = self.store(&pairs, &token, fetch_window, now).await {
                                tracing::warn!(error = %e, "could not store busy times");
                            } else {
                                flight.claim = None;
                            }
                            for (t, result) in pairs {
                                on_fetched(t, result);
                                counts.fetched += 1;
                                counts.failed += usize::from(result.is_err());
                                answers.insert(t.participant.clone(), clip(result, window));
                            }
                        }
                    }
                    Err(e) => {
                        for t in &mine {
                            answers.insert(t.participant.clone(), Err(e.clone()));
                        }
                    }
                }
            }
            drop(flight);
            force = false;
            if !wait {
                break;
            }
            for mut rx in waits {
                // Err: the fetching request was dropped; look again.
                let _ = rx.wait_for(|done| *done).await;
            }
            if elsewhere {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
        }
        if wait {
            for t in targets {
                answers.entry(t.participant.clone()).or_insert_with(|| {
                    Err(unavailable(
                        "busy time could not be read in time (another instance holds the refresh)",
                    ))
                });
            }
        }
        (answers, counts)
    }
}
