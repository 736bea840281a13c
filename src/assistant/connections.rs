//! A participant's own calendar connection: OAuth (Google, Microsoft),
//! iCloud logins, replacing and disconnecting, the vault's secrets.

use std::sync::PoisonError;

use credential_vault::{AppPassword, Credential, Expect, OwnerId, SecretKind, SecretString};
use policy_rules::Provider;
use serde::Serialize;

use crate::connect::{ConnectFailure, PendingExchange};
use crate::error::{AssistantError, vault_error};
use crate::model::{Actor, Connection, Participant, ParticipantId, ProgramId};

use super::{Assistant, ConnectionStatus};

/// A started OAuth connection.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectStart {
    /// Send the participant's browser here.
    pub authorization_url: String,
    /// When the attempt expires (Unix seconds).
    pub expires_at: i64,
}

/// Binds an OAuth attempt to the browser session that began it, so that
/// only that session can complete it: a participant who mails their own
/// authorization link to someone else cannot have that person's calendar
/// stored as their connection (the account-linking attack). Only a hash of
/// the session key is kept with the attempt, in memory and, on a shared
/// store, in the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectBinding {
    pub(crate) session_hash: String,
    pub(crate) return_to: String,
}

impl ConnectBinding {
    /// Bound to the session whose secret key is `key` (a session token,
    /// or any value only that browser's requests carry).
    #[must_use]
    pub fn session(key: &str) -> Self {
        Self {
            session_hash: sha256_hex(&format!("connect-session:{key}")),
            return_to: String::new(),
        }
    }

    /// Where the web layer returns the browser once connected (a path the
    /// caller has validated); given back by
    /// [`Assistant::complete_connect_bound`].
    #[must_use]
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = path.into();
        self
    }

    /// Whether this binds to a session.
    pub(crate) fn is_bound(&self) -> bool {
        !self.session_hash.is_empty()
    }
}

/// A completed connection: its status, and where the web layer said to
/// return ([`ConnectBinding::return_to`]).
#[derive(Clone, Debug)]
pub struct ConnectDone {
    /// The participant's status after connecting.
    pub status: ConnectionStatus,
    /// The binding's return path (`None` when it gave none).
    pub return_to: Option<String>,
}

/// SHA-256 of `text`, in lower-case hex: the one digest the crate keeps
/// in place of a secret (OAuth states, session keys and tokens).
pub(crate) fn sha256_hex(text: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

/// `bytes` in lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub(crate) struct PendingConnect {
    pub(crate) participant: ParticipantId,
    pub(crate) provider: Provider,
    pub(crate) expires_at: i64,
    pub(crate) binding: ConnectBinding,
    pub(crate) exchange: Box<dyn PendingExchange>,
}

pub(crate) fn secret_kind(provider: Provider) -> SecretKind {
    match provider {
        Provider::Google => SecretKind::GoogleOauth,
        Provider::Microsoft => SecretKind::MicrosoftOauth,
        Provider::Icloud => SecretKind::AppleAppPassword,
    }
}

pub(crate) fn owner(account: &str) -> Result<OwnerId, AssistantError> {
    OwnerId::new(account).map_err(AssistantError::invalid_cause)
}

impl Assistant {
    /// Every program of the participant must allow the provider (their one
    /// calendar serves them all).
    /// Whether `participant` could start connecting `provider` here: the
    /// programs allow it ([`Assistant::check_provider`]) and this service
    /// has a way to connect it (an OAuth connector for Google and
    /// Microsoft, a login check for iCloud).
    #[cfg(feature = "http")]
    pub(crate) fn can_connect(&self, participant: &ParticipantId, provider: Provider) -> bool {
        let configured = match provider {
            Provider::Icloud => self.inner.caldav.is_some(),
            _ => self.inner.oauth.contains_key(&provider),
        };
        configured && self.check_provider(participant, provider).is_ok()
    }

    pub(crate) fn check_provider(
        &self,
        participant: &ParticipantId,
        provider: Provider,
    ) -> Result<Participant, AssistantError> {
        let records = self.records();
        let (p, programs) = records
            .participants
            .get(participant)
            .ok_or_else(|| AssistantError::UnknownParticipant(participant.clone()))?;
        for program in programs {
            if let Some((_, policy)) = records.programs.get(program)
                && !policy.providers().contains(provider)
            {
                return Err(AssistantError::ProviderNotAllowed {
                    provider,
                    program: program.clone(),
                });
            }
        }
        // The switch: a calendar is connected only to serve a live program
        // whose scheduling assistant is on.
        let live: Vec<ProgramId> = programs
            .iter()
            .filter(|p| !records.archived.contains(*p))
            .cloned()
            .collect();
        let (first, p) = (programs.first().cloned(), p.clone());
        drop(records);
        match first {
            Some(first) if live.is_empty() => return Err(AssistantError::ProgramArchived(first)),
            _ if !live.is_empty() => {
                self.readable_programs(live)?;
            }
            _ => {}
        }
        if !self.inner.sources.contains_key(&provider) {
            return Err(AssistantError::ProviderNotConfigured(provider));
        }
        Ok(p)
    }

