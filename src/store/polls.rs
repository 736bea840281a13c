//! `assistant_polls`, `assistant_poll_slots`, `assistant_poll_invitees`,
//! `assistant_poll_votes`, `assistant_bookings` and
//! `assistant_booking_attendees`: stored polls, their answers, and booked
//! meetings.
//!
//! Nobody keeps these rows in memory: every instance reads them from the
//! store when asked, so none of these writes bumps the records' revision.
//! Writes that depend on a row's state (a poll still open, a claim still
//! held, a booking at the sequence it was read at) are guarded in the same
//! transaction ([`Db::write`](super::db::Db::write)).
//!
//! Parameters are numbered in the order they first appear in each
//! statement: SQLite binds `$n` by first appearance, not by `n`.

use availability::Interval;

use super::db::{Statement, Value, int, text};
use super::{Store, StoreError};
use crate::model::{
    BookingId, Creator, GroupId, PairId, ParticipantId, PollId, PollStatus, ProgramId, Vote,
};

/// A stored poll: what was proposed to whom, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredPoll {
    pub(crate) id: PollId,
    pub(crate) program: ProgramId,
    pub(crate) creator: Creator,
    pub(crate) group: Option<GroupId>,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) duration_secs: i64,
    pub(crate) deadline: Option<i64>,
    pub(crate) status: PollStatus,
    /// Until when a booking attempt holds it (0: nobody).
    pub(crate) claim_until: i64,
    pub(crate) booking: Option<BookingId>,
    pub(crate) created_at: i64,
    pub(crate) invitees: Vec<ParticipantId>,
    pub(crate) slots: Vec<StoredSlot>,
}

/// A proposed slot, and who was free for it when it was proposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredSlot {
    pub(crate) interval: Interval,
    pub(crate) free: Vec<ParticipantId>,
}

/// A booked (or cancelled) meeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredBooking {
    pub(crate) id: BookingId,
    pub(crate) program: ProgramId,
    pub(crate) poll: Option<PollId>,
    pub(crate) pair: Option<PairId>,
    pub(crate) creator: Creator,
    pub(crate) uid: String,
    pub(crate) sequence: u32,
    pub(crate) interval: Interval,
    pub(crate) title: String,
    pub(crate) description: String,
    /// Booked (`true`) or cancelled.
    pub(crate) booked: bool,
    pub(crate) via: String,
    pub(crate) event: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) attendees: Vec<ParticipantId>,
}

fn interval(start: i64, end: i64) -> Result<Interval, StoreError> {
    Interval::new(start, end).map_err(|e| StoreError::Corrupt(format!("a stored interval: {e}")))
}

