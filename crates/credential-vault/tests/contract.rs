//! The `SecretStore` contract. Each store module calls [`check_store`] on an
//! empty store, and the concurrency checks through a `Vault`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use credential_vault::{
    Expect, KeyId, RecordKey, SecretKind, SecretStore, StoreError, Vault, VaultError, Version,
    Write,
};

use crate::common::{generation_of, generation_tokens, owner, ring};

fn rk(o: &str, kind: SecretKind) -> RecordKey {
    RecordKey {
        owner: owner(o),
        kind,
    }
}

fn write(key: &RecordKey, key_id: u32, sealed: &[u8], expect: Expect) -> Write {
    Write {
        key: key.clone(),
        key_id: KeyId(key_id),
        sealed: sealed.to_vec(),
        expect,
    }
}

fn conflict_current(result: Result<Version, StoreError>) -> Option<Version> {
    match result {
        Err(StoreError::Conflict(c)) => c.current,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Runs every contract check on an empty store.
pub(crate) async fn check_store(store: Arc<dyn SecretStore>) {
    compare_and_set(&*store).await;
    listing_and_deleting(&*store).await;
    scanning_and_usage(&*store).await;
    batches(&*store).await;
}

async fn compare_and_set(store: &dyn SecretStore) {
    let key = rk("cas", SecretKind::GoogleOauth);
    assert_eq!(store.get(&key).await.unwrap(), None);

    let v1 = store
        .put(write(&key, 1, b"one", Expect::Absent))
        .await
        .unwrap();
    let got = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (got.version, got.key_id, got.sealed.as_slice()),
        (v1, KeyId(1), &b"one"[..])
    );
    assert_eq!(got.key, key);

    // A second create loses and changes nothing.
    let current = conflict_current(store.put(write(&key, 1, b"dup", Expect::Absent)).await);
    assert_eq!(current, Some(v1));

    let v2 = store
        .put(write(&key, 1, b"two", Expect::Version(v1)))
        .await
        .unwrap();
    assert!(v2 > v1);
    // A writer holding the old version loses.
    let current = conflict_current(
        store
            .put(write(&key, 1, b"stale", Expect::Version(v1)))
            .await,
    );
    assert_eq!(current, Some(v2));
    assert_eq!(store.get(&key).await.unwrap().unwrap().sealed, b"two");

    let v3 = store
        .put(write(&key, 2, b"three", Expect::Any))
        .await
        .unwrap();
    assert!(v3 > v2);

    // Version-checked delete.
    assert!(matches!(
        store.delete(&key, Expect::Version(v2)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.delete(&key, Expect::Version(v3)).await.unwrap());
    assert!(!store.delete(&key, Expect::Any).await.unwrap());
    let missing = store.put(write(&key, 1, b"x", Expect::Version(v3))).await;
    assert_eq!(conflict_current(missing), None);

    // Re-created records never repeat a version (no ABA).
    let v4 = store
        .put(write(&key, 1, b"again", Expect::Absent))
        .await
        .unwrap();
    assert!(v4 > v3);
    assert!(store.delete(&key, Expect::Any).await.unwrap());
}

async fn listing_and_deleting(store: &dyn SecretStore) {
    for (o, kind) in [
        ("list-b", SecretKind::GoogleOauth),
        ("list-a", SecretKind::MicrosoftOauth),
        ("list-a", SecretKind::AppleAppPassword),
        ("list-c", SecretKind::GoogleServiceAccount),
    ] {
        store
            .put(write(&rk(o, kind), 1, b"s", Expect::Absent))
            .await
            .unwrap();
    }
    assert_eq!(
        store.owners().await.unwrap(),
        vec![owner("list-a"), owner("list-b"), owner("list-c")]
    );
    assert_eq!(
        store.kinds(&owner("list-a")).await.unwrap(),
        vec![SecretKind::MicrosoftOauth, SecretKind::AppleAppPassword]
    );
    assert_eq!(store.kinds(&owner("nobody")).await.unwrap(), vec![]);
    assert_eq!(store.delete_owner(&owner("list-a")).await.unwrap(), 2);
    assert_eq!(store.delete_owner(&owner("list-a")).await.unwrap(), 0);
    assert_eq!(
        store.owners().await.unwrap(),
        vec![owner("list-b"), owner("list-c")]
    );
    store.delete_owner(&owner("list-b")).await.unwrap();
    store.delete_owner(&owner("list-c")).await.unwrap();
    assert!(store.owners().await.unwrap().is_empty());
}

async fn scanning_and_usage(store: &dyn SecretStore) {
    let mut keys = Vec::new();
    for i in 0..23 {
        for kind in [SecretKind::GoogleOauth, SecretKind::MicrosoftOauth] {
            let key = rk(&format!("scan-{i:02}"), kind);
            let key_id = if i % 3 == 0 { 2 } else { 1 };
            store
                .put(write(&key, key_id, b"s", Expect::Absent))
                .await
                .unwrap();
            if key_id == 1 {
                keys.push(key);
            }
        }
    }
    let usage = store.key_usage().await.unwrap();
    assert_eq!(usage.get(&KeyId(1)), Some(&(keys.len() as u64)));
    assert_eq!(usage.get(&KeyId(2)), Some(&(46 - keys.len() as u64)));

    // Paging with a cursor visits each record not sealed by key 2 once.
    let mut seen = Vec::new();
    let mut after: Option<RecordKey> = None;
    loop {
        let page = store
            .scan_not_sealed_with(KeyId(2), after.as_ref(), 4)
            .await
            .unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        seen.extend(page.into_iter().map(|r| {
            assert_eq!(r.key_id, KeyId(1));
            r.key
        }));
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), seen.len(), "a record was visited twice");
    keys.sort();
    assert_eq!(sorted_seen, keys);
    for i in 0..23 {
        store
            .delete_owner(&owner(&format!("scan-{i:02}")))
            .await
            .unwrap();
    }
    assert!(store.key_usage().await.unwrap().is_empty());
}

async fn batches(store: &dyn SecretStore) {
    let a = rk("batch-a", SecretKind::GoogleOauth);
    let b = rk("batch-b", SecretKind::GoogleOauth);
    let va = store
        .put(write(&a, 1, b"a1", Expect::Absent))
        .await
        .unwrap();
    let outcomes = store
        .put_many(vec![
            write(&a, 2, b"a2", Expect::Version(va)),
            write(&b, 2, b"b1", Expect::Version(Version(va.0 + 1000))),
            write(&b, 2, b"b2", Expect::Absent),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].is_ok());
    let conflict = outcomes[1].as_ref().unwrap_err();
    assert_eq!(
        (conflict.owner.as_str(), conflict.current),
        ("batch-b", None)
    );
    assert!(outcomes[2].is_ok());
    assert_eq!(store.get(&a).await.unwrap().unwrap().sealed, b"a2");
    assert_eq!(store.get(&b).await.unwrap().unwrap().sealed, b"b2");
    store.delete_owner(&owner("batch-a")).await.unwrap();
    store.delete_owner(&owner("batch-b")).await.unwrap();
}

/// Many tasks each refresh one account by compare-and-set: read, derive the
/// next generation, replace against the version read, retry on conflict.
/// No update is lost: the final generation is exactly the number of
/// successful refreshes, and each generation was written once.
pub(crate) async fn concurrent_compare_and_set(
    vaults: Vec<Vault>,
    tasks: usize,
    refreshes_per_task: usize,
) {
    let account = owner("hammered-account");
    vaults[0]
        .insert(&account, &generation_tokens(0))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let vault = vaults[t % vaults.len()].clone();
        let account = account.clone();
        handles.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut conflicts = 0u64;
            while written.len() < refreshes_per_task {
                let current = vault
                    .get(&account, SecretKind::MicrosoftOauth)
                    .await
                    .unwrap()
                    .unwrap();
                let next = generation_of(&current.value) + 1;
                // The token endpoint's round trip sits here in a real
                // refresh; yielding lets other tasks interleave even where
                // the store itself never waits (memory), so the race is
                // certain rather than left to the scheduler.
                tokio::task::yield_now().await;
                match vault
                    .replace(&account, &generation_tokens(next), current.version)
                    .await
                {
                    Ok(_) => written.push(next),
                    Err(VaultError::Conflict(_)) => conflicts += 1,
                    Err(other) => panic!("refresh failed: {other}"),
                }
            }
            (written, conflicts)
        }));
    }
    let mut all = Vec::new();
    let mut conflicts = 0;
    for handle in handles {
        let (written, c) = handle.await.unwrap();
        all.extend(written);
        conflicts += c;
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(tasks * refreshes_per_task) as u64).collect();
    assert_eq!(all, expected, "every generation written exactly once");
    let last = vaults[0]
        .get(&account, SecretKind::MicrosoftOauth)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        generation_of(&last.value),
        (tasks * refreshes_per_task) as u64
    );
    assert!(
        conflicts > 0,
        "the tasks never raced; the test proves nothing"
    );
    vaults[0].delete_owner(&account).await.unwrap();
}

