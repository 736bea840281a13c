//! # scheduling-assistant
//!
//! Lets a mentoring or coaching program see when people are free without
//! ever reading what is on their calendars. This root crate will hold the
//! `Assistant` that composes the workspace's crates (connections, cached
//! availability, 1:1 and group scheduling). Today it re-exports the core,
//! [`availability`], which the examples and benchmarks use, and holds the
//! [`vault_adapters`] that put the credential vault behind each provider's
//! credential trait.
//!
//! See the workspace README for the crate map.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The workspace README, compiled so its example stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
pub use availability;

pub mod vault_adapters;
