#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountId, Clock, FreeBusyRequest, FreeBusySource, Interval, SourceError,
    SourceErrorKind, TokenSource,
};
use credential_vault::{
    AppCredentials, AppSecret, Credential, Expect, OwnerId, SecretKind, SecretString,
    ServiceAccountKey, Vault,
};
use google_provider::{
    GoogleConfig, GoogleSource, SCOPE_FREEBUSY, ServiceAccount, ServiceAccountTokens,
};
use graph_provider::{
    AppTokens, AuthConfig, Certificate, GraphConfig, GraphOAuth, GraphSource, Tenant,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

/// What a participant's status says when an integration covers them.
pub const CONNECTED_THROUGH_ORGANISATION: &str = "Connected through your organisation";

/// The kinds of organisation integration. Exchange Online and Exchange
/// on-premise exclude each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum IntegrationKind {
    /// Google Workspace: a service account with domain-wide delegation.
    GoogleWorkspace,
    /// Exchange Online: a Graph app registration with application
    /// permissions, consented by the tenant administrator.
    ExchangeOnline,
    /// Exchange Server on-premise (EWS). Recorded for mutual exclusion;
    /// its free/busy client is not built yet.
    ExchangeOnPremise,
}

impl IntegrationKind {
    fn owner(self) -> &'static str {
        match self {
            Self::GoogleWorkspace => "org:google-workspace",
            Self::ExchangeOnline => "org:exchange-online",
            Self::ExchangeOnPremise => "org:exchange-on-premise",
        }
    }
}

/// Who an integration covers: participants whose email domain is listed,
/// and listed addresses (case-insensitive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Email domains (`example.org`), exact match.
    pub domains: BTreeSet<String>,
    /// Individual addresses outside those domains.
    pub allow: BTreeSet<String>,
}

impl Coverage {
    /// Covering `domains`.
    pub fn domains<I: IntoIterator<Item = S>, S: AsRef<str>>(domains: I) -> Self {
        Self {
            domains: domains
                .into_iter()
                .map(|d| d.as_ref().trim().to_ascii_lowercase())
                .collect(),
            allow: BTreeSet::new(),
        }
    }

    /// Also covering these addresses.
    #[must_use]
    pub fn allow<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, emails: I) -> Self {
        self.allow.extend(
            emails
                .into_iter()
                .map(|e| e.as_ref().trim().to_ascii_lowercase()),
        );
        self
    }

    /// Whether `email` is covered.
    pub fn covers(&self, email: &str) -> bool {
        let email = email.trim().to_ascii_lowercase();
        if self.allow.contains(&email) {
            return true;
        }
        email
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.domains.contains(domain))
    }
}

/// Whose identity reads participants' free/busy in Google Workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadAs {
    /// Each participant, impersonated (`sub` = their email): works
    /// whatever the domain's calendar-sharing settings, one token and one
    /// request per participant (tokens cached per subject, re-minted before
    /// expiry). The default.
    #[default]
    EachParticipant,
    /// The scheduling account, impersonated once: domain members see each
    /// other's free/busy by default, so participants go out 50 calendars to
    /// a request with one token. Fails per participant (notFound) where the
    /// domain restricts sharing.
    SchedulingAccount,
}

/// A Google Workspace integration.
#[derive(Clone)]
#[non_exhaustive]
pub struct GoogleWorkspace {
    /// The service account's JSON key (kept in the vault).
    pub service_account_key: SecretString,
    /// The program's scheduling account (invitations come from it, and it
    /// is impersonated to read colleagues' free/busy in batches).
    pub scheduling_account: String,
    /// Who is covered.
    pub coverage: Coverage,
    /// Overrides for tests: the token endpoint and the API base URL.
    pub token_uri: Option<String>,
    /// The Calendar API base URL (default Google's).
    pub api_base: Option<String>,
    /// Whose identity reads free/busy. Default [`ReadAs::EachParticipant`].
    pub read_as: ReadAs,
    /// Root certificates (DER) trusted for the token endpoint and the API
    /// besides the platform's: a private CA, or a proxy that inspects TLS.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for GoogleWorkspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleWorkspace")
            .field("scheduling_account", &self.scheduling_account)
            .field("coverage", &self.coverage)
            .finish_non_exhaustive()
    }
}

