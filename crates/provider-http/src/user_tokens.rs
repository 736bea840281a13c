//! [`UserTokens`]: participants' own OAuth tokens as a `TokenSource`, for
//! every provider: the stored access token while it is good, else one
//! refresh per account (single flight in the process, the store's record
//! lock across processes), stored before use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{AccessToken, AccountId, Clock, SourceError, SystemClock, TokenSource};
use credential_vault::{OAuthTokens, RecordLock};

use oauth2::basic::BasicErrorResponse;
use oauth2::{RefreshToken, RefreshTokenRequest};

use crate::{OAuthHttp, TokenAnswer, TokenCache, TokenStore, VersionedTokenStore};

/// A provider's refresh flow (google-provider's `GoogleOAuth`,
/// graph-provider's `GraphOAuth`): the provider builds the request with
/// its oauth2 client; sending it and reading the answer (the kept refresh
/// token, the refusals' wording) is [`OAuthHttp::refresh`]'s.
#[async_trait]
pub trait Refresh: fmt::Debug + Send + Sync + 'static {
    /// The store the provider keeps its participants' tokens in: a plain
    /// [`TokenStore`] or, where refresh tokens rotate, a
    /// [`VersionedTokenStore`].
    type Store: Into<Tokens> + Send;

    /// How long before expiry an access token is refreshed.
    const MARGIN: Duration;

    /// The provider's token-endpoint client.
    fn oauth_http(&self) -> &OAuthHttp;

    /// The refresh request for `token` (with the provider's scopes).
    fn refresh_request<'a>(
        &'a self,
        token: &'a RefreshToken,
    ) -> RefreshTokenRequest<'a, BasicErrorResponse, TokenAnswer>;

    /// New tokens for `stored`'s refresh token, dated from `now`: the
    /// result keeps the old refresh token unless the provider sent a new
    /// one, and the consenting account unless a new ID token names it.
    ///
    /// # Errors
    ///
    /// The token endpoint's refusal ([`SourceError::Unauthorized`] for a
    /// revoked grant: reconnect, never retried) or failure.
    async fn refresh(
        &self,
        stored: &OAuthTokens,
        now: jiff::Timestamp,
    ) -> Result<OAuthTokens, SourceError> {
        let refresh_token =
            stored
                .refresh_token
                .as_ref()
                .ok_or_else(|| SourceError::Unauthorized {
                    message: "no refresh token stored; the participant must reconnect".to_owned(),
                })?;
        let token = RefreshToken::new(refresh_token.secret().to_owned());
        let request = self.refresh_request(&token);
        self.oauth_http().refresh(request, stored, now).await
    }
}

/// Where the tokens live: a plain store (a refresh overwrites), or a
/// versioned one (a refresh is stored by compare-and-set, for providers
/// that rotate refresh tokens: if another writer stored first, its newer
/// tokens are read and used).
#[derive(Clone, Debug)]
pub enum Tokens {
    /// Saved as they are.
    Plain(Arc<dyn TokenStore>),
    /// Replaced only over the version read.
    Versioned(Arc<dyn VersionedTokenStore>),
}

impl Tokens {
    async fn load(&self, account: &AccountId) -> Result<(OAuthTokens, u64), SourceError> {
        match self {
            Self::Plain(store) => Ok((store.load(account).await?, 0)),
            Self::Versioned(store) => store.load(account).await,
        }
    }

    /// Stores refreshed tokens; `false` when another writer stored first.
    async fn store(
        &self,
        account: &AccountId,
        tokens: &OAuthTokens,
        version: u64,
    ) -> Result<bool, SourceError> {
        match self {
            Self::Plain(store) => store.save(account, tokens).await.map(|()| true),
            Self::Versioned(store) => store.replace(account, tokens, version).await,
        }
    }

    /// Marks the stored access token expired (the API refused it), so the
    /// next load refreshes. A plain store is left alone when it holds no
    /// refresh token (as google-provider always did); a versioned one is
    /// marked over the version read (as graph-provider did).
    async fn expire(&self, account: &AccountId) {
        match self {
            Self::Plain(store) => {
                if let Ok(mut stored) = store.load(account).await
                    && stored.refresh_token.is_some()
                {
                    stored.expires_at = Some(jiff::Timestamp::UNIX_EPOCH);
                    let _ = store.save(account, &stored).await;
                }
            }
            Self::Versioned(store) => {
                if let Ok((mut stored, version)) = store.load(account).await {
                    stored.expires_at = Some(jiff::Timestamp::UNIX_EPOCH);
                    let _ = store.replace(account, &stored, version).await;
                }
            }
        }
    }

