use std::time::Duration;

use availability::{FreeBusySource as _, RetryConfig, SourceError, SourceErrorKind};
use ews_provider::test_support::AvailabilityDouble;
use ews_provider::{EwsAuth, EwsConfig, EwsLogin, EwsSource};
use provider_http::test_support::{account_error, answer_always, answer_once, assert_over_the_cap};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{PASSWORD, config, fault, requests_seen, source};

const ADA: &str = "ada@contoso.com";

fn soap(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .set_body_string(body)
}

async fn double_always(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(AvailabilityDouble::new().mailbox(ADA, &[]))
        .mount(server)
        .await;
}

async fn served(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    answer_always(&server, answer).await;
    server
}

/// ErrorServerBusy (HTTP 500, a fault whose detail has
/// BackOffMilliseconds) is retried after that back-off by the shared loop.
#[tokio::test]
async fn server_busy_is_retried_after_its_back_off() {
    let server = MockServer::start().await;
    answer_once(&server, soap(500, fault("ErrorServerBusy", Some(5)))).await;
    double_always(&server).await;
    let answer = source(config(&server))
        .free_busy(&provider_http::test_support::one_day([ADA]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    assert_eq!(requests_seen(&server).await.len(), 2, "one retry");
}

/// The wait chosen is the back-off: one longer than `max_retry_after`
/// (60 s) ends the retries at once and is returned; with no retries left
/// the asked wait is returned as is.
#[tokio::test]
async fn the_back_off_is_the_wait_returned() {
    let server = served(soap(500, fault("ErrorServerBusy", Some(120_000)))).await;
    let err = account_error(&source(config(&server)), ADA).await;
    assert!(matches!(err, SourceError::RateLimited { .. }), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(requests_seen(&server).await.len(), 1, "not waited");

    let server = served(soap(500, fault("ErrorServerBusy", Some(3_000)))).await;
    let err = account_error(&source(config(&server).retry(RetryConfig::none())), ADA).await;
    assert_eq!(err.retry_after(), Some(Duration::from_millis(3_000)));
    assert_eq!(requests_seen(&server).await.len(), 1);
}

/// HTTP 503 is retried (Retry-After honoured), then the answer read.
#[tokio::test]
async fn unavailable_is_retried() {
    let server = MockServer::start().await;
    answer_once(
        &server,
        ResponseTemplate::new(503).insert_header("Retry-After", "0"),
    )
    .await;
    double_always(&server).await;
    let answer = source(config(&server))
        .free_busy(&provider_http::test_support::one_day([ADA]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    assert_eq!(requests_seen(&server).await.len(), 2);
}

/// A SOAP fault refusing the request is typed and not retried; 401 is the
/// login refused, 403 forbidden; neither message holds the password.
#[tokio::test]
async fn faults_and_statuses_are_typed() {
    let cases = [
        (
            soap(500, fault("ErrorSchemaValidation", None)),
            SourceErrorKind::InvalidResponse,
            1,
        ),
        (
            soap(500, fault("ErrorAccessDenied", None)),
            SourceErrorKind::Forbidden,
            1,
        ),
        (
            ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Basic realm=\"ex\""),
            SourceErrorKind::Unauthorized,
            1,
        ),
        (ResponseTemplate::new(403), SourceErrorKind::Forbidden, 1),
        (
            ResponseTemplate::new(500).set_body_string("oops"),
            SourceErrorKind::Unavailable,
            4,
        ),
    ];
    for (answer, kind, requests) in cases {
        let server = served(answer).await;
        let err = account_error(&source(config(&server)), ADA).await;
        assert_eq!(err.kind(), kind, "{err}");
        assert!(!err.to_string().contains(PASSWORD), "{err}");
        assert!(!err.to_string().contains(ADA), "{err}");
        assert_eq!(requests_seen(&server).await.len(), requests, "{err}");
    }
}

/// A proxy's HTML sign-in page (200, text/html), a body that is not SOAP,
/// a DOCTYPE (entities never expanded) and an unknown entity are all
/// InvalidResponse.
#[tokio::test]
async fn html_pages_doctypes_and_entities_are_refused() {
    let bodies = [
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html; charset=utf-8")
            .set_body_string("<!DOCTYPE html><html><head><title>Outlook</title></head><body><form action=\"/owa/auth.owa\">Sign in</form></body></html>"),
        soap(200, "{\"error\": \"not xml\"}".to_owned()),
        soap(200, r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol2;</s:Body></s:Envelope>"#.to_owned()),
        soap(200, r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetUserAvailabilityResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">&xxe;</m:GetUserAvailabilityResponse></s:Body></s:Envelope>"#.to_owned()),
        // The right local names in the wrong namespace are not an answer.
        soap(200, r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetUserAvailabilityResponse xmlns="urn:not-ews"><FreeBusyResponseArray/></GetUserAvailabilityResponse></s:Body></s:Envelope>"#.to_owned()),
    ];
    for answer in bodies {
        let server = served(answer).await;
        let err = account_error(&source(config(&server)), ADA).await;
        assert_eq!(err.kind(), SourceErrorKind::InvalidResponse, "{err}");
        assert_eq!(requests_seen(&server).await.len(), 1);
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    assert_over_the_cap(
        4096,
        |server| source(config(server).max_response_bytes(1024)),
        ADA,
    )
    .await;
}

/// A server that accepts and never answers: the request timeout ends it
/// as Unavailable (transient), on the pooled path and NTLM's own.
#[tokio::test]
async fn a_stalled_connection_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let config = || {
        EwsConfig::new(format!("http://127.0.0.1:{port}/EWS/Exchange.asmx"))
            .request_timeout(Duration::from_millis(300))
            .retry(RetryConfig::none())
    };
    let login = || EwsLogin::new("CORP\\scheduler", PASSWORD);
    for auth in [EwsAuth::Basic(login()), EwsAuth::Ntlm(login())] {
        let source = EwsSource::new(config(), auth).unwrap();
        let err = account_error(&source, ADA).await;
        assert!(
            matches!(
                err.kind(),
                SourceErrorKind::Unavailable | SourceErrorKind::Transport
            ),
            "{err}"
        );
        assert!(err.is_transient());
    }
    held.abort();
}
