//! An HTTP JSON API and a small server-rendered page over an
//! [`Assistant`], as an axum [`Router`] you can mount in your own service
//! (feature `http`, on by default; the `serve` example runs it).
//!
//! - The JSON API lives under `/api/`; its OpenAPI 3.1 document is served
//!   at `/openapi.json` ([`openapi`]) and [`ROUTES`] lists every route, so
//!   tests check the two against each other.
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
//!   included), unknown ids 404. Input never causes a 500; a 500 means the
//!   store or vault failed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Json, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use credential_vault::SecretString;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use policy_rules::{PolicyDuration, Provider};
use serde::{Deserialize, Serialize};

use crate::{
    Actor, Assistant, AssistantError, Availability, ConnectionStatus, GroupId, Invitees, PairId,
    ParticipantId, ProgramId, Proposal, SlotRequest,
};
use availability::Interval;

/// Every route: method and path (axum syntax). [`openapi`] documents the
/// `/api/` ones and `/openapi.json`; the rest are the page.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("GET", "/api/me"),
    ("GET", "/api/programs"),
    ("GET", "/api/participants"),
    ("GET", "/api/participants/{id}/status"),
    ("POST", "/api/participants/{id}/connect/{provider}"),
    ("DELETE", "/api/participants/{id}/connection"),
    ("GET", "/api/participants/{id}/availability"),
    ("GET", "/api/pairs"),
    ("GET", "/api/pairs/{id}/slots"),
    ("GET", "/api/groups"),
    ("POST", "/api/polls"),
    ("GET", "/api/oauth/callback"),
    ("GET", "/openapi.json"),
    ("GET", "/"),
    ("POST", "/session"),
    ("POST", "/logout"),
    ("POST", "/connect/{provider}"),
    ("POST", "/disconnect"),
    ("GET", "/week/{id}"),
    ("POST", "/polls"),
];

/// The longest window one request may ask about.
const MAX_WINDOW_DAYS: i64 = 92;
const COOKIE: &str = "sa_session";

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

struct Shared {
    assistant: Assistant,
    config: HttpConfig,
    sessions: Mutex<HashMap<String, Actor>>,
}

type App = State<Arc<Shared>>;

/// The router: the JSON API, `/openapi.json` and the page.
pub fn router(assistant: Assistant, config: HttpConfig) -> Router {
    let shared = Arc::new(Shared {
        assistant,
        config,
        sessions: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/api/session", post(api_sign_in).delete(api_sign_out))
        .route("/api/me", get(api_me))
        .route("/api/programs", get(api_programs))
        .route("/api/participants", get(api_participants))
        .route("/api/participants/{id}/status", get(api_status))
        .route(
            "/api/participants/{id}/connect/{provider}",
            post(api_connect),
        )
        .route("/api/participants/{id}/connection", delete(api_disconnect))
        .route("/api/participants/{id}/availability", get(api_availability))
        .route("/api/pairs", get(api_pairs))
        .route("/api/pairs/{id}/slots", get(api_slots))
        .route("/api/groups", get(api_groups))
        .route("/api/polls", post(api_poll))
        .route("/api/oauth/callback", get(oauth_callback))
        .route("/openapi.json", get(|| async { Json(openapi()) }))
        .route("/", get(page_home))
        .route("/session", post(page_sign_in))
        .route("/logout", post(page_sign_out))
        .route("/connect/{provider}", post(page_connect))
        .route("/disconnect", post(page_disconnect))
        .route("/week/{id}", get(page_week))
        .route("/polls", post(page_poll))
        .fallback(|| async {
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
async fn sync_first(
    State(app): App,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    app.assistant.sync().await;
    next.run(request).await
}

// ----- errors ----------------------------------------------------------------

/// A JSON error response.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            message,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message.into())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    kind: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInner {
                kind: self.kind,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<AssistantError> for ApiError {
    fn from(e: AssistantError) -> Self {
        use AssistantError as E;
        let (status, kind) = match &e {
            E::UnknownProgram(_) | E::UnknownParticipant(_) | E::UnknownPair(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            E::UnknownGroup(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::OnBehalfRefused { .. } => (StatusCode::FORBIDDEN, "on_behalf_refused"),
            E::NotAllowed(_) => (StatusCode::FORBIDDEN, "not_allowed"),
            E::ProviderNotAllowed { .. } => (StatusCode::FORBIDDEN, "provider_not_allowed"),
            E::GroupPollsDisabled(_) => (StatusCode::FORBIDDEN, "group_polls_disabled"),
            E::SchedulingDisabled(_) => (StatusCode::FORBIDDEN, "scheduling_disabled"),
            E::ProviderNotConfigured(_) => (StatusCode::BAD_REQUEST, "provider_not_configured"),
            E::ConnectExpired => (StatusCode::BAD_REQUEST, "connect_expired"),
            E::ConnectFailed(_) => (StatusCode::BAD_REQUEST, "connect_failed"),
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
        }
        Self::new(status, kind, e.to_string())
    }
}

fn rejected(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad(e.to_string())
}

// ----- sessions --------------------------------------------------------------

fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no randomness".to_owned(),
        )
    })?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(str::to_owned)
}

impl Shared {
    fn actor(&self, headers: &HeaderMap) -> Option<Actor> {
        let token = cookie_token(headers)?;
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&token)
            .cloned()
    }

    fn require(&self, headers: &HeaderMap) -> Result<Actor, ApiError> {
        self.actor(headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "no_session",
                "sign in first (POST /api/session)".to_owned(),
            )
        })
    }

    /// Checks a sign-in request and opens a session; returns the cookie.
    fn sign_in(&self, request: &SignIn) -> Result<(Actor, HeaderValue), ApiError> {
        let actor = match (&request.participant, &request.admin) {
            (Some(p), None) => {
                let id = ParticipantId::new(p.clone());
                self.assistant.participant(&id)?;
                Actor::Participant(id)
            }
            (None, Some(admin)) => {
                if !self.config.admins.iter().any(|a| a == admin) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "not_allowed",
                        format!("{admin} is not an administrator here"),
                    ));
                }
                let on_behalf_of = match request.on_behalf_of.as_deref().filter(|s| !s.is_empty()) {
                    Some(p) => {
                        let id = ParticipantId::new(p);
                        self.assistant.participant(&id)?;
                        Some(id)
                    }
                    None => None,
                };
                Actor::Administrator {
                    admin: admin.clone(),
                    on_behalf_of,
                }
            }
            _ => {
                return Err(ApiError::bad(
                    "give either `participant`, or `admin` (with `on_behalf_of`)",
                ));
            }
        };
        let token = new_token()?;
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), actor.clone());
        let cookie =
            HeaderValue::from_str(&format!("{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/"))
                .map_err(|e| ApiError::bad(e.to_string()))?;
        Ok((actor, cookie))
    }

    fn sign_out(&self, headers: &HeaderMap) -> bool {
        cookie_token(headers).is_some_and(|t| {
            self.sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&t)
                .is_some()
        })
    }
}

