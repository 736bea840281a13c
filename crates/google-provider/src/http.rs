//! HTTP to Google through provider-http: the client, the retry loop, and
//! Google's reading of its statuses (the rate-limit 403s).
//! <https://developers.google.com/workspace/calendar/api/guides/errors>

use std::hash::BuildHasher as _;
use std::sync::OnceLock;
use std::time::Duration;

use availability::{AccessToken, RetryConfig, SourceError, SourceErrorKind};
use provider_http::{Paced, Pacing, Rate, Reply, Service, StatusCode, StatusError, StatusRules};

use crate::GoogleConfig;
use crate::wire::ErrorEnvelope;

/// Google, as its errors name it.
pub(crate) const GOOGLE: Service = Service::new("Google");

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str =
    concat!("scheduling-assistant-google/", env!("CARGO_PKG_VERSION"));

/// Google Calendar's documented quotas as the default pacing: 600 queries
/// a minute per user per project, and 10,000 a minute per project
/// (<https://developers.google.com/workspace/calendar/api/guides/quota>,
/// both sliding windows). No concurrency cap is documented, so none is set
/// (the source's own `concurrency` bounds what is in flight).
pub(crate) fn default_pacing() -> Pacing {
    Pacing::default()
        .per_identity(Rate::per_minute(600))
        .overall(Rate::per_minute(10_000))
}

/// The identity Google's per-user quota counts a request against: the
/// authenticated account whose token authorises it.
///
/// - [`GoogleConfig::pacing_identity`] when set: the one user a token
///   source always authenticates (a scheduling account impersonated for
///   every request), the same across its tokens' hourly refreshes.
/// - Otherwise the account a participant's own token names (the ID
///   token's `sub`).
/// - Otherwise (a shared token, or a service account's token
///   impersonating one user, that names no account) the token itself
///   stands for its account, by a keyed hash of it kept in memory only (a
///   refreshed token, about hourly, starts afresh; the per-project rate
///   still bounds them all).
pub(crate) fn identity(config: &GoogleConfig, token: &AccessToken) -> String {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    if let Some(user) = &config.pacing_identity {
        return format!("user:{user}");
    }
    match token.account() {
        Some(account) => format!("sub:{}", account.subject),
        None => format!(
            "token:{:016x}",
            KEY.get_or_init(Default::default).hash_one(token.secret())
        ),
    }
}

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
    paced: Paced<'_>,
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    GOOGLE
        .send_paced(paced, build, retry, max_body, classify)
        .await
}

/// [`send_with_retries`], where a reply of status `done` counts as success
/// too (410 Gone for a delete: the event is already gone).
pub(crate) async fn send_done_on<F>(
    paced: Paced<'_>,
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
    GOOGLE
        .send_paced(paced, build, retry, max_body, classify)
        .await
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
    paced: Paced<'_>,
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 0;
    loop {
        let permit = paced.acquire().await;
        let sent = build().send().await;
        let error = match sent {
            // Not connected: nothing reached Google.
            Err(e) if e.is_connect() && !e.is_timeout() => GOOGLE.transport(e),
            Err(e) => return Err(GOOGLE.transport(e)),
            Ok(response) => {
                let reply = GOOGLE.read(response, max_body).await?;
                match classify(&reply) {
                    None => return Ok(reply),
                    Some(failure) => {
                        paced.observe(&failure.error);
                        if failure.retry && failure.error.kind() == SourceErrorKind::RateLimited {
                            failure.error
                        } else {
                            return Err(failure.error);
                        }
                    }
                }
            }
        };
        // Not held while waiting to send again.
        drop(permit);
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
    fn a_configured_identity_outlives_token_refreshes() {
        let hourly = AccessToken::new("ya29.first", None);
        let refreshed = AccessToken::new("ya29.second", None);
        let plain = GoogleConfig::default();
        assert_ne!(identity(&plain, &hourly), identity(&plain, &refreshed));
        assert_eq!(identity(&plain, &hourly), identity(&plain, &hourly));
        let fixed = GoogleConfig::default().pacing_identity("mentoring@example.org");
        assert_eq!(identity(&fixed, &hourly), "user:mentoring@example.org");
        assert_eq!(identity(&fixed, &refreshed), "user:mentoring@example.org");
        // It wins over a token's own account too.
        let own = AccessToken::new("ya29.own", None)
            .with_account(availability::ConnectedAccount::new("1234", None, None));
        assert_eq!(identity(&plain, &own), "sub:1234");
        assert_eq!(identity(&fixed, &own), "user:mentoring@example.org");
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
