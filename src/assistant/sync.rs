//! Keeping fresh: background refresh of busy times, and reloading what
//! other instances on a shared store wrote.

use std::sync::PoisonError;
use std::time::Duration;

use availability::Interval;

use crate::busy::FetchCounts;
use crate::error::AssistantError;
use crate::model::ParticipantId;

use super::apply::Applied;
use super::builder::secs;
use super::{Assistant, load_records};

impl Assistant {
    /// Refreshes the working set's participants whose cached busy times
    /// are older than the TTL: those someone asked for (read, polled,
    /// booked with) within [`working_set`](crate::AssistantBuilder::working_set)
    /// on any instance; with `force`, every participant, fresh or not.
    /// Reads are batched per source and paced by the providers' quotas.
    /// Returns how many were fetched and failed.
    pub async fn refresh(&self, force: bool) -> FetchCounts {
        self.refresh_at_most(force, None).await
    }

    /// One tick of the background refresher that runs every `every`: as
    /// [`refresh`](Self::refresh), but at most twice the even share of
    /// the working set a tick gets over the TTL (`2 × size × every / TTL`,
    /// at least one), most recently asked for first. Refreshes so spread
    /// keep the working set fresh without bursts: after a cold start the
    /// backlog clears within half a TTL, and each participant then comes
    /// due a TTL after their last read.
    pub async fn refresh_tick(&self, every: Duration) -> FetchCounts {
        self.refresh_at_most(false, Some(every)).await
    }

    async fn refresh_at_most(&self, force: bool, tick: Option<Duration>) -> FetchCounts {
        self.sync().await;
        let now = self.now_secs();
        let ids: Vec<ParticipantId> = if force {
            self.records().participants.keys().cloned().collect()
        } else {
            self.working_set(now).await
        };
        let size = ids.len();
        let mut due = if force {
            ids
        } else {
            self.inner.cache.stale(ids).await
        };
        if let Some(every) = tick {
            let ttl = self.inner.ttl_secs.max(1);
            let share = i64::try_from(size)
                .unwrap_or(i64::MAX)
                .saturating_mul(2)
                .saturating_mul(secs(every).max(1))
                .div_euclid(ttl)
                .max(1);
            due.truncate(usize::try_from(share).unwrap_or(usize::MAX));
        }
        let today = now - now.rem_euclid(86_400);
        let Ok(window) = Interval::new(today, today.saturating_add(self.inner.lookahead_secs))
        else {
            return FetchCounts::default();
        };
        // Participants another instance is refreshing are left to it.
        self.busy_read(&due, window, force, false).await.1
    }

