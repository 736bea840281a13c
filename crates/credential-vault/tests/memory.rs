use std::sync::Arc;

use credential_vault::MemoryStore;

use crate::contract;

#[tokio::test]
async fn memory_store_meets_the_contract() {
    contract::check_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_concurrent_compare_and_set_loses_nothing() {
    let vault = contract::vault(Arc::new(MemoryStore::new()));
    contract::concurrent_compare_and_set(vec![vault], 16, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_readers_never_see_a_torn_token() {
    let vault = contract::vault(Arc::new(MemoryStore::new()));
    contract::readers_never_see_a_torn_token(vault, 500, 4).await;
}
