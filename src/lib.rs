//! # scheduling-assistant
//!
//! Lets a mentoring or coaching program see when people are free without
//! ever reading what is on their calendars. The [`Assistant`] composes the
//! workspace's crates: programs and participants, one calendar connection
//! per participant (Google, Microsoft 365, iCloud, or through the
//! organisation), cached availability, 1:1 slots and group polls, kept in
//! the same SQLite file or PostgreSQL database as the credential vault.
//!
//! Which crate does what here: [`availability`] (intervals, slot search,
//! the `FreeBusySource` trait), `policy-rules` (bookable hours),
//! `credential-vault` (sealed secrets), the three providers, `org-wide-auth`;
//! `rusqlite` and (feature `postgres`) `tokio-postgres` + `deadpool-postgres`
//! for the assistant's own tables; `tokio` for single-flight fetches and
//! the background refresher; `tracing` for logs (which never carry a
//! secret or a calendar's content).
//!
//! Several instances may share one PostgreSQL database (feature
//! `postgres`): records are reloaded when another instance writes, busy
//! times live in the database and each participant is refreshed by one
//! instance per TTL under an expiring lease (`SELECT ... FOR UPDATE SKIP
//! LOCKED`), and OAuth refreshes are serialised per account by the vault's
//! record lock. See "Running several instances" in the README.
//!
//! See the workspace README for the crate map and a worked example.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The workspace README, compiled so its example stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod assistant;
mod busy;
mod connect;
mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod invite;
mod model;
mod store;
mod vault_adapters;

pub use crate::assistant::{
    Act, Assistant, AssistantBuilder, Availability, BookOptions, Booking, ConnectBinding,
    ConnectDone, ConnectStart, ConnectedCounts, ConnectionStatus, EndedPair, IntegrationConfig,
    Invitees, Listed, NeedsReconnecting, ParticipantReport, PollOptions, PollSlot, PollSummary,
    PollView, Problem, ProgramReport, Proposal, ProposedSlot, REASON_NOT_CONNECTED,
    REASON_RECONNECT, REASON_UNREADABLE, Refresher, Relation, SlotAvailability, SlotRequest,
    VoteCounts,
};
pub use crate::busy::FetchCounts;
pub use crate::connect::{
    CalDavValidator, ConnectFailure, DiscoveryValidator, GoogleConnector, MicrosoftConnector,
    OAuthConnector, OAuthStart, PendingExchange,
};
pub use crate::error::{AssistantError, BuildError, InvalidInput};
pub use crate::model::{
    Actor, BookingId, Connection, Creator, Group, GroupId, Pair, PairId, Participant,
    ParticipantId, PollId, PollStatus, Program, ProgramId, Vote,
};
pub use crate::store::{SCHEMA_VERSION, Store, StoreError};
pub use crate::vault_adapters::{ICLOUD_CALDAV, ParticipantZones, VaultCalDavLogins, VaultTokens};
// The member crates' types that the assistant's API takes or returns, so
// that naming them needs no other dependency (the providers' own builders
// stay in their crates).
pub use availability::{
    Clock, Delivered, FixedClock, FreeBusySource, Interval, Meeting, MeetingChange, MeetingSender,
    Person, SourceError, SystemClock,
};
pub use caldav_provider::{CalDavLogin, CalDavSource};
pub use credential_vault::{
    KeyId, KeyRing, MasterKey, SecretStore, SecretString, SqliteStore, Vault, VaultError,
};
pub use org_wide_auth::{
    Coverage, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind,
    IntegrationStatus, OrgAuth, OrgError,
};
pub use policy_rules::{Day, HoursRange, ParticipantHours, PolicyLayer, ProgramPolicy, Provider};
