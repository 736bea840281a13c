//! The vault: seals credentials with the key ring into a `SecretStore`,
//! opens them, and rotates keys.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use ring::rand::SystemRandom;

use crate::envelope::{self, OpenFailure};
use crate::keys::{KeyError, KeyId, KeyRing, MasterKey};
use crate::secret::{Credential, OwnerId, SecretKind};
use crate::store::{
    Conflict, Expect, RecordKey, RecordLock, SecretStore, StoreError, StoredRecord, Version, Write,
};

/// A value read from the vault with the version to compare against when
/// replacing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version in the store.
    pub version: Version,
}

/// Errors of the vault. Every variant about a record names its owner and
/// kind; none contains secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The record was sealed with a key id the ring does not hold (retired
    /// too early, or the ring is missing a key).
    #[error("{owner}/{kind}: sealed with {key_id}, which is not in the key ring")]
    UnknownKey {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
        /// The key id in the record.
        key_id: KeyId,
    },
    /// The ring holds a key with the record's id, but not the key that
    /// sealed it (its check value differs): wrong key material was loaded.
    #[error("{owner}/{kind}: the key ring's {key_id} is not the key that sealed this record")]
    WrongKey {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
        /// The key id in the record.
        key_id: KeyId,
    },
    /// Authentication failed: the record was modified after sealing.
    #[error("{owner}/{kind}: record failed authentication (tampered or corrupted)")]
    Tampered {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
    },
    /// The record was sealed for another owner or kind (copied or moved).
    #[error("{owner}/{kind}: record was sealed for {sealed_owner}/{}", sealed_kind.map_or("an unknown kind", SecretKind::as_str))]
    WrongOwnerOrKind {
        /// The owner asked for.
        owner: OwnerId,
        /// The kind asked for.
        kind: SecretKind,
        /// The owner in the record's header.
        sealed_owner: String,
        /// The kind in the record's header (`None` if unknown).
        sealed_kind: Option<SecretKind>,
    },
    /// The record is shorter than its header says.
    #[error("{owner}/{kind}: record truncated at {len} bytes")]
    Truncated {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
        /// Its length.
        len: usize,
    },
    /// The record's format version is not one this build reads.
    #[error("{owner}/{kind}: unsupported record format version {version}")]
    UnsupportedVersion {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
        /// The version byte found.
        version: u8,
    },
    /// The record exceeds [`MAX_SEALED_LEN`](crate::MAX_SEALED_LEN); it was
    /// not decrypted.
    #[error("{owner}/{kind}: record of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The record opened but its plaintext is not a credential of its kind.
    #[error("{owner}/{kind}: record opened but does not hold a {kind} credential")]
    Malformed {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
    },
    /// The credential would seal to more than the size limit.
    #[error("{owner}/{kind}: credential too large to store")]
    CredentialTooLarge {
        /// The owner.
        owner: OwnerId,
        /// The kind.
        kind: SecretKind,
    },
    /// A compare-and-set lost: someone else wrote first. Read again.
    #[error(transparent)]
    Conflict(Conflict),
    /// A key is still used by stored records and cannot be retired.
    #[error("{key_id} still seals {records} record(s); rotate before retiring it")]
    KeyInUse {
        /// The key.
        key_id: KeyId,
        /// How many records it seals.
        records: u64,
    },
    /// A key ring operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The system random number generator failed (no nonce could be drawn).
    #[error("system random number generator failed")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for VaultError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => Self::Conflict(conflict),
            other => Self::Store(other),
        }
    }
}

impl VaultError {
    fn open(owner: &OwnerId, kind: SecretKind, failure: OpenFailure) -> Self {
        let owner = owner.clone();
        match failure {
            OpenFailure::TooLarge { len } => Self::TooLarge {
                owner,
                kind,
                len,
                max: envelope::MAX_SEALED_LEN,
            },
            OpenFailure::Truncated { len } => Self::Truncated { owner, kind, len },
            OpenFailure::UnsupportedVersion { version } => Self::UnsupportedVersion {
                owner,
                kind,
                version,
            },
            OpenFailure::UnknownKey { key_id } => Self::UnknownKey {
                owner,
                kind,
                key_id,
            },
            OpenFailure::WrongKey { key_id } => Self::WrongKey {
                owner,
                kind,
                key_id,
            },
            OpenFailure::Misplaced {
                owner: sealed_owner,
                kind: sealed_kind,
            } => Self::WrongOwnerOrKind {
                owner,
                kind,
                sealed_owner,
                sealed_kind,
            },
            OpenFailure::Tampered => Self::Tampered { owner, kind },
        }
    }
}

