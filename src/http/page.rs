//! The server-rendered page: sign in, connect, a partner's week, polls
//! (created, answered with one radio group a slot, viewed by their
//! manager with each answer beside who is free now, and booked).

use std::fmt::Write as _;

use std::time::Duration;

use availability::Interval;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::{Html, Redirect, Response};
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use policy_rules::{Day, HoursRange, Provider, TimeOfDay};
use serde::Deserialize;

use crate::{
    Actor, AssistantError, BookOptions, Booking, ConnectionStatus, Creator, GroupId, Invitees,
    ParticipantId, PollId, PollOptions, PollStatus, PollView, ProgramId, SlotRequest, Vote,
};

use super::api::{ConnectBody, ConnectOut, connect, duration, provider};
use super::error::{ApiError, rejected};
use super::auth::MaybeCaller;
use super::session::{SignIn, subject};
use super::{App, Shared};

pub(super) fn escape(s: &str) -> String {
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

pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}\
table.week{border-collapse:collapse;font-size:.8rem}\
table.week td,table.week th{border:1px solid #ccc;padding:2px 6px;min-width:5.5rem;text-align:center}\
td.unavailable{background:#c0392b;color:#fff}td.free{background:#eafaf1}td.closed{background:#f4f4f4}\
.status{font-weight:bold}.error{color:#c0392b}form.inline{display:inline}\
table.poll{border-collapse:collapse}table.poll td,table.poll th{border:1px solid #ccc;padding:2px 6px}\
section{margin-bottom:1.5rem}";

pub(super) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} - scheduling-assistant</title><style>{STYLE}</style></head>\
         <body><h1>{}</h1>{body}<p><a href=\"/\">Home</a></p></body></html>",
        escape(title),
        escape(title)
    ))
}

pub(super) fn page_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Not done",
            &format!("<p class=\"error\" id=\"error\">{}</p>", escape(message)),
        ),
    )
        .into_response()
}

pub(super) fn page_result(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| page_error(e.status, &e.message))
}

pub(super) async fn page_home(State(app): App, caller: MaybeCaller) -> Response {
    let Some(actor) = caller.actor() else {
        return sign_in_page(&app).into_response();
    };
    page_result(home(&app, &actor).await)
}

pub(super) fn sign_in_page(app: &Shared) -> Html<String> {
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
    let admins = app.config.demo.as_ref().map(|d| d.admins.clone()).unwrap_or_default();
    for a in &admins {
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

pub(super) async fn home(app: &Shared, actor: &Actor) -> Result<Response, ApiError> {
    let mut body = String::new();
    let who = match actor {
        Actor::Participant(p) => app.assistant.participant(p)?.name,
        Actor::Administrator {
            admin,
            on_behalf_of,
        }
        | Actor::ProgramAdministrator {
            admin,
            on_behalf_of,
            ..
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
        polls_section(app, actor, &mut body).await?;
        return Ok(page("Scheduling assistant", &body).into_response());
    };
    let status = app.assistant.status_for(actor, &subject).await?;
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
    body.push_str("</section>");
    hours_section(app, &subject, &mut body)?;
    body.push_str("<section><h2>Mentoring</h2><ul>");
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
             {name}: <input name=\"title\" id=\"poll-title-{id}\" value=\"{name}\" size=\"20\" \
             aria-label=\"title\">, <input name=\"duration\" value=\"60m\" size=\"4\"> from \
             <input name=\"start\" type=\"date\" value=\"{today}\"> for 7 days \
             <button id=\"poll-{id}\">Propose times</button></form>",
            id = escape(group.id.as_str()),
            name = escape(&group.name),
            today = today(app, &subject)?
        );
    }
    body.push_str("</section>");
    polls_section(app, actor, &mut body).await?;
    Ok(page("Scheduling assistant", &body).into_response())
}

/// "Your polls": the polls the viewer created or is invited to, newest
/// first, each a link, those waiting for the viewer's answer marked.
async fn polls_section(app: &Shared, actor: &Actor, body: &mut String) -> Result<(), ApiError> {
    let polls = app.assistant.polls(actor).await?;
    body.push_str("<section><h2>Your polls</h2>");
    if polls.is_empty() {
        body.push_str("<p id=\"no-polls\">No polls yet.</p></section>");
        return Ok(());
    }
    body.push_str("<ul id=\"polls\">");
    for poll in &polls {
        let _ = write!(
            body,
            "<li><a id=\"open-{id}\" href=\"/polls/{id}\">{title}</a> ({status}{manages})",
            id = escape(poll.id.as_str()),
            title = escape(&poll.title),
            status = poll.status.as_str(),
            manages = if poll.manages { ", yours to book" } else { "" }
        );
        if poll.waiting {
            let _ = write!(
                body,
                " <strong class=\"waiting\" id=\"waiting-{}\">waiting for your answer</strong>",
                escape(poll.id.as_str())
            );
        }
        body.push_str("</li>");
    }
    body.push_str("</ul></section>");
    Ok(())
}

pub(super) fn zone_of(app: &Shared, id: &ParticipantId) -> Result<TimeZone, ApiError> {
    let p = app.assistant.participant(id)?;
    caldav_provider::ical::time_zone(&p.time_zone)
        .ok_or_else(|| ApiError::bad(format!("unknown time zone {}", p.time_zone)))
}

pub(super) fn today(app: &Shared, viewer: &ParticipantId) -> Result<Date, ApiError> {
    Ok(zone_of(app, viewer)?
        .to_datetime(app.assistant.now())
        .date())
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    participant: Option<String>,
    admin: Option<String>,
    on_behalf_of: Option<String>,
}

pub(super) async fn page_sign_in(
    State(app): App,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let result = async {
        let demo = app.demo.as_deref().ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such page".to_owned())
        })?;
        let Form(f) = form.map_err(rejected)?;
        let request = SignIn {
            participant: f.participant,
            admin: f.admin,
            on_behalf_of: f.on_behalf_of,
            programs: None,
        };
        let (_, cookie) = demo.sign_in(&request).await?;
        let mut response = Redirect::to("/").into_response();
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        Ok(response)
    }
    .await;
    page_result(result)
}

