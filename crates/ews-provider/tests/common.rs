use std::path::PathBuf;

use ews_provider::{EwsAuth, EwsConfig, EwsLogin, EwsSource};
pub(crate) use provider_http::test_support::{quick_retries, requests_seen, row, rows, ts, window};
use wiremock::MockServer;

pub(crate) const USER: &str = "CORP\\scheduler";
pub(crate) const PASSWORD: &str = "Winter-2026!";

pub(crate) fn endpoint(server: &MockServer) -> String {
    format!("{}/EWS/Exchange.asmx", server.uri())
}

pub(crate) fn config(server: &MockServer) -> EwsConfig {
    EwsConfig::new(endpoint(server)).retry(quick_retries())
}

pub(crate) fn basic() -> EwsAuth {
    EwsAuth::Basic(EwsLogin::new(USER, PASSWORD))
}

pub(crate) fn source(config: EwsConfig) -> EwsSource {
    EwsSource::new(config, basic()).unwrap()
}

pub(crate) fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// A SOAP fault as EWS writes one (exchangelib's capture of
/// ErrorServerBusy; `ews-throttling-in-exchange.md`).
pub(crate) fn fault(code: &str, back_off_ms: Option<u64>) -> String {
    let back_off = back_off_ms
        .map(|ms| {
            format!(
                r#"<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">{ms}</t:Value></t:MessageXml>"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:{code}</faultcode><faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>{back_off}</detail></s:Fault></s:Body></s:Envelope>"#
    )
}
