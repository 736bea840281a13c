//! Polls on the page: "Your polls" on the home page, creating one for a
//! group, its page (an invitee's answer form; its manager's answers beside
//! live availability and the Book buttons), answering and booking. Every
//! form carries the form token `csrf`, checked before anything else.

use availability::Interval;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    Actor, AssistantError, BookOptions, Booking, Creator, GroupId, Invitees, ParticipantId, PollId,
    PollOptions, PollSlot, PollStatus, PollView, ProgramId, SlotRequest, Vote,
};

use super::super::api::duration;
use super::super::auth::MaybeCaller;
use super::super::error::{ApiError, rejected};
use super::super::session::subject;
use super::super::{App, Shared};
use super::{
    csrf_field, local_second, page, page_result, signed, subject_of, today, when, zone_of,
};

/// "Your polls": the polls the viewer created or is invited to, newest
/// first, each a link, those waiting for the viewer's answer marked.
pub(super) async fn polls_section(app: &Shared, actor: &Actor) -> Result<Markup, ApiError> {
    let polls = app.assistant.polls(actor).await?;
    Ok(html! {
        section {
            h2 { "Your polls" }
            @if polls.is_empty() {
                p #no-polls { "No polls yet." }
            } @else {
                ul #polls {
                    @for poll in &polls {
                        li {
                            a id={ "open-" (poll.id.as_str()) } href=(poll_path(&poll.id)) {
                                (poll.title)
                            }
                            " (" (poll.status.as_str())
                            @if poll.manages { ", yours to book" }
                            ")"
                            @if poll.waiting {
                                " "
                                strong.waiting id={ "waiting-" (poll.id.as_str()) } {
                                    "waiting for your answer"
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The poll form: the form token, the group, and optionally the title,
/// the meeting's length and the first day.
#[derive(Debug, Deserialize)]
pub(in crate::http) struct PollForm {
    #[serde(default)]
    csrf: String,
    group: String,
    title: Option<String>,
    duration: Option<String>,
    start: Option<String>,
}

/// `POST /polls`: creates and stores a poll for a group over the seven
/// days from `start` (the viewer's zone), titled as the form says (the
/// group's name by default), and shows it.
pub(in crate::http) async fn page_poll(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<PollForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(rejected)?;
        let identity = signed(&app, &caller, &f.csrf)?;
        let actor = identity.actor();
        let viewer = subject_of(actor)?;
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
        let group = GroupId::new(f.group);
        let title = match f.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => t.to_owned(),
            None => app
                .assistant
                .groups()
                .into_iter()
                .find(|g| g.id == group)
                .map_or_else(|| "Group meeting".to_owned(), |g| g.name),
        };
        let poll = app
            .assistant
            .create_poll(
                actor,
                &Invitees::Group(group),
                request,
                PollOptions::new(title),
            )
            .await?;
        Ok(Redirect::to(&poll_path(&poll.id)).into_response())
    }
    .await;
    page_result(result)
}

/// `/polls/{id}`.
fn poll_path(id: &PollId) -> String {
    format!("/polls/{}", id.as_str())
}

/// A participant's name (their id if they are gone).
fn name_of(app: &Shared, id: &ParticipantId) -> String {
    app.assistant
        .participant(id)
        .map_or_else(|_| id.to_string(), |p| p.name)
}

/// Names, comma-separated; `-` for none.
fn names(app: &Shared, ids: &[ParticipantId]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(|i| name_of(app, i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How an answer reads.
fn vote_text(vote: Vote) -> &'static str {
    match vote {
        Vote::Yes => "yes",
        Vote::IfNeedBe => "if need be",
        Vote::No => "no",
    }
}

/// The zone a poll is shown in: the viewer's own, else (an administrator
/// acting for themselves) its program's.
fn poll_zone(app: &Shared, actor: &Actor, program: &ProgramId) -> Result<TimeZone, ApiError> {
    match subject(actor) {
        Some(p) => zone_of(app, p),
        None => Ok(app.assistant.policy(program)?.time_zone().tz().clone()),
    }
}

/// `GET /polls/{id}`: a poll as the viewer may see it. An invitee gets a
/// form with one radio group a slot (yes / if need be / no, their earlier
/// answer chosen) and the counts; its manager (creator, administrators)
/// gets each slot's counts, each invitee's answer and who is free now side
/// by side, "k of n invitees have connected a calendar", and a Book button
/// a slot. A booked poll shows its booking.
pub(in crate::http) async fn page_poll_view(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let identity = caller.0.clone().ok_or_else(super::not_signed_in)?;
        let actor = identity.actor();
        let token = app.csrf_token(&identity);
        let Path(id) = path.map_err(rejected)?;
        let view = app.assistant.view_poll(actor, &PollId::new(id)).await?;
        let tz = poll_zone(&app, actor, &view.program)?;
        let creator = match &view.creator {
            Creator::Participant(p) => name_of(&app, p),
            Creator::Administrator(a) => format!("{a} (administrator)"),
        };
        let booking = match &view.booking {
            Some(booking) => Some(app.assistant.booking(actor, booking).await?),
            None => None,
        };
        let invited = matches!(actor, Actor::Participant(p) if view.invitees.contains(p));
        let body = html! {
            p #poll-status {
                "Status: " span #status-word { (view.status.as_str()) } ". "
                (view.duration_minutes) " minutes, proposed by " (creator)
                ", for " (names(&app, &view.invitees))
                ". Times in your time zone (" (tz.iana_name().unwrap_or("UTC")) ")."
            }
            @if !view.description.is_empty() {
                p { (view.description) }
            }
            @if let Some(booking) = &booking {
                (booking_section(&app, &tz, booking))
            }
            @if invited {
                (answer_section(&tz, &view, &token))
            }
            @if view.manages {
                (manager_section(&app, &tz, &view, &token))
            }
        };
        Ok(page(&view.title, body).into_response())
    }
    .await;
    page_result(result)
}

/// The booking: when, title, how it was sent, who attends.
fn booking_section(app: &Shared, tz: &TimeZone, booking: &Booking) -> Markup {
    html! {
        section #booking {
            h2 {
                @if booking.booked { "Booked" } @else { "Booked, then cancelled" }
            }
            p {
                span #booking-when { (when(tz, booking.interval)) } ": "
                span #booking-title { (booking.title) }
                ", invitations sent by " span #booking-via { (booking.via) } "."
            }
            p { "Attendees: " span #booking-attendees { (names(app, &booking.attendees)) } }
        }
    }
}

/// "2 yes, 1 if need be, 0 no, 2 not yet".
fn counts_text(slot: &PollSlot) -> String {
    let c = slot.counts;
    format!(
        "{} yes, {} if need be, {} no, {} not yet",
        c.yes, c.if_need_be, c.no, c.unanswered
    )
}

/// The invitee's own answers: a form while the poll is open (carrying the
/// form token), else what they answered.
fn answer_section(tz: &TimeZone, view: &PollView, csrf: &str) -> Markup {
    let open = view.status == PollStatus::Open;
    let table = html! {
        table.poll #answers {
            tr { th { "When" } th { "Yes" } th { "If need be" } th { "No" } th { "So far" } }
            @for slot in &view.slots {
                @let i = slot.index;
                tr id={ "answer-" (i) } {
                    td { (when(tz, slot.interval)) }
                    @for vote in [Vote::Yes, Vote::IfNeedBe, Vote::No] {
                        td {
                            input type="radio" name={ "slot-" (i) } value=(vote.as_str())
                                id={ "vote-" (i) "-" (vote.as_str()) }
                                aria-label=(vote_text(vote))
                                checked[slot.mine == Some(vote)] disabled[!open];
                        }
                    }
                    td.counts { (counts_text(slot)) }
                }
            }
        }
    };
    html! {
        section {
            h2 { "Your answers" }
            @if open {
                form method="post" action={ (poll_path(&view.id)) "/answers" } #answer-form {
                    (csrf_field(csrf))
                    (table)
                    button #send-answers { "Send my answers" }
                }
            } @else {
                p #answers-closed { "This poll takes no more answers." }
                (table)
            }
        }
    }
}

/// The manager's table: counts, each invitee's answer and who is free now
/// (read again from the calendars) side by side, and a Book button a slot
/// (a form carrying the form token) while the poll may be booked.
fn manager_section(app: &Shared, tz: &TimeZone, view: &PollView, csrf: &str) -> Markup {
    let bookable =
        view.booking.is_none() && matches!(view.status, PollStatus::Open | PollStatus::Closed);
    html! {
        section {
            h2 { "Answers and availability" }
            p #connected { (view.connected_text.as_deref().unwrap_or("")) }
            p {
                "Answers are what invitees said; availability is read from their calendars now."
            }
            table.poll #poll {
                tr {
                    th { "When" } th { "Answers" } th { "Each invitee" } th { "Free now" }
                    th { "Unavailable" } th { "Unknown" } th {}
                }
                @for slot in &view.slots {
                    @let i = slot.index;
                    @let now = slot.availability.clone().unwrap_or_default();
                    tr id={ "slot-" (i) } {
                        td.when { (when(tz, slot.interval)) }
                        td.counts { (counts_text(slot)) }
                        td.each { (each_answer(app, view, slot)) }
                        td.now-free { (names(app, &now.free)) }
                        td.now-unavailable { (names(app, &now.unavailable)) }
                        td.now-unknown { (names(app, &now.unknown)) }
                        td {
                            @if bookable {
                                form.inline method="post" action={ (poll_path(&view.id)) "/book" } {
                                    (csrf_field(csrf))
                                    input type="hidden" name="slot" value=(i);
                                    label {
                                        input type="checkbox" name="force" value="1"
                                            id={ "force-" (i) };
                                        " book anyway"
                                    }
                                    " "
                                    button id={ "book-" (i) } { "Book" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "Ana: yes, Ben: no answer" for a slot.
fn each_answer(app: &Shared, view: &PollView, slot: &PollSlot) -> String {
    let answers = slot.answers.as_deref().unwrap_or(&[]);
    view.invitees
        .iter()
        .map(|p| {
            let answer = answers
                .iter()
                .find(|(who, _)| who == p)
                .map_or("no answer", |(_, v)| vote_text(*v));
            format!("{}: {answer}", name_of(app, p))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `POST /polls/{id}/answers`: the form token, then `slot-N=yes|if_need_be|no`
/// for each slot answered (slots left out stay unanswered), replacing the
/// viewer's earlier answers; back to the poll.
pub(in crate::http) async fn page_poll_answer(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let result = async {
        let Form(fields) = form.map_err(rejected)?;
        let csrf = fields
            .iter()
            .find_map(|(name, value)| (name == "csrf").then_some(value.as_str()))
            .unwrap_or("");
        let identity = signed(&app, &caller, csrf)?;
        let Path(id) = path.map_err(rejected)?;
        let mut answers = Vec::with_capacity(fields.len());
        for (name, value) in &fields {
            let Some(index) = name.strip_prefix("slot-") else {
                continue;
            };
            let index: usize = index
                .parse()
                .map_err(|_| ApiError::bad(format!("{name:?} is not a slot")))?;
            let vote = Vote::parse(value)
                .ok_or_else(|| ApiError::bad(format!("{value:?} is not yes, if_need_be or no")))?;
            answers.push((index, vote));
        }
        let id = PollId::new(id);
        app.assistant
            .answer_poll(identity.actor(), &id, &answers)
            .await?;
        Ok(Redirect::to(&poll_path(&id)).into_response())
    }
    .await;
    page_result(result)
}

/// The Book button: the form token, which slot, and whether to book it
/// anyway.
#[derive(Debug, Deserialize)]
pub(in crate::http) struct BookForm {
    #[serde(default)]
    csrf: String,
    slot: usize,
    force: Option<String>,
}

/// `POST /polls/{id}/book`: books a slot (re-read fresh; "book anyway"
/// forces it) and shows the poll with its booking. A slot no longer free
/// names who is busy now.
pub(in crate::http) async fn page_poll_book(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<BookForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(rejected)?;
        let identity = signed(&app, &caller, &f.csrf)?;
        let Path(id) = path.map_err(rejected)?;
        let id = PollId::new(id);
        let options = BookOptions::new().force(f.force.is_some_and(|v| !v.is_empty()));
        match app
            .assistant
            .book_poll(identity.actor(), &id, f.slot, options)
            .await
        {
            Ok(_) => Ok(Redirect::to(&poll_path(&id)).into_response()),
            Err(AssistantError::SlotTaken { participants }) => {
                let message = format!(
                    "That time is no longer free for {}: nothing was booked. Tick \
                     \"book anyway\" to book it regardless, or choose another time.",
                    names(&app, &participants)
                );
                let body = html! {
                    p.error #error { (message) }
                    p { a #back href=(poll_path(&id)) { "Back to the poll" } }
                };
                Ok((StatusCode::CONFLICT, page("Not done", body)).into_response())
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    page_result(result)
}
