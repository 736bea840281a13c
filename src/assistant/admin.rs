//! The administrator's operations, each under one rule: organisation-level
//! things (its policy layer, creating programs, the organisation
//! integrations) are a global administrator's; a program's things (its
//! policy, enrolling its participants, its pairs and groups, its
//! connections report) are its administrators' (a global administrator
//! administers every program, see [`Assistant::administers`]); a
//! participant may do none of it.
//!
//! Policies change at run time and apply on every instance: the
//! organisation's layer is stored in `assistant_settings` (`org_policy`),
//! over the builder's ([`AssistantBuilder::org_policy`](crate::AssistantBuilder::org_policy)):
//! a key the stored layer sets wins, a key it leaves unset keeps the
//! builder's value. Every write bumps the records' revision, so other
//! instances reload them (and the layer) at their next sync.

use jiff::Timestamp;
use org_wide_auth::{
    ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind, IntegrationStatus,
};
use policy_rules::{PolicyLayer, ProgramPolicy, Provider};
use serde::Serialize;

use crate::error::AssistantError;
use crate::model::{Actor, Group, Pair, Participant, ParticipantId, Program, ProgramId};

use super::records::{ORG_POLICY_KEY, resolve_policy};
use super::{Assistant, ConnectionStatus};

/// How many of a program's participants are connected, by provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ConnectedCounts {
    /// Their own Google calendar.
    pub google: usize,
    /// Their own Microsoft calendar.
    pub microsoft: usize,
    /// Their own iCloud calendar.
    pub icloud: usize,
    /// Through an organisation integration.
    pub organisation: usize,
}

impl ConnectedCounts {
    /// All of them.
    pub fn total(&self) -> usize {
        self.google + self.microsoft + self.icloud + self.organisation
    }
}

/// One participant in a [`ProgramReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ParticipantReport {
    /// Who.
    pub participant: ParticipantId,
    /// Their name.
    pub name: String,
    /// Their connection status, with the provider's reason (the report is
    /// for administrators); never the connected account.
    pub status: ConnectionStatus,
    /// When their calendar was last read successfully into the busy
    /// cache; `None` if never, if the last read failed (the status says
    /// why), or, on SQLite, not since this instance started.
    #[cfg_attr(feature = "http", schema(value_type = Option<String>, format = DateTime))]
    pub last_read: Option<Timestamp>,
}

/// Someone whose calendar must be reconnected, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct NeedsReconnecting {
    /// Who.
    pub participant: ParticipantId,
    /// Their name.
    pub name: String,
    /// Which provider refused.
    pub provider: Provider,
    /// Why, as the provider said.
    pub reason: String,
}

/// A program's connections, for its administrators: how many of its
/// participants are connected (by provider), who needs reconnecting and
/// why, and when each calendar was last read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema), schema(as = ConnectionsReport))]
#[non_exhaustive]
pub struct ProgramReport {
    /// The program.
    pub program: ProgramId,
    /// Its name.
    pub name: String,
    /// Whether it is archived.
    pub archived: bool,
    /// How many participants it has.
    pub participants: usize,
    /// How many have a usable connection (a passing failure included).
    pub connected: usize,
    /// Those, by provider.
    pub by_provider: ConnectedCounts,
    /// Who must reconnect.
    pub needs_reconnecting: Vec<NeedsReconnecting>,
    /// Every participant, by id.
    pub people: Vec<ParticipantReport>,
}

/// An organisation integration to enable, with its secret
/// ([`Assistant::enable_integration_as`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum IntegrationConfig {
    /// Google Workspace (domain-wide delegation).
    GoogleWorkspace(GoogleWorkspace),
    /// Exchange Online (Graph application permissions).
    ExchangeOnline(ExchangeOnline),
    /// Exchange on-premise (EWS).
    ExchangeOnPremise(ExchangeOnPremise),
}

impl IntegrationConfig {
    /// Which integration.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Self::GoogleWorkspace(_) => IntegrationKind::GoogleWorkspace,
            Self::ExchangeOnline(_) => IntegrationKind::ExchangeOnline,
            Self::ExchangeOnPremise(_) => IntegrationKind::ExchangeOnPremise,
        }
    }
}

fn refused(what: &str) -> AssistantError {
    AssistantError::NotAllowed(format!(
        "only an administrator may {what}: this actor is not allowed"
    ))
}

impl Assistant {
    /// Whether `actor` administers the organisation: a global
    /// administrator (working on someone's behalf or not).
    pub fn administers_organisation(&self, actor: &Actor) -> bool {
        matches!(actor, Actor::Administrator { .. })
    }

