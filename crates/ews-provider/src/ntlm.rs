//! NTLM over one connection of our own.
//!
//! NTLM authenticates a connection, not a request ([MS-NLMP] 1.3; HTTP's
//! use of it in [MS-NTHT] 2.1): the NEGOTIATE message (Type 1), the
//! server's 401 with `WWW-Authenticate: NTLM <CHALLENGE>` (Type 2), the
//! AUTHENTICATE message (Type 3) and the request it authenticates must
//! travel over the same TCP (or TLS) connection. A pooled client may
//! send the second request on another connection, so each request here
//! opens its own hyper HTTP/1.1 connection (plain TCP, or rustls on ring
//! verifying against the platform's roots plus
//! [`HttpSettings::extra_root_certificates`]), does the handshake and the
//! request on it, and closes it. Keeping an authenticated connection
//! alive for the next request is not done: two round trips a request,
//! which for free/busy batches of 100 mailboxes costs little.
//!
//! The messages are `ntlmclient`'s (NTLMv2 responses).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use availability::{RetryConfig, SourceError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use provider_http::{BuildError, HttpSettings, Paced, Reply};
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroize as _;

use crate::EwsLogin;
use crate::http::{CONTENT_TYPE, EWS, SOAP_ACTION, USER_AGENT, classify, wait_for};

/// The NTLM path's client: where to connect and how.
#[derive(Clone)]
pub(crate) struct NtlmClient {
    url: reqwest::Url,
    host: String,
    port: u16,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for NtlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NtlmClient")
            .field("url", &self.url.as_str())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Aborts the connection's task when the request is done or dropped (a
/// timeout), so a stalled server holds nothing.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn transport(message: impl Into<String>) -> SourceError {
    SourceError::Transport {
        message: message.into(),
        source: None,
    }
}

fn hyper_error(e: hyper::Error) -> SourceError {
    let message = format!("the connection to {} failed: {e}", EWS.name());
    SourceError::Transport {
        message,
        source: Some(Arc::new(e)),
    }
}

impl NtlmClient {
    /// A client for `url` (checked: http or https with a host) with
    /// `http`'s timeouts and roots.
    pub(crate) fn new(url: &reqwest::Url, http: &HttpSettings) -> Result<Self, BuildError> {
        let bad = |m: &str| BuildError::new("EWS", m);
        let host = url
            .host_str()
            .ok_or_else(|| bad("the EWS endpoint has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("the EWS endpoint has no port"))?;
        let tls = if url.scheme() == "https" {
            provider_http::install_ring_provider();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = http
                .extra_root_certificates
                .iter()
                .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
                .collect::<Vec<_>>();
            let verifier =
                rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
                    .map_err(|e| BuildError::new("EWS", format!("TLS roots: {e}")))?;
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| BuildError::new("EWS", format!("TLS: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| bad("the EWS endpoint's host is not a TLS server name"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Self {
            url: url.clone(),
            host,
            port,
            tls,
            connect_timeout: http.connect_timeout,
            request_timeout: http.request_timeout,
        })
    }

    /// Sends `body` authenticated as `login`, paced as `paced` and
    /// retrying as provider-http's loop does; the body of a 2xx reply, read under `max_body`.
    pub(crate) async fn send(
        &self,
        paced: Paced<'_>,
        login: &EwsLogin,
        body: &Bytes,
        retry: &RetryConfig,
        max_body: usize,
    ) -> Result<Vec<u8>, SourceError> {
        let mut attempt = 0;
        loop {
            let permit = paced.acquire().await;
            let outcome = self.attempt(login, body, max_body).await;
            drop(permit);
            let error = match outcome {
                Ok(reply) => match classify(&reply) {
                    None => return Ok(reply.body),
                    Some(failure) => {
                        paced.observe(&failure.error);
                        if !failure.retry {
                            return Err(failure.error);
                        }
                        failure.error
                    }
                },
                Err(e) => {
                    paced.observe(&e);
                    if !e.is_transient() {
                        return Err(e);
                    }
                    e
                }
            };
            let Some(wait) = wait_for(attempt, error.retry_after(), retry) else {
                return Err(error);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One handshake and request on a new connection, within the request
    /// timeout.
    async fn attempt(
        &self,
        login: &EwsLogin,
        body: &Bytes,
        max_body: usize,
    ) -> Result<Reply, SourceError> {
        let timed_out = || SourceError::Unavailable {
            message: format!("{} did not answer in time", EWS.name()),
            retry_after: None,
        };
        tokio::time::timeout(self.request_timeout, async {
            let tcp = tokio::time::timeout(
                self.connect_timeout,
                tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| transport(format!("cannot connect to {}: {e}", EWS.name())))?;
            match &self.tls {
                None => self.handshake(tcp, login, body, max_body).await,
                Some((connector, name)) => {
                    let tls = tokio::time::timeout(
                        self.connect_timeout,
                        connector.connect(name.clone(), tcp),
                    )
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| transport(format!("TLS with {} failed: {e}", EWS.name())))?;
                    self.handshake(tls, login, body, max_body).await
                }
            }
        })
        .await
        .map_err(|_| timed_out())?
    }

    fn request(
        &self,
        authorization: &str,
        body: Bytes,
    ) -> Result<hyper::Request<Full<Bytes>>, SourceError> {
        let path = match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        };
        let host = match self.url.port() {
            Some(port) => format!("{}:{port}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_owned(),
        };
        hyper::Request::post(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(hyper::header::ACCEPT, "text/xml")
            .header("SOAPAction", SOAP_ACTION)
            .header(hyper::header::AUTHORIZATION, authorization)
            .body(Full::new(body))
            .map_err(|_| transport("cannot build the EWS request"))
    }

    /// Type 1 → 401 + Type 2 → Type 3 with the request, all on `io`.
    async fn handshake<S>(
        &self,
        io: S,
        login: &EwsLogin,
        body: &Bytes,
        max_body: usize,
    ) -> Result<Reply, SourceError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(hyper_error)?;
        let _connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));

        // Type 1, without the body (it is sent once, authenticated).
        let negotiate = negotiate_message()?;
        let first = self.request(&format!("NTLM {negotiate}"), Bytes::new())?;
        let response = sender.send_request(first).await.map_err(hyper_error)?;
        let challenge = challenge_of(&response);
        let reply = read(response, max_body).await?;
        if reply.status != 401 {
            // Not asked to authenticate (or failed before): as it is.
            return Ok(reply);
        }
        let Some(challenge) = challenge else {
            // A 401 without an NTLM challenge: NTLM is not offered.
            return Ok(reply);
        };
        let authenticate = authenticate_message(&challenge, login)?;

        // Type 3 and the request, on the same connection.
        sender
            .ready()
            .await
            .map_err(|_| transport("the server closed the connection during the NTLM handshake"))?;
        let second = self.request(&format!("NTLM {authenticate}"), body.clone())?;
        let response = sender.send_request(second).await.map_err(hyper_error)?;
        read(response, max_body).await
    }
}

/// The Type 2 message of a 401's `WWW-Authenticate: NTLM <base64>` (or
/// `Negotiate <base64>` holding an NTLMSSP token).
fn challenge_of(response: &hyper::Response<Incoming>) -> Option<Vec<u8>> {
    response
        .headers()
        .get_all(hyper::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("NTLM") || scheme.eq_ignore_ascii_case("Negotiate"))
                .then(|| BASE64.decode(token.trim()).ok())
                .flatten()
        })
        .find(|bytes| bytes.starts_with(b"NTLMSSP\0"))
}

/// Reads `response` whole under the cap, as provider-http's `Service::read`
/// does for reqwest.
async fn read(response: hyper::Response<Incoming>, max_body: usize) -> Result<Reply, SourceError> {
    let status = response.status().as_u16();
    let retry_after = provider_http::retry_after(response.headers());
    let too_large = || SourceError::InvalidResponse {
        message: format!("response larger than the {max_body}-byte cap"),
    };
    let declared = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(too_large());
    }
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(hyper_error)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max_body {
                return Err(too_large());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Reply::new(status, out, retry_after))
}