/// Whom a session acts for: the participant, or the one an administrator
/// works for.
fn subject(actor: &Actor) -> Option<&ParticipantId> {
    match actor {
        Actor::Participant(p) => Some(p),
        Actor::Administrator { on_behalf_of, .. } => on_behalf_of.as_ref(),
    }
}

// ----- JSON API ----------------------------------------------------------------

/// `POST /api/session`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    participant: Option<String>,
    admin: Option<String>,
    on_behalf_of: Option<String>,
}

#[derive(Serialize)]
struct Me {
    participant: Option<ParticipantId>,
    admin: Option<String>,
    on_behalf_of: Option<ParticipantId>,
}

fn me(actor: &Actor) -> Me {
    match actor {
        Actor::Participant(p) => Me {
            participant: Some(p.clone()),
            admin: None,
            on_behalf_of: None,
        },
        Actor::Administrator {
            admin,
            on_behalf_of,
        } => Me {
            participant: None,
            admin: Some(admin.clone()),
            on_behalf_of: on_behalf_of.clone(),
        },
    }
}

async fn api_sign_in(
    State(app): App,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(rejected)?;
    let (actor, cookie) = app.sign_in(&request)?;
    let mut response = Json(me(&actor)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn api_sign_out(State(app): App, headers: HeaderMap) -> StatusCode {
    app.sign_out(&headers);
    StatusCode::NO_CONTENT
}

async fn api_me(State(app): App, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    Ok(Json(me(&app.require(&headers)?)))
}

#[derive(Serialize)]
struct ProgramOut {
    id: ProgramId,
    name: String,
    time_zone: String,
    group_polls: bool,
    scheduling_assistant: bool,
}

async fn api_programs(
    State(app): App,
    headers: HeaderMap,
) -> Result<Json<Vec<ProgramOut>>, ApiError> {
    app.require(&headers)?;
    let mut out = Vec::new();
    for p in app.assistant.programs() {
        let policy = app.assistant.policy(&p.id)?;
        out.push(ProgramOut {
            id: p.id,
            name: p.name,
            time_zone: policy.time_zone().name().to_owned(),
            group_polls: policy.group_polls_enabled(),
            scheduling_assistant: policy.scheduling_assistant_enabled(),
        });
    }
    Ok(Json(out))
}

#[derive(Serialize)]
struct ParticipantOut {
    id: ParticipantId,
    name: String,
    time_zone: String,
    programs: Vec<ProgramId>,
}

/// Lists participants (no emails: a participant's address is theirs).
async fn api_participants(
    State(app): App,
    headers: HeaderMap,
) -> Result<Json<Vec<ParticipantOut>>, ApiError> {
    app.require(&headers)?;
    Ok(Json(
        app.assistant
            .participants()
            .into_iter()
            .map(|(p, programs)| ParticipantOut {
                id: p.id,
                name: p.name,
                time_zone: p.time_zone,
                programs,
            })
            .collect(),
    ))
}

#[derive(Serialize)]
struct StatusOut {
    participant: ParticipantId,
    text: String,
    status: ConnectionStatus,
}

async fn status_out(app: &Shared, id: ParticipantId) -> Result<StatusOut, ApiError> {
    app.assistant.participant(&id)?;
    let status = app.assistant.status(&id).await;
    Ok(StatusOut {
        participant: id,
        text: status.text(),
        status,
    })
}

async fn api_status(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<StatusOut>, ApiError> {
    app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(status_out(&app, ParticipantId::new(id)).await?))
}

/// `POST /api/participants/{id}/connect/{provider}` body (iCloud only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectBody {
    apple_id: Option<String>,
    app_password: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ConnectOut {
    Redirect {
        authorization_url: String,
        expires_at: Timestamp,
    },
    Connected(StatusOut),
}

fn provider(name: &str) -> Result<Provider, ApiError> {
    name.parse::<Provider>().map_err(ApiError::bad)
}

async fn connect(
    app: &Shared,
    actor: &Actor,
    id: ParticipantId,
    provider: Provider,
    body: ConnectBody,
) -> Result<ConnectOut, ApiError> {
    app.assistant.participant(&id)?;
    if provider == Provider::Icloud {
        let (Some(apple_id), Some(password)) = (body.apple_id, body.app_password) else {
            return Err(ApiError::bad("iCloud needs `apple_id` and `app_password`"));
        };
        if apple_id.trim().is_empty() || password.is_empty() {
            return Err(ApiError::bad("iCloud needs `apple_id` and `app_password`"));
        }
        app.assistant
            .connect_icloud(actor, &id, apple_id.trim(), SecretString::new(password))
            .await?;
        return Ok(ConnectOut::Connected(status_out(app, id).await?));
    }
    let start = app.assistant.begin_connect(actor, &id, provider).await?;
    Ok(ConnectOut::Redirect {
        authorization_url: start.authorization_url,
        expires_at: Timestamp::from_second(start.expires_at).unwrap_or(Timestamp::MAX),
    })
}

async fn api_connect(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ConnectBody>, JsonRejection>,
) -> Result<Json<ConnectOut>, ApiError> {
    let actor = app.require(&headers)?;
    let Path((id, name)) = path.map_err(rejected)?;
    let provider = provider(&name)?;
    // Google and Microsoft take no body.
    let body = match body {
        Ok(Json(b)) => b,
        Err(JsonRejection::MissingJsonContentType(_)) => ConnectBody::default(),
        Err(e) => return Err(rejected(e)),
    };
    Ok(Json(
        connect(&app, &actor, ParticipantId::new(id), provider, body).await?,
    ))
}

#[derive(Serialize)]
struct Disconnected {
    disconnected: bool,
}

async fn api_disconnect(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Disconnected>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    let disconnected = app
        .assistant
        .disconnect(&actor, &ParticipantId::new(id))
        .await?;
    Ok(Json(Disconnected { disconnected }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowQuery {
    from: String,
    to: String,
    duration: Option<String>,
    limit: Option<usize>,
}

fn window(from: &str, to: &str) -> Result<Interval, ApiError> {
    let parse = |name: &str, v: &str| {
        v.parse::<Timestamp>()
            .map_err(|e| ApiError::bad(format!("`{name}` is not an RFC 3339 time: {e}")))
    };
    let (from, to) = (parse("from", from)?, parse("to", to)?);
    let w =
        Interval::from_jiff(from, to).map_err(|e| ApiError::bad(format!("`from`/`to`: {e}")))?;
    if w.len_secs() <= 0 {
        return Err(ApiError::bad("`to` must be after `from`"));
    }
    if w.len_secs() > MAX_WINDOW_DAYS * 86_400 {
        return Err(ApiError::bad(format!(
            "the window may span at most {MAX_WINDOW_DAYS} days"
        )));
    }
    Ok(w)
}

fn duration(text: Option<&str>) -> Result<Duration, ApiError> {
    let text = text.unwrap_or("30m");
    let d: PolicyDuration = text
        .parse()
        .map_err(|e| ApiError::bad(format!("`duration`: {e}")))?;
    if d.as_secs() < 60 || d.as_secs() > 86_400 || !d.as_secs().is_multiple_of(60) {
        return Err(ApiError::bad(
            "`duration` must be whole minutes between 1 minute and 24 hours",
        ));
    }
    Ok(d.to_std())
}

async fn api_availability(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<Availability>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    let Query(q) = query.map_err(rejected)?;
    let w = window(&q.from, &q.to)?;
    Ok(Json(
        app.assistant
            .availability(&actor, &ParticipantId::new(id), w)
            .await?,
    ))
}

#[derive(Serialize)]
struct PairOut {
    id: PairId,
    program: ProgramId,
    mentor: ParticipantId,
    mentee: ParticipantId,
}

/// The pairs the session may see: its own (all, for an administrator).
async fn api_pairs(State(app): App, headers: HeaderMap) -> Result<Json<Vec<PairOut>>, ApiError> {
    let actor = app.require(&headers)?;
    Ok(Json(
        app.assistant
            .pairs()
            .into_iter()
            .filter(|p| match &actor {
                Actor::Participant(me) => p.mentor == *me || p.mentee == *me,
                Actor::Administrator { .. } => true,
            })
            .map(|p| PairOut {
                id: p.id,
                program: p.program,
                mentor: p.mentor,
                mentee: p.mentee,
            })
            .collect(),
    ))
}

async fn api_slots(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<Proposal>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    let Query(q) = query.map_err(rejected)?;
    let request = SlotRequest::new(duration(q.duration.as_deref())?, window(&q.from, &q.to)?)
        .limit(q.limit.unwrap_or(5).clamp(1, 50));
    Ok(Json(
        app.assistant
            .mutual_slots(&actor, &PairId::new(id), request)
            .await?,
    ))
}

#[derive(Serialize)]
struct GroupOut {
    id: GroupId,
    program: ProgramId,
    name: String,
    members: Vec<ParticipantId>,
}

async fn api_groups(State(app): App, headers: HeaderMap) -> Result<Json<Vec<GroupOut>>, ApiError> {
    let actor = app.require(&headers)?;
    Ok(Json(
        app.assistant
            .groups()
            .into_iter()
            .filter(|g| match &actor {
                Actor::Participant(me) => g.members.contains(me),
                Actor::Administrator { .. } => true,
            })
            .map(|g| GroupOut {
                id: g.id,
                program: g.program,
                name: g.name,
                members: g.members,
            })
            .collect(),
    ))
}

/// `POST /api/polls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PollBody {
    group: Option<String>,
    program: Option<String>,
    invitees: Option<Vec<String>>,
    duration: Option<String>,
    from: String,
    to: String,
    slots: Option<usize>,
    min_free: Option<u32>,
}

async fn api_poll(
    State(app): App,
    headers: HeaderMap,
    body: Result<Json<PollBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let actor = app.require(&headers)?;
    let Json(b) = body.map_err(rejected)?;
    let invitees = match (b.group, b.program, b.invitees) {
        (Some(g), None, None) => Invitees::Group(GroupId::new(g)),
        (None, Some(program), Some(list)) if !list.is_empty() => Invitees::List {
            program: ProgramId::new(program),
            participants: list.into_iter().map(ParticipantId::new).collect(),
        },
        _ => {
            return Err(ApiError::bad(
                "give either `group`, or `program` and a non-empty `invitees` list",
            ));
        }
    };
    let mut request = SlotRequest::new(duration(b.duration.as_deref())?, window(&b.from, &b.to)?)
        .limit(b.slots.unwrap_or(5).clamp(1, 50));
    if let Some(k) = b.min_free {
        request = request.min_free(k);
    }
    let poll = app.assistant.poll(&actor, &invitees, request).await?;
    Ok((StatusCode::CREATED, Json(poll)))
}

#[derive(Debug, Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The providers' redirect target: completes the connection, then shows
/// the page with the outcome.
async fn oauth_callback(
    State(app): App,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return page_error(StatusCode::BAD_REQUEST, "malformed callback");
    };
    if let Some(error) = q.error {
        // RFC 6749 §4.1.2.1: the participant declined, or the provider failed.
        return page_error(
            StatusCode::BAD_REQUEST,
            &format!("the provider did not connect the calendar ({error})"),
        );
    }
    let (Some(state), Some(code)) = (q.state, q.code) else {
        return page_error(
            StatusCode::BAD_REQUEST,
            "the callback needs `state` and `code`",
        );
    };
    match app.assistant.complete_connect(&state, &code).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            page_error(e.status, &e.message)
        }
    }
}

// ----- the page -------------------------------------------------------------------

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}\
table.week{border-collapse:collapse;font-size:.8rem}\
table.week td,table.week th{border:1px solid #ccc;padding:2px 6px;min-width:5.5rem;text-align:center}\
td.unavailable{background:#c0392b;color:#fff}td.free{background:#eafaf1}td.closed{background:#f4f4f4}\
.status{font-weight:bold}.error{color:#c0392b}form.inline{display:inline}\
section{margin-bottom:1.5rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} - scheduling-assistant</title><style>{STYLE}</style></head>\
         <body><h1>{}</h1>{body}<p><a href=\"/\">Home</a></p></body></html>",
        escape(title),
        escape(title)
    ))
}

