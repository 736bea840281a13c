//! Who may see and do what: the one access decision every read and write
//! calls. README's "Who may see what" is this file as a table.
//!
//! An actor's [`Relation`] to a participant is worked out once
//! ([`Assistant::relation`]), from the current pairs and groups of
//! programs that are not archived; each operation then asks
//! [`Relation::may`] with its [`Act`]. Programs whose
//! `scheduling_assistant` switch is off give no availability
//! ([`Assistant::readable_programs`]).

use policy_rules::ProgramPolicy;

use crate::error::AssistantError;
use crate::model::{Actor, ParticipantId, ProgramId};

use super::Assistant;

/// What an actor is to a participant, the strongest that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Relation {
    /// No link: another member of the same program without a shared pair
    /// or group, a member of another program, another program's
    /// administrator, or an ended partner.
    Stranger,
    /// Both are members of a current group.
    GroupMember,
    /// Both are in a current mentoring pair.
    Partner,
    /// An administrator of one of the participant's programs.
    ProgramAdministrator,
    /// A global administrator.
    Administrator,
    /// The participant themselves.
    Myself,
}

/// What an operation needs to be allowed to do with a participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Act {
    /// Read their unavailable times, propose slots with them, invite them
    /// to a poll, see their connection state (a fixed reason code, never
    /// the provider's words).
    Schedule,
    /// See the detail: which account is connected, the provider's reason
    /// for a failure, their email.
    SeeDetail,
    /// Set their own hours.
    SetHours,
    /// Connect or disconnect their calendar (their own act only).
    Connect,
}

impl Relation {
    /// Whether this relation allows `act`: the table in one place.
    pub fn may(self, act: Act) -> bool {
        use Relation::{Administrator, Myself, ProgramAdministrator, Stranger};
        match act {
            Act::Schedule => self != Stranger,
            Act::SeeDetail | Act::SetHours => {
                matches!(self, Myself | ProgramAdministrator | Administrator)
            }
            Act::Connect => self == Myself,
        }
    }
}

/// The fixed reason others see when a participant's calendar cannot be
/// read because it must be reconnected.
pub const REASON_RECONNECT: &str = "calendar needs reconnecting";
/// The fixed reason others see for a passing failure.
pub const REASON_UNREADABLE: &str = "calendar could not be read just now";
/// The fixed reason others see when no calendar is connected.
pub const REASON_NOT_CONNECTED: &str = "calendar not connected";

