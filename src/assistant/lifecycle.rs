//! Partnerships that end: ending a pair, taking someone out of a group or
//! a program, deleting a participant, archiving a program; and listing
//! only the people a caller may schedule with.
//!
//! Like adding records, these are your service's decisions (it knows who
//! administers what), so they take no actor. Each is one store
//! transaction that bumps the records' revision: every instance sharing
//! the database sees it at its next call.

use credential_vault::SecretKind;
use serde::Serialize;

use crate::error::{AssistantError, vault_error};
use crate::model::{Actor, GroupId, Pair, PairId, ParticipantId, ProgramId};

use super::access::Act;
use super::attempts::attempt_owner;
use super::{Assistant, Records, Relation};

/// A pair that ended: who was paired, in which program, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndedPair {
    /// The pair as it was.
    pub pair: Pair,
    /// When it ended (Unix seconds).
    pub ended_at: i64,
}

/// A participant as a caller may see them in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema), schema(as = Participant))]
pub struct Listed {
    /// Who.
    pub id: ParticipantId,
    /// Their name.
    pub name: String,
    /// Their IANA zone (times are shown in it).
    pub time_zone: String,
    /// Their live programs the caller shares or administers.
    pub programs: Vec<ProgramId>,
    /// Their email: only to themselves and their administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// What the caller is to them.
    pub relation: Relation,
}

impl Assistant {
    /// Ends a mentoring pair now: the two no longer see each other's
    /// availability (on every instance, at its next call). The pair stays
    /// in [`pair_history`](Self::pair_history); no busy time is kept for
    /// it. Adding the pair again starts it again.
    ///
    /// # Errors
    /// [`AssistantError::UnknownPair`] (also for a pair already ended),
    /// storage failures.
    pub async fn end_pair(&self, pair: &PairId) -> Result<(), AssistantError> {
        self.sync().await;
        if !self.records().pairs.contains_key(pair) {
            return Err(AssistantError::UnknownPair(pair.clone()));
        }
        let now = self.now_secs();
        self.inner.store.end_pair(pair, now).await?;
        end_pairs(&mut self.records_mut(), now, [pair.clone()]);
        Ok(())
    }

    /// Every ended pair, with when it ended.
    pub fn pair_history(&self) -> Vec<EndedPair> {
        self.records()
            .ended_pairs
            .values()
            .map(|(pair, ended_at)| EndedPair {
                pair: pair.clone(),
                ended_at: *ended_at,
            })
            .collect()
    }

    /// Takes a participant out of a group.
    ///
    /// # Errors
    /// [`AssistantError::UnknownGroup`], [`AssistantError::Invalid`] when
    /// they are not in it, storage failures.
    pub async fn remove_from_group(
        &self,
        group: &GroupId,
        participant: &ParticipantId,
    ) -> Result<(), AssistantError> {
        self.sync().await;
        let members = self
            .records()
            .groups
            .get(group)
            .map(|g| g.members.clone())
            .ok_or_else(|| AssistantError::UnknownGroup(group.clone()))?;
        if !members.contains(participant) {
            return Err(AssistantError::invalid(format!(
                "{participant} is not in group {group}"
            )));
        }
        self.inner
            .store
            .remove_group_member(group, participant)
            .await?;
        if let Some(g) = self.records_mut().groups.get_mut(group) {
            g.members.retain(|m| m != participant);
        }
        Ok(())
    }

    /// Takes a participant out of a program: their pairs in it end, they
    /// leave its groups, and its policy no longer applies to them.
    ///
    /// # Errors
    /// Unknown ids, [`AssistantError::Invalid`] when they are not in it,
    /// storage failures.
    pub async fn remove_from_program(
        &self,
        participant: &ParticipantId,
        program: &ProgramId,
    ) -> Result<(), AssistantError> {
        self.sync().await;
        if !self.programs_of(participant).contains(program) {
            self.participant(participant)?;
            return Err(AssistantError::invalid(format!(
                "{participant} is not in program {program}"
            )));
        }
        let now = self.now_secs();
        self.inner
            .store
            .remove_membership(participant, program, now)
            .await?;
        let mut records = self.records_mut();
        if let Some((_, programs)) = records.participants.get_mut(participant) {
            programs.retain(|p| p != program);
        }
        end_pairs_where(&mut records, now, |p| {
            p.program == *program && (p.mentor == *participant || p.mentee == *participant)
        });
        for g in records.groups.values_mut() {
            if g.program == *program {
                g.members.retain(|m| m != participant);
            }
        }
        Ok(())
    }

