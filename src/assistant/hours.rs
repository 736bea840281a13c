//! A participant's own hours: narrower weekly hours and date overrides in
//! their zone, inside their programs' (see `policy_rules::ParticipantHours`).

use policy_rules::ParticipantHours;

use super::Assistant;
use crate::error::AssistantError;
use crate::model::{Actor, ParticipantId};

impl Assistant {
    /// Sets a participant's own hours (an empty value removes them: the
    /// programs' hours apply as they are). Stored, and used by every
    /// instance sharing the store.
    ///
    /// Who may: the participant, or an administrator of one of their
    /// programs (or a global one), acting for themselves or on the
    /// participant's behalf.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for another participant,
    /// [`AssistantError::UnknownParticipant`], [`AssistantError::Invalid`]
    /// for a range that does not end after it starts, storage failures.
    pub async fn set_own_hours(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        hours: ParticipantHours,
    ) -> Result<(), AssistantError> {
        self.sync().await;
        self.allow(actor, super::Act::SetHours, participant)?;
        hours
            .validate()
            .map_err(|e| AssistantError::invalid(format!("hours of {participant}: {e}")))?;
        let json = if hours.is_unrestricted() {
            None
        } else {
            Some(serde_json::to_string(&hours).map_err(AssistantError::invalid_cause)?)
        };
        self.inner.store.put_hours(participant, json).await?;
        let mut records = self.records_mut();
        if hours.is_unrestricted() {
            records.hours.remove(participant);
        } else {
            records.hours.insert(participant.clone(), hours);
        }
        Ok(())
    }

    /// A participant's own hours (empty when they narrowed nothing).
    ///
    /// # Errors
    /// [`AssistantError::UnknownParticipant`].
    pub fn own_hours(
        &self,
        participant: &ParticipantId,
    ) -> Result<ParticipantHours, AssistantError> {
        self.participant(participant)?;
        Ok(self
            .records()
            .hours
            .get(participant)
            .cloned()
            .unwrap_or_default())
    }

    /// A participant's own hours as `actor` may read them: the
    /// participant and their administrators (as for setting them).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for anyone else, unknown ids.
    pub async fn own_hours_for(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<ParticipantHours, AssistantError> {
        self.sync().await;
        self.allow(actor, super::Act::SetHours, participant)?;
        self.own_hours(participant)
    }
}
