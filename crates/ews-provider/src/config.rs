//! [`EwsConfig`], [`EwsAuth`], [`EwsLogin`] and [`AuthMethod`]: what an
//! [`EwsSource`](crate::EwsSource) is built from, and the checks
//! [`EwsSource::new`](crate::EwsSource::new) makes of them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use availability::{RetryConfig, TokenSource};
use provider_http::{BuildError, HttpSettings, Pacing};
use zeroize::Zeroizing;

/// How the scheduling account signs in to EWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// NTLM (on-premise default).
    Ntlm,
    /// Basic over TLS.
    Basic,
    /// OAuth bearer (hybrid).
    Bearer,
}

impl AuthMethod {
    /// The one spelling (settings, flags): `ntlm`, `basic`, `bearer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ntlm => "ntlm",
            Self::Basic => "basic",
            Self::Bearer => "bearer",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`AuthMethod`]'s spellings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown EWS authentication method {0:?} (expected ntlm, basic or bearer)")]
pub struct UnknownAuthMethod(pub String);

impl FromStr for AuthMethod {
    type Err = UnknownAuthMethod;

    /// `ntlm`, `basic` or `bearer`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, UnknownAuthMethod> {
        [Self::Ntlm, Self::Basic, Self::Bearer]
            .into_iter()
            .find(|m| s.trim().eq_ignore_ascii_case(m.as_str()))
            .ok_or_else(|| UnknownAuthMethod(s.to_owned()))
    }
}

/// A user name and password.
///
/// The password is wiped from memory when the login is dropped, and
/// neither `Debug` nor any error shows it (nor the user name).
#[derive(Clone)]
pub struct EwsLogin {
    user: String,
    password: Zeroizing<String>,
}

impl fmt::Debug for EwsLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EwsLogin([redacted])")
    }
}

impl EwsLogin {
    /// `user` is `DOMAIN\name` or a UPN (`name@domain`).
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: Zeroizing::new(password.into()),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password.
    ///
    /// # Security Warning
    ///
    /// The secret itself: do not log or display it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The NTLM domain and user: `DOMAIN\name` splits at the backslash;
    /// a UPN (`name@domain`) is sent whole with an empty domain, which
    /// NTLM accepts ([MS-NLMP] 3.1.5.1.2).
    pub(crate) fn ntlm_parts(&self) -> (&str, &str) {
        match self.user.split_once('\\') {
            Some((domain, name)) => (domain, name),
            None => ("", &self.user),
        }
    }
}

/// Credentials.
#[derive(Clone, Debug)]
pub enum EwsAuth {
    /// NTLM: the handshake and the request share one connection.
    Ntlm(EwsLogin),
    /// Basic, over TLS only (plain HTTP to loopback for tests).
    Basic(EwsLogin),
    /// Bearer tokens (Exchange hybrid with OAuth); a 401 makes the source
    /// invalidate the token and retry once.
    Bearer(Arc<dyn TokenSource>),
}

impl EwsAuth {
    /// The method these credentials use.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Ntlm(_) => AuthMethod::Ntlm,
            Self::Basic(_) => AuthMethod::Basic,
            Self::Bearer(_) => AuthMethod::Bearer,
        }
    }
}

