//! Stored polls: create one from a ranked proposal, list the polls waiting
//! for someone, view one (answers beside live availability), answer,
//! close, cancel. Booking a poll's slot is `booking.rs`.
//!
//! Answers and availability are different facts, kept apart: answers are
//! rows in the store (`store/polls.rs`), availability is read again from
//! the calendars (through the cache) each time a poll is viewed.

use std::collections::HashMap;

use availability::{Interval, IntervalSet};
use serde::Serialize;

use crate::error::AssistantError;
use crate::model::{
    Actor, BookingId, Creator, GroupId, ParticipantId, PollId, PollStatus, ProgramId, Vote,
};
use crate::store::{StoredPoll, StoredSlot};

use super::access::Standing;
use super::slots::buffers;
use super::{Assistant, Invitees, SlotRequest};

/// What a new poll says: its title and description (shown in the
/// invitation when it is booked: the creator's text, never anything read
/// from a calendar) and an optional deadline for answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollOptions {
    /// The meeting's title.
    pub title: String,
    /// The meeting's description.
    pub description: String,
    /// After this instant no answers are taken (the poll reads as closed).
    pub deadline: Option<jiff::Timestamp>,
}

impl PollOptions {
    /// A poll titled `title`, no description, no deadline.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// With a description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// With a deadline for answers.
    #[must_use]
    pub fn deadline(mut self, deadline: jiff::Timestamp) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// How many invitees answered a slot what.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct VoteCounts {
    /// Answered yes.
    pub yes: usize,
    /// Answered "if need be".
    pub if_need_be: usize,
    /// Answered no.
    pub no: usize,
    /// Did not answer this slot.
    pub unanswered: usize,
}

/// Who is free for a slot now, from the connected calendars (read again
/// on every view, within the cache's TTL): a fact apart from the answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct SlotAvailability {
    /// Free for the whole slot.
    pub free: Vec<ParticipantId>,
    /// Something blocks it (or another booked meeting).
    pub unavailable: Vec<ParticipantId>,
    /// No calendar, or it could not be read: never counted as free.
    pub unknown: Vec<ParticipantId>,
}

/// One proposed slot of a poll as the viewer may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct PollSlot {
    /// Its position (what answers and bookings name).
    pub index: usize,
    /// When.
    pub interval: Interval,
    /// The answers, counted.
    pub counts: VoteCounts,
    /// Each invitee's answer (its manager only; others see counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<(ParticipantId, Vote)>>,
    /// Who is free now (its manager only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<SlotAvailability>,
    /// The viewer's own answer, if they are invited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mine: Option<Vote>,
}

/// A stored poll as the viewer may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema), schema(as = Poll))]
pub struct PollView {
    /// Its id.
    pub id: PollId,
    /// The program whose policy applies.
    pub program: ProgramId,
    /// The group it was made for, if one.
    pub group: Option<GroupId>,
    /// Who made it.
    pub creator: Creator,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// The meeting length, in minutes.
    pub duration_minutes: i64,
    /// No answers after this instant (Unix seconds), if set.
    pub deadline: Option<i64>,
    /// Where it stands (an open poll past its deadline reads as closed).
    pub status: PollStatus,
    /// Its booking, once booked.
    pub booking: Option<BookingId>,
    /// Its invitees.
    pub invitees: Vec<ParticipantId>,
    /// How many of them have connected a calendar (its manager only: 0
    /// for others).
    pub connected: usize,
    /// "k of n invitees have connected a calendar" (its manager only).
    pub connected_text: Option<String>,
    /// Whether the viewer manages it (its creator or an administrator of
    /// its program): who sees each answer and the availability, and books.
    pub manages: bool,
    /// The slots, in the order proposed (most free first).
    pub slots: Vec<PollSlot>,
}

/// A poll in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct PollSummary {
    /// Its id.
    pub id: PollId,
    /// Its title.
    pub title: String,
    /// Where it stands.
    pub status: PollStatus,
    /// Its deadline, if any (Unix seconds).
    pub deadline: Option<i64>,
    /// Whether the viewer manages it.
    pub manages: bool,
    /// Whether the viewer is invited.
    pub invited: bool,
    /// Open, the viewer invited, and not yet answered by them: waiting for
    /// them.
    pub waiting: bool,
}

/// 16 random bytes, in hex: the ids the assistant assigns.
pub(crate) fn random_id(prefix: &str) -> Result<String, AssistantError> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| {
        AssistantError::Store(crate::store::StoreError::Backend {
            action: "drawing a random id",
            message: "the system's random source failed".to_owned(),
        })
    })?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}{hex}"))
}