pub(super) async fn page_sign_out(State(app): App, headers: HeaderMap) -> Response {
    let mut response = Redirect::to("/").into_response();
    if let Some(demo) = app.demo.as_deref()
        && let Ok(cookie) = demo.sign_out(&headers).await
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ConnectForm {
    apple_id: Option<String>,
    app_password: Option<String>,
}

pub(super) async fn page_connect(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ConnectForm>, FormRejection>,
) -> Response {
    let result = async {
        let identity = caller.0.clone().ok_or_else(|| caller.require().err().unwrap_or_else(|| ApiError::bad("sign in first")))?;
        let actor = identity.actor().clone();
        let Path(name) = path.map_err(rejected)?;
        let provider = provider(&name)?;
        let f = form.map(|Form(f)| f).unwrap_or_default();
        let subject = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        let body = ConnectBody {
            apple_id: f.apple_id,
            app_password: f.app_password,
            return_to: None,
        };
        match connect(&app, &identity, subject, provider, body, None).await? {
            ConnectOut::Redirect {
                authorization_url, ..
            } => Ok(Redirect::to(&authorization_url).into_response()),
            ConnectOut::Connected(_) => Ok(Redirect::to("/").into_response()),
        }
    }
    .await;
    page_result(result)
}

pub(super) async fn page_disconnect(State(app): App, caller: MaybeCaller) -> Response {
    let result = async {
        let actor = caller.require()?;
        let subject = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        app.assistant.disconnect(&actor, &subject).await?;
        Ok(Redirect::to("/").into_response())
    }
    .await;
    page_result(result)
}

/// The weekdays the hours form shows, with their field names.
const FORM_DAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "mon", "Monday"),
    (Weekday::Tuesday, "tue", "Tuesday"),
    (Weekday::Wednesday, "wed", "Wednesday"),
    (Weekday::Thursday, "thu", "Thursday"),
    (Weekday::Friday, "fri", "Friday"),
    (Weekday::Saturday, "sat", "Saturday"),
    (Weekday::Sunday, "sun", "Sunday"),
];

/// `09:00-12:00, 14:00-17:30` for a list of ranges.
fn ranges_text(ranges: &[HoursRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{}-{}", r.start, r.end))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `09:00-12:00, 14:00-17:30`.
fn parse_ranges(what: &str, text: &str) -> Result<Vec<HoursRange>, ApiError> {
    text.split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (start, end) = piece
                .split_once('-')
                .ok_or_else(|| ApiError::bad(format!("{what}: {piece:?} is not HH:MM-HH:MM")))?;
            let time = |t: &str| {
                t.trim()
                    .parse::<TimeOfDay>()
                    .map_err(|e| ApiError::bad(format!("{what}: {e}")))
            };
            Ok(HoursRange::new(time(start)?, time(end)?))
        })
        .collect()
}