    async fn lock(&self, account: &AccountId) -> Result<RecordLock, SourceError> {
        match self {
            Self::Plain(store) => store.lock(account).await,
            Self::Versioned(store) => store.lock(account).await,
        }
    }
}

impl From<Arc<dyn TokenStore>> for Tokens {
    fn from(store: Arc<dyn TokenStore>) -> Self {
        Self::Plain(store)
    }
}

impl From<Arc<dyn VersionedTokenStore>> for Tokens {
    fn from(store: Arc<dyn VersionedTokenStore>) -> Self {
        Self::Versioned(store)
    }
}

/// Participants' own tokens (see the module docs). Each provider names it
/// for its flow: `google_provider::UserTokens`, `graph_provider::UserTokens`.
#[derive(Debug)]
pub struct UserTokens<R> {
    oauth: Arc<R>,
    store: Tokens,
    cache: TokenCache,
}

/// The access token of `stored`, naming the account that consented (so the
/// provider reads that account's calendar).
fn access(stored: &OAuthTokens) -> AccessToken {
    let token = AccessToken::new(stored.access_token.secret(), stored.expires_at);
    match &stored.account {
        Some(account) => token.with_account(account.clone()),
        None => token,
    }
}

/// How often a refresh is tried again when the stored tokens changed under
/// it (only a versioned store can say so).
const ATTEMPTS: usize = 3;

impl<R: Refresh> UserTokens<R> {
    /// Tokens from `store`, refreshed through `oauth`, on the system clock.
    pub fn new(oauth: Arc<R>, store: R::Store) -> Self {
        Self::with_clock(oauth, store, Arc::new(SystemClock))
    }

    /// The same with an injected clock: tokens with less than the flow's
    /// [`Refresh::MARGIN`] left on it are refreshed.
    pub fn with_clock(oauth: Arc<R>, store: R::Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            oauth,
            store: store.into(),
            cache: TokenCache::new(clock, R::MARGIN),
        }
    }

    fn good(&self, stored: &OAuthTokens) -> Option<AccessToken> {
        let current = access(stored);
        (stored.expires_at.is_some() && self.cache.is_fresh(&current)).then_some(current)
    }

    /// Under the account's lock: the stored access token if another
    /// instance refreshed it meanwhile, else one refresh, stored before use.
    async fn refresh_locked(&self, account: &AccountId) -> Result<AccessToken, SourceError> {
        for _ in 0..ATTEMPTS {
            // `is_fresh` reads the clock again: waiting for the lock may
            // have taken long.
            let (stored, version) = self.store.load(account).await?;
            if let Some(current) = self.good(&stored) {
                return Ok(current);
            }
            let fresh = self.oauth.refresh(&stored, self.cache.now()).await?;
            if self.store.store(account, &fresh, version).await? {
                return Ok(access(&fresh));
            }
            // Another writer stored newer tokens first: read them.
        }
        Err(SourceError::Unavailable {
            message: "the stored tokens kept changing during refresh".to_owned(),
            retry_after: None,
        })
    }
}

#[async_trait]
impl<R: Refresh> TokenSource for UserTokens<R> {
    async fn token(&self, account: &AccountId) -> Result<AccessToken, SourceError> {
        self.cache
            .get_or_mint(account, || async {
                // Another instance (or an earlier run) may hold a good token.
                let (stored, _) = self.store.load(account).await?;
                if let Some(current) = self.good(&stored) {
                    return Ok(current);
                }
                // Across instances: one refresh at a time per account (a
                // rotated refresh token used twice would fail the second
                // time).
                let lock = self.store.lock(account).await?;
                let result = self.refresh_locked(account).await;
                lock.release().await;
                result
            })
            .await
    }

    async fn invalidate(&self, account: &AccountId) {
        self.cache.invalidate(account).await;
        // The stored access token was refused too: make the next load
        // refresh by marking it expired.
        self.store.expire(account).await;
    }
}