impl GoogleWorkspace {
    /// An integration with Google's endpoints.
    pub fn new(
        service_account_key: SecretString,
        scheduling_account: impl Into<String>,
        coverage: Coverage,
    ) -> Self {
        Self {
            service_account_key,
            scheduling_account: scheduling_account.into(),
            coverage,
            token_uri: None,
            api_base: None,
            read_as: ReadAs::EachParticipant,
            extra_root_certificates: Vec::new(),
        }
    }

    /// Adds a root certificate (DER) to
    /// [`extra_root_certificates`](Self::extra_root_certificates).
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// Sets [`read_as`](Self::read_as).
    #[must_use]
    pub fn read_as(mut self, read_as: ReadAs) -> Self {
        self.read_as = read_as;
        self
    }

    /// Uses other endpoints (tests).
    #[must_use]
    pub fn endpoints(mut self, token_uri: impl Into<String>, api_base: impl Into<String>) -> Self {
        self.token_uri = Some(token_uri.into());
        self.api_base = Some(api_base.into());
        self
    }
}

/// An Exchange Online integration (Graph application permissions).
#[derive(Clone)]
#[non_exhaustive]
pub struct ExchangeOnline {
    /// The tenant id or domain.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// Its client secret or certificate (kept in the vault).
    pub secret: AppSecret,
    /// The program's scheduling account (checked by validation).
    pub scheduling_account: String,
    /// Who is covered.
    pub coverage: Coverage,
    /// Overrides for tests: the identity host and the Graph base URL.
    pub authority: Option<String>,
    /// The Graph base URL (default `https://graph.microsoft.com/v1.0`).
    pub graph_base: Option<String>,
    /// Root certificates (DER) trusted for the identity host and Graph
    /// besides the platform's: a private CA, or a proxy that inspects TLS.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for ExchangeOnline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeOnline")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("scheduling_account", &self.scheduling_account)
            .field("coverage", &self.coverage)
            .finish_non_exhaustive()
    }
}

impl ExchangeOnline {
    /// An integration with Microsoft's endpoints.
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        secret: AppSecret,
        scheduling_account: impl Into<String>,
        coverage: Coverage,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            client_id: client_id.into(),
            secret,
            scheduling_account: scheduling_account.into(),
            coverage,
            authority: None,
            graph_base: None,
            extra_root_certificates: Vec::new(),
        }
    }

    /// Adds a root certificate (DER) to
    /// [`extra_root_certificates`](Self::extra_root_certificates).
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// Uses other endpoints (tests).
    #[must_use]
    pub fn endpoints(
        mut self,
        authority: impl Into<String>,
        graph_base: impl Into<String>,
    ) -> Self {
        self.authority = Some(authority.into());
        self.graph_base = Some(graph_base.into());
        self
    }

    fn auth_config(&self) -> AuthConfig {
        let mut config = AuthConfig::new(self.client_id.clone(), Tenant(self.tenant.clone()));
        if let Some(authority) = &self.authority {
            config = config.authority(authority.clone());
        }
        if let AppSecret::ClientSecret(secret) = &self.secret {
            config = config.client_secret(secret.clone());
        }
        for der in &self.extra_root_certificates {
            config = config.add_root_certificate(der.clone());
        }
        config
    }

    /// The URL the tenant administrator opens to consent for the tenant.
    pub fn admin_consent_url(&self, redirect_uri: &str, state: &str) -> String {
        self.auth_config().admin_consent_url(redirect_uri, state)
    }
}

/// Why an integration could not be enabled or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrgError {
    /// Exchange Online and Exchange on-premise cannot both be enabled.
    #[error("{enabled:?} is enabled; disable it before enabling {requested:?}")]
    ExchangeConflict {
        /// The one already enabled.
        enabled: IntegrationKind,
        /// The one asked for.
        requested: IntegrationKind,
    },
    /// The kind has no free/busy client in this build.
    #[error("{0:?} is not supported yet")]
    Unsupported(IntegrationKind),
    /// The test call failed; nothing was stored.
    #[error("validation failed: {0}")]
    Validation(#[from] ValidationError),
    /// The vault failed.
    #[error("credential vault: {0}")]
    Vault(String),
}

