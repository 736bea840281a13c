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
pub use provider_http::BuildError;
/// Shared with graph-provider: one `Authorization` for every provider, the
/// token store [`UserTokens`] reads and writes, and its in-memory form.
pub use provider_http::{Authorization, MemoryTokenStore, Refresh, TokenStore};

mod events;
mod http;
mod oauth;
mod service_account;
mod source;
mod wire;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a `freeBusy` answer and returns each calendar's busy count,
    /// or `None` when it is refused.
    pub fn free_busy_answer(body: &[u8]) -> Option<Vec<(String, usize, usize)>> {
        let answer: crate::wire::FreeBusyAnswer = serde_json::from_slice(body).ok()?;
        let mut out: Vec<_> = answer
            .calendars
            .into_iter()
            .map(|(id, c)| (id, c.busy.len(), c.errors.len()))
            .collect();
        out.sort();
        Some(out)
    }
}
