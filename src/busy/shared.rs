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
//! as in the in-memory cache (`busy::flight`).
//! The table's SQL is `store::busy`'s.
//!
//! Clocks: lease expiries are compared on the database's clock, so a
//! skewed instance neither steals live leases nor keeps dead ones. A
//! fetch is dated (in milliseconds) by the assistant's `Clock`, the one
//! tests inject, so the TTL is as good as the instances' agreement on the
//! time: a clock `s` seconds ahead refreshes up to `s` seconds early.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use availability::{Clock, Interval, SourceError};

use super::flight::Flights;
use super::{
    Answers, BusyCache, BusyQuery, FetchCounts, Target, clip, fetch, not_in_time, usable_for,
};
use crate::model::ParticipantId;
use crate::store::busy::{BusyRow, BusyTable, BusyTableError, BusyWrite};

/// How often an instance waiting for another's lease reads the row again.
const POLL: Duration = Duration::from_millis(100);

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A database failure: logged in full (PostgreSQL's own message), and
/// reported to callers as the cache being unavailable, without the
/// database's internals.
fn db_failed(e: BusyTableError) -> SourceError {
    match e {
        BusyTableError::Connect(message) => {
            not_in_time(&format!("busy-time cache: connecting: {message}"))
        }
        BusyTableError::Db(e) => {
            let detail = e.error.as_db_error().map(|d| d.message().to_owned());
            tracing::warn!(action = e.action, error = %e.error, detail, "busy-time cache: database error");
            not_in_time(&format!("busy-time cache: {} failed", e.action))
        }
        BusyTableError::Encode(e) => not_in_time(&format!("busy-time cache: encoding: {e}")),
    }
}

/// The shared cache (see the module docs).
#[derive(Debug)]
pub(crate) struct SharedCache {
    table: BusyTable,
    clock: Arc<dyn Clock>,
    ttl_ms: i64,
    lease_ms: i64,
    me: String,
    claims: AtomicU64,
    flights: Flights,
}

/// Gives up the leases a claim may still hold when it is dropped (a
/// cancelled request, even one cancelled inside the claim's transaction,
/// or a failed write), so waiting instances need not wait for the expiry.
struct Lease {
    table: BusyTable,
    /// The claim's token and the rows it may hold, until stored.
    claim: Option<(String, Vec<String>)>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((token, ids)) = self.claim.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let table = self.table.clone();
            handle.spawn(async move {
                let _ = table.release(&ids, &token).await;
            });
        }
    }
}

impl SharedCache {
    /// The cache over `pool`: answers fresh for `ttl` on `clock`, claims
    /// to refresh lasting `lease` on the database's clock.
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
            table: BusyTable::new(pool),
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
            flights: Flights::default(),
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

    fn usable(&self, row: &BusyRow, t: &Target, window: Interval, now: i64) -> bool {
        let (Some(result), Some(row_window)) = (&row.result, row.window) else {
            return false;
        };
        t.key.matches_text(&row.key)
            && row.account == t.account.as_str()
            && usable_for(result, row.fetched_ms, row_window, self.ttl_ms, window, now)
    }

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, BusyRow>, SourceError> {
        self.table.load(ids).await.map_err(db_failed)
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
    ) -> Result<(HashSet<String>, HashMap<String, BusyRow>), SourceError> {
        let by_id: HashMap<&str, &Target> = targets
            .iter()
            .map(|t| (t.participant.as_str(), *t))
            .collect();
        let ids = targets.iter().map(|t| t.participant.as_str().to_owned());
        let (leased, fresh) = self
            .table
            .claim(ids, token, self.lease_ms, |id, row| {
                let t = by_id.get(id)?;
                Some(!force && self.usable(row, t, window, now))
            })
            .await
            .map_err(db_failed)?;
        Ok((leased.into_iter().collect(), fresh))
    }
}

