//! [`FreeBusySource`]: where busy time comes from.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{FreeBusy, Interval, KindSet};

/// An account at a source: a Google calendar id, a Microsoft Graph user id
/// or email, a CalDAV calendar URL, or an in-memory key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Wraps an identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AccountId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for AccountId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// One batched question: the busy time of these accounts over this window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeBusyRequest {
    /// The window; answers are clipped to it.
    pub window: Interval,
    /// The accounts, answered in this order.
    pub accounts: Vec<AccountId>,
}

impl FreeBusyRequest {
    /// A request for `accounts` over `window`.
    pub fn new<I, A>(window: Interval, accounts: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<AccountId>,
    {
        Self {
            window,
            accounts: accounts.into_iter().map(Into::into).collect(),
        }
    }
}

/// The answer for one account.
#[derive(Clone, Debug)]
pub struct AccountFreeBusy {
    /// Which account.
    pub account: AccountId,
    /// Its busy time within the window, or why it could not be read.
    pub result: Result<FreeBusy, SourceError>,
}

/// The answer to a [`FreeBusyRequest`]: one entry per requested account, in
/// request order. Google and Microsoft Graph report errors per calendar, so
/// one account's failure does not fail the others.
#[derive(Clone, Debug, Default)]
pub struct FreeBusyResponse {
    /// One entry per requested account, in request order.
    pub accounts: Vec<AccountFreeBusy>,
}

impl FreeBusyResponse {
    /// The answer for `account`, if it was asked for.
    pub fn get(&self, account: &AccountId) -> Option<&Result<FreeBusy, SourceError>> {
        self.accounts
            .iter()
            .find(|a| &a.account == account)
            .map(|a| &a.result)
    }
}

/// The machine-readable kind of a [`SourceError`], with the names used in
/// JSON output (`not_found`, `unauthorized`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// See [`SourceError::Unauthorized`].
    Unauthorized,
    /// See [`SourceError::Forbidden`].
    Forbidden,
    /// See [`SourceError::NotFound`].
    NotFound,
    /// See [`SourceError::RateLimited`].
    RateLimited,
    /// See [`SourceError::Unavailable`].
    Unavailable,
    /// See [`SourceError::InvalidResponse`].
    InvalidResponse,
    /// See [`SourceError::Transport`].
    Transport,
}

impl SourceErrorKind {
    /// The snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::InvalidResponse => "invalid_response",
            Self::Transport => "transport",
        }
    }
}

impl fmt::Display for SourceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The underlying cause of a [`SourceError`], shareable so errors can be
/// cloned into every account of a failed batch.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a source could not answer (for one account, or for a whole batch).
///
/// Messages are for people and must never contain a secret (token,
/// password, key): implementations build them from status codes and
/// provider error codes, not from request headers.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The credentials were rejected (HTTP 401, `invalid_grant`, a revoked
    /// token, a changed app-specific password): the participant must
    /// reconnect. Not transient.
    #[error("unauthorized, the calendar needs reconnecting: {message}")]
    Unauthorized {
        /// What the source said.
        message: String,
    },
    /// Authenticated but not allowed (HTTP 403 without a rate-limit reason,
    /// missing scope or delegation). Not transient.
    #[error("forbidden: {message}")]
    Forbidden {
        /// What the source said.
        message: String,
    },
    /// The account or calendar does not exist (HTTP 404, Google `notFound`).
    #[error("not found: {message}")]
    NotFound {
        /// What the source said.
        message: String,
    },
    /// Too many requests (HTTP 429, Google `rateLimitExceeded`). Transient.
    #[error("rate limited{}", retry_after_text(*retry_after))]
    RateLimited {
        /// How long the source asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// The source is down or overloaded (HTTP 5xx, a timeout). Transient.
    #[error("source unavailable: {message}{}", retry_after_text(*retry_after))]
    Unavailable {
        /// What happened.
        message: String,
        /// How long the source asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The answer could not be understood (malformed JSON, XML or
    /// iCalendar, a body over the size cap). Not transient.
    #[error("invalid response: {message}")]
    InvalidResponse {
        /// What was wrong, without echoing secrets.
        message: String,
    },
    /// The connection failed (DNS, TLS, reset, stalled body). Transient.
    #[error("transport error: {message}")]
    Transport {
        /// What happened.
        message: String,
        /// The cause, if any (never a type of an HTTP library's public API
        /// surface that callers must name).
        #[source]
        source: Option<ErrorSource>,
    },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    }
}