/// "Your hours": the participant's own weekly hours and days off, in
/// their zone, as a form (empty fields keep the program's hours).
fn hours_section(app: &Shared, subject: &ParticipantId, body: &mut String) -> Result<(), ApiError> {
    let hours = app.assistant.own_hours(subject)?;
    let zone = app.assistant.participant(subject)?.time_zone;
    let _ = write!(
        body,
        "<section><h2>Your hours</h2><p>In your time zone ({}), inside the program's days and \
         hours. Leave a day empty to keep the program's hours.</p>\
         <form method=\"post\" action=\"/hours\" id=\"hours-form\"><table>",
        escape(&zone)
    );
    for (day, field, label) in FORM_DAYS {
        let current = hours
            .weekly
            .get(&Day(day))
            .map(|r| ranges_text(r))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{label}</td><td><input name=\"{field}\" id=\"hours-{field}\" value=\"{}\" \
             placeholder=\"09:00-12:00, 14:00-17:00\"></td></tr>",
            escape(&current)
        );
    }
    let off: Vec<String> = hours
        .dates
        .iter()
        .filter(|(_, ranges)| ranges.is_empty())
        .map(|(date, _)| date.to_string())
        .collect();
    let _ = write!(
        body,
        "<tr><td>Days off</td><td><input name=\"off\" id=\"hours-off\" value=\"{}\" \
         placeholder=\"2026-03-13, 2026-03-20\"></td></tr></table>\
         <button id=\"save-hours\">Save my hours</button></form></section>",
        escape(&off.join(", "))
    );
    Ok(())
}

/// The hours form: one field a weekday, and the days off.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HoursForm {
    #[serde(default)]
    mon: String,
    #[serde(default)]
    tue: String,
    #[serde(default)]
    wed: String,
    #[serde(default)]
    thu: String,
    #[serde(default)]
    fri: String,
    #[serde(default)]
    sat: String,
    #[serde(default)]
    sun: String,
    #[serde(default)]
    off: String,
}

/// `POST /hours`: saves the signed-in participant's own hours. Dates with
/// other hours than their weekday's, set through the API, are kept.
pub(super) async fn page_hours(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<HoursForm>, FormRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
        let subject = subject(&actor)
            .cloned()
            .ok_or_else(|| ApiError::bad("choose a participant to work for"))?;
        let Form(f) = form.map_err(rejected)?;
        let mut hours = app.assistant.own_hours(&subject)?;
        hours.weekly.clear();
        for ((day, _, label), text) in FORM_DAYS
            .iter()
            .zip([&f.mon, &f.tue, &f.wed, &f.thu, &f.fri, &f.sat, &f.sun])
        {
            let ranges = parse_ranges(label, text)?;
            if !ranges.is_empty() {
                hours.weekly.insert(Day(*day), ranges);
            }
        }
        hours.dates.retain(|_, ranges| !ranges.is_empty());
        for date in f.off.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let date: Date = date
                .parse()
                .map_err(|e| ApiError::bad(format!("days off: {date:?} is not a date: {e}")))?;
            hours.dates.insert(date, Vec::new());
        }
        app.assistant.set_own_hours(&actor, &subject, hours).await?;
        Ok(Redirect::to("/").into_response())
    }
    .await;
    page_result(result)
}

#[derive(Debug, Deserialize)]
pub(super) struct WeekQuery {
    start: Option<String>,
}

pub(super) fn local_second(tz: &TimeZone, date: Date, minutes: i64) -> Result<i64, ApiError> {
    let dt = date
        .to_datetime(jiff::civil::Time::midnight())
        .checked_add(jiff::Span::new().minutes(minutes))
        .map_err(|e| ApiError::bad(e.to_string()))?;
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map(|t| t.as_second())
        .map_err(|e| ApiError::bad(e.to_string()))
}

