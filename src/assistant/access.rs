//! Who may see and do what: the checks every read and write calls.

use crate::error::AssistantError;
use crate::model::{Actor, ParticipantId, ProgramId};

use super::Assistant;

impl Assistant {
    /// Only the participant acts on their own connection.
    pub(crate) fn check_self(
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<(), AssistantError> {
        match actor {
            Actor::Participant(p) if p == participant => Ok(()),
            Actor::Participant(_) => Err(AssistantError::NotAllowed(format!(
                "only {participant} can connect or disconnect their calendar"
            ))),
            Actor::Administrator { .. } => Err(AssistantError::OnBehalfRefused {
                participant: participant.clone(),
            }),
        }
    }

    /// The programs linking viewer and target (pairs and groups both are
    /// in), or `None` when they are not linked.
    pub(crate) fn shared_programs(
        &self,
        viewer: &ParticipantId,
        target: &ParticipantId,
    ) -> Vec<ProgramId> {
        let records = self.records();
        let mut out: Vec<ProgramId> = Vec::new();
        for pair in records.pairs.values() {
            let linked = (pair.mentor == *viewer && pair.mentee == *target)
                || (pair.mentee == *viewer && pair.mentor == *target);
            if linked && !out.contains(&pair.program) {
                out.push(pair.program.clone());
            }
        }
        for group in records.groups.values() {
            if group.members.contains(viewer)
                && group.members.contains(target)
                && !out.contains(&group.program)
            {
                out.push(group.program.clone());
            }
        }
        out
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
