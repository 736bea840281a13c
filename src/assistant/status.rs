//! A participant's connection status and its sentence.

use policy_rules::Provider;
use serde::Serialize;

use crate::assistant::connections::secret_kind;
use crate::assistant::owner;
use crate::error::AssistantError;
use crate::model::{Actor, ParticipantId, provider_name};

use super::access::{Act, REASON_RECONNECT, REASON_UNREADABLE};

use super::Assistant;

/// A participant's connection status, with the sentence shown to them
/// ([`text`](Self::text)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// No calendar.
    NotConnected,
    /// Their own calendar is connected and was last read fine (or not yet).
    Connected {
        /// Which provider.
        provider: Provider,
        /// When it was connected (Unix seconds).
        since: i64,
        /// The address of the account that consented (Google's verified
        /// email, Microsoft's sign-in address, the Apple ID), shown only to
        /// the participant and administrators
        /// ([`status_for`](Assistant::status_for)); `None` to anyone else,
        /// and for connections made before accounts were learned until
        /// their next refresh or reconnect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// Connected automatically by the organisation's integration.
    ThroughOrganisation {
        /// Which integration (`google_workspace`, `exchange_online`).
        integration: String,
    },
    /// The provider refused the stored credentials: reconnect.
    NeedsReconnecting {
        /// Which provider.
        provider: Provider,
        /// Why, as the provider said.
        reason: String,
    },
    /// Connected, but the last read failed for a passing reason (the
    /// provider was down or rate limiting); their times show as unknown.
    Unreachable {
        /// Which provider, if their own connection.
        provider: Option<Provider>,
        /// Why.
        reason: String,
    },
}

impl ConnectionStatus {
    /// The sentence for the participant, e.g. "Your Google calendar
    /// (theo.r@gmail.com) is connected".
    pub fn text(&self) -> String {
        match self {
            Self::NotConnected => "Your calendar is not connected".to_owned(),
            Self::Connected {
                provider,
                account: Some(account),
                ..
            } => format!(
                "Your {} calendar ({account}) is connected",
                provider_name(*provider)
            ),
            Self::Connected { provider, .. } => {
                format!("Your {} calendar is connected", provider_name(*provider))
            }
            Self::ThroughOrganisation { .. } => {
                "Your calendar is connected through your organisation".to_owned()
            }
            Self::NeedsReconnecting { provider, reason } => format!(
                "Your {} calendar needs reconnecting ({reason})",
                provider_name(*provider)
            ),
            Self::Unreachable { reason, .. } => {
                format!("Your calendar is connected but could not be read just now ({reason})")
            }
        }
    }

    /// Whether the participant has a usable connection (their times can be
    /// read, now or after a passing failure).
    pub fn is_connected(&self) -> bool {
        matches!(
            self,
            Self::Connected { .. } | Self::ThroughOrganisation { .. } | Self::Unreachable { .. }
        )
    }
}

impl Assistant {
    /// A participant's connection status as `actor` may see it. The
    /// participant themselves and their administrators see everything,
    /// including which account is connected
    /// ([`ConnectionStatus::Connected`]'s `account`, read from the vault,
    /// where it is sealed with the tokens) and the provider's reasons;
    /// current partners and group members see the state with a fixed
    /// reason code ([`REASON_RECONNECT`],
    /// [`REASON_UNREADABLE`]).
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for anyone else, unknown ids.
    pub async fn status_for(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<ConnectionStatus, AssistantError> {
        self.sync().await;
        let (relation, _) = self.allow(actor, Act::Schedule, participant)?;
        let mut status = self.status(participant).await;
        if relation.may(Act::SeeDetail) {
            if let ConnectionStatus::Connected { account, .. } = &mut status {
                *account = self.connected_address(participant).await;
            }
        } else {
            match &mut status {
                ConnectionStatus::NeedsReconnecting { reason, .. } => {
                    REASON_RECONNECT.clone_into(reason);
                }
                ConnectionStatus::Unreachable { reason, .. } => {
                    REASON_UNREADABLE.clone_into(reason);
                }
                _ => {}
            }
        }
        Ok(status)
    }

    /// The address of the account behind the participant's own
    /// connection, from the vault: what the ID token named (OAuth) or the
    /// Apple ID (iCloud).
    pub(crate) async fn connected_address(&self, participant: &ParticipantId) -> Option<String> {
        let c = self.connection(participant)?;
        let stored = self
            .inner
            .vault
            .get(&owner(&c.account).ok()?, secret_kind(c.provider))
            .await
            .ok()??;
        match &stored.value {
            credential_vault::Credential::AppleAppPassword(p) => Some(p.apple_id.clone()),
            other => other.as_oauth()?.account.as_ref()?.address.clone(),
        }
    }

    /// A participant's connection status. Reads nothing from providers:
    /// it reflects the stored connection and the last read. Never names
    /// the connected account (see [`status_for`](Self::status_for)).
    pub async fn status(&self, participant: &ParticipantId) -> ConnectionStatus {
        self.sync().await;
        let connection = self.connection(participant);
        if let Some(c) = connection {
            if let Some(reason) = c.needs_reconnect {
                return ConnectionStatus::NeedsReconnecting {
                    provider: c.provider,
                    reason,
                };
            }
            if let Some(e) = self.inner.cache.last_error(participant).await {
                return ConnectionStatus::Unreachable {
                    provider: Some(c.provider),
                    reason: e.to_string(),
                };
            }
            return ConnectionStatus::Connected {
                provider: c.provider,
                since: c.connected_at,
                account: None,
            };
        }
        self.org_status(participant)
            .await
            .unwrap_or(ConnectionStatus::NotConnected)
    }

    /// Whether `participant` counts as connected
    /// ([`ConnectionStatus::is_connected`] of their [`status`](Self::status))
    /// without reading the cache or the store: a connection that needs no
    /// reconnecting, or none and an organisation integration covering them.
    pub(crate) async fn counts_as_connected(&self, participant: &ParticipantId) -> bool {
        let (own, email) = {
            let records = self.records();
            (
                records
                    .connections
                    .get(participant)
                    .map(|c| c.needs_reconnect.is_none()),
                records
                    .participants
                    .get(participant)
                    .map(|(p, _)| p.email.clone()),
            )
        };
        match (own, &self.inner.org, email) {
            (Some(ok), _, _) => ok,
            (None, Some(org), Some(email)) => org.resolve(&email).await.is_some(),
            _ => false,
        }
    }

    pub(crate) async fn org_status(&self, participant: &ParticipantId) -> Option<ConnectionStatus> {
        let org = self.inner.org.as_ref()?;
        let email = self.participant(participant).ok()?.email;
        let kind = org.resolve(&email).await?;
        if let Some(e) = self.inner.cache.last_error(participant).await {
            return Some(ConnectionStatus::Unreachable {
                provider: None,
                reason: e.to_string(),
            });
        }
        Some(ConnectionStatus::ThroughOrganisation {
            integration: kind.as_str().to_owned(),
        })
    }
}
