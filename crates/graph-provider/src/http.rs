//! HTTP to Graph through provider-http: the client, and the retry loop
//! with Graph's error codes in messages. 401 means the token (refresh
//! once), 403 a missing permission or consent, 404 an unknown user, 429
//! and 503/504 throttling (retried, honouring Retry-After), other 5xx
//! transient.
//! <https://learn.microsoft.com/en-us/graph/throttling>,
//! <https://learn.microsoft.com/en-us/graph/errors>

use availability::{RetryConfig, SourceError};
use provider_http::{Paced, Pacing, Rate, Reply, Service, StatusCode, StatusError};

use crate::wire::ErrorEnvelope;

/// Graph, as its errors name it.
const GRAPH: Service = Service::new("Microsoft Graph");

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str =
    concat!("scheduling-assistant-graph/", env!("CARGO_PKG_VERSION"));

/// Graph's documented Outlook limits as the default pacing: 10,000
/// requests per 10 minutes per app per mailbox, and 4 concurrent requests
/// per mailbox (`MailboxConcurrency`), from "Microsoft Graph service-specific
/// throttling limits", Outlook service limits
/// (<https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits>).
pub(crate) fn default_pacing() -> Pacing {
    Pacing::default()
        .per_identity(Rate::new(10_000, std::time::Duration::from_secs(600)))
        .concurrency(4)
}

/// The common mapping, with Graph's error code in the message.
fn classify(reply: &Reply) -> Option<StatusError> {
    if reply.is_success() {
        return None;
    }
    let code = serde_json::from_slice::<ErrorEnvelope>(&reply.body)
        .map(|e| e.error.code)
        .unwrap_or_default();
    provider_http::map_status(reply.status, reply.retry_after, &StatusCode(&code))
}

/// Sends what `build` makes, retrying throttling and server errors; the
/// body of a 2xx answer, read under the cap.
pub(crate) async fn send<F>(
    paced: Paced<'_>,
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Vec<u8>, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    GRAPH
        .send_paced(paced, build, retry, max_body, classify)
        .await
        .map(|reply| reply.body)
}

/// [`send`], where a reply of status `done` counts as success too (404
/// for cancelling an event: it is already gone).
pub(crate) async fn send_done_on<F>(
    paced: Paced<'_>,
    build: F,
    retry: &RetryConfig,
    max_body: usize,
    done: u16,
) -> Result<Vec<u8>, SourceError>
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
    GRAPH
        .send_paced(paced, build, retry, max_body, classify)
        .await
        .map(|reply| reply.body)
}
