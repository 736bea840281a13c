//! The JSON API's poll and booking handlers (routes in `routes`): create,
//! list mine, view, answer, close, cancel and book polls; book a pair's
//! slot; list, view, reschedule and cancel bookings.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Json, Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    BookOptions, Booking, BookingId, GroupId, Invitees, PairId, ParticipantId, PollId, PollOptions,
    PollSummary, PollView, ProgramId, SlotRequest, Vote,
};

use super::App;
use super::api::{duration, window};
use super::auth::Caller;
use super::error::{ApiError, ErrorResponse, rejected};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PollBody {
    group: Option<String>,
    program: Option<String>,
    invitees: Option<Vec<String>>,
    duration: Option<String>,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    #[schema(minimum = 1, maximum = 50)]
    slots: Option<usize>,
    min_free: Option<u32>,
    title: Option<String>,
    description: Option<String>,
    #[schema(format = DateTime)]
    deadline: Option<String>,
}

/// A created poll: the stored poll, and (as before polls were stored) the
/// proposal's fields at the top level.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedPoll)]
pub(super) struct Created {
    id: PollId,
    invitees: usize,
    connected: usize,
    connected_text: String,
    slots: Vec<CreatedSlot>,
    poll: PollView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CreatedSlot {
    interval: availability::Interval,
    free: Vec<ParticipantId>,
    unavailable: Vec<ParticipantId>,
    unknown: Vec<ParticipantId>,
}

#[utoipa::path(
    post,
    path = "/api/polls",
    summary = "Create and store a poll: proposed slots ranked by free invitees (then earliest), with k of n connected; the proposal's fields at the top level, the stored poll under `poll`",
    request_body = PollBody,
    responses((status = 201, description = "Created", body = Created), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_create_poll(
    State(app): App,
    caller: Caller,
    body: Result<Json<PollBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let actor = caller.actor().clone();
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
    let mut options = PollOptions::new(b.title.unwrap_or_else(|| "Group meeting".to_owned()))
        .description(b.description.unwrap_or_default());
    if let Some(deadline) = b.deadline {
        options = options.deadline(
            deadline
                .parse::<Timestamp>()
                .map_err(|e| ApiError::bad(format!("`deadline` is not an RFC 3339 time: {e}")))?,
        );
    }
    let poll = app
        .assistant
        .create_poll(&actor, &invitees, request, options)
        .await?;
    let slots = poll
        .slots
        .iter()
        .map(|s| {
            let a = s.availability.clone().unwrap_or_default();
            CreatedSlot {
                interval: s.interval,
                free: a.free,
                unavailable: a.unavailable,
                unknown: a.unknown,
            }
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: poll.id.clone(),
            invitees: poll.invitees.len(),
            connected: poll.connected,
            connected_text: poll.connected_text.clone().unwrap_or_default(),
            slots,
            poll,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/polls",
    summary = "The polls the session created or is invited to, newest first; `waiting`: open and not yet answered by them",
    responses((status = 200, description = "OK", body = Vec<PollSummary>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_polls(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<PollSummary>>, ApiError> {
    let actor = caller.actor().clone();
    Ok(Json(app.assistant.polls(&actor).await?))
}

#[utoipa::path(
    get,
    path = "/api/polls/{id}",
    summary = "A poll: to invitees the slots, counts and their own answers; to its creator and the program's administrators also each answer and who is free now (read again), and k of n connected",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = PollView), (status = 401, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_view_poll(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PollView>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant.view_poll(&actor, &PollId::new(id)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Answer {
    slot: usize,
    vote: Vote,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = Answers)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswersBody {
    answers: Vec<Answer>,
}

#[utoipa::path(
    put,
    path = "/api/polls/{id}/answers",
    summary = "Answer a poll (yes, if_need_be, no per slot), replacing one's earlier answers; the invitee's own act, until it closes",
    params(("id" = String, Path, description = "The id")),
    request_body = AnswersBody,
    responses((status = 200, description = "OK", body = PollView), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse))
)]
pub(super) async fn api_answer_poll(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AnswersBody>, JsonRejection>,
) -> Result<Json<PollView>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Json(b) = body.map_err(rejected)?;
    let answers: Vec<(usize, Vote)> = b.answers.iter().map(|a| (a.slot, a.vote)).collect();
    Ok(Json(
        app.assistant
            .answer_poll(&actor, &PollId::new(id), &answers)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/polls/{id}/close",
    summary = "Close a poll to answers (its creator, the program's administrators)",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = PollView), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse))
)]
pub(super) async fn api_close_poll(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PollView>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant.close_poll(&actor, &PollId::new(id)).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/polls/{id}",
    summary = "Cancel a poll that is not booked",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = PollView), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse))
)]
pub(super) async fn api_cancel_poll(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PollView>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant.cancel_poll(&actor, &PollId::new(id)).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BookBody {
    slot: Option<usize>,
    from: Option<String>,
    to: Option<String>,
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    force: bool,
}

impl BookBody {
    fn options(&self) -> BookOptions {
        let mut options = BookOptions::new().force(self.force);
        options.title.clone_from(&self.title);
        options.description.clone_from(&self.description);
        options
    }

    fn interval(&self) -> Result<availability::Interval, ApiError> {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => window(from, to),
            _ => Err(ApiError::bad("give the meeting's `from` and `to`")),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/polls/{id}/booking",
    summary = "Book a poll's slot: every connected invitee re-read fresh (409 slot_taken names who is now busy, unless `force`), the meeting sent (scheduling account or iTIP email) and stored; exactly one booking of a poll wins",
    params(("id" = String, Path, description = "The id")),
    request_body = BookBody,
    responses((status = 201, description = "Booked", body = Booking), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse), (status = 502, response = ErrorResponse), (status = 503, response = ErrorResponse))
)]
pub(super) async fn api_book_poll(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BookBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Booking>), ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Json(b) = body.map_err(rejected)?;
    let slot = b
        .slot
        .ok_or_else(|| ApiError::bad("give the `slot` to book"))?;
    let booking = app
        .assistant
        .book_poll(&actor, &PollId::new(id), slot, b.options())
        .await?;
    Ok((StatusCode::CREATED, Json(booking)))
}

