//! Busy times per participant, kept in memory for a TTL, fetched once
//! however many requests want them (single flight), batched per source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use availability::{AccountId, FreeBusy, FreeBusySource, FreeBusySourceExt, Interval, SourceError};
use tokio::sync::watch;

use crate::model::ParticipantId;

/// Which source answers for a participant: their own connection's provider,
/// or an organisation integration. Requests are batched per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SourceKey {
    Personal(policy_rules::Provider),
    Organisation(org_wide_auth::IntegrationKind),
}

/// One participant to read.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) participant: ParticipantId,
    pub(crate) key: SourceKey,
    pub(crate) account: AccountId,
    pub(crate) source: Arc<dyn FreeBusySource>,
}

#[derive(Clone, Debug)]
struct Entry {
    key: SourceKey,
    account: AccountId,
    window: Interval,
    fetched_at: i64,
    result: Result<FreeBusy, SourceError>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<ParticipantId, Entry>,
    flights: HashMap<ParticipantId, watch::Receiver<bool>>,
}

/// What a fetch round did, for counting and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchCounts {
    /// Participants whose busy time was fetched from a source.
    pub fetched: usize,
    /// Of those, how many failed.
    pub failed: usize,
}

/// The busy-time cache: in this process's memory (SQLite, one instance),
/// or shared through PostgreSQL by every instance ([`crate::shared_cache`]).
#[derive(Debug)]
pub(crate) enum BusyCache {
    /// In memory.
    Local(Cache),
    /// In the database, refreshed under leases.
    #[cfg(feature = "postgres")]
    Shared(crate::shared_cache::SharedCache),
}

impl BusyCache {
    /// Forgets a participant (disconnected, reconnected).
    pub(crate) async fn forget(&self, participant: &ParticipantId) {
        match self {
            Self::Local(c) => c.forget(participant),
            #[cfg(feature = "postgres")]
            Self::Shared(c) => c.forget(participant).await,
        }
    }

    /// Of `participants`, those whose busy times are older than the TTL.
    pub(crate) async fn stale(
        &self,
        participants: Vec<ParticipantId>,
        now: i64,
    ) -> Vec<ParticipantId> {
        match self {
            Self::Local(c) => participants
                .into_iter()
                .filter(|p| c.is_stale(p, now))
                .collect(),
            #[cfg(feature = "postgres")]
            Self::Shared(c) => c.stale(participants).await,
        }
    }

    /// The last error read for a participant, if their last read failed.
    pub(crate) async fn last_error(&self, participant: &ParticipantId) -> Option<SourceError> {
        match self {
            Self::Local(c) => c.last_error(participant),
            #[cfg(feature = "postgres")]
            Self::Shared(c) => c.last_error(participant).await,
        }
    }

    /// See [`Cache::get`]; `wait` (shared only) waits for participants
    /// another instance is refreshing.
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
        match self {
            Self::Local(c) => {
                let _ = wait;
                c.get(targets, window, fetch_window, now, force, on_fetched)
                    .await
            }
            #[cfg(feature = "postgres")]
            Self::Shared(c) => {
                c.get(targets, window, fetch_window, now, force, wait, on_fetched)
                    .await
            }
        }
    }
}

/// Busy times in this process's memory.
pub(crate) struct Cache {
    state: Mutex<State>,
    ttl_secs: i64,
    /// Dates each fetch when it starts (a request may have waited for
    /// another's flight first).
    clock: Arc<dyn availability::Clock>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// Removes this request's flights when it finishes or is dropped, waking
/// the requests that waited on them.
struct FlightGuard<'a> {
    cache: &'a Cache,
    participants: Vec<ParticipantId>,
    _senders: Vec<watch::Sender<bool>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        for p in &self.participants {
            state.flights.remove(p);
        }
        // Dropping the senders (after this) wakes every waiter.
    }
}

/// What sees every fresh answer (to update connection statuses).
pub(crate) type OnFetched<'a> = &'a (dyn Fn(&Target, &Result<FreeBusy, SourceError>) + Sync);

/// Whether a result fetched at `fetched_ms` over `fetched_window` answers
/// for `window` at `now_ms`: successes for the TTL, errors for at most a
/// minute (or as long as the source asked to wait, up to the TTL). Times
/// and the TTL are in milliseconds.
pub(crate) fn usable_for(
    result: &Result<FreeBusy, SourceError>,
    fetched_ms: i64,
    fetched_window: Interval,
    ttl_ms: i64,
    window: Interval,
    now_ms: i64,
) -> bool {
    let ttl = match result {
        Ok(_) => ttl_ms,
        Err(e) => {
            let asked = e
                .retry_after()
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            ttl_ms.min(ERROR_TTL_MS.max(asked))
        }
    };
    now_ms.saturating_sub(fetched_ms) < ttl && fetched_window.contains_interval(&window)
}

/// Errors are kept this long at most (milliseconds), so a failing
/// provider is not asked again by every request, yet recovers soon.
const ERROR_TTL_MS: i64 = 60_000;