fn some_text(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn poll_row(row: &[Value]) -> Result<StoredPoll, StoreError> {
    let row = row.to_vec();
    let creator = Creator::from_text(&text(&row, 2)?)
        .ok_or_else(|| StoreError::Corrupt("a poll's creator".to_owned()))?;
    let status = PollStatus::parse(&text(&row, 8)?)
        .ok_or_else(|| StoreError::Corrupt("a poll's status".to_owned()))?;
    let deadline = int(&row, 7)?;
    Ok(StoredPoll {
        id: PollId::new(text(&row, 0)?),
        program: ProgramId::new(text(&row, 1)?),
        creator,
        group: some_text(text(&row, 3)?).map(GroupId::new),
        title: text(&row, 4)?,
        description: text(&row, 5)?,
        duration_secs: int(&row, 6)?,
        deadline: (deadline != 0).then_some(deadline),
        status,
        claim_until: int(&row, 9)?,
        booking: some_text(text(&row, 10)?).map(BookingId::new),
        created_at: int(&row, 11)?,
        invitees: Vec::new(),
        slots: Vec::new(),
    })
}

fn booking_row(row: &[Value]) -> Result<StoredBooking, StoreError> {
    let row = row.to_vec();
    let creator = Creator::from_text(&text(&row, 4)?)
        .ok_or_else(|| StoreError::Corrupt("a booking's creator".to_owned()))?;
    let booked = match text(&row, 11)?.as_str() {
        "booked" => true,
        "cancelled" => false,
        _ => return Err(StoreError::Corrupt("a booking's status".to_owned())),
    };
    Ok(StoredBooking {
        id: BookingId::new(text(&row, 0)?),
        program: ProgramId::new(text(&row, 1)?),
        poll: some_text(text(&row, 2)?).map(PollId::new),
        pair: some_text(text(&row, 3)?).map(PairId::new),
        creator,
        uid: text(&row, 5)?,
        sequence: u32::try_from(int(&row, 6)?)
            .map_err(|_| StoreError::Corrupt("a booking's sequence".to_owned()))?,
        interval: interval(int(&row, 7)?, int(&row, 8)?)?,
        title: text(&row, 9)?,
        description: text(&row, 10)?,
        booked,
        via: text(&row, 12)?,
        event: some_text(text(&row, 13)?),
        created_at: int(&row, 14)?,
        attendees: Vec::new(),
    })
}

impl Store {
    /// Stores a new poll with its slots and invitees.
    pub(crate) async fn insert_poll(&self, poll: &StoredPoll) -> Result<(), StoreError> {
        let id = poll.id.as_str();
        let mut statements: Vec<Statement> = vec![(
            "INSERT INTO assistant_polls (id, program_id, creator, group_id, title, description, \
             duration_secs, deadline, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                id.into(),
                poll.program.as_str().into(),
                poll.creator.to_text().into(),
                poll.group.as_ref().map_or("", GroupId::as_str).into(),
                poll.title.as_str().into(),
                poll.description.as_str().into(),
                poll.duration_secs.into(),
                poll.deadline.unwrap_or(0).into(),
                poll.status.as_str().into(),
                poll.created_at.into(),
            ],
        )];
        for (i, slot) in (0_i64..).zip(&poll.slots) {
            let free = serde_json::to_string(&slot.free)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            statements.push((
                "INSERT INTO assistant_poll_slots (poll_id, position, start_s, end_s, free_json) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    id.into(),
                    i.into(),
                    slot.interval.start().into(),
                    slot.interval.end().into(),
                    free.into(),
                ],
            ));
        }
        for (i, p) in (0_i64..).zip(&poll.invitees) {
            statements.push((
                "INSERT INTO assistant_poll_invitees (poll_id, position, participant_id) \
                 VALUES ($1, $2, $3)",
                vec![id.into(), i.into(), p.as_str().into()],
            ));
        }
        self.db.write(statements, false).await.map(|_| ())
    }

    /// A poll with its slots and invitees.
    pub(crate) async fn poll(&self, id: &PollId) -> Result<Option<StoredPoll>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, program_id, creator, group_id, title, description, duration_secs, \
                 deadline, status, claim_until, booking_id, created_at \
                 FROM assistant_polls WHERE id = $1",
                vec![id.as_str().into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let mut poll = poll_row(row)?;
        for row in self
            .db
            .query(
                "SELECT start_s, end_s, free_json FROM assistant_poll_slots \
                 WHERE poll_id = $1 ORDER BY position",
                vec![id.as_str().into()],
            )
            .await?
        {
            let free: Vec<ParticipantId> = serde_json::from_str(&text(&row, 2)?)
                .map_err(|e| StoreError::Corrupt(format!("a poll slot's free list: {e}")))?;
            poll.slots.push(StoredSlot {
                interval: interval(int(&row, 0)?, int(&row, 1)?)?,
                free,
            });
        }
        for row in self
            .db
            .query(
                "SELECT participant_id FROM assistant_poll_invitees \
                 WHERE poll_id = $1 ORDER BY position",
                vec![id.as_str().into()],
            )
            .await?
        {
            poll.invitees.push(ParticipantId::new(text(&row, 0)?));
        }
        Ok(Some(poll))
    }

    /// The ids of the polls `participant` created or is invited to, and
    /// those `creator` created (an administrator), newest first.
    pub(crate) async fn poll_ids_for(
        &self,
        participant: Option<&ParticipantId>,
        creator: &Creator,
    ) -> Result<Vec<PollId>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, created_at FROM assistant_polls WHERE creator = $1 \
                 UNION SELECT p.id, p.created_at FROM assistant_polls p \
                 JOIN assistant_poll_invitees i ON i.poll_id = p.id WHERE i.participant_id = $2 \
                 ORDER BY 2 DESC, 1",
                vec![
                    creator.to_text().into(),
                    participant.map_or("", ParticipantId::as_str).into(),
                ],
            )
            .await?;
        rows.iter().map(|r| text(r, 0).map(PollId::new)).collect()
    }

    /// Every answer given on a poll: who, which slot, what.
    pub(crate) async fn votes(
        &self,
        poll: &PollId,
    ) -> Result<Vec<(ParticipantId, usize, Vote)>, StoreError> {
        self.db
            .query(
                "SELECT participant_id, position, vote FROM assistant_poll_votes \
                 WHERE poll_id = $1 ORDER BY participant_id, position",
                vec![poll.as_str().into()],
            )
            .await?
            .iter()
            .map(|r| {
                let vote = Vote::parse(&text(r, 2)?)
                    .ok_or_else(|| StoreError::Corrupt("a vote".to_owned()))?;
                let position = usize::try_from(int(r, 1)?)
                    .map_err(|_| StoreError::Corrupt("a vote's slot".to_owned()))?;
                Ok((ParticipantId::new(text(r, 0)?), position, vote))
            })
            .collect()
    }

    /// Replaces `participant`'s answers on `poll` with `votes` (slot
    /// position, answer), only while the poll is open, its deadline not
    /// passed and no booking holds it. `false`: it was not.
    pub(crate) async fn put_votes(
        &self,
        poll: &PollId,
        participant: &ParticipantId,
        votes: &[(usize, Vote)],
        now: i64,
    ) -> Result<bool, StoreError> {
        let id = poll.as_str();
        let who = participant.as_str();
        let mut statements: Vec<Statement> = vec![
            (
                "UPDATE assistant_polls SET claim_until = claim_until WHERE id = $1 \
                 AND status = 'open' AND (deadline = 0 OR deadline > $2) AND claim_until <= $2",
                vec![id.into(), now.into()],
            ),
            (
                "DELETE FROM assistant_poll_votes WHERE poll_id = $1 AND participant_id = $2",
                vec![id.into(), who.into()],
            ),
        ];
        for (position, vote) in votes {
            statements.push((
                "INSERT INTO assistant_poll_votes (poll_id, participant_id, position, vote) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    id.into(),
                    who.into(),
                    super::i64_of(*position).into(),
                    vote.as_str().into(),
                ],
            ));
        }
        self.db.write(statements, true).await
    }

    /// Closes an open poll to answers. `false`: it was not open (or a
    /// booking holds it).
    pub(crate) async fn close_poll(&self, poll: &PollId, now: i64) -> Result<bool, StoreError> {
        self.db
            .write(
                vec![(
                    "UPDATE assistant_polls SET status = 'closed' WHERE id = $1 \
                     AND status = 'open' AND claim_until <= $2",
                    vec![poll.as_str().into(), now.into()],
                )],
                true,
            )
            .await
    }

    /// Cancels an open or closed poll that no booking holds. `false`: it
    /// was booked, cancelled, or being booked.
    pub(crate) async fn cancel_poll(&self, poll: &PollId, now: i64) -> Result<bool, StoreError> {
        self.db
            .write(
                vec![(
                    "UPDATE assistant_polls SET status = 'cancelled' WHERE id = $1 \
                     AND status IN ('open', 'closed') AND claim_until <= $2",
                    vec![poll.as_str().into(), now.into()],
                )],
                true,
            )
            .await
    }

    /// Takes an open or closed poll for a booking attempt until `until`,
    /// under `token`: exactly one attempt, on any instance, holds it.
    /// `false`: it is not open or closed, or another attempt holds it.
    pub(crate) async fn claim_poll(
        &self,
        poll: &PollId,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.db
            .write(
                vec![(
                    "UPDATE assistant_polls SET claim_until = $1, claim_token = $2 WHERE id = $3 \
                     AND status IN ('open', 'closed') AND claim_until <= $4",
                    vec![until.into(), token.into(), poll.as_str().into(), now.into()],
                )],
                true,
            )
            .await
    }

    /// Lets go of a claim (the attempt failed): the poll is as it was.
    pub(crate) async fn release_poll(&self, poll: &PollId, token: &str) -> Result<(), StoreError> {
        self.db
            .write(
                vec![(
                    "UPDATE assistant_polls SET claim_until = 0, claim_token = '' \
                     WHERE id = $1 AND claim_token = $2",
                    vec![poll.as_str().into(), token.into()],
                )],
                false,
            )
            .await
            .map(|_| ())
    }

    /// Stores a booking; with `claim`, its poll becomes booked in the same
    /// transaction, only if that claim still holds it. `false`: it did not
    /// (nothing was written).
    pub(crate) async fn insert_booking(
        &self,
        booking: &StoredBooking,
        claim: Option<&str>,
    ) -> Result<bool, StoreError> {
        let id = booking.id.as_str();
        let mut statements: Vec<Statement> = Vec::new();
        if let (Some(token), Some(poll)) = (claim, &booking.poll) {
            statements.push((
                "UPDATE assistant_polls SET status = 'booked', booking_id = $1, claim_until = 0, \
                 claim_token = '' WHERE id = $2 AND claim_token = $3",
                vec![id.into(), poll.as_str().into(), token.into()],
            ));
        }
        let guarded = !statements.is_empty();
        statements.push((
            "INSERT INTO assistant_bookings (id, program_id, poll_id, pair_id, creator, uid, \
             sequence, start_s, end_s, title, description, status, via, event_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            vec![
                id.into(),
                booking.program.as_str().into(),
                booking.poll.as_ref().map_or("", PollId::as_str).into(),
                booking.pair.as_ref().map_or("", PairId::as_str).into(),
                booking.creator.to_text().into(),
                booking.uid.as_str().into(),
                i64::from(booking.sequence).into(),
                booking.interval.start().into(),
                booking.interval.end().into(),
                booking.title.as_str().into(),
                booking.description.as_str().into(),
                if booking.booked {
                    "booked"
                } else {
                    "cancelled"
                }
                .into(),
                booking.via.as_str().into(),
                booking.event.as_deref().unwrap_or("").into(),
                booking.created_at.into(),
            ],
        ));
        for p in &booking.attendees {
            statements.push((
                "INSERT INTO assistant_booking_attendees (booking_id, participant_id) \
                 VALUES ($1, $2)",
                vec![id.into(), p.as_str().into()],
            ));
        }
        self.db.write(statements, guarded).await
    }

    /// A booking with its attendees.
    pub(crate) async fn booking(
        &self,
        id: &BookingId,
    ) -> Result<Option<StoredBooking>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, program_id, poll_id, pair_id, creator, uid, sequence, start_s, end_s, \
                 title, description, status, via, event_ref, created_at \
                 FROM assistant_bookings WHERE id = $1",
                vec![id.as_str().into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let mut booking = booking_row(row)?;
        for row in self
            .db
            .query(
                "SELECT participant_id FROM assistant_booking_attendees \
                 WHERE booking_id = $1 ORDER BY participant_id",
                vec![id.as_str().into()],
            )
            .await?
        {
            booking.attendees.push(ParticipantId::new(text(&row, 0)?));
        }
        Ok(Some(booking))
    }

    /// Moves or cancels a booking read at `sequence`: only if nobody
    /// changed it since (its sequence is still that, and it is booked).
    /// A cancelled poll booking cancels its poll in the same transaction.
    /// `false`: someone did.
    pub(crate) async fn revise_booking(
        &self,
        booking: &StoredBooking,
        read_at: u32,
    ) -> Result<bool, StoreError> {
        let id = booking.id.as_str();
        let mut statements: Vec<Statement> = vec![(
            "UPDATE assistant_bookings SET sequence = $1, start_s = $2, end_s = $3, status = $4, \
             event_ref = $5 WHERE id = $6 AND sequence = $7 AND status = 'booked'",
            vec![
                i64::from(booking.sequence).into(),
                booking.interval.start().into(),
                booking.interval.end().into(),
                if booking.booked {
                    "booked"
                } else {
                    "cancelled"
                }
                .into(),
                booking.event.as_deref().unwrap_or("").into(),
                id.into(),
                i64::from(read_at).into(),
            ],
        )];
        if let (false, Some(poll)) = (booking.booked, &booking.poll) {
            statements.push((
                "UPDATE assistant_polls SET status = 'cancelled' WHERE id = $1 AND booking_id = $2",
                vec![poll.as_str().into(), id.into()],
            ));
        }
        self.db.write(statements, true).await
    }

    /// Who has a booked meeting overlapping `window`, and when: what makes
    /// a booking busy for its attendees at once, on every instance.
    pub(crate) async fn booked_between(
        &self,
        window: Interval,
    ) -> Result<Vec<(ParticipantId, BookingId, Interval)>, StoreError> {
        self.db
            .query(
                "SELECT a.participant_id, b.id, b.start_s, b.end_s FROM assistant_bookings b \
                 JOIN assistant_booking_attendees a ON a.booking_id = b.id \
                 WHERE b.status = 'booked' AND b.end_s > $1 AND b.start_s < $2",
                vec![window.start().into(), window.end().into()],
            )
            .await?
            .iter()
            .map(|r| {
                Ok((
                    ParticipantId::new(text(r, 0)?),
                    BookingId::new(text(r, 1)?),
                    interval(int(r, 2)?, int(r, 3)?)?,
                ))
            })
            .collect()
    }

    /// The bookings `participant` attends or `creator` made, newest first.
    pub(crate) async fn booking_ids_for(
        &self,
        participant: Option<&ParticipantId>,
        creator: &Creator,
    ) -> Result<Vec<BookingId>, StoreError> {
        self.db
            .query(
                "SELECT id, created_at FROM assistant_bookings WHERE creator = $1 \
                 UNION SELECT b.id, b.created_at FROM assistant_bookings b \
                 JOIN assistant_booking_attendees a ON a.booking_id = b.id \
                 WHERE a.participant_id = $2 ORDER BY 2 DESC, 1",
                vec![
                    creator.to_text().into(),
                    participant.map_or("", ParticipantId::as_str).into(),
                ],
            )
            .await?
            .iter()
            .map(|r| text(r, 0).map(BookingId::new))
            .collect()
    }
}

