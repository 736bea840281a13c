//! Rotation: add a key, make it active, re-seal in batches, retire the old
//! key. Stopped after every batch, failing inside a batch, and racing a
//! token refresh, nothing is lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use credential_vault::{
    Conflict, Credential, Expect, KeyId, KeyRing, MemoryStore, OwnerId, RecordKey, RotationCursor,
    RotationReport, SecretKind, SecretStore, StoreError, StoredRecord, Vault, VaultError, Version,
    Write,
};

use crate::common::{generation_of, generation_tokens, owner, ring, samples};

pub(crate) const RECORDS: usize = 23;
pub(crate) const BATCH: usize = 5;

/// Fills `store` through a vault sealing with key 1; returns what was stored.
pub(crate) async fn seed(
    store: Arc<dyn SecretStore>,
) -> BTreeMap<(OwnerId, SecretKind), Credential> {
    let vault = Vault::new(store, ring(1, &[]));
    let samples = samples();
    let mut stored = BTreeMap::new();
    for i in 0..RECORDS {
        let who = owner(&format!("participant-{i:03}"));
        let credential = samples[i % samples.len()].clone();
        vault.insert(&who, &credential).await.unwrap();
        stored.insert((who, credential.kind()), credential);
    }
    stored
}

/// Every stored credential opens with `ring` and equals what was stored.
pub(crate) async fn assert_all_intact(
    store: Arc<dyn SecretStore>,
    ring: KeyRing,
    stored: &BTreeMap<(OwnerId, SecretKind), Credential>,
) {
    let vault = Vault::new(store, ring);
    for ((who, kind), credential) in stored {
        let read = vault.get(who, *kind).await.unwrap().unwrap();
        assert_eq!(&read.value, credential, "{who}/{kind} changed");
    }
    assert_eq!(vault.owners().await.unwrap().len(), stored.len());
}

/// Rotation from key 1 to key 2, stopped ("crashed") after `stop_after`
/// batches; `reopen` gives the store as a restarted process would see it.
pub(crate) async fn rotation_stopped_after_every_batch<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<
        Output = (
            Arc<dyn SecretStore>,
            Box<dyn Fn() -> Arc<dyn SecretStore> + Send>,
        ),
    >,
{
    let batches = RECORDS.div_ceil(BATCH);
    for stop_after in 0..=batches {
        let (store, reopen) = fresh().await;
        let stored = seed(store.clone()).await;

        // The operator loads key 2 and makes it active; key 1 stays to open.
        let vault = Vault::new(store, ring(2, &[1]));
        let mut report = RotationReport::default();
        let mut cursor = RotationCursor::default();
        for _ in 0..stop_after {
            cursor = vault
                .rotate_batch(cursor, BATCH, &mut report)
                .await
                .unwrap()
                .expect("more batches remain");
        }
        assert_eq!(report.resealed as usize, (stop_after * BATCH).min(RECORDS));
        drop(vault); // the crash

        // After a restart everything still opens, old key and new.
        let store = reopen();
        assert_all_intact(store.clone(), ring(2, &[1]), &stored).await;
        let usage = store.key_usage().await.unwrap();
        let moved = (stop_after * BATCH).min(RECORDS) as u64;
        assert_eq!(usage.get(&KeyId(2)).copied().unwrap_or(0), moved);
        assert_eq!(
            usage.get(&KeyId(1)).copied().unwrap_or(0),
            RECORDS as u64 - moved
        );

        // Retiring key 1 early is refused and changes nothing.
        let vault = Vault::new(store.clone(), ring(2, &[1]));
        if moved < RECORDS as u64 {
            let error = vault.retire_key(KeyId(1)).await.unwrap_err();
            assert!(
                matches!(error, VaultError::KeyInUse { key_id: KeyId(1), records } if records == RECORDS as u64 - moved),
                "{error:?}"
            );
            assert_eq!(vault.key_ids(), vec![KeyId(1), KeyId(2)]);
        }

        // Resume: the rest moves, then key 1 retires.
        let report = vault.rotate(BATCH).await.unwrap();
        assert_eq!(report.resealed, RECORDS as u64 - moved);
        assert_eq!((report.conflicts, report.remaining), (0, 0));
        vault.retire_key(KeyId(1)).await.unwrap();
        assert_eq!(vault.key_ids(), vec![KeyId(2)]);
        assert_all_intact(reopen(), ring(2, &[]), &stored).await;
    }
}

/// A store whose `put_many` fails on the `fail_on`-th call (counting from
/// 1) without writing anything, like a crash inside a batch's transaction.
#[derive(Debug)]
struct FailingBatch {
    inner: Arc<dyn SecretStore>,
    calls: AtomicUsize,
    fail_on: usize,
}

#[async_trait]
impl SecretStore for FailingBatch {
    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, write: Write) -> Result<Version, StoreError> {
        self.inner.put(write).await
    }
    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(StoreError::Backend {
                backend: "test",
                action: "committing a batch",
                source: "connection lost".into(),
            });
        }
        self.inner.put_many(writes).await
    }
    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError> {
        self.inner.delete(key, expect).await
    }
    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError> {
        self.inner.delete_owner(owner).await
    }
    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError> {
        self.inner.owners().await
    }
    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError> {
        self.inner.kinds(owner).await
    }
    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.scan_not_sealed_with(key_id, after, limit).await
    }
    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        self.inner.key_usage().await
    }
}

#[tokio::test]
async fn memory_rotation_stopped_after_every_batch_loses_nothing() {
    rotation_stopped_after_every_batch(|| async {
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let same = store.clone();
        let reopen: Box<dyn Fn() -> Arc<dyn SecretStore> + Send> = Box::new(move || same.clone());
        (store, reopen)
    })
    .await;
}

