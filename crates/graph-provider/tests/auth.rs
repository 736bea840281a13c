use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use availability::{AccountId, SourceError, SourceErrorKind, TokenSource};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credential_vault::OAuthTokens;
use graph_provider::{
    AppTokens, AuthConfig, Certificate, GraphOAuth, MemoryTokenStore, Tenant, UserTokens,
    VersionedTokenStore,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{
    clock, config, form, microsoft_id_token, one_slow_refresh, requests_seen, row, rows, secret,
    source, store_with, token_endpoint, tokens, verify_rs256, window,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn oauth(server: &MockServer, tenant: Tenant) -> GraphOAuth {
    GraphOAuth::new(
        AuthConfig::new("11111111-2222-3333-4444-555555555555", tenant)
            .authority(server.uri())
            .redirect_uri("https://assistant.example/oauth/microsoft/callback")
            .client_secret(secret("app-secret")),
    )
    .unwrap()
}

#[tokio::test]
async fn delegated_code_flow_asks_openid_offline_access_calendars_readbasic_with_pkce() {
    let server = MockServer::start().await;
    let oauth = oauth(&server, Tenant::organizations());
    let pending = oauth.authorize();
    let url = reqwest::Url::parse(&pending.url).unwrap();
    assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q["scope"],
        "openid profile email offline_access Calendars.ReadBasic"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], pending.state.secret());
    Mock::given(method("POST"))
        .and(path("/organizations/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("client_secret=app-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "scope": "Calendars.ReadBasic", "expires_in": 3599,
            "access_token": "eyJ.first", "refresh_token": "M.R3_first",
            "id_token": microsoft_id_token(
                "11111111-2222-3333-4444-555555555555",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "00000000-0000-0000-aaaa-000000000001",
                "adele@contoso.com",
            ),
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert!(oauth.exchange(&pending, "forged", "code").await.is_err());
    let tokens = oauth
        .exchange(&pending, pending.state.secret(), "code")
        .await
        .unwrap();
    let account = tokens.account.as_ref().unwrap();
    assert_eq!(account.subject, "00000000-0000-0000-aaaa-000000000001");
    assert_eq!(
        account.tenant.as_deref(),
        Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
    );
    assert_eq!(account.address.as_deref(), Some("adele@contoso.com"));
    assert_eq!(tokens.refresh_token.unwrap().secret(), "M.R3_first");
    let sent = form(&requests_seen(&server).await[0]);
    assert_eq!(sent["code_verifier"], pending.pkce_verifier.secret());
}

/// Refresh tokens rotate on every use: twenty concurrent callers cause one
/// refresh, and the new refresh token is stored before the access token is
/// used.
#[tokio::test]
async fn one_refresh_for_many_callers_and_the_rotated_token_is_stored() {
    let server = MockServer::start().await;
    let rotated = json!({
        "token_type": "Bearer", "expires_in": 3599,
        "access_token": "eyJ.new", "refresh_token": "M.R3_rotated"
    });
    one_slow_refresh(&server, "/common/oauth2/v2.0/token", "M.R3_old", rotated).await;
    let old = tokens("eyJ.old", "2025-03-03T07:00:00Z", "M.R3_old");
    let store = store_with("adele@contoso.com", old).await;
    let tokens = Arc::new(UserTokens::with_clock(
        Arc::new(oauth(&server, Tenant::common())),
        store.clone(),
        clock(),
    ));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            tokens.token(&AccountId::new("adele@contoso.com")).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().secret(), "eyJ.new");
    }
    let stored = store
        .get(&AccountId::new("adele@contoso.com"))
        .await
        .unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "M.R3_rotated");
}

/// A store where another instance refreshes first: our compare-and-set
/// fails, and the other instance's newer tokens are used (never our
/// now-stale ones, never an overwrite of theirs).
#[derive(Debug)]
struct RacedStore {
    inner: MemoryTokenStore,
    raced: AtomicUsize,
}

#[async_trait]
impl VersionedTokenStore for RacedStore {
    async fn load(&self, account: &AccountId) -> Result<(OAuthTokens, u64), SourceError> {
        self.inner.load(account).await
    }

