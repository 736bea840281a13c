//! The `SecretStore` trait: where sealed records live. Stores never see a
//! plaintext or a key; they keep opaque sealed bytes with a version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::keys::KeyId;
use crate::secret::{OwnerId, SecretKind};

/// A record's version: changes on every write, never reused by a store for
/// the same owner and kind (stores draw versions from one increasing
/// sequence, so a deleted and re-created record never repeats a version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// The precondition of a write (compare-and-set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Write only if no record exists.
    Absent,
    /// Write only if the record exists with exactly this version.
    Version(Version),
    /// Write unconditionally (create or replace). Prefer the other two for
    /// anything that refreshes: a blind write can lose a rotated token.
    Any,
}

/// The key of a record: one secret per owner and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey {
    /// The owner.
    pub owner: OwnerId,
    /// The kind.
    pub kind: SecretKind,
}

/// A record's lock across every process sharing a store, from
/// [`SecretStore::lock`]: held from when the call returns until
/// [`RecordLock::release`] or drop. It serialises a read-refresh-write
/// cycle (an OAuth refresh whose refresh token rotates), so that of several
/// instances only one refreshes and the others read its result.
///
/// Stores that only one process uses (memory, SQLite) hand out a lock that
/// holds nothing: the callers' own in-process locks suffice there.
#[must_use = "the lock is released as soon as it is dropped"]
pub struct RecordLock {
    held: Option<Box<dyn HeldLock>>,
}

/// A store's side of a held [`RecordLock`]. Dropping it without
/// [`HeldLock::release`] must still release it (e.g. by closing the
/// database session that holds it), so a cancelled or panicking caller
/// never leaves a record locked.
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Releases the lock.
    async fn release(self: Box<Self>);
}

impl RecordLock {
    /// A lock that holds nothing (single-process stores).
    pub fn none() -> Self {
        Self { held: None }
    }

    /// A lock a store holds through `held`.
    pub fn held(held: Box<dyn HeldLock>) -> Self {
        Self { held: Some(held) }
    }

    /// Whether this lock excludes other processes.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// Releases the lock now (dropping it releases it too, possibly more
    /// slowly: a store may have to close its session).
    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }
}

impl fmt::Debug for RecordLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLock")
            .field("held", &self.is_held())
            .finish()
    }
}

/// A sealed record as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Owner and kind.
    pub key: RecordKey,
    /// The current version.
    pub version: Version,
    /// The id of the key that sealed it (also inside `sealed`).
    pub key_id: KeyId,
    /// The sealed bytes (see the format in the crate docs).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("key", &self.key)
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// A write: store `sealed` under `key` if `expect` holds.
#[derive(Clone)]
pub struct Write {
    /// Owner and kind.
    pub key: RecordKey,
    /// The id of the key that sealed `sealed`.
    pub key_id: KeyId,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
    /// The precondition.
    pub expect: Expect,
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write")
            .field("key", &self.key)
            .field("key_id", &self.key_id)
            .field("sealed_len", &self.sealed.len())
            .field("expect", &self.expect)
            .finish()
    }
}

/// A failed precondition: someone else wrote (or deleted) the record first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{owner}/{kind}: expected {expected:?}, found {}", match current { Some(v) => v.to_string(), None => "no record".to_owned() })]
pub struct Conflict {
    /// The owner.
    pub owner: OwnerId,
    /// The kind.
    pub kind: SecretKind,
    /// What the writer expected.
    pub expected: Expect,
    /// The version found, `None` when there is no record.
    pub current: Option<Version>,
}

