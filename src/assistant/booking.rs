//! Booking a meeting (a pair's slot, or a poll's), rescheduling and
//! cancelling it, through the organisation's scheduling account or by
//! iTIP email.
//!
//! A booking re-reads every connected attendee bypassing the cache: a slot
//! no longer free for someone who was free is refused, naming them, unless
//! its creator forces it. A poll is claimed in the store first (one attempt
//! holds it, on any instance) and becomes booked in the same transaction
//! that stores the booking, so two bookings of one poll never both win and
//! a failed invitation leaves it as it was. The stored booking is busy for
//! its attendees at once on every instance (`reads.rs` adds booked
//! meetings to every read).

use std::sync::Arc;

use availability::{Interval, Meeting, MeetingChange, MeetingSender, Person};
use org_wide_auth::IntegrationKind;
use serde::Serialize;

use crate::error::AssistantError;
use crate::model::{
    Actor, BookingId, Creator, PairId, ParticipantId, PollId, PollStatus, ProgramId,
};
use crate::store::StoredBooking;

use super::Assistant;
use super::polls::{effective_status, random_id};
use super::slots::bookable_for;

/// How long a booking attempt holds a poll before another may take it
/// (an instance that died mid-attempt frees it then).
const CLAIM_SECS: i64 = 120;

/// What a booking says and whether it may override a slot that is no
/// longer free.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookOptions {
    /// The meeting's title (default: the poll's, or the program's name
    /// for a pair).
    pub title: Option<String>,
    /// The meeting's description (default: the poll's, or none).
    pub description: Option<String>,
    /// Book even if a fresh read finds an attendee busy then.
    pub force: bool,
}

impl BookOptions {
    /// Default text, never forced.
    pub fn new() -> Self {
        Self::default()
    }

    /// With a title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// With a description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Book even where an attendee became busy.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// A booked (or cancelled) meeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Booking {
    /// Its id.
    pub id: BookingId,
    /// The program whose policy applied.
    pub program: ProgramId,
    /// The poll it settled, if one.
    pub poll: Option<PollId>,
    /// The pair it is for, if one.
    pub pair: Option<PairId>,
    /// Who booked it.
    pub creator: Creator,
    /// When.
    pub interval: Interval,
    /// Its title (the program's or the creator's text).
    pub title: String,
    /// Its description (the creator's text).
    pub description: String,
    /// `true` while booked, `false` once cancelled.
    pub booked: bool,
    /// Its iCalendar `UID`, the same in every invitation about it.
    pub uid: String,
    /// Its iCalendar `SEQUENCE`: 0, one more at each change.
    pub sequence: u32,
    /// How invitations were sent: `email`, `google`, `graph`.
    pub via: String,
    /// Who attends.
    pub attendees: Vec<ParticipantId>,
}

impl From<StoredBooking> for Booking {
    fn from(b: StoredBooking) -> Self {
        Self {
            id: b.id,
            program: b.program,
            poll: b.poll,
            pair: b.pair,
            creator: b.creator,
            interval: b.interval,
            title: b.title,
            description: b.description,
            booked: b.booked,
            uid: b.uid,
            sequence: b.sequence,
            via: b.via,
            attendees: b.attendees,
        }
    }
}

/// A way to send and who the invitations come from.
struct Sending {
    sender: Arc<dyn MeetingSender>,
    organiser: Person,
}

impl Sending {
    /// Sends `change` of `meeting`; a refusal is
    /// [`AssistantError::Invitation`], naming the way it went.
    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<availability::Delivered, AssistantError> {
        self.sender
            .send(meeting, change)
            .await
            .map_err(|source| AssistantError::Invitation {
                via: self.sender.via(),
                source,
            })
    }
}

