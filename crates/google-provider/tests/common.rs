use std::sync::Arc;

use credential_vault::SecretString;
use google_provider::{GoogleConfig, GoogleSource, StaticToken, TokenSource};
pub(crate) use provider_http::test_support::{quick_retries, rows, ts, window};
use wiremock::MockServer;

pub(crate) fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
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
