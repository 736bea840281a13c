//! Integration tests of ews-provider: wiremock on loopback answering the
//! documented GetUserAvailability envelopes, loopback servers that stall
//! or check NTLM's connection, and a real NTLM acceptor (pyspnego).
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// Basic's header; NTLM's handshake on one connection (a loopback server
/// in Rust, over TLS with an extra root) and against pyspnego.
mod auth;
/// The request's shape, batches and window pieces, both XML styles, times
/// with and without offsets, details dropped, per-mailbox errors.
mod availability;
/// Shared helpers.
mod common;
/// `availability`'s conformance checks against the double.
mod conformance;
/// Faults, throttling with BackOffMilliseconds, 401, an HTML page, the
/// size cap, a DOCTYPE, a stalled connection.
mod failures;