impl Assistant {
    /// Books slot `slot` of a poll: re-reads every connected invitee
    /// (bypassing the cache) and refuses if one who was free when it was
    /// proposed is busy now ([`AssistantError::SlotTaken`], naming them),
    /// unless `options.force`; then sends the meeting (from the
    /// organisation's scheduling account when one with booking on covers
    /// every invitee, else by email) and stores it, the poll booked.
    ///
    /// # Errors
    /// [`AssistantError::UnknownPoll`]; [`AssistantError::NotAllowed`]
    /// unless the actor manages the poll; [`AssistantError::PollNotOpen`]
    /// for a booked or cancelled poll; [`AssistantError::Conflict`] while
    /// another attempt holds it; [`AssistantError::SlotTaken`];
    /// [`AssistantError::InvitationsNotConfigured`],
    /// [`AssistantError::Invitation`] (the poll stays as it was).
    pub async fn book_poll(
        &self,
        actor: &Actor,
        poll: &PollId,
        slot: usize,
        options: BookOptions,
    ) -> Result<Booking, AssistantError> {
        self.sync().await;
        let (stored, standing) = self.poll_for(actor, poll).await?;
        if !standing.manages {
            return Err(AssistantError::NotAllowed(format!(
                "only the creator of poll {poll} and its program's administrators book it"
            )));
        }
        let now = self.now_secs();
        let status = effective_status(&stored, now);
        if !matches!(status, PollStatus::Open | PollStatus::Closed) {
            return Err(AssistantError::PollNotOpen {
                poll: poll.clone(),
                status,
            });
        }
        let chosen = stored.slots.get(slot).cloned().ok_or_else(|| {
            AssistantError::invalid(format!(
                "poll {poll} has {} slots; there is no slot {slot}",
                stored.slots.len()
            ))
        })?;
        let token = random_id("claim-")?;
        if !self
            .inner
            .store
            .claim_poll(poll, &token, now, now + CLAIM_SECS)
            .await?
        {
            let status = self
                .inner
                .store
                .poll(poll)
                .await?
                .map_or(PollStatus::Cancelled, |p| effective_status(&p, now));
            return Err(match status {
                PollStatus::Open | PollStatus::Closed => {
                    AssistantError::Conflict(format!("poll {poll}"))
                }
                status => AssistantError::PollNotOpen {
                    poll: poll.clone(),
                    status,
                },
            });
        }
        let booking = StoredBooking {
            id: BookingId::new(random_id("booking-")?),
            program: stored.program.clone(),
            poll: Some(poll.clone()),
            pair: None,
            creator: Creator::of(actor),
            uid: String::new(),
            sequence: 0,
            interval: chosen.interval,
            title: options.title.clone().unwrap_or(stored.title.clone()),
            description: options
                .description
                .clone()
                .unwrap_or(stored.description.clone()),
            booked: true,
            via: String::new(),
            event: None,
            created_at: now,
            attendees: stored.invitees.clone(),
        };
        let placed = self
            .place(booking, &chosen.free, options.force, Some(&token))
            .await;
        if placed.is_err()
            && let Err(e) = self.inner.store.release_poll(poll, &token).await
        {
            tracing::warn!(poll = %poll, error = %e, "could not release a poll after a failed booking; it frees itself when the claim expires");
        }
        placed
    }

