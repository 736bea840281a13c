//! Integration tests of credential-vault: one binary, a module per concern.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

// Shared fixtures: keys, owners, sample credentials, the PostgreSQL harness.
mod common;
// The `SecretStore` contract, run against every store.
mod contract;
// The in-memory store through the contract and the vault.
mod memory;
// PostgreSQL: contract, compare-and-set across pools, rotation (real server).
#[cfg(feature = "postgres")]
mod postgres;
// Property tests: any single-bit change to a sealed record is detected.
mod props;
// Key rotation: interrupted after every batch, failing batches, concurrent refresh.
mod rotation;
// SQLite: the file, WAL, migrations, contract, rotation (real file in a temp dir).
#[cfg(feature = "sqlite")]
mod sqlite;
// Seal/open round trips and every tamper case, each a distinct typed error.
mod tamper;
