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
//! - Sessions say who acts. This router's sign-in is for trying the crates:
//!   anyone may pick a participant, or an administrator name from
//!   [`HttpConfig::admins`] working on someone's behalf. In your service,
//!   authenticate people your way and map them to an [`Actor`].
//! - Errors are JSON `{"error": {"kind": "...", "message": "..."}}`: bad
//!   input 400, no session 401, not allowed 403 (the work-on-behalf refusal
//!   included), unknown ids 404, a conflict 409 (Exchange Online and
//!   on-premise exclude each other). Input never causes a 500; a 500 means
//!   a fault of the service: its store, its vault or its set-up (a
//!   misconfigured OAuth connector). `error.rs` maps every error, once.

//!
//! Files: `routes` (the table: method, path, handler, OpenAPI operation),
//! `error` (the one mapping of [`AssistantError`](crate::AssistantError)
//! to a status), `session` (the demo sign-in and its cookie), `api` (the
//! JSON handlers), `page` (the server-rendered page), `openapi` (the
//! document).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::{Actor, Assistant};

use error::ApiError;

mod api;
mod error;
mod openapi;
mod page;
mod polls;
mod routes;
mod session;

pub use openapi::openapi;

/// The longest window one request may ask about.
pub(crate) const MAX_WINDOW_DAYS: i64 = 92;
pub(crate) const COOKIE: &str = "sa_session";

/// How the router is set up.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Administrator names the sign-in accepts (default `coordinator`).
    pub admins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            admins: vec!["coordinator".to_owned()],
        }
    }
}

impl HttpConfig {
    /// The administrator names the sign-in accepts.
    #[must_use]
    pub fn admins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, admins: I) -> Self {
        self.admins = admins.into_iter().map(Into::into).collect();
        self
    }
}

pub(crate) struct Shared {
    pub(crate) assistant: Assistant,
    pub(crate) config: HttpConfig,
    pub(crate) sessions: Mutex<HashMap<String, Actor>>,
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

/// The router: the JSON API, `/openapi.json` and the page.
pub fn router(assistant: Assistant, config: HttpConfig) -> Router {
    let shared = Arc::new(Shared {
        assistant,
        config,
        sessions: Mutex::new(HashMap::new()),
    });
    let mut app = Router::new();
    for route in routes::table() {
        app = app.route(route.path, route.handler);
    }
    app.fallback(|| async {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_route",
            "no such route".to_owned(),
        )
    })
    .layer(axum::middleware::from_fn_with_state(
        Arc::clone(&shared),
        sync_first,
    ))
    .with_state(shared)
}

/// Before each request, on a database shared by several instances, picks
/// up what the others changed (participants, connections, integrations):
/// a one-row read when nothing did, nothing on SQLite.
pub(crate) async fn sync_first(
    State(app): App,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    app.assistant.sync().await;
    next.run(request).await
}
