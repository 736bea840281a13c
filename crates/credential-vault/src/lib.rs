#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::envelope::{FORMAT_VERSION, MAX_SEALED_LEN};
pub use crate::keys::{KeyError, KeyId, KeyRing, MasterKey};
#[cfg(feature = "postgres")]
pub use crate::postgres::PostgresStore;
pub use crate::secret::{
    AppCredentials, AppPassword, AppSecret, Credential, InvalidOwnerId, OAuthTokens, OwnerId,
    SecretKind, SecretString, ServerLogin, ServiceAccountKey,
};
#[cfg(feature = "sqlite")]
pub use crate::sqlite::SqliteStore;
pub use crate::store::{
    Conflict, Expect, HeldLock, MemoryStore, RecordKey, RecordLock, SecretStore, StoreError,
    StoredRecord, Version, Write,
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
