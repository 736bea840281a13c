//! Organisation integrations (Google Workspace, Exchange): enabling,
//! disabling, storing their settings, and applying what other instances
//! changed.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use org_wide_auth::{
    ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind, IntegrationSettings,
    OrgAuth, OrgError,
};

use crate::error::{AssistantError, BuildError};
use crate::model::ParticipantId;
use crate::store::{Store, StoreError};

use super::Assistant;

/// The stored organisation-integration settings, with their stored text.
pub(crate) async fn stored_integrations(
    store: &Store,
) -> Result<Vec<(IntegrationSettings, String)>, AssistantError> {
    let mut out = Vec::new();
    for json in store.integrations().await? {
        // Unknown fields (the generation `save_integration` adds) are
        // ignored by the settings' serde.
        let settings: IntegrationSettings = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("organisation integration settings: {e}")))?;
        out.push((settings, json));
    }
    Ok(out)
}

/// Re-enables an integration from its stored settings; whether it worked.
/// A failure leaves it off (its participants show as not connected)
/// rather than the assistant down.
pub(crate) async fn restore_integration(org: &OrgAuth, settings: &IntegrationSettings) -> bool {
    match org.restore(settings).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(integration = settings.kind().as_str(), error = %e, "could not restore an organisation integration");
            false
        }
    }
}

impl Assistant {
    /// Connects every participant an organisation integration covers and
    /// who has no connection of their own (call after enabling one);
    /// returns who, by which integration. One pass over the participants
    /// and one call into the integrations, whatever their number.
    pub async fn sync_organisation(&self) -> Vec<(ParticipantId, IntegrationKind)> {
        let unconnected: Vec<(ParticipantId, String)> = {
            let records = self.records();
            records
                .participants
                .values()
                .filter(|(p, _)| !records.connections.contains_key(&p.id))
                .map(|(p, _)| (p.id.clone(), p.email.clone()))
                .collect()
        };
        self.connect_automatically(unconnected).await
    }

    /// [`sync_organisation`](Self::sync_organisation) for `ids` alone
    /// (the participants another instance's write named).
    pub(crate) async fn sync_organisation_of(&self, ids: &[ParticipantId]) {
        if ids.is_empty() {
            return;
        }
        let unconnected: Vec<(ParticipantId, String)> = {
            let records = self.records();
            ids.iter()
                .filter(|id| !records.connections.contains_key(*id))
                .filter_map(|id| records.participants.get(id))
                .map(|(p, _)| (p.id.clone(), p.email.clone()))
                .collect()
        };
        self.connect_automatically(unconnected).await;
    }

    async fn connect_automatically(
        &self,
        unconnected: Vec<(ParticipantId, String)>,
    ) -> Vec<(ParticipantId, IntegrationKind)> {
        let Some(org) = &self.inner.org else {
            return Vec::new();
        };
        let emails: Vec<String> = unconnected.iter().map(|(_, e)| e.clone()).collect();
        let by_email: std::collections::HashMap<String, ParticipantId> = unconnected
            .into_iter()
            .map(|(id, email)| (email, id))
            .collect();
        org.connect_automatically(&emails)
            .await
            .into_iter()
            .filter_map(|(email, kind)| by_email.get(&email).map(|id| (id.clone(), kind)))
            .collect()
    }

    pub(crate) fn org(&self) -> Result<&Arc<OrgAuth>, AssistantError> {
        self.inner
            .org
            .as_ref()
            .ok_or(AssistantError::Build(BuildError::MissingOrgAuth))
    }