#[utoipa::path(
    post,
    path = "/api/pairs/{id}/bookings",
    summary = "Book a 1:1 for a pair (`from`, `to`, inside the program's hours): both re-read fresh, then sent and stored",
    params(("id" = String, Path, description = "The id")),
    request_body = BookBody,
    responses((status = 201, description = "Booked", body = Booking), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse), (status = 502, response = ErrorResponse), (status = 503, response = ErrorResponse))
)]
pub(super) async fn api_book_pair(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BookBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Booking>), ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Json(b) = body.map_err(rejected)?;
    let booking = app
        .assistant
        .book_pair(&actor, &PairId::new(id), b.interval()?, b.options())
        .await?;
    Ok((StatusCode::CREATED, Json(booking)))
}

#[utoipa::path(
    get,
    path = "/api/bookings",
    summary = "The bookings the session attends or made, newest first",
    responses((status = 200, description = "OK", body = Vec<Booking>), (status = 401, response = ErrorResponse))
)]
pub(super) async fn api_bookings(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<Booking>>, ApiError> {
    let actor = caller.actor().clone();
    Ok(Json(app.assistant.bookings(&actor).await?))
}

#[utoipa::path(
    get,
    path = "/api/bookings/{id}",
    summary = "A booking (its attendees, creator and the program's administrators)",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = Booking), (status = 401, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn api_booking(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Booking>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant.booking(&actor, &BookingId::new(id)).await?,
    ))
}

#[utoipa::path(
    put,
    path = "/api/bookings/{id}/time",
    summary = "Move a booking (`from`, `to`): same UID, SEQUENCE + 1, re-checked as at booking",
    params(("id" = String, Path, description = "The id")),
    request_body = BookBody,
    responses((status = 200, description = "OK", body = Booking), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse), (status = 502, response = ErrorResponse), (status = 503, response = ErrorResponse))
)]
pub(super) async fn api_reschedule(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BookBody>, JsonRejection>,
) -> Result<Json<Booking>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    let Json(b) = body.map_err(rejected)?;
    Ok(Json(
        app.assistant
            .reschedule(&actor, &BookingId::new(id), b.interval()?, b.options())
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/bookings/{id}",
    summary = "Cancel a booking (METHOD:CANCEL, or the provider's cancellation)",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = Booking), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse), (status = 502, response = ErrorResponse), (status = 503, response = ErrorResponse))
)]
pub(super) async fn api_cancel_booking(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Booking>, ApiError> {
    let actor = caller.actor().clone();
    let Path(id) = path.map_err(rejected)?;
    Ok(Json(
        app.assistant
            .cancel_booking(&actor, &BookingId::new(id))
            .await?,
    ))
}
