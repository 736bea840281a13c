use std::sync::Arc;

use availability::{StaticToken, TokenSource};
use graph_provider::{GraphConfig, GraphSource};
pub(crate) use provider_http::test_support::{
    account_error, answer_always, answer_once, assert_fails_once, assert_over_the_cap, clock,
    first_json_body, form, microsoft_id_token, one_day, one_slow_refresh, quick_retries,
    requests_seen, row, rows, secret, store_with, token_endpoint, tokens, ts, verify_rs256, window,
};
use wiremock::MockServer;

pub(crate) fn config(server: &MockServer) -> GraphConfig {
    GraphConfig::default()
        .base_url(format!("{}/v1.0", server.uri()))
        .retry(quick_retries())
}

pub(crate) fn static_source(server: &MockServer) -> GraphSource {
    source(Arc::new(StaticToken::new("app-token")), config(server))
}

pub(crate) fn source(tokens: Arc<dyn TokenSource>, config: GraphConfig) -> GraphSource {
    GraphSource::new(tokens, config).unwrap()
}
