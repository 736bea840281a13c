//! Exchange: the [`ExchangeOnline`] settings (also what is stored) and the
//! free/busy source built from them through graph-provider. Exchange
//! on-premise has no settings beyond its scheduling account
//! ([`IntegrationSettings::ExchangeOnPremise`]) and no client yet.

use std::fmt;
use std::sync::Arc;

use availability::{Clock, TokenSource};
use credential_vault::{AppSecret, SecretString};
use graph_provider::{
    AppTokens, AuthConfig, Certificate, GraphConfig, GraphEvents, GraphOAuth, GraphSource, Pacing,
    Tenant,
};
use serde::{Deserialize, Serialize};

use crate::settings::base64_ders;
use crate::{Coverage, IntegrationSettings, ValidationError};

/// An Exchange Online integration (Graph application permissions).
///
/// It is also what [`IntegrationSettings::ExchangeOnline`] stores: every
/// field but the secret, which stays in the vault (and is an empty client
/// secret in stored settings). In JSON, [`coverage`](Self::coverage) is the
/// `domains` and `allow` fields, the root certificates are base64
/// strings, and [`booking`](Self::booking) is written only when on
/// (settings stored before booking existed read as off).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExchangeOnline {
    /// The tenant id or domain.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// Its client secret or certificate (kept in the vault, never
    /// serialised).
    #[serde(skip, default = "no_secret")]
    pub secret: AppSecret,
    /// The program's scheduling account (checked by validation).
    pub scheduling_account: String,
    /// Who is covered.
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Overrides for tests: the identity host and the Graph base URL.
    pub authority: Option<String>,
    /// The Graph base URL (default `https://graph.microsoft.com/v1.0`).
    pub graph_base: Option<String>,
    /// Root certificates (DER) trusted for the identity host and Graph
    /// besides the platform's: a private CA, or a proxy that inspects TLS.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_ders")]
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Whether meetings are booked in the scheduling account's calendar
    /// ([`OrgAuth::meeting_sender`](crate::OrgAuth::meeting_sender)).
    /// Opt-in: the app registration then needs the application permission
    /// `Calendars.ReadWrite` (consented by a tenant administrator; an
    /// application access policy can restrict it to the scheduling
    /// account's mailbox). Default off.
    #[serde(default, skip_serializing_if = "crate::settings::is_false")]
    pub booking: bool,
}

/// The secret of stored settings: none.
fn no_secret() -> AppSecret {
    AppSecret::ClientSecret(SecretString::new(String::new()))
}

/// Every field but the secret; the root certificates as a count.
impl fmt::Debug for ExchangeOnline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeOnline")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("scheduling_account", &self.scheduling_account)
            .field("coverage", &self.coverage)
            .field("authority", &self.authority)
            .field("graph_base", &self.graph_base)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .field("booking", &self.booking)
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
            booking: false,
        }
    }

    /// Sets [`booking`](Self::booking): whether meetings are booked in
    /// the scheduling account's calendar.
    #[must_use]
    pub fn with_booking(mut self, booking: bool) -> Self {
        self.booking = booking;
        self
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

    /// What is stored: these settings without the secret.
    pub(crate) fn settings(&self) -> IntegrationSettings {
        IntegrationSettings::ExchangeOnline(Self {
            secret: no_secret(),
            ..self.clone()
        })
    }

    /// App-only Graph tokens from the secret or certificate.
    fn app_tokens(&self, clock: Arc<dyn Clock>) -> Result<AppTokens, ValidationError> {
        let oauth = Arc::new(
            GraphOAuth::new(self.auth_config())
                .map_err(|e| ValidationError::BadCredentials(e.to_string()))?,
        );
        Ok(match &self.secret {
            AppSecret::ClientSecret(_) => AppTokens::with_secret(oauth, clock),
            AppSecret::Certificate {
                private_key_pem,
                thumbprint,
            } => AppTokens::with_certificate(
                oauth,
                Certificate::from_pem(private_key_pem.secret(), thumbprint)
                    .map_err(|e| ValidationError::BadCredentials(e.to_string()))?,
                clock,
            ),
            _ => {
                return Err(ValidationError::BadCredentials(
                    "unknown kind of app secret".to_owned(),
                ));
            }
        })
    }

    /// Graph's settings: the test base URL, extra roots, and `pacing`.
    fn graph_config(&self, pacing: &Pacing) -> GraphConfig {
        let mut graph = GraphConfig::default().pacing(pacing.clone());
        if let Some(base) = &self.graph_base {
            graph = graph.base_url(base.clone());
        }
        for der in &self.extra_root_certificates {
            graph = graph.add_root_certificate(der.clone());
        }
        graph
    }

    /// The free/busy source: app-only Graph tokens from the secret or
    /// certificate, paced by `pacing`.
    pub(crate) fn source(
        &self,
        clock: Arc<dyn Clock>,
        pacing: &Pacing,
    ) -> Result<GraphSource, ValidationError> {
        Ok(self.clients(clock, pacing)?.0)
    }

    /// The free/busy source and, when [`booking`](Self::booking) is on,
    /// the writer booking in the scheduling account's calendar, sharing
    /// one app-only token (`.default` carries every consented permission)
    /// and one pacer built from `pacing`: Graph counts a mailbox's reads
    /// and writes against one per-mailbox limit, and the scheduling
    /// account's mailbox is both read and written.
    pub(crate) fn clients(
        &self,
        clock: Arc<dyn Clock>,
        pacing: &Pacing,
    ) -> Result<(GraphSource, Option<GraphEvents>), ValidationError> {
        let tokens: Arc<dyn TokenSource> = Arc::new(self.app_tokens(clock)?);
        let source = GraphSource::new(tokens.clone(), self.graph_config(pacing))
            .map_err(|e| ValidationError::Unreachable(e.to_string()))?;
        let sender = if self.booking {
            Some(
                GraphEvents::new(
                    tokens,
                    self.scheduling_account.clone(),
                    self.graph_config(pacing),
                )
                .map_err(|e| ValidationError::Unreachable(e.to_string()))?
                .with_pacer(source.pacer().clone()),
            )
        } else {
            None
        };
        Ok((source, sender))
    }
}
