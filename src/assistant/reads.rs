//! Reading busy times: which source answers for whom, the fetch window,
//! statuses updated from fresh answers, and a partner's availability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use availability::{AccountId, FreeBusy, Interval, KindSet, SourceError, SourceErrorKind};
use serde::Serialize;

use crate::busy::{BusyQuery, FetchCounts, SourceKey, Target};
use crate::error::AssistantError;
use crate::model::{Actor, Connection, ParticipantId, ProgramId};

use super::Assistant;
use super::access::{Act, REASON_NOT_CONNECTED, reason_code};

/// A participant's unavailable times as their partner sees them: times
/// only, every blocking kind merged into "Unavailable".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Availability {
    /// Whose.
    pub participant: ParticipantId,
    /// The window asked about.
    pub window: Interval,
    /// Whether their calendar could be read; when `false`,
    /// [`unavailable`](Self::unavailable) is empty and means nothing.
    pub known: bool,
    /// The unavailable intervals, sorted, disjoint, inside the window.
    pub unavailable: Vec<Interval>,
    /// Why the times are unknown, if they are.
    pub reason: Option<String>,
}

impl Assistant {
    pub(crate) async fn target(&self, participant: &ParticipantId) -> Option<Target> {
        let (connection, email) = {
            let records = self.records();
            let (p, _) = records.participants.get(participant)?;
            (
                records.connections.get(participant).cloned(),
                p.email.clone(),
            )
        };
        if let Some(c) = connection {
            if c.needs_reconnect.is_some() {
                return None;
            }
            let source = self.inner.sources.get(&c.provider)?;
            return Some(Target {
                participant: participant.clone(),
                key: SourceKey::Personal(c.provider),
                account: AccountId::new(c.account),
                source: Arc::clone(source),
            });
        }
        let org = self.inner.org.as_ref()?;
        let kind = org.resolve(&email).await?;
        let source = org.source(kind).await?;
        Some(Target {
            participant: participant.clone(),
            key: SourceKey::Organisation(kind),
            account: AccountId::new(email),
            source,
        })
    }

    /// The window a fetch reads: the request's, widened to the lookahead
    /// from the start of today (UTC) so nearby requests hit the cache.
    pub(crate) fn fetch_window(&self, window: Interval) -> Interval {
        fetch_window(window, self.now_secs(), self.inner.lookahead_secs)
    }

    /// Busy times (unclipped kinds) for participants over a window: from
    /// the cache or one batched fetch per source. `None` for participants
    /// without a usable connection; an error for those whose read failed.
    pub(crate) async fn busy(
        &self,
        participants: &[ParticipantId],
        window: Interval,
        force: bool,
        wait: bool,
    ) -> (
        HashMap<ParticipantId, Option<Result<FreeBusy, SourceError>>>,
        FetchCounts,
    ) {
        self.busy_besides(participants, window, force, wait, None)
            .await
    }