    fn require_organisation(&self, actor: &Actor, what: &str) -> Result<(), AssistantError> {
        if self.administers_organisation(actor) {
            Ok(())
        } else {
            Err(AssistantError::NotAllowed(format!(
                "only a global administrator may {what}"
            )))
        }
    }

    fn require_program(
        &self,
        actor: &Actor,
        program: &ProgramId,
        what: &str,
    ) -> Result<(), AssistantError> {
        if self.administers(actor, program) {
            Ok(())
        } else if actor.is_admin() {
            Err(AssistantError::NotAllowed(format!(
                "only an administrator of program {program} may {what}"
            )))
        } else {
            Err(refused(what))
        }
    }

    /// The programs `actor` administers, archived ones too.
    pub fn administered_programs(&self, actor: &Actor) -> Vec<Program> {
        self.programs()
            .into_iter()
            .filter(|p| self.administers(actor, &p.id))
            .collect()
    }

    /// The organisation's policy layer an administrator stored, as TOML
    /// (empty when none is stored: the builder's layer alone applies). Any
    /// administrator may read it: it is under their programs' policies.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for a participant; a storage failure.
    pub async fn org_policy_toml(&self, actor: &Actor) -> Result<String, AssistantError> {
        if !actor.is_admin() {
            return Err(refused("read the organisation's policy"));
        }
        Ok(self
            .inner
            .store
            .setting(ORG_POLICY_KEY)
            .await?
            .unwrap_or_default())
    }

    /// Sets the organisation's policy layer (TOML) at run time: the
    /// builder's layer overridden by this one, under every program's. Every
    /// program's policy must still resolve over it, else nothing changes.
    /// Stored (`assistant_settings`), so every instance applies it from its
    /// next sync (and at build).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for a global administrator;
    /// [`AssistantError::Invalid`] naming the line, or the program whose
    /// policy would no longer resolve; a storage failure.
    pub async fn set_org_policy(&self, actor: &Actor, toml: &str) -> Result<(), AssistantError> {
        self.require_organisation(actor, "change the organisation's policy")?;
        let stored = PolicyLayer::from_toml(toml)
            .map_err(|e| AssistantError::invalid_because("the organisation's policy", e))?;
        self.sync().await;
        // No reload runs between the check and the write.
        let reloading = self.inner.reloading.lock().await;
        let org = self.inner.org_policy.overridden_by(&stored);
        let programs: Vec<Program> = self.programs();
        let mut resolved = Vec::with_capacity(programs.len());
        for program in programs {
            let policy = resolve_policy(&org, &program).map_err(|e| {
                AssistantError::invalid(format!(
                    "the organisation's policy would break program {}: {e}",
                    program.id
                ))
            })?;
            resolved.push((program, policy));
        }
        self.inner.store.put_setting(ORG_POLICY_KEY, toml).await?;
        let mut records = self.records_mut();
        for (program, policy) in resolved {
            records
                .programs
                .insert(program.id.clone(), (program, policy));
        }
        drop(records);
        drop(reloading);
        tracing::info!("organisation policy changed");
        Ok(())
    }

    /// A program's policy overrides as written (TOML).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for its administrators;
    /// [`AssistantError::UnknownProgram`].
    pub async fn program_policy_toml(
        &self,
        actor: &Actor,
        program: &ProgramId,
    ) -> Result<String, AssistantError> {
        self.require_program(actor, program, "read a program's policy")?;
        self.sync().await;
        self.records()
            .programs
            .get(program)
            .map(|(p, _)| p.policy_toml.clone())
            .ok_or_else(|| AssistantError::UnknownProgram(program.clone()))
    }

