use std::sync::Arc;
use std::time::Duration;

use availability::{Interval, RetryConfig, StaticToken, TokenSource};
use graph_provider::{GraphConfig, GraphSource};
use wiremock::MockServer;

pub(crate) fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

pub(crate) fn window(from: &str, to: &str) -> Interval {
    Interval::new(ts(from), ts(to)).unwrap()
}

pub(crate) fn config(server: &MockServer) -> GraphConfig {
    GraphConfig::default()
        .base_url(format!("{}/v1.0", server.uri()))
        .retry(RetryConfig::default().backoff(Duration::from_millis(5), Duration::from_millis(20)))
}

pub(crate) fn static_source(server: &MockServer) -> GraphSource {
    source(Arc::new(StaticToken::new("app-token")), config(server))
}

pub(crate) fn source(tokens: Arc<dyn TokenSource>, config: GraphConfig) -> GraphSource {
    GraphSource::new(tokens, config).unwrap()
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

pub(crate) fn row(s: &str, e: &str, k: &'static str) -> (String, String, &'static str) {
    (s.to_owned(), e.to_owned(), k)
}
