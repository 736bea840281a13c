//! Where an account's credentials go (issue 25): only to the login's origin
//! (scheme, host, port) and, for iCloud, to Apple's hosts over HTTPS.
//!
//! Two wiremock servers on 127.0.0.1 are two origins (their ports differ).
//! The second one answers everything as a CalDAV server would, and records
//! what it receives: a refused redirect or href must reach it with nothing
//! at all, so never with an `Authorization` header. The HTTPS half of the
//! rule (iCloud's `pNN-caldav.icloud.com`, HTTPS to HTTP on one host) is
//! unit-tested in `src/caldav/origin.rs`; here the plain-HTTP origin is
//! not widened to HTTPS either.

use availability::{SourceError, SourceErrorKind};
use caldav_provider::{CalDavConfig, CalDavLogin, Password};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::two_weeks;
use crate::replay::{APP_PASSWORD, ana, basic, mount_icloud, multistatus, source};

fn login(server: &MockServer) -> CalDavLogin {
    CalDavLogin::new(
        format!("{}/", server.uri()),
        "ana@icloud.example",
        Password::new(APP_PASSWORD),
    )
}

/// A principal with a home, and a home with one event calendar, on `base`.
fn principal_and_home(base: &str) -> ResponseTemplate {
    multistatus(&format!(
        r#"<response><href>{base}/dav/</href><propstat><prop><current-user-principal><href>{base}/dav/p/</href></current-user-principal><calendar-home-set xmlns="urn:ietf:params:xml:ns:caldav"><href xmlns="DAV:">{base}/dav/cals/</href></calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat></response>"#
    ))
}

fn one_calendar(href: &str) -> ResponseTemplate {
    multistatus(&format!(
        r#"<response><href>{href}</href><propstat><prop><resourcetype><collection/><calendar xmlns="urn:ietf:params:xml:ns:caldav"/></resourcetype><getctag xmlns="http://calendarserver.org/ns/">1</getctag></prop><status>HTTP/1.1 200 OK</status></propstat></response>"#
    ))
}

/// Another origin that would answer discovery, recording every request.
async fn elsewhere() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(principal_and_home(&server.uri()))
        .mount(&server)
        .await;
    server
}

/// `server` received nothing: no request, so no credentials.
async fn assert_untouched(server: &MockServer) {
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "credentials reached another origin"
    );
    assert!(
        requests.is_empty(),
        "{} requests reached another origin",
        requests.len()
    );
}

/// The typed refusal, naming its reason, without a secret or a path.
fn assert_refused(err: &SourceError, what: &str) {
    assert_eq!(err.kind(), SourceErrorKind::InvalidResponse, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(what), "{shown}");
    assert!(shown.contains("another origin"), "{shown}");
    assert!(!shown.contains(APP_PASSWORD), "{shown}");
    assert!(!shown.contains(&basic()[6..]), "{shown}");
    assert!(!shown.contains("/dav/"), "no path in {shown}");
}

/// The root and `/.well-known/caldav` both redirect to another port: the
/// login check fails with the typed error, and the other server receives
/// nothing; a report of the account fails the same way.
#[tokio::test]
async fn issue_25_a_redirect_to_another_port_is_refused_without_credentials() {
    let other = elsewhere().await;
    let server = MockServer::start().await;
    Mock::given(method("PROPFIND"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("Location", format!("{}/dav/", other.uri())),
        )
        .mount(&server)
        .await;
    let source = source(&format!("{}/", server.uri()), CalDavConfig::default());
    let err = source.discover(&login(&server)).await.unwrap_err();
    assert_refused(&err, "refused a redirect");
    let err = source.report(&ana(), two_weeks()).await.unwrap_err();
    assert_refused(&err, "refused a redirect");
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        asked.contains(&"/.well-known/caldav".to_owned()),
        "{asked:?}"
    );
    assert_untouched(&other).await;
}