    async fn replace(
        &self,
        account: &AccountId,
        tokens: &OAuthTokens,
        expected: u64,
    ) -> Result<bool, SourceError> {
        if self.raced.fetch_add(1, Ordering::SeqCst) == 0 {
            let theirs = crate::common::tokens("eyJ.theirs", "2025-03-03T09:00:00Z", "M.R3_theirs");
            self.inner.put(account.clone(), theirs).await;
        }
        self.inner.replace(account, tokens, expected).await
    }
}

#[tokio::test]
async fn a_lost_compare_and_set_uses_the_winners_tokens() {
    let server = MockServer::start().await;
    let ours = json!({
        "token_type": "Bearer", "expires_in": 3599,
        "access_token": "eyJ.ours", "refresh_token": "M.R3_ours"
    });
    token_endpoint(&server, None, 200, ours, 1).await;
    let store = Arc::new(RacedStore {
        inner: MemoryTokenStore::new(),
        raced: AtomicUsize::new(0),
    });
    let old = tokens("eyJ.old", "2025-03-03T07:00:00Z", "M.R3_old");
    store.inner.put("adele@contoso.com", old).await;
    let tokens = UserTokens::with_clock(
        Arc::new(oauth(&server, Tenant::common())),
        store.clone(),
        clock(),
    );
    let token = tokens
        .token(&AccountId::new("adele@contoso.com"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "eyJ.theirs");
    let stored = store
        .inner
        .get(&AccountId::new("adele@contoso.com"))
        .await
        .unwrap();
    assert_eq!(stored.refresh_token.unwrap().secret(), "M.R3_theirs");
}

#[tokio::test]
async fn invalid_grant_means_reconnect() {
    let server = MockServer::start().await;
    let refusal = json!({
        "error": "invalid_grant", "error_description": "AADSTS70008: The refresh token has expired"
    });
    token_endpoint(&server, None, 400, refusal, 1).await;
    let dead = tokens("eyJ.old", "2025-03-03T07:00:00Z", "M.R3_dead");
    let store = store_with("adele@contoso.com", dead).await;
    let tokens = UserTokens::with_clock(Arc::new(oauth(&server, Tenant::common())), store, clock());
    let err = tokens
        .token(&AccountId::new("adele@contoso.com"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), SourceErrorKind::Unauthorized);
    assert!(!err.to_string().contains("M.R3_dead"));
}

#[tokio::test]
async fn app_only_with_a_secret_once_for_every_mailbox() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(|r: &Request| {
            let f = form(r);
            assert_eq!(f["grant_type"], "client_credentials");
            assert_eq!(f["scope"], "https://graph.microsoft.com/.default");
            assert_eq!(f["client_secret"], "app-secret");
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app"
            }))
        })
        .expect(1)
        .mount(&server)
        .await;
    let oauth = Arc::new(oauth(&server, Tenant("contoso.onmicrosoft.com".to_owned())));
    let tokens = AppTokens::with_secret(oauth.clone(), clock());
    for who in [
        "adele@contoso.com",
        "meganb@contoso.com",
        "alex@contoso.com",
    ] {
        assert_eq!(
            tokens.token(&AccountId::new(who)).await.unwrap().secret(),
            "eyJ.app"
        );
    }
    let consent = AuthConfig::new(
        "11111111-2222-3333-4444-555555555555",
        Tenant("contoso.onmicrosoft.com".to_owned()),
    )
    .admin_consent_url("https://assistant.example/admin/consent", "st4te");
    assert!(consent.starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?client_id=11111111-2222-3333-4444-555555555555&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"));
}