    /// Starts connecting a Google or Microsoft calendar: returns the
    /// provider's authorization URL. The attempt is bound to the
    /// participant and expires (10 minutes by default).
    ///
    /// # Errors
    /// [`AssistantError::OnBehalfRefused`] for an administrator,
    /// [`AssistantError::NotAllowed`] for another participant,
    /// [`AssistantError::ProviderNotAllowed`] /
    /// [`AssistantError::ProviderNotConfigured`]; on a PostgreSQL store,
    /// a storage or vault failure.
    ///
    /// On a PostgreSQL store the attempt is also kept in the database (its
    /// PKCE verifier sealed in the vault), so the provider's callback may
    /// reach any instance sharing it.
    ///
    /// The attempt is bound to no browser session: a web layer uses
    /// [`Assistant::begin_connect_bound`] instead.
    pub async fn begin_connect(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        provider: Provider,
    ) -> Result<ConnectStart, AssistantError> {
        self.begin_connect_bound(actor, participant, provider, ConnectBinding::default())
            .await
    }

    /// [`Assistant::begin_connect`] bound to the browser session that
    /// asks: only [`Assistant::complete_connect_bound`] with the same
    /// session's key completes it.
    ///
    /// # Errors
    /// As [`Assistant::begin_connect`].
    pub async fn begin_connect_bound(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        provider: Provider,
        binding: ConnectBinding,
    ) -> Result<ConnectStart, AssistantError> {
        self.sync().await;
        self.check_self(actor, participant)?;
        self.check_provider(participant, provider)?;
        let connector = self
            .inner
            .oauth
            .get(&provider)
            .ok_or(AssistantError::ProviderNotConfigured(provider))?;
        let start = connector.start();
        let now = self.now_secs();
        let expires_at = now.saturating_add(self.inner.connect_expiry_secs);
        #[cfg(feature = "postgres")]
        if self.inner.store.is_shared()
            && let Some(verifier) = start.pending.pkce_verifier()
        {
            self.store_attempt(
                start.state.secret(),
                verifier,
                participant,
                provider,
                expires_at,
                &binding,
            )
            .await?;
        }
        let mut pending = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, p| p.expires_at > now);
        pending.insert(
            start.state.secret().to_owned(),
            PendingConnect {
                participant: participant.clone(),
                provider,
                expires_at,
                binding,
                exchange: start.pending,
            },
        );
        Ok(ConnectStart {
            authorization_url: start.url,
            expires_at,
        })
    }

    /// Completes an OAuth connection from the provider's callback: the
    /// `state` identifies the attempt (and so the participant), `code` is
    /// exchanged, the tokens go to the vault, and the previous connection
    /// (and its secrets) is replaced.
    ///
    /// # Errors
    /// [`AssistantError::ConnectExpired`] for an unknown, used or expired
    /// `state`; [`AssistantError::ConnectFailed`] when the provider refuses
    /// the code.
    /// An attempt begun with [`Assistant::begin_connect_bound`] is refused
    /// here with [`AssistantError::ConnectOtherSession`].
    pub async fn complete_connect(
        &self,
        state: &str,
        code: &str,
    ) -> Result<ConnectionStatus, AssistantError> {
        self.complete_connect_inner(state, code, None)
            .await
            .map(|done| done.status)
    }

    /// Completes an attempt from the callback of the browser session whose
    /// key is `session` (see [`ConnectBinding::session`]). The attempt is
    /// used up either way.
    ///
    /// # Errors
    /// [`AssistantError::ConnectOtherSession`] when another session began
    /// it (nothing is exchanged); otherwise as
    /// [`Assistant::complete_connect`].
    pub async fn complete_connect_bound(
        &self,
        state: &str,
        code: &str,
        session: &str,
    ) -> Result<ConnectDone, AssistantError> {
        let given = ConnectBinding::session(session);
        self.complete_connect_inner(state, code, Some(&given)).await
    }

    async fn complete_connect_inner(
        &self,
        state: &str,
        code: &str,
        given: Option<&ConnectBinding>,
    ) -> Result<ConnectDone, AssistantError> {
        let local = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(state);
        #[cfg(feature = "postgres")]
        let local = if self.inner.store.is_shared() {
            self.take_attempt(state, local).await?
        } else {
            local
        };
        let pending = local.ok_or(AssistantError::ConnectExpired)?;
        if pending.expires_at <= self.now_secs() {
            return Err(AssistantError::ConnectExpired);
        }
        if pending.binding.is_bound()
            && given.is_none_or(|g| g.session_hash != pending.binding.session_hash)
        {
            tracing::warn!(
                provider = pending.provider.as_str(),
                "an OAuth callback came from another session than the one that began it; refused"
            );
            return Err(AssistantError::ConnectOtherSession);
        }
        let return_to = Some(pending.binding.return_to.clone()).filter(|r| !r.is_empty());
        self.sync().await;
        let participant = self.check_provider(&pending.participant, pending.provider)?;
        let tokens = pending.exchange.exchange(state, code).await?;
        let credential = match pending.provider {
            Provider::Microsoft => Credential::MicrosoftOauth(tokens),
            _ => Credential::GoogleOauth(tokens),
        };
        let status = self
            .replace_connection(&participant, pending.provider, credential)
            .await?;
        Ok(ConnectDone { status, return_to })
    }

    /// Connects an iCloud calendar: the Apple ID and app-specific password
    /// are checked by a real discovery against the CalDAV server before
    /// anything is stored.
    ///
    /// # Errors
    /// As [`begin_connect`](Self::begin_connect), and
    /// [`AssistantError::ConnectFailed`] when the server refuses the login
    /// or has no calendar.
    pub async fn connect_icloud(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        apple_id: &str,
        app_password: SecretString,
    ) -> Result<ConnectionStatus, AssistantError> {
        self.sync().await;
        self.check_self(actor, participant)?;
        let p = self.check_provider(participant, Provider::Icloud)?;
        let validator = self
            .inner
            .caldav
            .as_ref()
            .ok_or(AssistantError::ProviderNotConfigured(Provider::Icloud))?;
        let login = caldav_provider::CalDavLogin::new(
            validator.server().to_owned(),
            apple_id.to_owned(),
            caldav_provider::Password::new(app_password.secret()),
        );
        validator
            .validate(&login)
            .await
            .map_err(|e| AssistantError::ConnectFailed(ConnectFailure::Source(e)))?;
        let credential = Credential::AppleAppPassword(AppPassword::new(apple_id, app_password));
        self.replace_connection(&p, Provider::Icloud, credential)
            .await
    }

    pub(crate) async fn replace_connection(
        &self,
        participant: &Participant,
        provider: Provider,
        credential: Credential,
    ) -> Result<ConnectionStatus, AssistantError> {
        let account = participant.email.clone();
        let old = self.connection(&participant.id);
        self.inner
            .vault
            .put(&owner(&account)?, &credential, Expect::Any)
            .await
            .map_err(vault_error)?;
        let connection = Connection {
            participant: participant.id.clone(),
            provider,
            account: account.clone(),
            connected_at: self.now_secs(),
            needs_reconnect: None,
        };
        self.inner.store.put_connection(&connection).await?;
        self.records_mut()
            .connections
            .insert(participant.id.clone(), connection);
        if let Some(old) = old
            && (old.provider != provider || old.account != account)
        {
            self.delete_secret(&old).await?;
        }
        self.inner.cache.forget(&participant.id).await;
        tracing::info!(participant = %participant.id, provider = %provider, "calendar connected");
        // Only the participant connects their own calendar: they see which
        // account they connected.
        self.status_for(&Actor::Participant(participant.id.clone()), &participant.id)
            .await
    }

    pub(crate) async fn delete_secret(&self, c: &Connection) -> Result<(), AssistantError> {
        let owner = owner(&c.account)?;
        let kind = secret_kind(c.provider);
        if let Some(connector) = self.inner.oauth.get(&c.provider)
            && let Ok(Some(stored)) = self.inner.vault.get(&owner, kind).await
            && let Some(tokens) = stored.value.as_oauth()
            && let Err(e) = connector.revoke(tokens).await
        {
            tracing::warn!(participant = %c.participant, error = %e, "revoking at the provider failed; deleting the tokens anyway");
        }
        self.inner
            .vault
            .delete(&owner, kind)
            .await
            .map_err(vault_error)?;
        Ok(())
    }

    /// Disconnects: the tokens or password are deleted from the vault
    /// (revoked at Google first, best effort), the connection and the
    /// cached busy times are forgotten. Returns whether there was one.
    ///
    /// # Errors
    /// [`AssistantError::OnBehalfRefused`] for an administrator,
    /// [`AssistantError::NotAllowed`] for another participant, storage
    /// failures.
    pub async fn disconnect(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<bool, AssistantError> {
        self.sync().await;
        self.check_self(actor, participant)?;
        self.participant(participant)?;
        let Some(old) = self.connection(participant) else {
            self.inner.cache.forget(participant).await;
            return Ok(false);
        };
        self.delete_secret(&old).await?;
        self.inner.store.delete_connection(participant).await?;
        self.records_mut().connections.remove(participant);
        self.inner.cache.forget(participant).await;
        tracing::info!(participant = %participant, provider = %old.provider, "calendar disconnected");
        Ok(true)
    }

    /// Whether the vault holds a secret for the participant's connection
    /// (for checks and tests; never the secret itself).
    pub async fn has_secret(&self, participant: &ParticipantId) -> bool {
        let Some(c) = self.connection(participant) else {
            return false;
        };
        let Ok(owner) = owner(&c.account) else {
            return false;
        };
        matches!(
            self.inner.vault.get(&owner, secret_kind(c.provider)).await,
            Ok(Some(_))
        )
    }
}
