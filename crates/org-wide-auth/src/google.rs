//! Google Workspace: the [`GoogleWorkspace`] settings (also what is
//! stored), [`ReadAs`], the [`ViaSchedulingAccount`] token source, and the
//! free/busy source built from them through google-provider.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use availability::{AccessToken, AccountId, Clock, SourceError, TokenSource};
use credential_vault::SecretString;
use google_provider::{
    GoogleConfig, GoogleEvents, GoogleSource, Pacer, Pacing, SCOPE_EVENTS, SCOPE_FREEBUSY,
    ServiceAccount, ServiceAccountTokens,
};
use serde::{Deserialize, Serialize};

use crate::settings::base64_ders;
use crate::{Coverage, IntegrationSettings, ValidationError};

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
///
/// It is also what [`IntegrationSettings::GoogleWorkspace`] stores: every
/// field but the key, which stays in the vault (and is empty in stored
/// settings). In JSON, [`coverage`](Self::coverage) is the `domains` and
/// `allow` fields, [`read_as`](Self::read_as) is `via_scheduling_account`
/// (a boolean), the root certificates are base64 strings, and
/// [`booking`](Self::booking) is written only when on (settings stored
/// before booking existed read as off).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GoogleWorkspace {
    /// The service account's JSON key (kept in the vault, never
    /// serialised).
    #[serde(skip, default = "no_key")]
    pub service_account_key: SecretString,
    /// The program's scheduling account (invitations come from it, and it
    /// is impersonated to read colleagues' free/busy in batches).
    pub scheduling_account: String,
    /// Who is covered.
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Whose identity reads free/busy. Default [`ReadAs::EachParticipant`].
    #[serde(rename = "via_scheduling_account", with = "via_scheduling_account")]
    pub read_as: ReadAs,
    /// Overrides for tests: the token endpoint and the API base URL.
    pub token_uri: Option<String>,
    /// The Calendar API base URL (default Google's).
    pub api_base: Option<String>,
    /// Root certificates (DER) trusted for the token endpoint and the API
    /// besides the platform's: a private CA, or a proxy that inspects TLS.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_ders")]
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Whether meetings are booked on the scheduling account's calendar
    /// ([`OrgAuth::meeting_sender`](crate::OrgAuth::meeting_sender)).
    /// Opt-in: the service account then also asks for
    /// [`SCOPE_EVENTS`] (`https://www.googleapis.com/auth/calendar.events`)
    /// for the scheduling account, which the Workspace administrator must
    /// add to its domain-wide delegation. Default off.
    #[serde(default, skip_serializing_if = "crate::settings::is_false")]
    pub booking: bool,
}

/// The key of stored settings: none.
fn no_key() -> SecretString {
    SecretString::new(String::new())
}

