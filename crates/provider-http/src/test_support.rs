//! Helpers the providers' integration tests share (feature
//! `test-support`, from `[dev-dependencies]` only): timestamps and busy
//! rows, wiremock scenarios (answers mounted once, requests seen, the
//! failure and size-cap checks every provider makes), and with `oauth`
//! token fixtures, with `jwt` a JWT verifier.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use availability::{
    AccountId, FreeBusy, FreeBusyRequest, FreeBusySource, Interval, RetryConfig, SourceError,
    SourceErrorKind,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

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

/// The instant the OAuth tests run at: 2025-03-03T08:00:00Z.
pub const NOW: &str = "2025-03-03T08:00:00Z";

/// A request for `accounts` over Monday 2025-03-03 (UTC).
pub fn one_day<I, A>(accounts: I) -> FreeBusyRequest
where
    I: IntoIterator<Item = A>,
    A: Into<AccountId>,
{
    FreeBusyRequest::new(
        window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
        accounts,
    )
}

/// Mounts on `server` an answer to any `POST`, given once; answers
/// mounted earlier come first.
pub async fn answer_once(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .respond_with(answer)
        .up_to_n_times(1)
        .mount(server)
        .await;
}

/// Mounts on `server` `answer` to every `POST` from now on (after the
/// answers mounted earlier).
pub async fn answer_always(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// The requests `server` has seen.
pub async fn requests_seen(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// The JSON body of the first request `server` saw.
pub async fn first_json_body(server: &MockServer) -> serde_json::Value {
    serde_json::from_slice(&requests_seen(server).await[0].body).unwrap()
}

/// The `application/x-www-form-urlencoded` fields of a request's body.
pub fn form(request: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

/// Asks `source` about `account` over [`one_day`] and returns its
/// error.
///
/// # Panics
///
/// If the request fails as a whole or the account succeeds.
pub async fn account_error(source: &impl FreeBusySource, account: &str) -> SourceError {
    let answer = source.free_busy(&one_day([account])).await.unwrap();
    answer.accounts[0].result.clone().unwrap_err()
}

/// Serves `answer` once and checks that `source` (built on the server)
/// fails `account` with `kind`, without retrying and without `token` in
/// the message.
///
/// # Panics
///
/// If it does not.
pub async fn assert_fails_once<S, F>(
    answer: ResponseTemplate,
    kind: SourceErrorKind,
    source: F,
    account: &str,
    token: &str,
) where
    S: FreeBusySource,
    F: FnOnce(&MockServer) -> S,
{
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    let err = account_error(&source(&server), account).await;
    assert_eq!(err.kind(), kind, "{err}");
    assert!(!err.to_string().contains(token));
}

/// Serves a 200 of `body_len` spaces and checks that `source` (built on
/// the server with a smaller `max_response_bytes`) refuses it as
/// [`SourceErrorKind::InvalidResponse`], naming the cap.
///
/// # Panics
///
/// If it does not.
pub async fn assert_over_the_cap<S, F>(body_len: usize, source: F, account: &str)
where
    S: FreeBusySource,
    F: FnOnce(&MockServer) -> S,
{
    let server = MockServer::start().await;
    answer_always(
        &server,
        ResponseTemplate::new(200).set_body_string(" ".repeat(body_len)),
    )
    .await;
    let err = account_error(&source(&server), account).await;
    assert_eq!(err.kind(), SourceErrorKind::InvalidResponse);
    assert!(err.to_string().contains("cap"), "{err}");
}

#[cfg(feature = "oauth")]
pub use self::oauth::*;

#[cfg(feature = "oauth")]
mod oauth {
    use std::sync::Arc;

    use availability::FixedClock;
    use credential_vault::{OAuthTokens, SecretString};
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::MemoryTokenStore;

    /// A secret of `s`.
    pub fn secret(s: &str) -> SecretString {
        SecretString::new(s.to_owned())
    }

    /// A clock stopped at [`NOW`](super::NOW).
    pub fn clock() -> Arc<FixedClock> {
        Arc::new(FixedClock::new(super::NOW.parse().unwrap()))
    }

    /// Stored tokens: `access`, expiring at `expires_at` (RFC 3339), with
    /// the refresh token `refresh`.
    pub fn tokens(access: &str, expires_at: &str, refresh: &str) -> OAuthTokens {
        OAuthTokens::new(secret(access))
            .with_expires_at(expires_at.parse().unwrap())
            .with_refresh_token(secret(refresh))
    }

    /// A compact ID token with `claims` as its payload, as a token endpoint
    /// returns it (RS256 header; the signature is not checked: OpenID
    /// Connect Core 1.0 §3.1.3.7, received over TLS from the endpoint).
    pub fn id_token(claims: &serde_json::Value) -> String {
        use base64::Engine as _;
        let part = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = serde_json::json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"});
        format!("{}.{}.c2lnbmF0dXJl", part(&header), part(claims))
    }

    /// An hour from now, by the system clock (code exchanges are checked
    /// against it), as the Unix seconds of an ID token's `exp`.
    pub fn in_an_hour() -> i64 {
        jiff::Timestamp::now().as_second() + 3600
    }

    /// Google's ID token for `client_id`: the account `sub` with the
    /// verified address `email` (Google Identity, "OpenID Connect": the
    /// documented claims).
    pub fn google_id_token(client_id: &str, sub: &str, email: &str) -> String {
        id_token(&serde_json::json!({
            "iss": "https://accounts.google.com",
            "azp": client_id,
            "aud": client_id,
            "sub": sub,
            "email": email,
            "email_verified": true,
            "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
            "iat": in_an_hour() - 3600,
            "exp": in_an_hour(),
        }))
    }

    /// The Microsoft identity platform's v2 ID token for `client_id`: the
    /// user `oid` of tenant `tid`, signed in as `username` (Microsoft
    /// identity platform, "ID token claims reference").
    pub fn microsoft_id_token(client_id: &str, tid: &str, oid: &str, username: &str) -> String {
        id_token(&serde_json::json!({
            "ver": "2.0",
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "aud": client_id,
            "tid": tid,
            "oid": oid,
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "preferred_username": username,
            "name": "A Participant",
            "iat": in_an_hour() - 3600,
            "nbf": in_an_hour() - 3600,
            "exp": in_an_hour(),
        }))
    }

    /// A store holding `tokens` for `account`.
    pub async fn store_with(account: &str, tokens: OAuthTokens) -> Arc<MemoryTokenStore> {
        let store = Arc::new(MemoryTokenStore::new());
        store.put(account, tokens).await;
        store
    }

    /// Mounts on `server` a token endpoint at `at` (any path if `None`)
    /// that answers `answer` with `status`, and expects `times` requests.
    pub async fn token_endpoint(
        server: &MockServer,
        at: Option<&str>,
        status: u16,
        answer: serde_json::Value,
        times: u64,
    ) {
        let mock = Mock::given(method("POST"));
        let mock = match at {
            Some(at) => mock.and(path(at)),
            None => mock,
        };
        mock.respond_with(ResponseTemplate::new(status).set_body_json(answer))
            .expect(times)
            .mount(server)
            .await;
    }

    /// Mounts on `server` a token endpoint at `at` that takes exactly one
    /// refresh of `refresh_token` and answers it with `answer` after
    /// 100 ms (long enough for concurrent callers to pile up).
    pub async fn one_slow_refresh(
        server: &MockServer,
        at: &str,
        refresh_token: &str,
        answer: serde_json::Value,
    ) {
        Mock::given(method("POST"))
            .and(path(at))
            .and(body_string_contains("grant_type=refresh_token"))
            .and(body_string_contains(format!(
                "refresh_token={}",
                form_urlencoded::byte_serialize(refresh_token.as_bytes()).collect::<String>()
            )))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(std::time::Duration::from_millis(100))
                    .set_body_json(answer),
            )
            .expect(1)
            .mount(server)
            .await;
    }
}

#[cfg(feature = "jwt")]
pub use self::jwt::verify_rs256;

#[cfg(feature = "jwt")]
mod jwt {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::Value;

    /// Verifies a compact RS256 JWT with `public_key` (DER, RSA) and
    /// returns its header and claims.
    ///
    /// # Panics
    ///
    /// If it is not three parts, or the signature does not verify.
    pub fn verify_rs256(jwt: &str, public_key: &[u8]) -> (Value, Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public_key,
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the public key");
        let decode =
            |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (decode(parts[0]), decode(parts[1]))
    }
}