    pub(crate) async fn save_integration(
        &self,
        kind: IntegrationKind,
    ) -> Result<(), AssistantError> {
        let org = self.org()?;
        let name = kind.as_str();
        let stored = match org.settings().await.into_iter().find(|s| s.kind() == kind) {
            Some(settings) => {
                let mut value =
                    serde_json::to_value(&settings).map_err(AssistantError::invalid_cause)?;
                // A generation, so other instances sharing the database
                // see a re-enabled integration (perhaps with a new secret
                // and the same settings) as changed and restore it.
                if let Some(fields) = value.as_object_mut() {
                    static ENABLES: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(0);
                    let generation = format!(
                        "{}-{}-{}",
                        self.now().as_millisecond(),
                        std::process::id(),
                        ENABLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    );
                    fields.insert("generation".to_owned(), generation.into());
                }
                let json = value.to_string();
                let excludes = kind.excludes();
                let stored = self
                    .inner
                    .store
                    .put_integration(
                        name,
                        json.clone(),
                        excludes.as_ref().map(IntegrationKind::as_str),
                    )
                    .await?;
                if let (false, Some(enabled)) = (stored, excludes) {
                    // Another instance stored the kind this one excludes
                    // since this instance last looked.
                    return Err(OrgError::ExchangeConflict {
                        enabled,
                        requested: kind,
                    }
                    .into());
                }
                Some(json)
            }
            None => {
                self.inner.store.delete_integration(name).await?;
                None
            }
        };
        let mut applied = self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match stored {
            Some(json) => applied.insert(kind, json),
            None => applied.remove(&kind),
        };
        Ok(())
    }

    /// Enables Google Workspace for the whole instance (one real call
    /// validates it first; the key goes to the vault, the settings beside
    /// it), then connects every covered participant without a calendar of
    /// their own. Returns who was connected.
    ///
    /// # Errors
    /// [`AssistantError::Organisation`] with the validation's reason
    /// (nothing stored), storage failures.
    pub async fn enable_google_workspace(
        &self,
        config: GoogleWorkspace,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        org.enable_google(config).await?;
        self.save_enabled(org, IntegrationKind::GoogleWorkspace)
            .await?;
        drop(reloading);
        Ok(self.sync_organisation().await)
    }

    /// Stores an integration just enabled here; if that fails, turns it
    /// off here too, so this instance does not cover people the others
    /// (and a restart) do not. When it failed because another instance
    /// stored the kind it excludes, its secret goes too (nothing of it
    /// stays). Called with `reloading` held.
    pub(crate) async fn save_enabled(
        &self,
        org: &OrgAuth,
        kind: IntegrationKind,
    ) -> Result<(), AssistantError> {
        let saved = self.save_integration(kind).await;
        match &saved {
            Ok(()) => {}
            Err(AssistantError::Organisation(OrgError::ExchangeConflict { .. })) => {
                if let Err(e) = org.disable(kind).await {
                    tracing::error!(integration = kind.as_str(), error = %e, "could not remove the secret of an integration another instance excluded");
                }
                // Applies what the other instance stored at the next call.
                self.inner
                    .integrations_pending
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            Err(_) => {
                org.forget(kind).await;
            }
        }
        saved
    }

    /// Enables Exchange Online (Graph application permissions) for the
    /// whole instance, as [`enable_google_workspace`](Self::enable_google_workspace).
    ///
    /// # Errors
    /// As there, and [`AssistantError::Organisation`] when Exchange
    /// on-premise is enabled.
    pub async fn enable_exchange_online(
        &self,
        config: ExchangeOnline,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        let org = self.org()?;
        // Picks up an on-premise integration another instance enabled,
        // which excludes this one.
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        org.enable_exchange_online(config).await?;
        self.save_enabled(org, IntegrationKind::ExchangeOnline)
            .await?;
        drop(reloading);
        Ok(self.sync_organisation().await)
    }

    /// Enables Exchange on-premise (EWS) for the whole instance, as
    /// [`enable_google_workspace`](Self::enable_google_workspace): one
    /// `GetUserAvailability` for the scheduling account validates the URL
    /// and login first, the login goes to the vault, the settings beside
    /// it, then every covered participant without a calendar of their own
    /// is connected. Meetings booked for them go by email.
    ///
    /// # Errors
    /// As there, and [`AssistantError::Organisation`] when Exchange Online
    /// is enabled, here or (checked in the database) by another instance
    /// sharing it.
    pub async fn enable_exchange_on_premise(
        &self,
        config: ExchangeOnPremise,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        org.enable_exchange_on_premise(config).await?;
        self.save_enabled(org, IntegrationKind::ExchangeOnPremise)
            .await?;
        drop(reloading);
        Ok(self.sync_organisation().await)
    }

    /// Disables an integration: its secret, its settings and the automatic
    /// connections it made go; participants' own connections stay.
    /// Returns the participants who were connected through it.
    ///
    /// # Errors
    /// [`AssistantError::Organisation`] (the vault failed), storage
    /// failures.
    pub async fn disable_integration(
        &self,
        kind: IntegrationKind,
    ) -> Result<Vec<ParticipantId>, AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        let emails = org.disable(kind).await?;
        self.save_integration(kind).await?;
        drop(reloading);
        let affected = self.forget_automatic(&emails).await;
        tracing::info!(
            integration = kind.as_str(),
            participants = affected.len(),
            "organisation integration disabled"
        );
        Ok(affected)
    }