/// Where a stored poll stands at `now`: an open poll past its deadline is
/// closed.
pub(crate) fn effective_status(poll: &StoredPoll, now: i64) -> PollStatus {
    match (poll.status, poll.deadline) {
        (PollStatus::Open, Some(deadline)) if deadline <= now => PollStatus::Closed,
        (status, _) => status,
    }
}

impl Assistant {
    /// The stored poll and what `actor` is to it.
    ///
    /// # Errors
    /// [`AssistantError::UnknownPoll`] when there is none, or the actor
    /// may not see it (a poll is not revealed to strangers).
    pub(crate) async fn poll_for(
        &self,
        actor: &Actor,
        id: &PollId,
    ) -> Result<(StoredPoll, Standing), AssistantError> {
        let poll = self
            .inner
            .store
            .poll(id)
            .await?
            .ok_or_else(|| AssistantError::UnknownPoll(id.clone()))?;
        let standing = self.standing(actor, &poll.creator, &poll.program, &poll.invitees);
        if !standing.sees() {
            return Err(AssistantError::UnknownPoll(id.clone()));
        }
        Ok((poll, standing))
    }

    /// Creates and stores a poll: the slots of [`poll`](Self::poll)'s
    /// ranking (most invitees free, then earliest; distinct), with who was
    /// free for each, for `invitees` under the same access rules. Invitees
    /// then answer ([`answer_poll`](Self::answer_poll)); its creator (or an
    /// administrator of its program) books a slot
    /// ([`book_poll`](Self::book_poll)) or cancels it.
    ///
    /// # Errors
    /// Those of [`poll`](Self::poll); [`AssistantError::Invalid`] when no
    /// slot was found or the title is empty; [`AssistantError::Store`].
    pub async fn create_poll(
        &self,
        actor: &Actor,
        invitees: &Invitees,
        request: SlotRequest,
        options: PollOptions,
    ) -> Result<PollView, AssistantError> {
        if options.title.trim().is_empty() {
            return Err(AssistantError::invalid("a poll needs a title"));
        }
        let proposal = self.poll(actor, invitees, request).await?;
        if proposal.slots.is_empty() {
            return Err(AssistantError::invalid(
                "no slot in the window suits the invitees: widen the window or lower min_free",
            ));
        }
        let (program, people) = self.poll_people(actor, invitees)?;
        let mut unique: Vec<ParticipantId> = Vec::with_capacity(people.len());
        for p in people {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        let poll = StoredPoll {
            id: PollId::new(random_id("poll-")?),
            program,
            creator: Creator::of(actor),
            group: match invitees {
                Invitees::Group(g) => Some(g.clone()),
                Invitees::List { .. } => None,
            },
            title: options.title,
            description: options.description,
            duration_secs: i64::try_from(request.duration.as_secs()).unwrap_or(i64::MAX),
            deadline: options.deadline.map(jiff::Timestamp::as_second),
            status: PollStatus::Open,
            claim_until: 0,
            booking: None,
            created_at: self.now_secs(),
            invitees: unique,
            slots: proposal
                .slots
                .into_iter()
                .map(|s| StoredSlot {
                    interval: s.interval,
                    free: s.free,
                })
                .collect(),
        };
        self.inner.store.insert_poll(&poll).await?;
        tracing::info!(poll = %poll.id, slots = poll.slots.len(), invitees = poll.invitees.len(), "poll created");
        self.view_poll(actor, &poll.id).await
    }

    /// The polls `actor` created or is invited to (an administrator acting
    /// for themselves: those they created), newest first; `waiting` marks
    /// those open and not yet answered by them.
    ///
    /// # Errors
    /// [`AssistantError::Store`].
    pub async fn polls(&self, actor: &Actor) -> Result<Vec<PollSummary>, AssistantError> {
        let me = match actor {
            Actor::Participant(p) => Some(p),
            _ => actor.subject(),
        };
        let ids = self
            .inner
            .store
            .poll_ids_for(me, &Creator::of(actor))
            .await?;
        let now = self.now_secs();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok((poll, standing)) = self.poll_for(actor, &id).await else {
                continue;
            };
            let status = effective_status(&poll, now);
            let answered = match &standing.invitee {
                Some(p) => self
                    .inner
                    .store
                    .votes(&poll.id)
                    .await?
                    .iter()
                    .any(|(who, _, _)| who == p),
                None => false,
            };
            out.push(PollSummary {
                id: poll.id,
                title: poll.title,
                status,
                deadline: poll.deadline,
                manages: standing.manages,
                invited: standing.invitee.is_some(),
                waiting: standing.invitee.is_some() && status == PollStatus::Open && !answered,
            });
        }
        Ok(out)
    }