/// A plain-HTTP origin stays that origin: a redirect to HTTPS on the same
/// host and port is refused before connecting (a TLS attempt on this plain
/// port would be a transport error instead).
#[tokio::test]
async fn issue_25_a_plain_http_origin_is_not_widened_to_https_on_the_same_host() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(method("PROPFIND"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("https://127.0.0.1:{port}/dav/")),
        )
        .mount(&server)
        .await;
    let source = source(&format!("{}/", server.uri()), CalDavConfig::default());
    let err = source.discover(&login(&server)).await.unwrap_err();
    assert_refused(&err, "refused a redirect");
    assert!(err.message().contains("https://127.0.0.1"), "{err}");
    for r in server.received_requests().await.unwrap() {
        assert!(
            ["/", "/.well-known/caldav"].contains(&r.url.path()),
            "{}",
            r.url
        );
    }
}

/// A redirect to an absolute URL on the same origin is still followed with
/// the credentials, and absolute hrefs on the same origin still work.
#[tokio::test]
async fn issue_25_a_same_origin_redirect_keeps_the_credentials() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("PROPFIND"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(308).insert_header("Location", format!("{base}/dav/")))
        .mount(&server)
        .await;
    Mock::given(method("PROPFIND"))
        .and(path("/dav/"))
        .and(header("authorization", basic().as_str()))
        .respond_with(principal_and_home(&base))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PROPFIND"))
        .and(path("/dav/cals/"))
        .and(header("authorization", basic().as_str()))
        .and(header("depth", "1"))
        .respond_with(one_calendar(&format!("{base}/dav/cals/work/")))
        .mount(&server)
        .await;
    let source = source(&format!("{base}/"), CalDavConfig::default());
    let found = source.discover(&login(&server)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].url, format!("{base}/dav/cals/work/"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for r in requests {
        assert_eq!(
            r.headers.get("authorization").map(|v| v.to_str().unwrap()),
            Some(basic().as_str()),
            "{}",
            r.url
        );
    }
}

/// A `current-user-principal` href on another origin is refused without
/// sending it anything.
#[tokio::test]
async fn issue_25_a_principal_on_another_origin_is_refused_without_credentials() {
    let other = elsewhere().await;
    let server = MockServer::start().await;
    Mock::given(method("PROPFIND"))
        .and(path("/"))
        .respond_with(multistatus(&format!(
            r#"<response><href>/</href><propstat><prop><current-user-principal><href>{}/dav/p/</href></current-user-principal></prop><status>HTTP/1.1 200 OK</status></propstat></response>"#,
            other.uri()
        )))
        .mount(&server)
        .await;
    let source = source(&format!("{}/", server.uri()), CalDavConfig::default());
    let err = source.discover(&login(&server)).await.unwrap_err();
    assert_refused(&err, "refused an href");
    assert_untouched(&other).await;
}

/// The iCloud layout with its calendar home on another origin (iCloud's is
/// on an Apple host over HTTPS, which passes; this one does not): refused
/// for the login check and for a report, the calendar host untouched.
#[tokio::test]
async fn issue_25_a_calendar_home_on_another_origin_is_refused_without_credentials() {
    let discovery = MockServer::start().await;
    let calendars = MockServer::start().await;
    mount_icloud(&discovery, &calendars).await;
    let source = source(&format!("{}/", discovery.uri()), CalDavConfig::default());
    let err = source.discover(&login(&discovery)).await.unwrap_err();
    assert_refused(&err, "refused an href");
    let err = source.report(&ana(), two_weeks()).await.unwrap_err();
    assert_refused(&err, "refused an href");
    assert_untouched(&calendars).await;
}

/// A calendar listed in the home but living on another origin fails the
/// login check (rather than a later read), and is never asked.
#[tokio::test]
async fn issue_25_a_calendar_on_another_origin_is_refused_without_credentials() {
    let other = elsewhere().await;
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("PROPFIND"))
        .and(path("/"))
        .respond_with(principal_and_home(&base))
        .mount(&server)
        .await;
    Mock::given(method("PROPFIND"))
        .and(path("/dav/cals/"))
        .respond_with(one_calendar(&format!("{}/dav/cals/work/", other.uri())))
        .mount(&server)
        .await;
    let source = source(&format!("{base}/"), CalDavConfig::default());
    let err = source.discover(&login(&server)).await.unwrap_err();
    assert_refused(&err, "refused an href");
    let err = source.report(&ana(), two_weeks()).await.unwrap_err();
    assert_refused(&err, "refused an href");
    assert_untouched(&other).await;
}