fn page_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Not done",
            &format!("<p class=\"error\" id=\"error\">{}</p>", escape(message)),
        ),
    )
        .into_response()
}

fn page_result(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| page_error(e.status, &e.message))
}

async fn page_home(State(app): App, headers: HeaderMap) -> Response {
    let Some(actor) = app.actor(&headers) else {
        return sign_in_page(&app).into_response();
    };
    page_result(home(&app, &actor).await)
}

fn sign_in_page(app: &Shared) -> Html<String> {
    let mut body = String::from(
        "<p>Try the assistant as one of the demo participants (this sign-in is the \
         example's; your service brings its own).</p><section><h2>Sign in as a participant</h2>",
    );
    let people = app.assistant.participants();
    for (p, _) in &people {
        let _ = write!(
            body,
            "<form class=\"inline\" method=\"post\" action=\"/session\">\
             <input type=\"hidden\" name=\"participant\" value=\"{id}\">\
             <button id=\"sign-in-{id}\">{name}</button></form> ",
            id = escape(p.id.as_str()),
            name = escape(&p.name)
        );
    }
    body.push_str("</section><section><h2>Or as an administrator</h2>");
    body.push_str("<form method=\"post\" action=\"/session\"><select name=\"admin\">");
    for a in &app.config.admins {
        let _ = write!(body, "<option>{}</option>", escape(a));
    }
    body.push_str("</select> working on behalf of <select name=\"on_behalf_of\">");
    for (p, _) in &people {
        let _ = write!(
            body,
            "<option value=\"{}\">{}</option>",
            escape(p.id.as_str()),
            escape(&p.name)
        );
    }
    body.push_str("</select> <button id=\"sign-in-admin\">Sign in</button></form></section>");
    page("Scheduling assistant", &body)
}

