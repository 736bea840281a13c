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
/// Shared with google-provider: one `Authorization` for every provider, the
/// versioned token store [`UserTokens`] reads and writes, and its
/// in-memory form.
pub use provider_http::{Authorization, MemoryTokenStore, Refresh, VersionedTokenStore};
pub use provider_http::{BuildError, Pacer, Pacing, Rate};

mod auth;
mod events;
mod http;
mod source;
mod wire;
mod working_hours;

/// Entry points for the fuzz targets in `fuzz/`; not part of the API and
/// may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use availability::{AccountId, FreeBusy, Interval, SourceError};

    /// Reads a getSchedule answer `body` as [`GraphSource`](crate::GraphSource)
    /// does for one request: `None` when the body is not the documented
    /// JSON, otherwise each of `accounts` (asked by its own address) with
    /// its busy time clipped to `window` or its error, in request order.
    pub fn schedule_busy(
        body: &[u8],
        accounts: &[AccountId],
        window: Interval,
    ) -> Option<Vec<(AccountId, Result<FreeBusy, SourceError>)>> {
        let answer: crate::wire::ScheduleAnswer = serde_json::from_slice(body).ok()?;
        let schedules: Vec<String> = accounts.iter().map(|a| a.as_str().to_owned()).collect();
        Some(
            accounts
                .iter()
                .cloned()
                .zip(crate::source::answer_reports(&answer, &schedules, window))
                .map(|(account, report)| (account, report.map(|r| r.busy)))
                .collect(),
        )
    }
}
