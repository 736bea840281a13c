//! Programs, participants, pairs and groups: adding them (your service's
//! job, so no actor) and listing them; loading them from the store.

use credential_vault::OwnerId;
use policy_rules::{PolicyLayer, ProgramPolicy};

use crate::error::AssistantError;
use crate::model::{Connection, Group, Pair, Participant, ParticipantId, Program, ProgramId};
use crate::store::{Store, StoreError};

use super::{Assistant, Records};

/// The key of the organisation's policy layer in `assistant_settings`.
pub(crate) const ORG_POLICY_KEY: &str = "org_policy";

/// The organisation's layer in force: the builder's
/// ([`AssistantBuilder::org_policy`](crate::AssistantBuilder::org_policy))
/// overridden field by field by the one an administrator stored at run
/// time ([`Assistant::set_org_policy`]), if any. Read from the store, so
/// every instance sharing it applies the same layer.
///
/// # Errors
/// A storage failure, or stored TOML that no longer parses
/// ([`StoreError::Corrupt`]: it was validated when it was stored).
pub(crate) async fn org_layer(
    store: &Store,
    builder: &PolicyLayer,
) -> Result<PolicyLayer, AssistantError> {
    match store.setting(ORG_POLICY_KEY).await? {
        None => Ok(builder.clone()),
        Some(text) => {
            let stored = PolicyLayer::from_toml(&text)
                .map_err(|e| StoreError::Corrupt(format!("the stored organisation policy: {e}")))?;
            Ok(builder.overridden_by(&stored))
        }
    }
}

/// Every stored record, with each program's policy resolved over the
/// organisation's layer in force ([`org_layer`]: the builder's under the
/// stored one).
pub(crate) async fn load_records(
    store: &Store,
    org_policy: &PolicyLayer,
) -> Result<Records, AssistantError> {
    let org_policy = &org_layer(store, org_policy).await?;
    let mut records = Records::default();
    for (program, archived_at) in store.programs().await? {
        let policy = resolve_policy(org_policy, &program)?;
        if archived_at != 0 {
            records.archived.insert(program.id.clone());
        }
        records
            .programs
            .insert(program.id.clone(), (program, policy));
    }
    for (p, programs) in store.participants().await? {
        records.participants.insert(p.id.clone(), (p, programs));
    }
    for (pair, ended_at) in store.pairs().await? {
        if ended_at == 0 {
            records.pairs.insert(pair.id.clone(), pair);
        } else {
            records
                .ended_pairs
                .insert(pair.id.clone(), (pair, ended_at));
        }
    }
    for group in store.groups().await? {
        records.groups.insert(group.id.clone(), group);
    }
    for c in store.connections().await? {
        records.connections.insert(c.participant.clone(), c);
    }
    for (p, json) in store.hours().await? {
        let hours: policy_rules::ParticipantHours = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("own hours of {p}: {e}")))?;
        records.hours.insert(p, hours);
    }
    Ok(records)
}

pub(crate) fn resolve_policy(
    org: &PolicyLayer,
    program: &Program,
) -> Result<ProgramPolicy, AssistantError> {
    let layer = PolicyLayer::from_toml(&program.policy_toml).map_err(|e| {
        AssistantError::invalid_because(format_args!("policy of program {}", program.id), e)
    })?;
    ProgramPolicy::resolve(org, &layer).map_err(|e| {
        AssistantError::invalid_because(format_args!("policy of program {}", program.id), e)
    })
}

impl Assistant {
    /// Adds or updates a program; its policy TOML must resolve over the
    /// organisation's layer in force (the builder's under the one stored
    /// with [`set_org_policy`](Self::set_org_policy)).
    ///
    /// # Errors
    /// [`AssistantError::Invalid`] for a bad policy, or a storage failure.
    pub async fn add_program(&self, program: Program) -> Result<(), AssistantError> {
        let org = org_layer(&self.inner.store, &self.inner.org_policy).await?;
        let policy = resolve_policy(&org, &program)?;
        self.inner.store.put_program(&program).await?;
        self.records_mut()
            .programs
            .insert(program.id.clone(), (program, policy));
        Ok(())
    }