    /// The working set at `now`: the current participants asked for within
    /// the window, most recently first (an unreadable store gives none:
    /// they are read when asked for).
    async fn working_set(&self, now: i64) -> Vec<ParticipantId> {
        let since = now.saturating_sub(self.inner.working_set_secs);
        let every = demand_every(self.inner.working_set_secs);
        self.inner
            .demand
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, at| now.saturating_sub(*at) < every);
        match self.inner.store.demanded_since(since).await {
            Ok(rows) => {
                let records = self.records();
                rows.into_iter()
                    .map(|(p, _)| p)
                    .filter(|p| records.participants.contains_key(p))
                    .collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the refresher's working set");
                Vec::new()
            }
        }
    }

    /// Records `participants` as asked for now (in the store, for every
    /// instance's refresher), at most once per [`demand_every`] each.
    pub(crate) async fn note_demand(&self, participants: &[ParticipantId]) {
        let now = self.now_secs();
        let every = demand_every(self.inner.working_set_secs);
        let due: Vec<String> = {
            let mut marks = self
                .inner
                .demand
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            participants
                .iter()
                .filter(|p| {
                    let due = marks
                        .get(*p)
                        .is_none_or(|at| now.saturating_sub(*at) >= every);
                    if due {
                        marks.insert((*p).clone(), now);
                    }
                    due
                })
                .map(|p| p.as_str().to_owned())
                .collect()
        };
        if !due.is_empty()
            && let Err(e) = self.inner.store.put_demand(&due, now).await
        {
            tracing::warn!(error = %e, "could not record who was asked for");
        }
    }

    /// Applies what another instance sharing the database wrote since this
    /// one last read the records (a one-row read when nothing changed):
    /// the change log names the records written, and only those are read
    /// back; when it cannot (this instance is far behind, or a bulk write
    /// changed thousands of rows) every record is loaded instead. The
    /// reading methods call it themselves on a PostgreSQL store; call it
    /// after writing to the database yourself.
    ///
    /// # Errors
    /// A storage failure, or a stored program whose policy no longer
    /// resolves (the records loaded before stay in use).
    pub async fn reload(&self) -> Result<bool, AssistantError> {
        use std::sync::atomic::Ordering;
        let revision = self.inner.store.revision().await?;
        if revision == self.inner.revision.load(Ordering::Acquire)
            && !self.inner.integrations_pending.load(Ordering::Acquire)
        {
            return Ok(false);
        }
        // Concurrent callers wait for one reload rather than each reading
        // the same changes; they then find it done.
        let reloading = self.inner.reloading.lock().await;
        // Another caller may have applied it while this one waited; the
        // revision read above bounds what is applied now.
        let loaded = self.inner.revision.load(Ordering::Acquire);
        let (revision, applied) = match self
            .inner
            .store
            .changes_between(loaded, revision.max(loaded))
            .await?
        {
            Some(set) if set.changes.is_empty() && set.revision == loaded => (loaded, None),
            Some(set) => (set.revision, Some(self.apply_changes(&set.changes).await?)),
            None => {
                let revision = self.inner.store.revision().await?;
                let records = load_records(&self.inner.store, &self.inner.org_policy).await?;
                *self.records_mut() = records;
                self.publish_zones();
                (
                    revision,
                    Some(Applied {
                        integrations: true,
                        participants: Vec::new(),
                        everything: true,
                    }),
                )
            }
        };
        let changed = applied.is_some();
        let full = applied.as_ref().is_some_and(|a| a.everything);
        let integrations_changed = if applied.as_ref().is_some_and(|a| a.integrations)
            || self.inner.integrations_pending.load(Ordering::Acquire)
        {
            self.reload_integrations().await
        } else {
            false
        };
        self.inner.revision.store(revision, Ordering::Release);
        drop(reloading);
        // Covered participants added elsewhere are recorded as connected
        // through their integration here too: all of them after a full load
        // or an integration's change, else those the changes named.
        if integrations_changed || (changed && full) {
            self.sync_organisation().await;
        } else if let Some(applied) = &applied {
            self.sync_organisation_of(&applied.participants).await;
        }
        Ok(changed)
    }

    /// On a store shared by instances, [`reload`](Self::reload) what
    /// others changed; a failure keeps the loaded records (and is logged).
    pub(crate) async fn sync(&self) {
        if self.inner.store.is_shared()
            && let Err(e) = self.reload().await
        {
            tracing::warn!(error = %e, "could not reload the records another instance changed");
        }
    }

    /// Starts a background refresher on the current tokio runtime: every
    /// `every`, a [`refresh_tick`](Self::refresh_tick) (the working set's
    /// stale participants, spread over the TTL). Dropping the handle stops
    /// it.
    pub fn spawn_refresher(&self, every: Duration) -> Refresher {
        let me = self.clone();
        let handle = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let counts = me.refresh_tick(every).await;
                if counts.fetched > 0 {
                    tracing::debug!(
                        fetched = counts.fetched,
                        failed = counts.failed,
                        "refreshed busy times"
                    );
                }
            }
        });
        Refresher(handle)
    }
}

/// How often a participant's demand mark is rewritten: a 24th of the
/// working set (an hour of the default day), at least a minute, so a
/// participant read many times costs one write per period, and the
/// working set stays within a 24th of its length.
pub(crate) fn demand_every(working_set_secs: i64) -> i64 {
    (working_set_secs / 24).max(60)
}

/// The background refresher; dropping it stops the task.
#[derive(Debug)]
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}