    /// Deletes a participant and everything of theirs: the connection (the
    /// provider's grant revoked where the provider allows, Google's; the
    /// secret deleted from the vault), cached busy times, OAuth attempts
    /// (and their sealed verifiers), own hours, group memberships, pairs,
    /// program memberships and the participant. On SQLite the deleted rows
    /// are overwritten (`secure_delete`) and the write-ahead log emptied,
    /// so no byte of theirs stays in the file. Returns whether they
    /// existed.
    ///
    /// # Errors
    /// Storage and vault failures (nothing is half deleted from the
    /// records: their rows go in one transaction, after the secrets).
    pub async fn delete_participant(
        &self,
        participant: &ParticipantId,
    ) -> Result<bool, AssistantError> {
        self.sync().await;
        if self.participant(participant).is_err() {
            return Ok(false);
        }
        if let Some(old) = self.connection(participant) {
            self.delete_secret(&old).await?;
        }
        for hash in self.inner.store.take_attempts_of(participant).await? {
            self.inner
                .vault
                .delete(&attempt_owner(&hash)?, SecretKind::OauthAttempt)
                .await
                .map_err(vault_error)?;
        }
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, p| p.participant != *participant);
        self.inner.cache.forget(participant).await;
        self.inner.store.delete_participant(participant).await?;
        let email = {
            let mut records = self.records_mut();
            let email = records
                .participants
                .remove(participant)
                .map(|(p, _)| p.email);
            records.connections.remove(participant);
            records.hours.remove(participant);
            records
                .pairs
                .retain(|_, p| p.mentor != *participant && p.mentee != *participant);
            records
                .ended_pairs
                .retain(|_, (p, _)| p.mentor != *participant && p.mentee != *participant);
            for g in records.groups.values_mut() {
                g.members.retain(|m| m != participant);
            }
            email
        };
        if let (Some(zones), Some(email)) = (&self.inner.zones, email) {
            zones.set(&email, None);
        }
        // A read that was in flight may have stored their times after the
        // first forget: forget again once the records are gone.
        self.inner.cache.forget(participant).await;
        // Nor when they were last asked for (the store's row went with the
        // records).
        self.inner
            .demand
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(participant);
        // No older copy of their rows stays in SQLite's log.
        self.inner.store.erase_freed().await;
        tracing::info!(%participant, "participant deleted");
        Ok(true)
    }

    /// Archives a program: its pairs end, it links nobody, and nothing is
    /// read, proposed or connected through it. Its records stay.
    ///
    /// # Errors
    /// [`AssistantError::UnknownProgram`], storage failures.
    pub async fn archive_program(&self, program: &ProgramId) -> Result<(), AssistantError> {
        self.sync().await;
        self.policy(program)?;
        let now = self.now_secs();
        self.inner.store.archive_program(program, now).await?;
        let mut records = self.records_mut();
        records.archived.insert(program.clone());
        end_pairs_where(&mut records, now, |p| p.program == *program);
        Ok(())
    }

    /// Whether a program is archived.
    pub fn is_archived(&self, program: &ProgramId) -> bool {
        self.records().archived.contains(program)
    }

    /// The participants `actor` may schedule with, as they may see them: a
    /// participant sees themselves, their current partners and group
    /// members; an administrator the people of the programs they
    /// administer. Emails only to the person and administrators.
    pub async fn visible_participants(&self, actor: &Actor) -> Vec<Listed> {
        self.sync().await;
        let ids: Vec<ParticipantId> = self.records().participants.keys().cloned().collect();
        let mut out = Vec::new();
        for id in ids {
            let Ok((relation, programs)) = self.relation(actor, &id) else {
                continue;
            };
            if !relation.may(Act::Schedule) {
                continue;
            }
            let Ok(p) = self.participant(&id) else {
                continue;
            };
            out.push(Listed {
                email: relation.may(Act::SeeDetail).then(|| p.email.clone()),
                id: p.id,
                name: p.name,
                time_zone: p.time_zone,
                programs,
                relation,
            });
        }
        out
    }
}

/// Moves the current pairs that `ends` picks to the ended ones, ended at
/// `now` (the store has ended them in the same way).
fn end_pairs_where(records: &mut Records, now: i64, ends: impl Fn(&Pair) -> bool) {
    let ids: Vec<PairId> = records
        .pairs
        .values()
        .filter(|p| ends(p))
        .map(|p| p.id.clone())
        .collect();
    end_pairs(records, now, ids);
}

/// Moves the current pairs `ids` to the ended ones, ended at `now`.
fn end_pairs(records: &mut Records, now: i64, ids: impl IntoIterator<Item = PairId>) {
    for id in ids {
        if let Some(pair) = records.pairs.remove(&id) {
            records.ended_pairs.insert(id, (pair, now));
        }
    }
}