/// Settings of an [`EwsSource`](crate::EwsSource), with documented
/// defaults. Read and written through the config too (it dereferences to
/// [`HttpSettings`]): `config.max_response_bytes`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EwsConfig {
    /// The full endpoint URL, such as
    /// `https://mail.example.org/EWS/Exchange.asmx`. `https` is required;
    /// `http` only to a loopback address (tests).
    pub endpoint: String,
    /// Mailboxes per GetUserAvailability request: at most 100, the
    /// documented maximum (more gives `ErrorMailboxDataArrayTooBig`).
    /// Default 100.
    pub max_mailboxes_per_request: usize,
    /// The longest `TimeWindow` of one request: EWS's default maximum is
    /// 42 days (longer gives `ErrorTimeIntervalTooBig`), which a server's
    /// administrator may raise. At least one hour. Default 42 days.
    pub max_window: Duration,
    /// `MergedFreeBusyIntervalInMinutes`, 5 to 1440. Only read back when a
    /// server has merged data only (`MergedOnly`). Default 30.
    pub merged_interval_minutes: u32,
    /// Requests in flight at once (EWS throttles by concurrent
    /// connections, `EWSMaxConcurrency`). At least 1. Default 4.
    pub concurrency: usize,
    /// `t:RequestServerVersion`'s `Version`, such as `Exchange2010_SP2`.
    /// Default `Exchange2013`.
    pub server_version: String,
    /// Retries of throttled and failed requests (an `ErrorServerBusy`
    /// waits its `BackOffMilliseconds`). Default [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// Timeouts, the response cap and extra roots, at [`HttpSettings`]'
    /// defaults; the roots serve every method, NTLM's own connections too.
    pub http: HttpSettings,
    /// How requests are paced by the account the service logs in as (the
    /// Basic or NTLM user; with a bearer token, the one application). On
    /// by default: at most 10 in flight at once (Exchange 2010's default
    /// `EWSMaxConcurrency`; 27 from Exchange 2013, "EWS throttling in
    /// Exchange",
    /// <https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange>)
    /// and no rate, since Exchange's policy budgets server time, not
    /// requests, and is the administrator's: set
    /// [`Pacing::per_identity`](Pacing::per_identity) to
    /// match yours. An `ErrorServerBusy` (or a 503 with `Retry-After`)
    /// holds the account's requests for its `BackOffMilliseconds`.
    /// [`Pacing::off`](Pacing::off) turns it off.
    pub pacing: Pacing,
}

impl EwsConfig {
    /// Defaults for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            max_mailboxes_per_request: 100,
            max_window: Duration::from_secs(42 * 86_400),
            merged_interval_minutes: 30,
            concurrency: 4,
            server_version: "Exchange2013".to_owned(),
            retry: RetryConfig::default(),
            http: HttpSettings::default(),
            pacing: crate::http::default_pacing(),
        }
    }

    /// Sets [`max_mailboxes_per_request`](Self::max_mailboxes_per_request).
    #[must_use]
    pub fn max_mailboxes_per_request(mut self, n: usize) -> Self {
        self.max_mailboxes_per_request = n;
        self
    }

    /// Sets [`max_window`](Self::max_window).
    #[must_use]
    pub fn max_window(mut self, window: Duration) -> Self {
        self.max_window = window;
        self
    }

    /// Sets [`merged_interval_minutes`](Self::merged_interval_minutes).
    #[must_use]
    pub fn merged_interval_minutes(mut self, minutes: u32) -> Self {
        self.merged_interval_minutes = minutes;
        self
    }

    /// Sets [`concurrency`](Self::concurrency).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets [`server_version`](Self::server_version).
    #[must_use]
    pub fn server_version(mut self, version: impl Into<String>) -> Self {
        self.server_version = version.into();
        self
    }

    /// The endpoint and settings checked, or what is wrong.
    pub(crate) fn check(&self, method: AuthMethod) -> Result<reqwest::Url, BuildError> {
        let bad = |m: String| BuildError::new("EWS", m);
        let url = reqwest::Url::parse(&self.endpoint)
            .map_err(|_| bad("the EWS endpoint is not a URL".to_owned()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "the EWS endpoint must not carry credentials; give them as EwsAuth".to_owned(),
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("the EWS endpoint has no host".to_owned()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(bad(format!(
                    "{method} over plain http is refused (credentials in clear text); \
                     use https (http is allowed to loopback only, for tests)"
                )));
            }
            other => {
                return Err(bad(format!(
                    "the EWS endpoint's scheme {other:?} is not https"
                )));
            }
        }
        if !(1..=100).contains(&self.max_mailboxes_per_request) {
            return Err(bad(format!(
                "max_mailboxes_per_request must be 1 to 100 (EWS's maximum), not {}",
                self.max_mailboxes_per_request
            )));
        }
        if !(5..=1440).contains(&self.merged_interval_minutes) {
            return Err(bad(format!(
                "merged_interval_minutes must be 5 to 1440, not {}",
                self.merged_interval_minutes
            )));
        }
        if self.max_window < Duration::from_secs(3600) {
            return Err(bad("max_window must be at least one hour".to_owned()));
        }
        if self.concurrency == 0 {
            return Err(bad("concurrency must be at least 1".to_owned()));
        }
        let version_ok = !self.server_version.is_empty()
            && self
                .server_version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !version_ok {
            return Err(bad(
                "server_version must be a RequestServerVersion name such as Exchange2013"
                    .to_owned(),
            ));
        }
        Ok(url)
    }
}

