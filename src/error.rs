//! The assistant's typed errors.

use crate::connect::ConnectFailure;
use crate::model::{GroupId, PairId, ParticipantId, ProgramId};
use crate::store::StoreError;
use policy_rules::Provider;

/// What went wrong, typed so a service can map it (400, 403, 404, 409).
/// Messages never contain a secret or a calendar's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssistantError {
    /// No such program.
    #[error("unknown program {0}")]
    UnknownProgram(ProgramId),
    /// No such participant.
    #[error("unknown participant {0}")]
    UnknownParticipant(ParticipantId),
    /// No such mentoring connection.
    #[error("unknown pair {0}")]
    UnknownPair(PairId),
    /// No such group.
    #[error("unknown group {0}")]
    UnknownGroup(GroupId),
    /// An administrator tried to connect or disconnect someone's calendar:
    /// only the participant may.
    #[error(
        "only {participant} can connect or disconnect their calendar; \
         an administrator working on their behalf cannot"
    )]
    OnBehalfRefused {
        /// Whose calendar.
        participant: ParticipantId,
    },
    /// The actor may not do this (another participant's calendar, a
    /// non-partner's availability, a group they are not in).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A program the participant is in does not allow this provider.
    #[error("program {program} does not allow {provider} calendars")]
    ProviderNotAllowed {
        /// The provider.
        provider: Provider,
        /// The program refusing it.
        program: ProgramId,
    },
    /// The assistant was built without this provider.
    #[error("{0} calendars are not configured in this assistant")]
    ProviderNotConfigured(Provider),
    /// The program has group polls switched off.
    #[error("program {0} has group polls switched off")]
    GroupPollsDisabled(ProgramId),
    /// The program has the scheduling assistant switched off.
    #[error("program {0} has the scheduling assistant switched off")]
    SchedulingDisabled(ProgramId),
    /// The `state` of an OAuth callback is unknown, used or expired.
    #[error("this connection attempt is unknown or expired; start connecting again")]
    ConnectExpired,
    /// The provider refused the connection (a wrong code, a wrong
    /// app-specific password).
    #[error("the calendar could not be connected: {0}")]
    ConnectFailed(#[from] ConnectFailure),
    /// Bad input (an unknown time zone, an invalid policy, a duplicate
    /// email, an empty window).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An organisation integration could not be enabled or disabled.
    #[error("organisation integration: {0}")]
    Organisation(#[from] org_wide_auth::OrgError),
    /// The vault failed (the message names owner and kind, never the
    /// secret).
    #[error("credential vault: {0}")]
    Vault(String),
}

pub(crate) fn vault_error(e: credential_vault::VaultError) -> AssistantError {
    AssistantError::Vault(e.to_string())
}
