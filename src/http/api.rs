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

use super::error::{ApiError, rejected};
use super::page::page_error;
use super::session::{Me, SignIn, me};
use super::{App, MAX_WINDOW_DAYS, Shared};

pub(super) async fn api_sign_in(
    State(app): App,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(rejected)?;
    let (actor, cookie) = app.sign_in(&request)?;
    let mut response = Json(me(&actor)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(super) async fn api_sign_out(State(app): App, headers: HeaderMap) -> StatusCode {
    app.sign_out(&headers);
    StatusCode::NO_CONTENT
}

pub(super) async fn api_me(State(app): App, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    Ok(Json(me(&app.require(&headers)?)))
}

#[derive(Serialize)]
pub(super) struct ProgramOut {
    id: ProgramId,
    name: String,
    time_zone: String,
    group_polls: bool,
    scheduling_assistant: bool,
}

pub(super) async fn api_programs(
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

/// Lists the participants the session may schedule with (themselves,
/// current partners and group members; an administrator's programs'
/// people), emails only to the person and administrators.
pub(super) async fn api_participants(
    State(app): App,
    headers: HeaderMap,
) -> Result<Json<Vec<crate::Listed>>, ApiError> {
    let actor = app.require(&headers)?;
    Ok(Json(app.assistant.visible_participants(&actor).await))
}

#[derive(Serialize)]
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

pub(super) async fn api_status(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<StatusOut>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        status_out(&app, &actor, ParticipantId::new(id)).await?,
    ))
}

/// `GET /api/participants/{id}/hours`: a participant's own hours.
pub(super) async fn api_hours(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ParticipantHours>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant
            .own_hours_for(&actor, &ParticipantId::new(id))
            .await?,
    ))
}

/// `PUT /api/participants/{id}/hours`: sets them (the participant or an
/// administrator).
pub(super) async fn api_set_hours(
    State(app): App,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ParticipantHours>, JsonRejection>,
) -> Result<Json<ParticipantHours>, ApiError> {
    let actor = app.require(&headers)?;
    let Path(id) = path.map_err(rejected)?;
    let Json(hours) = body.map_err(rejected)?;
    let id = ParticipantId::new(id);
    app.assistant.set_own_hours(&actor, &id, hours).await?;
    Ok(Json(app.assistant.own_hours(&id)?))
}

/// `POST /api/participants/{id}/connect/{provider}` body (iCloud only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectBody {
    pub(super) apple_id: Option<String>,
    pub(super) app_password: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum ConnectOut {
    Redirect {
        authorization_url: String,
        expires_at: Timestamp,
    },
    Connected(StatusOut),
}

pub(super) fn provider(name: &str) -> Result<Provider, ApiError> {
    name.parse::<Provider>().map_err(ApiError::bad)
}

pub(super) async fn connect(
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
        return Ok(ConnectOut::Connected(status_out(app, actor, id).await?));
    }
    let start = app.assistant.begin_connect(actor, &id, provider).await?;
    Ok(ConnectOut::Redirect {
        authorization_url: start.authorization_url,
        expires_at: Timestamp::from_second(start.expires_at).unwrap_or(Timestamp::MAX),
    })
}

pub(super) async fn api_connect(
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
pub(super) struct Disconnected {
    disconnected: bool,
}

pub(super) async fn api_disconnect(
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

pub(super) async fn api_availability(
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
pub(super) struct PairOut {
    id: PairId,
    program: ProgramId,
    mentor: ParticipantId,
    mentee: ParticipantId,
}

/// The pairs the session may see: its own (all, for an administrator).
pub(super) async fn api_pairs(
    State(app): App,
    headers: HeaderMap,
) -> Result<Json<Vec<PairOut>>, ApiError> {
    let actor = app.require(&headers)?;
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

pub(super) async fn api_slots(
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
pub(super) struct GroupOut {
    id: GroupId,
    program: ProgramId,
    name: String,
    members: Vec<ParticipantId>,
}

pub(super) async fn api_groups(
    State(app): App,
    headers: HeaderMap,
) -> Result<Json<Vec<GroupOut>>, ApiError> {
    let actor = app.require(&headers)?;
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

/// The providers' redirect target: completes the connection, then shows
/// the page with the outcome.
pub(super) async fn oauth_callback(
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