/// The app-only token is kept until five minutes before it expires: with
/// `expires_in: 3600`, still cached at +3000 s, renewed at +3400 s.
#[tokio::test]
async fn the_app_token_is_renewed_five_minutes_before_expiry() {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    let count = issued.clone();
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(move |_: &Request| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3600, "access_token": format!("eyJ.app{n}")
            }))
        })
        .mount(&server)
        .await;
    let oauth = Arc::new(oauth(&server, Tenant("contoso.onmicrosoft.com".to_owned())));
    let now = clock();
    let tokens = AppTokens::with_secret(oauth, now.clone());
    let adele = AccountId::new("adele@contoso.com");
    assert_eq!(tokens.token(&adele).await.unwrap().secret(), "eyJ.app1");
    now.advance(3000);
    assert_eq!(tokens.token(&adele).await.unwrap().secret(), "eyJ.app1");
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    now.advance(400);
    assert_eq!(tokens.token(&adele).await.unwrap().secret(), "eyJ.app2");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

/// Certificate credentials: the client assertion verifies with the
/// certificate's public key and names it by its SHA-1 thumbprint.
#[tokio::test]
async fn app_only_with_a_certificate_sends_a_verifiable_assertion() {
    let server = MockServer::start().await;
    let token_url = format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", server.uri());
    let expected_aud = token_url.clone();
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(move |r: &Request| {
            let f = form(r);
            assert_eq!(
                f["client_assertion_type"],
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            );
            assert!(!f.contains_key("client_secret"));
            let (header, claims) =
                verify_rs256(&f["client_assertion"], &fixture("test-app-public.der"));
            let thumb = ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                &fixture("test-app-cert.der"),
            );
            assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(thumb.as_ref()));
            assert_eq!(claims["aud"], expected_aud.as_str());
            assert_eq!(claims["iss"], "11111111-2222-3333-4444-555555555555");
            assert_eq!(claims["sub"], "11111111-2222-3333-4444-555555555555");
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.cert"
            }))
        })
        .expect(1)
        .mount(&server)
        .await;
    let oauth = Arc::new(
        GraphOAuth::new(
            AuthConfig::new(
                "11111111-2222-3333-4444-555555555555",
                Tenant("contoso.onmicrosoft.com".to_owned()),
            )
            .authority(server.uri()),
        )
        .unwrap(),
    );
    let cert =
        Certificate::from_der(&fixture("test-app-key.pk8"), &fixture("test-app-cert.der")).unwrap();
    assert!(!format!("{cert:?}").contains("PRIVATE"));
    let tokens = AppTokens::with_certificate(oauth, cert, clock());
    assert_eq!(
        tokens
            .token(&AccountId::new("adele@contoso.com"))
            .await
            .unwrap()
            .secret(),
        "eyJ.cert"
    );
    let _ = token_url;
}

const APP: &str = "11111111-2222-3333-4444-555555555555";

/// Connects through `server`'s token endpoint, which answers with an ID
/// token for `tid`/`oid`/`username`; the tokens are stored for `enrolled`.
async fn connected(
    server: &MockServer,
    enrolled: &str,
    tid: &str,
    oid: &str,
    username: &str,
) -> Arc<UserTokens> {
    let oauth = Arc::new(oauth(server, Tenant::common()));
    let pending = oauth.authorize();
    token_endpoint(
        server,
        Some("/common/oauth2/v2.0/token"),
        200,
        json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.own",
            "refresh_token": "M.R3_own", "id_token": microsoft_id_token(APP, tid, oid, username),
        }),
        1,
    )
    .await;
    let t = oauth
        .exchange(&pending, pending.state.secret(), "code")
        .await
        .unwrap();
    let store = store_with(enrolled, t).await;
    Arc::new(UserTokens::with_clock(oauth, store, clock()))
}

