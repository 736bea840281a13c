//! The HTTP settings every provider's config holds, and the setters the
//! configs share ([`config_setters!`](crate::config_setters)).

use std::time::Duration;

use crate::client::{ClientError, ClientOptions};

/// Timeouts, the response cap and extra roots of a provider's client:
/// the part of `GoogleConfig`, `GraphConfig` and `CalDavConfig` that is
/// the same. Each config holds one in its `http` field and dereferences
/// to it, so `config.request_timeout` reads (and writes) as before.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Time to connect. Default 10 s.
    pub connect_timeout: Duration,
    /// Time for one whole request, body included. Default 30 s.
    pub request_timeout: Duration,
    /// The largest response body read. Default 16 MiB.
    pub max_response_bytes: usize,
    /// Certificates (DER) trusted as roots besides the platform's, for a
    /// test double, a private CA or a proxy that inspects TLS. Default
    /// none: TLS is verified against the platform's roots only.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            extra_root_certificates: Vec::new(),
        }
    }
}

impl HttpSettings {
    /// The defaults with another [`max_response_bytes`](Self::max_response_bytes).
    pub fn with_max_response_bytes(max_response_bytes: usize) -> Self {
        Self {
            max_response_bytes,
            ..Self::default()
        }
    }

    /// A client with these timeouts and roots and `user_agent`
    /// ([`ClientOptions::build`]: redirects off, rustls on ring).
    ///
    /// # Errors
    ///
    /// [`ClientError`] if a root is not DER or the client cannot be built.
    pub fn client(&self, user_agent: &str) -> Result<reqwest::Client, ClientError> {
        ClientOptions::new(user_agent)
            .timeouts(self.connect_timeout, self.request_timeout)
            .extra_roots(&self.extra_root_certificates)
            .build()
    }

    /// [`client`](Self::client) for a provider's source: a failure names
    /// the `service` ("Google", "Graph", "CalDAV").
    ///
    /// # Errors
    ///
    /// [`BuildError`] if a root is not DER or the client cannot be built.
    pub fn source_client(
        &self,
        service: &'static str,
        user_agent: &str,
    ) -> Result<reqwest::Client, BuildError> {
        self.client(user_agent).map_err(|e| BuildError {
            service,
            message: e.to_string(),
        })
    }
}

/// A provider's source could not be built: its HTTP client (the TLS set-up,
/// an extra root) failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the {service} HTTP client: {message}")]
pub struct BuildError {
    service: &'static str,
    message: String,
}

impl BuildError {
    /// A source of `service` ("EWS") that cannot be built, for `message`
    /// (a setting out of range, an endpoint that is not allowed): for
    /// providers whose `new` validates more than the client. The message
    /// must not hold a secret.
    pub fn new(service: &'static str, message: impl Into<String>) -> Self {
        Self {
            service,
            message: message.into(),
        }
    }
}

/// Writes a provider config's shared setters, and its `Deref` to the
/// [`HttpSettings`] it holds in its `http` field.
///
/// Name the setters the config has: `base_url` (on a `base_url: String`
/// field; a trailing `/` is dropped), `retry` (on a
/// `retry: RetryConfig` field), and `request_timeout`,
/// `add_root_certificate` and `max_response_bytes` (on `http`), and
/// `pacing` (on a `pacing: Pacing` field). Each takes `self` and returns
/// it, like the config's own setters.
///
/// # Example: a config with its own fields and the shared ones
///
/// ```
/// use provider_http::HttpSettings;
///
/// /// Settings of an example source.
/// #[derive(Clone, Debug, Default)]
/// pub struct ExampleConfig {
///     /// Where the API is.
///     pub base_url: String,
///     /// Timeouts, the response cap, extra roots.
///     pub http: HttpSettings,
/// }
///
/// provider_http::config_setters!(ExampleConfig { base_url, request_timeout, max_response_bytes });
///
/// let config = ExampleConfig::default()
///     .base_url("https://api.example/")
///     .max_response_bytes(1024);
/// assert_eq!(config.base_url, "https://api.example");
/// assert_eq!(config.max_response_bytes, 1024);
/// ```
#[macro_export]
macro_rules! config_setters {
    ($config:ident { $($setter:ident),* $(,)? }) => {
        impl ::std::ops::Deref for $config {
            type Target = $crate::HttpSettings;

            fn deref(&self) -> &$crate::HttpSettings {
                &self.http
            }
        }

        impl ::std::ops::DerefMut for $config {
            fn deref_mut(&mut self) -> &mut $crate::HttpSettings {
                &mut self.http
            }
        }

        impl $config {
            $($crate::config_setters!(@setter $setter);)*
        }
    };
    (@setter base_url) => {
        /// Sets [`base_url`](Self::base_url), without a trailing `/`.
        #[must_use]
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.base_url = url.into().trim_end_matches('/').to_owned();
            self
        }
    };
    (@setter retry) => {
        /// Sets [`retry`](Self::retry).
        #[must_use]
        pub fn retry(mut self, retry: $crate::__private::RetryConfig) -> Self {
            self.retry = retry;
            self
        }
    };
    (@setter pacing) => {
        /// Sets [`pacing`](Self::pacing): the rates and concurrency caps of
        /// its requests by identity ([`Pacing::off`]($crate::Pacing::off)
        /// to turn pacing off).
        #[must_use]
        pub fn pacing(mut self, pacing: $crate::__private::Pacing) -> Self {
            self.pacing = pacing;
            self
        }
    };
    (@setter request_timeout) => {
        /// Sets [`HttpSettings::request_timeout`]($crate::HttpSettings::request_timeout).
        #[must_use]
        pub fn request_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.http.request_timeout = timeout;
            self
        }
    };
    (@setter add_root_certificate) => {
        /// Adds a root certificate (DER) to
        /// [`HttpSettings::extra_root_certificates`]($crate::HttpSettings::extra_root_certificates).
        #[must_use]
        pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
            self.http.extra_root_certificates.push(der.into());
            self
        }
    };
    (@setter max_response_bytes) => {
        /// Sets [`HttpSettings::max_response_bytes`]($crate::HttpSettings::max_response_bytes).
        #[must_use]
        pub fn max_response_bytes(mut self, max: usize) -> Self {
            self.http.max_response_bytes = max;
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_a_client() {
        let settings = HttpSettings::default();
        assert_eq!(settings.connect_timeout, Duration::from_secs(10));
        assert_eq!(settings.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.max_response_bytes, 16 * 1024 * 1024);
        assert_eq!(
            HttpSettings::with_max_response_bytes(5).max_response_bytes,
            5
        );
        assert!(settings.client("test/0").is_ok());
        let bad = HttpSettings {
            extra_root_certificates: vec![b"not DER".to_vec()],
            ..HttpSettings::default()
        };
        assert!(bad.client("test/0").is_err());
    }
}