const NEGOTIATE_FLAGS: ntlmclient::Flags = ntlmclient::Flags::NEGOTIATE_UNICODE
    .union(ntlmclient::Flags::REQUEST_TARGET)
    .union(ntlmclient::Flags::NEGOTIATE_NTLM)
    .union(ntlmclient::Flags::NEGOTIATE_ALWAYS_SIGN)
    .union(ntlmclient::Flags::NEGOTIATE_NTLM2_KEY);

/// The NEGOTIATE message, base64.
fn negotiate_message() -> Result<String, SourceError> {
    let message = ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags: NEGOTIATE_FLAGS,
        supplied_domain: String::new(),
        supplied_workstation: String::new(),
        os_version: Default::default(),
    });
    message
        .to_bytes()
        .map(|b| BASE64.encode(b))
        .map_err(|_| transport("cannot write the NTLM negotiate message"))
}

/// The AUTHENTICATE message answering `challenge` for `login`, base64.
fn authenticate_message(challenge: &[u8], login: &EwsLogin) -> Result<String, SourceError> {
    let unreadable = || SourceError::InvalidResponse {
        message: "the server's NTLM challenge cannot be read".to_owned(),
    };
    // ntlmclient's parser has no known panic on any input; a server's
    // bytes are caught all the same rather than trusted.
    let parsed = std::panic::catch_unwind(|| ntlmclient::Message::try_from(challenge))
        .map_err(|_| unreadable())?
        .map_err(|_| unreadable())?;
    let ntlmclient::Message::Challenge(challenge) = parsed else {
        return Err(unreadable());
    };
    let target_info: Vec<u8> = challenge
        .target_information
        .iter()
        .flat_map(|entry| entry.to_bytes())
        .collect();
    let (domain, user) = login.ntlm_parts();
    let mut credentials = ntlmclient::Credentials {
        username: user.to_owned(),
        password: login.password().to_owned(),
        domain: domain.to_owned(),
    };
    let response = ntlmclient::respond_challenge_ntlm_v2(
        challenge.challenge,
        &target_info,
        ntlmclient::get_ntlm_time(),
        &credentials,
    );
    credentials.password.zeroize();
    let message = ntlmclient::Message::Authenticate(ntlmclient::AuthenticateMessage {
        lm_response: response.lm_response,
        ntlm_response: response.ntlm_response,
        domain_name: credentials.domain.clone(),
        user_name: credentials.username.clone(),
        workstation_name: String::new(),
        // No key exchange negotiated: no encrypted session key.
        session_key: Vec::new(),
        flags: NEGOTIATE_FLAGS & challenge.flags | ntlmclient::Flags::NEGOTIATE_UNICODE,
        os_version: Default::default(),
    });
    message
        .to_bytes()
        .map(|b| BASE64.encode(b))
        .map_err(|_| transport("cannot write the NTLM authenticate message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_that_is_not_ntlm_is_refused_without_a_panic() {
        let login = EwsLogin::new("CORP\\ada", "pw");
        for bytes in [
            &b""[..],
            b"NTLMSSP\0",
            b"NTLMSSP\0\x02\0\0\0",
            &[0xff; 64],
            b"NTLMSSP\0\x02\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            let err = authenticate_message(bytes, &login).unwrap_err();
            assert!(!err.to_string().contains("pw"));
        }
        assert!(negotiate_message().unwrap().starts_with("TlRMTVNTUA"));
    }
}
