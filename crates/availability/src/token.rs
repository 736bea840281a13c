//! Access tokens and where they come from: the trait every HTTP provider
//! asks, and that organisation-wide authorisation implements.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::{AccountId, SourceError};

/// The account that consented to a participant's own OAuth token, as its
/// ID token named it (OpenID Connect Core 1.0 §2): who the token reads.
///
/// Not a secret, but personal data: `Debug` shows the subject and tenant,
/// never the address; show the address only to the participant and their
/// administrators.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ConnectedAccount {
    /// The account's stable id at its provider: Google's `sub`,
    /// Microsoft's `oid` (unique within [`tenant`](Self::tenant)).
    pub subject: String,
    /// The directory (tenant) id, for Microsoft accounts (`tid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The account's address: Google's verified `email`; Microsoft's
    /// `email`, else `preferred_username`. `None` when the ID token gave
    /// none that may be relied on (an unverified Google email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl ConnectedAccount {
    /// An account with its stable id, tenant (if any) and address (if any).
    pub fn new(
        subject: impl Into<String>,
        tenant: Option<String>,
        address: Option<String>,
    ) -> Self {
        Self {
            subject: subject.into(),
            tenant,
            address,
        }
    }
}

impl fmt::Debug for ConnectedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedAccount")
            .field("subject", &self.subject)
            .field("tenant", &self.tenant)
            .field("address", &self.address.as_ref().map(|_| "[personal]"))
            .finish()
    }
}

/// A bearer access token: `[redacted]` in `Debug`, no `Display`, read only
/// through [`secret`](Self::secret). A participant's own token also says
/// which account consented ([`account`](Self::account)), so a provider
/// reads that account's calendar rather than the name it was asked about.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    expires_at: Option<Timestamp>,
    account: Option<Arc<ConnectedAccount>>,
}

impl AccessToken {
    /// A token that expires at `expires_at` (if known).
    pub fn new(secret: impl Into<Arc<str>>, expires_at: Option<Timestamp>) -> Self {
        Self {
            secret: secret.into(),
            expires_at,
            account: None,
        }
    }

    /// The same token, saying which account consented to it.
    #[must_use]
    pub fn with_account(mut self, account: ConnectedAccount) -> Self {
        self.account = Some(Arc::new(account));
        self
    }

    /// The account that consented, when known (a participant's own token
    /// whose ID token was read); `None` for app-only and impersonating
    /// tokens, and for connections made before accounts were learned.
    pub fn account(&self) -> Option<&ConnectedAccount> {
        self.account.as_deref()
    }

    /// The calendar address this token reads for `requested`: the
    /// consenting account's own address if known, else `requested` itself
    /// (a directory address an organisation token may read).
    pub fn reads<'a>(&'a self, requested: &'a AccountId) -> &'a str {
        self.account()
            .and_then(|a| a.address.as_deref())
            .unwrap_or(requested.as_str())
    }

    /// The token itself.
    ///
    /// # Security Warning
    ///
    /// Only for the `Authorization` header: never log or print it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When it expires, if known.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    /// Whether it is still good for `margin` after `now` (a token without
    /// an expiry is always good).
    pub fn is_fresh(&self, now: Timestamp, margin: Duration) -> bool {
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
            .field("account", &self.account)
            .finish()
    }
}

/// Where an HTTP provider gets a token for an account: a participant's own
/// OAuth tokens, an organisation's app-only or impersonating credentials,
/// or a fixed token ([`StaticToken`]).
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

#[async_trait]
impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    async fn token(&self, account: &AccountId) -> Result<AccessToken, SourceError> {
        (**self).token(account).await
    }

    async fn invalidate(&self, account: &AccountId) {
        (**self).invalidate(account).await;
    }
}

/// The same token for every account (for trying a provider with a token
/// you already have, as the `freebusy` example does).
#[derive(Clone, Debug)]
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// Wraps a token.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        Self(AccessToken::new(secret, None))
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self, _account: &AccountId) -> Result<AccessToken, SourceError> {
        Ok(self.0.clone())
    }
}

