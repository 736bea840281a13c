//! TLS is rustls with certificate validation on: a server on loopback with
//! a self-signed certificate is refused by the Google, Graph and CalDAV
//! sources, by the OAuth token clients (Google, Microsoft, Google service
//! accounts) and by the organisation integrations (a transport error,
//! nothing sent past the handshake), and accepted only when its
//! certificate is given as an extra root.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use availability::{
    AccountId, FreeBusyRequest, FreeBusySource, Interval, SourceErrorKind, StaticToken,
    TokenSource as _,
};
use caldav_provider::{CalDavConfig, CalDavLogin, CalDavSource, Password, StaticLogins};
use google_provider::Refresh as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct TlsServer {
    base: String,
    cert: Vec<u8>,
    /// Requests that got past the handshake.
    served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTPS server for `localhost` with a fresh self-signed certificate.
/// It answers a request whose path ends in `/token` with an OAuth token
/// (RFC 6749 §5.1), one whose path ends in `/getSchedule` with Graph's
/// getSchedule JSON and every other request with Google's freeBusy JSON,
/// both for `a@example.org`, busy 09:00 to 10:00 UTC on 2 March 2026.
async fn tls_server() -> TlsServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.clone())], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, counter) = (acceptor.clone(), counter.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 65_536];
                let mut read = 0;
                while let Ok(n) = tls.read(&mut buf[read..]).await {
                    if n == 0 {
                        return;
                    }
                    read += n;
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") || read == buf.len() {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..read]);
                let path = head.split(' ').nth(1).unwrap_or("");
                let path = path.split('?').next().unwrap_or("");
                let body = if path.ends_with("/token") {
                    r#"{"access_token":"ya29.tls","expires_in":3600,"token_type":"Bearer","refresh_token":"1//tls"}"#
                } else if path.ends_with("/getSchedule") {
                    r#"{"value":[{"scheduleId":"a@example.org","availabilityView":"0","scheduleItems":[{"status":"busy","start":{"dateTime":"2026-03-02T09:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-03-02T10:00:00.0000000","timeZone":"UTC"}}]}]}"#
                } else {
                    r#"{"kind":"calendar#freeBusy","calendars":{"a@example.org":{"busy":[{"start":"2026-03-02T09:00:00Z","end":"2026-03-02T10:00:00Z"}]}}}"#
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        base: format!("https://localhost:{port}"),
        cert,
        served,
        task,
    }
}

fn week() -> Interval {
    Interval::new(1_772_409_600, 1_772_409_600 + 5 * 86_400).unwrap()
}

