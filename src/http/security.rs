//! The defences every request passes, outermost first (see [`super::router`]):
//! a request id, a cap on requests in flight, the `Host` allow-list (421),
//! security headers on every response, the request and body timeouts
//! (408), the body limit (413), the same-origin check on state-changing
//! requests (403), per-client rate limits on sign-in and connect (429),
//! and authentication. [`serve`] adds what only the connection can do: a
//! header-read timeout and a cap on connections.
//!
//! Which crate does what: `tower-http` the timeouts, body limit and
//! headers; `tower` the in-flight cap and load shedding; `governor` the
//! rate limits (GCRA, keyed by client address); `hyper`/`hyper-util` the
//! connections of [`serve`].

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Shared;
use super::auth::Authenticated;
use super::error::ApiError;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (`-` outside one).
pub(crate) fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// The limits the router applies; every field has a documented default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// A whole request, handler included, must finish within this (408;
    /// default 30 s).
    pub request_timeout: Duration,
    /// A request body must arrive within this (408; default 10 s).
    pub body_timeout: Duration,
    /// The largest request body (413; default 64 KiB).
    pub max_body_bytes: usize,
    /// Requests served at once; more are refused with 503 (default 512).
    pub max_in_flight: usize,
    /// Sign-ins per client address per minute (429; default 10, in a
    /// burst of as many).
    pub sign_ins_per_minute: u32,
    /// Connect attempts (OAuth starts and iCloud logins, each a real login
    /// at the provider) per client address per minute (429; default 10).
    pub connects_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            max_in_flight: 512,
            sign_ins_per_minute: 10,
            connects_per_minute: 10,
        }
    }
}

/// Keyed rate limiters, one per kind of limited request.
pub(crate) struct RateLimits {
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    connect: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl RateLimits {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            sign_in: RateLimiter::keyed(quota(limits.sign_ins_per_minute)),
            connect: RateLimiter::keyed(quota(limits.connects_per_minute)),
        }
    }
}

/// The rate-limited routes: the sign-ins and the connects (API and page).
fn limiter_for<'a>(
    limits: &'a RateLimits,
    method: &Method,
    path: &str,
) -> Option<&'a DefaultKeyedRateLimiter<IpAddr>> {
    if method != Method::POST {
        return None;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "session"] | ["session"] => Some(&limits.sign_in),
        ["api", "participants", _, "connect", _] | ["connect", _] => Some(&limits.connect),
        _ => None,
    }
}

/// Gives each request an id (`x-request-id` on the response; the one a
/// 500's body names and the log records).
/// Ids are this process's random prefix and a counter: unique across
/// instances and restarts without a system call per request.
pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static PREFIX: LazyLock<String> = LazyLock::new(|| {
        let mut bytes = [0u8; 4];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        super::auth::hex(&bytes)
    });
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let id = format!("{}{:08x}", *PREFIX, COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// The host part of a `Host` value or an origin's authority, lower-case,
/// and its port if given.
fn split_authority(authority: &str) -> (String, Option<&str>) {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        // [::1]:8080
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        let port = after.strip_prefix(':');
        return (format!("[{}]", host.to_ascii_lowercase()), port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
        None => (authority.to_ascii_lowercase(), None),
    }
}

/// Whether `host` (a `Host` header's value) is allowed: an entry
/// `name` allows that name on any port, `name:port` that port only.
pub(crate) fn host_allowed(allowed: &[String], host: &str) -> bool {
    let (name, port) = split_authority(host);
    if name.is_empty() {
        return false;
    }
    allowed.iter().any(|entry| {
        let (e_name, e_port) = split_authority(entry);
        e_name == name && (e_port.is_none() || e_port == port)
    })
}

fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
}

/// Refuses a request for a host this service does not answer as (DNS
/// rebinding reaching a loopback `serve`, say): 421.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response itself, built on the rare refused request"
)]
fn check_host(app: &Shared, request: &Request) -> Result<(), Response> {
    match request_host(request) {
        Some(host) if host_allowed(&app.config.allowed_hosts, &host) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "unknown_host",
            "this service does not answer for that host".to_owned(),
        )
        .into_response()),
    }
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request may have come from another site: a
/// browser says so in `Sec-Fetch-Site` (anything but `same-origin` or
/// `none`, a typed URL), or else in an `Origin` whose authority is not the
/// request's `Host` (`null` included). A request with neither comes from
/// no browser and is not a forgery vector.
pub(crate) fn cross_origin(headers: &HeaderMap, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let Some((_, authority)) = origin.split_once("://") else {
        return true;
    };
    let Some(host) = host else {
        return true;
    };
    let (o_name, o_port) = split_authority(authority);
    let (h_name, h_port) = split_authority(host);
    o_name != h_name || o_port != h_port
}

/// Refuses cross-site state-changing requests (CSRF, login CSRF): 403.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response itself, built on the rare refused request"
)]
fn same_origin(request: &Request) -> Result<(), Response> {
    if is_state_changing(request.method())
        && cross_origin(request.headers(), request_host(request).as_deref())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "a state-changing request must come from this service's own pages".to_owned(),
        )
        .into_response());
    }
    Ok(())
}

/// The client's address: the connection's peer when served with connect
/// info ([`serve`] does), else one shared key (every such client shares a
/// limit: safe, never unlimited).
fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Per-client rate limits on sign-in and connect: 429 with `Retry-After`.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response itself, built on the rare refused request"
)]
fn rate_limit(app: &Shared, request: &Request) -> Result<(), Response> {
    if let Some(limiter) = limiter_for(&app.rate_limits, request.method(), request.uri().path()) {
        let ip = client_ip(request);
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts from this address; wait a minute".to_owned(),
            )
            .into_response();
            let secs = wait.as_secs().saturating_add(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            // Forget quiet clients, so the limiter's memory stays bounded.
            limiter.retain_recent();
            return Err(response);
        }
    }
    Ok(())
}