#[tokio::test]
async fn a_batch_failing_midway_loses_nothing_and_rotation_resumes() {
    let batches = RECORDS.div_ceil(BATCH);
    for fail_on in 1..=batches {
        let inner: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let stored = seed(inner.clone()).await;
        let failing = Arc::new(FailingBatch {
            inner: inner.clone(),
            calls: AtomicUsize::new(0),
            fail_on,
        });
        let vault = Vault::new(failing, ring(2, &[1]));
        let error = vault.rotate(BATCH).await.unwrap_err();
        assert!(
            matches!(error, VaultError::Store(StoreError::Backend { .. })),
            "{error:?}"
        );
        let moved = ((fail_on - 1) * BATCH) as u64;
        assert_eq!(
            inner
                .key_usage()
                .await
                .unwrap()
                .get(&KeyId(2))
                .copied()
                .unwrap_or(0),
            moved
        );
        assert_all_intact(inner.clone(), ring(2, &[1]), &stored).await;

        let report = vault.rotate(BATCH).await.unwrap();
        assert_eq!(
            (report.resealed, report.remaining),
            (RECORDS as u64 - moved, 0)
        );
        assert_all_intact(inner, ring(2, &[]), &stored).await;
    }
}

/// A store that, right after rotation has read a batch, lets a token refresh
/// (sealed by an instance still on key 1) land on the first record read.
#[derive(Debug)]
struct RefreshDuringScan {
    inner: Arc<dyn SecretStore>,
    refresher: Vault,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SecretStore for RefreshDuringScan {
    async fn get(&self, key: &RecordKey) -> Result<Option<StoredRecord>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, write: Write) -> Result<Version, StoreError> {
        self.inner.put(write).await
    }
    async fn put_many(
        &self,
        writes: Vec<Write>,
    ) -> Result<Vec<Result<Version, Conflict>>, StoreError> {
        self.inner.put_many(writes).await
    }
    async fn delete(&self, key: &RecordKey, expect: Expect) -> Result<bool, StoreError> {
        self.inner.delete(key, expect).await
    }
    async fn delete_owner(&self, owner: &OwnerId) -> Result<u64, StoreError> {
        self.inner.delete_owner(owner).await
    }
    async fn owners(&self) -> Result<Vec<OwnerId>, StoreError> {
        self.inner.owners().await
    }
    async fn kinds(&self, owner: &OwnerId) -> Result<Vec<SecretKind>, StoreError> {
        self.inner.kinds(owner).await
    }
    async fn scan_not_sealed_with(
        &self,
        key_id: KeyId,
        after: Option<&RecordKey>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let batch = self
            .inner
            .scan_not_sealed_with(key_id, after, limit)
            .await?;
        if let Some(first) = batch.first()
            && !self.done.swap(true, Ordering::SeqCst)
        {
            let current = self
                .refresher
                .get(&first.key.owner, first.key.kind)
                .await
                .unwrap()
                .unwrap();
            let next = generation_of(&current.value) + 1;
            self.refresher
                .replace(&first.key.owner, &generation_tokens(next), current.version)
                .await
                .unwrap();
        }
        Ok(batch)
    }
    async fn key_usage(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        self.inner.key_usage().await
    }
}

#[tokio::test]
async fn rotation_never_overwrites_a_token_refreshed_meanwhile() {
    let inner: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
    let old_instance = Vault::new(inner.clone(), ring(1, &[]));
    for i in 0..7 {
        old_instance
            .insert(&owner(&format!("ms-{i}")), &generation_tokens(1))
            .await
            .unwrap();
    }
    let store = Arc::new(RefreshDuringScan {
        inner: inner.clone(),
        refresher: old_instance,
        done: false.into(),
    });
    let vault = Vault::new(store, ring(2, &[1]));
    let report = vault.rotate(3).await.unwrap();
    // The refreshed record was skipped (its newer token kept), and it is
    // still sealed with key 1 by the old instance.
    assert_eq!(
        (report.resealed, report.conflicts, report.remaining),
        (6, 1, 1)
    );
    let refreshed = vault
        .get(&owner("ms-0"), SecretKind::MicrosoftOauth)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(generation_of(&refreshed.value), 2);
    // A second pass moves it without losing the refresh.
    let report = vault.rotate(3).await.unwrap();
    assert_eq!((report.resealed, report.remaining), (1, 0));
    let refreshed = vault
        .get(&owner("ms-0"), SecretKind::MicrosoftOauth)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(generation_of(&refreshed.value), 2);
}

#[tokio::test]
async fn runtime_key_management() {
    let vault = Vault::new(Arc::new(MemoryStore::new()), ring(1, &[]));
    vault.insert(&owner("a"), &samples()[0]).await.unwrap();
    vault.add_key(crate::common::key(2)).unwrap();
    assert!(matches!(
        vault.add_key(crate::common::key(2)),
        Err(VaultError::Key(_))
    ));
    vault.activate_key(KeyId(2)).unwrap();
    assert_eq!(vault.active_key(), KeyId(2));
    assert!(matches!(
        vault.retire_key(KeyId(2)).await,
        Err(VaultError::Key(_))
    ));
    assert!(matches!(
        vault.retire_key(KeyId(1)).await,
        Err(VaultError::KeyInUse { records: 1, .. })
    ));
    vault.rotate(10).await.unwrap();
    vault.retire_key(KeyId(1)).await.unwrap();
    assert_eq!(
        vault
            .get(&owner("a"), SecretKind::GoogleOauth)
            .await
            .unwrap()
            .unwrap()
            .value,
        samples()[0]
    );
}
