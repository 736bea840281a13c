use std::sync::Arc;
use std::time::Duration;

use availability::Interval;
use credential_vault::SecretString;
use google_provider::{GoogleConfig, GoogleSource, RetryConfig, StaticToken, TokenSource};
use wiremock::MockServer;

pub(crate) fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

pub(crate) fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

pub(crate) fn window(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
}

/// Fast retries for tests.
pub(crate) fn quick_retries() -> RetryConfig {
    RetryConfig::default().backoff(Duration::from_millis(5), Duration::from_millis(20))
}

pub(crate) fn config(server: &MockServer) -> GoogleConfig {
    GoogleConfig::default()
        .base_url(server.uri())
        .retry(quick_retries())
}

pub(crate) fn static_source(server: &MockServer) -> GoogleSource {
    source(Arc::new(StaticToken::new("shared-token")), config(server))
}

pub(crate) fn source(tokens: Arc<dyn TokenSource>, config: GoogleConfig) -> GoogleSource {
    GoogleSource::new(tokens, config).unwrap()
}

pub(crate) fn rows(fb: &availability::FreeBusy) -> Vec<(String, String, &'static str)> {
    fb.entries()
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
