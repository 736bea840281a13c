//! OAuth attempts kept in a shared (PostgreSQL) store, so the provider's
//! callback may reach any instance.

use credential_vault::OwnerId;
#[cfg(feature = "postgres")]
use credential_vault::{Credential, Expect, SecretKind, SecretString};
#[cfg(feature = "postgres")]
use policy_rules::Provider;

use crate::error::AssistantError;
#[cfg(feature = "postgres")]
use crate::error::vault_error;
#[cfg(feature = "postgres")]
use crate::model::ParticipantId;

#[cfg(feature = "postgres")]
use super::PendingConnect;
#[cfg(feature = "postgres")]
use super::connections::ConnectBinding;
use super::{Assistant, owner};

/// The key an OAuth attempt is kept under: SHA-256 of its `state`, in hex
/// (the state itself is never stored).
#[cfg(feature = "postgres")]
pub(crate) fn state_hash(state: &str) -> String {
    super::connections::sha256_hex(state)
}

pub(crate) fn attempt_owner(hash: &str) -> Result<OwnerId, AssistantError> {
    owner(&format!("oauth-attempt:{hash}"))
}

impl Assistant {
    /// Keeps an OAuth attempt in the database for whichever instance gets
    /// the callback: the participant, provider and expiry under a hash of
    /// `state`, the PKCE verifier sealed in the vault. Attempts that
    /// expired unused are removed on the way.
    #[cfg(feature = "postgres")]
    pub(crate) async fn store_attempt(
        &self,
        state: &str,
        verifier: &SecretString,
        participant: &ParticipantId,
        provider: Provider,
        expires_at: i64,
        binding: &ConnectBinding,
    ) -> Result<(), AssistantError> {
        let hash = state_hash(state);
        self.inner
            .vault
            .put(
                &attempt_owner(&hash)?,
                &Credential::OauthAttempt(verifier.clone()),
                Expect::Any,
            )
            .await
            .map_err(vault_error)?;
        if let Err(e) = self
            .inner
            .store
            .put_attempt(&hash, participant, provider, expires_at, binding)
            .await
        {
            // No row would ever expire the sealed verifier: remove it.
            self.drop_attempt_verifier(&hash).await;
            return Err(e.into());
        }
        match self
            .inner
            .store
            .take_expired_attempts(self.now_secs())
            .await
        {
            Ok(expired) => {
                for hash in expired {
                    self.drop_attempt_verifier(&hash).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not remove expired connection attempts"),
        }
        Ok(())
    }

    /// Deletes an attempt's sealed PKCE verifier (best effort: a failure
    /// leaves a sealed record nobody can use).
    #[cfg(feature = "postgres")]
    pub(crate) async fn drop_attempt_verifier(&self, hash: &str) {
        if let Ok(owner) = attempt_owner(hash) {
            let _ = self
                .inner
                .vault
                .delete(&owner, SecretKind::OauthAttempt)
                .await;
        }
    }

    /// Takes the attempt for `state` out of the database (once: a second
    /// callback with the same `state`, on any instance, finds nothing) and
    /// rebuilds its exchange when this instance did not start it.
    #[cfg(feature = "postgres")]
    pub(crate) async fn take_attempt(
        &self,
        state: &str,
        local: Option<PendingConnect>,
    ) -> Result<Option<PendingConnect>, AssistantError> {
        let hash = state_hash(state);
        let Some((participant, provider, expires_at, binding)) =
            self.inner.store.take_attempt(&hash).await?
        else {
            // Completed elsewhere already, or never stored (a connector
            // that cannot resume): only a local attempt of the latter kind
            // may go on.
            return Ok(local.filter(|p| p.exchange.pkce_verifier().is_none()));
        };
        let owner = attempt_owner(&hash)?;
        let verifier = self.inner.vault.get(&owner, SecretKind::OauthAttempt).await;
        // The row is gone, so the verifier goes too, even if reading it
        // failed (nothing else would ever remove it).
        self.drop_attempt_verifier(&hash).await;
        let verifier = verifier.map_err(vault_error)?;
        if let Some(local) = local {
            return Ok(Some(local));
        }
        let Some(Credential::OauthAttempt(verifier)) = verifier.map(|v| v.value) else {
            return Ok(None);
        };
        let Some(exchange) = self
            .inner
            .oauth
            .get(&provider)
            .and_then(|c| c.resume(state, verifier))
        else {
            return Err(AssistantError::ProviderNotConfigured(provider));
        };
        Ok(Some(PendingConnect {
            participant,
            provider,
            expires_at,
            binding,
            exchange,
        }))
    }
}
