//! [`OrgAuth`], the instance's enabled integrations, and
//! [`IntegrationStatus`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use availability::{
    AccountId, Clock, FreeBusyRequest, FreeBusySource, Interval, MeetingSender, TokenSource,
};
use credential_vault::{AppCredentials, Credential, Expect, ServiceAccountKey, Vault};
use ews_provider::{EwsConfig, EwsSource};
use google_provider::{GoogleConfig, GoogleEvents, GoogleSource, Pacing, SCOPE_EVENTS};
use graph_provider::GraphConfig;
use tokio::sync::RwLock;

use crate::{
    Coverage, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind,
    IntegrationSettings, OrgError, ValidationError,
};

/// One integration's status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntegrationStatus {
    /// Which.
    pub kind: IntegrationKind,
    /// The scheduling account invitations come from.
    pub scheduling_account: String,
    /// Who is covered.
    pub coverage: Coverage,
    /// How many participants it connected automatically.
    pub automatic_connections: usize,
}

/// An enabled integration: its stored settings (no secret), its source
/// (none for Exchange on-premise settings stored before its client
/// existed), its writer (with booking on only), and
/// the connections it made.
struct Enabled {
    settings: IntegrationSettings,
    source: Option<Arc<dyn FreeBusySource>>,
    sender: Option<Arc<dyn MeetingSender>>,
    automatic: BTreeSet<String>,
}

impl Enabled {
    /// Whether it connects `email` (it has a source and covers them).
    fn serves(&self, email: &str) -> bool {
        self.source.is_some() && self.settings.coverage().is_some_and(|c| c.covers(email))
    }
}

/// The instance's organisation integrations: enable (after one real test
/// call), disable, status, resolution of participants, and the free/busy
/// sources they give. Secrets live in the credential vault; enabling
/// applies to every program of the instance.
///
/// Each kind's requests are paced by [`pacing`](Self::pacing) (the
/// provider's documented quotas unless [`with_pacing`](Self::with_pacing)
/// says otherwise): an instance setting, not part of the stored
/// [`IntegrationSettings`], applied to every source and writer built here
/// (enabling, validating, restoring).
pub struct OrgAuth {
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    /// Pacing set by [`with_pacing`](Self::with_pacing), by kind.
    pacing: BTreeMap<IntegrationKind, Pacing>,
    enabled: RwLock<BTreeMap<IntegrationKind, Enabled>>,
}

impl fmt::Debug for OrgAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgAuth")
            .field("pacing", &self.pacing)
            .finish_non_exhaustive()
    }
}

impl OrgAuth {
    /// No integrations yet; secrets go to `vault`. Each kind is paced by
    /// its provider's defaults ([`pacing`](Self::pacing)).
    pub fn new(vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self {
            vault,
            clock,
            pacing: BTreeMap::new(),
            enabled: RwLock::new(BTreeMap::new()),
        }
    }

