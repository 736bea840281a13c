//! HTTP to EWS: what a reply stands for (status, SOAP fault), Basic and
//! bearer requests through provider-http's pooled client and retry loop.
//!
//! EWS answers a fault with HTTP 500 (SOAP 1.1); its `detail` names the
//! EWS code. `ErrorServerBusy` is throttling (EWS throttling in Exchange,
//! `ews-throttling-in-exchange.md`): its `BackOffMilliseconds` is the wait,
//! and the request is retried after it by the shared loop (up to
//! `RetryConfig::max_retry_after`; a longer wait ends the retries and is
//! returned as the error's `retry_after`). HTTP 503 is retried likewise,
//! honouring `Retry-After`. 401 is the login refused, 403 forbidden.

use std::time::Duration;

use availability::{RetryConfig, SourceError};
use bytes::Bytes;
use provider_http::{Paced, Pacing, Reply, Service, StatusCode, StatusError, map_status};

use crate::wire::{self, Body, Fault};

/// EWS, as its errors name it.
pub(crate) const EWS: Service = Service::new("Exchange Web Services");

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("scheduling-assistant-ews/", env!("CARGO_PKG_VERSION"));

/// `Content-Type` of SOAP 1.1.
pub(crate) const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// SOAP 1.1's `SOAPAction` of the operation (EWS does not require it;
/// proxies in front of it may).
pub(crate) const SOAP_ACTION: &str =
    "\"http://schemas.microsoft.com/exchange/services/2006/messages/GetUserAvailability\"";

/// The default pacing of EWS requests by the account the service logs in
/// as. Exchange's throttling policy is the server administrator's
/// ("EWS throttling in Exchange",
/// <https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange>):
/// it limits each account's concurrent connections (`EWSMaxConcurrency`,
/// 27 by default from Exchange 2013, 10 in Exchange 2010) and its share of
/// server time (budgets in milliseconds, not a request rate). So the
/// default caps the account at 10 requests in flight (the lowest
/// documented default, as this crate serves Exchange 2010 and later) and
/// sets no rate; `ErrorServerBusy`'s `BackOffMilliseconds` still holds the
/// account back.
pub(crate) fn default_pacing() -> Pacing {
    Pacing::default().concurrency(10)
}

/// What a non-2xx reply stands for: a SOAP fault by its EWS code, else
/// the status by the common mapping.
pub(crate) fn classify(reply: &Reply) -> Option<StatusError> {
    if reply.is_success() {
        return None;
    }
    if let Ok(Body::Fault(fault)) = wire::read(&reply.body) {
        return Some(fault_error(&fault, reply.status, reply.retry_after));
    }
    map_status(reply.status, reply.retry_after, &StatusCode(""))
}

/// A SOAP fault's error (`responsecode.md` for the codes), and whether to
/// retry: `ErrorServerBusy` is [`SourceError::RateLimited`] after
/// `BackOffMilliseconds` (or `Retry-After`); transient server codes are
/// [`SourceError::Unavailable`] (retried); access codes
/// [`SourceError::Forbidden`]; codes that refuse the request itself (its
/// schema, version, zone or window) [`SourceError::InvalidResponse`],
/// not retried; any other code maps by the status (a 5xx is retried).
pub(crate) fn fault_error(
    fault: &Fault,
    status: u16,
    retry_after: Option<Duration>,
) -> StatusError {
    let code = fault.code.as_deref().unwrap_or("");
    let wait = fault.back_off.or(retry_after);
    let message = format!("HTTP {status} {code}");
    match code {
        "ErrorServerBusy" => StatusError::new(SourceError::RateLimited { retry_after: wait }, true),
        "ErrorInternalServerTransientError"
        | "ErrorMailboxStoreUnavailable"
        | "ErrorMailboxMoveInProgress"
        | "ErrorTimeoutExpired"
        | "ErrorConnectionFailed" => StatusError::new(
            SourceError::Unavailable {
                message,
                retry_after: wait,
            },
            true,
        ),
        "ErrorAccessDenied" | "ErrorNoFreeBusyAccess" | "ErrorImpersonateUserDenied" => {
            StatusError::new(SourceError::Forbidden { message }, false)
        }
        "ErrorSchemaValidation"
        | "ErrorInvalidRequest"
        | "ErrorInvalidServerVersion"
        | "ErrorTimeZone"
        | "ErrorInvalidTimeInterval"
        | "ErrorTimeIntervalTooBig"
        | "ErrorMailboxDataArrayTooBig"
        | "ErrorInvalidFreeBusyViewType"
        | "ErrorInvalidMergedFreeBusyInterval" => {
            StatusError::new(SourceError::InvalidResponse { message }, false)
        }
        _ => map_status(status, wait, &StatusCode(code))
            .unwrap_or_else(|| StatusError::new(SourceError::InvalidResponse { message }, false)),
    }
}