impl Store {
    /// Holds `participant` for a booking attempt until `until`, under
    /// `token`, unless another attempt (on any instance) holds them.
    /// `false`: one does.
    pub(crate) async fn lock_attendee(
        &self,
        participant: &ParticipantId,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.db
            .write(
                vec![(
                    "INSERT INTO assistant_booking_locks (participant_id, claim_until, claim_token) \
                     VALUES ($1, $2, $3) ON CONFLICT (participant_id) DO UPDATE \
                     SET claim_until = $2, claim_token = $3 \
                     WHERE assistant_booking_locks.claim_until <= $4",
                    vec![
                        participant.as_str().into(),
                        until.into(),
                        token.into(),
                        now.into(),
                    ],
                )],
                true,
            )
            .await
    }

    /// Lets go of what `token` holds.
    pub(crate) async fn unlock_attendees(&self, token: &str) -> Result<(), StoreError> {
        self.db
            .write(
                vec![(
                    "DELETE FROM assistant_booking_locks WHERE claim_token = $1",
                    vec![token.into()],
                )],
                false,
            )
            .await
            .map(|_| ())
    }
}

/// The statements that erase a deleted participant from polls and
/// bookings: their answers and invitations, the polls and bookings they
/// created (with everything under them), their places at others'.
pub(super) fn erase_participant(who: &str) -> Vec<Statement> {
    let creator = Creator::Participant(ParticipantId::new(who)).to_text();
    let by = |sql: &'static str| (sql, vec![Value::from(creator.as_str())]);
    let of = |sql: &'static str| (sql, vec![Value::from(who)]);
    vec![
        by("DELETE FROM assistant_poll_votes WHERE poll_id IN \
            (SELECT id FROM assistant_polls WHERE creator = $1)"),
        by("DELETE FROM assistant_poll_invitees WHERE poll_id IN \
            (SELECT id FROM assistant_polls WHERE creator = $1)"),
        by("DELETE FROM assistant_poll_slots WHERE poll_id IN \
            (SELECT id FROM assistant_polls WHERE creator = $1)"),
        by("DELETE FROM assistant_polls WHERE creator = $1"),
        by(
            "DELETE FROM assistant_booking_attendees WHERE booking_id IN \
            (SELECT id FROM assistant_bookings WHERE creator = $1)",
        ),
        by("DELETE FROM assistant_bookings WHERE creator = $1"),
        of("DELETE FROM assistant_poll_votes WHERE participant_id = $1"),
        of("DELETE FROM assistant_poll_invitees WHERE participant_id = $1"),
        of("DELETE FROM assistant_booking_attendees WHERE participant_id = $1"),
        of("DELETE FROM assistant_booking_locks WHERE participant_id = $1"),
    ]
}
