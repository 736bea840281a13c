use std::sync::Arc;

use availability::{AccountId, FreeBusySource, SourceErrorKind};
use google_provider::{GoogleOAuth, OAuthConfig, OAuthError, TokenSource, UserTokens};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{
    clock, config, google_id_token, one_day, one_slow_refresh, requests_seen, row, rows, secret,
    source, store_with, token_endpoint, tokens,
};

fn oauth(server: &MockServer) -> GoogleOAuth {
    GoogleOAuth::new(
        OAuthConfig::new(
            "client-123.apps.googleusercontent.com",
            Some(secret("client-secret")),
            "https://assistant.example/oauth/google/callback",
        )
        .with_endpoints(
            format!("{}/o/oauth2/v2/auth", server.uri()),
            format!("{}/token", server.uri()),
            format!("{}/revoke", server.uri()),
        ),
    )
    .unwrap()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The whole code flow against a wiremock authorization/token server:
/// the URL asks for offline access with PKCE, the state is checked, the
/// exchange sends the verifier, and revocation reaches the endpoint.
#[tokio::test]
async fn the_code_flow_end_to_end() {
    let server = MockServer::start().await;
    let oauth = oauth(&server);
    let pending = oauth.authorize(true);
    let q = query(&pending.url);
    assert!(
        pending
            .url
            .starts_with(&format!("{}/o/oauth2/v2/auth?", server.uri()))
    );
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "client-123.apps.googleusercontent.com");
    assert_eq!(
        q["redirect_uri"],
        "https://assistant.example/oauth/google/callback"
    );
    // Availability and who consented: no scope that reads events.
    assert_eq!(
        q["scope"],
        format!("{} openid email", google_provider::SCOPE_FREEBUSY)
    );
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["state"], pending.state.secret());
    assert!(!query(&oauth.authorize(false).url).contains_key("prompt"));

    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains(format!(
            "code_verifier={}",
            pending.pkce_verifier.secret()
        )))
        // Google's token answer with the ID token `openid` asks for.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.first", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": "1//refresh", "scope": google_provider::SCOPE_FREEBUSY,
            "id_token": google_id_token(
                "client-123.apps.googleusercontent.com",
                "110169484474386276334",
                "theo.r@gmail.com",
            ),
        })))
        .expect(1)
        .mount(&server)
        .await;
    // A forged or stale callback is refused before any exchange.
    let err = oauth
        .exchange(&pending, "someone-elses-state", "the-code")
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::StateMismatch));
    let tokens = oauth
        .exchange(&pending, pending.state.secret(), "the-code")
        .await
        .unwrap();
    assert_eq!(tokens.access_token.secret(), "ya29.first");
    assert_eq!(
        tokens.refresh_token.as_ref().unwrap().secret(),
        "1//refresh"
    );
    assert!(tokens.expires_at.is_some());
    assert_eq!(
        tokens.scopes,
        vec![google_provider::SCOPE_FREEBUSY.to_owned()]
    );
    let account = tokens.account.as_ref().unwrap();
    assert_eq!(account.subject, "110169484474386276334");
    assert_eq!(account.address.as_deref(), Some("theo.r@gmail.com"));

    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string_contains("token=1%2F%2Frefresh"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    oauth
        .revoke(tokens.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
}

/// An expired token, many concurrent queries: exactly one refresh, the
/// new tokens stored before use, every query answered.
#[tokio::test]
async fn concurrent_queries_cause_exactly_one_refresh() {
    let server = MockServer::start().await;
    one_slow_refresh(
        &server,
        "/token",
        "1//refresh",
        json!({"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "calendars": {"ana@example.org": {"busy": []}}
        })))
        .mount(&server)
        .await;
    let expired = tokens("ya29.old", "2025-03-03T07:00:00Z", "1//refresh");
    let store = store_with("ana@example.org", expired).await;
    let tokens = Arc::new(UserTokens::with_clock(
        Arc::new(oauth(&server)),
        store.clone(),
        clock(),
    ));
    let source = Arc::new(source(tokens, config(&server)));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            source.free_busy(&one_day(["ana@example.org"])).await
        }));
    }
    for task in tasks {
        let answer = task.await.unwrap().unwrap();
        assert!(answer.accounts[0].result.is_ok());
    }
    // Stored before use, keeping the refresh token Google did not resend.
    let stored = store.get(&AccountId::new("ana@example.org")).await.unwrap();
    assert_eq!(stored.access_token.secret(), "ya29.fresh");
    assert_eq!(stored.refresh_token.unwrap().secret(), "1//refresh");
}