impl SourceError {
    /// What the source said (empty for [`RateLimited`](Self::RateLimited),
    /// which carries only its wait): the text inside the `Display` form,
    /// without the kind's prefix.
    pub fn message(&self) -> &str {
        match self {
            Self::Unauthorized { message }
            | Self::Forbidden { message }
            | Self::NotFound { message }
            | Self::Unavailable { message, .. }
            | Self::InvalidResponse { message }
            | Self::Transport { message, .. } => message,
            Self::RateLimited { .. } => "",
        }
    }

    /// Rebuilds an error from its parts (the inverse of [`kind`](Self::kind),
    /// [`message`](Self::message) and [`retry_after`](Self::retry_after)):
    /// how a stored error is read back. A transport error's cause is not
    /// kept; a wait is kept only by the kinds that carry one.
    pub fn from_parts(
        kind: SourceErrorKind,
        message: String,
        retry_after: Option<Duration>,
    ) -> Self {
        match kind {
            SourceErrorKind::Unauthorized => Self::Unauthorized { message },
            SourceErrorKind::Forbidden => Self::Forbidden { message },
            SourceErrorKind::NotFound => Self::NotFound { message },
            SourceErrorKind::RateLimited => Self::RateLimited { retry_after },
            SourceErrorKind::Unavailable => Self::Unavailable {
                message,
                retry_after,
            },
            SourceErrorKind::InvalidResponse => Self::InvalidResponse { message },
            SourceErrorKind::Transport => Self::Transport {
                message,
                source: None,
            },
        }
    }

    /// The machine-readable kind.
    pub fn kind(&self) -> SourceErrorKind {
        match self {
            Self::Unauthorized { .. } => SourceErrorKind::Unauthorized,
            Self::Forbidden { .. } => SourceErrorKind::Forbidden,
            Self::NotFound { .. } => SourceErrorKind::NotFound,
            Self::RateLimited { .. } => SourceErrorKind::RateLimited,
            Self::Unavailable { .. } => SourceErrorKind::Unavailable,
            Self::InvalidResponse { .. } => SourceErrorKind::InvalidResponse,
            Self::Transport { .. } => SourceErrorKind::Transport,
        }
    }

    /// Whether the same request may succeed later: rate limits,
    /// unavailability and transport failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Transport { .. }
        )
    }

    /// Whether the participant must reconnect their calendar.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    /// How long the source asked to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// What a source can do: limits are data, so callers (and
/// [`FreeBusySourceExt::query`]) can split work without knowing the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The most accounts one request may name (Google: 50, Graph
    /// getSchedule: 20, CalDAV: 1).
    pub max_accounts_per_request: usize,
    /// The longest window one request may cover, if limited (Google: about
    /// 60 days in practice, Graph: 62 days).
    pub max_window: Option<Duration>,
    /// The busy kinds the source can report.
    pub reported_kinds: KindSet,
    /// Whether the source answers free/busy natively (Google `freeBusy`,
    /// Graph `getSchedule`, CalDAV `free-busy-query`) rather than computing it
    /// from events.
    pub native_free_busy: bool,
}

impl Capabilities {
    /// Capabilities with the given batch size, no window limit, every kind
    /// reported, and native free/busy.
    pub const fn new(max_accounts_per_request: usize) -> Self {
        Self {
            max_accounts_per_request: if max_accounts_per_request == 0 {
                1
            } else {
                max_accounts_per_request
            },
            max_window: None,
            reported_kinds: KindSet::ALL,
            native_free_busy: true,
        }
    }

    /// The same, with a window limit.
    #[must_use]
    pub const fn with_max_window(mut self, max_window: Duration) -> Self {
        self.max_window = Some(max_window);
        self
    }

