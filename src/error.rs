//! The assistant's typed errors.
//!
//! Each message includes its cause's text (what statuses and the HTTP
//! layer show people), and `source()` gives the typed cause to programs;
//! a printer of the whole chain (anyhow's `{:#}`) shows that text twice.

use crate::connect::ConnectFailure;
use crate::model::{BookingId, GroupId, PairId, ParticipantId, PollId, PollStatus, ProgramId};
use crate::store::StoreError;
use policy_rules::Provider;

/// What went wrong, typed so a service can map it (400, 403, 404, 409;
/// `http` maps it in one place, with 500 only for faults of the service:
/// its store, its vault, its set-up).
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
    /// No such poll (or not one this actor may see).
    #[error("unknown poll {0}")]
    UnknownPoll(PollId),
    /// No such booking (or not one this actor may see).
    #[error("unknown booking {0}")]
    UnknownBooking(BookingId),
    /// The poll does not take this any more: answers after it closed, a
    /// booking of a booked or cancelled poll.
    #[error("poll {poll} is {status}")]
    PollNotOpen {
        /// The poll.
        poll: PollId,
        /// Where it stands.
        status: PollStatus,
    },
    /// Another booking attempt (on this or another instance) holds the
    /// poll, or changed the booking, at the same moment: read it again.
    #[error("{0} is being changed by another request; read it again")]
    Conflict(String),
    /// At booking, a fresh read found the slot no longer free for these
    /// attendees (who were free when it was proposed). Nothing was booked;
    /// the creator may book anyway (`force`).
    #[error("the slot is no longer free for {}", participant_list(.participants))]
    SlotTaken {
        /// Who is now busy then.
        participants: Vec<ParticipantId>,
    },
    /// A meeting cannot be sent: no organisation scheduling account books
    /// for these attendees and no email sender was configured
    /// ([`AssistantBuilder::invitations`](crate::AssistantBuilder::invitations)).
    #[error("no way to send invitations is configured")]
    InvitationsNotConfigured,
    /// The invitation could not be sent (the SMTP server or the provider
    /// refused or failed): nothing was booked, the poll stays as it was.
    #[error("the invitation could not be sent ({via}): {source}")]
    Invitation {
        /// Which way it went (`email`, `google`, `graph`).
        via: &'static str,
        /// Why.
        #[source]
        source: availability::SourceError,
    },
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
    /// The program is archived: nothing is read, proposed or connected
    /// through it.
    #[error("program {0} is archived")]
    ProgramArchived(ProgramId),
    /// The program has the scheduling assistant switched off.
    #[error("program {0} has the scheduling assistant switched off")]
    SchedulingDisabled(ProgramId),
    /// The `state` of an OAuth callback is unknown, used or expired.
    #[error("this connection attempt is unknown or expired; start connecting again")]
    ConnectExpired,
    /// The OAuth callback came from another browser session than the one
    /// that began the attempt (a participant's authorization link opened
    /// by someone else): nothing is exchanged or stored, and the attempt
    /// is used up.
    #[error("this connection was started in another session; start connecting again here")]
    ConnectOtherSession,
    /// The provider refused the connection (a wrong code, a wrong
    /// app-specific password).
    #[error("the calendar could not be connected: {0}")]
    ConnectFailed(#[from] ConnectFailure),
    /// Bad input (an unknown time zone, an invalid policy, a duplicate
    /// email, an empty window).
    #[error(transparent)]
    Invalid(InvalidInput),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An organisation integration could not be enabled or disabled.
    #[error("organisation integration: {0}")]
    Organisation(#[from] org_wide_auth::OrgError),
    /// The vault failed (the message names owner and kind, never the
    /// secret).
    #[error("credential vault: {0}")]
    Vault(#[from] credential_vault::VaultError),
    /// The assistant was built without a part it needs.
    #[error(transparent)]
    Build(#[from] BuildError),
}

fn participant_list(participants: &[ParticipantId]) -> String {
    participants
        .iter()
        .map(ParticipantId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A part the builder or a call needs was not given: a fault in the
/// embedding service's set-up, not in its users' input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// [`AssistantBuilder::store`](crate::AssistantBuilder::store) was not called.
    #[error("the assistant needs a store")]
    MissingStore,
    /// [`AssistantBuilder::vault`](crate::AssistantBuilder::vault) was not called.
    #[error("the assistant needs a vault")]
    MissingVault,
    /// An organisation integration was asked for, but the assistant was
    /// built without [`AssistantBuilder::org_auth`](crate::AssistantBuilder::org_auth).
    #[error("the assistant was built without org_auth")]
    MissingOrgAuth,
}

/// Bad input: what was wrong, and the error that said so, if any (a
/// policy's parse error, a time zone's, a slot request's).
#[derive(Debug)]
pub struct InvalidInput {
    message: String,
    cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl InvalidInput {
    /// What was wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid input: {}", self.message)
    }
}

impl std::error::Error for InvalidInput {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl AssistantError {
    /// Bad input, described by `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(InvalidInput {
            message: message.into(),
            cause: None,
        })
    }

    /// Bad input that `cause` describes.
    pub(crate) fn invalid_cause(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Invalid(InvalidInput {
            message: cause.to_string(),
            cause: Some(Box::new(cause)),
        })
    }

    /// Bad input, with the error that found it: `message` then `: cause`.
    pub(crate) fn invalid_because(
        message: impl std::fmt::Display,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Invalid(InvalidInput {
            message: format!("{message}: {cause}"),
            cause: Some(Box::new(cause)),
        })
    }
}

pub(crate) fn vault_error(e: credential_vault::VaultError) -> AssistantError {
    AssistantError::Vault(e)
}
