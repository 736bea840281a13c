//! Single flight: one fetch per participant in this process, however many
//! concurrent requests want them. Both cache backends use it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::Target;
use crate::model::ParticipantId;

/// The participants being fetched in this process right now, each with a
/// receiver that wakes when their fetch ends.
#[derive(Debug, Default)]
pub(crate) struct Flights(Mutex<HashMap<ParticipantId, watch::Receiver<bool>>>);

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<ParticipantId, watch::Receiver<bool>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Splits `targets` into those this caller fetches (a flight is
    /// registered for each, once per participant) and the flights of
    /// others to wait for. `answered` is asked first, under the lock, for
    /// each target: one it answers (from a fresh cache entry) is neither
    /// fetched nor waited for. A backend whose fetches store their result
    /// *before* their flight ends can thus never miss both.
    pub(crate) fn board<'t>(
        &self,
        targets: impl IntoIterator<Item = &'t Target>,
        mut answered: impl FnMut(&'t Target) -> bool,
    ) -> Boarding<'_, 't> {
        let mut boarding = Boarding {
            flights: self,
            mine: Vec::new(),
            waits: Vec::new(),
            senders: Vec::new(),
        };
        let mut map = self.lock();
        for t in targets {
            if answered(t) || boarding.mine.iter().any(|m| m.participant == t.participant) {
                continue;
            }
            if let Some(rx) = map.get(&t.participant) {
                boarding.waits.push(rx.clone());
            } else {
                let (tx, rx) = watch::channel(false);
                map.insert(t.participant.clone(), rx);
                boarding.senders.push(tx);
                boarding.mine.push(t);
            }
        }
        boarding
    }
}

/// One caller's share of the flights: the targets it fetches, and the
/// others' flights it then waits for. Dropping it (done, failed or
/// cancelled) ends its flights and wakes whoever waits on them.
pub(crate) struct Boarding<'a, 't> {
    flights: &'a Flights,
    /// The targets this caller fetches.
    pub(crate) mine: Vec<&'t Target>,
    waits: Vec<watch::Receiver<bool>>,
    senders: Vec<watch::Sender<bool>>,
}

impl Boarding<'_, '_> {
    /// Whether there is nothing to fetch and nobody to wait for.
    pub(crate) fn is_empty(&self) -> bool {
        self.mine.is_empty() && self.waits.is_empty()
    }

    /// Ends this caller's flights, then waits for the others' flights it
    /// found (each ends when its fetch is stored, fails or is dropped).
    pub(crate) async fn land(mut self) {
        let waits = std::mem::take(&mut self.waits);
        drop(self);
        for mut rx in waits {
            // Err: the fetching request was dropped; the caller looks again.
            let _ = rx.wait_for(|done| *done).await;
        }
    }
}

impl Drop for Boarding<'_, '_> {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        for t in &self.mine {
            map.remove(&t.participant);
        }
        // Dropping the senders (after this) wakes every waiter.
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use availability::{AccountId, MemorySource};

    use super::*;
    use crate::busy::SourceKey;

    fn target(id: &str) -> Target {
        Target {
            participant: ParticipantId::new(id),
            key: SourceKey::Personal(policy_rules::Provider::Icloud),
            account: AccountId::new(format!("{id}@example.org")),
            source: Arc::new(MemorySource::new()),
        }
    }

    #[tokio::test]
    async fn a_second_caller_waits_for_the_first_and_is_woken_when_it_lands() {
        let flights = Flights::default();
        let (a, b) = (target("a"), target("b"));
        let first = flights.board([&a, &a, &b], |_| false);
        assert_eq!(first.mine.len(), 2, "once per participant");
        let second = flights.board([&a], |_| false);
        assert!(second.mine.is_empty());
        assert!(!second.is_empty(), "it waits for the first");
        drop(first);
        // The first caller's flights ended: `second` returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), second.land())
            .await
            .unwrap();
        let third = flights.board([&a], |_| false);
        assert_eq!(third.mine.len(), 1, "a landed flight is gone");
    }

    #[test]
    fn an_answered_target_is_neither_fetched_nor_waited_for() {
        let flights = Flights::default();
        let a = target("a");
        let _first = flights.board([&a], |_| false);
        let second = flights.board([&a], |_| true);
        assert!(second.is_empty());
    }
}
