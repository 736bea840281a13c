//! Keeping fresh: background refresh of busy times, and reloading what
//! other instances on a shared store wrote.

use std::time::Duration;

use availability::Interval;

use crate::busy::FetchCounts;
use crate::error::AssistantError;
use crate::model::ParticipantId;

use super::{Assistant, load_records};

impl Assistant {
    /// Refreshes every connected participant whose cached busy times are
    /// older than the TTL (all of them with `force`), over the lookahead
    /// window, batched per source. Returns how many were fetched and
    /// failed.
    pub async fn refresh(&self, force: bool) -> FetchCounts {
        self.sync().await;
        let now = self.now_secs();
        let ids: Vec<ParticipantId> = self.records().participants.keys().cloned().collect();
        let stale = if force {
            ids
        } else {
            self.inner.cache.stale(ids).await
        };
        let today = now - now.rem_euclid(86_400);
        let Ok(window) = Interval::new(today, today.saturating_add(self.inner.lookahead_secs))
        else {
            return FetchCounts::default();
        };
        // Participants another instance is refreshing are left to it.
        self.busy_read(&stale, window, force, false).await.1
    }

    /// Reloads programs, participants, pairs, groups and connections if
    /// another instance sharing the database changed them since this one
    /// last read them (a one-row read when nothing changed). The reading
    /// methods call it themselves on a PostgreSQL store; call it after
    /// writing to the database yourself.
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
        // Concurrent callers wait for one reload rather than each loading
        // every record; they then find it done.
        let reloading = self.inner.reloading.lock().await;
        let revision = self.inner.store.revision().await?;
        let changed = revision != self.inner.revision.load(Ordering::Acquire);
        if changed {
            let records = load_records(&self.inner.store, &self.inner.org_policy).await?;
            *self.records_mut() = records;
            self.publish_zones();
        }
        let integrations_changed =
            if changed || self.inner.integrations_pending.load(Ordering::Acquire) {
                self.reload_integrations().await
            } else {
                false
            };
        self.inner.revision.store(revision, Ordering::Release);
        drop(reloading);
        if changed || integrations_changed {
            // Covered participants added elsewhere are recorded as
            // connected through their integration here too.
            self.sync_organisation().await;
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
    /// `every`, [`refresh`](Self::refresh) of the stale participants.
    /// Dropping the handle stops it.
    pub fn spawn_refresher(&self, every: Duration) -> Refresher {
        let me = self.clone();
        let handle = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let counts = me.refresh(false).await;
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

/// The background refresher; dropping it stops the task.
#[derive(Debug)]
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}
