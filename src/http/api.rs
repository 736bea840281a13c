//! The JSON API's handlers (routes in `routes`).

use std::time::Duration;

use availability::Interval;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Json, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::{Redirect, Response};
use credential_vault::SecretString;
use jiff::Timestamp;
use policy_rules::{PolicyDuration, Provider};
use serde::{Deserialize, Serialize};

use crate::{
    Actor, Availability, ConnectionStatus, GroupId, PairId, ParticipantHours, ParticipantId,
    ProgramId, Proposal, SlotRequest,
};

use super::auth::{Caller, Identity, MaybeCaller};
use super::error::{ApiError, ErrorResponse, rejected};
use super::page::page_error;
use super::session::{Me, SignIn, me};
use super::{App, MAX_WINDOW_DAYS, Shared};

#[utoipa::path(
    post,
    path = "/api/session",
    summary = "Sign in as a participant, or as an administrator working on someone's behalf (sets the session cookie)",
    request_body = SignIn,
    security(()),
    responses((status = 200, description = "OK", body = Me), (status = 400, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_sign_in(
    State(app): App,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let demo = app.demo_sign_in()?;
    let Json(request) = body.map_err(rejected)?;
    let (actor, cookie) = demo.sign_in(&request).await?;
    let mut response = Json(me(&actor)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[utoipa::path(
    delete,
    path = "/api/session",
    summary = "Sign out",
    responses((status = 204, description = "Signed out"))
)]
pub(super) async fn api_sign_out(
    State(app): App,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cookie = app.demo_sign_in()?.sign_out(&headers).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/me",
    summary = "Who the session acts as",
    responses((status = 200, description = "OK", body = Me), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_me(caller: Caller) -> Json<Me> {
    Json(me(caller.actor()))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Program)]
pub(super) struct ProgramOut {
    id: ProgramId,
    name: String,
    time_zone: String,
    group_polls: bool,
    scheduling_assistant: bool,
}

#[utoipa::path(
    get,
    path = "/api/programs",
    summary = "Programs and their policy switches",
    responses((status = 200, description = "OK", body = Vec<ProgramOut>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_programs(
    State(app): App,
    _caller: Caller,
) -> Result<Json<Vec<ProgramOut>>, ApiError> {
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

/// Lists the participants the session may schedule with (themselves,
/// current partners and group members; an administrator's programs'
/// people), emails only to the person and administrators.
#[utoipa::path(
    get,
    path = "/api/participants",
    summary = "The participants the caller may schedule with (emails only to the person and administrators)",
    responses((status = 200, description = "OK", body = Vec<crate::Listed>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_participants(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<crate::Listed>>, ApiError> {
    let actor = caller.actor().clone();
    Ok(Json(app.assistant.visible_participants(&actor).await))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Status)]
pub(super) struct StatusOut {
    participant: ParticipantId,
    text: String,
    status: ConnectionStatus,
}

pub(super) async fn status_out(
    app: &Shared,
    actor: &Actor,
    id: ParticipantId,
) -> Result<StatusOut, ApiError> {
    app.assistant.participant(&id)?;
    let status = app.assistant.status_for(actor, &id).await?;
    Ok(StatusOut {
        participant: id,
        text: status.text(),
        status,
    })
}

#[utoipa::path(
    get,
    path = "/api/participants/{id}/status",
    summary = "A participant's connection status and its sentence: to the participant and their administrators with the connected account and the provider's reasons, to current partners and group members with fixed reason codes, to nobody else",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = StatusOut), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_status(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<StatusOut>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        status_out(&app, &actor, ParticipantId::new(id)).await?,
    ))
}

/// `GET /api/participants/{id}/hours`: a participant's own hours.
#[utoipa::path(
    get,
    path = "/api/participants/{id}/hours",
    summary = "A participant's own hours: narrower weekly hours and date overrides in their zone, inside the program's (the participant and their administrators)",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = ParticipantHours), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_hours(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ParticipantHours>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant
            .own_hours_for(&actor, &ParticipantId::new(id))
            .await?,
    ))
}

/// `PUT /api/participants/{id}/hours`: sets them (the participant or an
/// administrator).
#[utoipa::path(
    put,
    path = "/api/participants/{id}/hours",
    summary = "Set a participant's own hours (the participant or an administrator; an empty object removes them)",
    params(("id" = String, Path, description = "The id")),
    request_body = ParticipantHours,
    responses((status = 200, description = "OK", body = ParticipantHours), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_set_hours(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ParticipantHours>, JsonRejection>,
) -> Result<Json<ParticipantHours>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Json(hours) = body.map_err(rejected)?;
    let id = ParticipantId::new(id);
    app.assistant.set_own_hours(&actor, &id, hours).await?;
    Ok(Json(app.assistant.own_hours(&id)?))
}

/// `POST /api/participants/{id}/connect/{provider}` body (iCloud only).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectBody {
    /// iCloud: the Apple ID.
    pub(super) apple_id: Option<String>,
    /// iCloud: an app-specific password.
    #[schema(format = Password)]
    pub(super) app_password: Option<String>,
    /// Google and Microsoft: the page to return to once connected (one of
    /// the page's own paths; default `/`).
    pub(super) return_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum ConnectOut {
    /// Google and Microsoft: send the browser to the provider.
    Redirect {
        /// The provider's consent page.
        authorization_url: String,
        /// When the attempt expires.
        #[schema(value_type = String, format = DateTime)]
        expires_at: Timestamp,
    },
    /// iCloud: connected at once.
    Connected(StatusOut),
}

pub(super) fn provider(name: &str) -> Result<Provider, ApiError> {
    name.parse::<Provider>().map_err(ApiError::bad)
}

/// Where a connect may return the browser: one of the page's own
/// parameterless `GET` paths (`/` when none is given).
pub(super) fn return_path(given: Option<&str>) -> Result<String, ApiError> {
    let Some(path) = given.filter(|p| !p.is_empty()) else {
        return Ok("/".to_owned());
    };
    let own = super::routes::listed()
        .iter()
        .any(|r| r.method == "GET" && !r.documented && !r.path.contains('{') && r.path == path);
    if own {
        Ok(path.to_owned())
    } else {
        Err(ApiError::bad(
            "`return_to` must be one of this service's own pages",
        ))
    }
}

/// Connects `id`'s calendar for `caller`: iCloud at once, Google and
/// Microsoft by an authorization URL whose attempt is bound to the
/// caller's session (see [`crate::ConnectBinding`]) and returns to
/// `return_to` (validated by [`return_path`]).
pub(super) async fn connect(
    app: &Shared,
    caller: &Identity,
    id: ParticipantId,
    provider: Provider,
    body: ConnectBody,
    return_to: Option<&str>,
) -> Result<ConnectOut, ApiError> {
    let actor = caller.actor();
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
        return Ok(ConnectOut::Connected(status_out(app, actor, id).await?));
    }
    let binding = caller.binding().return_to(return_path(return_to)?);
    let start = app
        .assistant
        .begin_connect_bound(actor, &id, provider, binding)
        .await?;
    Ok(ConnectOut::Redirect {
        authorization_url: start.authorization_url,
        expires_at: Timestamp::from_second(start.expires_at).unwrap_or(Timestamp::MAX),
    })
}

#[utoipa::path(
    post,
    path = "/api/participants/{id}/connect/{provider}",
    summary = "Connect a calendar: Google and Microsoft return the authorization URL; iCloud takes the Apple ID and app-specific password and validates them first. Only the participant may: an administrator working on their behalf gets 403 on_behalf_refused",
    params(("id" = String, Path, description = "The id"), ("provider" = inline(Provider), Path, description = "`google`, `microsoft` or `icloud`")),
    request_body = Option<ConnectBody>,
    responses((status = 200, description = "OK", body = ConnectOut), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_connect(
    State(app): App,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ConnectBody>, JsonRejection>,
) -> Result<Json<ConnectOut>, ApiError> {
    let Path((id, name)) = path.map_err(rejected)?;
    let provider = provider(&name)?;
    // Google and Microsoft take no body (or only `return_to`).
    let mut body = match body {
        Ok(Json(b)) => b,
        Err(JsonRejection::MissingJsonContentType(_)) => ConnectBody::default(),
        Err(e) => return Err(rejected(e)),
    };
    let return_to = body.return_to.take();
    Ok(Json(
        connect(
            &app,
            &caller.0,
            ParticipantId::new(id),
            provider,
            body,
            return_to.as_deref(),
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Disconnected {
    disconnected: bool,
}

#[utoipa::path(
    delete,
    path = "/api/participants/{id}/connection",
    summary = "Disconnect: deletes the credentials and cached busy times",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = Disconnected), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_disconnect(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Disconnected>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let disconnected = app
        .assistant
        .disconnect(&actor, &ParticipantId::new(id))
        .await?;
    Ok(Json(Disconnected { disconnected }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowQuery {
    from: String,
    to: String,
    duration: Option<String>,
    limit: Option<usize>,
}

pub(super) fn window(from: &str, to: &str) -> Result<Interval, ApiError> {
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

pub(super) fn duration(text: Option<&str>) -> Result<Duration, ApiError> {
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

#[utoipa::path(
    get,
    path = "/api/participants/{id}/availability",
    summary = "A participant's Unavailable times in a window (times only): to themselves, current partners, group members and their programs' administrators",
    params(("id" = String, Path, description = "The id"), ("from" = String, Query, format = DateTime, description = "The window's start (RFC 3339)"), ("to" = String, Query, format = DateTime, description = "The window's end (RFC 3339)")),
    responses((status = 200, description = "OK", body = Availability), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_availability(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<Availability>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Query(q) = query.map_err(rejected)?;
    let w = window(&q.from, &q.to)?;
    Ok(Json(
        app.assistant
            .availability(&actor, &ParticipantId::new(id), w)
            .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Pair)]
pub(super) struct PairOut {
    id: PairId,
    program: ProgramId,
    mentor: ParticipantId,
    mentee: ParticipantId,
}

/// The pairs the session may see: its own (all, for an administrator).
#[utoipa::path(
    get,
    path = "/api/pairs",
    summary = "The session's mentoring pairs",
    responses((status = 200, description = "OK", body = Vec<PairOut>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_pairs(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<PairOut>>, ApiError> {
    let actor = caller.actor().clone();
    Ok(Json(
        app.assistant
            .pairs()
            .into_iter()
            .filter(|p| match &actor {
                Actor::Participant(me) => p.mentor == *me || p.mentee == *me,
                _ => app.assistant.administers(&actor, &p.program),
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

#[utoipa::path(
    get,
    path = "/api/pairs/{id}/slots",
    summary = "Mutual free slots of a pair inside its program's policy",
    params(("id" = String, Path, description = "The id"), ("from" = String, Query, format = DateTime, description = "The window's start (RFC 3339)"), ("to" = String, Query, format = DateTime, description = "The window's end (RFC 3339)"), ("duration" = Option<String>, Query, description = "The meeting length (default 30m)", example = "30m"), ("limit" = Option<usize>, Query, description = "How many slots (default 5, at most 50)")),
    responses((status = 200, description = "OK", body = Proposal), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_slots(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<Proposal>, ApiError> {
    let actor = caller.actor().clone();
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

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Group)]
pub(super) struct GroupOut {
    id: GroupId,
    program: ProgramId,
    name: String,
    members: Vec<ParticipantId>,
}

#[utoipa::path(
    get,
    path = "/api/groups",
    summary = "The session's groups",
    responses((status = 200, description = "OK", body = Vec<GroupOut>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_groups(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<GroupOut>>, ApiError> {
    let actor = caller.actor().clone();
    Ok(Json(
        app.assistant
            .groups()
            .into_iter()
            .filter(|g| match &actor {
                Actor::Participant(me) => g.members.contains(me),
                _ => app.assistant.administers(&actor, &g.program),
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

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The providers' redirect target: completes the connection in the
/// session that began it (another session's callback, or none, is
/// refused without exchanging the code), then returns to the page the
/// attempt named.
#[utoipa::path(
    get,
    path = "/api/oauth/callback",
    summary = "The providers' OAuth redirect target (RFC 6749 4.1.2): completes the connection and redirects to the page",
    params(("state" = Option<String>, Query, description = "The attempt's state"), ("code" = Option<String>, Query, description = "The authorization code"), ("error" = Option<String>, Query, description = "The provider's error code (RFC 6749 4.1.2.1)")),
    security(()),
    responses((status = 303, description = "Connected; back to the page"), (status = 400, description = "Declined, expired or refused (an HTML page)"), (status = 500, description = "The service is misconfigured (an HTML page)"))
)]
pub(super) async fn oauth_callback(
    State(app): App,
    caller: MaybeCaller,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return page_error(StatusCode::BAD_REQUEST, "malformed callback");
    };
    if let Some(error) = q.error {
        // RFC 6749 §4.1.2.1: the participant declined, or the provider
        // failed. The code is an ASCII token; anything else is not echoed.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
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
    let Some(identity) = caller.0 else {
        return page_error(
            StatusCode::UNAUTHORIZED,
            "sign in, in the browser where you began connecting, and connect again",
        );
    };
    match app
        .assistant
        .complete_connect_bound(&state, &code, &identity.binding_key())
        .await
    {
        Ok(done) => {
            let to = return_path(done.return_to.as_deref()).unwrap_or_else(|_| "/".to_owned());
            Redirect::to(&to).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            page_error(e.status, &e.public_message())
        }
    }
}