    /// Books `interval` for a pair (one of its mutual slots, typically):
    /// the interval must lie in the program's bookable hours for both (each
    /// in their own zone and hours); both calendars are re-read bypassing
    /// the cache and a busy one refuses it ([`AssistantError::SlotTaken`])
    /// unless `options.force`; then the meeting is sent and stored.
    ///
    /// # Errors
    /// [`AssistantError::UnknownPair`]; [`AssistantError::NotAllowed`]
    /// unless the actor is in the pair or administers its program;
    /// [`AssistantError::Invalid`] outside the bookable hours;
    /// [`AssistantError::SlotTaken`]; the invitation's errors.
    pub async fn book_pair(
        &self,
        actor: &Actor,
        pair: &PairId,
        interval: Interval,
        options: BookOptions,
    ) -> Result<Booking, AssistantError> {
        self.sync().await;
        let found = self
            .records()
            .pairs
            .get(pair)
            .cloned()
            .ok_or_else(|| AssistantError::UnknownPair(pair.clone()))?;
        let members = [found.mentor.clone(), found.mentee.clone()];
        let creator = Creator::of(actor);
        let standing = self.standing(actor, &creator, &found.program, &members);
        let allowed = match actor {
            Actor::Participant(_) => standing.invitee.is_some(),
            _ => self.administers(actor, &found.program),
        };
        if !allowed {
            return Err(AssistantError::NotAllowed(format!(
                "only the pair {pair} and its program's administrators book its meetings"
            )));
        }
        self.check_bookable(&found.program, &members, interval)?;
        let program_name = self
            .records()
            .programs
            .get(&found.program)
            .map(|(p, _)| p.name.clone())
            .unwrap_or_default();
        let booking = StoredBooking {
            id: BookingId::new(random_id("booking-")?),
            program: found.program.clone(),
            poll: None,
            pair: Some(pair.clone()),
            creator,
            uid: String::new(),
            sequence: 0,
            interval,
            title: options
                .title
                .clone()
                .unwrap_or_else(|| format!("{program_name}: 1:1")),
            description: options.description.clone().unwrap_or_default(),
            booked: true,
            via: String::new(),
            event: None,
            created_at: self.now_secs(),
            attendees: members.to_vec(),
        };
        self.place(booking, &members, options.force, None).await
    }

    /// Moves a booking to `interval`: the same `UID`, `SEQUENCE` one more,
    /// the attendees re-read (this booking itself aside) as at booking.
    ///
    /// # Errors
    /// [`AssistantError::UnknownBooking`]; [`AssistantError::NotAllowed`]
    /// unless the actor manages it (its creator, the pair's two, the
    /// program's administrators); [`AssistantError::Conflict`] when it was
    /// cancelled or changed meanwhile; those of booking.
    pub async fn reschedule(
        &self,
        actor: &Actor,
        booking: &BookingId,
        interval: Interval,
        options: BookOptions,
    ) -> Result<Booking, AssistantError> {
        self.sync().await;
        let old = self.booking_to_manage(actor, booking).await?;
        self.check_bookable(&old.program, &old.attendees, interval)?;
        let attendees = old.attendees.clone();
        let moved = self
            .holding(
                &attendees,
                self.move_held(old, booking, interval, options.force),
            )
            .await?;
        tracing::info!(booking = %booking, sequence = moved.sequence, "booking moved");
        Ok(moved.into())
    }

    /// Cancels a booking and tells its attendees (`METHOD:CANCEL`, or the
    /// provider's cancellation); a poll it settled becomes cancelled.
    ///
    /// # Errors
    /// As [`reschedule`](Self::reschedule).
    pub async fn cancel_booking(
        &self,
        actor: &Actor,
        booking: &BookingId,
    ) -> Result<Booking, AssistantError> {
        self.sync().await;
        let old = self.booking_to_manage(actor, booking).await?;
        let mut cancelled = old.clone();
        cancelled.sequence = old.sequence.saturating_add(1);
        cancelled.booked = false;
        let sending = self.sending_for(&old.via).await?;
        let meeting = self.meeting(&cancelled, &sending.organiser)?;
        sending
            .send(
                &meeting,
                &MeetingChange::Cancel {
                    event: old.event.clone(),
                },
            )
            .await?;
        if !self
            .inner
            .store
            .revise_booking(&cancelled, old.sequence)
            .await?
        {
            return Err(AssistantError::Conflict(format!("booking {booking}")));
        }
        tracing::info!(booking = %booking, "booking cancelled");
        Ok(cancelled.into())
    }