/// How far a rotation got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Records re-sealed with the active key.
    pub resealed: u64,
    /// Records skipped because another writer changed them meanwhile (that
    /// writer sealed with its own active key; a later pass picks them up if
    /// needed).
    pub conflicts: u64,
    /// Batches written (each one store transaction).
    pub batches: u64,
    /// Records still sealed with other keys when the rotation stopped.
    pub remaining: u64,
}

/// Cursor of a rotation in progress: [`Vault::rotate_batch`] returns the next
/// one, `None` when the pass is complete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationCursor {
    after: Option<RecordKey>,
}

/// Credentials sealed into a [`SecretStore`] with a [`KeyRing`].
///
/// Cloning is cheap and shares the store and ring.
///
/// # Example: store, read and replace tokens
/// ```
/// use std::sync::Arc;
/// use credential_vault::{
///     Credential, Expect, KeyId, KeyRing, MasterKey, MemoryStore, OAuthTokens, OwnerId,
///     SecretKind, Vault,
/// };
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let key = MasterKey::from_base64(KeyId(1), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// let vault = Vault::new(Arc::new(MemoryStore::new()), KeyRing::new(key));
/// let alice = OwnerId::new("participant-17")?;
///
/// let tokens = OAuthTokens::new("access-1".into()).with_refresh_token("refresh-1".into());
/// vault.insert(&alice, &Credential::MicrosoftOauth(tokens)).await?;
///
/// // A refresh: read, exchange the refresh token, store the rotated one
/// // against the version read. A concurrent refresh makes this a Conflict
/// // instead of silently overwriting the newer token.
/// let current = vault.get(&alice, SecretKind::MicrosoftOauth).await?.expect("stored above");
/// let rotated = OAuthTokens::new("access-2".into()).with_refresh_token("refresh-2".into());
/// vault.replace(&alice, &Credential::MicrosoftOauth(rotated), current.version).await?;
///
/// let now = vault.get(&alice, SecretKind::MicrosoftOauth).await?.expect("stored above");
/// let tokens = now.value.as_oauth().expect("an OAuth kind");
/// assert_eq!(tokens.refresh_token.as_ref().map(|t| t.secret()), Some("refresh-2"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
    ring: Arc<RwLock<KeyRing>>,
    rng: SystemRandom,
}

impl KeyRing {
    /// Seals `credential` for `owner` with the active key; returns the key id
    /// and the sealed record (format in the crate docs). [`Vault`] does this
    /// for you; use it directly to keep sealed records in your own tables.
    ///
    /// # Errors
    /// [`VaultError::CredentialTooLarge`], [`VaultError::Random`].
    pub fn seal(
        &self,
        owner: &OwnerId,
        credential: &Credential,
    ) -> Result<(KeyId, Vec<u8>), VaultError> {
        self.seal_with(&SystemRandom::new(), owner, credential)
    }

    fn seal_with(
        &self,
        rng: &SystemRandom,
        owner: &OwnerId,
        credential: &Credential,
    ) -> Result<(KeyId, Vec<u8>), VaultError> {
        let kind = credential.kind();
        let plaintext = credential.encode();
        let (key_id, sealed) =
            envelope::seal(self, rng, owner, kind, &plaintext).map_err(|_| VaultError::Random)?;
        if sealed.len() > envelope::MAX_SEALED_LEN {
            return Err(VaultError::CredentialTooLarge {
                owner: owner.clone(),
                kind,
            });
        }
        Ok((key_id, sealed))
    }

    /// Opens a record sealed for `owner`/`kind` by any key in the ring.
    ///
    /// # Errors
    /// [`VaultError::Tampered`], [`VaultError::WrongKey`],
    /// [`VaultError::UnknownKey`], [`VaultError::WrongOwnerOrKind`],
    /// [`VaultError::Truncated`], [`VaultError::UnsupportedVersion`],
    /// [`VaultError::TooLarge`], [`VaultError::Malformed`].
    pub fn open(
        &self,
        owner: &OwnerId,
        kind: SecretKind,
        sealed: &[u8],
    ) -> Result<Credential, VaultError> {
        let plaintext = envelope::open(self, owner, kind, sealed)
            .map_err(|failure| VaultError::open(owner, kind, failure))?;
        Credential::decode(kind, &plaintext).ok_or_else(|| VaultError::Malformed {
            owner: owner.clone(),
            kind,
        })
    }
}

impl Vault {
    /// A vault over `store` with `ring`.
    pub fn new(store: Arc<dyn SecretStore>, ring: KeyRing) -> Self {
        Self {
            store,
            ring: Arc::new(RwLock::new(ring)),
            rng: SystemRandom::new(),
        }
    }