    /// The same, with the kinds the source reports.
    #[must_use]
    pub const fn with_reported_kinds(mut self, kinds: KindSet) -> Self {
        self.reported_kinds = kinds;
        self
    }

    /// The same, computed from events rather than native free/busy.
    #[must_use]
    pub const fn with_native_free_busy(mut self, native: bool) -> Self {
        self.native_free_busy = native;
        self
    }
}

/// A source of busy time for many accounts: Google Calendar, Microsoft
/// Graph, CalDAV, an `.ics` file, or memory.
///
/// # Contract
///
/// An implementation of [`free_busy`](Self::free_busy):
/// - answers every requested account exactly once, in request order, even
///   when the request names more accounts or a longer window than
///   [`capabilities`](Self::capabilities) allows (it splits the work itself, or
///   answers the excess accounts with an error; it never drops one);
/// - returns busy time clipped to the request window, coalesced per kind;
/// - reports a failure that concerns one account (not found, unauthorized)
///   in that account's entry, and returns `Err` only when nothing could be
///   answered (every account failed the same way, e.g. the transport);
/// - never returns event titles, descriptions, locations or attendees
///   (the types cannot hold them) and never puts a secret in an error.
///
/// The `conformance` feature's module lists every point in full (with
/// the window pieces and the kinds reported) and checks each against a
/// peer; it is the one place they are written down.
///
/// # Example: the in-memory source
///
/// ```
/// use availability::{AccountId, BusyKind, FreeBusy, FreeBusyRequest, FreeBusySource,
///     Interval, MemorySource};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let source = MemorySource::new();
/// source.insert("ana", FreeBusy::from_entries([(BusyKind::Busy, Interval::new(10, 20)?)]));
/// let answer = source
///     .free_busy(&FreeBusyRequest::new(Interval::new(0, 15)?, ["ana", "zoe"]))
///     .await?;
/// let ana = answer.accounts[0].result.as_ref().map_err(|e| e.to_string())?;
/// assert_eq!(ana.get(BusyKind::Busy).as_slice(), &[Interval::new(10, 15)?]);
/// assert!(answer.accounts[1].result.is_err()); // not found, per account
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait FreeBusySource: fmt::Debug + Send + Sync + 'static {
    /// What this source can do.
    fn capabilities(&self) -> Capabilities;

    /// The busy time of `request.accounts` within `request.window`.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when no account could be answered at all.
    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError>;
}

#[async_trait]
impl<T: FreeBusySource + ?Sized> FreeBusySource for Arc<T> {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        (**self).free_busy(request).await
    }
}

#[async_trait]
impl<T: FreeBusySource + ?Sized> FreeBusySource for Box<T> {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        (**self).free_busy(request).await
    }
}

/// Helpers on every [`FreeBusySource`].
#[async_trait]
pub trait FreeBusySourceExt: FreeBusySource {
    /// The busy time of one account.
    ///
    /// # Errors
    ///
    /// The account's error, or the whole request's.
    async fn free_busy_one(
        &self,
        account: AccountId,
        window: Interval,
    ) -> Result<FreeBusy, SourceError> {
        let request = FreeBusyRequest {
            window,
            accounts: vec![account],
        };
        let mut response = self.free_busy(&request).await?;
        match response.accounts.pop() {
            Some(one) => one.result,
            None => Err(SourceError::InvalidResponse {
                message: "the source answered no account".to_owned(),
            }),
        }
    }

