//! Tokens cached per account with single-flight minting (the token types
//! themselves are `availability`'s, shared with the other providers).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use availability::{AccessToken, AccountId, Clock, SourceError};
use jiff::Timestamp;
use tokio::sync::Mutex;

/// Tokens cached per account, minted at most once at a time per account
/// (single flight: concurrent callers wait for the one refresh), and
/// re-minted `margin` before they expire.
#[derive(Debug)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<AccountId, Arc<Mutex<Option<AccessToken>>>>>,
    clock: Arc<dyn Clock>,
    margin: Duration,
}

impl TokenCache {
    pub(crate) fn new(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            clock,
            margin,
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn slot(&self, account: &AccountId) -> Arc<Mutex<Option<AccessToken>>> {
        self.slots
            .lock()
            .await
            .entry(account.clone())
            .or_default()
            .clone()
    }

    /// The cached token, or one from `mint` (called by one caller only).
    pub(crate) async fn get_or_mint<F, Fut>(
        &self,
        account: &AccountId,
        mint: F,
    ) -> Result<AccessToken, SourceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, SourceError>>,
    {
        let slot = self.slot(account).await;
        let mut held = slot.lock().await;
        if let Some(token) = held.as_ref()
            && token.is_fresh(self.clock.now(), self.margin)
        {
            return Ok(token.clone());
        }
        let token = mint().await?;
        *held = Some(token.clone());
        Ok(token)
    }

    pub(crate) async fn invalidate(&self, account: &AccountId) {
        let slot = self.slot(account).await;
        *slot.lock().await = None;
    }
}