    /// A poll as `actor` may see it: every invitee sees the slots, the
    /// answers counted and their own; its manager (creator, administrators
    /// of its program) also sees each answer and, beside it, who is free
    /// now, read again from the calendars within the cache's TTL, and "k
    /// of n invitees have connected a calendar".
    ///
    /// # Errors
    /// [`AssistantError::UnknownPoll`] (also for polls the actor may not
    /// see), [`AssistantError::Store`].
    pub async fn view_poll(&self, actor: &Actor, id: &PollId) -> Result<PollView, AssistantError> {
        self.sync().await;
        let (poll, standing) = self.poll_for(actor, id).await?;
        let votes = self.inner.store.votes(id).await?;
        let mut by_slot: Vec<Vec<(ParticipantId, Vote)>> = vec![Vec::new(); poll.slots.len()];
        for (who, position, vote) in votes {
            if poll.invitees.contains(&who)
                && let Some(slot) = by_slot.get_mut(position)
            {
                slot.push((who, vote));
            }
        }
        let (availability, connected) = if standing.manages {
            let slots: Vec<Interval> = poll.slots.iter().map(|s| s.interval).collect();
            let (a, c) = self
                .slot_availability(&poll.program, &poll.invitees, &slots, None, false)
                .await?;
            (Some(a), c)
        } else {
            (None, 0)
        };
        let slots =
            poll.slots
                .iter()
                .enumerate()
                .map(|(index, slot)| {
                    let answers = &by_slot[index];
                    let mut counts = VoteCounts::default();
                    for (_, vote) in answers {
                        match vote {
                            Vote::Yes => counts.yes += 1,
                            Vote::IfNeedBe => counts.if_need_be += 1,
                            Vote::No => counts.no += 1,
                        }
                    }
                    counts.unanswered = poll.invitees.len().saturating_sub(answers.len());
                    PollSlot {
                        index,
                        interval: slot.interval,
                        counts,
                        answers: standing.manages.then(|| answers.clone()),
                        availability: availability.as_ref().map(|a| a[index].clone()),
                        mine: standing.invitee.as_ref().and_then(|me| {
                            answers.iter().find(|(who, _)| who == me).map(|(_, v)| *v)
                        }),
                    }
                })
                .collect();
        Ok(PollView {
            status: effective_status(&poll, self.now_secs()),
            id: poll.id,
            program: poll.program,
            group: poll.group,
            creator: poll.creator,
            title: poll.title,
            description: poll.description,
            duration_minutes: poll.duration_secs / 60,
            deadline: poll.deadline,
            booking: poll.booking,
            connected,
            connected_text: standing.manages.then(|| {
                format!(
                    "{connected} of {} invitees have connected a calendar",
                    poll.invitees.len()
                )
            }),
            invitees: poll.invitees,
            manages: standing.manages,
            slots,
        })
    }

    /// Who is free, unavailable and unknown for each of `slots` now: the
    /// program's blocking kinds and buffers over the invitees' busy times
    /// (through the cache, with booked meetings but `besides`), and how
    /// many invitees have connected a calendar. `fresh`: bypassing the
    /// cache (at booking).
    pub(crate) async fn slot_availability(
        &self,
        program: &ProgramId,
        invitees: &[ParticipantId],
        slots: &[Interval],
        besides: Option<&BookingId>,
        fresh: bool,
    ) -> Result<(Vec<SlotAvailability>, usize), AssistantError> {
        let policy = self.policy(program)?;
        let blocking = policy.blocking();
        let (before, after) = buffers(&policy);
        let Some(span) = IntervalSet::from_unsorted(slots.iter().copied()).span() else {
            return Ok((Vec::new(), 0));
        };
        let span = Interval::new(
            span.start().saturating_sub(after).max(Interval::MIN_SECOND),
            span.end().saturating_add(before).min(Interval::MAX_SECOND),
        )
        .unwrap_or(span);
        let known: Vec<ParticipantId> = invitees
            .iter()
            .filter(|p| self.records().participants.contains_key(*p))
            .cloned()
            .collect();
        let (busy, _) = self.busy_besides(&known, span, fresh, true, besides).await;
        let mut sets: HashMap<&ParticipantId, Option<IntervalSet>> = HashMap::new();
        let mut connected = 0;
        for p in invitees {
            connected += usize::from(self.status(p).await.is_connected());
            let set = match busy.get(p) {
                Some(Some(Ok(fb))) => Some(fb.unavailable(blocking).widen(before, after)),
                _ => None,
            };
            sets.insert(p, set);
        }
        let out = slots
            .iter()
            .map(|slot| {
                let mut a = SlotAvailability::default();
                for p in invitees {
                    match sets.get(p) {
                        Some(Some(set)) if set.overlaps(slot) => a.unavailable.push(p.clone()),
                        Some(Some(_)) => a.free.push(p.clone()),
                        _ => a.unknown.push(p.clone()),
                    }
                }
                a
            })
            .collect();
        Ok((out, connected))
    }

