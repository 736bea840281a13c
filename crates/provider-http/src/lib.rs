//! HTTP and OAuth plumbing shared by the calendar providers.
//!
//! # Purpose
//!
//! `google-provider`, `graph-provider` and `caldav-provider` each talk HTTP
//! to a calendar service. What is the same between them (the client
//! set-up, the size-capped read, transport errors, `Retry-After`, the
//! mapping of statuses to `availability::SourceError`, the retry loop, the
//! token cache and, for the two OAuth providers, the oauth2 adapter, token
//! errors, the refresh-token rule, the token stores and `Authorization`)
//! lives here once. Providers keep their wire types and wording.
//!
//! # Overview
//!
//! [`ClientOptions`] builds the client, from a config's [`HttpSettings`]
//! (whose setters [`config_setters!`] writes); [`Service`] reads ([`Reply`]),
//! maps transport failures and retries ([`Service::send_paced`]: paced by
//! identity with a [`Pacer`] over [`Pacing`] settings); [`map_status`] with
//! [`StatusRules`] maps statuses; [`TokenCache`] caches tokens;
//! [`by_shared_token`] batches accounts by token and [`RefreshOnce`]
//! refreshes a refused one. Feature
//! `oauth`: [`OAuthHttp`], [`tokens`], [`Authorization`], [`IdTokenRule`]
//! (who consented, from the ID token), [`TokenStore`],
//! [`VersionedTokenStore`], [`MemoryTokenStore`], [`UserTokens`] over a
//! provider's [`Refresh`] flow. Feature `jwt`:
//! [`Rs256Key`].
//!
//! # Which crate does what
//!
//! `availability` defines the errors, retry settings and token types (no
//! I/O); this crate does the HTTP with reqwest (rustls on ring) and oauth2;
//! the [`Pacer`]'s rates are `governor`'s (keyed GCRA limiters, on
//! governor's own clock) and its concurrency caps tokio's `Semaphore`;
//! providers call it and never each other.
//!
//! # Crate features
//!
//! - `oauth`: the OAuth half (google-provider and graph-provider).
//! - `jwt`: [`Rs256Key`], RS256 JWTs (google-provider's service account,
//!   graph-provider's certificate credential).
//! - `test-support`: [`test_support`], for the providers' tests only.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "jwt")]
pub use crate::jwt::{Rs256Key, Rs256KeyError, SignError};
pub use crate::{
    bearer::{ByAccount, RefreshOnce, by_shared_token},
    client::{ClientError, ClientOptions, install_ring_provider},
    pacer::{MAX_SLOWDOWN, PacePermit, Paced, Pacer, Pacing, Rate, is_throttling},
    reply::{Reply, Service, parse_retry_after, retry_after},
    settings::{BuildError, HttpSettings},
    status::{StatusCode, StatusError, StatusRules, map_status},
    token_cache::TokenCache,
};
#[cfg(feature = "oauth")]
pub use crate::{
    oauth::{
        Authorization, HttpFailed, HttpFuture, OAuthHttp, TokenRefusals, kept_refresh_token, tokens,
    },
    oidc::{IdTokenField, IdTokenRule, Issuer, OAuthClient, TokenAnswer},
    store::{MemoryTokenStore, TokenStore, VersionedTokenStore},
    user_tokens::{Refresh, Tokens, UserTokens},
};

mod bearer;
mod client;
#[cfg(feature = "jwt")]
mod jwt;
#[cfg(feature = "oauth")]
mod oauth;
#[cfg(feature = "oauth")]
mod oidc;
mod pacer;
mod reply;
mod retry;
mod settings;
mod status;
#[cfg(feature = "oauth")]
mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
mod token_cache;
#[cfg(feature = "oauth")]
mod user_tokens;

/// What [`config_setters!`] names from the crates it is used in; not API.
#[doc(hidden)]
pub mod __private {
    pub use crate::pacer::Pacing;
    pub use availability::RetryConfig;
}