    /// Asks for any number of accounts over any window, splitting the work
    /// by [`Capabilities::max_accounts_per_request`] and
    /// [`Capabilities::max_window`], one request at a time, and joining the
    /// answers per account. An account fails if any of its pieces fails (the
    /// first error is kept); a batch-wide error fails that batch's accounts.
    async fn query(&self, window: Interval, accounts: &[AccountId]) -> FreeBusyResponse {
        let caps = self.capabilities();
        let mut results: Vec<Result<FreeBusy, SourceError>> =
            accounts.iter().map(|_| Ok(FreeBusy::new())).collect();
        let chunk_secs = caps
            .max_window
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1))
            .unwrap_or(i64::MAX);
        for piece in window.pieces(chunk_secs) {
            let batch = caps.max_accounts_per_request.max(1);
            for (b, ids) in accounts.chunks(batch).enumerate() {
                let request = FreeBusyRequest {
                    window: piece,
                    accounts: ids.to_vec(),
                };
                let offset = b * batch;
                match self.free_busy(&request).await {
                    Ok(response) => {
                        for (i, id) in ids.iter().enumerate() {
                            let answer = response
                                .accounts
                                .iter()
                                .find(|a| &a.account == id)
                                .map(|a| a.result.clone())
                                .unwrap_or_else(|| {
                                    Err(SourceError::InvalidResponse {
                                        message: format!("the source did not answer for {id}"),
                                    })
                                });
                            merge_result(&mut results[offset + i], answer);
                        }
                    }
                    Err(e) => {
                        for slot in &mut results[offset..offset + ids.len()] {
                            merge_result(slot, Err(e.clone()));
                        }
                    }
                }
            }
        }
        FreeBusyResponse {
            accounts: accounts
                .iter()
                .cloned()
                .zip(results)
                .map(|(account, result)| AccountFreeBusy { account, result })
                .collect(),
        }
    }
}

impl<T: FreeBusySource + ?Sized> FreeBusySourceExt for T {}

fn merge_result(into: &mut Result<FreeBusy, SourceError>, piece: Result<FreeBusy, SourceError>) {
    match (into.as_mut(), piece) {
        (Ok(acc), Ok(fb)) => acc.merge(&fb),
        (Ok(_), Err(e)) => *into = Err(e),
        (Err(_), _) => {}
    }
}

/// The stored form of a [`SourceError`]: `{"kind", "message",
/// "retry_after_secs"}` (whole seconds). Unknown fields are refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSourceError {
    kind: SourceErrorKind,
    message: String,
    retry_after_secs: Option<u64>,
}

/// Serialises as `{"kind": "unavailable", "message": "...",
/// "retry_after_secs": 30}`; a transport error's cause is not kept.
impl Serialize for SourceError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredSourceError {
            kind: self.kind(),
            message: self.message().to_owned(),
            retry_after_secs: self.retry_after().map(|d| d.as_secs()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SourceError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredSourceError::deserialize(deserializer)?;
        Ok(Self::from_parts(
            stored.kind,
            stored.message,
            stored.retry_after_secs.map(Duration::from_secs),
        ))
    }
}

#[cfg(test)]
mod stored_error_tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_stored_json() {
        let wait = Some(Duration::from_secs(30));
        let errors = [
            SourceError::Unauthorized {
                message: "revoked".into(),
            },
            SourceError::Forbidden {
                message: "no delegation".into(),
            },
            SourceError::NotFound {
                message: "no calendar".into(),
            },
            SourceError::RateLimited { retry_after: wait },
            SourceError::Unavailable {
                message: "503".into(),
                retry_after: wait,
            },
            SourceError::InvalidResponse {
                message: "bad XML".into(),
            },
            SourceError::Transport {
                message: "reset".into(),
                source: None,
            },
        ];
        for e in errors {
            let json = serde_json::to_string(&e).unwrap();
            let back: SourceError = serde_json::from_str(&json).unwrap();
            assert_eq!(back.kind(), e.kind(), "{json}");
            assert_eq!(back.message(), e.message(), "{json}");
            assert_eq!(back.retry_after(), e.retry_after(), "{json}");
            assert_eq!(back.to_string(), e.to_string(), "{json}");
        }
    }

    #[test]
    fn the_stored_shape_is_pinned() {
        let e = SourceError::Unavailable {
            message: "503".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"unavailable","message":"503","retry_after_secs":7}"#
        );
        let rate = SourceError::RateLimited { retry_after: None };
        assert_eq!(
            serde_json::to_string(&rate).unwrap(),
            r#"{"kind":"rate_limited","message":"","retry_after_secs":null}"#
        );
        assert!(
            serde_json::from_str::<SourceError>(
                r#"{"kind":"forbidden","message":"x","retry_after_secs":null,"extra":1}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<SourceError>(
                r#"{"kind":"melted","message":"x","retry_after_secs":null}"#
            )
            .is_err()
        );
    }
}
