//! The credential vault behind the providers' credential traits: what the
//! `Assistant` plugs into each provider so that tokens and app-specific
//! passwords live only in the vault.
//!
//! - [`VaultTokens`] is both `google_provider::TokenStore` and
//!   `graph_provider::VersionedTokenStore`: participants' OAuth tokens under
//!   their account id, Microsoft's rotated refresh tokens stored by the
//!   vault's compare-and-set (a concurrent refresh elsewhere makes the store
//!   answer "someone else stored first", never a blind overwrite). On
//!   PostgreSQL its `lock` is the vault's per-record advisory lock, so of
//!   several instances exactly one refreshes an expired token.
//! - [`VaultCalDavLogins`] is `caldav_provider::CalDavLogins`: an Apple ID
//!   and app-specific password per account, for one CalDAV server (iCloud by
//!   default).

use std::sync::Arc;

use jiff::tz::TimeZone;

use async_trait::async_trait;
use availability::{AccountId, SourceError};
use caldav_provider::{CalDavLogin, CalDavLogins, Password};
use credential_vault::{
    Credential, Expect, OAuthTokens, OwnerId, RecordLock, SecretKind, Vault, VaultError, Version,
};

/// iCloud's CalDAV server.
pub const ICLOUD_CALDAV: &str = "https://caldav.icloud.com/";

fn owner(account: &AccountId) -> Result<OwnerId, SourceError> {
    OwnerId::new(account.as_str()).map_err(|e| SourceError::InvalidResponse {
        message: e.to_string(),
    })
}

fn vault_error(e: VaultError) -> SourceError {
    // Vault errors name owner and kind, never the secret.
    SourceError::Unavailable {
        message: format!("credential vault: {e}"),
        retry_after: None,
    }
}

fn not_connected(account: &AccountId) -> SourceError {
    SourceError::Unauthorized {
        message: format!("account {account} is not connected"),
    }
}

/// Participants' OAuth tokens in the vault, for one provider.
#[derive(Clone, Debug)]
pub struct VaultTokens {
    vault: Arc<Vault>,
    kind: SecretKind,
}

impl VaultTokens {
    /// Google tokens (`SecretKind::GoogleOauth`).
    pub fn google(vault: Arc<Vault>) -> Self {
        Self {
            vault,
            kind: SecretKind::GoogleOauth,
        }
    }

    /// Microsoft tokens (`SecretKind::MicrosoftOauth`).
    pub fn microsoft(vault: Arc<Vault>) -> Self {
        Self {
            vault,
            kind: SecretKind::MicrosoftOauth,
        }
    }

    fn wrap(&self, tokens: OAuthTokens) -> Credential {
        match self.kind {
            SecretKind::MicrosoftOauth => Credential::MicrosoftOauth(tokens),
            _ => Credential::GoogleOauth(tokens),
        }
    }

    /// The vault's lock on the account's record (across instances on
    /// PostgreSQL; nothing on single-process stores).
    async fn lock_record(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        self.vault
            .lock(&owner(account)?, self.kind)
            .await
            .map_err(vault_error)
    }

    async fn read(&self, account: &AccountId) -> Result<(OAuthTokens, Version), SourceError> {
        let stored = self
            .vault
            .get(&owner(account)?, self.kind)
            .await
            .map_err(vault_error)?
            .ok_or_else(|| not_connected(account))?;
        let tokens = stored
            .value
            .as_oauth()
            .cloned()
            .ok_or_else(|| not_connected(account))?;
        Ok((tokens, stored.version))
    }
}

#[async_trait]
impl google_provider::TokenStore for VaultTokens {
    async fn load(&self, account: &AccountId) -> Result<OAuthTokens, SourceError> {
        self.read(account).await.map(|(t, _)| t)
    }

    async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<(), SourceError> {
        self.vault
            .put(&owner(account)?, &self.wrap(tokens.clone()), Expect::Any)
            .await
            .map(|_| ())
            .map_err(vault_error)
    }

    async fn lock(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        self.lock_record(account).await
    }
}