provider_http::config_setters!(EwsConfig {
    retry,
    request_timeout,
    add_root_certificate,
    max_response_bytes,
    pacing,
});

/// `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_is_on_by_default_and_can_be_turned_off() {
        let config = EwsConfig::new("https://mail.example.org/EWS/Exchange.asmx");
        assert!(config.pacing.enabled);
        assert_eq!(config.pacing.concurrency, Some(10));
        assert_eq!(config.pacing.per_identity, None);
        assert!(!config.pacing(Pacing::off()).pacing.enabled);
    }

    #[test]
    fn methods_parse_and_print_one_spelling() {
        for m in [AuthMethod::Ntlm, AuthMethod::Basic, AuthMethod::Bearer] {
            assert_eq!(m.as_str().parse::<AuthMethod>(), Ok(m));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!("NTLM".parse::<AuthMethod>(), Ok(AuthMethod::Ntlm));
        let err = "kerberos".parse::<AuthMethod>().unwrap_err();
        assert_eq!(err, UnknownAuthMethod("kerberos".to_owned()));
    }

    #[test]
    fn a_login_hides_its_password_and_splits_for_ntlm() {
        let login = EwsLogin::new("CORP\\ada", "s3cret!");
        assert_eq!(format!("{login:?}"), "EwsLogin([redacted])");
        assert_eq!(login.ntlm_parts(), ("CORP", "ada"));
        assert_eq!(login.password(), "s3cret!");
        let upn = EwsLogin::new("ada@corp.example", "x");
        assert_eq!(upn.ntlm_parts(), ("", "ada@corp.example"));
        let auth = EwsAuth::Basic(login);
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn settings_out_of_range_and_plain_http_are_refused() {
        let ok = EwsConfig::new("https://mail.example.org/EWS/Exchange.asmx");
        assert!(ok.check(AuthMethod::Basic).is_ok());
        let local = EwsConfig::new("http://127.0.0.1:8080/EWS/Exchange.asmx");
        assert!(local.check(AuthMethod::Basic).is_ok());
        assert!(
            EwsConfig::new("http://localhost/EWS/Exchange.asmx")
                .check(AuthMethod::Ntlm)
                .is_ok()
        );
        let plain = EwsConfig::new("http://mail.example.org/EWS/Exchange.asmx");
        let err = plain.check(AuthMethod::Basic).unwrap_err().to_string();
        assert!(err.contains("plain http"), "{err}");
        for bad in [
            ok.clone().merged_interval_minutes(4),
            ok.clone().merged_interval_minutes(1441),
            ok.clone().max_mailboxes_per_request(101),
            ok.clone().max_mailboxes_per_request(0),
            ok.clone().concurrency(0),
            ok.clone().max_window(Duration::from_secs(60)),
            ok.clone().server_version("Exchange2013\" x=\""),
            EwsConfig::new("https://user:pw@mail.example.org/EWS"),
            EwsConfig::new("ftp://mail.example.org/EWS"),
            EwsConfig::new("not a url"),
        ] {
            let err = bad.check(AuthMethod::Ntlm).unwrap_err().to_string();
            assert!(!err.contains("pw@"), "{err}");
        }
        assert!(
            ok.clone()
                .merged_interval_minutes(5)
                .check(AuthMethod::Ntlm)
                .is_ok()
        );
        assert!(
            ok.merged_interval_minutes(1440)
                .check(AuthMethod::Ntlm)
                .is_ok()
        );
    }
}