/// Groups accounts by the token they use and cuts each group into batches
/// of at most `per` (at least 1): accounts sharing a token (an app-only
/// token, a scheduling account's) can go in one request, accounts with
/// tokens of their own go alone, and so does every token that names its
/// consenting account (it reads that account, whatever it is asked). Groups keep the order their first account
/// was asked in, and accounts keep request order within a group; accounts
/// whose token could not be had come back with their error.
///
/// # Example
///
/// ```
/// use availability::{AccessToken, AccountId, batch_by_token};
///
/// let shared = AccessToken::new("app", None);
/// let tokens = vec![
///     (AccountId::new("a"), Ok(shared.clone())),
///     (AccountId::new("b"), Ok(AccessToken::new("own", None))),
///     (AccountId::new("c"), Ok(shared)),
/// ];
/// let (batches, failed) = batch_by_token(tokens, 50);
/// assert_eq!(batches, vec![vec![AccountId::new("a"), AccountId::new("c")], vec![AccountId::new("b")]]);
/// assert!(failed.is_empty());
/// ```
pub fn batch_by_token(
    tokens: Vec<(AccountId, Result<AccessToken, SourceError>)>,
    per: usize,
) -> (Vec<Vec<AccountId>>, Vec<(AccountId, SourceError)>) {
    let mut index: std::collections::HashMap<Arc<str>, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Vec<AccountId>> = Vec::new();
    let mut failed = Vec::new();
    for (id, token) in tokens {
        match token {
            Err(e) => failed.push((id, e)),
            Ok(t) if t.account.is_some() => groups.push(vec![id]),
            Ok(t) => {
                let slot = *index.entry(t.secret.clone()).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[slot].push(id);
            }
        }
    }
    let per = per.max(1);
    let batches = groups
        .into_iter()
        .flat_map(|ids| {
            ids.chunks(per)
                .map(<[AccountId]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    (batches, failed)
}

/// When and how often a provider tries a failed request again: data, so
/// callers see and set it (STYLE: retry decisions are data).
///
/// Providers retry throttling (HTTP 429, Google's rate-limit 403s) and
/// server errors (5xx) with exponential backoff and full jitter, waiting at
/// least what `Retry-After` asks, up to
/// [`max_retry_after`](Self::max_retry_after); other 4xx are never retried.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Tries after the first. Default 3.
    pub max_retries: u32,
    /// The first backoff; doubled each try. Default 500 ms.
    pub initial_backoff: Duration,
    /// The longest backoff. Default 30 s.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured by waiting; a longer one ends the
    /// retries and is returned in the error. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff) and
    /// [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The wait before retry number `attempt` (0-based): a random duration
    /// up to `initial * 2^attempt`, capped at `max_backoff` (full jitter).
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        use std::hash::BuildHasher as _;
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_backoff);
        // Jitter needs spread, not secrecy: the std hasher's random keys.
        let bits = std::collections::hash_map::RandomState::new().hash_one(attempt);
        let fraction = (bits >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_naming_its_account_reads_that_account_and_goes_alone() {
        let theo = ConnectedAccount::new("1234", None, Some("theo.r@gmail.com".to_owned()));
        let own = AccessToken::new("same", None).with_account(theo.clone());
        let enrolled = AccountId::new("theo@school.edu");
        assert_eq!(own.reads(&enrolled), "theo.r@gmail.com");
        assert_eq!(own.account(), Some(&theo));
        let plain = AccessToken::new("same", None);
        assert_eq!(plain.reads(&enrolled), "theo@school.edu");
        // Even a secret equal to another account's never joins its batch.
        let (batches, _) = batch_by_token(
            vec![
                (AccountId::new("a"), Ok(plain.clone())),
                (enrolled.clone(), Ok(own.clone())),
                (AccountId::new("b"), Ok(plain)),
            ],
            50,
        );
        assert_eq!(
            batches,
            vec![
                vec![AccountId::new("a"), AccountId::new("b")],
                vec![enrolled]
            ]
        );
        let shown = format!("{own:?}");
        assert!(shown.contains("1234") && !shown.contains("theo.r") && !shown.contains("same"));
        // Old stored shapes (no tenant, no address) still read.
        let back: ConnectedAccount = serde_json::from_str(r#"{"subject":"1234"}"#).unwrap();
        assert_eq!(back, ConnectedAccount::new("1234", None, None));
    }

    /// The defaults the providers' READMEs state: 3 retries, 500 ms
    /// doubling to 30 s, `Retry-After` honoured up to 60 s.
    #[test]
    fn retry_defaults_are_the_documented_ones() {
        let r = RetryConfig::default();
        assert_eq!(r.max_retries, 3);
        assert_eq!(r.initial_backoff, Duration::from_millis(500));
        assert_eq!(r.max_backoff, Duration::from_secs(30));
        assert_eq!(r.max_retry_after, Duration::from_secs(60));
    }

    #[test]
    fn backoff_is_jittered_below_a_doubling_capped_ceiling() {
        let r = RetryConfig::default();
        for attempt in 0..10 {
            let ceiling = (Duration::from_millis(500) * 2u32.pow(attempt)).min(r.max_backoff);
            for _ in 0..20 {
                assert!(r.backoff_for(attempt) <= ceiling);
            }
        }
        let waits: std::collections::HashSet<_> = (0..20).map(|_| r.backoff_for(3)).collect();
        assert!(waits.len() > 10, "jitter varies the wait");
    }

    #[test]
    fn tokens_never_print() {
        let t = AccessToken::new("ya29.secret", None);
        assert!(!format!("{t:?}").contains("ya29"));
        assert!(t.is_fresh(Timestamp::UNIX_EPOCH, Duration::from_secs(60)));
    }
}
