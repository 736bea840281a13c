use std::sync::Arc;

use credential_vault::{SecretStore, Vault};

use credential_vault::PostgresStore;

use crate::common::{fresh_postgres, fresh_postgres_url, ring};
use crate::{contract, rotation};

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    let Some(store) = fresh_postgres().await else {
        return;
    };
    assert_eq!(
        store.schema_version().await.unwrap(),
        PostgresStore::SCHEMA_VERSION
    );
    contract::check_store(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_compare_and_set_across_instances_loses_nothing() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    // Three pools on one database, as three assistant instances would have.
    let mut vaults = Vec::new();
    for _ in 0..3 {
        let store = PostgresStore::connect_without_tls(&url).await.unwrap();
        vaults.push(Vault::new(Arc::new(store), ring(1, &[])));
    }
    contract::concurrent_compare_and_set(vaults, 12, 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_readers_never_see_a_torn_token() {
    let Some(store) = fresh_postgres().await else {
        return;
    };
    contract::readers_never_see_a_torn_token(contract::vault(Arc::new(store)), 200, 3).await;
}

#[tokio::test]
async fn postgres_rotation_stopped_after_every_batch_loses_nothing() {
    rotation::rotation_stopped_after_every_batch(|| async {
        let store: Arc<dyn SecretStore> = Arc::new(fresh_postgres().await.expect("server"));
        let same = store.clone();
        let reopen: Box<dyn Fn() -> Arc<dyn SecretStore> + Send> = Box::new(move || same.clone());
        (store, reopen)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::connect_without_tls(&url).await })
        })
        .collect();
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            PostgresStore::SCHEMA_VERSION
        );
        let debug = format!("{store:?}");
        assert!(
            !debug.contains("postgres://") && !debug.contains("127.0.0.1"),
            "{debug}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error() {
    // Port 1 on loopback: nothing listens there.
    let error = PostgresStore::connect_without_tls("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    assert!(
        matches!(error, credential_vault::StoreError::Backend { .. }),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn a_pool_of_one_session_is_refused() {
    // A record lock holds a session while the vault uses another: with one
    // session the first lock would wait for itself forever.
    let config: tokio_postgres::Config = "postgres://u:hunter2@127.0.0.1:1/db".parse().unwrap();
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(1)
        .build()
        .unwrap();
    let error = PostgresStore::from_pool(pool).await.unwrap_err();
    assert!(
        matches!(
            error,
            credential_vault::StoreError::Misconfigured {
                backend: "postgres",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_locks_exclude_other_instances_until_released_or_dropped() {
    use std::time::Duration;

    use credential_vault::{OwnerId, RecordKey, SecretKind};

    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let a = PostgresStore::connect_without_tls(&url).await.unwrap();
    let b = PostgresStore::connect_without_tls(&url).await.unwrap();
    let key = |owner: &str| RecordKey {
        owner: OwnerId::new(owner).unwrap(),
        kind: SecretKind::MicrosoftOauth,
    };
    let held = a.lock(&key("ada@example.org")).await.unwrap();
    assert!(held.is_held());
    // Another owner, or another kind, is not blocked.
    let other = tokio::time::timeout(Duration::from_secs(5), b.lock(&key("bo@example.org")))
        .await
        .expect("another owner's lock is free")
        .unwrap();
    other.release().await;
    let other_kind = RecordKey {
        owner: OwnerId::new("ada@example.org").unwrap(),
        kind: SecretKind::GoogleOauth,
    };
    let other = tokio::time::timeout(Duration::from_secs(5), b.lock(&other_kind))
        .await
        .expect("another kind's lock is free")
        .unwrap();
    other.release().await;
    // The same record waits while A holds it...
    let waiting = tokio::spawn({
        let b = b.clone();
        let k = key("ada@example.org");
        async move { b.lock(&k).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!waiting.is_finished(), "B took a lock A holds");
    // ...and gets it once A releases.
    held.release().await;
    let b_held = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("B gets the lock after A released it")
        .unwrap();
    // A lock dropped without release (a cancelled holder) is freed too:
    // its session is closed.
    drop(b_held);
    let again = tokio::time::timeout(Duration::from_secs(5), a.lock(&key("ada@example.org")))
        .await
        .expect("a dropped lock is freed")
        .unwrap();
    again.release().await;
}