    /// Sets a program's policy overrides (TOML), validated over the
    /// organisation's layer in force; stored (bumping the revision, so
    /// other instances reload it). Returns the resolved policy.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for its administrators;
    /// [`AssistantError::UnknownProgram`]; [`AssistantError::Invalid`]
    /// naming the line (nothing changes); a storage failure.
    pub async fn set_program_policy(
        &self,
        actor: &Actor,
        program: &ProgramId,
        toml: &str,
    ) -> Result<ProgramPolicy, AssistantError> {
        self.require_program(actor, program, "change a program's policy")?;
        self.sync().await;
        let current = self
            .records()
            .programs
            .get(program)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| AssistantError::UnknownProgram(program.clone()))?;
        let updated = current.with_policy_toml(toml);
        self.add_program(updated).await?;
        self.policy(program)
    }

    /// Creates a program (a global administrator's act).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for a global administrator;
    /// [`AssistantError::Conflict`] when the id is taken;
    /// [`AssistantError::Invalid`] for an empty id or name, or a policy
    /// that does not resolve; a storage failure.
    pub async fn create_program(
        &self,
        actor: &Actor,
        program: Program,
    ) -> Result<(), AssistantError> {
        self.require_organisation(actor, "create programs")?;
        if program.id.as_str().trim().is_empty() || program.name.trim().is_empty() {
            return Err(AssistantError::invalid("a program needs an id and a name"));
        }
        self.sync().await;
        if self.records().programs.contains_key(&program.id) {
            return Err(AssistantError::Conflict(format!(
                "program {} exists already",
                program.id
            )));
        }
        self.add_program(program).await
    }

    /// Adds (or updates) a participant and enrols them in `programs`, as
    /// [`add_participant`](Self::add_participant). A program
    /// administrator must administer every program named (at least one),
    /// and may change the details of an existing participant only when
    /// they administer every program that participant is in.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`], and as `add_participant`.
    pub async fn enrol_participant(
        &self,
        actor: &Actor,
        participant: Participant,
        programs: &[ProgramId],
    ) -> Result<(), AssistantError> {
        if !actor.is_admin() {
            return Err(refused("enrol participants"));
        }
        if programs.is_empty() && !self.administers_organisation(actor) {
            return Err(AssistantError::invalid(
                "name at least one program to enrol the participant in",
            ));
        }
        for program in programs {
            self.require_program(actor, program, "enrol participants in a program")?;
        }
        self.sync().await;
        if !self.administers_organisation(actor) {
            let existing = self.records().participants.get(&participant.id).cloned();
            if let Some((old, theirs)) = existing {
                let changed = old != participant;
                if changed && theirs.iter().any(|p| !self.administers(actor, p)) {
                    return Err(AssistantError::NotAllowed(format!(
                        "participant {} is also in programs this administrator does not \
                         administer: only their administrators may change their details",
                        participant.id
                    )));
                }
            }
        }
        self.add_participant(participant, programs).await
    }

    /// Adds (or updates) a mentoring pair, as [`add_pair`](Self::add_pair),
    /// for an administrator of its program (and, for an existing id, of the
    /// program it was in).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`], and as `add_pair`.
    pub async fn create_pair(&self, actor: &Actor, pair: Pair) -> Result<(), AssistantError> {
        self.require_program(actor, &pair.program, "add pairs to a program")?;
        self.sync().await;
        let before = {
            let records = self.records();
            records
                .pairs
                .get(&pair.id)
                .or_else(|| records.ended_pairs.get(&pair.id).map(|(p, _)| p))
                .map(|p| p.program.clone())
        };
        if let Some(before) = before {
            self.require_program(actor, &before, "change a pair of a program")?;
        }
        self.add_pair(pair).await
    }

    /// Adds (or updates) a group, as [`add_group`](Self::add_group), for
    /// an administrator of its program (and, for an existing id, of the
    /// program it was in).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`], [`AssistantError::Invalid`] for an
    /// empty name, and as `add_group`.
    pub async fn create_group(&self, actor: &Actor, group: Group) -> Result<(), AssistantError> {
        self.require_program(actor, &group.program, "add groups to a program")?;
        if group.name.trim().is_empty() {
            return Err(AssistantError::invalid("a group needs a name"));
        }
        self.sync().await;
        let before = self
            .records()
            .groups
            .get(&group.id)
            .map(|g| g.program.clone());
        if let Some(before) = before {
            self.require_program(actor, &before, "change a group of a program")?;
        }
        self.add_group(group).await
    }

    /// A program's connections report (see [`ProgramReport`]).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for its administrators;
    /// [`AssistantError::UnknownProgram`].
    pub async fn connections_report(
        &self,
        actor: &Actor,
        program: &ProgramId,
    ) -> Result<ProgramReport, AssistantError> {
        self.require_program(actor, program, "see a program's connections")?;
        self.sync().await;
        let (name, archived, members) = {
            let records = self.records();
            let (p, _) = records
                .programs
                .get(program)
                .ok_or_else(|| AssistantError::UnknownProgram(program.clone()))?;
            let members: Vec<(ParticipantId, String)> = records
                .participants
                .values()
                .filter(|(_, programs)| programs.contains(program))
                .map(|(m, _)| (m.id.clone(), m.name.clone()))
                .collect();
            (p.name.clone(), records.archived.contains(program), members)
        };
        let mut report = ProgramReport {
            program: program.clone(),
            name,
            archived,
            participants: members.len(),
            connected: 0,
            by_provider: ConnectedCounts::default(),
            needs_reconnecting: Vec::new(),
            people: Vec::with_capacity(members.len()),
        };
        for (id, name) in members {
            let status = self.status(&id).await;
            let counts = &mut report.by_provider;
            match &status {
                ConnectionStatus::Connected { provider, .. }
                | ConnectionStatus::Unreachable {
                    provider: Some(provider),
                    ..
                } => match provider {
                    Provider::Google => counts.google += 1,
                    Provider::Microsoft => counts.microsoft += 1,
                    Provider::Icloud => counts.icloud += 1,
                },
                ConnectionStatus::ThroughOrganisation { .. }
                | ConnectionStatus::Unreachable { provider: None, .. } => {
                    counts.organisation += 1;
                }
                ConnectionStatus::NeedsReconnecting { provider, reason } => {
                    report.needs_reconnecting.push(NeedsReconnecting {
                        participant: id.clone(),
                        name: name.clone(),
                        provider: *provider,
                        reason: reason.clone(),
                    });
                }
                ConnectionStatus::NotConnected => {}
            }
            let last_read = self.last_read(&id).await;
            report.people.push(ParticipantReport {
                participant: id,
                name,
                status,
                last_read,
            });
        }
        report.connected = report.by_provider.total();
        Ok(report)
    }

    /// When `participant`'s calendar was last read successfully into the
    /// busy cache (the local entry's, or the shared row's, fetch time).
    async fn last_read(&self, participant: &ParticipantId) -> Option<Timestamp> {
        self.inner
            .cache
            .last_read(participant)
            .await
            .and_then(|s| Timestamp::from_second(s).ok())
    }

    /// The reports of every program `actor` administers (none for a
    /// participant).
    ///
    /// # Errors
    /// As [`connections_report`](Self::connections_report).
    pub async fn connections_reports(
        &self,
        actor: &Actor,
    ) -> Result<Vec<ProgramReport>, AssistantError> {
        let mut out = Vec::new();
        for program in self.administered_programs(actor) {
            out.push(self.connections_report(actor, &program.id).await?);
        }
        Ok(out)
    }

    /// The enabled organisation integrations (none when the assistant was
    /// built without [`OrgAuth`](org_wide_auth::OrgAuth)).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for a global administrator.
    pub async fn integrations_for(
        &self,
        actor: &Actor,
    ) -> Result<Vec<IntegrationStatus>, AssistantError> {
        self.require_organisation(actor, "see the organisation integrations")?;
        self.sync().await;
        Ok(match &self.inner.org {
            Some(org) => org.status().await,
            None => Vec::new(),
        })
    }

    /// Whether organisation integrations can be enabled here (the
    /// assistant was built with [`OrgAuth`](org_wide_auth::OrgAuth)).
    pub fn has_organisation_integrations(&self) -> bool {
        self.inner.org.is_some()
    }

    /// Enables an organisation integration, as
    /// [`enable_google_workspace`](Self::enable_google_workspace) and its
    /// siblings; returns who was connected through it.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for a global administrator;
    /// [`AssistantError::Invalid`] when the assistant has no organisation
    /// integrations; as the enabling method (a conflict between the
    /// Exchange kinds, a failed validation).
    pub async fn enable_integration_as(
        &self,
        actor: &Actor,
        config: IntegrationConfig,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        self.require_organisation(actor, "enable organisation integrations")?;
        self.require_org_auth()?;
        let kind = config.kind();
        let connected = match config {
            IntegrationConfig::GoogleWorkspace(c) => self.enable_google_workspace(c).await?,
            IntegrationConfig::ExchangeOnline(c) => self.enable_exchange_online(c).await?,
            IntegrationConfig::ExchangeOnPremise(c) => self.enable_exchange_on_premise(c).await?,
        };
        tracing::info!(
            integration = kind.as_str(),
            connected = connected.len(),
            "organisation integration enabled by an administrator"
        );
        Ok(connected)
    }

    /// Disables an organisation integration, as
    /// [`disable_integration`](Self::disable_integration).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] but for a global administrator;
    /// [`AssistantError::Invalid`] without organisation integrations; as
    /// `disable_integration`.
    pub async fn disable_integration_as(
        &self,
        actor: &Actor,
        kind: IntegrationKind,
    ) -> Result<Vec<ParticipantId>, AssistantError> {
        self.require_organisation(actor, "disable organisation integrations")?;
        self.require_org_auth()?;
        self.disable_integration(kind).await
    }

    fn require_org_auth(&self) -> Result<(), AssistantError> {
        if self.inner.org.is_some() {
            Ok(())
        } else {
            Err(AssistantError::invalid(
                "this service was set up without organisation integrations",
            ))
        }
    }
}
