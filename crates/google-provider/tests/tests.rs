//! Integration tests of google-provider, against wiremock on loopback
//! speaking Google's documented JSON.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// Booking through the scheduling account: insert, patch, delete; the
/// bodies pinned, statuses, retries, no address in errors.
mod booking;
/// Shared helpers.
mod common;
/// Events mode: field mask, paging, busy rules.
mod events;
/// `freebusy.query`: request shape, batching and chunking, per-calendar
/// errors, retries, failures.
mod free_busy;
/// A loopback server that holds requests to count how many are in
/// flight at once.
mod held;
/// User OAuth: the code flow end to end, refresh, single flight, revocation.
mod oauth;
/// Pacing: batches of one account within its per-user quota, the
/// documented defaults.
mod pacing;
/// Service account: the JWT verified with the public key, delegation errors.
mod service_account;
