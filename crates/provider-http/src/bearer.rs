//! Bearer tokens in requests: accounts batched by the token they share,
//! and a token refreshed once when the API answers 401.

use std::collections::HashMap;
use std::future::Future;

use availability::{AccessToken, AccountId, SourceError, TokenSource, batch_by_token};
use futures_util::StreamExt as _;

/// Every account's answer, by account.
pub type ByAccount<R> = HashMap<AccountId, Result<R, SourceError>>;

/// Answers `accounts` by batches of accounts that share a token: each
/// account's token is asked of `tokens` (`concurrency` at a time, in
/// order), accounts with the same token go `per` to a `batch` (with tokens
/// of their own, one by one; [`batch_by_token`]), and batches run
/// `concurrency` at a time. An account whose token failed has that error.
pub async fn by_shared_token<R, F, Fut>(
    tokens: &dyn TokenSource,
    accounts: &[AccountId],
    concurrency: usize,
    per: usize,
    batch: F,
) -> ByAccount<R>
where
    F: Fn(Vec<AccountId>) -> Fut,
    Fut: Future<Output = ByAccount<R>>,
{
    let concurrency = concurrency.max(1);
    let asked = futures_util::stream::iter(accounts.to_vec())
        .map(|id| async move {
            let token = tokens.token(&id).await;
            (id, token)
        })
        .buffered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let (batches, failed) = batch_by_token(asked, per);
    let mut results: ByAccount<R> = failed.into_iter().map(|(id, e)| (id, Err(e))).collect();
    let answers = futures_util::stream::iter(batches)
        .map(batch)
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    for answer in answers {
        results.extend(answer);
    }
    results
}

/// An account's token for a run of requests, refreshed once if the API
/// refuses it: on [`SourceError::Unauthorized`] the token source is told
/// ([`TokenSource::invalidate`]), a new token is asked for and the request
/// is sent again with it. After that one refresh, a 401 is the answer
/// (until [`allow_refresh`](Self::allow_refresh)).
#[derive(Debug)]
pub struct RefreshOnce<'a> {
    tokens: &'a dyn TokenSource,
    account: &'a AccountId,
    token: AccessToken,
    refreshed: bool,
}

impl<'a> RefreshOnce<'a> {
    /// `account`'s token from `tokens`.
    ///
    /// # Errors
    ///
    /// What [`TokenSource::token`] returns.
    pub async fn new(
        tokens: &'a dyn TokenSource,
        account: &'a AccountId,
    ) -> Result<Self, SourceError> {
        let token = tokens.token(account).await?;
        Ok(Self {
            tokens,
            account,
            token,
            refreshed: false,
        })
    }

    /// The current token (which says, for a participant's own, which
    /// account consented: [`AccessToken::reads`]).
    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// Allows one more refresh (for the next piece of a window, say).
    pub fn allow_refresh(&mut self) {
        self.refreshed = false;
    }

    /// Sends `request` with the token, and once more with a new token if
    /// it is refused and no refresh has been made.
    ///
    /// # Errors
    ///
    /// `request`'s error, or the token source's when refreshing fails.
    pub async fn send<T, F, Fut>(&mut self, request: F) -> Result<T, SourceError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, SourceError>>,
    {
        match request(self.token.clone()).await {
            Err(SourceError::Unauthorized { .. }) if !self.refreshed => {
                self.refreshed = true;
                self.tokens.invalidate(self.account).await;
                self.token = self.tokens.token(self.account).await?;
                request(self.token.clone()).await
            }
            other => other,
        }
    }
}