    /// Paces `kind`'s requests by `pacing` instead of its provider's
    /// defaults: every source and booking writer of that kind this
    /// registry builds from then on (by
    /// [`enable_google`](Self::enable_google) and the other `enable_`
    /// methods, the `validate_` methods and [`restore`](Self::restore)).
    /// It belongs to the instance, not to the stored settings: set it
    /// alike on every instance sharing a database, and after a restart.
    ///
    /// The rates are per instance: `n` instances reading one organisation
    /// may together send `n` times the rate, so divide a quota among
    /// them.
    ///
    /// # Example: Google Workspace at five requests a second per user
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use availability::FixedClock;
    /// use credential_vault::{KeyId, KeyRing, MasterKey, MemoryStore, Vault};
    /// use org_wide_auth::{IntegrationKind, OrgAuth, Pacing, Rate};
    ///
    /// let vault = Arc::new(Vault::new(
    ///     Arc::new(MemoryStore::new()),
    ///     KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
    /// ));
    /// let clock = Arc::new(FixedClock::new("2026-01-05T09:00:00Z".parse()?));
    /// let pacing = Pacing::default().per_identity(Rate::per_second(5));
    /// let org = OrgAuth::new(vault, clock)
    ///     .with_pacing(IntegrationKind::GoogleWorkspace, pacing.clone());
    /// assert_eq!(org.pacing(IntegrationKind::GoogleWorkspace), pacing);
    /// // Exchange Online keeps Graph's: 10,000 per 10 minutes and 4 at
    /// // once per mailbox.
    /// assert_eq!(org.pacing(IntegrationKind::ExchangeOnline).concurrency, Some(4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_pacing(mut self, kind: IntegrationKind, pacing: Pacing) -> Self {
        self.pacing.insert(kind, pacing);
        self
    }

    /// How `kind`'s requests are paced: what
    /// [`with_pacing`](Self::with_pacing) set, else the provider's
    /// documented defaults:
    ///
    /// - Google Workspace ([`IntegrationKind::GoogleWorkspace`]):
    ///   google-provider's `GoogleConfig::pacing`, Google Calendar's
    ///   quotas, 600 requests a minute per user and 10,000 a minute per
    ///   project.
    /// - Exchange Online ([`IntegrationKind::ExchangeOnline`]):
    ///   graph-provider's `GraphConfig::pacing`, 10,000 requests per 10
    ///   minutes and 4 in flight at once per mailbox.
    /// - Exchange on-premise ([`IntegrationKind::ExchangeOnPremise`]):
    ///   ews-provider's `EwsConfig::pacing`, 10 in flight at once per
    ///   login and no rate.
    pub fn pacing(&self, kind: IntegrationKind) -> Pacing {
        if let Some(pacing) = self.pacing.get(&kind) {
            return pacing.clone();
        }
        match kind {
            IntegrationKind::GoogleWorkspace => GoogleConfig::default().pacing,
            IntegrationKind::ExchangeOnline => GraphConfig::default().pacing,
            IntegrationKind::ExchangeOnPremise => EwsConfig::new(String::new()).pacing,
        }
    }

    async fn check_exclusion(&self, requested: IntegrationKind) -> Result<(), OrgError> {
        let Some(other) = requested.excludes() else {
            return Ok(());
        };
        if self.enabled.read().await.contains_key(&other) {
            return Err(OrgError::ExchangeConflict {
                enabled: other,
                requested,
            });
        }
        Ok(())
    }

    /// Records an enabled integration (replacing one of its kind).
    async fn insert(
        &self,
        settings: IntegrationSettings,
        source: Option<Arc<dyn FreeBusySource>>,
        sender: Option<Arc<dyn MeetingSender>>,
    ) {
        self.enabled.write().await.insert(
            settings.kind(),
            Enabled {
                settings,
                source,
                sender,
                automatic: BTreeSet::new(),
            },
        );
    }

    /// Stores `kind`'s secret in the vault.
    async fn put_secret(&self, kind: IntegrationKind, secret: &Credential) -> Result<(), OrgError> {
        self.vault
            .put(&kind.owner()?, secret, Expect::Any)
            .await
            .map_err(|e| OrgError::Vault(e.to_string()))?;
        Ok(())
    }

    /// `kind`'s secret from the vault.
    async fn stored_secret(&self, kind: IntegrationKind) -> Result<Credential, OrgError> {
        self.vault
            .get(&kind.owner()?, kind.secret_kind())
            .await
            .map_err(|e| OrgError::Vault(e.to_string()))?
            .map(|stored| stored.value)
            .ok_or_else(|| OrgError::Vault(format!("no stored secret for {kind:?}")))
    }

    /// One real call: the scheduling account's free/busy for the next
    /// hour, through the integration's own credentials.
    async fn probe(
        &self,
        source: &dyn FreeBusySource,
        scheduling_account: &str,
    ) -> Result<(), ValidationError> {
        let now = self.clock.now().as_second();
        let window = Interval::new(now, now + 3600)
            .map_err(|e| ValidationError::Unreachable(e.to_string()))?;
        let answer = source
            .free_busy(&FreeBusyRequest::new(window, [scheduling_account]))
            .await?;
        match answer.accounts.into_iter().next().map(|a| a.result) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
            None => Err(ValidationError::Unreachable(
                "the provider answered no account".to_owned(),
            )),
        }
    }

    /// Checks a Google Workspace integration without storing anything: the
    /// key reads, the delegation is authorised for the free/busy scope, and
    /// the scheduling account exists.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] with the reason.
    pub async fn validate_google(&self, config: &GoogleWorkspace) -> Result<(), ValidationError> {
        self.google_clients(config).await.map(|_| ())
    }

    /// The checked Google clients: the source after its probe and, with
    /// booking on, the writer after its token for the scheduling account
    /// with the events scope was minted (Google answers
    /// `unauthorized_client` when the delegation lacks the scope).
    async fn google_clients(
        &self,
        config: &GoogleWorkspace,
    ) -> Result<(GoogleSource, Option<GoogleEvents>), ValidationError> {
        let pacing = self.pacing(IntegrationKind::GoogleWorkspace);
        let (source, sender) = config.clients(self.clock.clone(), &pacing)?;
        self.probe(&source, &config.scheduling_account).await?;
        let Some((sender, tokens)) = sender else {
            return Ok((source, None));
        };
        let account = AccountId::new(config.scheduling_account.clone());
        if let Err(e) = tokens.token(&account).await {
            return Err(match ValidationError::from(e) {
                ValidationError::NotAuthorised(why) => ValidationError::NotAuthorised(format!(
                    "booking needs {SCOPE_EVENTS} in the service account's domain-wide \
                     delegation: {why}"
                )),
                other => other,
            });
        }
        Ok((source, Some(sender)))
    }

    /// Checks an Exchange Online integration without storing anything: the
    /// app credentials are accepted, the tenant consented, and the
    /// scheduling account's mailbox exists.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] with the reason.
    pub async fn validate_exchange_online(
        &self,
        config: &ExchangeOnline,
    ) -> Result<(), ValidationError> {
        let pacing = self.pacing(IntegrationKind::ExchangeOnline);
        let source = config.source(self.clock.clone(), &pacing)?;
        self.probe(&source, &config.scheduling_account).await
    }

    /// Validates, then enables Google Workspace for every program: the key
    /// goes to the vault.
    ///
    /// # Errors
    ///
    /// [`OrgError::Validation`] (nothing stored), or the vault's failure.
    pub async fn enable_google(&self, config: GoogleWorkspace) -> Result<(), OrgError> {
        let (source, sender) = self.google_clients(&config).await?;
        let key = Credential::GoogleServiceAccount(ServiceAccountKey::new(
            config.scheduling_account.clone(),
            config.service_account_key.clone(),
        ));
        self.put_secret(IntegrationKind::GoogleWorkspace, &key)
            .await?;
        self.insert(config.settings(), Some(Arc::new(source)), boxed(sender))
            .await;
        Ok(())
    }

    /// Validates, then enables Exchange Online for every program.
    ///
    /// # Errors
    ///
    /// [`OrgError::ExchangeConflict`] if Exchange on-premise is enabled,
    /// [`OrgError::Validation`] (nothing stored), or the vault's failure.
    pub async fn enable_exchange_online(&self, config: ExchangeOnline) -> Result<(), OrgError> {
        self.check_exclusion(IntegrationKind::ExchangeOnline)
            .await?;
        let pacing = self.pacing(IntegrationKind::ExchangeOnline);
        let (source, sender) = config.clients(self.clock.clone(), &pacing)?;
        self.probe(&source, &config.scheduling_account).await?;
        let creds = Credential::MicrosoftAppCredentials(AppCredentials::new(
            config.tenant.clone(),
            config.client_id.clone(),
            config.secret.clone(),
        ));
        self.put_secret(IntegrationKind::ExchangeOnline, &creds)
            .await?;
        self.insert(config.settings(), Some(Arc::new(source)), boxed(sender))
            .await;
        Ok(())
    }

    /// The settings of every enabled integration (no secret), to store
    /// beside the vault and [`restore`](Self::restore) after a restart.
    pub async fn settings(&self) -> Vec<IntegrationSettings> {
        self.enabled
            .read()
            .await
            .values()
            .map(|e| e.settings.clone())
            .collect()
    }

    /// Re-enables an integration from stored settings and its secret in
    /// the vault, without the validation call (it was validated when first
    /// enabled; a revoked delegation shows up as the participants' read
    /// errors).
    ///
    /// # Errors
    ///
    /// [`OrgError::Vault`] when the secret is missing or unreadable,
    /// [`OrgError::ExchangeConflict`], or [`OrgError::Validation`] for
    /// settings that no longer build a client.
    pub async fn restore(&self, settings: &IntegrationSettings) -> Result<(), OrgError> {
        let kind = settings.kind();
        match settings {
            IntegrationSettings::GoogleWorkspace(stored) => {
                let Credential::GoogleServiceAccount(key) = self.stored_secret(kind).await? else {
                    return Err(OrgError::Vault("unexpected secret kind".to_owned()));
                };
                let mut config = stored.clone();
                config.service_account_key = key.key_json.clone();
                let (source, sender) = config.clients(self.clock.clone(), &self.pacing(kind))?;
                let sender = sender.map(|(sender, _)| sender);
                self.insert(config.settings(), Some(Arc::new(source)), boxed(sender))
                    .await;
            }
            IntegrationSettings::ExchangeOnline(stored) => {
                self.check_exclusion(kind).await?;
                let Credential::MicrosoftAppCredentials(app) = self.stored_secret(kind).await?
                else {
                    return Err(OrgError::Vault("unexpected secret kind".to_owned()));
                };
                let mut config = stored.clone();
                config.secret = app.secret.clone();
                let (source, sender) = config.clients(self.clock.clone(), &self.pacing(kind))?;
                self.insert(config.settings(), Some(Arc::new(source)), boxed(sender))
                    .await;
            }
            IntegrationSettings::ExchangeOnPremise(stored) => {
                self.check_exclusion(kind).await?;
                if !stored.has_client() {
                    // Stored before the EWS client existed: it still
                    // excludes Exchange Online and covers nobody.
                    self.insert(settings.clone(), None, None).await;
                    return Ok(());
                }
                let Credential::ExchangeServerLogin(login) = self.stored_secret(kind).await? else {
                    return Err(OrgError::Vault("unexpected secret kind".to_owned()));
                };
                let mut config = stored.clone();
                config.user = login.user.clone();
                config.password = login.password.clone();
                let source = config.source(&self.pacing(kind))?;
                self.insert(config.settings(), Some(Arc::new(source)), None)
                    .await;
            }
        }
        Ok(())
    }

    /// Checks an Exchange on-premise integration without storing anything:
    /// the EWS endpoint answers, the login is accepted, and the scheduling
    /// account's mailbox exists (one `GetUserAvailability` for it).
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] with the reason.
    pub async fn validate_exchange_on_premise(
        &self,
        config: &ExchangeOnPremise,
    ) -> Result<(), ValidationError> {
        self.on_premise_source(config).await.map(|_| ())
    }

    /// The EWS source after its probe.
    async fn on_premise_source(
        &self,
        config: &ExchangeOnPremise,
    ) -> Result<EwsSource, ValidationError> {
        if !config.has_client() {
            return Err(ValidationError::Unreachable(
                "no EWS URL was given".to_owned(),
            ));
        }
        let source = config.source(&self.pacing(IntegrationKind::ExchangeOnPremise))?;
        self.probe(&source, &config.scheduling_account).await?;
        Ok(source)
    }

    /// Validates (one `GetUserAvailability` for the scheduling account),
    /// then enables Exchange on-premise for every program: the login goes
    /// to the vault, and the participants its coverage names are read
    /// through EWS.
    ///
    /// # Errors
    ///
    /// [`OrgError::ExchangeConflict`] if Exchange Online is enabled,
    /// [`OrgError::Validation`] (nothing stored), or the vault's failure.
    pub async fn enable_exchange_on_premise(
        &self,
        config: ExchangeOnPremise,
    ) -> Result<(), OrgError> {
        self.check_exclusion(IntegrationKind::ExchangeOnPremise)
            .await?;
        let source = self.on_premise_source(&config).await?;
        self.put_secret(
            IntegrationKind::ExchangeOnPremise,
            &Credential::ExchangeServerLogin(config.login()),
        )
        .await?;
        self.insert(config.settings(), Some(Arc::new(source)), None)
            .await;
        Ok(())
    }

    /// Disables `kind`: removes the integration, its secrets, and the
    /// automatic connections it made, which are returned so the assistant
    /// can drop them. Participants' own connections are untouched.
    ///
    /// # Errors
    ///
    /// The vault's failure.
    pub async fn disable(&self, kind: IntegrationKind) -> Result<Vec<String>, OrgError> {
        let removed = self.enabled.write().await.remove(&kind);
        self.vault
            .delete_owner(&kind.owner()?)
            .await
            .map_err(|e| OrgError::Vault(e.to_string()))?;
        Ok(removed
            .map(|e| e.automatic.into_iter().collect())
            .unwrap_or_default())
    }

    /// Removes `kind` from this instance only, leaving its secret in the
    /// vault: for an instance that learns another one sharing its
    /// database disabled it (or is about to [`restore`](Self::restore)
    /// it from newer settings). Returns the automatic connections it had
    /// made here.
    pub async fn forget(&self, kind: IntegrationKind) -> Vec<String> {
        self.enabled
            .write()
            .await
            .remove(&kind)
            .map(|e| e.automatic.into_iter().collect())
            .unwrap_or_default()
    }

    /// Every enabled integration.
    pub async fn status(&self) -> Vec<IntegrationStatus> {
        self.enabled
            .read()
            .await
            .values()
            .map(|e| IntegrationStatus {
                kind: e.settings.kind(),
                scheduling_account: e.settings.scheduling_account().to_owned(),
                coverage: e.settings.coverage().cloned().unwrap_or_default(),
                automatic_connections: e.automatic.len(),
            })
            .collect()
    }

    /// The integration covering `email`, if any.
    pub async fn resolve(&self, email: &str) -> Option<IntegrationKind> {
        self.enabled
            .read()
            .await
            .values()
            .find(|e| e.serves(email))
            .map(|e| e.settings.kind())
    }

    /// Connects the covered participants among `emails` (those without a
    /// connection of their own, which the caller decides) and records them
    /// as made by their integration; returns who was connected, by which.
    pub async fn connect_automatically(&self, emails: &[String]) -> Vec<(String, IntegrationKind)> {
        let mut enabled = self.enabled.write().await;
        let mut out = Vec::new();
        for email in emails {
            let key = email.trim().to_ascii_lowercase();
            if let Some(e) = enabled.values_mut().find(|e| e.serves(&key)) {
                e.automatic.insert(key);
                out.push((email.clone(), e.settings.kind()));
            }
        }
        out
    }

    /// The free/busy source of an enabled integration (its token source
    /// impersonates, or uses app-only access, so the provider needs no
    /// special case).
    pub async fn source(&self, kind: IntegrationKind) -> Option<Arc<dyn FreeBusySource>> {
        self.enabled
            .read()
            .await
            .get(&kind)
            .and_then(|e| e.source.clone())
    }

    /// The writer of an enabled integration whose
    /// [`booking`](GoogleWorkspace::booking) is on: Google Calendar
    /// `events.insert` / `patch` / `delete` on the scheduling account's
    /// calendar, or Graph `POST /users/{account}/events` / `PATCH` /
    /// `cancel` in its mailbox. `None` when `kind` is not enabled, or is
    /// enabled without booking (and always for Exchange on-premise, whose
    /// meetings go by email). Its
    /// meetings' [`organiser`](availability::Meeting::organiser) is
    /// [`scheduling_account`](Self::scheduling_account).
    pub async fn meeting_sender(&self, kind: IntegrationKind) -> Option<Arc<dyn MeetingSender>> {
        self.enabled
            .read()
            .await
            .get(&kind)
            .and_then(|e| e.sender.clone())
    }

    /// The scheduling account of an enabled integration (who invitations
    /// come from), or `None` when `kind` is not enabled.
    pub async fn scheduling_account(&self, kind: IntegrationKind) -> Option<String> {
        self.enabled
            .read()
            .await
            .get(&kind)
            .map(|e| e.settings.scheduling_account().to_owned())
    }

    /// Whether the vault holds `kind`'s secret (for checks and tests).
    pub async fn has_secret(&self, kind: IntegrationKind) -> bool {
        let Ok(owner) = kind.owner() else {
            return false;
        };
        matches!(
            self.vault.get(&owner, kind.secret_kind()).await,
            Ok(Some(_))
        )
    }
}

/// A writer as the registry holds it.
fn boxed<S: MeetingSender>(sender: Option<S>) -> Option<Arc<dyn MeetingSender>> {
    sender.map(|s| Arc::new(s) as Arc<dyn MeetingSender>)
}
