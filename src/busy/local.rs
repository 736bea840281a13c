//! [`LocalCache`]: busy times in this process's memory (a SQLite store:
//! one instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use availability::{AccountId, Clock, FreeBusy, Interval, SourceError};

use super::flight::Flights;
use super::{
    Answers, BusyCache, BusyQuery, FetchCounts, SourceKey, Target, clip, fetch, not_in_time,
    usable_for,
};
use crate::model::ParticipantId;

/// A participant's last answer.
#[derive(Clone, Debug)]
struct Entry {
    key: SourceKey,
    account: AccountId,
    window: Interval,
    fetched_at: i64,
    result: Result<FreeBusy, SourceError>,
}

/// Busy times in this process's memory, for a TTL.
pub(crate) struct LocalCache {
    entries: Mutex<HashMap<ParticipantId, Entry>>,
    flights: Flights,
    ttl_secs: i64,
    /// Dates each fetch when it starts (a request may have waited for
    /// another's flight first), and each read.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl LocalCache {
    /// A cache keeping answers `ttl_secs` seconds on `clock`.
    pub(crate) fn new(ttl_secs: i64, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            flights: Flights::default(),
            ttl_secs: ttl_secs.max(0),
            clock,
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<ParticipantId, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
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
}

#[async_trait]
impl BusyCache for LocalCache {
    async fn get(&self, query: BusyQuery<'_>) -> (Answers, FetchCounts) {
        let (targets, window, fetch_window) = (query.targets, query.window, query.fetch_window);
        let mut force = query.force;
        let now = self.clock.now().as_second();
        let mut answers = HashMap::with_capacity(targets.len());
        let mut counts = FetchCounts::default();
        for _round in 0..3 {
            // Fresh entries are looked up under the flights' lock: a fetch
            // stores its entry before its flight ends, so a caller finds
            // one or the other.
            let boarding = self.flights.board(targets, |t| {
                if answers.contains_key(&t.participant) {
                    return true;
                }
                if !force
                    && let Some(entry) = self.entries().get(&t.participant)
                    && self.usable(entry, t, window, now)
                {
                    answers.insert(t.participant.clone(), clip(&entry.result, window));
                    return true;
                }
                false
            });
            force = false;
            if boarding.is_empty() {
                break;
            }
            if !boarding.mine.is_empty() {
                // Dated now, not when the request began: in a later round
                // it has waited for another request's flight.
                let fetched_at = self.clock.now().as_second();
                let fetched = fetch(&boarding.mine, fetch_window).await;
                let mut entries = self.entries();
                for (t, result) in boarding.mine.iter().zip(fetched) {
                    (query.on_fetched)(t, &result);
                    counts.fetched += 1;
                    counts.failed += usize::from(result.is_err());
                    answers.insert(t.participant.clone(), clip(&result, window));
                    entries.insert(
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
            }
            boarding.land().await;
        }
        // Anyone still unanswered (three rounds of others' flights not
        // covering this window): say so rather than guess.
        for t in targets {
            answers
                .entry(t.participant.clone())
                .or_insert_with(|| Err(not_in_time("busy time could not be read in time")));
        }
        (answers, counts)
    }

    async fn forget(&self, participant: &ParticipantId) {
        self.entries().remove(participant);
    }

    async fn stale(&self, participants: Vec<ParticipantId>) -> Vec<ParticipantId> {
        let now = self.clock.now().as_second();
        let entries = self.entries();
        let mut due: Vec<(i64, ParticipantId)> = participants
            .into_iter()
            .filter_map(|p| match entries.get(&p) {
                None => Some((i64::MIN, p)),
                Some(e) if now.saturating_sub(e.fetched_at) >= self.ttl_secs => {
                    Some((e.fetched_at, p))
                }
                Some(_) => None,
            })
            .collect();
        // Oldest first (never read first); ties keep the caller's order.
        due.sort_by_key(|(fetched, _)| *fetched);
        due.into_iter().map(|(_, p)| p).collect()
    }

    async fn last_error(&self, participant: &ParticipantId) -> Option<SourceError> {
        self.entries()
            .get(participant)
            .and_then(|e| e.result.as_ref().err().cloned())
    }

    async fn last_read(&self, participant: &ParticipantId) -> Option<i64> {
        self.entries()
            .get(participant)
            .filter(|e| e.result.is_ok())
            .map(|e| e.fetched_at)
    }
}
