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

#[derive(Debug)]
pub(crate) struct Cache {
    state: Mutex<State>,
    ttl_secs: i64,
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

/// Errors are kept this long at most, so a failing provider is not asked
/// again by every request, yet recovers soon.
const ERROR_TTL_SECS: i64 = 60;

impl Cache {
    pub(crate) fn new(ttl_secs: i64) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ttl_secs: ttl_secs.max(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn usable(&self, entry: &Entry, target: &Target, window: Interval, now: i64) -> bool {
        let ttl = match &entry.result {
            Ok(_) => self.ttl_secs,
            Err(e) => {
                let asked = e
                    .retry_after()
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                self.ttl_secs.min(ERROR_TTL_SECS.max(asked))
            }
        };
        entry.key == target.key
            && entry.account == target.account
            && now.saturating_sub(entry.fetched_at) < ttl
            && entry.window.contains_interval(&window)
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
        on_fetched: &(dyn Fn(&Target, &Result<FreeBusy, SourceError>) + Sync),
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
                            fetched_at: now,
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

fn clip(result: &Result<FreeBusy, SourceError>, window: Interval) -> Result<FreeBusy, SourceError> {
    result
        .as_ref()
        .map(|fb| fb.clip(window))
        .map_err(Clone::clone)
}

/// Fetches targets grouped by source key, the groups concurrently; each
/// group goes through [`FreeBusySourceExt::query`], which splits it by the
/// source's `Capabilities` (accounts per request, window length).
async fn fetch(targets: &[&Target], window: Interval) -> Vec<Result<FreeBusy, SourceError>> {
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
