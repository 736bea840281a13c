//! Where participants' own OAuth tokens live: a plain store (Google keeps
//! the refresh token) and a versioned one with compare-and-set (Microsoft
//! rotates it on every use), and one in-memory store that is both.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use availability::{AccountId, SourceError};
use credential_vault::{OAuthTokens, RecordLock};
use tokio::sync::Mutex;

/// Where a provider's user tokens keep each participant's tokens (the
/// assistant's credential vault).
#[async_trait]
pub trait TokenStore: fmt::Debug + Send + Sync + 'static {
    /// The account's tokens.
    ///
    /// # Errors
    ///
    /// [`SourceError::Unauthorized`] when the account has none (not
    /// connected), or the store's failure.
    async fn load(&self, account: &AccountId) -> Result<OAuthTokens, SourceError>;

    /// Stores refreshed tokens, before they are used.
    ///
    /// # Errors
    ///
    /// The store's failure.
    async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<(), SourceError>;

    /// Locks the account's tokens against refreshes by other processes
    /// sharing the store, until the lock is released or dropped. User
    /// tokens hold it around read, refresh and save, so that of several
    /// instances exactly one refreshes an expired token and the others
    /// read the tokens it saved. The default holds nothing (one process,
    /// where the per-account single flight suffices).
    ///
    /// # Errors
    ///
    /// The store's failure to take the lock.
    async fn lock(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        let _ = account;
        Ok(RecordLock::none())
    }
}

/// Where tokens live, with compare-and-set: Microsoft rotates the refresh
/// token on every use, so two refreshes of one account must not overwrite
/// each other blindly (the vault's versions do this).
#[async_trait]
pub trait VersionedTokenStore: fmt::Debug + Send + Sync + 'static {
    /// The account's tokens and their version.
    ///
    /// # Errors
    ///
    /// [`SourceError::Unauthorized`] when not connected, or the store's
    /// failure.
    async fn load(&self, account: &AccountId) -> Result<(OAuthTokens, u64), SourceError>;

    /// Stores `tokens` if the stored version is still `expected`; `Ok(false)`
    /// when someone else stored first.
    ///
    /// # Errors
    ///
    /// The store's failure.
    async fn replace(
        &self,
        account: &AccountId,
        tokens: &OAuthTokens,
        expected: u64,
    ) -> Result<bool, SourceError>;

    /// Locks the account's tokens against refreshes by other processes
    /// sharing the store, until the lock is released or dropped. User
    /// tokens hold it around read, refresh and write, so that of several
    /// instances exactly one refreshes an expired token and the others
    /// read the tokens it stored. The default holds nothing (one process,
    /// where the per-account lock suffices).
    ///
    /// # Errors
    ///
    /// The store's failure to take the lock.
    async fn lock(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        let _ = account;
        Ok(RecordLock::none())
    }
}

/// Tokens in memory, versioned (tests, examples): a [`TokenStore`] and a
/// [`VersionedTokenStore`].
#[derive(Debug, Default)]
pub struct MemoryTokenStore(Mutex<HashMap<AccountId, (OAuthTokens, u64)>>);

impl MemoryTokenStore {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `account`'s tokens (a new version).
    pub async fn put(&self, account: impl Into<AccountId>, tokens: OAuthTokens) {
        let mut all = self.0.lock().await;
        let entry = all.entry(account.into()).or_insert((tokens.clone(), 0));
        *entry = (tokens, entry.1 + 1);
    }

    /// `account`'s tokens, if any.
    pub async fn get(&self, account: &AccountId) -> Option<OAuthTokens> {
        self.0.lock().await.get(account).map(|(t, _)| t.clone())
    }
}

fn not_connected(account: &AccountId) -> SourceError {
    SourceError::Unauthorized {
        message: format!("account {account} is not connected"),
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, account: &AccountId) -> Result<OAuthTokens, SourceError> {
        self.get(account)
            .await
            .ok_or_else(|| not_connected(account))
    }

    async fn save(&self, account: &AccountId, tokens: &OAuthTokens) -> Result<(), SourceError> {
        self.put(account.clone(), tokens.clone()).await;
        Ok(())
    }
}

#[async_trait]
impl VersionedTokenStore for MemoryTokenStore {
    async fn load(&self, account: &AccountId) -> Result<(OAuthTokens, u64), SourceError> {
        self.0
            .lock()
            .await
            .get(account)
            .cloned()
            .ok_or_else(|| not_connected(account))
    }

    async fn replace(
        &self,
        account: &AccountId,
        tokens: &OAuthTokens,
        expected: u64,
    ) -> Result<bool, SourceError> {
        let mut all = self.0.lock().await;
        match all.get_mut(account) {
            Some(entry) if entry.1 == expected => {
                *entry = (tokens.clone(), expected + 1);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use credential_vault::SecretString;

    use super::*;

    #[tokio::test]
    async fn one_store_both_ways() {
        let store = MemoryTokenStore::new();
        let ana = AccountId::from("ana");
        let t = |s: &str| OAuthTokens::new(SecretString::new(s.to_owned()));
        assert!(TokenStore::load(&store, &ana).await.is_err());
        TokenStore::save(&store, &ana, &t("a1")).await.unwrap();
        let (got, v) = VersionedTokenStore::load(&store, &ana).await.unwrap();
        assert_eq!(got.access_token.secret(), "a1");
        assert!(!store.replace(&ana, &t("stale"), v + 1).await.unwrap());
        assert!(store.replace(&ana, &t("a2"), v).await.unwrap());
        assert_eq!(store.get(&ana).await.unwrap().access_token.secret(), "a2");
    }
}