/// The checks of every request, in one middleware (each layer of its own
/// would clone the inner service per request): the `Host` allow-list, the
/// same-origin check, the rate limits, then authentication, whose answer
/// it leaves in the request's extensions for [`super::auth::Caller`] /
/// [`super::auth::MaybeCaller`]; and, on a shared database, picking up
/// what other instances changed before the handler runs.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response itself, built on the rare refused request"
)]
pub(crate) async fn guard(
    State(app): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(refused) = check_host(&app, &request)
        .and_then(|()| same_origin(&request))
        .and_then(|()| rate_limit(&app, &request))
    {
        return refused;
    }
    let (mut parts, body) = request.into_parts();
    match app.authenticator.authenticate(&parts).await {
        Ok(identity) => {
            parts.extensions.insert(Authenticated(identity));
        }
        Err(super::auth::AuthError::Rejected(message)) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
                .into_response();
        }
        Err(super::auth::AuthError::Failed(detail)) => {
            return ApiError::internal(detail).into_response();
        }
    }
    app.assistant.sync().await;
    next.run(Request::from_parts(parts, body)).await
}

/// The Content-Security-Policy: nothing but this page's own style (by
/// hash), no scripts, no framing.
pub(crate) fn content_security_policy() -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, super::page::STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Adds the security headers to every response that lacks them.
pub(crate) fn with_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    secure: bool,
) -> Router<S> {
    use tower_http::set_header::SetResponseHeaderLayer as H;
    let fixed = |v: &'static str| HeaderValue::from_static(v);
    let mut router = router
        .layer(H::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            fixed("nosniff"),
        ))
        .layer(H::if_not_present(
            header::REFERRER_POLICY,
            fixed("no-referrer"),
        ))
        .layer(H::if_not_present(header::CACHE_CONTROL, fixed("no-store")))
        .layer(H::if_not_present(header::X_FRAME_OPTIONS, fixed("DENY")))
        .layer(H::if_not_present(
            axum::http::HeaderName::from_static("cross-origin-opener-policy"),
            fixed("same-origin"),
        ));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
        router = router.layer(H::if_not_present(header::CONTENT_SECURITY_POLICY, csp));
    }
    if secure {
        router = router.layer(H::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            fixed("max-age=31536000"),
        ));
    }
    router
}

/// How [`serve`] treats connections.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    /// A client must send its request line and headers within this, or
    /// the connection is closed (default 10 s): a client that sends half a
    /// request line holds nothing for long.
    pub header_read_timeout: Duration,
    /// Connections open at once; further ones wait to be accepted
    /// (default 1,024).
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

impl ServeConfig {
    /// The header-read timeout.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The most connections open at once.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }
}

/// Serves `router` on `listener` (HTTP/1.1) until `shutdown` completes,
/// with [`ServeConfig`]'s header-read timeout and connection cap and the
/// client's address given to the rate limits. Connections in progress
/// finish their current request.
///
/// # Errors
/// Only when the listener itself fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    tokio::pin!(shutdown);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = router.clone();
        let mut closing = closing_rx.clone();
        let header_timeout = config.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let hyper_service = TowerToHyperService::new(service.map_request(
                move |r: hyper::Request<hyper::body::Incoming>| {
                    let mut r = r.map(axum::body::Body::new);
                    r.extensions_mut().insert(ConnectInfo(peer));
                    r
                },
            ));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), hyper_service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = closing_tx.send(true);
    // Wait for the connections to finish (every permit back).
    let _ = permits
        .acquire_many(u32::try_from(config.max_connections.max(1)).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_and_port() {
        let allowed = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
            "example.org:8443".to_owned(),
        ];
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:3000",
            "[::1]:80",
            "example.org:8443",
        ] {
            assert!(host_allowed(&allowed, ok), "{ok}");
        }
        for refused in [
            "evil.test",
            "127.0.0.2:80",
            "example.org",
            "example.org:443",
            "",
            "localhost.evil.test",
        ] {
            assert!(!host_allowed(&allowed, refused), "{refused}");
        }
    }

    #[test]
    fn cross_origin_reads_fetch_metadata_then_origin() {
        let mut h = HeaderMap::new();
        assert!(!cross_origin(&h, Some("127.0.0.1:8080")), "no browser");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_origin(&h, Some("127.0.0.1:8080")));
        assert!(cross_origin(&h, Some("127.0.0.1:9090")));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_origin(&h, Some("127.0.0.1:8080")));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            !cross_origin(&h, Some("127.0.0.1:8080")),
            "fetch metadata decides"
        );
        for site in ["same-site", "cross-site"] {
            h.insert("sec-fetch-site", HeaderValue::from_str(site).unwrap());
            assert!(cross_origin(&h, Some("127.0.0.1:8080")), "{site}");
        }
    }

    #[test]
    fn only_sign_in_and_connect_are_rate_limited() {
        let limits = RateLimits::new(&Limits::default());
        assert!(limiter_for(&limits, &Method::POST, "/api/session").is_some());
        assert!(limiter_for(&limits, &Method::POST, "/session").is_some());
        assert!(
            limiter_for(
                &limits,
                &Method::POST,
                "/api/participants/maya/connect/icloud"
            )
            .is_some()
        );
        assert!(limiter_for(&limits, &Method::POST, "/connect/google").is_some());
        assert!(limiter_for(&limits, &Method::GET, "/api/session").is_none());
        assert!(limiter_for(&limits, &Method::POST, "/api/polls").is_none());
    }
}