/// A writer rotates a refresh token while readers read: every read sees a
/// whole credential (access and refresh of one generation), never a mix,
/// and generations never go backwards for a reader.
pub(crate) async fn readers_never_see_a_torn_token(vault: Vault, writes: u64, readers: usize) {
    let account = owner("rotating-refresh");
    let mut version = vault.insert(&account, &generation_tokens(0)).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..readers {
        let vault = vault.clone();
        let account = account.clone();
        let (done, started) = (Arc::clone(&done), Arc::clone(&started));
        handles.push(tokio::spawn(async move {
            let mut last = 0;
            let mut reads = 0u64;
            loop {
                let read = vault
                    .get(&account, SecretKind::MicrosoftOauth)
                    .await
                    .unwrap()
                    .unwrap();
                let generation = generation_of(&read.value);
                assert!(generation >= last, "went back from {last} to {generation}");
                last = generation;
                reads += 1;
                if reads == 1 {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                if done.load(Ordering::SeqCst) {
                    break;
                }
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    // Write only once every reader is reading.
    while started.load(Ordering::SeqCst) < readers {
        tokio::task::yield_now().await;
    }
    for n in 1..=writes {
        version = vault
            .replace(&account, &generation_tokens(n), version)
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    done.store(true, Ordering::SeqCst);
    let mut reads = 0;
    for handle in handles {
        reads += handle.await.unwrap();
    }
    assert!(reads > readers as u64, "readers did not overlap the writes");
    vault.delete_owner(&account).await.unwrap();
}

/// A vault over `store` with key 1 active (used by the store modules).
pub(crate) fn vault(store: Arc<dyn SecretStore>) -> Vault {
    Vault::new(store, ring(1, &[]))
}