impl Cache {
    pub(crate) fn new(ttl_secs: i64, clock: Arc<dyn availability::Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ttl_secs: ttl_secs.max(0),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn usable(&self, entry: &Entry, target: &Target, window: Interval, now: i64) -> bool {
        entry.key == target.key
            && entry.account == target.account
            && usable_for(
                &entry.result,
                entry.fetched_at.saturating_mul(1000),
                entry.window,
                self.ttl_secs.saturating_mul(1000),
                window,
                now.saturating_mul(1000),
            )
    }

    /// Forgets a participant (disconnected, reconnected).
    pub(crate) fn forget(&self, participant: &ParticipantId) {
        self.lock().entries.remove(participant);
    }

    /// Whether the participant's entry is older than the TTL (or missing).
    pub(crate) fn is_stale(&self, participant: &ParticipantId, now: i64) -> bool {
        self.lock()
            .entries
            .get(participant)
            .is_none_or(|e| now.saturating_sub(e.fetched_at) >= self.ttl_secs)
    }

    /// The last error read for a participant, if their last read failed.
    pub(crate) fn last_error(&self, participant: &ParticipantId) -> Option<SourceError> {
        self.lock()
            .entries
            .get(participant)
            .and_then(|e| e.result.as_ref().err().cloned())
    }

    /// The busy time of each target over `window` (clipped to it), from the
    /// cache when fresh, else fetched over `fetch_window` (which contains
    /// `window`), one fetch per participant across concurrent callers.
    /// `on_fetched` sees every fresh answer (to update statuses).
    pub(crate) async fn get(
        &self,
        targets: &[Target],
        window: Interval,
        fetch_window: Interval,
        now: i64,
        force: bool,
        on_fetched: OnFetched<'_>,
    ) -> (
        HashMap<ParticipantId, Result<FreeBusy, SourceError>>,
        FetchCounts,
    ) {
        let mut answers = HashMap::with_capacity(targets.len());
        let mut counts = FetchCounts::default();
        let mut force = force;
        for _round in 0..3 {
            let mut mine: Vec<&Target> = Vec::new();
            let mut waits: Vec<watch::Receiver<bool>> = Vec::new();
            let mut senders = Vec::new();
            {
                let mut state = self.lock();
                for t in targets {
                    if answers.contains_key(&t.participant) {
                        continue;
                    }
                    if !force
                        && let Some(entry) = state.entries.get(&t.participant)
                        && self.usable(entry, t, window, now)
                    {
                        answers.insert(t.participant.clone(), clip(&entry.result, window));
                        continue;
                    }
                    if let Some(rx) = state.flights.get(&t.participant) {
                        waits.push(rx.clone());
                    } else if !mine.iter().any(|m| m.participant == t.participant) {
                        let (tx, rx) = watch::channel(false);
                        state.flights.insert(t.participant.clone(), rx);
                        senders.push(tx);
                        mine.push(t);
                    }
                }
            }
            force = false;
            if mine.is_empty() && waits.is_empty() {
                break;
            }
            if !mine.is_empty() {
                let guard = FlightGuard {
                    cache: self,
                    participants: mine.iter().map(|t| t.participant.clone()).collect(),
                    _senders: senders,
                };
                // Dated now, not when the request began: in a later round
                // it has waited for another request's flight.
                let fetched_at = self.clock.now().as_second();
                let fetched = fetch(&mine, fetch_window).await;
                let mut state = self.lock();
                for (t, result) in mine.iter().zip(fetched) {
                    on_fetched(t, &result);
                    counts.fetched += 1;
                    counts.failed += usize::from(result.is_err());
                    answers.insert(t.participant.clone(), clip(&result, window));
                    state.entries.insert(
                        t.participant.clone(),
                        Entry {
                            key: t.key,
                            account: t.account.clone(),
                            window: fetch_window,
                            fetched_at,
                            result,
                        },
                    );
                }
                drop(state);
                drop(guard);
            }
            for mut rx in waits {
                // Err: the fetching request was dropped; look again.
                let _ = rx.wait_for(|done| *done).await;
            }
        }
        // Anyone still unanswered (three rounds of others' flights not
        // covering this window): say so rather than guess.
        for t in targets {
            answers.entry(t.participant.clone()).or_insert_with(|| {
                Err(SourceError::Unavailable {
                    message: "busy time could not be read in time".to_owned(),
                    retry_after: None,
                })
            });
        }
        (answers, counts)
    }
}

pub(crate) fn clip(
    result: &Result<FreeBusy, SourceError>,
    window: Interval,
) -> Result<FreeBusy, SourceError> {
    result
        .as_ref()
        .map(|fb| fb.clip(window))
        .map_err(Clone::clone)
}

/// Fetches targets grouped by source key, the groups concurrently; each
/// group goes through [`FreeBusySourceExt::query`], which splits it by the
/// source's `Capabilities` (accounts per request, window length).
pub(crate) async fn fetch(
    targets: &[&Target],
    window: Interval,
) -> Vec<Result<FreeBusy, SourceError>> {
    let mut groups: Vec<(SourceKey, Vec<usize>)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| *k == t.key) {
            Some((_, members)) => members.push(i),
            None => groups.push((t.key, vec![i])),
        }
    }
    let futures = groups.iter().map(|(_, members)| {
        let source = Arc::clone(&targets[members[0]].source);
        let accounts: Vec<AccountId> = members
            .iter()
            .map(|&i| targets[i].account.clone())
            .collect();
        async move { source.query(window, &accounts).await }
    });
    let responses = futures_util::future::join_all(futures).await;
    let mut out: Vec<Option<Result<FreeBusy, SourceError>>> = vec![None; targets.len()];
    for ((_, members), response) in groups.iter().zip(responses) {
        for (&i, answer) in members.iter().zip(response.accounts) {
            out[i] = Some(answer.result);
        }
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(SourceError::InvalidResponse {
                    message: "the source did not answer for this account".to_owned(),
                })
            })
        })
        .collect()
}
