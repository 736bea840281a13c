#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use availability::{RetryConfig, StaticToken, TokenSource};
pub use provider_http::{BuildError, Pacer, Pacing, Rate};

pub use crate::config::{AuthMethod, EwsAuth, EwsConfig, EwsLogin, UnknownAuthMethod};
pub use crate::source::EwsSource;

mod config;
mod http;
mod ntlm;
mod source;
#[cfg(feature = "test-support")]
pub mod test_support;
mod wire;

/// Entry points for the fuzz targets in `fuzz/` and for benchmarks; not
/// part of the API and may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use availability::{AccountId, FreeBusy, Interval, SourceError};

    /// Reads a GetUserAvailability answer `body` as
    /// [`EwsSource`](crate::EwsSource) does for one request asking
    /// `accounts` (in that order) over `window` (merged interval 30
    /// minutes): `None` when the body is not a readable answer at all (not
    /// SOAP, a DOCTYPE, malformed, a fault), otherwise each account with
    /// its busy time clipped to `window` or its error, in request order.
    pub fn availability_busy(
        body: &[u8],
        accounts: &[AccountId],
        window: Interval,
    ) -> Option<Vec<(AccountId, Result<FreeBusy, SourceError>)>> {
        let answers = crate::source::read_answer(body, accounts.len(), window, 30).ok()?;
        Some(accounts.iter().cloned().zip(answers).collect())
    }

    /// The request body [`EwsSource`](crate::EwsSource) sends for
    /// `addresses` over `window` (version `Exchange2013`, merged interval
    /// 30 minutes): to write fixtures and benchmarks against.
    pub fn availability_request(addresses: &[&str], window: Interval) -> String {
        crate::wire::request(
            "Exchange2013",
            addresses,
            crate::wire::Window {
                start: window.start(),
                end: window.end(),
            },
            30,
        )
    }
}
