use std::sync::Arc;

use availability::{AccountId, FixedClock, FreeBusyRequest, FreeBusySource, SourceErrorKind};
use google_provider::{ServiceAccount, ServiceAccountTokens, TokenSource};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{config, form, requests_seen, secret, source, token_endpoint, window};

fn key_json() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/test-service-account.json"),
    )
    .unwrap()
}

fn public_key() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/test-service-account-public.der"),
    )
    .unwrap()
}

fn account(server: &MockServer) -> Arc<ServiceAccount> {
    Arc::new(
        ServiceAccount::from_json(&secret(&key_json()))
            .unwrap()
            .with_token_uri(format!("{}/token", server.uri())),
    )
}

const NOW: i64 = 1_741_000_000;

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(jiff::Timestamp::from_second(NOW).unwrap()))
}

/// Verifies the assertion with the service account's public key and
/// returns its header and claims.
fn verify(assertion: &str) -> (Value, Value) {
    crate::common::verify_rs256(assertion, &public_key())
}

/// Impersonation: the JWT bearer grant (RFC 7523) with the documented
/// claims, verified with the public key; one token per subject, cached.
#[tokio::test]
async fn delegated_tokens_per_subject_with_a_verified_jwt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
        ))
        .respond_with(|r: &Request| {
            let (_, claims) = verify(&form(r)["assertion"]);
            let sub = claims["sub"].as_str().unwrap().to_owned();
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("token-for-{sub}"), "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(|r: &Request| {
            let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let id = body["items"][0]["id"].as_str().unwrap().to_owned();
            assert_eq!(auth, format!("Bearer token-for-{id}"));
            ResponseTemplate::new(200).set_body_json(json!({"calendars": {id: {"busy": []}}}))
        })
        .mount(&server)
        .await;
    let tokens = Arc::new(
        ServiceAccountTokens::with_clock(
            account(&server),
            vec![google_provider::SCOPE_FREEBUSY.to_owned()],
            clock(),
        )
        .unwrap(),
    );
    let source = source(tokens.clone(), config(&server));
    for _ in 0..3 {
        let answer = source
            .free_busy(&FreeBusyRequest::new(
                window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
                ["ana@example.org", "ben@example.org"],
            ))
            .await
            .unwrap();
        assert!(answer.accounts.iter().all(|a| a.result.is_ok()));
    }
    // Each subject has its own token, so each went in its own request.
    let api_calls = requests_seen(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == "/calendar/v3/freeBusy")
        .count();
    assert_eq!(api_calls, 6);
    // The claims.
    let sa = account(&server);
    let assertion = sa
        .assertion(
            "ana@example.org",
            &[google_provider::SCOPE_FREEBUSY.to_owned()],
            jiff::Timestamp::from_second(NOW).unwrap(),
        )
        .unwrap();
    let (header, claims) = verify(&assertion);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], "test-key-id-1");
    assert_eq!(
        claims["iss"],
        "scheduler@test-project.iam.gserviceaccount.com"
    );
    assert_eq!(claims["sub"], "ana@example.org");
    assert_eq!(claims["scope"], google_provider::SCOPE_FREEBUSY);
    assert_eq!(claims["aud"], format!("{}/token", server.uri()));
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + 3600);
    // Debug shows no key material.
    assert!(!format!("{sa:?}").contains("PRIVATE"));
}

#[tokio::test]
async fn delegation_refusals_are_distinct_and_explained() {
    for (error, kind, hint) in [
        (
            "unauthorized_client",
            SourceErrorKind::Forbidden,
            "Admin console",
        ),
        ("invalid_grant", SourceErrorKind::NotFound, "does not exist"),
    ] {
        let server = MockServer::start().await;
        let refusal = json!({
            "error": error, "error_description": "Client is unauthorized to retrieve access tokens using this method"
        });
        token_endpoint(&server, Some("/token"), 401, refusal, 1).await;
        let tokens = ServiceAccountTokens::with_clock(
            account(&server),
            vec![google_provider::SCOPE_FREEBUSY.to_owned()],
            clock(),
        )
        .unwrap();
        let err = tokens
            .token(&AccountId::new("ana@example.org"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(hint), "{err}");
    }
}

#[test]
fn bad_keys_are_refused_without_echoing_them() {
    for bad in [
        "not json",
        r#"{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}"#,
        r#"{"client_email": "a@b"}"#,
    ] {
        let err = ServiceAccount::from_json(&secret(bad)).unwrap_err();
        assert!(!err.to_string().contains("AAAA"), "{err}");
    }
}

/// A cached token is reused until five minutes before it expires, then a
/// new assertion is signed.
#[tokio::test]
async fn tokens_are_re_minted_before_they_expire() {
    let server = MockServer::start().await;
    let minted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = minted.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("token-{n}"), "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    let clock = clock();
    let tokens = ServiceAccountTokens::with_clock(
        account(&server),
        vec![google_provider::SCOPE_FREEBUSY.to_owned()],
        clock.clone(),
    )
    .unwrap();
    let ana = AccountId::new("ana@example.org");
    assert_eq!(tokens.token(&ana).await.unwrap().secret(), "token-0");
    clock.advance(3000);
    assert_eq!(tokens.token(&ana).await.unwrap().secret(), "token-0");
    clock.advance(400);
    assert_eq!(tokens.token(&ana).await.unwrap().secret(), "token-1");
    assert_eq!(minted.load(std::sync::atomic::Ordering::SeqCst), 2);
}