    /// [`busy`](Self::busy), with the booked meetings of the store (but
    /// `besides`, a booking being moved) added as busy to every answer:
    /// a booking is busy for its attendees at once, on every instance,
    /// whatever their calendar says yet. If the bookings cannot be read,
    /// every answer is an error (never a lost busy time).
    pub(crate) async fn busy_besides(
        &self,
        participants: &[ParticipantId],
        window: Interval,
        force: bool,
        wait: bool,
        besides: Option<&crate::model::BookingId>,
    ) -> (
        HashMap<ParticipantId, Option<Result<FreeBusy, SourceError>>>,
        FetchCounts,
    ) {
        self.note_demand(participants).await;
        let (mut out, counts) = self.busy_read(participants, window, force, wait).await;
        match self.inner.store.booked_between(window).await {
            Ok(booked) => {
                for (p, id, interval) in booked {
                    if besides == Some(&id) {
                        continue;
                    }
                    if let Some(Some(Ok(fb))) = out.get_mut(&p) {
                        fb.add(availability::BusyKind::Busy, interval);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "booked meetings could not be read");
                for answer in out.values_mut() {
                    if let Some(r @ Ok(_)) = answer {
                        *r = Err(SourceError::Unavailable {
                            message: "booked meetings could not be read".to_owned(),
                            retry_after: None,
                        });
                    }
                }
            }
        }
        (out, counts)
    }

    pub(crate) async fn busy_read(
        &self,
        participants: &[ParticipantId],
        window: Interval,
        force: bool,
        wait: bool,
    ) -> (
        HashMap<ParticipantId, Option<Result<FreeBusy, SourceError>>>,
        FetchCounts,
    ) {
        let mut out = HashMap::with_capacity(participants.len());
        let mut targets = Vec::with_capacity(participants.len());
        for p in participants {
            match self.target(p).await {
                Some(t) => targets.push(t),
                None => {
                    out.insert(p.clone(), None);
                }
            }
        }
        if targets.is_empty() {
            return (out, FetchCounts::default());
        }
        let fetch_window = self.fetch_window(window);
        let changed = Mutex::new(Vec::new());
        let on_fetched = |t: &Target, result: &Result<FreeBusy, SourceError>| {
            if let Some(c) = self.note_result(t, result) {
                changed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(c);
            }
        };
        let (answers, counts) = self
            .inner
            .cache
            .get(BusyQuery {
                targets: &targets,
                window,
                fetch_window,
                force,
                wait,
                on_fetched: &on_fetched,
            })
            .await;
        let changed = changed.into_inner().unwrap_or_else(PoisonError::into_inner);
        for c in changed {
            if let Err(e) = self.inner.store.put_connection(&c).await {
                tracing::warn!(participant = %c.participant, error = %e, "could not store the connection status");
            }
        }
        for (p, r) in answers {
            out.insert(p, Some(r));
        }
        (out, counts)
    }

    /// Records a fresh answer: a refused credential marks the connection
    /// as needing reconnecting; a success clears that mark. Returns the
    /// connection when its mark changed (to be stored).
    pub(crate) fn note_result(
        &self,
        t: &Target,
        result: &Result<FreeBusy, SourceError>,
    ) -> Option<Connection> {
        let SourceKey::Personal(_) = t.key else {
            if let Err(e) = result {
                tracing::warn!(participant = %t.participant, kind = %e.kind(), error = %e, "organisation source failed");
            }
            return None;
        };
        let mut records = self.records_mut();
        let c = records.connections.get_mut(&t.participant)?;
        let before = c.needs_reconnect.clone();
        match result {
            // Refused credentials, and on the participant's own token an
            // account that is gone (not found) or no longer shared
            // (forbidden): only reconnecting helps, so say so rather than
            // "could not be read just now" for ever.
            Err(e)
                if e.needs_reconnect()
                    || matches!(
                        e.kind(),
                        SourceErrorKind::NotFound | SourceErrorKind::Forbidden
                    ) =>
            {
                tracing::warn!(participant = %t.participant, provider = %c.provider, error = %e, "calendar needs reconnecting");
                c.needs_reconnect = Some(e.to_string());
            }
            Err(e) => {
                tracing::warn!(participant = %t.participant, provider = %c.provider, kind = %e.kind(), error = %e, "calendar could not be read");
            }
            Ok(_) => c.needs_reconnect = None,
        }
        (before != c.needs_reconnect).then(|| c.clone())
    }

    /// The blocking kinds of the given programs, merged.
    pub(crate) fn blocking(&self, programs: &[ProgramId]) -> KindSet {
        let records = self.records();
        let mut kinds = KindSet::EMPTY;
        for program in programs {
            if let Some((_, policy)) = records.programs.get(program) {
                for k in policy.blocking().iter() {
                    kinds.insert(k);
                }
            }
        }
        kinds
    }

    /// A partner's unavailable times in `window`: every interval the
    /// linking programs' blocking kinds cover, merged into "Unavailable",
    /// times only. Who may: the participant, their current partners and
    /// group members, their programs' administrators
    /// ([`Relation`](crate::Relation)).
    /// Why a calendar could not be read is the provider's words to the
    /// participant and administrators, a fixed reason code to others.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for anyone else,
    /// [`AssistantError::SchedulingDisabled`] when every linking program
    /// has the switch off, unknown ids.
    pub async fn availability(
        &self,
        actor: &Actor,
        target: &ParticipantId,
        window: Interval,
    ) -> Result<Availability, AssistantError> {
        self.sync().await;
        let (relation, programs) = self.allow(actor, Act::Schedule, target)?;
        let programs = self.readable_programs(programs)?;
        let detail = relation.may(Act::SeeDetail);
        let blocking = self.blocking(&programs);
        let (mut busy, _) = self
            .busy(std::slice::from_ref(target), window, false, true)
            .await;
        Ok(match busy.remove(target).flatten() {
            Some(Ok(fb)) => Availability {
                participant: target.clone(),
                window,
                known: true,
                unavailable: fb.unavailable(blocking).clip(window).into_vec(),
                reason: None,
            },
            Some(Err(e)) => Availability {
                participant: target.clone(),
                window,
                known: false,
                unavailable: Vec::new(),
                reason: Some(if detail {
                    e.to_string()
                } else {
                    reason_code(&e).to_owned()
                }),
            },
            None => Availability {
                participant: target.clone(),
                window,
                known: false,
                unavailable: Vec::new(),
                reason: Some(if detail {
                    self.status(target).await.text()
                } else {
                    REASON_NOT_CONNECTED.to_owned()
                }),
            },
        })
    }
}

/// `window` widened to `[start of today (UTC), today + lookahead)` at
/// `now`: never narrower than asked.
fn fetch_window(window: Interval, now: i64, lookahead_secs: i64) -> Interval {
    let today = now - now.rem_euclid(86_400);
    let start = window.start().min(today);
    let end = window.end().max(today.saturating_add(lookahead_secs));
    Interval::new(start, end).unwrap_or(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn iv(a: i64, b: i64) -> Interval {
        Interval::new(a, b).unwrap()
    }

    #[test]
    fn a_fetch_reads_from_the_start_of_today_to_the_lookahead() {
        let now = 10 * DAY + 3_600 * 15; // 15:00 UTC on day 10
        let asked = iv(11 * DAY, 12 * DAY);
        assert_eq!(fetch_window(asked, now, 28 * DAY), iv(10 * DAY, 38 * DAY));
    }

    #[test]
    fn a_fetch_never_reads_less_than_asked() {
        let now = 10 * DAY;
        // Before today, and past the lookahead: both ends kept.
        let asked = iv(2 * DAY, 90 * DAY);
        assert_eq!(fetch_window(asked, now, 28 * DAY), asked);
        // A negative clock (before 1970) rounds down to its day too.
        assert_eq!(fetch_window(iv(-10, 10), -1, DAY), iv(-DAY, 10));
    }

    #[test]
    fn a_lookahead_past_the_last_instant_falls_back_to_the_asked_window() {
        // Today plus `i64::MAX` seconds is no instant: the asked window is
        // read as it is (never less than asked).
        let asked = iv(0, 10);
        assert_eq!(fetch_window(asked, 5 * DAY, i64::MAX), asked);
    }
}
