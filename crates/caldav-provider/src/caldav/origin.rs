//! Where an account's CalDAV credentials may go (issue 25).
//!
//! Only to the origin of the login URL (scheme, host and port, as the
//! participant or integrator gave it), and, when that origin is iCloud over
//! HTTPS, to Apple's own hosts over HTTPS (iCloud redirects
//! `caldav.icloud.com` to `pNN-caldav.icloud.com` and hands out hrefs
//! there). Every URL a request goes to is checked: each redirect's
//! `Location` and each href the server returns (principal, calendar home,
//! calendars). A URL that fails is never requested, with or without
//! credentials: the request fails with [`refused`]'s error.

use availability::SourceError;
use reqwest::Url;

/// Why a URL may not have the credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Plain HTTP after an HTTPS origin, even on the same host.
    Downgrade,
    /// Another scheme, host or port than the login's, and not one of
    /// Apple's hosts over HTTPS for an iCloud login.
    ForeignOrigin,
    /// Neither `http` nor `https`.
    Scheme,
}

/// How the server pointed at the URL (for the error's wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hop {
    /// A 3xx answer's `Location`.
    Redirect,
    /// An href in an answer (or the login URL itself).
    Href,
}

/// Whether `target` may receive the credentials of a login whose URL is
/// `origin`.
///
/// # Errors
///
/// The [`Refusal`] that says why not.
pub(crate) fn check(origin: &Url, target: &Url) -> Result<(), Refusal> {
    if !matches!(target.scheme(), "http" | "https") {
        return Err(Refusal::Scheme);
    }
    if target.origin() == origin.origin() {
        return Ok(());
    }
    if origin.scheme() == "https" && target.scheme() == "http" {
        return Err(Refusal::Downgrade);
    }
    if is_icloud(origin) && is_icloud(target) && target.port_or_known_default() == Some(443) {
        return Ok(());
    }
    Err(Refusal::ForeignOrigin)
}

/// An HTTPS URL on `icloud.com` or a host under it (a domain name, never
/// an IP address; URLs keep hosts lowercase).
fn is_icloud(url: &Url) -> bool {
    url.scheme() == "https"
        && url
            .domain()
            .is_some_and(|host| host == "icloud.com" || host.ends_with(".icloud.com"))
}

/// The error for a `target` refused by [`check`]: it names the reason and
/// the two origins (scheme, host, port: never a path, a query, a user name
/// or a password).
pub(crate) fn refused(origin: &Url, target: &Url, hop: Hop, why: Refusal) -> SourceError {
    let what = match hop {
        Hop::Redirect => "refused a redirect",
        Hop::Href => "refused an href",
    };
    let reason = match why {
        Refusal::Downgrade => {
            "from HTTPS to plain HTTP: CalDAV credentials never go over plain HTTP after HTTPS"
        }
        Refusal::ForeignOrigin => {
            "to another origin than the login's: CalDAV credentials go only to that scheme, \
             host and port (and, for iCloud, to Apple's hosts over HTTPS)"
        }
        Refusal::Scheme => "to a scheme that is neither https nor http",
    };
    SourceError::InvalidResponse {
        message: format!(
            "the CalDAV server {what} to {}, {reason} (login origin {})",
            shown(target),
            shown(origin),
        ),
    }
}