/// Errors of a [`SecretStore`]. They name owners and kinds, never contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-set precondition failed.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The database schema is newer than this build understands.
    #[error("{backend} schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored row cannot be read back (unknown kind, bad owner, bad key id).
    #[error("{backend}: stored row is corrupt: {what}")]
    Corrupt {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What is wrong (no secret material).
        what: String,
    },
    /// The database failed (I/O, connection, constraint).
    #[error("{backend} store failed while {action}")]
    Backend {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What the store was doing.
        action: &'static str,
        /// The database error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store cannot work as configured (nothing was touched).
    #[error("{backend} store misconfigured: {what}")]
    Misconfigured {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

/// Storage for sealed records, shared by every assistant instance that uses
/// the same database.
///
/// # Contract
/// - Each write is atomic: a concurrent reader sees the old record or the new
///   one, never a mix (this is what makes storing a rotated refresh token safe).
/// - [`Expect`] is checked and the write applied in one step; a failed check
///   returns [`StoreError::Conflict`] and changes nothing.
/// - Every successful write gives the record a version it never had before.
/// - [`SecretStore::put_many`] applies its writes in one transaction:
///   all applied writes become visible together, or (on error) none do;
///   a write whose precondition fails is reported and skipped.
#[async_trait]
pub trait SecretStore: fmt::Debug + Send + Sync + 'static {
    /// The record of `owner`/`kind`, if any.
    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError>;

    /// Applies one write if its precondition holds; returns the new version.
    async fn put(&self, write: Write) -> Result<Version, StoreError>;

    /// Applies several writes in one transaction; per write, the new version
    /// or the conflict that skipped it.
    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError>;

    /// Deletes the record if `expect` holds; `Ok(false)` when there was none.
    /// `Expect::Absent` is meaningless here and only matches a missing record.
    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError>;

    /// Deletes every record of `owner`; returns how many.
    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError>;

    /// Every owner with at least one record, ascending.
    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError>;

    /// The kinds `owner` holds, ascending.
    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError>;

    /// Up to `limit` records not sealed with `key_id`, in key order, after
    /// `after` (exclusive): the iteration rotation uses.
    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError>;

    /// How many records each key id seals.
    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError>;

    /// Locks `key` against every other process sharing this store until
    /// the returned lock is released or dropped (the record need not
    /// exist). Waits while another holds it; a store may give up after a
    /// timeout with [`StoreError::Backend`]. The default holds nothing,
    /// right for stores only one process uses.
    ///
    /// # Errors
    /// The store's failure to take the lock.
    async fn lock(&self, key: &RecordKey) -> Result<RecordLock, StoreError> {
        let _ = key;
        Ok(RecordLock::none())
    }
}

/// Checks `expect` against the current version (shared by the stores).
pub(crate) fn check(
    key: &RecordKey,
    expect: Expect,
    current: Option<Version>,
) -> Result<(), Conflict> {
    let ok = match expect {
        Expect::Absent => current.is_none(),
        Expect::Version(v) => current == Some(v),
        Expect::Any => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Conflict {
            owner: key.owner.clone(),
            kind: key.kind,
            expected: expect,
            current,
        })
    }
}

/// An in-memory [`SecretStore`], for tests and single-process demos.
/// Everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    records: BTreeMap<RecordKey, StoredRecord>,
    next_version: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave a half-applied write
        // (every write is one map insert), so a poisoned lock is safe to use.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl MemoryInner {
    fn apply(&mut self, write: Write) -> Result<Version, Conflict> {
        let current = self.records.get(&write.key).map(|r| r.version);
        check(&write.key, write.expect, current)?;
        self.next_version += 1;
        let version = Version(self.next_version);
        self.records.insert(
            write.key.clone(),
            StoredRecord {
                key: write.key,
                version,
                key_id: write.key_id,
                sealed: write.sealed,
            },
        );
        Ok(version)
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.lock().records.get(key).cloned())
    }

    async fn put(&self, write: Write) -> Result<Version, StoreError> {
        Ok(self.lock().apply(write)?)
    }

    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError> {
        let mut inner = self.lock();
        Ok(writes.into_iter().map(|w| inner.apply(w)).collect())
    }

    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let current = inner.records.get(key).map(|r| r.version);
        check(key, expect, current)?;
        Ok(inner.records.remove(key).is_some())
    }

    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let before = inner.records.len();
        inner.records.retain(|k, _| &k.owner != owner);
        Ok((before - inner.records.len()) as u64)
    }

    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError> {
        let inner = self.lock();
        let owners: BTreeSet<_> = inner.records.keys().map(|k| k.owner.clone()).collect();
        Ok(owners.into_iter().collect())
    }

    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .records
            .keys()
            .filter(|k| &k.owner == owner)
            .map(|k| k.kind)
            .collect())
    }

    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .records
            .values()
            .filter(|r| after.is_none_or(|a| &r.key > a) && r.key_id != key_id)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        let mut usage = BTreeMap::new();
        for record in self.lock().records.values() {
            *usage.entry(record.key_id).or_insert(0) += 1;
        }
        Ok(usage)
    }
}
