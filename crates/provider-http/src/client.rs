//! One reqwest client set-up for every provider: rustls on ring, extra
//! roots, timeouts, no redirects.

use std::sync::Once;
use std::time::Duration;

use availability::SourceError;

/// Installs rustls' ring provider as the process default, once. Another
/// part of the process may have installed one already; any installed
/// provider will do.
pub fn install_ring_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The HTTP client could not be built (an extra root certificate that is
/// not DER, or the TLS set-up failed). Carries reqwest's message only.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    message: String,
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        Self {
            message: e.to_string(),
        }
    }
}

impl From<ClientError> for SourceError {
    /// A client that cannot be built is a transport failure.
    fn from(e: ClientError) -> Self {
        Self::Transport {
            message: e.message.clone(),
            source: Some(std::sync::Arc::new(e)),
        }
    }
}

/// How to build a provider's [`reqwest::Client`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions<'a> {
    /// The `User-Agent`, such as `scheduling-assistant-google/0.1.0`.
    pub user_agent: &'a str,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for one whole request, body included.
    pub timeout: Duration,
    /// Certificates (DER) trusted as roots besides the platform's: a test
    /// double, a private CA, a proxy that inspects TLS.
    pub extra_roots: &'a [Vec<u8>],
}

impl<'a> ClientOptions<'a> {
    /// Options with `user_agent`, the platform's roots only, and the
    /// token endpoints' timeouts (10 s to connect, 30 s a request).
    pub fn new(user_agent: &'a str) -> Self {
        Self {
            user_agent,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            extra_roots: &[],
        }
    }

    /// Sets [`connect_timeout`](Self::connect_timeout) and
    /// [`timeout`](Self::timeout).
    #[must_use]
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
    }

    /// Sets [`extra_roots`](Self::extra_roots).
    #[must_use]
    pub fn extra_roots(mut self, roots: &'a [Vec<u8>]) -> Self {
        self.extra_roots = roots;
        self
    }

    /// A reqwest client with these timeouts and roots, and redirects off
    /// (OAuth endpoints must not redirect: SSRF; CalDAV follows redirects
    /// by hand). Installs the ring provider first.
    ///
    /// # Errors
    ///
    /// [`ClientError`] if a root is not DER or the client cannot be built.
    pub fn build(&self) -> Result<reqwest::Client, ClientError> {
        install_ring_provider();
        let roots = self
            .extra_roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(reqwest::Client::builder()
            .tls_certs_merge(roots)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_that_is_not_der_is_refused_without_a_panic() {
        let roots = [b"not a certificate".to_vec()];
        let err = ClientOptions::new("test/0")
            .extra_roots(&roots)
            .build()
            .unwrap_err();
        let source: SourceError = err.into();
        assert!(matches!(source, SourceError::Transport { .. }), "{source}");
    }

    #[test]
    fn builds_with_the_platform_roots() {
        assert!(ClientOptions::new("test/0").build().is_ok());
    }

    /// The client follows no redirect, whatever reqwest's own rules for
    /// `Authorization` on a cross-host hop: a caller that follows them by
    /// hand (CalDAV) decides where credentials go (issue 25).
    #[tokio::test]
    async fn the_client_never_follows_a_redirect() {
        use wiremock::matchers::any;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let other = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .mount(&other)
            .await;
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(307).insert_header("Location", format!("{}/x", other.uri())),
            )
            .mount(&server)
            .await;
        let client = ClientOptions::new("test/0").build().unwrap();
        let response = client
            .get(server.uri())
            .basic_auth("ana", Some("pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 307);
        assert!(other.received_requests().await.unwrap().is_empty());
    }
}