/// Every field but the key; the root certificates as a count.
impl fmt::Debug for GoogleWorkspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleWorkspace")
            .field("scheduling_account", &self.scheduling_account)
            .field("coverage", &self.coverage)
            .field("read_as", &self.read_as)
            .field("token_uri", &self.token_uri)
            .field("api_base", &self.api_base)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .field("booking", &self.booking)
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
            booking: false,
        }
    }

    /// Sets [`booking`](Self::booking): whether meetings are booked on
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

    /// What is stored: these settings without the key.
    pub(crate) fn settings(&self) -> IntegrationSettings {
        IntegrationSettings::GoogleWorkspace(Self {
            service_account_key: no_key(),
            ..self.clone()
        })
    }

    /// The key's service account, with the test token endpoint if set.
    fn service_account(&self) -> Result<Arc<ServiceAccount>, ValidationError> {
        let mut account = ServiceAccount::from_json(&self.service_account_key)
            .map_err(|e| ValidationError::BadCredentials(e.to_string()))?;
        if let Some(uri) = &self.token_uri {
            account = account.with_token_uri(uri.clone());
        }
        Ok(Arc::new(account))
    }

    /// The service account's tokens for `scope`.
    fn tokens(
        &self,
        account: Arc<ServiceAccount>,
        scope: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<ServiceAccountTokens, ValidationError> {
        ServiceAccountTokens::with_clock(account, vec![scope.to_owned()], clock)?
            .with_root_certificates(&self.extra_root_certificates)
            .map_err(|e| ValidationError::BadCredentials(e.to_string()))
    }

    /// The Calendar API's settings: the test base URL, extra roots, and
    /// `pacing`.
    fn api_config(&self, pacing: &Pacing) -> GoogleConfig {
        let mut google = GoogleConfig::default().pacing(pacing.clone());
        if let Some(base) = &self.api_base {
            google = google.base_url(base.clone());
        }
        for der in &self.extra_root_certificates {
            google = google.add_root_certificate(der.clone());
        }
        google
    }

    /// The free/busy source and, when [`booking`](Self::booking) is on,
    /// the writer with its token source (to check the delegation when
    /// enabling), the writer paced by the source's pacer.
    ///
    /// The source is paced by `pacing`: Google's per-project quota counts
    /// the reads and the writes together. The writes always authenticate
    /// as the scheduling account, so they count against its per-user
    /// quota by name ([`GoogleConfig::pacing_identity`]); with
    /// [`ReadAs::SchedulingAccount`] the reads do too, so the scheduling
    /// account's reads and writes share one per-user budget, which its
    /// tokens' hourly refreshes do not reset.
    pub(crate) fn clients(
        &self,
        clock: Arc<dyn Clock>,
        pacing: &Pacing,
    ) -> Result<(GoogleSource, Option<GoogleWriter>), ValidationError> {
        let source = self.source(clock.clone(), pacing)?;
        let sender = self.sender(clock, pacing, source.pacer())?;
        Ok((source, sender))
    }

    /// The writer when [`booking`](Self::booking) is on: the service
    /// account impersonating the scheduling account only, with
    /// [`SCOPE_EVENTS`] only, paced by `pacer` (the source's), and its
    /// token source. `None` when booking is off.
    fn sender(
        &self,
        clock: Arc<dyn Clock>,
        pacing: &Pacing,
        pacer: &Pacer,
    ) -> Result<Option<GoogleWriter>, ValidationError> {
        if !self.booking {
            return Ok(None);
        }
        let subject = AccountId::new(self.scheduling_account.clone());
        let tokens = Arc::new(ViaSchedulingAccount {
            inner: self.tokens(self.service_account()?, SCOPE_EVENTS, clock)?,
            subject: subject.clone(),
        });
        let config = self
            .api_config(pacing)
            .pacing_identity(self.scheduling_account.clone());
        let events = GoogleEvents::new(tokens.clone(), subject, config)
            .map_err(|e| ValidationError::Unreachable(e.to_string()))?
            .with_pacer(pacer.clone());
        Ok(Some((events, tokens)))
    }

    /// The free/busy source: the key's service account, impersonating as
    /// [`read_as`](Self::read_as) says, with the free/busy scope only,
    /// paced by `pacing` (by the scheduling account's name when it reads).
    fn source(
        &self,
        clock: Arc<dyn Clock>,
        pacing: &Pacing,
    ) -> Result<GoogleSource, ValidationError> {
        let tokens = self.tokens(self.service_account()?, SCOPE_FREEBUSY, clock)?;
        let mut config = self.api_config(pacing);
        let tokens: Arc<dyn TokenSource> = match self.read_as {
            ReadAs::SchedulingAccount => {
                // Every request authenticates as the scheduling account:
                // Google's per-user quota is its own.
                config = config.pacing_identity(self.scheduling_account.clone());
                Arc::new(ViaSchedulingAccount {
                    inner: tokens,
                    subject: AccountId::new(self.scheduling_account.clone()),
                })
            }
            _ => Arc::new(tokens),
        };
        GoogleSource::new(tokens, config).map_err(|e| ValidationError::Unreachable(e.to_string()))
    }
}

/// The booking writer and its token source.
pub(crate) type GoogleWriter = (GoogleEvents, Arc<ViaSchedulingAccount>);

/// A Google token source that impersonates the scheduling account for every
/// account, so colleagues' free/busy goes out 50 calendars to a request
/// (domain members see each other's free/busy by default). The booking
/// writer's tokens ([`SCOPE_EVENTS`]) go through one too, so they are
/// only ever the scheduling account's.
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

/// Serde for [`ReadAs`] in stored settings: `via_scheduling_account`,
/// true for [`ReadAs::SchedulingAccount`].
mod via_scheduling_account {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ReadAs;

    pub(super) fn serialize<S: Serializer>(read_as: &ReadAs, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*read_as == ReadAs::SchedulingAccount)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ReadAs, D::Error> {
        Ok(if bool::deserialize(d)? {
            ReadAs::SchedulingAccount
        } else {
            ReadAs::EachParticipant
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{ReadAs, via_scheduling_account};

    #[test]
    fn read_as_is_stored_as_via_scheduling_account() {
        for (read_as, flag) in [
            (ReadAs::EachParticipant, false),
            (ReadAs::SchedulingAccount, true),
        ] {
            let stored = via_scheduling_account::serialize(&read_as, serde_json::value::Serializer);
            assert_eq!(stored.ok(), Some(Value::Bool(flag)));
            let read = via_scheduling_account::deserialize(json!(flag));
            assert_eq!(read.ok(), Some(read_as));
        }
        assert!(via_scheduling_account::deserialize(json!("yes")).is_err());
    }
}
