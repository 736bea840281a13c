//! HTTP to Google through provider-http: the client, the retry loop, and
//! Google's reading of its statuses (the rate-limit 403s).
//! <https://developers.google.com/workspace/calendar/api/guides/errors>

use std::time::Duration;

use availability::{RetryConfig, SourceError, SourceErrorKind};
use provider_http::{Reply, Service, StatusCode, StatusError, StatusRules};

use crate::wire::ErrorEnvelope;

/// Google, as its errors name it.
pub(crate) const GOOGLE: Service = Service::new("Google");

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str =
    concat!("scheduling-assistant-google/", env!("CARGO_PKG_VERSION"));

/// Google's exceptions to the common mapping: 403 `rateLimitExceeded` and
/// `userRateLimitExceeded` are throttling (retried), 403 `quotaExceeded`
/// is throttling that waiting does not fix (not retried).
struct GoogleStatus<'a>(StatusCode<'a>);

impl StatusRules for GoogleStatus<'_> {
    fn message(&self, kind: SourceErrorKind, status: u16) -> String {
        self.0.message(kind, status)
    }

    fn exception(&self, status: u16, retry_after: Option<Duration>) -> Option<StatusError> {
        let retry = match (status, self.0.0) {
            (403, "rateLimitExceeded" | "userRateLimitExceeded") => true,
            (403, "quotaExceeded") => false,
            _ => return None,
        };
        Some(StatusError::new(
            SourceError::RateLimited { retry_after },
            retry,
        ))
    }
}

/// The error a non-2xx reply stands for, and whether to retry it.
pub(crate) fn classify(reply: &Reply) -> Option<StatusError> {
    if reply.is_success() {
        return None;
    }
    let envelope: ErrorEnvelope = serde_json::from_slice(&reply.body).unwrap_or_default();
    let reason = envelope
        .error
        .errors
        .first()
        .map(|e| e.reason.as_str())
        .unwrap_or_default();
    provider_http::map_status(
        reply.status,
        reply.retry_after,
        &GoogleStatus(StatusCode(reason)),
    )
}

/// Sends what `build` makes until it succeeds, fails for good, or the
/// retries run out; a final non-2xx reply becomes its error.
pub(crate) async fn send_with_retries<F>(
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    GOOGLE.send(build, retry, max_body, classify).await
}

/// [`send_with_retries`], where a reply of status `done` counts as success
/// too (410 Gone for a delete: the event is already gone).
pub(crate) async fn send_done_on<F>(
    build: F,
    retry: &RetryConfig,
    max_body: usize,
    done: u16,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let classify = |reply: &Reply| {
        if reply.status == done {
            None
        } else {
            classify(reply)
        }
    };
    GOOGLE.send(build, retry, max_body, classify).await
}

/// Sends a request that must not reach Google twice (`events.insert`,
/// which is not idempotent): it is sent again only when it cannot have
/// been acted on, that is when the connection could not be made, or when
/// Google refused it as throttling (429, 403 `rateLimitExceeded` /
/// `userRateLimitExceeded`: nothing was done), waiting at least what
/// `Retry-After` asks, at most `retry.max_retries` times. A timeout, a
/// connection lost after sending, or a 5xx is returned at once: Google may
/// have created the event.
pub(crate) async fn send_unrepeated<F>(
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 0;
    loop {
        let error = match build().send().await {
            // Not connected: nothing reached Google.
            Err(e) if e.is_connect() && !e.is_timeout() => GOOGLE.transport(e),
            Err(e) => return Err(GOOGLE.transport(e)),
            Ok(response) => {
                let reply = GOOGLE.read(response, max_body).await?;
                match classify(&reply) {
                    None => return Ok(reply),
                    Some(failure)
                        if failure.retry
                            && failure.error.kind() == SourceErrorKind::RateLimited =>
                    {
                        failure.error
                    }
                    Some(failure) => return Err(failure.error),
                }
            }
        };
        if attempt >= retry.max_retries {
            return Err(error);
        }
        let wait = match error.retry_after() {
            Some(asked) if asked > retry.max_retry_after => return Err(error),
            Some(asked) => asked.max(retry.backoff_for(attempt)),
            None => retry.backoff_for(attempt),
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(status: u16, reason: &str) -> Option<(SourceErrorKind, bool)> {
        let body = format!(r#"{{"error":{{"errors":[{{"reason":"{reason}"}}]}}}}"#);
        classify(&Reply::new(status, body, None)).map(|e| (e.error.kind(), e.retry))
    }

    #[test]
    fn rate_limit_403s_are_throttling() {
        use SourceErrorKind::*;
        assert_eq!(reason(403, "rateLimitExceeded"), Some((RateLimited, true)));
        assert_eq!(
            reason(403, "userRateLimitExceeded"),
            Some((RateLimited, true))
        );
        assert_eq!(reason(403, "quotaExceeded"), Some((RateLimited, false)));
        assert_eq!(reason(403, "forbidden"), Some((Forbidden, false)));
        assert_eq!(
            reason(400, "rateLimitExceeded"),
            Some((InvalidResponse, false))
        );
        assert_eq!(reason(200, "rateLimitExceeded"), None);
    }
}