    /// The store (for listing and maintenance).
    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        // Ring edits are single calls that either change the map or return
        // an error, so a poisoned lock still holds a consistent ring.
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn edit_ring(
        &self,
        edit: impl FnOnce(&mut KeyRing) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        let mut ring = self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        edit(&mut ring)
    }

    /// The id of the key that seals new records.
    pub fn active_key(&self) -> KeyId {
        self.ring().active()
    }

    /// Every key id in the ring.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.ring().ids()
    }

    /// Adds a key that opens records (it does not become active).
    ///
    /// # Errors
    /// [`KeyError::DuplicateId`].
    pub fn add_key(&self, key: MasterKey) -> Result<(), VaultError> {
        Ok(self.edit_ring(|ring| ring.add(key))?)
    }

    /// Makes `id` the sealing key. Records sealed with other keys still
    /// open; [`Vault::rotate`] re-seals them.
    ///
    /// # Errors
    /// [`KeyError::NotInRing`].
    pub fn activate_key(&self, id: KeyId) -> Result<(), VaultError> {
        Ok(self.edit_ring(|ring| ring.activate(id))?)
    }

    /// Removes key `id` from the ring once no stored record uses it.
    ///
    /// # Errors
    /// [`VaultError::KeyInUse`] when records still use it (nothing changes),
    /// [`KeyError::RetireActive`] for the active key.
    pub async fn retire_key(&self, id: KeyId) -> Result<(), VaultError> {
        if id == self.active_key() {
            return Err(KeyError::RetireActive { id }.into());
        }
        let records = self.store.key_usage().await?.get(&id).copied().unwrap_or(0);
        if records > 0 {
            return Err(VaultError::KeyInUse {
                key_id: id,
                records,
            });
        }
        Ok(self.edit_ring(|ring| ring.remove(id))?)
    }

    /// How many stored records each key seals.
    ///
    /// # Errors
    /// [`VaultError::Store`].
    pub async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, VaultError> {
        Ok(self.store.key_usage().await?)
    }

    fn seal(
        &self,
        owner: &OwnerId,
        credential: &Credential,
    ) -> Result<(KeyId, Vec<u8>), VaultError> {
        self.ring().seal_with(&self.rng, owner, credential)
    }

    fn open_record(&self, record: &StoredRecord) -> Result<Credential, VaultError> {
        self.ring()
            .open(&record.key.owner, record.key.kind, &record.sealed)
    }

    /// Stores `credential` for `owner` under its kind if `expect` holds;
    /// returns the new version.
    ///
    /// # Errors
    /// [`VaultError::Conflict`] when `expect` does not hold (nothing is
    /// written), [`VaultError::CredentialTooLarge`], [`VaultError::Store`].
    pub async fn put(
        &self,
        owner: &OwnerId,
        credential: &Credential,
        expect: Expect,
    ) -> Result<Version, VaultError> {
        let (key_id, sealed) = self.seal(owner, credential)?;
        let write = Write {
            key: RecordKey {
                owner: owner.clone(),
                kind: credential.kind(),
            },
            key_id,
            sealed,
            expect,
        };
        Ok(self.store.put(write).await?)
    }

    /// Stores a new credential; fails with a conflict if one of its kind exists.
    ///
    /// # Errors
    /// As [`Vault::put`].
    pub async fn insert(
        &self,
        owner: &OwnerId,
        credential: &Credential,
    ) -> Result<Version, VaultError> {
        self.put(owner, credential, Expect::Absent).await
    }

    /// Replaces the credential read at `version` (compare-and-set). This is
    /// how a refreshed token is stored: the write is atomic, and a
    /// concurrent refresh that stored first makes this a conflict.
    ///
    /// # Errors
    /// As [`Vault::put`].
    pub async fn replace(
        &self,
        owner: &OwnerId,
        credential: &Credential,
        version: Version,
    ) -> Result<Version, VaultError> {
        self.put(owner, credential, Expect::Version(version)).await
    }

    /// Reads and opens `owner`'s credential of `kind`.
    ///
    /// # Errors
    /// The open errors ([`VaultError::Tampered`], [`VaultError::WrongKey`],
    /// [`VaultError::UnknownKey`], [`VaultError::WrongOwnerOrKind`],
    /// [`VaultError::Truncated`], [`VaultError::UnsupportedVersion`],
    /// [`VaultError::TooLarge`], [`VaultError::Malformed`]) and
    /// [`VaultError::Store`].
    pub async fn get(
        &self,
        owner: &OwnerId,
        kind: SecretKind,
    ) -> Result<Option<Versioned<Credential>>, VaultError> {
        let key = RecordKey {
            owner: owner.clone(),
            kind,
        };
        let Some(record) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let value = self.open_record(&record)?;
        Ok(Some(Versioned {
            value,
            version: record.version,
        }))
    }

    /// Locks `owner`'s credential of `kind` against every other process
    /// sharing the store (PostgreSQL) until the lock is released or
    /// dropped: hold it around read, refresh and write of a rotating OAuth
    /// token so that one instance refreshes and the others read its
    /// result. With a single-process store it holds nothing.
    ///
    /// # Errors
    /// [`VaultError::Store`], including a lock wait that timed out.
    pub async fn lock(&self, owner: &OwnerId, kind: SecretKind) -> Result<RecordLock, VaultError> {
        let key = RecordKey {
            owner: owner.clone(),
            kind,
        };
        Ok(self.store.lock(&key).await?)
    }

    /// Deletes `owner`'s credential of `kind`; `false` when there was none.
    ///
    /// # Errors
    /// [`VaultError::Store`].
    pub async fn delete(&self, owner: &OwnerId, kind: SecretKind) -> Result<bool, VaultError> {
        let key = RecordKey {
            owner: owner.clone(),
            kind,
        };
        Ok(self.store.delete(&key, Expect::Any).await?)
    }

    /// Deletes every credential of `owner`; returns how many.
    ///
    /// # Errors
    /// [`VaultError::Store`].
    pub async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, VaultError> {
        Ok(self.store.delete_owner(owner).await?)
    }

    /// Every owner holding a credential.
    ///
    /// # Errors
    /// [`VaultError::Store`].
    pub async fn owners(&self) -> Result<Vec<OwnerId>, VaultError> {
        Ok(self.store.owners().await?)
    }

    /// The kinds of credential `owner` holds.
    ///
    /// # Errors
    /// [`VaultError::Store`].
    pub async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, VaultError> {
        Ok(self.store.kinds(owner).await?)
    }

    /// Re-seals one batch of up to `batch_size` records that the active key
    /// did not seal, in one store transaction, and returns the cursor for the
    /// next batch (`None` when the pass is done).
    ///
    /// Each record is opened with its own key and re-sealed with the active
    /// one under a compare-and-set on the version read, so a token refreshed
    /// meanwhile is never overwritten with the stale value. A crash between
    /// or during batches loses nothing: every record is at all times sealed
    /// by a key still in the ring; start again from `RotationCursor::default()`.
    ///
    /// # Errors
    /// Any open error of a record (rotation stops there: a record that
    /// cannot be opened needs attention, it is never skipped silently) and
    /// [`VaultError::Store`].
    pub async fn rotate_batch(
        &self,
        cursor: RotationCursor,
        batch_size: usize,
        report: &mut RotationReport,
    ) -> Result<Option<RotationCursor>, VaultError> {
        let active = self.active_key();
        let batch = self
            .store
            .scan_not_sealed_with(active, cursor.after.as_ref(), batch_size.max(1))
            .await?;
        let Some(last) = batch.last().map(|r| r.key.clone()) else {
            return Ok(None);
        };
        let mut writes = Vec::with_capacity(batch.len());
        for record in &batch {
            let credential = self.open_record(record)?;
            let (key_id, sealed) = self.seal(&record.key.owner, &credential)?;
            writes.push(Write {
                key: record.key.clone(),
                key_id,
                sealed,
                expect: Expect::Version(record.version),
            });
        }
        for outcome in self.store.put_many(writes).await? {
            match outcome {
                Ok(_) => report.resealed += 1,
                Err(_) => report.conflicts += 1,
            }
        }
        report.batches += 1;
        Ok(Some(RotationCursor { after: Some(last) }))
    }

    /// Re-seals every record not sealed with the active key, in batches of
    /// `batch_size`, then reports what is left (records written meanwhile by
    /// instances that still seal with an older key).
    ///
    /// Rotation: load the new key, [`Vault::add_key`] + [`Vault::activate_key`]
    /// (or build the ring with the new key active), run this, and once
    /// [`RotationReport::remaining`] is 0 on every instance's ring,
    /// [`Vault::retire_key`] the old key and drop it from the configuration.
    ///
    /// # Errors
    /// As [`Vault::rotate_batch`]; the rotation can simply be run again.
    pub async fn rotate(&self, batch_size: usize) -> Result<RotationReport, VaultError> {
        let mut report = RotationReport::default();
        let mut cursor = RotationCursor::default();
        while let Some(next) = self.rotate_batch(cursor, batch_size, &mut report).await? {
            cursor = next;
        }
        let active = self.active_key();
        report.remaining = self
            .store
            .key_usage()
            .await?
            .into_iter()
            .filter(|(id, _)| *id != active)
            .map(|(_, n)| n)
            .sum();
        Ok(report)
    }
}