    /// The participants an integration had connected automatically (by
    /// `emails`), whose cached busy times are forgotten now that it no
    /// longer covers them.
    pub(crate) async fn forget_automatic(&self, emails: &[String]) -> Vec<ParticipantId> {
        let emails: std::collections::HashSet<String> =
            emails.iter().map(|e| e.to_ascii_lowercase()).collect();
        let affected: Vec<ParticipantId> = {
            let records = self.records();
            records
                .participants
                .values()
                .filter(|(p, _)| {
                    emails.contains(&p.email.to_ascii_lowercase())
                        && !records.connections.contains_key(&p.id)
                })
                .map(|(p, _)| p.id.clone())
                .collect()
        };
        for p in &affected {
            self.inner.cache.forget(p).await;
        }
        affected
    }

    /// Applies the organisation integrations another instance enabled,
    /// re-enabled or disabled; whether any changed here. A disabled one
    /// stops covering anyone here at once (its secret is already gone
    /// from the vault). Fails closed: when the stored settings cannot be
    /// read, every integration applied from them is turned off here, and
    /// it (like a restore that failed) is tried again at the next sync.
    /// Called with `reloading` held.
    pub(crate) async fn reload_integrations(&self) -> bool {
        use std::sync::atomic::Ordering;
        let Some(org) = &self.inner.org else {
            return false;
        };
        self.inner
            .integrations_pending
            .store(false, Ordering::Release);
        let applied = self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (stored, unread) = match stored_integrations(&self.inner.store).await {
            Ok(stored) => (stored, false),
            Err(e) => {
                tracing::error!(error = %e, "could not read the organisation integrations: turned off here until they can be read");
                (Vec::new(), true)
            }
        };
        let stored: BTreeMap<_, _> = stored
            .into_iter()
            .map(|(settings, json)| (settings.kind(), (settings, json)))
            .collect();
        let mut now_applied = BTreeMap::new();
        let mut emails = Vec::new();
        let mut changed = false;
        // Removals first: Exchange Online and on-premise exclude each
        // other. Only integrations applied from the store are removed
        // (one an embedder enabled on its `OrgAuth` directly stays).
        for kind in applied.keys() {
            if !stored.contains_key(kind) {
                emails.extend(org.forget(*kind).await);
                changed = true;
                tracing::info!(
                    integration = kind.as_str(),
                    "organisation integration disabled by another instance"
                );
            }
        }
        for (kind, (settings, json)) in stored {
            if applied.get(&kind) == Some(&json) {
                now_applied.insert(kind, json);
                continue;
            }
            changed = true;
            emails.extend(org.forget(kind).await);
            if restore_integration(org, &settings).await {
                now_applied.insert(kind, json);
            } else {
                self.inner
                    .integrations_pending
                    .store(true, Ordering::Release);
            }
        }
        if unread {
            self.inner
                .integrations_pending
                .store(true, Ordering::Release);
        }
        *self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now_applied;
        self.forget_automatic(&emails).await;
        changed
    }
}
