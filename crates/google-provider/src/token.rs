//! Access tokens and where they come from.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{AccountId, Clock, SourceError};
use credential_vault::SecretString;
use jiff::Timestamp;
use tokio::sync::Mutex;

/// A bearer access token: `[redacted]` in `Debug`, no `Display`, read only
/// through [`secret`](Self::secret).
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<SecretString>,
    expires_at: Option<Timestamp>,
}

impl AccessToken {
    /// A token that expires at `expires_at` (if known).
    pub fn new(secret: SecretString, expires_at: Option<Timestamp>) -> Self {
        Self {
            secret: Arc::new(secret),
            expires_at,
        }
    }

    /// The token itself.
    ///
    /// # Security Warning
    ///
    /// Only for the `Authorization` header: never log or print it.
    pub fn secret(&self) -> &str {
        self.secret.secret()
    }

    /// When it expires, if known.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Whether it is still good for `margin` after `now`.
    pub(crate) fn fresh(&self, now: Timestamp, margin: Duration) -> bool {
        let margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
        self.expires_at
            .is_none_or(|at| at.as_second() > now.as_second().saturating_add(margin))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where [`GoogleSource`](crate::GoogleSource) gets a token for an account:
/// a participant's own OAuth tokens ([`UserTokens`](crate::UserTokens)),
/// a service account impersonating them
/// ([`ServiceAccountTokens`](crate::ServiceAccountTokens)), or a fixed
/// token ([`StaticToken`]).
#[async_trait]
pub trait TokenSource: fmt::Debug + Send + Sync + 'static {
    /// A token for `account` that is valid now (refreshed if needed).
    ///
    /// # Errors
    ///
    /// [`SourceError::Unauthorized`] when the account must reconnect (a
    /// revoked or expired refresh token, `invalid_grant`), and the other
    /// kinds for what the token endpoint answers.
    async fn token(&self, account: &AccountId) -> Result<AccessToken, SourceError>;

    /// The API refused `account`'s current token (HTTP 401): forget it, so
    /// the next [`token`](Self::token) gets a new one.
    async fn invalidate(&self, account: &AccountId) {
        let _ = account;
    }
}

/// The same token for every account (for trying the crate with a token
/// you already have, as the `freebusy` example does).
#[derive(Clone, Debug)]
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// Wraps a token.
    pub fn new(secret: SecretString) -> Self {
        Self(AccessToken::new(secret, None))
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self, _account: &AccountId) -> Result<AccessToken, SourceError> {
        Ok(self.0.clone())
    }
}

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
            && token.fresh(self.clock.now(), self.margin)
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
