//! HTTP for CalDAV: Basic auth sent up front, redirects followed by hand
//! (keeping the method, body and credentials, RFC 4918 clients must), only
//! to the login's origin or, for iCloud, Apple's hosts ([`origin`]),
//! a cap on every body, timeouts, and one place that maps statuses to
//! [`SourceError`].

use std::time::Duration;

use availability::{SourceError, SourceErrorKind};
use provider_http::{BuildError, HttpSettings, Service, StatusError, StatusRules, map_status};
use reqwest::header::LOCATION;
use reqwest::{Method, Url};

use super::Password;
use super::origin::{self, Hop};

/// The CalDAV server, as its errors name it.
const CALDAV: Service = Service::new("the CalDAV server");

const USER_AGENT: &str = concat!("scheduling-assistant-caldav/", env!("CARGO_PKG_VERSION"));

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
    /// The login's URL: every request's URL must pass [`origin::check`]
    /// against it.
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

impl Http {
    pub(crate) fn new(settings: &HttpSettings) -> Result<Self, BuildError> {
        // Redirects are off in the client: `send` follows them by hand.
        Ok(Self {
            client: settings.source_client("CalDAV", USER_AGENT)?,
            max_body: settings.max_response_bytes,
            timeout: settings.request_timeout,
        })
    }

    /// Sends `method` to `url` with `depth` and an XML `body`, following up
    /// to five redirects by hand (the client follows none). `url` and every
    /// redirect's target must pass [`origin::check`] against the login's
    /// URL before anything is sent: the login's own origin, or for an
    /// iCloud login Apple's hosts over HTTPS (iCloud moves an account to
    /// `pNN-caldav.icloud.com`). So the credentials, sent with every
    /// request, never reach another origin nor plain HTTP after HTTPS.
    ///
    /// # Errors
    ///
    /// [`SourceError::InvalidResponse`] for a URL or redirect the rule
    /// refuses (naming the reason and the origins, never a path or a
    /// secret), a redirect without a usable `Location` or more than five;
    /// transport errors and capped reads as provider-http maps them.
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
        let mut hop = Hop::Href;
        for _ in 0..=MAX_REDIRECTS {
            // Checked before every request: nothing, credentials or not,
            // goes to a URL the rule refuses.
            origin::check(&auth.origin, &url)
                .map_err(|why| origin::refused(&auth.origin, &url, hop, why))?;
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .timeout(self.timeout)
                .basic_auth(auth.username, Some(auth.password.secret()));
            if let Some(depth) = depth {
                request = request.header("Depth", depth);
            }
            if let Some(body) = body {
                // Xandikos answers 415 to a REPORT or PROPFIND without it.
                request = request
                    .header("Content-Type", "application/xml; charset=utf-8")
                    .body(body.to_owned());
            }
            let response = request.send().await.map_err(|e| CALDAV.transport(e))?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok());
                match next {
                    Some(next) => {
                        url = next;
                        hop = Hop::Redirect;
                        continue;
                    }
                    None => {
                        return Err(SourceError::InvalidResponse {
                            message: format!("HTTP {status} without a usable Location"),
                        });
                    }
                }
            }
            let retry_after = provider_http::retry_after(response.headers());
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
    async fn read_capped(&self, response: reqwest::Response) -> Result<String, SourceError> {
        let bytes = CALDAV.read(response, self.max_body).await?.body;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

/// CalDAV's wording of the common mapping, and its exceptions: 410 Gone
/// is not found too, 501 an unsupported request.
struct CalDavStatus;

impl StatusRules for CalDavStatus {
    fn message(&self, kind: SourceErrorKind, status: u16) -> String {
        match kind {
            // An Apple ID password change revokes every app-specific password.
            SourceErrorKind::Unauthorized => {
                "the CalDAV server refused the user name or (app-specific) password (HTTP 401)"
                    .to_owned()
            }
            SourceErrorKind::Forbidden => "the CalDAV server refused access (HTTP 403)".to_owned(),
            SourceErrorKind::NotFound => format!("no such CalDAV resource (HTTP {status})"),
            SourceErrorKind::Unavailable => format!("the CalDAV server failed (HTTP {status})"),
            _ => format!("unexpected HTTP {status}"),
        }
    }

    fn exception(&self, status: u16, _retry_after: Option<Duration>) -> Option<StatusError> {
        let error = match status {
            410 => SourceError::NotFound {
                message: self.message(SourceErrorKind::NotFound, status),
            },
            501 => SourceError::InvalidResponse {
                message: "the CalDAV server does not support this request (HTTP 501)".to_owned(),
            },
            _ => return None,
        };
        Some(StatusError::new(error, false))
    }
}

/// The one mapping from HTTP status to [`SourceError`] (`None`: success, or
/// a status the caller handles, such as 207).
pub(crate) fn status_error(status: u16, retry_after: Option<Duration>) -> Option<SourceError> {
    map_status(status, retry_after, &CalDavStatus).map(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caldav_statuses() {
        let message = |status| status_error(status, None).map(|e| e.to_string());
        assert_eq!(message(207), None);
        assert!(
            message(401)
                .unwrap()
                .contains("(app-specific) password (HTTP 401)")
        );
        assert!(message(403).unwrap().contains("refused access (HTTP 403)"));
        assert!(
            message(404)
                .unwrap()
                .contains("no such CalDAV resource (HTTP 404)")
        );
        assert!(
            message(410)
                .unwrap()
                .contains("no such CalDAV resource (HTTP 410)")
        );
        assert!(
            message(501)
                .unwrap()
                .contains("does not support this request (HTTP 501)")
        );
        assert!(
            message(502)
                .unwrap()
                .contains("the CalDAV server failed (HTTP 502)")
        );
        assert!(message(418).unwrap().contains("unexpected HTTP 418"));
        let throttled = status_error(429, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(5)));
        assert_eq!(
            status_error(410, None).unwrap().kind(),
            SourceErrorKind::NotFound
        );
    }
}
