//! Mutual slots of a pair and group polls: the request, the proposal.

use std::collections::HashMap;
use std::time::Duration;

use availability::{Interval, IntervalSet, SlotError, find_slots};
use policy_rules::{HoursIn, ProgramPolicy, Zone};
use serde::Serialize;

use crate::busy::FetchCounts;
use crate::error::AssistantError;
use crate::model::{Actor, GroupId, PairId, ParticipantId, ProgramId};

use super::access::{Act, reason_code};
use super::{Assistant, Relation};

/// A proposed slot and who can make it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct ProposedSlot {
    /// When.
    pub interval: Interval,
    /// Invitees free for the whole slot.
    pub free: Vec<ParticipantId>,
    /// Invitees with something blocking during it.
    pub unavailable: Vec<ParticipantId>,
    /// Invitees whose calendar is not connected or could not be read:
    /// never counted as free.
    pub unknown: Vec<ParticipantId>,
}

/// Proposed slots for a meeting (a 1:1 or a group poll).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Proposal {
    /// How many invitees.
    pub invitees: usize,
    /// How many of them have connected a calendar.
    pub connected: usize,
    /// The slots, ranked by free count (descending) then start, none
    /// overlapping a better one.
    pub slots: Vec<ProposedSlot>,
    /// Invitees whose calendar could not be read this time, and why.
    pub problems: Vec<Problem>,
    /// "k of n invitees have connected a calendar".
    pub connected_text: String,
}

/// An invitee whose calendar could not be read for a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
pub struct Problem {
    /// Who.
    pub participant: ParticipantId,
    /// Why: the provider's words (never a secret) to the participant and
    /// administrators, a fixed reason code
    /// ([`REASON_RECONNECT`](crate::REASON_RECONNECT),
    /// [`REASON_UNREADABLE`](crate::REASON_UNREADABLE)) to anyone else.
    pub reason: String,
}

impl Proposal {
    /// "k of n invitees have connected a calendar".
    pub fn connected_text(&self) -> &str {
        &self.connected_text
    }
}

/// What to look for: a meeting length inside a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRequest {
    /// The meeting length (whole seconds).
    pub duration: Duration,
    /// Where to look (the program's bookable hours inside it).
    pub window: Interval,
    /// At most this many slots (default 5).
    pub limit: usize,
    /// At least this many invitees free; `None`: every invitee whose
    /// calendar is known.
    pub min_free: Option<u32>,
}

impl SlotRequest {
    /// `duration` slots in `window`, at most 5, everyone known free.
    pub fn new(duration: Duration, window: Interval) -> Self {
        Self {
            duration,
            window,
            limit: 5,
            min_free: None,
        }
    }

    /// At most `n` slots.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// At least `k` invitees free.
    #[must_use]
    pub fn min_free(mut self, k: u32) -> Self {
        self.min_free = Some(k);
        self
    }
}

/// Who a poll is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invitees {
    /// Every member of a group, under its program's policy.
    Group(GroupId),
    /// These participants, under this program's policy.
    List {
        /// The program.
        program: ProgramId,
        /// The invitees (each must be in the program).
        participants: Vec<ParticipantId>,
    },
}

impl Assistant {
    /// The best mutual slots of a pair under its program's policy: slots
    /// where both are free (or, with one calendar unknown, where the other
    /// is), distinct, ranked by start.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] unless the actor is in the pair (or
    /// an administrator); [`AssistantError::SchedulingDisabled`];
    /// [`AssistantError::Invalid`] for a bad duration.
    pub async fn mutual_slots(
        &self,
        actor: &Actor,
        pair: &PairId,
        request: SlotRequest,
    ) -> Result<Proposal, AssistantError> {
        self.sync().await;
        let pair = self
            .records()
            .pairs
            .get(pair)
            .cloned()
            .ok_or_else(|| AssistantError::UnknownPair(pair.clone()))?;
        // The pair's own two, or an administrator of its program.
        let allowed = match actor {
            Actor::Participant(p) => *p == pair.mentor || *p == pair.mentee,
            _ => {
                let (relation, programs) = self.relation(actor, &pair.mentor)?;
                relation >= Relation::ProgramAdministrator && programs.contains(&pair.program)
            }
        };
        if !allowed {
            return Err(AssistantError::NotAllowed(format!(
                "only the pair {} and its program's administrators see its slots",
                pair.id
            )));
        }
        self.propose(
            actor,
            &pair.program,
            &[pair.mentor, pair.mentee],
            request,
            false,
        )
        .await
    }