#[tokio::test]
async fn google_refuses_a_self_signed_server_unless_its_root_is_given() {
    let server = tls_server().await;
    let request = FreeBusyRequest::new(week(), [AccountId::new("a@example.org")]);
    let plain = google_provider::GoogleSource::new(
        Arc::new(StaticToken::new("ya29.tls")),
        google_provider::GoogleConfig::default()
            .base_url(server.base.clone())
            .retry(availability::RetryConfig::none()),
    )
    .unwrap();
    let refused = match plain.free_busy(&request).await {
        Err(e) => e,
        Ok(answer) => answer.accounts[0].result.clone().unwrap_err(),
    };
    assert_eq!(refused.kind(), SourceErrorKind::Transport, "{refused}");
    assert_eq!(
        server.served.load(Ordering::SeqCst),
        0,
        "no request past the handshake"
    );

    let trusting = google_provider::GoogleSource::new(
        Arc::new(StaticToken::new("ya29.tls")),
        google_provider::GoogleConfig::default()
            .base_url(server.base.clone())
            .add_root_certificate(server.cert.clone()),
    )
    .unwrap();
    let answer = trusting.free_busy(&request).await.unwrap();
    let busy = answer.accounts[0].result.as_ref().unwrap();
    assert_eq!(busy.entries().len(), 1);
    assert_eq!(server.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn caldav_refuses_a_self_signed_server_unless_its_root_is_given() {
    let server = tls_server().await;
    let login = CalDavLogin::new(format!("{}/", server.base), "ana", Password::new("app-pw"));
    let plain = CalDavSource::new(Arc::new(StaticLogins::new())).unwrap();
    let refused = plain.discover(&login).await.unwrap_err();
    assert_eq!(refused.kind(), SourceErrorKind::Transport, "{refused}");
    assert!(!refused.to_string().contains("app-pw"));
    assert_eq!(
        server.served.load(Ordering::SeqCst),
        0,
        "the password never left"
    );

    let trusting = CalDavSource::with_config(
        Arc::new(StaticLogins::new()),
        CalDavConfig::default().add_root_certificate(server.cert.clone()),
    )
    .unwrap();
    // Past the handshake the server's answer is not WebDAV: a typed
    // error other than the transport's.
    let answer = trusting.discover(&login).await;
    assert!(server.served.load(Ordering::SeqCst) >= 1);
    if let Err(e) = answer {
        assert_ne!(e.kind(), SourceErrorKind::Transport, "{e}");
    }
}

#[tokio::test]
async fn graph_refuses_a_self_signed_server_unless_its_root_is_given() {
    let server = tls_server().await;
    let request = FreeBusyRequest::new(week(), [AccountId::new("a@example.org")]);
    let source = |config: graph_provider::GraphConfig| {
        graph_provider::GraphSource::new(
            Arc::new(StaticToken::new("eyJ.tls")),
            config
                .base_url(format!("{}/v1.0", server.base))
                .retry(availability::RetryConfig::none()),
        )
        .unwrap()
    };
    let kind = |r: Result<availability::FreeBusyResponse, availability::SourceError>| match r {
        Err(e) => e.kind(),
        Ok(answer) => answer.accounts[0]
            .result
            .as_ref()
            .map_or_else(|e| e.kind(), |_| SourceErrorKind::NotFound),
    };
    let plain = source(graph_provider::GraphConfig::default());
    assert_eq!(
        kind(plain.free_busy(&request).await),
        SourceErrorKind::Transport
    );
    assert_eq!(server.served.load(Ordering::SeqCst), 0);
    let trusting =
        source(graph_provider::GraphConfig::default().add_root_certificate(server.cert.clone()));
    // Past the handshake the answer is Google's JSON, not Graph's.
    assert_ne!(
        kind(trusting.free_busy(&request).await),
        SourceErrorKind::Transport
    );
    assert_eq!(server.served.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn oauth_token_clients_refuse_a_self_signed_server_unless_its_root_is_given() {
    let server = tls_server().await;
    let served = || server.served.load(Ordering::SeqCst);
    let now = jiff::Timestamp::from_second(1_772_409_600).unwrap();
    let refresh = credential_vault::OAuthTokens::new("expired".into())
        .with_refresh_token(credential_vault::SecretString::new("1//old".into()));

    // Google's OAuth client.
    let google = |roots: &[Vec<u8>]| {
        let mut config =
            google_provider::OAuthConfig::new("client", None, "http://127.0.0.1/callback")
                .with_endpoints(
                    format!("{}/auth", server.base),
                    format!("{}/token", server.base),
                    format!("{}/revoke", server.base),
                );
        for der in roots {
            config = config.add_root_certificate(der.clone());
        }
        google_provider::GoogleOAuth::new(config).unwrap()
    };
    let refused = google(&[]).refresh(&refresh, now).await.unwrap_err();
    assert_eq!(refused.kind(), SourceErrorKind::Transport, "{refused}");
    assert!(!refused.to_string().contains("1//old"));
    assert_eq!(served(), 0, "the refresh token never left");
    let fresh = google(std::slice::from_ref(&server.cert))
        .refresh(&refresh, now)
        .await
        .unwrap();
    assert_eq!(fresh.access_token.secret(), "ya29.tls");
    assert_eq!(served(), 1);

    // Microsoft's.
    let graph = |roots: &[Vec<u8>]| {
        let mut config =
            graph_provider::AuthConfig::new("client", graph_provider::Tenant::common())
                .authority(server.base.clone())
                .redirect_uri("http://127.0.0.1/callback");
        for der in roots {
            config = config.add_root_certificate(der.clone());
        }
        graph_provider::GraphOAuth::new(config).unwrap()
    };
    let refused = graph(&[]).refresh(&refresh, now).await.unwrap_err();
    assert_eq!(refused.kind(), SourceErrorKind::Transport, "{refused}");
    assert_eq!(served(), 1);
    let fresh = graph(std::slice::from_ref(&server.cert))
        .refresh(&refresh, now)
        .await
        .unwrap();
    assert_eq!(fresh.refresh_token.unwrap().secret(), "1//tls");
    assert_eq!(served(), 2);

    // A Google service account's JWT-bearer grant.
    let account = || {
        Arc::new(
            google_provider::ServiceAccount::from_json(&service_account_key())
                .unwrap()
                .with_token_uri(format!("{}/token", server.base)),
        )
    };
    let scopes = vec![google_provider::SCOPE_FREEBUSY.to_owned()];
    let plain = google_provider::ServiceAccountTokens::new(account(), scopes.clone()).unwrap();
    let refused = plain
        .token(&AccountId::new("a@example.org"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), SourceErrorKind::Transport, "{refused}");
    assert_eq!(served(), 2, "no assertion left");
    let trusting = google_provider::ServiceAccountTokens::new(account(), scopes)
        .unwrap()
        .with_root_certificates(std::slice::from_ref(&server.cert))
        .unwrap();
    let token = trusting
        .token(&AccountId::new("a@example.org"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "ya29.tls");
    assert_eq!(served(), 3);

    // Not DER: a typed error, not a panic.
    assert!(matches!(
        google_provider::GoogleOAuth::new(
            google_provider::OAuthConfig::new("c", None, "http://127.0.0.1/cb")
                .add_root_certificate(b"not a certificate".to_vec())
        ),
        Err(google_provider::OAuthError::Client(_))
    ));
}

/// The test service account's key (org-wide-auth's fixture).
fn service_account_key() -> credential_vault::SecretString {
    credential_vault::SecretString::new(
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/org-wide-auth/tests/test-service-account.json"),
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn google_workspace_trusts_the_extra_root_for_tokens_and_api_and_after_a_restore() {
    use org_wide_auth::{Coverage, GoogleWorkspace, OrgAuth};
    let server = tls_server().await;
    let served = || server.served.load(Ordering::SeqCst);
    let vault = Arc::new(credential_vault::Vault::new(
        Arc::new(credential_vault::MemoryStore::new()),
        credential_vault::KeyRing::new(credential_vault::MasterKey::from_bytes(
            credential_vault::KeyId(1),
            [3; 32],
        )),
    ));
    let clock: Arc<dyn availability::Clock> = Arc::new(availability::SystemClock);
    let config = || {
        GoogleWorkspace::new(
            service_account_key(),
            "a@example.org",
            Coverage::domains(["example.org"]),
        )
        .endpoints(format!("{}/token", server.base), server.base.clone())
    };
    let org = OrgAuth::new(vault.clone(), clock.clone());
    // Without the root the validation call fails at the handshake.
    assert!(org.enable_google(config()).await.is_err());
    assert_eq!(served(), 0);
    org.enable_google(config().add_root_certificate(server.cert.clone()))
        .await
        .unwrap();
    // The validation made a token request and a freeBusy request.
    assert_eq!(served(), 2);

    // The root is kept in the settings (base64 in JSON) and used again
    // after a restart: restore, then a read through the integration.
    let stored = serde_json::to_string(&org.settings().await).unwrap();
    let settings: Vec<org_wide_auth::IntegrationSettings> = serde_json::from_str(&stored).unwrap();
    let restarted = OrgAuth::new(vault, clock);
    restarted.restore(&settings[0]).await.unwrap();
    let source = restarted
        .source(org_wide_auth::IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            week(),
            [AccountId::new("a@example.org")],
        ))
        .await
        .unwrap();
    assert_eq!(
        answer.accounts[0].result.as_ref().unwrap().entries().len(),
        1
    );
    assert_eq!(served(), 4);
}

#[tokio::test]
async fn exchange_online_trusts_the_extra_root_for_tokens_and_api_and_after_a_restore() {
    use org_wide_auth::{Coverage, ExchangeOnline, OrgAuth};
    let server = tls_server().await;
    let served = || server.served.load(Ordering::SeqCst);
    let vault = Arc::new(credential_vault::Vault::new(
        Arc::new(credential_vault::MemoryStore::new()),
        credential_vault::KeyRing::new(credential_vault::MasterKey::from_bytes(
            credential_vault::KeyId(1),
            [3; 32],
        )),
    ));
    let clock: Arc<dyn availability::Clock> = Arc::new(availability::SystemClock);
    let config = || {
        ExchangeOnline::new(
            "contoso.onmicrosoft.com",
            "11111111-2222-3333-4444-555555555555",
            credential_vault::AppSecret::ClientSecret(credential_vault::SecretString::new(
                "app-secret".to_owned(),
            )),
            "a@example.org",
            Coverage::domains(["example.org"]),
        )
        .endpoints(server.base.clone(), format!("{}/v1.0", server.base))
    };
    let org = OrgAuth::new(vault.clone(), clock.clone());
    // Without the root the validation call fails at the handshake.
    assert!(org.enable_exchange_online(config()).await.is_err());
    assert_eq!(served(), 0);
    org.enable_exchange_online(config().add_root_certificate(server.cert.clone()))
        .await
        .unwrap();
    // The validation made a token request and a getSchedule request.
    assert_eq!(served(), 2);

    // The root is kept in the settings and used again after a restart.
    let stored = serde_json::to_string(&org.settings().await).unwrap();
    let settings: Vec<org_wide_auth::IntegrationSettings> = serde_json::from_str(&stored).unwrap();
    let restarted = OrgAuth::new(vault, clock);
    restarted.restore(&settings[0]).await.unwrap();
    let source = restarted
        .source(org_wide_auth::IntegrationKind::ExchangeOnline)
        .await
        .unwrap();
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            week(),
            [AccountId::new("a@example.org")],
        ))
        .await
        .unwrap();
    let entries = answer.accounts[0].result.as_ref().unwrap().entries();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.kind, e.interval))
            .collect::<Vec<_>>(),
        vec![(
            availability::BusyKind::Busy,
            Interval::new(1_772_442_000, 1_772_445_600).unwrap()
        )]
    );
    assert_eq!(served(), 4);
}
