//! TLS is rustls with certificate validation on: a server on loopback with
//! a self-signed certificate is refused by the Google and CalDAV sources
//! (a transport error, nothing sent past the handshake), and accepted only
//! when its certificate is given as an extra root.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use availability::{
    AccountId, FreeBusyRequest, FreeBusySource, Interval, SourceErrorKind, StaticToken,
};
use caldav_provider::{CalDavConfig, CalDavLogin, CalDavSource, Password, StaticLogins};
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

/// An HTTPS server for `localhost` with a fresh self-signed certificate,
/// answering every request with Google's freeBusy JSON for `a@example.org`.
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
                let body = r#"{"kind":"calendar#freeBusy","calendars":{"a@example.org":{"busy":[{"start":"2026-03-02T09:00:00Z","end":"2026-03-02T10:00:00Z"}]}}}"#;
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