    /// A group poll: `request.limit` distinct slots ranked by how many
    /// invitees are free, then by start, each with its free, unavailable
    /// and unknown invitees, and how many invitees have connected a
    /// calendar. An invitee without a calendar, or whose calendar could not
    /// be read, is unknown, never free; a provider failure never fails the
    /// poll.
    ///
    /// # Errors
    /// [`AssistantError::GroupPollsDisabled`],
    /// [`AssistantError::NotAllowed`] for a participant outside the group
    /// or program, unknown ids, [`AssistantError::Invalid`].
    pub async fn poll(
        &self,
        actor: &Actor,
        invitees: &Invitees,
        request: SlotRequest,
    ) -> Result<Proposal, AssistantError> {
        self.sync().await;
        let (program, people) = self.poll_people(actor, invitees)?;
        self.propose(actor, &program, &people, request, true).await
    }

    /// Who a poll of `invitees` is for and under which program, if
    /// `actor` may poll them (group members and the program's
    /// administrators poll a group; a list is the caller and people they
    /// share a current pair or group with) and the program has group polls
    /// on.
    pub(crate) fn poll_people(
        &self,
        actor: &Actor,
        invitees: &Invitees,
    ) -> Result<(ProgramId, Vec<ParticipantId>), AssistantError> {
        let (program, people) = match invitees {
            Invitees::Group(id) => {
                let group = self
                    .records()
                    .groups
                    .get(id)
                    .cloned()
                    .ok_or_else(|| AssistantError::UnknownGroup(id.clone()))?;
                let allowed = match actor {
                    Actor::Participant(p) => group.members.contains(p),
                    _ => self.administers(actor, &group.program),
                };
                if !allowed {
                    return Err(AssistantError::NotAllowed(format!(
                        "only members of group {id} and its program's administrators poll it"
                    )));
                }
                (group.program, group.members)
            }
            Invitees::List {
                program,
                participants,
            } => {
                self.check_members(program, participants.iter())?;
                // Every invitee: the caller, or someone the caller shares a
                // current pair or group of this program with (an
                // administrator: anyone of a program they administer).
                for p in participants {
                    let (relation, through) = self.relation(actor, p)?;
                    if !relation.may(Act::Schedule) || !through.contains(program) {
                        return Err(AssistantError::NotAllowed(format!(
                            "{p} may be invited only by themselves, their current partners and \
                             group members in program {program}, and its administrators"
                        )));
                    }
                }
                (program.clone(), participants.clone())
            }
        };
        if !self.live_policy(&program)?.group_polls_enabled() {
            return Err(AssistantError::GroupPollsDisabled(program));
        }
        Ok((program, people))
    }

