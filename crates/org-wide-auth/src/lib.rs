#![doc = include_str!("../README.md")]
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

mod coverage;
mod error;
mod exchange;
mod google;
mod kind;
mod on_premise;
mod registry;
mod settings;