/// Why validation failed, with the reason an administrator can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The key or app credentials are malformed or refused.
    #[error("the credentials are not accepted: {0}")]
    BadCredentials(String),
    /// Google: the service account's client ID is not authorised for the
    /// scopes in the Admin console; Microsoft: the administrator has not
    /// consented to the application permission.
    #[error("not authorised: {0}")]
    NotAuthorised(String),
    /// The scheduling account does not exist in the organisation.
    #[error("user not found: {0}")]
    UserNotFound(String),
    /// The provider could not be reached or failed.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
}

impl From<SourceError> for ValidationError {
    fn from(e: SourceError) -> Self {
        let message = e.to_string();
        match e.kind() {
            SourceErrorKind::Forbidden | SourceErrorKind::Unauthorized => {
                Self::NotAuthorised(message)
            }
            SourceErrorKind::NotFound => Self::UserNotFound(message),
            SourceErrorKind::InvalidResponse => Self::BadCredentials(message),
            _ => Self::Unreachable(message),
        }
    }
}

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

/// An integration's settings without its secret: what an instance stores so
/// that, restarting, it can [`restore`](OrgAuth::restore) the integration
/// (the secret stays in the vault). Serialises to JSON with a `kind` tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrationSettings {
    /// See [`GoogleWorkspace`].
    GoogleWorkspace {
        /// The scheduling account.
        scheduling_account: String,
        /// Covered domains.
        domains: BTreeSet<String>,
        /// Covered addresses outside them.
        allow: BTreeSet<String>,
        /// Whether the scheduling account reads for everyone.
        via_scheduling_account: bool,
        /// The token endpoint, if not Google's.
        token_uri: Option<String>,
        /// The Calendar API base URL, if not Google's.
        api_base: Option<String>,
        /// Extra root certificates (DER; base64 in JSON).
        #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_ders")]
        extra_root_certificates: Vec<Vec<u8>>,
    },
    /// See [`ExchangeOnline`].
    ExchangeOnline {
        /// The tenant.
        tenant: String,
        /// The app's client id.
        client_id: String,
        /// The scheduling account.
        scheduling_account: String,
        /// Covered domains.
        domains: BTreeSet<String>,
        /// Covered addresses outside them.
        allow: BTreeSet<String>,
        /// The identity host, if not Microsoft's.
        authority: Option<String>,
        /// The Graph base URL, if not Microsoft's.
        graph_base: Option<String>,
        /// Extra root certificates (DER; base64 in JSON).
        #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_ders")]
        extra_root_certificates: Vec<Vec<u8>>,
    },
    /// Exchange on-premise (recorded for mutual exclusion).
    ExchangeOnPremise {
        /// The scheduling account.
        scheduling_account: String,
    },
}

impl IntegrationSettings {
    /// Which integration these settings are for.
    pub fn kind(&self) -> IntegrationKind {
        match self {
            Self::GoogleWorkspace { .. } => IntegrationKind::GoogleWorkspace,
            Self::ExchangeOnline { .. } => IntegrationKind::ExchangeOnline,
            Self::ExchangeOnPremise { .. } => IntegrationKind::ExchangeOnPremise,
        }
    }
}

/// A Google token source that impersonates the scheduling account for every
/// account, so colleagues' free/busy goes out 50 calendars to a request
/// (domain members see each other's free/busy by default).
#[derive(Debug)]
pub struct ViaSchedulingAccount {
    inner: ServiceAccountTokens,
    subject: AccountId,
}

#[async_trait]
impl TokenSource for ViaSchedulingAccount {
    async fn token(&self, _account: &AccountId) -> Result<AccessToken, SourceError> {
        self.inner.token(&self.subject).await
    }

    async fn invalidate(&self, _account: &AccountId) {
        self.inner.invalidate(&self.subject).await;
    }
}

struct Enabled {
    kind: IntegrationKind,
    settings: IntegrationSettings,
    scheduling_account: String,
    coverage: Coverage,
    source: Option<Arc<dyn FreeBusySource>>,
    automatic: BTreeSet<String>,
}

