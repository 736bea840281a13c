use std::sync::Arc;

use google_provider::{GoogleConfig, GoogleSource, StaticToken, TokenSource};
pub(crate) use provider_http::test_support::{
    account_error, answer_always, answer_once, assert_fails_once, assert_over_the_cap, clock,
    first_json_body, form, google_id_token, one_day, one_slow_refresh, quick_retries,
    requests_seen, row, rows, secret, store_with, token_endpoint, tokens, ts, verify_rs256, window,
};
use wiremock::MockServer;

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