/// The wait before retry number `attempt` (0-based), or `None` when the
/// retries end: provider-http's rule (its `Service::send_raw`), for the
/// NTLM path, whose requests do not go through reqwest. A wait asked
/// longer than [`RetryConfig::max_retry_after`] ends the retries; one
/// honoured is waited in full, or the backoff if that is longer.
pub(crate) fn wait_for(
    attempt: u32,
    retry_after: Option<Duration>,
    retry: &RetryConfig,
) -> Option<Duration> {
    if attempt >= retry.max_retries {
        return None;
    }
    match retry_after {
        Some(asked) if asked > retry.max_retry_after => None,
        Some(asked) => Some(asked.max(retry.backoff_for(attempt))),
        None => Some(retry.backoff_for(attempt)),
    }
}

/// How a pooled request signs in.
pub(crate) enum Credentials<'a> {
    Basic { user: &'a str, password: &'a str },
    Bearer(&'a str),
}

/// POSTs `body` to `url` with `credentials` through provider-http's retry
/// loop, paced as `paced`; the body of a 2xx reply, read under `max_body`.
pub(crate) async fn send_pooled(
    paced: Paced<'_>,
    http: &reqwest::Client,
    url: &reqwest::Url,
    credentials: Credentials<'_>,
    body: &Bytes,
    retry: &RetryConfig,
    max_body: usize,
) -> Result<Vec<u8>, SourceError> {
    let build = || {
        let request = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, "text/xml")
            .header("SOAPAction", SOAP_ACTION)
            .body(body.clone());
        match credentials {
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    };
    EWS.send_paced(paced, build, retry, max_body, classify)
        .await
        .map(|reply| reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(code: &str, back_off: Option<u64>) -> Fault {
        Fault {
            code: Some(code.to_owned()),
            back_off: back_off.map(Duration::from_millis),
        }
    }

    #[test]
    fn faults_by_code() {
        let busy = fault_error(&fault("ErrorServerBusy", Some(1500)), 500, None);
        assert!(busy.retry);
        assert_eq!(busy.error.retry_after(), Some(Duration::from_millis(1500)));
        let busy = fault_error(
            &fault("ErrorServerBusy", None),
            500,
            Some(Duration::from_secs(2)),
        );
        assert_eq!(busy.error.retry_after(), Some(Duration::from_secs(2)));
        let schema = fault_error(&fault("ErrorSchemaValidation", None), 500, None);
        assert!(!schema.retry);
        assert!(matches!(schema.error, SourceError::InvalidResponse { .. }));
        let denied = fault_error(&fault("ErrorAccessDenied", None), 500, None);
        assert!(matches!(denied.error, SourceError::Forbidden { .. }));
        let other = fault_error(&fault("ErrorSomethingNew", None), 500, None);
        assert!(other.retry, "a 5xx fault of an unknown code is retried");
        assert!(other.error.to_string().contains("ErrorSomethingNew"));
        let in_200 = fault_error(&fault("ErrorSomethingNew", None), 200, None);
        assert!(matches!(in_200.error, SourceError::InvalidResponse { .. }));
    }

    #[test]
    fn the_wait_follows_provider_http() {
        let retry =
            RetryConfig::default().backoff(Duration::from_millis(1), Duration::from_millis(2));
        assert_eq!(
            wait_for(0, Some(Duration::from_secs(3)), &retry),
            Some(Duration::from_secs(3))
        );
        assert_eq!(wait_for(0, Some(Duration::from_secs(61)), &retry), None);
        assert_eq!(wait_for(retry.max_retries, None, &retry), None);
        assert!(wait_for(0, None, &retry).is_some_and(|w| w <= Duration::from_millis(2)));
    }
}