    /// Adds or updates a participant and enrols them in `programs` (added
    /// to their existing programs). Their time zone must be an IANA name,
    /// their email unique.
    ///
    /// # Errors
    /// [`AssistantError::Invalid`], [`AssistantError::UnknownProgram`], or
    /// a storage failure.
    pub async fn add_participant(
        &self,
        participant: Participant,
        programs: &[ProgramId],
    ) -> Result<(), AssistantError> {
        self.sync().await;
        policy_rules::Zone::new(&participant.time_zone)
            .map_err(|e| AssistantError::invalid(format!("participant {}: {e}", participant.id)))?;
        if !participant.email.contains('@') || OwnerId::new(&participant.email).is_err() {
            return Err(AssistantError::invalid(format!(
                "participant {}: not an email address",
                participant.id
            )));
        }
        let mut all = {
            let records = self.records();
            for program in programs {
                if !records.programs.contains_key(program) {
                    return Err(AssistantError::UnknownProgram(program.clone()));
                }
            }
            if records.participants.values().any(|(p, _)| {
                p.id != participant.id && p.email.eq_ignore_ascii_case(&participant.email)
            }) {
                return Err(AssistantError::invalid(format!(
                    "another participant has the email of {}",
                    participant.id
                )));
            }
            records
                .participants
                .get(&participant.id)
                .map(|(_, p)| p.clone())
                .unwrap_or_default()
        };
        for p in programs {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        self.inner.store.put_participant(&participant, &all).await?;
        if let Some(org) = &self.inner.org
            && !self.records().connections.contains_key(&participant.id)
        {
            org.connect_automatically(std::slice::from_ref(&participant.email))
                .await;
        }
        if let Some(zones) = &self.inner.zones {
            if let Some((old, _)) = self.records().participants.get(&participant.id)
                && !old.email.eq_ignore_ascii_case(&participant.email)
            {
                zones.set(&old.email, None);
            }
            zones.set(&participant.email, Some(&participant.time_zone));
        }
        self.records_mut()
            .participants
            .insert(participant.id.clone(), (participant, all));
        Ok(())
    }

    /// Adds or updates a mentoring connection; both must be in its program.
    ///
    /// # Errors
    /// Unknown ids, [`AssistantError::Invalid`] when someone is not in the
    /// program or is paired with themselves, or a storage failure.
    pub async fn add_pair(&self, pair: Pair) -> Result<(), AssistantError> {
        if pair.mentor == pair.mentee {
            return Err(AssistantError::invalid(
                "a pair needs two participants".to_owned(),
            ));
        }
        self.sync().await;
        self.check_members(&pair.program, [&pair.mentor, &pair.mentee])?;
        self.inner.store.put_pair(&pair).await?;
        let mut records = self.records_mut();
        // Adding an ended pair again starts it again.
        records.ended_pairs.remove(&pair.id);
        records.pairs.insert(pair.id.clone(), pair);
        Ok(())
    }

    /// Adds or updates a group; every member must be in its program.
    ///
    /// # Errors
    /// As [`add_pair`](Self::add_pair).
    pub async fn add_group(&self, group: Group) -> Result<(), AssistantError> {
        self.sync().await;
        self.check_members(&group.program, group.members.iter())?;
        self.inner.store.put_group(&group).await?;
        self.records_mut().groups.insert(group.id.clone(), group);
        Ok(())
    }

    /// Every program, archived ones too ([`is_archived`](Self::is_archived)).
    pub fn programs(&self) -> Vec<Program> {
        self.records()
            .programs
            .values()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// A program's resolved policy.
    ///
    /// # Errors
    /// [`AssistantError::UnknownProgram`].
    pub fn policy(&self, program: &ProgramId) -> Result<ProgramPolicy, AssistantError> {
        self.records()
            .programs
            .get(program)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| AssistantError::UnknownProgram(program.clone()))
    }

    /// Every participant with their programs.
    pub fn participants(&self) -> Vec<(Participant, Vec<ProgramId>)> {
        self.records().participants.values().cloned().collect()
    }

    /// One participant.
    ///
    /// # Errors
    /// [`AssistantError::UnknownParticipant`].
    pub fn participant(&self, id: &ParticipantId) -> Result<Participant, AssistantError> {
        self.records()
            .participants
            .get(id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| AssistantError::UnknownParticipant(id.clone()))
    }

    /// Every current pair (ended ones: [`pair_history`](Self::pair_history)).
    pub fn pairs(&self) -> Vec<Pair> {
        self.records().pairs.values().cloned().collect()
    }

    /// Every group.
    pub fn groups(&self) -> Vec<Group> {
        self.records().groups.values().cloned().collect()
    }

    /// The stored connection of a participant (no secret), if any.
    pub fn connection(&self, id: &ParticipantId) -> Option<Connection> {
        self.records().connections.get(id).cloned()
    }
}
