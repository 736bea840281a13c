#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use crate::events::{GoogleEvents, SCOPE_EVENTS};
pub use crate::oauth::{
    GoogleOAuth, OAuthConfig, OAuthError, SCOPE_EMAIL, SCOPE_EVENTS_READONLY, SCOPE_FREEBUSY,
    SCOPE_OPENID, UserTokens,
};
pub use crate::service_account::{KeyError, ServiceAccount, ServiceAccountTokens};
pub use crate::source::{GoogleConfig, GoogleSource, Mode};
pub use availability::{AccessToken, RetryConfig, StaticToken, TokenSource};
/// Shared with graph-provider: one `Authorization` for every provider, the
/// token store [`UserTokens`] reads and writes, and its in-memory form.
pub use provider_http::{Authorization, MemoryTokenStore, Refresh, TokenStore};
pub use provider_http::{BuildError, Pacer, Pacing, Rate};

mod events;
mod http;
mod oauth;
mod service_account;
mod source;
mod wire;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API and
/// may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use availability::{AccountId, FreeBusy, Interval, SourceError};

    /// Reads a `freeBusy` answer `body` as [`GoogleSource`](crate::GoogleSource)
    /// does for one request: `None` when the body is not the documented
    /// JSON, otherwise each of `accounts` (read at its own address) with its
    /// busy time clipped to `window` or its error, in request order.
    pub fn free_busy_busy(
        body: &[u8],
        accounts: &[AccountId],
        window: Interval,
    ) -> Option<Vec<(AccountId, Result<FreeBusy, SourceError>)>> {
        let answer: crate::wire::FreeBusyAnswer = serde_json::from_slice(body).ok()?;
        let calendars: Vec<String> = accounts.iter().map(|a| a.as_str().to_owned()).collect();
        Some(
            accounts
                .iter()
                .cloned()
                .zip(crate::source::answer_busy(&answer, &calendars, window))
                .collect(),
        )
    }
}