pub(super) async fn page_week(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WeekQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
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
                    // Each slot in the viewer's time and the partner's own.
                    let theirs = zone_of(&app, &target)?;
                    let _ = write!(
                        body,
                        "<h2>Mutual one-hour slots</h2><p>Your time, then {}'s.</p><ol id=\"slots\">",
                        escape(&partner.name)
                    );
                    for slot in &p.slots {
                        let _ = write!(
                            body,
                            "<li><span class=\"mine\">{}</span> <span class=\"theirs\">({} for {})</span></li>",
                            when(&tz, slot.interval),
                            when(&theirs, slot.interval),
                            escape(&partner.name)
                        );
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

pub(super) fn when(tz: &TimeZone, interval: Interval) -> String {
    let s = tz.to_datetime(interval.start_jiff());
    let e = tz.to_datetime(interval.end_jiff());
    format!("{} - {}", s.strftime("%a %d %b %H:%M"), e.strftime("%H:%M"))
}
#[derive(Debug, Deserialize)]
pub(super) struct PollForm {
    group: String,
    title: Option<String>,
    duration: Option<String>,
    start: Option<String>,
}

/// `POST /polls`: creates and stores a poll for a group over the seven
/// days from `start` (the viewer's zone), titled as the form says (the
/// group's name by default), and shows it.
pub(super) async fn page_poll(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<PollForm>, FormRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
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
                &actor,
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
pub(super) async fn page_poll_view(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
        let Path(id) = path.map_err(rejected)?;
        let view = app.assistant.view_poll(&actor, &PollId::new(id)).await?;
        let tz = poll_zone(&app, &actor, &view.program)?;
        let creator = match &view.creator {
            Creator::Participant(p) => name_of(&app, p),
            Creator::Administrator(a) => format!("{a} (administrator)"),
        };
        let mut body = format!(
            "<p id=\"poll-status\">Status: <span id=\"status-word\">{}</span>. {} minutes, \
             proposed by {}, for {}. Times in your time zone ({}).</p>",
            view.status.as_str(),
            view.duration_minutes,
            escape(&creator),
            escape(&names(&app, &view.invitees)),
            escape(tz.iana_name().unwrap_or("UTC"))
        );
        if !view.description.is_empty() {
            let _ = write!(body, "<p>{}</p>", escape(&view.description));
        }
        if let Some(booking) = &view.booking {
            let booking = app.assistant.booking(&actor, booking).await?;
            booking_section(&app, &tz, &booking, &mut body);
        }
        let me = match &actor {
            Actor::Participant(p) if view.invitees.contains(p) => Some(p.clone()),
            _ => None,
        };
        if me.is_some() {
            answer_section(&tz, &view, &mut body);
        }
        if view.manages {
            manager_section(&app, &tz, &view, &mut body);
        }
        Ok(page(&view.title, &body).into_response())
    }
    .await;
    page_result(result)
}

/// The booking: when, title, how it was sent, who attends.
fn booking_section(app: &Shared, tz: &TimeZone, booking: &Booking, body: &mut String) {
    let _ = write!(
        body,
        "<section id=\"booking\"><h2>{}</h2><p><span id=\"booking-when\">{}</span>: \
         <span id=\"booking-title\">{}</span>, invitations sent by \
         <span id=\"booking-via\">{}</span>.</p>\
         <p>Attendees: <span id=\"booking-attendees\">{}</span></p></section>",
        if booking.booked {
            "Booked"
        } else {
            "Booked, then cancelled"
        },
        when(tz, booking.interval),
        escape(&booking.title),
        escape(&booking.via),
        escape(&names(app, &booking.attendees))
    );
}

/// "2 yes, 1 if need be, 0 no, 2 not yet".
fn counts_text(slot: &crate::PollSlot) -> String {
    let c = slot.counts;
    format!(
        "{} yes, {} if need be, {} no, {} not yet",
        c.yes, c.if_need_be, c.no, c.unanswered
    )
}

/// The invitee's own answers: a form while the poll is open, else what
/// they answered.
fn answer_section(tz: &TimeZone, view: &PollView, body: &mut String) {
    let id = escape(view.id.as_str());
    let open = view.status == PollStatus::Open;
    body.push_str("<section><h2>Your answers</h2>");
    if open {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/polls/{id}/answers\" id=\"answer-form\">"
        );
    } else {
        body.push_str("<p id=\"answers-closed\">This poll takes no more answers.</p>");
    }
    body.push_str(
        "<table class=\"poll\" id=\"answers\"><tr><th>When</th><th>Yes</th><th>If need be</th><th>No</th>\
         <th>So far</th></tr>",
    );
    for slot in &view.slots {
        let i = slot.index;
        let _ = write!(
            body,
            "<tr id=\"answer-{i}\"><td>{}</td>",
            when(tz, slot.interval)
        );
        for vote in [Vote::Yes, Vote::IfNeedBe, Vote::No] {
            let v = vote.as_str();
            let _ = write!(
                body,
                "<td><input type=\"radio\" name=\"slot-{i}\" value=\"{v}\" id=\"vote-{i}-{v}\" \
                 aria-label=\"{}\"{}{}></td>",
                vote_text(vote),
                if slot.mine == Some(vote) {
                    " checked"
                } else {
                    ""
                },
                if open { "" } else { " disabled" }
            );
        }
        let _ = write!(
            body,
            "<td class=\"counts\">{}</td></tr>",
            escape(&counts_text(slot))
        );
    }
    body.push_str("</table>");
    if open {
        body.push_str("<button id=\"send-answers\">Send my answers</button></form>");
    }
    body.push_str("</section>");
}

/// The manager's table: counts, each invitee's answer and who is free now
/// (read again from the calendars) side by side, and a Book button a slot
/// while the poll may be booked.
fn manager_section(app: &Shared, tz: &TimeZone, view: &PollView, body: &mut String) {
    let id = escape(view.id.as_str());
    let bookable =
        view.booking.is_none() && matches!(view.status, PollStatus::Open | PollStatus::Closed);
    let _ = write!(
        body,
        "<section><h2>Answers and availability</h2><p id=\"connected\">{}</p>\
         <p>Answers are what invitees said; availability is read from their calendars now.</p>\
         <table class=\"poll\" id=\"poll\"><tr><th>When</th><th>Answers</th><th>Each invitee</th>\
         <th>Free now</th><th>Unavailable</th><th>Unknown</th><th></th></tr>",
        escape(view.connected_text.as_deref().unwrap_or(""))
    );
    for slot in &view.slots {
        let i = slot.index;
        let answers = slot.answers.as_deref().unwrap_or(&[]);
        let each = view
            .invitees
            .iter()
            .map(|p| {
                let answer = answers
                    .iter()
                    .find(|(who, _)| who == p)
                    .map_or("no answer", |(_, v)| vote_text(*v));
                format!("{}: {answer}", name_of(app, p))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let now = slot.availability.clone().unwrap_or_default();
        let _ = write!(
            body,
            "<tr id=\"slot-{i}\"><td class=\"when\">{}</td><td class=\"counts\">{}</td>\
             <td class=\"each\">{}</td><td class=\"now-free\">{}</td>\
             <td class=\"now-unavailable\">{}</td><td class=\"now-unknown\">{}</td><td>",
            when(tz, slot.interval),
            escape(&counts_text(slot)),
            escape(&each),
            escape(&names(app, &now.free)),
            escape(&names(app, &now.unavailable)),
            escape(&names(app, &now.unknown))
        );
        if bookable {
            let _ = write!(
                body,
                "<form class=\"inline\" method=\"post\" action=\"/polls/{id}/book\">\
                 <input type=\"hidden\" name=\"slot\" value=\"{i}\">\
                 <label><input type=\"checkbox\" name=\"force\" value=\"1\" id=\"force-{i}\"> \
                 book anyway</label> <button id=\"book-{i}\">Book</button></form>"
            );
        }
        body.push_str("</td></tr>");
    }
    body.push_str("</table></section>");
}

/// `POST /polls/{id}/answers`: `slot-N=yes|if_need_be|no` for each slot
/// answered (slots left out stay unanswered), replacing the viewer's
/// earlier answers; back to the poll.
pub(super) async fn page_poll_answer(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
        let Path(id) = path.map_err(rejected)?;
        let Form(fields) = form.map_err(rejected)?;
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
        app.assistant.answer_poll(&actor, &id, &answers).await?;
        Ok(Redirect::to(&poll_path(&id)).into_response())
    }
    .await;
    page_result(result)
}

/// The Book button: which slot, and whether to book it anyway.
#[derive(Debug, Deserialize)]
pub(super) struct BookForm {
    slot: usize,
    force: Option<String>,
}

/// `POST /polls/{id}/book`: books a slot (re-read fresh; "book anyway"
/// forces it) and shows the poll with its booking. A slot no longer free
/// names who is busy now.
pub(super) async fn page_poll_book(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<BookForm>, FormRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
        let Path(id) = path.map_err(rejected)?;
        let Form(f) = form.map_err(rejected)?;
        let id = PollId::new(id);
        let options = BookOptions::new().force(f.force.is_some_and(|v| !v.is_empty()));
        match app.assistant.book_poll(&actor, &id, f.slot, options).await {
            Ok(_) => Ok(Redirect::to(&poll_path(&id)).into_response()),
            Err(AssistantError::SlotTaken { participants }) => {
                let message = format!(
                    "That time is no longer free for {}: nothing was booked. Tick \
                     \"book anyway\" to book it regardless, or choose another time.",
                    names(&app, &participants)
                );
                let body = format!(
                    "<p class=\"error\" id=\"error\">{}</p>\
                     <p><a id=\"back\" href=\"{}\">Back to the poll</a></p>",
                    escape(&message),
                    escape(&poll_path(&id))
                );
                Ok((StatusCode::CONFLICT, page("Not done", &body)).into_response())
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    page_result(result)
}
