#![doc = include_str!("../README.md")]
//!
//! # Pacing
//!
//! Each integration's requests are paced by the provider's `Pacer`
//! (provider-http): each identity's requests spaced at a rate and capped
//! in flight, held back after a throttle (429, `Retry-After`), never
//! dropped. [`OrgAuth::pacing`] says how for each kind: the provider's
//! documented quotas (Google Calendar's 600 a minute per user and 10,000
//! a minute per project; Graph's 10,000 per 10 minutes and 4 at once per
//! mailbox; EWS's 10 at once per login), or what
//! [`OrgAuth::with_pacing`] set for the instance. It is not stored with
//! the settings: [`OrgAuth::restore`] paces as the restoring instance
//! says.
//!
//! An integration's source and booking writer share one pacer, so the
//! scheduling account's reads and writes count against one budget. The
//! identities are what the quotas count by: Google's user (with
//! [`ReadAs::SchedulingAccount`], and for every write, the scheduling
//! account by name, so its budget outlives the hourly token refreshes;
//! with [`ReadAs::EachParticipant`], each impersonated participant's
//! token), Graph's mailbox, EWS's login.
//!
//! # Source layout
//!
//! Each file has one job; everything is re-exported here, flat.
//!
//! - `kind.rs`: [`IntegrationKind`] and its one spelling,
//!   [`IntegrationKind::as_str`] (stored keys, the settings' `kind` tag),
//!   besides the vault owner ids it keeps as first written.
//! - `coverage.rs`: [`Coverage`], who an integration covers.
//! - `settings.rs`: [`IntegrationSettings`], the stored JSON: the settings
//!   structs themselves, minus their secrets.
//! - `google.rs`: [`GoogleWorkspace`], [`ReadAs`], [`ViaSchedulingAccount`],
//!   and the Google source and (with booking) writer.
//! - `exchange.rs`: [`ExchangeOnline`] and the Graph source and writer.
//! - `on_premise.rs`: [`ExchangeOnPremise`] and the EWS source.
//! - `registry.rs`: [`OrgAuth`] and [`IntegrationStatus`].
//! - `error.rs`: [`OrgError`] and [`ValidationError`].
//!
//! The other crates do the rest: `google-provider` mints the delegated
//! tokens and speaks the Calendar API, `graph-provider` the app-only
//! tokens and Graph, `ews-provider` Exchange Server's EWS (NTLM or Basic),
//! `credential-vault` keeps the secrets, and
//! `availability` defines the `FreeBusySource` and `TokenSource` traits
//! they meet at.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::{
    coverage::{CONNECTED_THROUGH_ORGANISATION, Coverage},
    error::{OrgError, ValidationError},
    exchange::ExchangeOnline,
    google::{GoogleWorkspace, ReadAs, ViaSchedulingAccount},
    kind::IntegrationKind,
    on_premise::ExchangeOnPremise,
    registry::{IntegrationStatus, OrgAuth},
    settings::IntegrationSettings,
};
/// How requests are paced ([`OrgAuth::with_pacing`]), as every provider
/// takes it.
pub use google_provider::{Pacing, Rate};

mod coverage;
mod error;
mod exchange;
mod google;
mod kind;
mod on_premise;
mod registry;
mod settings;