    pub(crate) async fn propose(
        &self,
        actor: &Actor,
        program: &ProgramId,
        people: &[ParticipantId],
        request: SlotRequest,
        rank_by_free: bool,
    ) -> Result<Proposal, AssistantError> {
        let policy = self.live_policy(program)?;
        if !policy.scheduling_assistant_enabled() {
            return Err(AssistantError::SchedulingDisabled(program.clone()));
        }
        let mut unique: Vec<ParticipantId> = Vec::with_capacity(people.len());
        {
            let records = self.records();
            let mut seen = std::collections::HashSet::with_capacity(people.len());
            for p in people {
                if !records.participants.contains_key(p) {
                    return Err(AssistantError::UnknownParticipant(p.clone()));
                }
                if seen.insert(p) {
                    unique.push(p.clone());
                }
            }
        }
        let zones = self.zones_of(&unique, &policy);
        let bookable = bookable_for(&policy, request.window, self.inner.clock.now(), &zones);
        let bookable = self.within_own_hours(bookable, &unique, &policy, request.window);
        let blocking = policy.blocking();
        let (before, after) = buffers(&policy);
        // Busy time just outside the bookable span still reaches into it
        // through the buffers: read that far.
        let span = bookable.span().and_then(|span| {
            Interval::new(
                span.start().saturating_sub(after).max(Interval::MIN_SECOND),
                span.end().saturating_add(before).min(Interval::MAX_SECOND),
            )
            .ok()
        });
        let (busy, _) = match span {
            Some(span) => self.busy(&unique, span, false, true).await,
            None => (HashMap::new(), FetchCounts::default()),
        };
        let mut problems = Vec::new();
        let mut connected = 0;
        let mut sets: Vec<Option<IntervalSet>> = Vec::with_capacity(unique.len());
        for p in &unique {
            connected += usize::from(self.counts_as_connected(p).await);
            sets.push(match busy.get(p) {
                Some(Some(Ok(fb))) => {
                    let unavailable = fb.unavailable(blocking);
                    Some(if before == 0 && after == 0 {
                        unavailable
                    } else {
                        unavailable.widen(before, after)
                    })
                }
                Some(Some(Err(e))) => {
                    // The provider's words to the participant and their
                    // administrators; a fixed code to everyone else.
                    let detail = self
                        .relation(actor, p)
                        .is_ok_and(|(r, _)| r.may(Act::SeeDetail));
                    problems.push(Problem {
                        participant: p.clone(),
                        reason: if detail {
                            e.to_string()
                        } else {
                            reason_code(e).to_owned()
                        },
                    });
                    None
                }
                _ => None,
            });
        }
        let known = u32::try_from(sets.iter().filter(|s| s.is_some()).count()).unwrap_or(u32::MAX);
        let min_free = request.min_free.unwrap_or(known).max(1);
        let query = policy
            .slot_query(request.duration, &bookable)
            .min_free(min_free)
            .limit(request.limit)
            .distinct(true);
        let found = find_slots(&bookable, sets.iter().map(Option::as_ref), query)
            .map_err(|e: SlotError| AssistantError::invalid_cause(e))?;
        let mut slots: Vec<ProposedSlot> = found
            .into_iter()
            .map(|s| ProposedSlot {
                interval: s.interval,
                free: s.free.iter().map(|&i| unique[i].clone()).collect(),
                unavailable: s.unavailable.iter().map(|&i| unique[i].clone()).collect(),
                unknown: s.unknown.iter().map(|&i| unique[i].clone()).collect(),
            })
            .collect();
        if !rank_by_free {
            slots.sort_by_key(|s| s.interval.start());
        }
        Ok(Proposal {
            invitees: unique.len(),
            connected,
            slots,
            problems,
            connected_text: format!(
                "{connected} of {} invitees have connected a calendar",
                unique.len()
            ),
        })
    }

    /// `bookable` narrowed by every invitee's own hours (those who set
    /// some), each read in the invitee's zone.
    pub(crate) fn within_own_hours(
        &self,
        bookable: IntervalSet,
        invitees: &[ParticipantId],
        policy: &ProgramPolicy,
        window: Interval,
    ) -> IntervalSet {
        let records = self.records();
        invitees.iter().fold(bookable, |bookable, id| {
            let Some(hours) = records.hours.get(id) else {
                return bookable;
            };
            let zone = records
                .participants
                .get(id)
                .and_then(|(p, _)| Zone::new(&p.time_zone).ok())
                .unwrap_or_else(|| policy.time_zone().clone());
            bookable.intersection(&hours.windows(window, &zone))
        })
    }

    /// The zones the invitees' hours are read in: each one's own (their
    /// profile's IANA name, checked when they were added; the program's if
    /// a stored one no longer parses), or only the program's with
    /// `hours_in = "program"`. Without repeats.
    pub(crate) fn zones_of(&self, invitees: &[ParticipantId], policy: &ProgramPolicy) -> Vec<Zone> {
        if policy.hours_in() == HoursIn::Program {
            return vec![policy.time_zone().clone()];
        }
        let records = self.records();
        let mut zones: Vec<Zone> = Vec::new();
        // Each distinct zone name is looked up once (a group shares a few).
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for id in invitees {
            let Some((p, _)) = records.participants.get(id) else {
                continue;
            };
            if !seen.insert(p.time_zone.as_str()) {
                continue;
            }
            let zone = Zone::new(&p.time_zone).unwrap_or_else(|e| {
                tracing::warn!(participant = %id, error = %e, "stored time zone unreadable: the program's is used");
                policy.time_zone().clone()
            });
            if !zones.iter().any(|z| z.name() == zone.name()) {
                zones.push(zone);
            }
        }
        zones
    }
}