/// The API refuses a token it once took (401): one refresh, then success.
#[tokio::test]
async fn a_401_refreshes_once_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.revoked-early"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": 401, "errors": [{"reason": "authError"}]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let answer = json!({"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"});
    token_endpoint(&server, Some("/token"), 200, answer, 1).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "calendars": {"ana@example.org": {"busy": [
                {"start": "2025-03-03T09:00:00+01:00", "end": "2025-03-03T10:00:00+01:00"}]}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let early = tokens("ya29.revoked-early", "2025-03-03T09:00:00Z", "1//refresh");
    let store = store_with("ana@example.org", early).await;
    let tokens = Arc::new(UserTokens::with_clock(
        Arc::new(oauth(&server)),
        store,
        clock(),
    ));
    let answer = source(tokens, config(&server))
        .free_busy(&one_day(["ana@example.org"]))
        .await
        .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![row("2025-03-03T08:00:00Z", "2025-03-03T09:00:00Z", "busy")]
    );
}

/// `invalid_grant`: the participant must reconnect; no retry loop.
#[tokio::test]
async fn invalid_grant_means_reconnect_and_is_not_retried() {
    let server = MockServer::start().await;
    let refusal = json!({
        "error": "invalid_grant", "error_description": "Token has been expired or revoked."
    });
    token_endpoint(&server, Some("/token"), 400, refusal, 1).await;
    let revoked = tokens("ya29.old", "2025-03-03T07:00:00Z", "1//revoked");
    let store = store_with("ana@example.org", revoked).await;
    let tokens = UserTokens::with_clock(Arc::new(oauth(&server)), store, clock());
    let err = tokens
        .token(&AccountId::new("ana@example.org"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Unauthorized);
    assert!(err.needs_reconnect());
    assert!(!err.to_string().contains("1//revoked"));
    // Not connected at all: also a reconnect, without a request.
    let err = tokens
        .token(&AccountId::new("nobody@example.org"))
        .await
        .unwrap_err();
    assert!(err.needs_reconnect());
}

/// A stored access token that is still good is used as is: no request to
/// the token endpoint.
#[tokio::test]
async fn a_good_stored_token_is_used_without_refreshing() {
    let server = MockServer::start().await;
    token_endpoint(&server, Some("/token"), 500, json!({}), 0).await;
    let good = tokens("ya29.good", "2025-03-03T09:00:00Z", "1//refresh");
    let store = store_with("ana@example.org", good).await;
    let tokens = UserTokens::with_clock(Arc::new(oauth(&server)), store, clock());
    let token = tokens
        .token(&AccountId::new("ana@example.org"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "ya29.good");
    assert!(!format!("{token:?}").contains("ya29"));
}

/// A participant enrolled as one address who consented with another: the
/// ID token names the consenting account, and freeBusy asks for *its*
/// calendar with its own token (never the enrolled address, which the
/// token might see as somebody else's). An ID token for another client is
/// refused, and the exchange with it.
#[tokio::test]
async fn the_consenting_accounts_calendar_is_read() {
    let server = MockServer::start().await;
    let oauth = Arc::new(oauth(&server));
    let pending = oauth.authorize(true);
    token_endpoint(
        &server,
        Some("/token"),
        200,
        json!({
            "access_token": "ya29.theo", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": "1//theo",
            "id_token": google_id_token(
                "client-123.apps.googleusercontent.com", "sub-theo", "theo.r@gmail.com"),
        }),
        1,
    )
    .await;
    let connected = oauth
        .exchange(&pending, pending.state.secret(), "code")
        .await
        .unwrap();
    let store = store_with("theo@school.edu", connected).await;
    let tokens = Arc::new(UserTokens::with_clock(oauth.clone(), store, clock()));
    // freebusy.query as documented: items by calendar id, answered by id.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.theo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"theo.r@gmail.com": {"busy": [
                {"start": "2025-03-03T10:00:00Z", "end": "2025-03-03T11:00:00Z"}
            ]}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(tokens, config(&server));
    let answer = source
        .free_busy(&one_day(["theo@school.edu"]))
        .await
        .unwrap();
    let busy = answer.accounts[0].result.as_ref().unwrap();
    assert_eq!(
        rows(busy),
        vec![row("2025-03-03T10:00:00Z", "2025-03-03T11:00:00Z", "busy")]
    );
    let seen = requests_seen(&server).await;
    let asked = seen
        .iter()
        .find(|r| r.url.path() == "/calendar/v3/freeBusy")
        .unwrap();
    let asked: serde_json::Value = serde_json::from_slice(&asked.body).unwrap();
    assert_eq!(asked["items"], json!([{"id": "theo.r@gmail.com"}]));

    // An ID token minted for another client names nobody we may trust.
    let server = MockServer::start().await;
    let oauth = oauth_for(&server);
    let pending = oauth.authorize(true);
    token_endpoint(
        &server,
        Some("/token"),
        200,
        json!({
            "access_token": "ya29.x", "token_type": "Bearer",
            "id_token": google_id_token("another-client", "sub-x", "x@gmail.com"),
        }),
        1,
    )
    .await;
    let err = oauth
        .exchange(&pending, pending.state.secret(), "code")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another client"), "{err}");
    assert!(!err.to_string().contains("x@gmail.com"), "{err}");
}

fn oauth_for(server: &MockServer) -> GoogleOAuth {
    oauth(server)
}
