//! Reading a response: the size cap, `Retry-After`, and transport errors
//! named after the service that failed.

use std::sync::Arc;
use std::time::Duration;

use availability::SourceError;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// A response read whole, under the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most the cap.
    pub body: Vec<u8>,
    /// What `Retry-After` asked, in delta-seconds form.
    pub retry_after: Option<Duration>,
}

impl Reply {
    /// A reply (tests, and callers that read a response themselves).
    pub fn new(status: u16, body: impl Into<Vec<u8>>, retry_after: Option<Duration>) -> Self {
        Self {
            status,
            body: body.into(),
            retry_after,
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The service a provider talks to, by the name its errors use ("Google",
/// "Microsoft Graph", "the CalDAV server"): transport errors and capped
/// reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    name: &'static str,
}

impl Service {
    /// A service called `name` in messages ("`name` did not answer in
    /// time").
    pub const fn new(name: &'static str) -> Self {
        Self { name }
    }

    /// The service's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// A reqwest failure as a [`SourceError`]: a timeout is
    /// [`SourceError::Unavailable`] (retried), anything else
    /// [`SourceError::Transport`]. The URL is stripped from the message
    /// (reqwest's message names the URL, never credentials, but a URL may
    /// carry a query).
    pub fn transport(&self, e: reqwest::Error) -> SourceError {
        if e.is_timeout() {
            return SourceError::Unavailable {
                message: format!("{} did not answer in time", self.name),
                retry_after: None,
            };
        }
        let e = e.without_url();
        SourceError::Transport {
            message: e.to_string(),
            source: Some(Arc::new(e)),
        }
    }

    /// Reads `response` whole: its status, `Retry-After` and body, the
    /// body whatever its Content-Type says.
    ///
    /// # Errors
    ///
    /// [`SourceError::InvalidResponse`] when the body is larger than
    /// `max_body` (by its Content-Length, before reading, or while
    /// reading), or [`transport`](Self::transport)'s error when reading
    /// fails.
    pub async fn read(
        &self,
        mut response: reqwest::Response,
        max_body: usize,
    ) -> Result<Reply, SourceError> {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        if response
            .content_length()
            .is_some_and(|n| n > max_body as u64)
        {
            return Err(too_large(max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            push_capped(&mut body, &chunk, max_body)?;
        }
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    }
}

/// Appends `chunk` to `body` unless that makes it larger than `max`.
fn push_capped(body: &mut Vec<u8>, chunk: &[u8], max: usize) -> Result<(), SourceError> {
    if body.len() + chunk.len() > max {
        return Err(too_large(max));
    }
    body.extend_from_slice(chunk);
    Ok(())
}

fn too_large(max: usize) -> SourceError {
    SourceError::InvalidResponse {
        message: format!("response larger than the {max}-byte cap"),
    }
}

/// The wait a `Retry-After` header asks for, in its delta-seconds form
/// (RFC 9110 §10.2.3); `None` when it is missing, or an HTTP date (not
/// honoured: the backoff applies).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

/// [`retry_after`] on the header's value.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_delta_seconds_only() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn retry_after_reads_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn the_cap_admits_exactly_max_bytes() {
        let mut body = Vec::new();
        push_capped(&mut body, b"abcd", 6).unwrap();
        push_capped(&mut body, b"ef", 6).unwrap();
        assert_eq!(body, b"abcdef");
        let err = push_capped(&mut body, b"g", 6).unwrap_err();
        assert!(
            err.to_string().contains("larger than the 6-byte cap"),
            "{err}"
        );
        assert_eq!(body, b"abcdef", "nothing over the cap is kept");
    }

    #[tokio::test]
    async fn read_refuses_a_body_over_the_cap_by_length_or_by_chunks() {
        use wiremock::matchers::any;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(503)
                    .insert_header("Retry-After", "9")
                    .set_body_string("0123456789"),
            )
            .mount(&server)
            .await;
        let service = Service::new("Test");
        let client = crate::ClientOptions::new("test/0").build().unwrap();
        let get = || client.get(server.uri()).send();
        let reply = service.read(get().await.unwrap(), 10).await.unwrap();
        assert_eq!(
            reply,
            Reply::new(503, "0123456789", Some(Duration::from_secs(9)))
        );
        assert!(!reply.is_success());
        let err = service.read(get().await.unwrap(), 9).await.unwrap_err();
        assert!(matches!(err, SourceError::InvalidResponse { .. }), "{err}");
    }
}
