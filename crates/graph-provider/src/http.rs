//! HTTP to Graph: timeouts, a size cap, retries that honour Retry-After,
//! and the one mapping from Graph's errors to [`SourceError`].
//! <https://learn.microsoft.com/en-us/graph/throttling>,
//! <https://learn.microsoft.com/en-us/graph/errors>

use std::sync::Once;
use std::time::Duration;

use availability::{RetryConfig, SourceError};
use reqwest::header::RETRY_AFTER;

use crate::wire::ErrorEnvelope;

/// A reqwest client with timeouts, also trusting `roots` (DER) besides
/// the platform's roots.
pub(crate) fn client_with_roots(
    connect: Duration,
    total: Duration,
    roots: &[Vec<u8>],
) -> Result<reqwest::Client, reqwest::Error> {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
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
            "scheduling-assistant-graph/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

fn transport(e: reqwest::Error) -> SourceError {
    if e.is_timeout() {
        return SourceError::Unavailable {
            message: "Microsoft Graph did not answer in time".to_owned(),
            retry_after: None,
        };
    }
    let e = e.without_url();
    SourceError::Transport {
        message: e.to_string(),
        source: Some(std::sync::Arc::new(e)),
    }
}

/// Graph's status codes: 401 means the token (refresh once), 403 a missing
/// permission or consent, 404 an unknown user, 429 and 503/504 throttling
/// (retried, honouring Retry-After), other 5xx transient.
fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Option<(SourceError, bool)> {
    if (200..300).contains(&status) {
        return None;
    }
    let code = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error.code)
        .unwrap_or_default();
    let message = if code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {code}")
    };
    Some(match status {
        401 => (SourceError::Unauthorized { message }, false),
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

/// Sends what `build` makes, retrying throttling and server errors; the
/// body of a 2xx answer, read under the cap.
pub(crate) async fn send<F>(
    build: F,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Vec<u8>, SourceError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 0;
    loop {
        let error = match build().send().await {
            Err(e) => transport(e),
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let mut body = Vec::new();
                let mut read_error = None;
                if response
                    .content_length()
                    .is_some_and(|n| n > max_body as u64)
                {
                    read_error = Some(too_large(max_body));
                } else {
                    loop {
                        match response.chunk().await {
                            Ok(Some(chunk)) if body.len() + chunk.len() > max_body => {
                                read_error = Some(too_large(max_body));
                                break;
                            }
                            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                            Ok(None) => break,
                            Err(e) => {
                                read_error = Some(transport(e));
                                break;
                            }
                        }
                    }
                }
                match (read_error, classify(status, &body, retry_after)) {
                    (Some(e), _) if !e.is_transient() => return Err(e),
                    (Some(e), _) => e,
                    (None, None) => return Ok(body),
                    (None, Some((e, false))) => return Err(e),
                    (None, Some((e, true))) => e,
                }
            }
        };
        if attempt >= retry.max_retries || !error.is_transient() {
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

fn too_large(max: usize) -> SourceError {
    SourceError::InvalidResponse {
        message: format!("response larger than the {max}-byte cap"),
    }
}