/// `scheme://host:port`, or the scheme alone for a URL without a host.
fn shown(url: &Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        format!("a {}: URL", url.scheme())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn check_str(origin: &str, target: &str) -> Result<(), Refusal> {
        check(&url(origin), &url(target))
    }

    #[test]
    fn the_same_origin_is_allowed_whatever_the_path() {
        assert_eq!(
            check_str("https://dav.example/", "https://dav.example/cal/x/"),
            Ok(())
        );
        assert_eq!(
            check_str("https://dav.example/", "https://dav.example:443/"),
            Ok(())
        );
        // A plain-HTTP origin (a loopback test server): that origin only.
        assert_eq!(
            check_str("http://127.0.0.1:5232/", "http://127.0.0.1:5232/alice/"),
            Ok(())
        );
    }

    #[test]
    fn https_to_http_on_the_same_host_is_refused() {
        assert_eq!(
            check_str("https://dav.example/", "http://dav.example/"),
            Err(Refusal::Downgrade)
        );
        assert_eq!(
            check_str("https://dav.example:8443/", "http://dav.example:8443/"),
            Err(Refusal::Downgrade)
        );
    }

    #[test]
    fn another_host_port_or_scheme_is_refused() {
        for (origin, target) in [
            ("https://dav.example/", "https://other.example/"),
            ("https://dav.example/", "https://dav.example:8443/"),
            ("https://dav.example/", "https://sub.dav.example/"),
            ("http://127.0.0.1:5232/", "http://127.0.0.1:5233/"),
            ("http://127.0.0.1:5232/", "http://localhost:5232/"),
            // An HTTP origin does not extend to HTTPS on the same host.
            ("http://127.0.0.1:5232/", "https://127.0.0.1:5232/"),
            // Apple's hosts only for an iCloud login.
            ("https://dav.example/", "https://p42-caldav.icloud.com/"),
        ] {
            assert_eq!(
                check_str(origin, target),
                Err(Refusal::ForeignOrigin),
                "{origin} -> {target}"
            );
        }
        assert_eq!(
            check_str("https://dav.example/", "ftp://dav.example/"),
            Err(Refusal::Scheme)
        );
    }

    #[test]
    fn icloud_moves_an_account_to_apples_hosts_over_https_only() {
        let icloud = "https://caldav.icloud.com/";
        for target in [
            "https://p42-caldav.icloud.com/",
            "https://p42-caldav.icloud.com:443/123456/calendars/",
            "https://icloud.com/",
            "https://P07-CALDAV.ICLOUD.COM/",
        ] {
            assert_eq!(check_str(icloud, target), Ok(()), "{target}");
        }
        assert_eq!(
            check_str(
                "https://p01-caldav.icloud.com/",
                "https://caldav.icloud.com/"
            ),
            Ok(())
        );
        for target in [
            "https://evil-icloud.com/",
            "https://icloud.com.evil.org/",
            "https://p42-caldav.icloud.com.evil.org/",
            "https://p42-caldav.icloud.com:8443/",
            "https://17.253.144.10/",
        ] {
            assert_eq!(
                check_str(icloud, target),
                Err(Refusal::ForeignOrigin),
                "{target}"
            );
        }
        assert_eq!(
            check_str(icloud, "http://p42-caldav.icloud.com/"),
            Err(Refusal::Downgrade)
        );
        assert_eq!(
            check_str(icloud, "http://caldav.icloud.com/"),
            Err(Refusal::Downgrade)
        );
        // A plain-HTTP "iCloud" origin is not iCloud.
        assert_eq!(
            check_str("http://caldav.icloud.com/", "http://p42-caldav.icloud.com/"),
            Err(Refusal::ForeignOrigin)
        );
    }

    #[test]
    fn the_error_names_the_reason_and_origins_only() {
        let origin = url("https://ana%40icloud.example:abcd-efgh@dav.example/ana/?token=t");
        let target = url("http://mallory:pw@dav.example/steal/?q=secret");
        let why = check(&origin, &target).unwrap_err();
        let err = refused(&origin, &target, Hop::Redirect, why);
        assert_eq!(err.kind(), availability::SourceErrorKind::InvalidResponse);
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("refused a redirect"), "{shown}");
        assert!(shown.contains("from HTTPS to plain HTTP"), "{shown}");
        assert!(shown.contains("http://dav.example"), "{shown}");
        for secret in [
            "abcd-efgh",
            "mallory",
            "pw@",
            "steal",
            "secret",
            "token",
            "/ana/",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let foreign = refused(
            &origin,
            &url("https://other.example:8443/x"),
            Hop::Href,
            Refusal::ForeignOrigin,
        );
        assert!(
            foreign
                .message()
                .contains("refused an href to https://other.example:8443, to another origin"),
            "{foreign}"
        );
        assert!(!foreign.is_transient() && !foreign.needs_reconnect());
    }
}
