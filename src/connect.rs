//! How a participant connects a calendar: an OAuth authorization for Google
//! and Microsoft ([`OAuthConnector`]), a validated Apple ID and
//! app-specific password for iCloud ([`CalDavValidator`]).
//!
//! The provider crates do the protocol (`oauth2` with PKCE in
//! google-provider and graph-provider, discovery in caldav-provider); these
//! traits let the [`Assistant`](crate::Assistant) drive them without
//! knowing which, and let tests and demos substitute their own.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use availability::SourceError;
use caldav_provider::{CalDavLogin, CalDavSource};
use credential_vault::{OAuthTokens, SecretString};
use google_provider::Authorization;

/// A started OAuth authorization: where to send the participant, and what
/// completes it (kept by the assistant, bound to the participant, until
/// the callback or expiry).
pub struct OAuthStart {
    /// The provider's authorization URL (carries `state` and the PKCE
    /// challenge).
    pub url: String,
    /// The `state` sent; the callback returns it.
    pub state: SecretString,
    /// Exchanges the callback's code (with the PKCE verifier it holds).
    pub pending: Box<dyn PendingExchange>,
}

impl fmt::Debug for OAuthStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthStart").finish_non_exhaustive()
    }
}

/// The second half of an authorization: the code exchange.
#[async_trait]
pub trait PendingExchange: Send + Sync {
    /// Checks `returned_state` and exchanges `code` for tokens.
    ///
    /// # Errors
    /// A state mismatch or the token endpoint's refusal, as
    /// [`ConnectFailure`].
    async fn exchange(
        &self,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, ConnectFailure>;

    /// The PKCE verifier, for an assistant sharing its database with other
    /// instances: it seals the verifier in the vault so that whichever
    /// instance receives the callback can finish through
    /// [`OAuthConnector::resume`]. `None` (the default): the attempt can
    /// only be completed by the instance that started it.
    fn pkce_verifier(&self) -> Option<&SecretString> {
        None
    }
}

/// Why a connection attempt failed at the provider.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The returned `state` is not the one sent.
    #[error("the authorization state does not match; start connecting again")]
    StateMismatch,
    /// The provider refused or failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The connector is misconfigured.
    #[error("connector misconfigured: {0}")]
    Config(String),
}

/// Starts OAuth authorizations for one provider.
#[async_trait]
pub trait OAuthConnector: fmt::Debug + Send + Sync + 'static {
    /// Starts one: a fresh `state` and PKCE pair each time.
    fn start(&self) -> OAuthStart;

    /// Rebuilds the exchange of an attempt another instance started, from
    /// its `state` and the PKCE verifier it sealed (see
    /// [`PendingExchange::pkce_verifier`]). `None` (the default) when this
    /// connector cannot.
    fn resume(&self, state: &str, pkce_verifier: SecretString) -> Option<Box<dyn PendingExchange>> {
        let _ = (state, pkce_verifier);
        None
    }

    /// Revokes tokens at the provider when a participant disconnects (best
    /// effort; the default does nothing).
    ///
    /// # Errors
    /// The provider's refusal; the assistant logs it and deletes the
    /// tokens anyway.
    async fn revoke(&self, _tokens: &OAuthTokens) -> Result<(), SourceError> {
        Ok(())
    }
}

/// One provider's OAuth flow, as the connectors drive it: google-provider's
/// `GoogleOAuth` and graph-provider's `GraphOAuth` both hand out the one
/// `Authorization` type (provider-http's), so the pending exchange and the
/// connector are written once, over this.
#[async_trait]
trait Flow: fmt::Debug + Send + Sync + 'static {
    /// A fresh authorization (state and PKCE pair).
    fn authorize(&self) -> Authorization;

    /// Checks the state and exchanges the code.
    async fn exchange(
        &self,
        pending: &Authorization,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, ConnectFailure>;

    /// Revokes at the provider (best effort; the default does nothing).
    async fn revoke(&self, _tokens: &OAuthTokens) -> Result<(), SourceError> {
        Ok(())
    }
}

#[async_trait]
impl Flow for google_provider::GoogleOAuth {
    fn authorize(&self) -> Authorization {
        // Consent forced, so Google returns a refresh token every time.
        Self::authorize(self, true)
    }

