//! Access tokens cached per account, minted at most once at a time per
//! account (single flight).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use availability::{AccessToken, AccountId, Clock, SourceError};
use jiff::Timestamp;
use tokio::sync::Mutex;

type Slot = Arc<Mutex<Option<AccessToken>>>;

/// Tokens cached per account, minted at most once at a time per account
/// (single flight: concurrent callers wait for the one refresh), and
/// re-minted `margin` before they expire.
#[derive(Debug)]
pub struct TokenCache {
    slots: Mutex<HashMap<AccountId, Slot>>,
    clock: Arc<dyn Clock>,
    margin: Duration,
}

impl TokenCache {
    /// An empty cache on `clock`, re-minting `margin` before expiry.
    pub fn new(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            clock,
            margin,
        }
    }

    /// The cache's clock's time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The margin before expiry at which tokens are re-minted.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// Whether `token` is good for longer than the margin now.
    pub fn is_fresh(&self, token: &AccessToken) -> bool {
        token.is_fresh(self.now(), self.margin)
    }

    async fn slot(&self, account: &AccountId) -> Slot {
        self.slots
            .lock()
            .await
            .entry(account.clone())
            .or_default()
            .clone()
    }

    /// The cached token, or one from `mint` (called by one caller only;
    /// the others wait for it and take its token).
    ///
    /// # Errors
    ///
    /// `mint`'s error; nothing is cached then.
    pub async fn get_or_mint<F, Fut>(
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
            && self.is_fresh(token)
        {
            return Ok(token.clone());
        }
        let token = mint().await?;
        *held = Some(token.clone());
        Ok(token)
    }

    /// Forgets `account`'s token (the API refused it).
    pub async fn invalidate(&self, account: &AccountId) {
        let slot = self.slot(account).await;
        *slot.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use availability::FixedClock;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn mints_once_until_invalidated_or_near_expiry() {
        let cache = TokenCache::new(
            Arc::new(FixedClock::new(at("2025-01-01T00:00:00Z"))),
            Duration::from_secs(60),
        );
        let ana = AccountId::from("ana");
        let minted = AtomicUsize::new(0);
        let mint = |expires: &'static str| {
            let minted = &minted;
            move || async move {
                minted.fetch_add(1, Ordering::SeqCst);
                Ok(AccessToken::new("t", Some(at(expires))))
            }
        };
        cache
            .get_or_mint(&ana, mint("2025-01-01T01:00:00Z"))
            .await
            .unwrap();
        cache
            .get_or_mint(&ana, mint("2025-01-01T01:00:00Z"))
            .await
            .unwrap();
        assert_eq!(minted.load(Ordering::SeqCst), 1);
        cache.invalidate(&ana).await;
        // Within the margin of expiry: minted again next time.
        cache
            .get_or_mint(&ana, mint("2025-01-01T00:00:30Z"))
            .await
            .unwrap();
        cache
            .get_or_mint(&ana, mint("2025-01-01T01:00:00Z"))
            .await
            .unwrap();
        assert_eq!(minted.load(Ordering::SeqCst), 3);
        let other = AccountId::from("bo");
        let err = cache
            .get_or_mint(&other, || async {
                Err(SourceError::Unauthorized {
                    message: "no".to_owned(),
                })
            })
            .await;
        assert!(err.is_err());
    }
}