/// A work account that consented under another address than the one
/// enrolled: getSchedule is asked at that user's own id (`oid`) for the
/// address the ID token names, and its answer is matched by that address
/// (getSchedule: `POST /users/{id|userPrincipalName}/calendar/getSchedule`).
#[tokio::test]
async fn a_work_account_reads_the_consenting_users_schedule() {
    let server = MockServer::start().await;
    let tokens = connected(
        &server,
        "theo@school.edu",
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "00000000-0000-0000-aaaa-000000000002",
        "theo.r@contoso.com",
    )
    .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1.0/users/00000000-0000-0000-aaaa-000000000002/calendar/getSchedule",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{
                "scheduleId": "Theo.R@contoso.com",
                "availabilityView": "2",
                "scheduleItems": [{
                    "status": "busy",
                    "start": {"dateTime": "2025-03-03T10:00:00.0000000", "timeZone": "UTC"},
                    "end": {"dateTime": "2025-03-03T11:00:00.0000000", "timeZone": "UTC"}
                }]
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(tokens, config(&server));
    let answer = availability::FreeBusySource::free_busy(
        &source,
        &availability::FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
            ["theo@school.edu"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![row("2025-03-03T10:00:00Z", "2025-03-03T11:00:00Z", "busy")]
    );
    let seen = requests_seen(&server).await;
    let asked = seen
        .iter()
        .find(|r| r.url.path().ends_with("getSchedule"))
        .unwrap();
    let asked: serde_json::Value = serde_json::from_slice(&asked.body).unwrap();
    assert_eq!(asked["schedules"], json!(["theo.r@contoso.com"]));
}

/// A personal account (the consumer tenant) has no getSchedule: the
/// default mode reads it through `/me/calendarView` with its own token,
/// while the same source still asks getSchedule for work accounts.
#[tokio::test]
async fn a_personal_account_is_read_through_calendar_view_automatically() {
    let server = MockServer::start().await;
    let tokens = connected(
        &server,
        "mia@school.edu",
        graph_provider::CONSUMER_TENANT,
        "00000000-0000-0000-66f3-3332eca7ea81",
        "mia.k@outlook.com",
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/calendarView"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer eyJ.own",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [
                {"start": {"dateTime": "2025-03-03T14:00:00.0000000", "timeZone": "UTC"},
                 "end": {"dateTime": "2025-03-03T15:00:00.0000000", "timeZone": "UTC"},
                 "showAs": "oof", "isAllDay": false, "isCancelled": false}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let source = source(tokens, config(&server));
    let answer = availability::FreeBusySource::free_busy(
        &source,
        &availability::FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-04T00:00:00Z"),
            ["mia@school.edu"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![row(
            "2025-03-03T14:00:00Z",
            "2025-03-03T15:00:00Z",
            "out_of_office"
        )]
    );
}

/// A connection stored before accounts were learned learns its account at
/// its next refresh (the refresh asks for `openid`; Microsoft's answer then
/// carries an ID token), and a refresh whose answer has none keeps the
/// account already known.
#[tokio::test]
async fn a_refresh_learns_the_account_and_keeps_it() {
    let server = MockServer::start().await;
    let old = tokens("eyJ.old", "2025-03-03T07:00:00Z", "M.R3_old");
    assert!(old.account.is_none());
    let store = store_with("adele@contoso.com", old).await;
    Mock::given(method("POST"))
        .and(path("/common/oauth2/v2.0/token"))
        .and(body_string_contains("refresh_token=M.R3_old"))
        .and(body_string_contains("scope=openid+profile+email"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 1, "access_token": "eyJ.new",
            "refresh_token": "M.R3_new",
            "id_token": microsoft_id_token(
                APP,
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "00000000-0000-0000-aaaa-000000000003",
                "adele.v@contoso.com",
            ),
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/common/oauth2/v2.0/token"))
        .and(body_string_contains("refresh_token=M.R3_new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.newer",
            "refresh_token": "M.R3_newer",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = UserTokens::with_clock(
        Arc::new(oauth(&server, Tenant::common())),
        store.clone(),
        clock(),
    );
    let adele = AccountId::new("adele@contoso.com");
    let first = tokens.token(&adele).await.unwrap();
    assert_eq!(first.reads(&adele), "adele.v@contoso.com");
    // The one-second token is already stale: the next call refreshes again.
    let second = tokens.token(&adele).await.unwrap();
    assert_eq!(second.secret(), "eyJ.newer");
    assert_eq!(second.reads(&adele), "adele.v@contoso.com");
    let stored = store.get(&adele).await.unwrap();
    assert_eq!(
        stored.account.unwrap().subject,
        "00000000-0000-0000-aaaa-000000000003"
    );
}
