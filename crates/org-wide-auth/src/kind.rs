//! [`IntegrationKind`]: which integration, and its one spelling.

use std::fmt;

use credential_vault::{OwnerId, SecretKind};

use crate::OrgError;

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
    /// Exchange Server on-premise, read through EWS (`ews-provider`).
    ExchangeOnPremise,
}

impl IntegrationKind {
    /// The kind's one spelling for stored keys: `google_workspace`,
    /// `exchange_online`, `exchange_on_premise`. It is also the `kind` tag
    /// of [`IntegrationSettings`](crate::IntegrationSettings) in JSON, and
    /// what [`Display`](fmt::Display) prints. Stored data depends on it, so
    /// it never changes.
    ///
    /// # Example
    ///
    /// ```
    /// use org_wide_auth::IntegrationKind;
    ///
    /// assert_eq!(IntegrationKind::ExchangeOnline.as_str(), "exchange_online");
    /// assert_eq!(IntegrationKind::ExchangeOnline.to_string(), "exchange_online");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::GoogleWorkspace => "google_workspace",
            Self::ExchangeOnline => "exchange_online",
            Self::ExchangeOnPremise => "exchange_on_premise",
        }
    }

    /// The vault owner holding the kind's secret. Kept as first written
    /// (hyphens, not [`as_str`](Self::as_str)'s underscores): vault rows
    /// are keyed by it and their AAD binds it.
    const fn owner_str(self) -> &'static str {
        match self {
            Self::GoogleWorkspace => "org:google-workspace",
            Self::ExchangeOnline => "org:exchange-online",
            Self::ExchangeOnPremise => "org:exchange-on-premise",
        }
    }

    /// The vault owner holding the kind's secret.
    pub(crate) fn owner(self) -> Result<OwnerId, OrgError> {
        OwnerId::new(self.owner_str()).map_err(|e| OrgError::Vault(e.to_string()))
    }

    /// The kind of secret the vault holds for it.
    pub(crate) const fn secret_kind(self) -> SecretKind {
        match self {
            Self::GoogleWorkspace => SecretKind::GoogleServiceAccount,
            Self::ExchangeOnline => SecretKind::MicrosoftAppCredentials,
            Self::ExchangeOnPremise => SecretKind::ExchangeServerLogin,
        }
    }

    /// The kind that cannot be enabled beside this one.
    pub const fn excludes(self) -> Option<Self> {
        match self {
            Self::ExchangeOnline => Some(Self::ExchangeOnPremise),
            Self::ExchangeOnPremise => Some(Self::ExchangeOnline),
            Self::GoogleWorkspace => None,
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::IntegrationKind::{self, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace};

    const ALL: [IntegrationKind; 3] = [GoogleWorkspace, ExchangeOnline, ExchangeOnPremise];

    /// Stored keys: the assistant's integration rows, the settings' tag.
    #[test]
    fn as_str_is_the_stored_spelling() {
        let spelled: Vec<_> = ALL.iter().map(IntegrationKind::as_str).collect();
        assert_eq!(
            spelled,
            ["google_workspace", "exchange_online", "exchange_on_premise"]
        );
        for kind in ALL {
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    /// The vault owners are `org:` and `as_str` with hyphens.
    #[test]
    fn owners_are_unchanged() {
        let owners: Vec<_> = ALL.iter().map(|k| k.owner_str()).collect();
        assert_eq!(
            owners,
            [
                "org:google-workspace",
                "org:exchange-online",
                "org:exchange-on-premise"
            ]
        );
        for kind in ALL {
            assert_eq!(
                kind.owner_str(),
                format!("org:{}", kind.as_str().replace('_', "-"))
            );
            assert!(kind.owner().is_ok());
        }
    }

    /// The root's shared cache keys use `Debug` today (`organisation:{kind:?}`).
    #[test]
    fn debug_is_the_variant_name() {
        let debug: Vec<_> = ALL.iter().map(|k| format!("{k:?}")).collect();
        assert_eq!(
            debug,
            ["GoogleWorkspace", "ExchangeOnline", "ExchangeOnPremise"]
        );
    }

    #[test]
    fn only_the_exchanges_exclude_each_other() {
        assert_eq!(GoogleWorkspace.excludes(), None);
        assert_eq!(ExchangeOnline.excludes(), Some(ExchangeOnPremise));
        assert_eq!(ExchangeOnPremise.excludes(), Some(ExchangeOnline));
    }
}