    /// A booking its attendees, its creator and its program's
    /// administrators may see.
    ///
    /// # Errors
    /// [`AssistantError::UnknownBooking`] (also for anyone else).
    pub async fn booking(&self, actor: &Actor, id: &BookingId) -> Result<Booking, AssistantError> {
        let stored = self
            .inner
            .store
            .booking(id)
            .await?
            .ok_or_else(|| AssistantError::UnknownBooking(id.clone()))?;
        let standing = self.standing(actor, &stored.creator, &stored.program, &stored.attendees);
        let attending = actor
            .subject()
            .is_some_and(|p| stored.attendees.contains(p));
        if !standing.sees() && !attending {
            return Err(AssistantError::UnknownBooking(id.clone()));
        }
        Ok(stored.into())
    }

    /// The bookings `actor` attends or made, newest first.
    ///
    /// # Errors
    /// [`AssistantError::Store`].
    pub async fn bookings(&self, actor: &Actor) -> Result<Vec<Booking>, AssistantError> {
        let me = actor.subject();
        let ids = self
            .inner
            .store
            .booking_ids_for(me, &Creator::of(actor))
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(b) = self.booking(actor, &id).await {
                out.push(b);
            }
        }
        Ok(out)
    }

    async fn booking_to_manage(
        &self,
        actor: &Actor,
        id: &BookingId,
    ) -> Result<StoredBooking, AssistantError> {
        let stored = self
            .inner
            .store
            .booking(id)
            .await?
            .ok_or_else(|| AssistantError::UnknownBooking(id.clone()))?;
        let standing = self.standing(actor, &stored.creator, &stored.program, &stored.attendees);
        // A pair's two both manage their 1:1; a poll's booking is its
        // creator's and the administrators'.
        let manages = standing.manages || (stored.pair.is_some() && standing.invitee.is_some());
        if !manages {
            if standing.sees() {
                return Err(AssistantError::NotAllowed(format!(
                    "only the creator of booking {id} and its program's administrators change it"
                )));
            }
            return Err(AssistantError::UnknownBooking(id.clone()));
        }
        if !stored.booked {
            return Err(AssistantError::Conflict(format!(
                "booking {id} (it is cancelled)"
            )));
        }
        Ok(stored)
    }

    /// Refuses an interval outside the program's bookable hours for these
    /// attendees (each one's zone and own hours), within its notice and
    /// horizon.
    fn check_bookable(
        &self,
        program: &ProgramId,
        attendees: &[ParticipantId],
        interval: Interval,
    ) -> Result<(), AssistantError> {
        let policy = self.live_policy(program)?;
        if !policy.scheduling_assistant_enabled() {
            return Err(AssistantError::SchedulingDisabled(program.clone()));
        }
        let zones = self.zones_of(attendees, &policy);
        let bookable = bookable_for(&policy, interval, self.inner.clock.now(), &zones);
        let bookable = self.within_own_hours(bookable, attendees, &policy, interval);
        if !bookable.covers(&interval) {
            return Err(AssistantError::invalid(format!(
                "{interval:?} is outside program {program}'s bookable hours for these attendees"
            )));
        }
        Ok(())
    }

    /// Re-reads every connected attendee bypassing the cache (booked
    /// meetings but `besides` included) and refuses `interval` if one of
    /// `were_free` is busy then, unless `force`.
    async fn check_free(
        &self,
        program: &ProgramId,
        attendees: &[ParticipantId],
        interval: Interval,
        were_free: &[ParticipantId],
        force: bool,
        besides: Option<&BookingId>,
    ) -> Result<(), AssistantError> {
        let (now, _) = self
            .slot_availability(program, attendees, &[interval], besides, true)
            .await?;
        let taken: Vec<ParticipantId> = now
            .first()
            .map(|a| {
                a.unavailable
                    .iter()
                    .filter(|p| were_free.contains(p))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if taken.is_empty() || force {
            if !taken.is_empty() {
                tracing::info!(busy = taken.len(), "booking forced over busy attendees");
            }
            return Ok(());
        }
        Err(AssistantError::SlotTaken {
            participants: taken,
        })
    }

    /// Checks, sends and stores a new booking (`claim`: the poll's).
    async fn place(
        &self,
        booking: StoredBooking,
        were_free: &[ParticipantId],
        force: bool,
        claim: Option<&str>,
    ) -> Result<Booking, AssistantError> {
        let attendees = booking.attendees.clone();
        self.holding(
            &attendees,
            self.place_held(booking, were_free, force, claim),
        )
        .await
    }

    /// Runs `work` while holding every one of `attendees` for this booking
    /// attempt (in the store, so on every instance): two attempts never
    /// check and book the same person at once, so a fresh check cannot be
    /// raced into a double booking. Another attempt holding one of them is
    /// [`AssistantError::Conflict`]; a holder that died frees them when its
    /// hold expires.
    async fn holding<T>(
        &self,
        attendees: &[ParticipantId],
        work: impl Future<Output = Result<T, AssistantError>>,
    ) -> Result<T, AssistantError> {
        let token = random_id("hold-")?;
        let now = self.now_secs();
        let mut sorted: Vec<&ParticipantId> = attendees.iter().collect();
        sorted.sort();
        sorted.dedup();
        for p in sorted {
            let held = self
                .inner
                .store
                .lock_attendee(p, &token, now, now + CLAIM_SECS)
                .await;
            if !matches!(held, Ok(true)) {
                self.let_go(&token).await;
                held?;
                return Err(AssistantError::Conflict(format!(
                    "a booking with {p} (another is being made)"
                )));
            }
        }
        let out = work.await;
        self.let_go(&token).await;
        out
    }

    async fn move_held(
        &self,
        old: StoredBooking,
        booking: &BookingId,
        interval: Interval,
        force: bool,
    ) -> Result<StoredBooking, AssistantError> {
        self.check_free(
            &old.program,
            &old.attendees,
            interval,
            &old.attendees,
            force,
            Some(booking),
        )
        .await?;
        let mut moved = old.clone();
        moved.interval = interval;
        moved.sequence = old.sequence.saturating_add(1);
        let sending = self.sending_for(&old.via).await?;
        let meeting = self.meeting(&moved, &sending.organiser)?;
        let delivered = sending
            .send(
                &meeting,
                &MeetingChange::Update {
                    event: old.event.clone(),
                },
            )
            .await?;
        if delivered.event.is_some() {
            moved.event = delivered.event;
        }
        if !self
            .inner
            .store
            .revise_booking(&moved, old.sequence)
            .await?
        {
            tracing::warn!(booking = %booking, "a booking changed while it was being moved; the attendees got both updates");
            return Err(AssistantError::Conflict(format!("booking {booking}")));
        }
        Ok(moved)
    }

    async fn let_go(&self, token: &str) {
        if let Err(e) = self.inner.store.unlock_attendees(token).await {
            tracing::warn!(error = %e, "could not let go of attendees after a booking attempt; they free themselves when the hold expires");
        }
    }

    async fn place_held(
        &self,
        mut booking: StoredBooking,
        were_free: &[ParticipantId],
        force: bool,
        claim: Option<&str>,
    ) -> Result<Booking, AssistantError> {
        self.check_free(
            &booking.program,
            &booking.attendees,
            booking.interval,
            were_free,
            force,
            None,
        )
        .await?;
        let sending = self.sending(&booking.attendees).await?;
        booking.uid = format!("{}@scheduling-assistant", booking.id);
        booking.via = sending.sender.via().to_owned();
        let meeting = self.meeting(&booking, &sending.organiser)?;
        let delivered = sending.send(&meeting, &MeetingChange::Create).await?;
        booking.event = delivered.event.clone();
        let stored = self.inner.store.insert_booking(&booking, claim).await;
        if !matches!(stored, Ok(true)) {
            // Not stored (the claim expired and another attempt took the
            // poll, or the store failed): take the invitation back.
            if let Err(e) = sending
                .sender
                .send(
                    &meeting_with(&meeting, 1),
                    &MeetingChange::Cancel {
                        event: delivered.event,
                    },
                )
                .await
            {
                tracing::error!(booking = %booking.id, kind = %e.kind(), "a meeting was sent but not stored, and could not be cancelled");
            }
            stored?;
            return Err(AssistantError::Conflict(format!(
                "poll {}",
                booking.poll.as_ref().map_or("", PollId::as_str)
            )));
        }
        tracing::info!(booking = %booking.id, via = %booking.via, attendees = booking.attendees.len(), "meeting booked");
        Ok(booking.into())
    }

    /// The meeting to send for a booking: the attendees' addresses and
    /// names from their records, the program's zone.
    fn meeting(
        &self,
        booking: &StoredBooking,
        organiser: &Person,
    ) -> Result<Meeting, AssistantError> {
        let records = self.records();
        let time_zone = records
            .programs
            .get(&booking.program)
            .map(|(_, policy)| policy.time_zone().name().to_owned())
            .unwrap_or_else(|| "UTC".to_owned());
        let mut attendees = Vec::with_capacity(booking.attendees.len());
        for id in &booking.attendees {
            let (p, _) = records
                .participants
                .get(id)
                .ok_or_else(|| AssistantError::UnknownParticipant(id.clone()))?;
            attendees.push(Person::new(p.email.clone()).named(p.name.clone()));
        }
        Ok(Meeting {
            uid: booking.uid.clone(),
            sequence: booking.sequence,
            interval: booking.interval,
            time_zone,
            title: booking.title.clone(),
            description: booking.description.clone(),
            organiser: organiser.clone(),
            attendees,
        })
    }

    /// How to send a new meeting to `attendees`: the scheduling account
    /// of the organisation integration that covers every one of them, if
    /// it has booking on; else the configured email sender.
    async fn sending(&self, attendees: &[ParticipantId]) -> Result<Sending, AssistantError> {
        if let Some(org) = &self.inner.org {
            let emails: Vec<String> = {
                let records = self.records();
                attendees
                    .iter()
                    .filter_map(|id| records.participants.get(id).map(|(p, _)| p.email.clone()))
                    .collect()
            };
            let mut kind = None;
            let mut same = !emails.is_empty();
            for email in &emails {
                match (org.resolve(email).await, kind) {
                    (Some(k), None) => kind = Some(k),
                    (Some(k), Some(first)) if k == first => {}
                    _ => same = false,
                }
            }
            if let (true, Some(kind)) = (same, kind)
                && let (Some(sender), Some(account)) = (
                    org.meeting_sender(kind).await,
                    org.scheduling_account(kind).await,
                )
            {
                return Ok(Sending {
                    sender,
                    organiser: Person::new(account),
                });
            }
        }
        self.email_sending()
    }

    fn email_sending(&self) -> Result<Sending, AssistantError> {
        let sender = self
            .inner
            .invitations
            .clone()
            .ok_or(AssistantError::InvitationsNotConfigured)?;
        let organiser = sender
            .organiser()
            .ok_or(AssistantError::InvitationsNotConfigured)?;
        Ok(Sending { sender, organiser })
    }

    /// How to send a change of a meeting first sent `via`: the same way
    /// (a provider's event is changed through the account that made it).
    async fn sending_for(&self, via: &str) -> Result<Sending, AssistantError> {
        let kind = match via {
            "google" => IntegrationKind::GoogleWorkspace,
            "graph" => IntegrationKind::ExchangeOnline,
            _ => return self.email_sending(),
        };
        let org = self
            .inner
            .org
            .as_ref()
            .ok_or(AssistantError::InvitationsNotConfigured)?;
        match (
            org.meeting_sender(kind).await,
            org.scheduling_account(kind).await,
        ) {
            (Some(sender), Some(account)) => Ok(Sending {
                sender,
                organiser: Person::new(account),
            }),
            _ => Err(AssistantError::InvitationsNotConfigured),
        }
    }
}

/// `meeting` at another sequence.
fn meeting_with(meeting: &Meeting, sequence: u32) -> Meeting {
    Meeting {
        sequence,
        ..meeting.clone()
    }
}