/// The instance's organisation integrations: enable (after one real test
/// call), disable, status, resolution of participants, and the free/busy
/// sources they give. Secrets live in the credential vault; enabling
/// applies to every program of the instance.
pub struct OrgAuth {
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    enabled: RwLock<BTreeMap<IntegrationKind, Enabled>>,
}

impl fmt::Debug for OrgAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgAuth").finish_non_exhaustive()
    }
}

fn owner(kind: IntegrationKind) -> Result<OwnerId, OrgError> {
    OwnerId::new(kind.owner()).map_err(|e| OrgError::Vault(e.to_string()))
}

impl OrgAuth {
    /// No integrations yet; secrets go to `vault`.
    pub fn new(vault: Arc<Vault>, clock: Arc<dyn Clock>) -> Self {
        Self {
            vault,
            clock,
            enabled: RwLock::new(BTreeMap::new()),
        }
    }

    async fn check_exclusion(&self, requested: IntegrationKind) -> Result<(), OrgError> {
        let other = match requested {
            IntegrationKind::ExchangeOnline => IntegrationKind::ExchangeOnPremise,
            IntegrationKind::ExchangeOnPremise => IntegrationKind::ExchangeOnline,
            IntegrationKind::GoogleWorkspace => return Ok(()),
        };
        if self.enabled.read().await.contains_key(&other) {
            return Err(OrgError::ExchangeConflict {
                enabled: other,
                requested,
            });
        }
        Ok(())
    }

    fn google_source(&self, config: &GoogleWorkspace) -> Result<GoogleSource, ValidationError> {
        let mut account = ServiceAccount::from_json(&config.service_account_key)
            .map_err(|e| ValidationError::BadCredentials(e.to_string()))?;
        if let Some(uri) = &config.token_uri {
            account = account.with_token_uri(uri.clone());
        }
        let tokens = ServiceAccountTokens::with_clock(
            Arc::new(account),
            vec![SCOPE_FREEBUSY.to_owned()],
            self.clock.clone(),
        )?
        .with_root_certificates(&config.extra_root_certificates)
        .map_err(|e| ValidationError::BadCredentials(e.to_string()))?;
        let tokens: Arc<dyn TokenSource> = match config.read_as {
            ReadAs::SchedulingAccount => Arc::new(ViaSchedulingAccount {
                inner: tokens,
                subject: AccountId::new(config.scheduling_account.clone()),
            }),
            _ => Arc::new(tokens),
        };
        let mut google = GoogleConfig::default();
        if let Some(base) = &config.api_base {
            google = google.base_url(base.clone());
        }
        for der in &config.extra_root_certificates {
            google = google.add_root_certificate(der.clone());
        }
        GoogleSource::new(tokens, google).map_err(|e| ValidationError::Unreachable(e.to_string()))
    }

    fn graph_source(&self, config: &ExchangeOnline) -> Result<GraphSource, ValidationError> {
        let oauth = Arc::new(
            GraphOAuth::new(config.auth_config())
                .map_err(|e| ValidationError::BadCredentials(e.to_string()))?,
        );
        let tokens = match &config.secret {
            AppSecret::ClientSecret(_) => AppTokens::with_secret(oauth, self.clock.clone()),
            AppSecret::Certificate {
                private_key_pem,
                thumbprint,
            } => AppTokens::with_certificate(
                oauth,
                Certificate::from_pem(private_key_pem.secret(), thumbprint)
                    .map_err(|e| ValidationError::BadCredentials(e.to_string()))?,
                self.clock.clone(),
            ),
            _ => {
                return Err(ValidationError::BadCredentials(
                    "unknown kind of app secret".to_owned(),
                ));
            }
        };
        let mut graph = GraphConfig::default();
        if let Some(base) = &config.graph_base {
            graph = graph.base_url(base.clone());
        }
        for der in &config.extra_root_certificates {
            graph = graph.add_root_certificate(der.clone());
        }
        GraphSource::new(Arc::new(tokens), graph)
            .map_err(|e| ValidationError::Unreachable(e.to_string()))
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
        let source = self.google_source(config)?;
        self.probe(&source, &config.scheduling_account).await
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
        let source = self.graph_source(config)?;
        self.probe(&source, &config.scheduling_account).await
    }

