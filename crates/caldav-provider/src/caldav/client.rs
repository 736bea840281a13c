//! HTTP for CalDAV: Basic auth sent up front, redirects followed by hand
//! (keeping the method, body and credentials, RFC 4918 clients must), a
//! cap on every body, timeouts, and one place that maps statuses to
//! [`SourceError`].

use std::sync::Once;
use std::time::Duration;

use availability::SourceError;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, Url};

use super::Password;

/// What one request returned.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// The URL that finally answered (after redirects): relative hrefs
    /// resolve against it.
    pub(crate) url: Url,
    pub(crate) body: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Reply {
    /// The error this status stands for, if it is not a success.
    pub(crate) fn error(&self) -> Option<SourceError> {
        status_error(self.status, self.retry_after)
    }

    /// `Ok(self)` on success, else the status's error.
    pub(crate) fn ok(self) -> Result<Self, SourceError> {
        match self.error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

/// Credentials for one account.
pub(crate) struct Auth<'a> {
    pub(crate) origin: Url,
    pub(crate) username: &'a str,
    pub(crate) password: &'a Password,
}

#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    max_body: usize,
    timeout: Duration,
}

const MAX_REDIRECTS: usize = 5;

fn install_ring_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already; any
        // installed provider will do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Http {
    pub(crate) fn new(
        connect_timeout: Duration,
        timeout: Duration,
        max_body: usize,
        roots: &[Vec<u8>],
    ) -> Result<Self, reqwest::Error> {
        install_ring_provider();
        let roots = roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()?;
        let client = reqwest::Client::builder()
            .tls_certs_merge(roots)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!(
                "scheduling-assistant-caldav/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Self {
            client,
            max_body,
            timeout,
        })
    }

    /// Sends `method` to `url` with `depth` and an XML `body`, following up
    /// to five redirects. Credentials go with every hop that is on the
    /// account's own host or uses HTTPS (iCloud moves an account to
    /// `pNN-caldav.icloud.com`); never in clear text to another host.
    pub(crate) async fn send(
        &self,
        auth: &Auth<'_>,
        method: &str,
        url: Url,
        depth: Option<&str>,
        body: Option<&str>,
    ) -> Result<Reply, SourceError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| SourceError::Transport {
            message: format!("bad method {method}"),
            source: None,
        })?;
        let mut url = url;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .timeout(self.timeout);
            if may_send_credentials(&auth.origin, &url) {
                request = request.basic_auth(auth.username, Some(auth.password.secret()));
            }
            if let Some(depth) = depth {
                request = request.header("Depth", depth);
            }
            if let Some(body) = body {
                // Xandikos answers 415 to a REPORT or PROPFIND without it.
                request = request
                    .header("Content-Type", "application/xml; charset=utf-8")
                    .body(body.to_owned());
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok());
                match next {
                    Some(next) if next.scheme() == "https" || next.scheme() == "http" => {
                        url = next;
                        continue;
                    }
                    _ => {
                        return Err(SourceError::InvalidResponse {
                            message: format!("HTTP {status} without a usable Location"),
                        });
                    }
                }
            }
            let retry_after = retry_after(response.headers());
            let final_url = response.url().clone();
            let body = self.read_capped(response).await?;
            return Ok(Reply {
                status,
                url: final_url,
                body,
                retry_after,
            });
        }
        Err(SourceError::InvalidResponse {
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Reads a body up to the cap, whatever its Content-Type says (servers
    /// send `application/octet-stream` or a doubled charset for calendars).
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<String, SourceError> {
        if let Some(len) = response.content_length()
            && len > self.max_body as u64
        {
            return Err(too_large(self.max_body));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > self.max_body {
                return Err(too_large(self.max_body));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

fn too_large(max: usize) -> SourceError {
    SourceError::InvalidResponse {
        message: format!("response larger than the {max}-byte cap"),
    }
}

/// Same origin, the same host on another port, or HTTPS.
fn may_send_credentials(origin: &Url, url: &Url) -> bool {
    url.scheme() == "https" || url.host_str() == origin.host_str()
}

fn transport(e: reqwest::Error) -> SourceError {
    if e.is_timeout() {
        return SourceError::Unavailable {
            message: "the CalDAV server did not answer in time".to_owned(),
            retry_after: None,
        };
    }
    // reqwest's message names the URL, never the credentials.
    let e = e.without_url();
    SourceError::Transport {
        message: e.to_string(),
        source: Some(std::sync::Arc::new(e)),
    }
}

fn retry_after(headers: &HeaderMap<HeaderValue>) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The one mapping from HTTP status to [`SourceError`] (`None`: success, or
/// a status the caller handles, such as 207).
pub(crate) fn status_error(status: u16, retry_after: Option<Duration>) -> Option<SourceError> {
    Some(match status {
        200..=299 => return None,
        // An Apple ID password change revokes every app-specific password.
        401 => SourceError::Unauthorized {
            message:
                "the CalDAV server refused the user name or (app-specific) password (HTTP 401)"
                    .to_owned(),
        },
        403 => SourceError::Forbidden {
            message: "the CalDAV server refused access (HTTP 403)".to_owned(),
        },
        404 | 410 => SourceError::NotFound {
            message: format!("no such CalDAV resource (HTTP {status})"),
        },
        429 => SourceError::RateLimited { retry_after },
        501 => SourceError::InvalidResponse {
            message: "the CalDAV server does not support this request (HTTP 501)".to_owned(),
        },
        500..=599 => SourceError::Unavailable {
            message: format!("the CalDAV server failed (HTTP {status})"),
            retry_after,
        },
        _ => SourceError::InvalidResponse {
            message: format!("unexpected HTTP {status}"),
        },
    })
}