#[async_trait]
impl BusyCache for SharedCache {
    /// With `wait`, participants another instance is refreshing are waited
    /// for (up to the lease plus ten seconds); without it (background
    /// refreshes), only what this instance could lease is fetched.
    async fn get(&self, query: BusyQuery<'_>) -> (Answers, FetchCounts) {
        let (targets, window, fetch_window) = (query.targets, query.window, query.fetch_window);
        let mut force = query.force;
        let wait = query.wait;
        let mut answers: Answers = HashMap::with_capacity(targets.len());
        let mut counts = FetchCounts::default();
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
            let boarding = self
                .flights
                .board(remaining, |t| answers.contains_key(&t.participant));
            let token = self.claim_token();
            let mut lease = Lease {
                table: self.table.clone(),
                claim: (!boarding.mine.is_empty()).then(|| {
                    let ids = boarding
                        .mine
                        .iter()
                        .map(|t| t.participant.as_str().to_owned());
                    (token.clone(), ids.collect())
                }),
            };
            let mut elsewhere = false;
            if !boarding.mine.is_empty() {
                let mine = &boarding.mine;
                let now = self.now();
                match self.claim(mine, &token, window, now, force).await {
                    Ok((leased, fresh)) => {
                        for t in mine {
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
                            lease.claim = None;
                        } else {
                            let fetched = fetch(&ours, fetch_window).await;
                            let writes: Vec<BusyWrite<'_>> = ours
                                .iter()
                                .zip(fetched.iter())
                                .map(|(t, result)| BusyWrite {
                                    participant: t.participant.as_str(),
                                    key: t.key.as_text(),
                                    account: t.account.as_str(),
                                    result,
                                })
                                .collect();
                            match self.table.store(&writes, &token, fetch_window, now).await {
                                Err(e) => {
                                    let e = db_failed(e);
                                    tracing::warn!(error = %e, "could not store busy times");
                                }
                                Ok(_) => lease.claim = None,
                            }
                            for (t, result) in ours.iter().zip(fetched.iter()) {
                                (query.on_fetched)(t, result);
                                counts.fetched += 1;
                                counts.failed += usize::from(result.is_err());
                                answers.insert(t.participant.clone(), clip(result, window));
                            }
                        }
                    }
                    Err(e) => {
                        for t in mine {
                            answers.insert(t.participant.clone(), Err(e.clone()));
                        }
                    }
                }
            }
            drop(lease);
            force = false;
            if !wait {
                break;
            }
            boarding.land().await;
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
                    Err(not_in_time(
                        "busy time could not be read in time (another instance holds the refresh)",
                    ))
                });
            }
        }
        (answers, counts)
    }

    /// Forgets a participant for every instance. A fetch in flight for
    /// them stores nothing afterwards.
    async fn forget(&self, participant: &ParticipantId) {
        if let Err(e) = self.table.forget(participant.as_str()).await {
            let e = db_failed(e);
            tracing::warn!(%participant, error = %e, "could not forget cached busy times");
        }
    }

    async fn stale(&self, participants: Vec<ParticipantId>) -> Vec<ParticipantId> {
        let ids: Vec<String> = participants.iter().map(|p| p.as_str().to_owned()).collect();
        let Ok(rows) = self.load(&ids).await else {
            return participants;
        };
        let now = self.now();
        // Being fetched (by any instance) is not due: the budget of a
        // refresher's tick goes to those nobody is reading.
        let mut due: Vec<(i64, ParticipantId)> = participants
            .into_iter()
            .filter_map(|p| match rows.get(p.as_str()) {
                None => Some((i64::MIN, p)),
                Some(r) if r.leased => None,
                Some(r) if r.result.is_none() => Some((i64::MIN, p)),
                Some(r) if now.saturating_sub(r.fetched_ms) >= self.ttl_ms => {
                    Some((r.fetched_ms, p))
                }
                Some(_) => None,
            })
            .collect();
        // Oldest first (never read first); stable, so ties keep the
        // caller's order.
        due.sort_by_key(|(fetched, _)| *fetched);
        due.into_iter().map(|(_, p)| p).collect()
    }

    async fn last_error(&self, participant: &ParticipantId) -> Option<SourceError> {
        let mut rows = self.load(&[participant.as_str().to_owned()]).await.ok()?;
        rows.remove(participant.as_str())?.result?.err()
    }

    async fn last_read(&self, participant: &ParticipantId) -> Option<i64> {
        let mut rows = self.load(&[participant.as_str().to_owned()]).await.ok()?;
        let row = rows.remove(participant.as_str())?;
        matches!(row.result, Some(Ok(_))).then(|| row.fetched_ms.div_euclid(1000))
    }
}