    /// Validates, then enables Google Workspace for every program: the key
    /// goes to the vault.
    ///
    /// # Errors
    ///
    /// [`OrgError::Validation`] (nothing stored), or the vault's failure.
    pub async fn enable_google(&self, config: GoogleWorkspace) -> Result<(), OrgError> {
        let source = self.google_source(&config)?;
        self.probe(&source, &config.scheduling_account).await?;
        let key = Credential::GoogleServiceAccount(ServiceAccountKey::new(
            config.scheduling_account.clone(),
            config.service_account_key.clone(),
        ));
        self.vault
            .put(&owner(IntegrationKind::GoogleWorkspace)?, &key, Expect::Any)
            .await
            .map_err(|e| OrgError::Vault(e.to_string()))?;
        self.insert_google(config, source).await;
        Ok(())
    }

    async fn insert_google(&self, config: GoogleWorkspace, source: GoogleSource) {
        let settings = IntegrationSettings::GoogleWorkspace {
            scheduling_account: config.scheduling_account.clone(),
            domains: config.coverage.domains.clone(),
            allow: config.coverage.allow.clone(),
            via_scheduling_account: config.read_as == ReadAs::SchedulingAccount,
            token_uri: config.token_uri.clone(),
            api_base: config.api_base.clone(),
            extra_root_certificates: config.extra_root_certificates.clone(),
        };
        self.enabled.write().await.insert(
            IntegrationKind::GoogleWorkspace,
            Enabled {
                kind: IntegrationKind::GoogleWorkspace,
                settings,
                scheduling_account: config.scheduling_account,
                coverage: config.coverage,
                source: Some(Arc::new(source)),
                automatic: BTreeSet::new(),
            },
        );
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
        let source = self.graph_source(&config)?;
        self.probe(&source, &config.scheduling_account).await?;
        let creds = Credential::MicrosoftAppCredentials(AppCredentials::new(
            config.tenant.clone(),
            config.client_id.clone(),
            config.secret.clone(),
        ));
        self.vault
            .put(
                &owner(IntegrationKind::ExchangeOnline)?,
                &creds,
                Expect::Any,
            )
            .await
            .map_err(|e| OrgError::Vault(e.to_string()))?;
        self.insert_exchange_online(config, source).await;
        Ok(())
    }

    async fn insert_exchange_online(&self, config: ExchangeOnline, source: GraphSource) {
        let settings = IntegrationSettings::ExchangeOnline {
            tenant: config.tenant.clone(),
            client_id: config.client_id.clone(),
            scheduling_account: config.scheduling_account.clone(),
            domains: config.coverage.domains.clone(),
            allow: config.coverage.allow.clone(),
            authority: config.authority.clone(),
            graph_base: config.graph_base.clone(),
            extra_root_certificates: config.extra_root_certificates.clone(),
        };
        self.enabled.write().await.insert(
            IntegrationKind::ExchangeOnline,
            Enabled {
                kind: IntegrationKind::ExchangeOnline,
                settings,
                scheduling_account: config.scheduling_account,
                coverage: config.coverage,
                source: Some(Arc::new(source)),
                automatic: BTreeSet::new(),
            },
        );
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
        let secret = |kind: IntegrationKind, secret_kind: SecretKind| async move {
            self.vault
                .get(&owner(kind)?, secret_kind)
                .await
                .map_err(|e| OrgError::Vault(e.to_string()))?
                .map(|stored| stored.value)
                .ok_or_else(|| OrgError::Vault(format!("no stored secret for {kind:?}")))
        };
        match settings {
            IntegrationSettings::GoogleWorkspace {
                scheduling_account,
                domains,
                allow,
                via_scheduling_account,
                token_uri,
                api_base,
                extra_root_certificates,
            } => {
                let Credential::GoogleServiceAccount(key) =
                    secret(kind, SecretKind::GoogleServiceAccount).await?
                else {
                    return Err(OrgError::Vault("unexpected secret kind".to_owned()));
                };
                let mut config = GoogleWorkspace::new(
                    key.key_json.clone(),
                    scheduling_account.clone(),
                    Coverage {
                        domains: domains.clone(),
                        allow: allow.clone(),
                    },
                );
                if *via_scheduling_account {
                    config = config.read_as(ReadAs::SchedulingAccount);
                }
                config.token_uri.clone_from(token_uri);
                config.api_base.clone_from(api_base);
                config
                    .extra_root_certificates
                    .clone_from(extra_root_certificates);
                let source = self.google_source(&config)?;
                self.insert_google(config, source).await;
            }
            IntegrationSettings::ExchangeOnline {
                tenant,
                client_id,
                scheduling_account,
                domains,
                allow,
                authority,
                graph_base,
                extra_root_certificates,
            } => {
                self.check_exclusion(kind).await?;
                let Credential::MicrosoftAppCredentials(app) =
                    secret(kind, SecretKind::MicrosoftAppCredentials).await?
                else {
                    return Err(OrgError::Vault("unexpected secret kind".to_owned()));
                };
                let mut config = ExchangeOnline::new(
                    tenant.clone(),
                    client_id.clone(),
                    app.secret.clone(),
                    scheduling_account.clone(),
                    Coverage {
                        domains: domains.clone(),
                        allow: allow.clone(),
                    },
                );
                config.authority.clone_from(authority);
                config.graph_base.clone_from(graph_base);
                config
                    .extra_root_certificates
                    .clone_from(extra_root_certificates);
                let source = self.graph_source(&config)?;
                self.insert_exchange_online(config, source).await;
            }
            IntegrationSettings::ExchangeOnPremise { scheduling_account } => {
                self.enable_exchange_on_premise(scheduling_account.clone())
                    .await?;
            }
        }
        Ok(())
    }

