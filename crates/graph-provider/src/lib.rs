#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use availability::{AccessToken, RetryConfig, StaticToken, TokenSource};

pub use crate::auth::{
    APP_SCOPE, AppTokens, AuthConfig, AuthError, CONSUMER_TENANT, Certificate, DELEGATED_SCOPES,
    GraphOAuth, Tenant, UserTokens,
};
pub use crate::events::GraphEvents;
pub use crate::source::{GraphConfig, GraphSource, Mode, ScheduleReport};
pub use crate::working_hours::WorkingHours;
pub use provider_http::BuildError;
/// Shared with google-provider: one `Authorization` for every provider, the
/// versioned token store [`UserTokens`] reads and writes, and its
/// in-memory form.
pub use provider_http::{Authorization, MemoryTokenStore, Refresh, VersionedTokenStore};

mod auth;
mod events;
mod http;
mod source;
mod wire;
mod working_hours;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a getSchedule answer; the schedule ids and item counts, or
    /// `None` when it is refused.
    pub fn schedule_answer(body: &[u8]) -> Option<Vec<(String, usize)>> {
        let answer: crate::wire::ScheduleAnswer = serde_json::from_slice(body).ok()?;
        Some(
            answer
                .value
                .into_iter()
                .map(|s| (s.schedule_id, s.schedule_items.len()))
                .collect(),
        )
    }
}