    /// Records `actor`'s answers on a poll (slot index, answer), replacing
    /// their earlier ones; slots left out are unanswered. Answers are the
    /// invitee's own act, changeable until the poll closes.
    ///
    /// # Errors
    /// [`AssistantError::UnknownPoll`]; [`AssistantError::NotAllowed`]
    /// unless the actor is an invitee acting for themselves;
    /// [`AssistantError::PollNotOpen`] once it is closed, booked or
    /// cancelled (or its deadline passed); [`AssistantError::Invalid`] for
    /// a slot it does not have, or one answered twice.
    pub async fn answer_poll(
        &self,
        actor: &Actor,
        id: &PollId,
        answers: &[(usize, Vote)],
    ) -> Result<PollView, AssistantError> {
        let (poll, standing) = self.poll_for(actor, id).await?;
        let Some(me) = standing.invitee else {
            return Err(AssistantError::NotAllowed(format!(
                "only the invitees of poll {id} answer it, each for themselves"
            )));
        };
        let mut seen = vec![false; poll.slots.len()];
        for (index, _) in answers {
            match seen.get_mut(*index) {
                Some(s) if !*s => *s = true,
                Some(_) => {
                    return Err(AssistantError::invalid(format!(
                        "slot {index} is answered twice"
                    )));
                }
                None => {
                    return Err(AssistantError::invalid(format!(
                        "poll {id} has {} slots; there is no slot {index}",
                        poll.slots.len()
                    )));
                }
            }
        }
        let now = self.now_secs();
        let status = effective_status(&poll, now);
        if status != PollStatus::Open || !self.inner.store.put_votes(id, &me, answers, now).await? {
            let status = match status {
                PollStatus::Open => self
                    .inner
                    .store
                    .poll(id)
                    .await?
                    .map_or(PollStatus::Cancelled, |p| effective_status(&p, now)),
                other => other,
            };
            return Err(AssistantError::PollNotOpen {
                poll: id.clone(),
                status,
            });
        }
        self.view_poll(actor, id).await
    }

    /// Closes a poll to answers (it may still be booked).
    ///
    /// # Errors
    /// [`AssistantError::UnknownPoll`]; [`AssistantError::NotAllowed`]
    /// unless the actor manages it; [`AssistantError::PollNotOpen`].
    pub async fn close_poll(&self, actor: &Actor, id: &PollId) -> Result<PollView, AssistantError> {
        self.change_poll(actor, id, false).await
    }

    /// Cancels a poll that is not booked.
    ///
    /// # Errors
    /// As [`close_poll`](Self::close_poll); a booked poll is cancelled by
    /// cancelling its booking ([`cancel_booking`](Self::cancel_booking)).
    pub async fn cancel_poll(
        &self,
        actor: &Actor,
        id: &PollId,
    ) -> Result<PollView, AssistantError> {
        self.change_poll(actor, id, true).await
    }

    async fn change_poll(
        &self,
        actor: &Actor,
        id: &PollId,
        cancel: bool,
    ) -> Result<PollView, AssistantError> {
        let (poll, standing) = self.poll_for(actor, id).await?;
        if !standing.manages {
            return Err(AssistantError::NotAllowed(format!(
                "only the creator of poll {id} and its program's administrators close or cancel it"
            )));
        }
        let now = self.now_secs();
        let done = if cancel {
            self.inner.store.cancel_poll(id, now).await?
        } else {
            self.inner.store.close_poll(id, now).await?
        };
        if !done {
            let status = self
                .inner
                .store
                .poll(id)
                .await?
                .map_or(poll.status, |p| p.status);
            if matches!(status, PollStatus::Open | PollStatus::Closed) {
                return Err(AssistantError::Conflict(format!("poll {id}")));
            }
            return Err(AssistantError::PollNotOpen {
                poll: id.clone(),
                status,
            });
        }
        self.view_poll(actor, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_prefixed() {
        let a = random_id("poll-").unwrap();
        let b = random_id("poll-").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("poll-") && a.len() == 5 + 32, "{a}");
    }
}