    /// Records Exchange on-premise (for mutual exclusion; its client is
    /// not built, so it covers nobody yet).
    ///
    /// # Errors
    ///
    /// [`OrgError::ExchangeConflict`] if Exchange Online is enabled.
    pub async fn enable_exchange_on_premise(
        &self,
        scheduling_account: impl Into<String>,
    ) -> Result<(), OrgError> {
        self.check_exclusion(IntegrationKind::ExchangeOnPremise)
            .await?;
        let scheduling_account = scheduling_account.into();
        self.enabled.write().await.insert(
            IntegrationKind::ExchangeOnPremise,
            Enabled {
                kind: IntegrationKind::ExchangeOnPremise,
                settings: IntegrationSettings::ExchangeOnPremise {
                    scheduling_account: scheduling_account.clone(),
                },
                scheduling_account,
                coverage: Coverage::default(),
                source: None,
                automatic: BTreeSet::new(),
            },
        );
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
            .delete_owner(&owner(kind)?)
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
                kind: e.kind,
                scheduling_account: e.scheduling_account.clone(),
                coverage: e.coverage.clone(),
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
            .find(|e| e.source.is_some() && e.coverage.covers(email))
            .map(|e| e.kind)
    }

    /// Connects the covered participants among `emails` (those without a
    /// connection of their own, which the caller decides) and records them
    /// as made by their integration; returns who was connected, by which.
    pub async fn connect_automatically(&self, emails: &[String]) -> Vec<(String, IntegrationKind)> {
        let mut enabled = self.enabled.write().await;
        let mut out = Vec::new();
        for email in emails {
            let key = email.trim().to_ascii_lowercase();
            if let Some(e) = enabled
                .values_mut()
                .find(|e| e.source.is_some() && e.coverage.covers(&key))
            {
                e.automatic.insert(key);
                out.push((email.clone(), e.kind));
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

    /// Whether the vault holds `kind`'s secret (for checks and tests).
    pub async fn has_secret(&self, kind: IntegrationKind) -> bool {
        let Ok(owner) = owner(kind) else { return false };
        let secret_kind = match kind {
            IntegrationKind::GoogleWorkspace => SecretKind::GoogleServiceAccount,
            _ => SecretKind::MicrosoftAppCredentials,
        };
        matches!(self.vault.get(&owner, secret_kind).await, Ok(Some(_)))
    }
}

/// Serde for root certificates in stored settings: each DER certificate
/// as a standard base64 string.
mod base64_ders {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(ders: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ders.iter().map(|der| STANDARD.encode(der)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .collect()
    }
}