async fn home(app: &Shared, actor: &Actor) -> Result<Response, ApiError> {
    let mut body = String::new();
    let who = match actor {
        Actor::Participant(p) => app.assistant.participant(p)?.name,
        Actor::Administrator {
            admin,
            on_behalf_of,
        } => match on_behalf_of {
            Some(p) => format!(
                "{admin} (administrator, working on behalf of {})",
                app.assistant.participant(p)?.name
            ),
            None => format!("{admin} (administrator)"),
        },
    };
    let _ = write!(
        body,
        "<p>Signed in as <span id=\"who\">{}</span>. \
         <form class=\"inline\" method=\"post\" action=\"/logout\"><button id=\"sign-out\">Sign out</button></form></p>",
        escape(&who)
    );
    let Some(subject) = subject(actor).cloned() else {
        body.push_str("<p>Choose a participant to work for.</p>");
        return Ok(page("Scheduling assistant", &body).into_response());
    };
    let status = app.assistant.status(&subject).await;
    let _ = write!(
        body,
        "<section><h2>Calendar</h2><p class=\"status\" id=\"status\">{}</p>",
        escape(&status.text())
    );
    for (provider, label) in [
        (Provider::Google, "Connect Google Calendar"),
        (Provider::Microsoft, "Connect Microsoft 365"),
    ] {
        let _ = write!(
            body,
            "<form class=\"inline\" method=\"post\" action=\"/connect/{p}\">\
             <button id=\"connect-{p}\">{label}</button></form> ",
            p = provider.as_str()
        );
    }
    body.push_str(
        "<form method=\"post\" action=\"/connect/icloud\" id=\"icloud-form\"><p>iCloud: \
         <input name=\"apple_id\" id=\"apple-id\" placeholder=\"Apple ID\" autocomplete=\"off\"> \
         <input name=\"app_password\" id=\"app-password\" type=\"password\" \
         placeholder=\"app-specific password\" autocomplete=\"off\"> \
         <button id=\"connect-icloud\">Connect iCloud</button></p></form>",
    );
    if !matches!(status, ConnectionStatus::NotConnected) {
        body.push_str(
            "<form method=\"post\" action=\"/disconnect\"><button id=\"disconnect\">Disconnect</button></form>",
        );
    }
    body.push_str("</section><section><h2>Mentoring</h2><ul>");
    for pair in app.assistant.pairs() {
        let partner = if pair.mentor == subject {
            &pair.mentee
        } else if pair.mentee == subject {
            &pair.mentor
        } else {
            continue;
        };
        let name = app.assistant.participant(partner)?.name;
        let _ = write!(
            body,
            "<li><a id=\"week-{id}\" href=\"/week/{id}\">{name}'s week</a></li>",
            id = escape(partner.as_str()),
            name = escape(&name)
        );
    }
    body.push_str("</ul></section><section><h2>Group polls</h2>");
    for group in app.assistant.groups() {
        if !group.members.contains(&subject) {
            continue;
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/polls\"><input type=\"hidden\" name=\"group\" value=\"{id}\">\
             {name}: <input name=\"duration\" value=\"60m\" size=\"4\"> from \
             <input name=\"start\" type=\"date\" value=\"{today}\"> for 7 days \
             <button id=\"poll-{id}\">Propose times</button></form>",
            id = escape(group.id.as_str()),
            name = escape(&group.name),
            today = today(app, &subject)?
        );
    }
    body.push_str("</section>");
    Ok(page("Scheduling assistant", &body).into_response())
}

