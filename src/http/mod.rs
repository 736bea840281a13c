//! An HTTP JSON API and a small server-rendered page over an
//! [`Assistant`], as an axum [`Router`] you can mount in your own service
//! (feature `http`, on by default; the `serve` example runs it).
//!
//! - The JSON API lives under `/api/`; its OpenAPI 3.1 document is served
//!   at `/openapi.json` ([`openapi()`]) and [`routes()`] lists every route, from
//!   the one table (`routes.rs`) the router and the document are built
//!   from.
//! - The page (`/`, `/week/{id}`, form posts) needs no JavaScript: sign in,
//!   the connect buttons with the status sentence, a partner's week as a
//!   grid of Unavailable blocks in the viewer's time zone, mutual slots,
//!   and group polls with "k of n invitees have connected a calendar".
//! - Who acts is your [`Authenticator`]'s answer, an [`Identity`] (an
//!   [`Actor`](crate::Actor) and, if your sign-in has one, its session):
//!   [`HttpConfig::new`] takes it. The demo's sign-in (anyone may pick a
//!   participant, or an administrator name of [`DemoConfig::admins`]) is
//!   [`HttpConfig::demo`], for trying the crates; the default lets nobody
//!   in. `examples/embed.rs` mounts the router behind a header token.
//! - Administrators have their API under `/api/admin/` and their page at
//!   `/admin`: policies (the organisation's layer and each program's, at
//!   run time, on every instance), programs, participants, pairs, groups,
//!   organisation integrations, and each program's connection report.
//! - Every request passes the defences of `security.rs` ([`Limits`],
//!   [`HttpConfig::allowed_hosts`], the same-origin check, security
//!   headers, rate limits); [`serve`] adds a header-read timeout and a
//!   connection cap. OAuth connects are bound to the session that began
//!   them ([`crate::ConnectBinding`]).
//! - Errors are JSON `{"error": {"kind": "...", "message": "..."}}`: bad
//!   input 400, no session 401, not allowed 403 (the work-on-behalf refusal
//!   and cross-origin requests included), unknown ids 404, a slow body 408,
//!   a conflict 409 (Exchange Online and on-premise exclude each other), a
//!   large body 413, a foreign `Host` 421, too many attempts 429. Input
//!   never causes a 500; a 500 means a fault of the service (its store, its
//!   vault or its set-up) and says only its request id, the detail going to
//!   the log. `error.rs` maps every error, once.
//!
//! Files: `routes` (the table: method, path, handler, OpenAPI operation),
//! `error` (the one mapping of [`AssistantError`](crate::AssistantError)
//! to a status), `auth` (the authenticator, identities, the extractors),
//! `session` (the demo sign-in over stored sessions), `security` (the
//! layers and `serve`), `api` and `polls` (the JSON handlers), `admin` and
//! `admin_page` (the administrator's API and page), `page` (the
//! server-rendered page, through maud), `openapi` (the document).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;

use crate::Assistant;

use error::ApiError;

mod admin;
mod admin_page;
mod api;
mod auth;
mod error;
mod openapi;
mod page;
mod polls;
mod routes;
mod security;
mod session;

pub use admin::integration_from_json;
pub use auth::{AuthError, Authenticator, Identity, Nobody};
pub use openapi::openapi;
pub use security::{Limits, ServeConfig, serve};
pub use session::DemoConfig;

/// The longest window one request may ask about.
pub(crate) const MAX_WINDOW_DAYS: i64 = 92;

/// How the router is set up: who signs people in, which hosts it answers
/// for, whether it is served over TLS, and its limits.
///
/// [`HttpConfig::new`] takes your [`Authenticator`]; [`HttpConfig::demo`]
/// turns on the demo's sign-in instead (anyone may pick a participant: for
/// trying the crates only, as the `serve` example does). The default lets
/// nobody in.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Who requests come from (default [`Nobody`]).
    pub authenticator: Arc<dyn Authenticator>,
    /// The demo's sign-in, when on (its sessions replace `authenticator`).
    pub demo: Option<DemoConfig>,
    /// `Host` values answered (421 otherwise): `name` on any port or
    /// `name:port` (default `localhost`, `127.0.0.1`, `[::1]`).
    pub allowed_hosts: Vec<String>,
    /// Served over TLS (directly or behind a proxy): cookies are `Secure`
    /// and `__Host-`, and responses carry `Strict-Transport-Security`
    /// (default off).
    pub secure: bool,
    /// The limits (see [`Limits`] for the defaults).
    pub limits: Limits,
    csrf_key: [u8; 32],
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("demo", &self.demo)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("secure", &self.secure)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::new(Arc::new(Nobody))
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    // Without randomness the key stays zero: form tokens of sessionless
    // identities are then guessable, but the same-origin check still holds.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key);
    key
}

