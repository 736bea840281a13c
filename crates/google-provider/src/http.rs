//! HTTP to Google: timeouts, a size cap, retries with backoff and jitter
//! that honour Retry-After, and the one mapping from Google's errors to
//! [`SourceError`].
//! <https://developers.google.com/workspace/calendar/api/guides/errors>

use std::sync::Once;
use std::time::Duration;

use availability::{RetryConfig, SourceError};
use reqwest::header::RETRY_AFTER;

use crate::wire::ErrorEnvelope;

pub(crate) fn install_ring_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client with timeouts and no redirects (OAuth endpoints must
/// not redirect: SSRF).
pub(crate) fn client(
    connect: Duration,
    total: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    client_with_roots(connect, total, &[])
}

/// The same, also trusting `roots` (DER) besides the platform's roots.
pub(crate) fn client_with_roots(
    connect: Duration,
    total: Duration,
    roots: &[Vec<u8>],
) -> Result<reqwest::Client, reqwest::Error> {
    install_ring_provider();
    let roots = roots
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()?;
    reqwest::Client::builder()
        .tls_certs_merge(roots)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect)
        .timeout(total)
        .user_agent(concat!(
            "scheduling-assistant-google/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// A response read whole, under the cap.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) retry_after: Option<Duration>,
}

pub(crate) async fn read(
    response: reqwest::Response,
    max_body: usize,
) -> Result<Reply, SourceError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut response = response;
    if response
        .content_length()
        .is_some_and(|n| n > max_body as u64)
    {
        return Err(too_large(max_body));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_body {
            return Err(too_large(max_body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        body,
        retry_after,
    })
}

fn too_large(max: usize) -> SourceError {
    SourceError::InvalidResponse {
        message: format!("response larger than the {max}-byte cap"),
    }
}

pub(crate) fn transport(e: reqwest::Error) -> SourceError {
    if e.is_timeout() {
        return SourceError::Unavailable {
            message: "Google did not answer in time".to_owned(),
            retry_after: None,
        };
    }
    let e = e.without_url();
    SourceError::Transport {
        message: e.to_string(),
        source: Some(std::sync::Arc::new(e)),
    }
}

/// The error a non-2xx reply stands for, and whether to retry it.
pub(crate) fn classify(reply: &Reply) -> Option<(SourceError, bool)> {
    let status = reply.status;
    if (200..300).contains(&status) {
        return None;
    }
    let envelope: ErrorEnvelope = serde_json::from_slice(&reply.body).unwrap_or_default();
    let reason = envelope
        .error
        .errors
        .first()
        .map(|e| e.reason.clone())
        .unwrap_or_default();
    let message = if reason.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {reason}")
    };
    let retry_after = reply.retry_after;
    Some(match status {
        401 => (SourceError::Unauthorized { message }, false),
        403 if matches!(
            reason.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded"
        ) =>
        {
            (SourceError::RateLimited { retry_after }, true)
        }
        403 if reason == "quotaExceeded" => (SourceError::RateLimited { retry_after }, false),
        403 => (SourceError::Forbidden { message }, false),
        404 => (SourceError::NotFound { message }, false),
        429 => (SourceError::RateLimited { retry_after }, true),
        500..=599 => (
            SourceError::Unavailable {
                message,
                retry_after,
            },
            true,
        ),
        _ => (SourceError::InvalidResponse { message }, false),
    })
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
    let reply = send_raw_with_retries(build, retry, max_body).await?;
    match classify(&reply) {
        None => Ok(reply),
        Some((error, _)) => Err(error),
    }
}

/// Like [`send_with_retries`], but a final non-2xx reply that is not
/// retried is returned as is, for callers that read its body.
pub(crate) async fn send_raw_with_retries<F>(
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Reply, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 0;
    loop {
        let outcome = match build().send().await {
            Ok(response) => read(response, max_body).await,
            Err(e) => Err(transport(e)),
        };
        let error = match outcome {
            Ok(reply) => match classify(&reply) {
                None | Some((_, false)) => return Ok(reply),
                Some((error, true)) => error,
            },
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(e),
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
