//! provider-http's integration tests, against wiremock on 127.0.0.1.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// The pacer through `Service::send_paced`: rates in sliding windows,
/// identities apart, the concurrency cap, a `Retry-After` that holds an
/// identity back.
mod pacing;