impl HttpConfig {
    /// Requests are authenticated by `authenticator`.
    #[must_use]
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        Self {
            authenticator,
            demo: None,
            allowed_hosts: vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "[::1]".to_owned(),
            ],
            secure: false,
            limits: Limits::default(),
            csrf_key: random_key(),
        }
    }

    /// The demo's sign-in (`POST /api/session`, the page's form): anyone
    /// may pick a participant or one of `demo`'s administrator names.
    #[must_use]
    pub fn demo(demo: DemoConfig) -> Self {
        let mut config = Self::new(Arc::new(Nobody));
        config.demo = Some(demo);
        config
    }

    /// The `Host` values answered.
    #[must_use]
    pub fn allowed_hosts<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hosts: I) -> Self {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Served over TLS (see [`HttpConfig::secure`]).
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The key of the page's form tokens for identities without a session
    /// (give every instance the same 32 random bytes; by default each
    /// router draws its own).
    #[must_use]
    pub fn csrf_key(mut self, key: [u8; 32]) -> Self {
        self.csrf_key = key;
        self
    }
}

pub(crate) struct Shared {
    pub(crate) assistant: Assistant,
    pub(crate) config: HttpConfig,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    /// The demo's sign-in, when on.
    pub(crate) demo: Option<Arc<session::DemoSignIn>>,
    pub(crate) rate_limits: security::RateLimits,
    pub(crate) csrf_key: ring::hmac::Key,
}

impl Shared {
    /// The form token of `identity` (the page's forms carry it).
    pub(crate) fn csrf_token(&self, identity: &Identity) -> String {
        identity.csrf_token(&self.csrf_key)
    }

    /// Checks a form's token against the caller's: 403 otherwise.
    pub(crate) fn check_csrf(&self, identity: &Identity, given: &str) -> Result<(), ApiError> {
        let expected = self.csrf_token(identity);
        // Constant time over equal lengths (the token's length is public).
        let same = expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "bad_form_token",
                "this form is stale or was not sent by this service's page; reload and try again"
                    .to_owned(),
            ))
        }
    }
}

pub(crate) type App = State<Arc<Shared>>;

/// Every route: method and path (axum syntax). [`openapi()`] documents the
/// `/api/` ones and `/openapi.json`; the rest are the page.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    routes::table()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect()
}

/// The router: the JSON API, `/openapi.json` and the page, behind the
/// defences of `security.rs` (see [`Limits`] and [`HttpConfig`]).
pub fn router(assistant: Assistant, config: HttpConfig) -> Router {
    use axum::error_handling::HandleErrorLayer;
    use tower::ServiceBuilder;

    let demo = config
        .demo
        .clone()
        .map(|d| session::DemoSignIn::new(assistant.clone(), d, config.secure));
    let authenticator: Arc<dyn Authenticator> = match &demo {
        Some(d) => Arc::clone(d) as Arc<dyn Authenticator>,
        None => Arc::clone(&config.authenticator),
    };
    let shared = Arc::new(Shared {
        rate_limits: security::RateLimits::new(&config.limits),
        csrf_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &config.csrf_key),
        assistant,
        authenticator,
        demo,
        config,
    });
    let limits = shared.config.limits.clone();
    let mut app = Router::new();
    for route in routes::table() {
        app = app.route(route.path, route.handler);
    }
    let app = app
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "no such route".to_owned(),
            )
        })
        // Innermost first: the checks and authentication in one
        // middleware, then the body limit, the timeouts, the headers, the
        // in-flight cap and the request id.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            security::guard,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            limits.max_body_bytes,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    let app = security::with_headers(app, shared.config.secure)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "overloaded",
                        "the service is busy; try again shortly".to_owned(),
                    )
                }))
                .load_shed()
                .concurrency_limit(limits.max_in_flight.max(1)),
        )
        .layer(axum::middleware::from_fn(security::request_id));
    app.with_state(shared)
}