impl Assistant {
    /// What `actor` is to `target` (see [`Relation`]), and the programs
    /// through which it holds: the shared programs of current pairs and
    /// groups, or the target's programs (those in an administrator's
    /// scope). Archived programs link nobody.
    ///
    /// # Errors
    /// [`AssistantError::UnknownParticipant`] for an unknown target or
    /// acting participant.
    pub fn relation(
        &self,
        actor: &Actor,
        target: &ParticipantId,
    ) -> Result<(Relation, Vec<ProgramId>), AssistantError> {
        let records = self.records();
        let (_, target_programs) = records
            .participants
            .get(target)
            .ok_or_else(|| AssistantError::UnknownParticipant(target.clone()))?;
        let live = |p: &ProgramId| !records.archived.contains(p);
        let theirs: Vec<ProgramId> = target_programs
            .iter()
            .filter(|p| live(p))
            .cloned()
            .collect();
        Ok(match actor {
            Actor::Administrator { .. } => (Relation::Administrator, theirs),
            Actor::ProgramAdministrator { programs, .. } => {
                let scoped: Vec<ProgramId> = theirs
                    .into_iter()
                    .filter(|p| programs.contains(p))
                    .collect();
                if scoped.is_empty() {
                    (Relation::Stranger, scoped)
                } else {
                    (Relation::ProgramAdministrator, scoped)
                }
            }
            Actor::Participant(viewer) => {
                if !records.participants.contains_key(viewer) {
                    return Err(AssistantError::UnknownParticipant(viewer.clone()));
                }
                if viewer == target {
                    return Ok((Relation::Myself, theirs));
                }
                let mut shared: Vec<ProgramId> = Vec::new();
                let mut relation = Relation::Stranger;
                let links = records.links();
                let pairs = links
                    .pairs_of
                    .get(viewer)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| records.pairs.get(id));
                for pair in pairs {
                    let linked = (pair.mentor == *viewer && pair.mentee == *target)
                        || (pair.mentee == *viewer && pair.mentor == *target);
                    if linked && live(&pair.program) {
                        relation = Relation::Partner;
                        if !shared.contains(&pair.program) {
                            shared.push(pair.program.clone());
                        }
                    }
                }
                let groups = links
                    .groups_of
                    .get(viewer)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| records.groups.get(id));
                for group in groups {
                    if group.members.contains(viewer)
                        && group.members.contains(target)
                        && live(&group.program)
                    {
                        relation = relation.max(Relation::GroupMember);
                        if !shared.contains(&group.program) {
                            shared.push(group.program.clone());
                        }
                    }
                }
                (relation, shared)
            }
        })
    }

    /// Checks that `actor` may `act` on `target`; returns what the actor is
    /// to them and the programs through which it may.
    ///
    /// # Errors
    /// [`AssistantError::OnBehalfRefused`] for an administrator connecting
    /// for someone, [`AssistantError::NotAllowed`] for anyone else the
    /// table refuses, unknown ids.
    pub(crate) fn allow(
        &self,
        actor: &Actor,
        act: Act,
        target: &ParticipantId,
    ) -> Result<(Relation, Vec<ProgramId>), AssistantError> {
        let (relation, programs) = self.relation(actor, target)?;
        if relation.may(act) {
            return Ok((relation, programs));
        }
        if act == Act::Connect && actor.is_admin() {
            return Err(AssistantError::OnBehalfRefused {
                participant: target.clone(),
            });
        }
        let what = match act {
            Act::Schedule => "schedule with",
            Act::SeeDetail => "see the details of",
            Act::SetHours => "set the hours of",
            Act::Connect => "connect or disconnect the calendar of",
        };
        Err(AssistantError::NotAllowed(format!(
            "this actor may not {what} {target}: only the participant, their current \
             mentoring partners and group members, and their programs' administrators may \
             schedule with them"
        )))
    }

    /// Of `programs`, those whose scheduling switch is on: the programs
    /// through which times may be read and proposed.
    ///
    /// # Errors
    /// [`AssistantError::SchedulingDisabled`] when none is left.
    pub(crate) fn readable_programs(
        &self,
        programs: Vec<ProgramId>,
    ) -> Result<Vec<ProgramId>, AssistantError> {
        let first = programs.first().cloned();
        let on: Vec<ProgramId> = {
            let records = self.records();
            programs
                .into_iter()
                .filter(|p| {
                    records
                        .programs
                        .get(p)
                        .is_some_and(|(_, policy)| policy.scheduling_assistant_enabled())
                })
                .collect()
        };
        match (on.is_empty(), first) {
            (true, Some(first)) => Err(AssistantError::SchedulingDisabled(first)),
            (true, None) => Err(AssistantError::NotAllowed(
                "no current program links this actor to the participant".to_owned(),
            )),
            (false, _) => Ok(on),
        }
    }

    /// Whether `actor` administers `program` (a global administrator
    /// administers every program).
    pub(crate) fn administers(&self, actor: &Actor, program: &ProgramId) -> bool {
        match actor {
            Actor::Administrator { .. } => true,
            Actor::ProgramAdministrator { programs, .. } => programs.contains(program),
            Actor::Participant(_) => false,
        }
    }

    /// Whether a program is live (known and not archived) and its policy.
    pub(crate) fn live_policy(&self, program: &ProgramId) -> Result<ProgramPolicy, AssistantError> {
        if self.records().archived.contains(program) {
            return Err(AssistantError::ProgramArchived(program.clone()));
        }
        self.policy(program)
    }

    /// Only the participant acts on their own connection.
    pub(crate) fn check_self(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<(), AssistantError> {
        self.allow(actor, Act::Connect, participant).map(|_| ())
    }

    pub(crate) fn programs_of(&self, p: &ParticipantId) -> Vec<ProgramId> {
        self.records()
            .participants
            .get(p)
            .map(|(_, programs)| programs.clone())
            .unwrap_or_default()
    }

    pub(crate) fn check_members<'a>(
        &self,
        program: &ProgramId,
        members: impl IntoIterator<Item = &'a ParticipantId>,
    ) -> Result<(), AssistantError> {
        let records = self.records();
        if !records.programs.contains_key(program) {
            return Err(AssistantError::UnknownProgram(program.clone()));
        }
        for m in members {
            let (_, programs) = records
                .participants
                .get(m)
                .ok_or_else(|| AssistantError::UnknownParticipant(m.clone()))?;
            if !programs.contains(program) {
                return Err(AssistantError::invalid(format!(
                    "{m} is not in program {program}"
                )));
            }
        }
        Ok(())
    }
}

/// What an actor is to a stored poll or a booked meeting: whether they
/// manage it (its creator, or an administrator of its program), and which
/// of its invitees (or attendees) they are, if one (the participant
/// themselves only: answering is their own act).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) manages: bool,
    pub(crate) invitee: Option<ParticipantId>,
}

impl Standing {
    /// Whether they may see it at all.
    pub(crate) fn sees(&self) -> bool {
        self.manages || self.invitee.is_some()
    }
}

impl Assistant {
    /// What `actor` is to a poll or booking `creator` made in `program`
    /// for `invitees`: the one rule every poll and booking operation asks.
    /// The creator is who acted (a participant, or an administrator on a
    /// participant's behalf, counts as that participant); a global
    /// administrator and the program's administrators manage it too.
    pub(crate) fn standing(
        &self,
        actor: &Actor,
        creator: &crate::model::Creator,
        program: &ProgramId,
        invitees: &[ParticipantId],
    ) -> Standing {
        let manages =
            crate::model::Creator::of(actor) == *creator || self.administers(actor, program);
        let invitee = match actor {
            Actor::Participant(p) if invitees.contains(p) => Some(p.clone()),
            _ => None,
        };
        Standing { manages, invitee }
    }
}

/// The reason code others see for a read that failed with `e`.
pub(crate) fn reason_code(e: &availability::SourceError) -> &'static str {
    use availability::SourceErrorKind as K;
    match e.kind() {
        K::Unauthorized | K::Forbidden | K::NotFound => REASON_RECONNECT,
        _ => REASON_UNREADABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Relation::*;
        let all = [
            Stranger,
            GroupMember,
            Partner,
            ProgramAdministrator,
            Administrator,
            Myself,
        ];
        let allowed = |act| -> Vec<Relation> { all.into_iter().filter(|r| r.may(act)).collect() };
        assert_eq!(
            allowed(Act::Schedule),
            [
                GroupMember,
                Partner,
                ProgramAdministrator,
                Administrator,
                Myself
            ]
        );
        assert_eq!(
            allowed(Act::SeeDetail),
            [ProgramAdministrator, Administrator, Myself]
        );
        assert_eq!(
            allowed(Act::SetHours),
            [ProgramAdministrator, Administrator, Myself]
        );
        assert_eq!(allowed(Act::Connect), [Myself]);
    }
}