/// The policy's buffers in seconds: before and after every busy interval.
pub(crate) fn buffers(policy: &ProgramPolicy) -> (i64, i64) {
    let secs = |d: policy_rules::PolicyDuration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    (secs(policy.buffer_before()), secs(policy.buffer_after()))
}

/// The instants a meeting of these invitees may take place in `window`:
/// inside the program's days and hours read in every zone of `zones`
/// (each invitee's own, or the program's alone), within its notice and
/// horizon. With no zone, the program's.
pub(crate) fn bookable_for(
    policy: &ProgramPolicy,
    window: Interval,
    now: jiff::Timestamp,
    zones: &[Zone],
) -> IntervalSet {
    let Some((first, rest)) = zones.split_first() else {
        return policy.bookable(window, now);
    };
    rest.iter()
        .fold(policy.bookable_in(window, now, first), |bookable, zone| {
            if bookable.is_empty() {
                bookable
            } else {
                bookable.intersection(&policy.bookable_in(window, now, zone))
            }
        })
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use proptest::prelude::*;

    use super::*;

    const ZONES: [&str; 6] = [
        "America/New_York",
        "Europe/London",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "UTC",
    ];

    /// Whether `second` lies in the policy's working day in `zone`: an
    /// allowed weekday and a local time in `[day_start, day_end)`.
    fn in_local_day(policy: &ProgramPolicy, zone: &str, second: i64) -> bool {
        let tz = TimeZone::get(zone).unwrap();
        let local = tz.to_datetime(Timestamp::from_second(second).unwrap());
        let minutes = i64::from(local.hour()) * 60 + i64::from(local.minute());
        let start = i64::from(policy.day_start().minutes());
        let end = i64::from(policy.day_end().minutes());
        policy.days().contains(local.weekday()) && start <= minutes && minutes < end
    }

    proptest! {
        // Failures are reported, never written into the source tree.
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Every bookable instant lies in every invitee's own working day,
        /// and every instant in all of them is bookable (sampled each 15
        /// minutes over a week from a random day of 2026).
        #[test]
        fn bookable_is_exactly_every_invitees_local_day(
            picks in prop::collection::vec(0usize..ZONES.len(), 1..4),
            day in 0i64..365,
        ) {
            let policy = ProgramPolicy::from_toml("time_zone = \"Europe/London\"").unwrap();
            let names: Vec<&str> = picks.iter().map(|&i| ZONES[i]).collect();
            let zones: Vec<Zone> = names.iter().map(|n| Zone::new(n).unwrap()).collect();
            let start = 1_767_225_600 + day * 86_400; // 1 January 2026, 00:00Z
            let window = Interval::new(start, start + 7 * 86_400).unwrap();
            let bookable = bookable_for(&policy, window, Timestamp::from_second(start).unwrap(), &zones);
            let mut t = start;
            while t < start + 7 * 86_400 {
                let everyone = names.iter().all(|z| in_local_day(&policy, z, t));
                prop_assert_eq!(bookable.contains(t), everyone, "{} in {:?}", t, names);
                t += 900;
            }
        }
    }

    #[test]
    fn hours_in_program_reads_the_programs_zone_only() {
        let policy = ProgramPolicy::from_toml("time_zone = \"Europe/London\"").unwrap();
        let window = Interval::new(1_773_014_400, 1_773_100_800).unwrap(); // Mon 9 March 2026
        let now = Timestamp::from_second(1_773_014_400 - 86_400).unwrap();
        let london = bookable_for(&policy, window, now, &[policy.time_zone().clone()]);
        assert_eq!(london, policy.bookable(window, now));
        assert_eq!(bookable_for(&policy, window, now, &[]), london);
        let ny = Zone::new("America/New_York").unwrap();
        let both = bookable_for(&policy, window, now, &[policy.time_zone().clone(), ny]);
        // 12:00-18:00 London is 08:00-14:00 New York (EDT, before the UK's
        // clocks change on 29 March).
        assert_eq!(
            both.as_slice(),
            &[Interval::new(1_773_057_600, 1_773_079_200).unwrap()]
        );
    }
}
