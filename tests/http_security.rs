//! The HTTP layer's defences over real HTTP on loopback, each attack tried
//! as an attacker would: the OAuth account-linking attempt, cross-origin
//! and login-CSRF posts, a foreign `Host`, an unbounded sign-in loop,
//! expired and signed-out sessions, a client that sends half a request or
//! half a body, oversize bodies, rate limits, security headers, generic
//! 500s, an embedder's own authenticator, and `Secure` cookies.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::request::Parts;
use common::{Validator, World};
use google_provider::{GoogleOAuth, OAuthConfig};
use reqwest::StatusCode;
use scheduling_assistant::http::{
    AuthError, Authenticator, DemoConfig, HttpConfig, Identity, Limits, ServeConfig, router, serve,
};
use scheduling_assistant::{
    Actor, Assistant, GoogleConnector, Participant, Program, ProgramId, Provider,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    world: World,
    oauth: MockServer,
    assistant: Assistant,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn assistant(world: &World, oauth_server: &MockServer) -> Assistant {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.x", "expires_in": 3599, "refresh_token": "1//r", "token_type": "Bearer"
        })))
        .mount(oauth_server)
        .await;
    let oauth = GoogleOAuth::new(
        OAuthConfig::new("c", None, "http://127.0.0.1/api/oauth/callback").with_endpoints(
            format!("{}/auth", oauth_server.uri()),
            format!("{}/token", oauth_server.uri()),
            format!("{}/revoke", oauth_server.uri()),
        ),
    )
    .unwrap();
    let source = common::Counting::new(Duration::ZERO);
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .source(Provider::Google, source)
        .oauth(Provider::Google, Arc::new(GoogleConnector(Arc::new(oauth))))
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true"))
        .await
        .unwrap();
    for id in ["max", "zoe"] {
        a.add_participant(
            Participant::new(id, id.to_uppercase(), format!("{id}@example.org"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a
}

/// Serves through `http::serve` (header-read timeout, client addresses).
async fn start_with(
    config: impl FnOnce(HttpConfig) -> HttpConfig,
    serve_config: ServeConfig,
) -> Server {
    let world = World::new();
    let oauth = MockServer::start().await;
    let a = assistant(&world, &oauth).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(a.clone(), config(HttpConfig::demo(DemoConfig::default())));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, app, serve_config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        addr,
        world,
        oauth,
        assistant: a,
        stop: Some(stop),
        task: Some(task),
    }
}

async fn start() -> Server {
    start_with(|c| c, ServeConfig::default()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the JSON API; the cookie (name=value).
async fn sign_in(base: &str, who: Value) -> (StatusCode, Option<String>) {
    let r = client()
        .post(format!("{base}/api/session"))
        .json(&who)
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (r.status(), cookie)
}

async fn get(base: &str, cookie: &str, route: &str) -> (StatusCode, Value) {
    let r = client()
        .get(format!("{base}{route}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn state_of(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_authorization_link_opened_in_another_session_connects_nobody() {
    let server = start().await;
    let (_, max) = sign_in(&server.base, json!({"participant": "max"})).await;
    let (_, zoe) = sign_in(&server.base, json!({"participant": "zoe"})).await;
    let (max, zoe) = (max.unwrap(), zoe.unwrap());
    // max starts connecting and mails the link to zoe, who consents: the
    // provider sends zoe's browser (zoe's session) to the callback.
    let started: Value = client()
        .post(format!(
            "{}/api/participants/max/connect/google",
            server.base
        ))
        .header("cookie", &max)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = state_of(started["authorization_url"].as_str().unwrap());
    let (status, page) = get(
        &server.base,
        &zoe,
        &format!("/api/oauth/callback?state={state}&code=zoes-code"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // The code was never exchanged, nothing is stored for max, and the
    // attempt is used up (max's own callback now finds nothing).
    let token_calls = server
        .oauth
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count();
    assert_eq!(token_calls, 0);
    assert!(server.assistant.connection(&"max".into()).is_none());
    let (status, _) = get(
        &server.base,
        &max,
        &format!("/api/oauth/callback?state={state}&code=zoes-code"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A fresh attempt completed in max's own session connects, and returns
    // to the page it named (only the router's own paths are accepted).
    let (status, refused) = {
        let r = client()
            .post(format!(
                "{}/api/participants/max/connect/google",
                server.base
            ))
            .header("cookie", &max)
            .json(&json!({"return_to": "https://evil.test/"}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let started: Value = client()
        .post(format!(
            "{}/api/participants/max/connect/google",
            server.base
        ))
        .header("cookie", &max)
        .json(&json!({"return_to": "/"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = state_of(started["authorization_url"].as_str().unwrap());
    let r = client()
        .get(format!(
            "{}/api/oauth/callback?state={state}&code=maxs-code",
            server.base
        ))
        .header("cookie", &max)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    assert!(server.assistant.connection(&"max".into()).is_some());
}

#[tokio::test]
async fn cross_origin_posts_and_login_csrf_are_refused() {
    let server = start().await;
    let (_, max) = sign_in(&server.base, json!({"participant": "max"})).await;
    let max = max.unwrap();
    let put_hours = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut r = client()
            .put(format!("{}/api/participants/max/hours", server.base))
            .header("cookie", &max)
            .json(&json!({"weekly": {"mon": [{"start": "09:00", "end": "12:00"}]}}));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    for (origin, site) in [
        (Some("http://evil.test"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some(server.base.clone().leak() as &str), Some("cross-site")),
    ] {
        let r = put_hours(origin, site).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["kind"], "cross_origin");
    }
    assert!(
        server
            .assistant
            .own_hours(&"max".into())
            .unwrap()
            .is_unrestricted(),
        "nothing changed"
    );
    let r = put_hours(Some(server.base.clone().leak()), Some("same-origin"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Login CSRF: another site's form signing the victim in as the attacker.
    let r = client()
        .post(format!("{}/session", server.base))
        .header("origin", "http://evil.test")
        .form(&[("participant", "zoe")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_foreign_host_gets_421() {
    let server = start().await;
    // DNS rebinding: a page of evil.test whose name now points at 127.0.0.1.
    for host in ["evil.test", "evil.test:8080", "127.0.0.1.evil.test"] {
        let r = client()
            .get(format!("{}/api/me", server.base))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    let r = client()
        .get(format!("http://localhost:{}/api/me", server.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "allowed, not signed in"
    );
}

#[tokio::test]
async fn sessions_are_capped_expire_and_end_at_sign_out() {
    let mut limits = Limits::default();
    limits.sign_ins_per_minute = 1000;
    let server = start_with(
        |c| {
            let mut c = c.limits(limits);
            c.demo = Some(
                DemoConfig::default()
                    .max_sessions(5)
                    .timeouts(Duration::from_secs(600), Duration::from_secs(3600)),
            );
            c
        },
        ServeConfig::default(),
    )
    .await;
    // An unbounded loop of sign-ins keeps at most 5 sessions: the oldest go.
    let mut cookies = Vec::new();
    for _ in 0..20 {
        server.world.clock.advance(1);
        let (status, cookie) = sign_in(&server.base, json!({"participant": "max"})).await;
        assert_eq!(status, StatusCode::OK);
        cookies.push(cookie.unwrap());
    }
    for (i, c) in cookies.iter().enumerate() {
        let (status, _) = get(&server.base, c, "/api/me").await;
        let expected = if i >= 15 {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "session {i}");
    }

    // Idle: 10 minutes unused ends it; use keeps it alive.
    let (_, busy) = sign_in(&server.base, json!({"participant": "max"})).await;
    let (_, idle) = sign_in(&server.base, json!({"participant": "zoe"})).await;
    let (busy, idle) = (busy.unwrap(), idle.unwrap());
    for i in 0..3 {
        server.world.clock.advance(299);
        let (status, body) = get(&server.base, &busy, "/api/me").await;
        assert_eq!(status, StatusCode::OK, "{i} {body}");
    }
    assert_eq!(
        get(&server.base, &idle, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Absolute: an hour after sign-in, however busy.
    for _ in 0..10 {
        server.world.clock.advance(299);
        get(&server.base, &busy, "/api/me").await;
    }
    assert_eq!(
        get(&server.base, &busy, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Sign-out removes the session and expires the cookie.
    let (_, c) = sign_in(&server.base, json!({"participant": "max"})).await;
    let c = c.unwrap();
    let r = client()
        .delete(format!("{}/api/session", server.base))
        .header("cookie", &c)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("sa_session=;") && set.contains("Max-Age=0"),
        "{set}"
    );
    assert_eq!(
        get(&server.base, &c, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_in_and_connect_are_rate_limited_per_client() {
    let server = start().await;
    for i in 0..10 {
        let (status, _) = sign_in(&server.base, json!({"participant": "max"})).await;
        assert_eq!(status, StatusCode::OK, "sign-in {i}");
    }
    let r = client()
        .post(format!("{}/api/session", server.base))
        .json(&json!({"participant": "max"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    assert!(r.headers().get("set-cookie").is_none());

    // Connects (each iCloud one a real login at Apple) have their own limit.
    let server = start().await;
    let (_, max) = sign_in(&server.base, json!({"participant": "max"})).await;
    let max = max.unwrap();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let r = client()
            .post(format!(
                "{}/api/participants/max/connect/icloud",
                server.base
            ))
            .header("cookie", &max)
            .json(&json!({"apple_id": "max@example.org", "app_password": "abcd-efgh-ijkl-mnop"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn slow_clients_and_oversize_bodies_are_cut_off() {
    let mut limits = Limits::default();
    limits.body_timeout = Duration::from_secs(1);
    let server = start_with(
        |c| c.limits(limits),
        ServeConfig::default().header_read_timeout(Duration::from_secs(1)),
    )
    .await;
    // Half a request line, then nothing: the connection is closed.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /api/me HT").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server still holds the connection");

    // Headers, then half the body: 408.
    let (_, max) = sign_in(&server.base, json!({"participant": "max"})).await;
    let max = max.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /api/participants/max/hours HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: {max}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"weekly\":"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");

    // A body over 64 KiB: 413, whatever the route.
    let big = json!({"weekly": {}, "pad": "x".repeat(70 * 1024)});
    let r = client()
        .put(format!("{}/api/participants/max/hours", server.base))
        .header("cookie", &max)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = start().await;
    for route in ["/", "/api/me", "/openapi.json", "/no/such/route"] {
        let r = client()
            .get(format!("{}{route}", server.base))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{route}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{route}");
        assert_eq!(h["cache-control"], "no-store", "{route}");
        assert_eq!(h["x-frame-options"], "DENY", "{route}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-request-id"].len(), 16, "{route}");
        assert!(h.get("strict-transport-security").is_none(), "plain HTTP");
    }
}

/// An embedder's authenticator: a bearer header naming the participant,
/// and one token whose check fails (its store is down).
struct HeaderToken;

#[async_trait]
impl Authenticator for HeaderToken {
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, AuthError> {
        let Some(v) = request.headers.get("x-test-token") else {
            return Ok(None);
        };
        match v.to_str().unwrap_or("") {
            "token-of-max" => Ok(Some(Identity::new(Actor::participant("max")))),
            "broken" => Err(AuthError::Failed(
                "session store at postgres://admin:hunter2@db failed".into(),
            )),
            _ => Err(AuthError::Rejected("unknown token".into())),
        }
    }
}

#[tokio::test]
async fn an_embedders_authenticator_replaces_the_demo_sign_in() {
    let world = World::new();
    let oauth = MockServer::start().await;
    let a = assistant(&world, &oauth).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a, HttpConfig::new(Arc::new(HeaderToken)));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let send = |token: Option<&'static str>, m: reqwest::Method, route: &'static str| {
        let mut r = client().request(m, format!("{base}{route}"));
        if let Some(t) = token {
            r = r.header("x-test-token", t);
        }
        r.send()
    };
    // No demo sign-in: its route is not there, and naming someone is no key.
    let r = send(None, reqwest::Method::POST, "/api/session")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(None, reqwest::Method::GET, "/api/me").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = send(Some("token-of-max"), reqwest::Method::GET, "/api/me")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["participant"], "max");
    let r = send(Some("forged"), reqwest::Method::GET, "/api/me")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A failure of the authenticator is a 500 with a request id, and none
    // of its detail.
    let r = send(Some("broken"), reqwest::Method::GET, "/api/me")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("postgres"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["kind"], "internal");
    assert_eq!(body["error"]["request_id"], id.as_str());
    task.abort();
}

#[tokio::test]
async fn over_tls_cookies_are_secure_and_host_prefixed() {
    let server = start_with(|c| c.secure(true), ServeConfig::default()).await;
    let r = client()
        .post(format!("{}/api/session", server.base))
        .json(&json!({"participant": "max"}))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-sa_session="), "{set}");
    assert!(set.contains("; Secure") && set.contains("HttpOnly") && set.contains("Path=/"));
    assert!(!set.contains("Domain"));
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert_eq!(
        get(&server.base, &cookie, "/api/me").await.0,
        StatusCode::OK
    );
    // The plain name is not read when secure.
    let plain = cookie.replacen("__Host-", "", 1);
    assert_eq!(
        get(&server.base, &plain, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn serve_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("serve")
}

/// Runs `serve` with `args` until it prints its address or exits; its exit
/// status (None: it was serving, and was stopped) and stderr.
fn run_serve(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(serve_binary())
        .args(args)
        .arg("--addr")
        .arg("127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("build the examples first: cargo build --all-features --examples");
    let mut first = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let status = if first.starts_with("serving on") {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        child.wait().unwrap().code()
    };
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
    (status, err)
}

#[test]
fn serve_keeps_its_files_private_and_refuses_open_ones() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("state");
    let db = home.join("assistant.sqlite3");
    let (status, err) = run_serve(&["--db".as_ref(), db.as_os_str()]);
    assert_eq!(status, None, "{err}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&db.with_extension("key")), 0o600);
    // A restart on its own files works.
    assert_eq!(run_serve(&["--db".as_ref(), db.as_os_str()]).0, None);

    // A key file others can read is refused, and left as it was.
    std::fs::set_permissions(
        db.with_extension("key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (status, err) = run_serve(&["--db".as_ref(), db.as_os_str()]);
    assert_eq!(status, Some(2));
    assert!(
        err.contains("open to other users") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(
        db.with_extension("key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // So is a database others can read.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (status, err) = run_serve(&["--db".as_ref(), db.as_os_str()]);
    assert_eq!(status, Some(2), "{err}");
    assert!(err.contains("assistant.sqlite3"), "{err}");
    // A file that is not PEM as an extra root is a clear error.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let (status, err) = run_serve(&[
        "--db".as_ref(),
        db.as_os_str(),
        "--extra-root".as_ref(),
        junk.as_os_str(),
    ]);
    assert_eq!(status, Some(2));
    assert!(err.contains("no PEM certificate"), "{err}");
}

/// `examples/embed.rs`: the router behind a header-token authenticator, in
/// a service with routes of its own.
#[tokio::test]
async fn the_embed_example_signs_in_by_header_token_only() {
    use std::io::BufRead as _;
    let exe = serve_binary().with_file_name("embed");
    let mut child = std::process::Command::new(&exe)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("build the examples first: cargo build --all-features --examples");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let http = client();
    let me = |token: Option<&'static str>| {
        let mut r = http.get(format!("{base}/api/me"));
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.send()
    };
    assert_eq!(
        http.get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    assert_eq!(me(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(Some("forged")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = me(Some("token-of-maya")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["participant"], "maya");
    let r = http
        .post(format!("{base}/api/session"))
        .json(&json!({"participant": "maya"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no demo sign-in");
    let _ = child.kill();
    let _ = child.wait();
}

/// Two instances on one PostgreSQL database, each behind its own router:
/// a session begun on one is known to the other and ends on both at
/// sign-out; an OAuth attempt begun on one completes on the other only in
/// the same session.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn sessions_and_bound_attempts_are_shared_through_postgres() {
    use scheduling_assistant::{KeyId, KeyRing, MasterKey, Store, Vault};
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let oauth_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.x", "expires_in": 3599, "refresh_token": "1//r", "token_type": "Bearer"
        })))
        .mount(&oauth_server)
        .await;
    let world = World::new();
    let mut bases = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..2 {
        let oauth = GoogleOAuth::new(
            OAuthConfig::new("c", None, "http://127.0.0.1/api/oauth/callback").with_endpoints(
                format!("{}/auth", oauth_server.uri()),
                format!("{}/token", oauth_server.uri()),
                format!("{}/revoke", oauth_server.uri()),
            ),
        )
        .unwrap();
        let vault = Arc::new(Vault::new(
            Arc::new(
                credential_vault::PostgresStore::connect_without_tls(&url)
                    .await
                    .unwrap(),
            ),
            KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
        ));
        let source = common::Counting::new(Duration::ZERO);
        let a = Assistant::builder()
            .store(Store::connect_postgres_without_tls(&url).await.unwrap())
            .vault(vault)
            .clock(world.clock.clone())
            .source(Provider::Google, source)
            .oauth(Provider::Google, Arc::new(GoogleConnector(Arc::new(oauth))))
            .build()
            .await
            .unwrap();
        if i == 0 {
            a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true"))
                .await
                .unwrap();
            for id in ["max", "zoe"] {
                a.add_participant(
                    Participant::new(id, id.to_uppercase(), format!("{id}@example.org"), "UTC"),
                    &[ProgramId::new("p")],
                )
                .await
                .unwrap();
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}", listener.local_addr().unwrap()));
        let app = router(a, HttpConfig::demo(DemoConfig::default()));
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        }));
    }
    let (one, two) = (&bases[0], &bases[1]);
    let (_, max) = sign_in(one, json!({"participant": "max"})).await;
    let (_, zoe) = sign_in(two, json!({"participant": "zoe"})).await;
    let (max, zoe) = (max.unwrap(), zoe.unwrap());
    let (status, me) = get(two, &max, "/api/me").await;
    assert_eq!(
        (status, me["participant"].as_str()),
        (StatusCode::OK, Some("max"))
    );

    // Begun on one; zoe's callback on two is refused, and uses it up.
    let start = |cookie: String| {
        let base = one.clone();
        async move {
            let v: Value = client()
                .post(format!("{base}/api/participants/max/connect/google"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            state_of(
                v["authorization_url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{v}")),
            )
        }
    };
    let state = start(max.clone()).await;
    let callback = format!("/api/oauth/callback?state={state}&code=c");
    assert_eq!(get(two, &zoe, &callback).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(two, &max, &callback).await.0, StatusCode::BAD_REQUEST);
    // Begun on one, completed on two in max's session.
    let state = start(max.clone()).await;
    let callback = format!("/api/oauth/callback?state={state}&code=c");
    assert_eq!(get(two, &max, &callback).await.0, StatusCode::SEE_OTHER);
    let (_, status) = get(one, &max, "/api/participants/max/status").await;
    assert_eq!(status["text"], "Your Google calendar is connected");

    // Signed out on two: gone on one too.
    let r = client()
        .delete(format!("{two}/api/session"))
        .header("cookie", &max)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(one, &max, "/api/me").await.0, StatusCode::UNAUTHORIZED);
    for t in tasks {
        t.abort();
    }
}

/// `serve --org-config FILE`: the integrations in it are enabled at start
/// (validated against the provider), a private file only.
#[tokio::test]
async fn serve_enables_the_integrations_of_its_org_config() {
    use std::os::unix::fs::PermissionsExt as _;
    let workspace = common::mock_google_workspace(|_| json!([])).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("assistant.sqlite3");
    let config = dir.path().join("org.json");
    std::fs::write(
        &config,
        json!({"google_workspace": {
            "service_account_key": std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("crates/org-wide-auth/tests/test-service-account.json"),
            )
            .unwrap(),
            "scheduling_account": "scheduling@example.org",
            "domains": ["example.org"],
            "token_uri": format!("{}/token", workspace.uri()),
            "api_base": workspace.uri(),
        }})
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "--db".into(),
        db.clone().into(),
        "--org-config".into(),
        config.clone().into(),
    ];
    let run = move || {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_serve(&refs)
    };
    let (status, err) = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    assert_eq!(status, Some(2));
    assert!(
        err.contains("org.json") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (status, err) = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    assert_eq!(status, None, "{err}");
    assert!(
        err.contains("enabled google_workspace: ") && !err.contains(": 0 participants"),
        "{err}"
    );
    // Restarted: already enabled (restored from the store), not again.
    let (status, err) = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    assert_eq!(status, None, "{err}");
    assert!(!err.contains("enabled google_workspace"), "{err}");
    // A bad file is a one-line error naming it, never a value.
    std::fs::write(&config, r#"{"exchange_online": {"tenant": 7}}"#).unwrap();
    let (status, err) = tokio::task::spawn_blocking(run).await.unwrap();
    assert_eq!(status, Some(2));
    assert!(
        err.contains("org.json") && err.contains("exchange_online"),
        "{err}"
    );
}