    async fn exchange(
        &self,
        pending: &Authorization,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, ConnectFailure> {
        Self::exchange(self, pending, returned_state, code)
            .await
            .map_err(|e| match e {
                google_provider::OAuthError::StateMismatch => ConnectFailure::StateMismatch,
                google_provider::OAuthError::Source(s) => ConnectFailure::Source(s),
                other => ConnectFailure::Config(other.to_string()),
            })
    }

    async fn revoke(&self, tokens: &OAuthTokens) -> Result<(), SourceError> {
        match &tokens.refresh_token {
            Some(refresh) => Self::revoke(self, refresh).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Flow for graph_provider::GraphOAuth {
    fn authorize(&self) -> Authorization {
        Self::authorize(self)
    }

    async fn exchange(
        &self,
        pending: &Authorization,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, ConnectFailure> {
        Self::exchange(self, pending, returned_state, code)
            .await
            .map_err(|e| match e {
                graph_provider::AuthError::StateMismatch => ConnectFailure::StateMismatch,
                graph_provider::AuthError::Source(s) => ConnectFailure::Source(s),
                other => ConnectFailure::Config(other.to_string()),
            })
    }
}

/// An authorization waiting for its callback.
struct Pending<F>(Arc<F>, Authorization);

#[async_trait]
impl<F: Flow> PendingExchange for Pending<F> {
    async fn exchange(
        &self,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, ConnectFailure> {
        self.0.exchange(&self.1, returned_state, code).await
    }

    fn pkce_verifier(&self) -> Option<&SecretString> {
        Some(&self.1.pkce_verifier)
    }
}

fn start<F: Flow>(flow: &Arc<F>) -> OAuthStart {
    let authorization = flow.authorize();
    OAuthStart {
        url: authorization.url.clone(),
        state: SecretString::new(authorization.state.secret().to_owned()),
        pending: Box::new(Pending(Arc::clone(flow), authorization)),
    }
}

fn resume<F: Flow>(flow: &Arc<F>, state: &str, verifier: SecretString) -> Box<dyn PendingExchange> {
    let authorization = Authorization::resume(SecretString::new(state.to_owned()), verifier);
    Box::new(Pending(Arc::clone(flow), authorization))
}

/// Google's authorization (google-provider's `GoogleOAuth`: PKCE S256,
/// `access_type=offline`, consent forced so a refresh token is returned;
/// tokens revoked at Google on disconnect).
#[derive(Clone, Debug)]
pub struct GoogleConnector(pub Arc<google_provider::GoogleOAuth>);

/// Microsoft's delegated authorization (graph-provider's `GraphOAuth`:
/// PKCE S256, `Calendars.ReadBasic offline_access`).
#[derive(Clone, Debug)]
pub struct MicrosoftConnector(pub Arc<graph_provider::GraphOAuth>);

/// Both connectors are the same over their `Flow`.
macro_rules! flow_connector {
    ($connector:ident) => {
        #[async_trait]
        impl OAuthConnector for $connector {
            fn start(&self) -> OAuthStart {
                start(&self.0)
            }

            fn resume(
                &self,
                state: &str,
                pkce_verifier: SecretString,
            ) -> Option<Box<dyn PendingExchange>> {
                Some(resume(&self.0, state, pkce_verifier))
            }

            async fn revoke(&self, tokens: &OAuthTokens) -> Result<(), SourceError> {
                Flow::revoke(&*self.0, tokens).await
            }
        }
    };
}

flow_connector!(GoogleConnector);
flow_connector!(MicrosoftConnector);

/// Checks an Apple ID and app-specific password before anything is stored.
#[async_trait]
pub trait CalDavValidator: fmt::Debug + Send + Sync + 'static {
    /// Succeeds when `login` can read at least one calendar.
    ///
    /// # Errors
    /// [`SourceError::Unauthorized`] for a wrong password, or why the server
    /// could not be asked.
    async fn validate(&self, login: &CalDavLogin) -> Result<(), SourceError>;

    /// The server URL logins are for (iCloud's by default).
    fn server(&self) -> &str {
        crate::vault_adapters::ICLOUD_CALDAV
    }
}

/// Validation by a real discovery (principal, calendar home, calendars)
/// with caldav-provider.
#[derive(Clone, Debug)]
pub struct DiscoveryValidator {
    source: Arc<CalDavSource>,
    server: String,
}

impl DiscoveryValidator {
    /// Validates against `server` (e.g. [`ICLOUD_CALDAV`](crate::vault_adapters::ICLOUD_CALDAV))
    /// with `source`'s HTTP client and limits.
    pub fn new(source: Arc<CalDavSource>, server: impl Into<String>) -> Self {
        Self {
            source,
            server: server.into(),
        }
    }
}

#[async_trait]
impl CalDavValidator for DiscoveryValidator {
    async fn validate(&self, login: &CalDavLogin) -> Result<(), SourceError> {
        let calendars = self.source.discover(login).await?;
        if calendars.is_empty() {
            return Err(SourceError::NotFound {
                message: "the account has no calendar with events".to_owned(),
            });
        }
        Ok(())
    }

    fn server(&self) -> &str {
        &self.server
    }
}