fn zone_of(app: &Shared, id: &ParticipantId) -> Result<TimeZone, ApiError> {
    let p = app.assistant.participant(id)?;
    caldav_provider::ical::time_zone(&p.time_zone)
        .ok_or_else(|| ApiError::bad(format!("unknown time zone {}", p.time_zone)))
}

fn today(app: &Shared, viewer: &ParticipantId) -> Result<Date, ApiError> {
    Ok(zone_of(app, viewer)?
        .to_datetime(app.assistant.now())
        .date())
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    participant: Option<String>,
    admin: Option<String>,
    on_behalf_of: Option<String>,
}

async fn page_sign_in(State(app): App, form: Result<Form<SignInForm>, FormRejection>) -> Response {
    let result = (|| {
        let Form(f) = form.map_err(rejected)?;
        let request = SignIn {
            participant: f.participant,
            admin: f.admin,
            on_behalf_of: f.on_behalf_of,
        };
        let (_, cookie) = app.sign_in(&request)?;
        let mut response = Redirect::to("/").into_response();
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        Ok(response)
    })();
    page_result(result)
}

async fn page_sign_out(State(app): App, headers: HeaderMap) -> Response {
    app.sign_out(&headers);
    Redirect::to("/").into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ConnectForm {
    apple_id: Option<String>,
    app_password: Option<String>,
}

async fn page_connect(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ConnectForm>, FormRejection>,
) -> Response {
    let result = async {
        let actor = app.require(&headers)?;
        let Path(name) = path.map_err(rejected)?;
        let provider = provider(&name)?;
        let f = form.map(|Form(f)| f).unwrap_or_default();
        let subject = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        let body = ConnectBody {
            apple_id: f.apple_id,
            app_password: f.app_password,
        };
        match connect(&app, &actor, subject, provider, body).await? {
            ConnectOut::Redirect {
                authorization_url, ..
            } => Ok(Redirect::to(&authorization_url).into_response()),
            ConnectOut::Connected(_) => Ok(Redirect::to("/").into_response()),
        }
    }
    .await;
    page_result(result)
}

async fn page_disconnect(State(app): App, headers: HeaderMap) -> Response {
    let result = async {
        let actor = app.require(&headers)?;
        let subject = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        app.assistant.disconnect(&actor, &subject).await?;
        Ok(Redirect::to("/").into_response())
    }
    .await;
    page_result(result)
}

#[derive(Debug, Deserialize)]
struct WeekQuery {
    start: Option<String>,
}

fn local_second(tz: &TimeZone, date: Date, minutes: i64) -> Result<i64, ApiError> {
    let dt = date
        .to_datetime(jiff::civil::Time::midnight())
        .checked_add(jiff::Span::new().minutes(minutes))
        .map_err(|e| ApiError::bad(e.to_string()))?;
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map(|t| t.as_second())
        .map_err(|e| ApiError::bad(e.to_string()))
}

async fn page_week(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WeekQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let actor = app.require(&headers)?;
        let Path(id) = path.map_err(rejected)?;
        let Query(q) = query.map_err(rejected)?;
        let target = ParticipantId::new(id);
        let partner = app.assistant.participant(&target)?;
        // The viewer's zone: the participant's own, else the partner's.
        let viewer = subject(&actor).cloned().unwrap_or_else(|| target.clone());
        let tz = zone_of(&app, &viewer)?;
        let first = match q.start.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse::<Date>()
                .map_err(|e| ApiError::bad(format!("`start` is not a date: {e}")))?,
            None => today(&app, &viewer)?,
        };
        let start = local_second(&tz, first, 0)?;
        let end = local_second(&tz, first, 7 * 24 * 60)?;
        let w = Interval::new(start, end).map_err(|e| ApiError::bad(e.to_string()))?;
        let seen = app.assistant.availability(&actor, &target, w).await?;
        // Hours the program does not book (weekends, nights, inside the
        // minimum notice) are shaded: the pair's program, else the partner's.
        let pair = app.assistant.pairs().into_iter().find(|p| {
            (p.mentor == viewer && p.mentee == target) || (p.mentee == viewer && p.mentor == target)
        });
        let program = match &pair {
            Some(p) => Some(p.program.clone()),
            None => app
                .assistant
                .participants()
                .into_iter()
                .find(|(p, _)| p.id == target)
                .and_then(|(_, programs)| programs.into_iter().next()),
        };
        let bookable = match &program {
            Some(p) => Some(app.assistant.policy(p)?.bookable(w, app.assistant.now())),
            None => None,
        };
        let mut body = format!(
            "<p>{}'s availability, in your time zone ({}). Unavailable blocks only: \
             nothing about what they are. Grey: outside the program's bookable hours.</p>",
            escape(&partner.name),
            escape(tz.iana_name().unwrap_or("UTC"))
        );
        if !seen.known {
            let _ = write!(
                body,
                "<p class=\"error\" id=\"unknown\">Their times are unknown: {}</p>",
                escape(seen.reason.as_deref().unwrap_or(""))
            );
        }
        body.push_str("<table class=\"week\" id=\"week\"><tr><th></th>");
        let days: Vec<Date> = (0..7)
            .filter_map(|i| first.checked_add(jiff::Span::new().days(i)).ok())
            .collect();
        for d in &days {
            let _ = write!(body, "<th>{}</th>", d.strftime("%a %d %b"));
        }
        body.push_str("</tr>");
        for row in 0..28 {
            let minutes = 7 * 60 + row * 30;
            let _ = write!(body, "<tr><th>{:02}:{:02}</th>", minutes / 60, minutes % 60);
            for d in &days {
                let s = local_second(&tz, *d, minutes)?;
                let cell = Interval::new(s, s + 1800).map_err(|e| ApiError::bad(e.to_string()))?;
                let at = Timestamp::from_second(s).unwrap_or(Timestamp::MIN);
                if !seen.known {
                    let _ = write!(body, "<td class=\"closed\" data-start=\"{at}\">?</td>");
                } else if seen.unavailable.iter().any(|u| u.overlaps(&cell)) {
                    let _ = write!(
                        body,
                        "<td class=\"unavailable\" data-start=\"{at}\">Unavailable</td>"
                    );
                } else if bookable.as_ref().is_some_and(|b| !b.covers(&cell)) {
                    let _ = write!(
                        body,
                        "<td class=\"closed\" data-start=\"{at}\" title=\"outside the program's hours\"></td>"
                    );
                } else {
                    let _ = write!(body, "<td class=\"free\" data-start=\"{at}\"></td>");
                }
            }
            body.push_str("</tr>");
        }
        body.push_str("</table>");
        // Mutual slots, when the viewer and this partner are a pair.
        if let Some(pair) = pair {
            let request = SlotRequest::new(Duration::from_secs(3600), w).limit(5);
            match app.assistant.mutual_slots(&actor, &pair.id, request).await {
                Ok(p) => {
                    body.push_str("<h2>Mutual one-hour slots</h2><ol id=\"slots\">");
                    for slot in &p.slots {
                        let _ = write!(body, "<li>{}</li>", when(&tz, slot.interval));
                    }
                    body.push_str("</ol>");
                }
                Err(e) => {
                    let _ = write!(body, "<p class=\"error\">{}</p>", escape(&e.to_string()));
                }
            }
        }
        Ok(page(&format!("{}'s week", partner.name), &body).into_response())
    }
    .await;
    page_result(result)
}

