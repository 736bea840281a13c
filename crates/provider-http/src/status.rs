//! The one mapping from an HTTP status to a [`SourceError`], with each
//! provider's wording and exceptions as [`StatusRules`].

use std::time::Duration;

use availability::{SourceError, SourceErrorKind};

/// What a non-2xx status stands for, and whether to try again.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StatusError {
    /// The error.
    pub error: SourceError,
    /// Whether the request may succeed if sent again (throttling, server
    /// errors).
    pub retry: bool,
}

impl StatusError {
    /// `error`, retried if `retry`.
    pub fn new(error: SourceError, retry: bool) -> Self {
        Self { error, retry }
    }
}

/// A provider's wording of the common mapping, and its exceptions.
///
/// The common mapping ([`map_status`]): 401 is
/// [`SourceError::Unauthorized`], 403 [`SourceError::Forbidden`], 404
/// [`SourceError::NotFound`], 429 [`SourceError::RateLimited`] (retried),
/// other 5xx [`SourceError::Unavailable`] (retried), anything else
/// [`SourceError::InvalidResponse`]; none but 429 and 5xx is retried.
pub trait StatusRules {
    /// The message of an error of `kind` that `status` maps to (never
    /// asked for [`SourceErrorKind::RateLimited`], which has none).
    fn message(&self, kind: SourceErrorKind, status: u16) -> String;

    /// The provider's own reading of `status`, consulted first (Google's
    /// rate-limit 403s; CalDAV's 410 and 501). The default has none.
    fn exception(&self, status: u16, retry_after: Option<Duration>) -> Option<StatusError> {
        let _ = (status, retry_after);
        None
    }
}

/// `HTTP {status}`, or `HTTP {status} {code}` when the provider's error
/// body named a code: the wording of Google and Graph.
#[derive(Clone, Copy, Debug)]
pub struct StatusCode<'a>(pub &'a str);

impl StatusRules for StatusCode<'_> {
    fn message(&self, _kind: SourceErrorKind, status: u16) -> String {
        if self.0.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {}", self.0)
        }
    }
}

/// The error a status stands for under `rules`, or `None` for 2xx.
pub fn map_status(
    status: u16,
    retry_after: Option<Duration>,
    rules: &impl StatusRules,
) -> Option<StatusError> {
    if (200..300).contains(&status) {
        return None;
    }
    if let Some(special) = rules.exception(status, retry_after) {
        return Some(special);
    }
    let message = |kind| rules.message(kind, status);
    Some(match status {
        401 => StatusError::new(
            SourceError::Unauthorized {
                message: message(SourceErrorKind::Unauthorized),
            },
            false,
        ),
        403 => StatusError::new(
            SourceError::Forbidden {
                message: message(SourceErrorKind::Forbidden),
            },
            false,
        ),
        404 => StatusError::new(
            SourceError::NotFound {
                message: message(SourceErrorKind::NotFound),
            },
            false,
        ),
        429 => StatusError::new(SourceError::RateLimited { retry_after }, true),
        500..=599 => StatusError::new(
            SourceError::Unavailable {
                message: message(SourceErrorKind::Unavailable),
                retry_after,
            },
            true,
        ),
        _ => StatusError::new(
            SourceError::InvalidResponse {
                message: message(SourceErrorKind::InvalidResponse),
            },
            false,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, rules: &impl StatusRules) -> Option<(SourceErrorKind, bool, String)> {
        map_status(status, Some(Duration::from_secs(4)), rules)
            .map(|s| (s.error.kind(), s.retry, s.error.to_string()))
    }

    #[test]
    fn the_common_mapping() {
        use SourceErrorKind::*;
        let rules = StatusCode("");
        for ok in [200, 201, 204, 207, 299] {
            assert!(kind(ok, &rules).is_none(), "{ok}");
        }
        let table = [
            (401, Unauthorized, false),
            (403, Forbidden, false),
            (404, NotFound, false),
            (410, InvalidResponse, false),
            (429, RateLimited, true),
            (500, Unavailable, true),
            (503, Unavailable, true),
            (599, Unavailable, true),
            (301, InvalidResponse, false),
            (400, InvalidResponse, false),
        ];
        for (status, want, retry) in table {
            let (got, r, _) = kind(status, &rules).unwrap();
            assert_eq!((got, r), (want, retry), "{status}");
        }
        let e = map_status(503, Some(Duration::from_secs(4)), &rules).unwrap();
        assert_eq!(e.error.retry_after(), Some(Duration::from_secs(4)));
    }

    #[test]
    fn the_code_is_in_the_message() {
        assert!(kind(403, &StatusCode("")).unwrap().2.ends_with("HTTP 403"));
        let (_, _, message) = kind(404, &StatusCode("ErrorItemNotFound")).unwrap();
        assert!(message.ends_with("HTTP 404 ErrorItemNotFound"), "{message}");
    }

    #[test]
    fn exceptions_come_first() {
        struct Gone;
        impl StatusRules for Gone {
            fn message(&self, _: SourceErrorKind, status: u16) -> String {
                format!("gone {status}")
            }
            fn exception(&self, status: u16, _: Option<Duration>) -> Option<StatusError> {
                (status == 410).then(|| {
                    StatusError::new(
                        SourceError::NotFound {
                            message: "gone".to_owned(),
                        },
                        false,
                    )
                })
            }
        }
        assert_eq!(kind(410, &Gone).unwrap().0, SourceErrorKind::NotFound);
        assert_eq!(kind(401, &Gone).unwrap().0, SourceErrorKind::Unauthorized);
        assert!(kind(401, &Gone).unwrap().2.ends_with("gone 401"));
    }
}
