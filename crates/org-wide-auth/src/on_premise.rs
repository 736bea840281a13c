//! Exchange on-premise: the [`ExchangeOnPremise`] settings (also what is
//! stored) and the free/busy source built from them through
//! `ews-provider` (EWS `GetUserAvailability`).

use std::fmt;

use credential_vault::{SecretString, ServerLogin};
use ews_provider::{AuthMethod, EwsAuth, EwsConfig, EwsLogin, EwsSource, Pacing};
use serde::{Deserialize, Serialize};

use crate::settings::base64_ders;
use crate::{Coverage, IntegrationSettings, ValidationError};

/// An Exchange Server (on-premise) integration: the organisation's EWS
/// endpoint and one scheduling account whose login reads every covered
/// mailbox's free/busy (by default every mailbox shares "Free/Busy time"
/// with the organisation, so no impersonation right is needed).
///
/// It is also what [`IntegrationSettings::ExchangeOnPremise`] stores: every
/// field but the login (user name and password), which stays in the vault.
/// In JSON, [`coverage`](Self::coverage) is the `domains` and `allow`
/// fields and the root certificates are base64 strings. Settings stored
/// before this client existed (`{"kind":"exchange_on_premise",
/// "scheduling_account":...}`) still read: with no
/// [`ews_url`](Self::ews_url) they cover nobody until enabled again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExchangeOnPremise {
    /// The full EWS endpoint, such as
    /// `https://mail.example.org/EWS/Exchange.asmx`. Empty only in settings
    /// stored before the client existed.
    #[serde(default)]
    pub ews_url: String,
    /// How the scheduling account signs in: NTLM (the on-premise default)
    /// or Basic over TLS.
    #[serde(default = "default_method", with = "method_name")]
    pub auth: AuthMethod,
    /// The login's user name, `DOMAIN\name` or a UPN (kept in the vault
    /// with the password, never serialised).
    #[serde(skip)]
    pub user: String,
    /// The login's password (kept in the vault, never serialised).
    #[serde(skip, default = "no_password")]
    pub password: SecretString,
    /// The scheduling account (its mailbox address), checked by
    /// validation.
    pub scheduling_account: String,
    /// Who is covered.
    #[serde(flatten)]
    pub coverage: Coverage,
    /// The longest window of one request in days, when the server's
    /// administrator raised EWS's 42-day default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_window_days: Option<u32>,
    /// Root certificates (DER) trusted for the EWS host besides the
    /// platform's: on-premise servers commonly use a private CA.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_ders")]
    pub extra_root_certificates: Vec<Vec<u8>>,
}

fn default_method() -> AuthMethod {
    AuthMethod::Ntlm
}

fn no_password() -> SecretString {
    SecretString::new(String::new())
}

/// The method as its flag spelling (`ntlm`, `basic`).
mod method_name {
    use ews_provider::AuthMethod;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(method: &AuthMethod, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(method.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AuthMethod, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Every field but the login; the root certificates as a count.
impl fmt::Debug for ExchangeOnPremise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeOnPremise")
            .field("ews_url", &self.ews_url)
            .field("auth", &self.auth)
            .field("scheduling_account", &self.scheduling_account)
            .field("coverage", &self.coverage)
            .field("max_window_days", &self.max_window_days)
            .field(
                "extra_root_certificates",
                &self.extra_root_certificates.len(),
            )
            .finish_non_exhaustive()
    }
}

impl ExchangeOnPremise {
    /// An integration reading through `ews_url` with the scheduling
    /// account's login (`user`, `password`) by NTLM.
    pub fn new(
        ews_url: impl Into<String>,
        user: impl Into<String>,
        password: SecretString,
        scheduling_account: impl Into<String>,
        coverage: Coverage,
    ) -> Self {
        Self {
            ews_url: ews_url.into(),
            auth: AuthMethod::Ntlm,
            user: user.into(),
            password,
            scheduling_account: scheduling_account.into(),
            coverage,
            max_window_days: None,
            extra_root_certificates: Vec::new(),
        }
    }

    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn with_auth(mut self, auth: AuthMethod) -> Self {
        self.auth = auth;
        self
    }

    /// Sets [`max_window_days`](Self::max_window_days).
    #[must_use]
    pub fn with_max_window_days(mut self, days: u32) -> Self {
        self.max_window_days = Some(days);
        self
    }

    /// Adds a root certificate (DER) to
    /// [`extra_root_certificates`](Self::extra_root_certificates).
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// What is stored: these settings without the login.
    pub(crate) fn settings(&self) -> IntegrationSettings {
        IntegrationSettings::ExchangeOnPremise(Self {
            user: String::new(),
            password: no_password(),
            ..self.clone()
        })
    }

    /// The login as the vault keeps it.
    pub(crate) fn login(&self) -> ServerLogin {
        ServerLogin::new(self.user.clone(), self.password.clone())
    }

    /// Whether these settings can build a client (settings stored before
    /// the client existed have no URL).
    pub(crate) fn has_client(&self) -> bool {
        !self.ews_url.is_empty()
    }

    /// The free/busy source over EWS, paced by `pacing` (by the login).
    pub(crate) fn source(&self, pacing: &Pacing) -> Result<EwsSource, ValidationError> {
        if self.user.is_empty() {
            return Err(ValidationError::BadCredentials(
                "the scheduling account's user name is empty".to_owned(),
            ));
        }
        let login = EwsLogin::new(self.user.clone(), self.password.secret());
        let auth = match self.auth {
            AuthMethod::Ntlm => EwsAuth::Ntlm(login),
            AuthMethod::Basic => EwsAuth::Basic(login),
            AuthMethod::Bearer => {
                return Err(ValidationError::BadCredentials(
                    "the organisation integration signs in with NTLM or Basic; a bearer \
                     token source is given to ews_provider::EwsSource directly"
                        .to_owned(),
                ));
            }
        };
        let mut config = EwsConfig::new(self.ews_url.clone()).pacing(pacing.clone());
        if let Some(days) = self.max_window_days {
            config.max_window = std::time::Duration::from_secs(u64::from(days) * 86_400);
        }
        config
            .http
            .extra_root_certificates
            .extend(self.extra_root_certificates.iter().cloned());
        EwsSource::new(config, auth).map_err(|e| ValidationError::Unreachable(e.to_string()))
    }
}