#[async_trait]
impl graph_provider::VersionedTokenStore for VaultTokens {
    async fn load(&self, account: &AccountId) -> Result<(OAuthTokens, u64), SourceError> {
        self.read(account).await.map(|(t, v)| (t, v.0))
    }

    async fn replace(
        &self,
        account: &AccountId,
        tokens: &OAuthTokens,
        expected: u64,
    ) -> Result<bool, SourceError> {
        match self
            .vault
            .replace(
                &owner(account)?,
                &self.wrap(tokens.clone()),
                Version(expected),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(VaultError::Conflict(_)) => Ok(false),
            Err(e) => Err(vault_error(e)),
        }
    }

    async fn lock(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        self.lock_record(account).await
    }
}

/// Each participant's own IANA zone, by the account their calendar is read
/// as: filled by the assistant it is given to
/// ([`AssistantBuilder::participant_zones`](crate::AssistantBuilder::participant_zones))
/// and kept current as participants are added, changed and reloaded; read
/// by [`VaultCalDavLogins::with_zones`], so floating times and all-day
/// dates in a calendar that declares no zone are read in its owner's.
/// Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct ParticipantZones(Arc<std::sync::RwLock<std::collections::HashMap<String, TimeZone>>>);

impl ParticipantZones {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// The zone of the participant whose calendar is read as `account`.
    pub fn get(&self, account: &str) -> Option<TimeZone> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&account.to_ascii_lowercase())
            .cloned()
    }

    /// Sets one participant's zone (`None`: forgets the account).
    pub(crate) fn set(&self, account: &str, zone: Option<&str>) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match zone.and_then(|z| TimeZone::get(z).ok()) {
            Some(tz) => map.insert(account.to_ascii_lowercase(), tz),
            None => map.remove(&account.to_ascii_lowercase()),
        };
    }

    /// Replaces every entry with `entries` (account, IANA name); names that
    /// are no zone are left out.
    pub(crate) fn replace_all<'a>(&self, entries: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let map = entries
            .into_iter()
            .filter_map(|(account, zone)| {
                Some((account.to_ascii_lowercase(), TimeZone::get(zone).ok()?))
            })
            .collect();
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
    }
}

/// Apple IDs and app-specific passwords in the vault, for one CalDAV
/// server.
#[derive(Clone, Debug)]
pub struct VaultCalDavLogins {
    vault: Arc<Vault>,
    server: String,
    zones: Option<ParticipantZones>,
}

impl VaultCalDavLogins {
    /// Logins for iCloud ([`ICLOUD_CALDAV`]).
    pub fn icloud(vault: Arc<Vault>) -> Self {
        Self::for_server(vault, ICLOUD_CALDAV)
    }

    /// Logins for another CalDAV server.
    pub fn for_server(vault: Arc<Vault>, server: impl Into<String>) -> Self {
        Self {
            vault,
            server: server.into(),
            zones: None,
        }
    }

    /// Gives each login its participant's zone from `zones` (the book the
    /// assistant keeps): their floating times and all-day dates are then
    /// read in it when their calendar declares none.
    #[must_use]
    pub fn with_zones(mut self, zones: ParticipantZones) -> Self {
        self.zones = Some(zones);
        self
    }
}

#[async_trait]
impl CalDavLogins for VaultCalDavLogins {
    async fn login(&self, account: &AccountId) -> Result<CalDavLogin, SourceError> {
        let stored = self
            .vault
            .get(&owner(account)?, SecretKind::AppleAppPassword)
            .await
            .map_err(vault_error)?
            .ok_or_else(|| not_connected(account))?;
        match stored.value {
            Credential::AppleAppPassword(app) => {
                let login = CalDavLogin::new(
                    self.server.clone(),
                    app.apple_id.clone(),
                    Password::new(app.password.secret()),
                );
                Ok(
                    match self.zones.as_ref().and_then(|z| z.get(account.as_str())) {
                        Some(zone) => login.with_zone(zone),
                        None => login,
                    },
                )
            }
            _ => Err(not_connected(account)),
        }
    }
}
