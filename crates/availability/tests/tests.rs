//! Integration tests of the `availability` crate.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

// The algebra, coverage and slot search against a naive boolean-per-second
// model, and the algebra's laws (proptest).
mod model;
// serde output, pinned with insta snapshots.
mod snapshots;
// `FreeBusySource`: the in-memory source, the conformance checks, batching.
mod source;