fn when(tz: &TimeZone, interval: Interval) -> String {
    let s = tz.to_datetime(interval.start_jiff());
    let e = tz.to_datetime(interval.end_jiff());
    format!("{} - {}", s.strftime("%a %d %b %H:%M"), e.strftime("%H:%M"))
}

#[derive(Debug, Deserialize)]
struct PollForm {
    group: String,
    duration: Option<String>,
    start: Option<String>,
}

async fn page_poll(
    State(app): App,
    headers: HeaderMap,
    form: Result<Form<PollForm>, FormRejection>,
) -> Response {
    let result = async {
        let actor = app.require(&headers)?;
        let Form(f) = form.map_err(rejected)?;
        let viewer = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        let tz = zone_of(&app, &viewer)?;
        let first = match f.start.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse::<Date>()
                .map_err(|e| ApiError::bad(format!("`start` is not a date: {e}")))?,
            None => today(&app, &viewer)?,
        };
        let w = Interval::new(
            local_second(&tz, first, 0)?,
            local_second(&tz, first, 7 * 1440)?,
        )
        .map_err(|e| ApiError::bad(e.to_string()))?;
        let request = SlotRequest::new(duration(f.duration.as_deref())?, w)
            .limit(5)
            .min_free(1);
        let poll = app
            .assistant
            .poll(&actor, &Invitees::Group(GroupId::new(f.group)), request)
            .await?;
        let mut body = format!(
            "<p id=\"connected\">{}</p><table id=\"poll\"><tr><th>When ({})</th><th>Free</th>\
             <th>Unavailable</th><th>Unknown</th></tr>",
            escape(poll.connected_text()),
            escape(tz.iana_name().unwrap_or("UTC"))
        );
        let names = |ids: &[ParticipantId]| {
            ids.iter()
                .map(|i| {
                    app.assistant
                        .participant(i)
                        .map_or_else(|_| i.to_string(), |p| p.name)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for slot in &poll.slots {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(&tz, slot.interval),
                escape(&names(&slot.free)),
                escape(&names(&slot.unavailable)),
                escape(&names(&slot.unknown))
            );
        }
        body.push_str("</table>");
        Ok(page("Proposed times", &body).into_response())
    }
    .await;
    page_result(result)
}

// ----- OpenAPI ------------------------------------------------------------------

/// The OpenAPI 3.1 document of the JSON API.
pub fn openapi() -> serde_json::Value {
    use serde_json::json;
    let error = json!({"$ref": "#/components/responses/Error"});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let from = json!({"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date-time"}});
    let to = json!({"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date-time"}});
    let ok = |schema: serde_json::Value| json!({"description": "OK", "content": {"application/json": {"schema": schema}}});
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "scheduling-assistant",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Free/busy scheduling for mentoring programs: connections, availability (times only), mutual slots and group polls. Errors are {\"error\": {\"kind\", \"message\"}}: 400 bad input, 401 no session, 403 not allowed, 404 unknown id."
        },
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": COOKIE}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": r("Error")}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["kind", "message"], "properties": {"kind": {"type": "string"}, "message": {"type": "string"}}}}},
                "Interval": {"type": "object", "required": ["start", "end"], "properties": {"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}},
                "Me": {"type": "object", "properties": {"participant": {"type": ["string", "null"]}, "admin": {"type": ["string", "null"]}, "on_behalf_of": {"type": ["string", "null"]}}},
                "SignIn": {"type": "object", "additionalProperties": false, "properties": {"participant": {"type": "string"}, "admin": {"type": "string"}, "on_behalf_of": {"type": "string"}}},
                "Program": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "time_zone": {"type": "string"}, "group_polls": {"type": "boolean"}, "scheduling_assistant": {"type": "boolean"}}},
                "Participant": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "time_zone": {"type": "string"}, "programs": {"type": "array", "items": {"type": "string"}}}},
                "Status": {"type": "object", "required": ["participant", "text", "status"], "properties": {"participant": {"type": "string"}, "text": {"type": "string", "examples": ["Your Google calendar is connected"]}, "status": {"type": "object", "required": ["state"], "properties": {"state": {"enum": ["not_connected", "connected", "through_organisation", "needs_reconnecting", "unreachable"]}, "provider": {"enum": ["google", "microsoft", "icloud", null]}, "reason": {"type": "string"}, "since": {"type": "integer"}, "integration": {"type": "string"}}}}},
                "ConnectBody": {"type": "object", "additionalProperties": false, "properties": {"apple_id": {"type": "string"}, "app_password": {"type": "string", "format": "password"}}},
                "ConnectStarted": {"type": "object", "required": ["authorization_url", "expires_at"], "properties": {"authorization_url": {"type": "string", "format": "uri"}, "expires_at": {"type": "string", "format": "date-time"}}},
                "Availability": {"type": "object", "required": ["participant", "window", "known", "unavailable"], "properties": {"participant": {"type": "string"}, "window": r("Interval"), "known": {"type": "boolean"}, "unavailable": {"type": "array", "items": r("Interval")}, "reason": {"type": ["string", "null"]}}},
                "Pair": {"type": "object", "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "mentor": {"type": "string"}, "mentee": {"type": "string"}}},
                "Group": {"type": "object", "properties": {"id": {"type": "string"}, "program": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}}}},
                "PollBody": {"type": "object", "additionalProperties": false, "required": ["from", "to"], "properties": {"group": {"type": "string"}, "program": {"type": "string"}, "invitees": {"type": "array", "items": {"type": "string"}}, "duration": {"type": "string", "examples": ["30m", "1h"]}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "slots": {"type": "integer", "minimum": 1, "maximum": 50}, "min_free": {"type": "integer", "minimum": 0}}},
                "Proposal": {"type": "object", "required": ["invitees", "connected", "connected_text", "slots", "problems"], "properties": {"invitees": {"type": "integer"}, "connected": {"type": "integer"}, "connected_text": {"type": "string", "examples": ["4 of 5 invitees have connected a calendar"]}, "slots": {"type": "array", "items": {"type": "object", "properties": {"interval": r("Interval"), "free": {"type": "array", "items": {"type": "string"}}, "unavailable": {"type": "array", "items": {"type": "string"}}, "unknown": {"type": "array", "items": {"type": "string"}}}}}, "problems": {"type": "array", "items": {"type": "object", "properties": {"participant": {"type": "string"}, "reason": {"type": "string"}}}}}}
            }
        },
        "security": [{"session": []}],
        "paths": {
            "/api/session": {
                "post": {"summary": "Sign in as a participant, or as an administrator working on someone's behalf (sets the session cookie)", "security": [], "requestBody": {"required": true, "content": {"application/json": {"schema": r("SignIn")}}}, "responses": {"200": ok(r("Me")), "400": error, "403": error, "404": error}},
                "delete": {"summary": "Sign out", "responses": {"204": {"description": "Signed out"}}}
            },
            "/api/me": {"get": {"summary": "Who the session acts as", "responses": {"200": ok(r("Me")), "401": error}}},
            "/api/programs": {"get": {"summary": "Programs and their policy switches", "responses": {"200": ok(json!({"type": "array", "items": r("Program")})), "401": error}}},
            "/api/participants": {"get": {"summary": "Participants (no emails)", "responses": {"200": ok(json!({"type": "array", "items": r("Participant")})), "401": error}}},
            "/api/participants/{id}/status": {"get": {"summary": "A participant's connection status and its sentence", "parameters": [id], "responses": {"200": ok(r("Status")), "401": error, "404": error}}},
            "/api/participants/{id}/connect/{provider}": {"post": {"summary": "Connect a calendar: Google and Microsoft return the authorization URL; iCloud takes the Apple ID and app-specific password and validates them first. Only the participant may: an administrator working on their behalf gets 403 on_behalf_refused", "parameters": [id, {"name": "provider", "in": "path", "required": true, "schema": {"enum": ["google", "microsoft", "icloud"]}}], "requestBody": {"required": false, "content": {"application/json": {"schema": r("ConnectBody")}}}, "responses": {"200": ok(json!({"oneOf": [r("ConnectStarted"), r("Status")]})), "400": error, "401": error, "403": error, "404": error}}},
            "/api/participants/{id}/connection": {"delete": {"summary": "Disconnect: deletes the credentials and cached busy times", "parameters": [id], "responses": {"200": ok(json!({"type": "object", "properties": {"disconnected": {"type": "boolean"}}})), "401": error, "403": error, "404": error}}},
            "/api/participants/{id}/availability": {"get": {"summary": "A partner's Unavailable times in a window (times only)", "parameters": [id, from, to], "responses": {"200": ok(r("Availability")), "400": error, "401": error, "403": error, "404": error}}},
            "/api/pairs": {"get": {"summary": "The session's mentoring pairs", "responses": {"200": ok(json!({"type": "array", "items": r("Pair")})), "401": error}}},
            "/api/pairs/{id}/slots": {"get": {"summary": "Mutual free slots of a pair inside its program's policy", "parameters": [id, from, to, {"name": "duration", "in": "query", "schema": {"type": "string", "default": "30m"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 5}}], "responses": {"200": ok(r("Proposal")), "400": error, "401": error, "403": error, "404": error}}},
            "/api/groups": {"get": {"summary": "The session's groups", "responses": {"200": ok(json!({"type": "array", "items": r("Group")})), "401": error}}},
            "/api/polls": {"post": {"summary": "Create a group poll: proposed slots ranked by free invitees, with k of n connected", "requestBody": {"required": true, "content": {"application/json": {"schema": r("PollBody")}}}, "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": r("Proposal")}}}, "400": error, "401": error, "403": error, "404": error}}},
            "/api/oauth/callback": {"get": {"summary": "The providers' OAuth redirect target (RFC 6749 4.1.2): completes the connection and redirects to the page", "security": [], "parameters": [{"name": "state", "in": "query", "schema": {"type": "string"}}, {"name": "code", "in": "query", "schema": {"type": "string"}}, {"name": "error", "in": "query", "schema": {"type": "string"}}], "responses": {"303": {"description": "Connected; back to the page"}, "400": {"description": "Declined, expired or refused (an HTML page)"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": ok(json!({"type": "object"}))}}}
        }
    })
}
