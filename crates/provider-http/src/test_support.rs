//! Helpers the providers' integration tests share (feature
//! `test-support`, from `[dev-dependencies]` only).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use availability::{FreeBusy, Interval, RetryConfig};

/// Seconds since the epoch of an RFC 3339 timestamp.
///
/// # Panics
///
/// If `s` is not one.
pub fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// The interval `[from, to)` of two RFC 3339 timestamps.
///
/// # Panics
///
/// If either is not one, or `to` is before `from`.
pub fn window(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
}

/// Busy time as `(start, end, kind)` strings, in output order.
pub fn rows(busy: &FreeBusy) -> Vec<(String, String, &'static str)> {
    busy.entries()
        .into_iter()
        .map(|e| {
            (
                e.interval.start_jiff().to_string(),
                e.interval.end_jiff().to_string(),
                e.kind.as_str(),
            )
        })
        .collect()
}

/// One row of [`rows`].
pub fn row(start: &str, end: &str, kind: &'static str) -> (String, String, &'static str) {
    (start.to_owned(), end.to_owned(), kind)
}

/// The default retries with backoffs of milliseconds, for tests.
pub fn quick_retries() -> RetryConfig {
    RetryConfig::default().backoff(Duration::from_millis(5), Duration::from_millis(20))
}
