//! Encrypted secrets at rest for scheduling-assistant.
//!
//! The assistant keeps, per participant, OAuth tokens for Google and
//! Microsoft and, for iCloud, the Apple ID with an app-specific password; for
//! organisation-wide authorisation it keeps a Google service-account key and
//! Microsoft app credentials. It never keeps a Google or Microsoft password.
//! All of these live in this vault, sealed with AES-256-GCM.
//!
//! # Overview
//! - [`Credential`] and its payloads ([`OAuthTokens`], [`AppPassword`],
//!   [`ServiceAccountKey`], [`AppCredentials`]) hold secrets in
//!   [`SecretString`]: zeroized on drop, `[redacted]` in `Debug`, no
//!   `Display`, no `Serialize`, read only through [`SecretString::secret`].
//! - [`MasterKey`] loads 256-bit keys from base64 in a file or an environment
//!   variable; [`KeyRing`] holds them by [`KeyId`], one active for sealing and
//!   all usable for opening.
//! - [`Vault`] seals and opens credentials, with compare-and-set writes
//!   ([`Expect`], [`Version`]) so two refreshes of one token never overwrite
//!   each other blindly, and rotates keys in resumable batches.
//! - [`SecretStore`] is where sealed records live: [`MemoryStore`],
//!   [`SqliteStore`] (feature `sqlite`, the default) and [`PostgresStore`]
//!   (feature `postgres`). Stores never see plaintext or keys.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use credential_vault::{AppPassword, Credential, KeyId, KeyRing, MasterKey, MemoryStore, OwnerId, SecretKind, Vault};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // In production: MasterKey::from_file(KeyId(1), "/run/secrets/vault-key-1")?
//! let key = MasterKey::from_base64(KeyId(1), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
//! let vault = Vault::new(Arc::new(MemoryStore::new()), KeyRing::new(key));
//! let owner = OwnerId::new("participant-17")?;
//! let icloud = AppPassword::new("someone@icloud.com", "abcd-efgh-ijkl-mnop".into());
//! vault.insert(&owner, &Credential::AppleAppPassword(icloud)).await?;
//!
//! let read = vault.get(&owner, SecretKind::AppleAppPassword).await?.expect("just stored");
//! assert!(format!("{read:?}").contains("[redacted]"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sealed record format
//! ```text
//! version(1) | key id(4) | key check(4) | kind(1) | owner len(1) | owner | plaintext len(4) | nonce(12) | ciphertext | tag(16)
//! ```
//! The associated data is the whole header (everything before the nonce),
//! so key id, owner, kind and format version are authenticated. Data keys are
//! derived from each master key with HKDF-SHA256 (separate labels for the
//! AES key and the 4-byte key check value), which lets the vault tell a wrong
//! key ([`VaultError::WrongKey`]) from a tampered record
//! ([`VaultError::Tampered`]). Records over [`MAX_SEALED_LEN`] are refused
//! before decryption. Nonces are 96 random bits per seal; rotate keys well
//! before 2³² seals per key.
//!
//! # Key rotation
//! 1. Generate a key outside the program (`openssl rand -base64 32`) and load
//!    it with a new id next to the old one; make it active
//!    ([`KeyRing::activate`] or [`Vault::activate_key`]).
//! 2. [`Vault::rotate`] re-seals every record in batches (one transaction
//!    each, compare-and-set per record). Stopping at any point loses nothing:
//!    every record stays sealed by a key in the ring. Run it again to resume.
//! 3. When [`RotationReport::remaining`] is 0 and every instance runs with the
//!    new key active, [`Vault::retire_key`] checks that no record uses the
//!    old key and drops it; then remove it from the configuration.
//!
//! # Crate features
//! - `sqlite` (default): [`SqliteStore`], one file, WAL, via `rusqlite` with
//!   the bundled SQLite (no system library to match; migrations in a
//!   version table).
//! - `postgres`: [`PostgresStore`] via `tokio-postgres` and the
//!   `deadpool-postgres` pool: lean, no compile-time query checking (so no
//!   database at build time), no macros. We did not choose `sqlx`: heavier,
//!   a newer MSRV, and its SQLite crate conflicts with current `rusqlite`.
//! - `dev-keys`: [`MasterKey::create_dev_key_file`] (development only).
//!
//! # Which crate does what
//! `ring` (AES-256-GCM, HKDF-SHA256, the system RNG), `zeroize` (wiping
//! secrets and key bytes), `base64` (key files), `serde_json` (the sealed
//! plaintext), `rusqlite` and `tokio-postgres`/`deadpool-postgres` (stores),
//! `async-trait` (the object-safe async [`SecretStore`]).
//!
//! # What is not protected
//! Plaintext lives in memory while a credential is in use (that is its job),
//! and JSON decoding may leave short-lived unzeroized scratch copies of
//! escaped strings (PEM keys). The SQLite `-wal`/`-shm` files are created
//! with the process umask; their contents are sealed records.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::envelope::{FORMAT_VERSION, MAX_SEALED_LEN};
pub use crate::keys::{KeyError, KeyId, KeyRing, MasterKey};
#[cfg(feature = "postgres")]
pub use crate::postgres::PostgresStore;
pub use crate::secret::{
    AppCredentials, AppPassword, AppSecret, Credential, InvalidOwnerId, OAuthTokens, OwnerId,
    SecretKind, SecretString, ServiceAccountKey,
};
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
pub use crate::store::{
    Conflict, Expect, MemoryStore, RecordKey, SecretStore, StoreError, StoredRecord, Version, Write,
};
pub use crate::vault::{RotationCursor, RotationReport, Vault, VaultError, Versioned};

mod envelope;
mod keys;
#[cfg(feature = "postgres")]
mod postgres;
mod secret;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod vault;
