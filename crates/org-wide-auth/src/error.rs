//! [`OrgError`] and [`ValidationError`], and the one mapping from the
//! providers' [`SourceError`] kinds to validation reasons.

use availability::{SourceError, SourceErrorKind};

use crate::IntegrationKind;

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
