//! The server-rendered page: sign in, connect, a partner's week, polls
//! (created, answered with one radio group a slot, viewed by their
//! manager with each answer beside who is free now, and booked).
//!
//! Every page is a maud template ([`html!`]): text and attribute values
//! are escaped by default, and the markup is checked when it compiles.
//! The page's one stylesheet is [`STYLE`], in exactly one `<style>`
//! element (the Content-Security-Policy allows it by hash: no other inline
//! style or script). Every state-changing form but the demo's sign-in
//! carries the caller's form token (`csrf`), and its handler checks it
//! before anything else ([`signed`]); errors show
//! [`ApiError::public_message`], never a fault's detail.
//!
//! Files: this one (layout, errors, sign-in, home, connect, sign-out),
//! `hours` (the participant's own hours form), `week` (a partner's week
//! and mutual slots), `polls` (creating, answering, viewing and booking
//! polls).

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use availability::Interval;
use policy_rules::Provider;

use crate::{Actor, ConnectionStatus, ParticipantId};

use super::api::{ConnectBody, ConnectOut, connect, provider, return_path};
use super::auth::{Identity, MaybeCaller};
use super::error::{ApiError, rejected};
use super::session::{SignIn, subject};
use super::{App, Shared};

mod hours;
mod polls;
mod week;

pub(super) use hours::page_hours;
pub(super) use polls::{page_poll, page_poll_answer, page_poll_book, page_poll_view};
pub(super) use week::page_week;

/// The page's whole stylesheet: the one `<style>` element's text, which
/// the Content-Security-Policy allows by its hash (`security.rs`).
pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}\
table.week{border-collapse:collapse;font-size:.8rem}\
table.week td,table.week th{border:1px solid #ccc;padding:2px 6px;min-width:5.5rem;text-align:center}\
td.unavailable{background:#c0392b;color:#fff}td.free{background:#eafaf1}td.closed{background:#f4f4f4}\
.status{font-weight:bold}.error{color:#c0392b}form.inline{display:inline}\
table.poll{border-collapse:collapse}table.poll td,table.poll th{border:1px solid #ccc;padding:2px 6px}\
section{margin-bottom:1.5rem}";

/// A whole page: `title` as its title and heading, then `body`, then a
/// link home (the administrator's page uses it too).
pub(in crate::http) fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - scheduling-assistant" }
                // The stylesheet is this file's constant, not input.
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                (body)
                p { a href="/" { "Home" } }
            }
        }
    }
}

/// [`layout`] as an HTML response body.
fn page(title: &str, body: Markup) -> Html<String> {
    Html(layout(title, body).into_string())
}

/// The error page: `message` (shown as given: callers pass
/// [`ApiError::public_message`] or their own sentence) with `status`.
pub(super) fn page_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        page("Not done", html! { p.error #error { (message) } }),
    )
        .into_response()
}

/// The error page of an [`ApiError`]: its public message (for a fault of
/// the service, a generic sentence with the request id).
fn error_page(e: &ApiError) -> Response {
    page_error(e.status, &e.public_message())
}

/// A handler's response, or its error's page.
fn page_result(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| error_page(&e))
}

/// 401: the page's forms need a signed-in caller.
fn not_signed_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "no_session",
        "sign in first".to_owned(),
    )
}

/// The caller of a state-changing form, once its form token (`csrf`) is
/// checked: 401 without a caller, 403 for a missing or wrong token.
fn signed(app: &Shared, caller: &MaybeCaller, csrf: &str) -> Result<Identity, ApiError> {
    let identity = caller.0.clone().ok_or_else(not_signed_in)?;
    app.check_csrf(&identity, csrf)?;
    Ok(identity)
}

/// The hidden field of the caller's form token.
fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// Whom an actor works for; 400 for an administrator working for nobody.
fn subject_of(actor: &Actor) -> Result<ParticipantId, ApiError> {
    subject(actor)
        .cloned()
        .ok_or_else(|| ApiError::bad("choose a participant to work for"))
}

/// `GET /`: the home page when signed in; otherwise the demo's sign-in,
/// or (the demo's sign-in off) a notice to sign in through the service.
pub(super) async fn page_home(State(app): App, caller: MaybeCaller) -> Response {
    let Some(identity) = caller.0 else {
        return if app.demo.is_some() {
            sign_in_page(&app).into_response()
        } else {
            sign_in_notice().into_response()
        };
    };
    page_result(home(&app, &identity).await)
}

/// What a visitor sees when the service signs people in itself.
fn sign_in_notice() -> Html<String> {
    page(
        "Scheduling assistant",
        html! {
            p #sign-in-notice {
                "Sign in through your service to use the scheduling assistant."
            }
        },
    )
}

/// The demo's sign-in: a button a participant, or an administrator name
/// working on someone's behalf. (No form token: there is no session yet;
/// the same-origin check refuses cross-site posts.)
fn sign_in_page(app: &Shared) -> Html<String> {
    let people = app.assistant.participants();
    let admins = app
        .config
        .demo
        .as_ref()
        .map(|d| d.admins.clone())
        .unwrap_or_default();
    page(
        "Scheduling assistant",
        html! {
            p {
                "Try the assistant as one of the demo participants (this sign-in is the \
                 example's; your service brings its own)."
            }
            section {
                h2 { "Sign in as a participant" }
                @for (p, _) in &people {
                    form.inline method="post" action="/session" {
                        input type="hidden" name="participant" value=(p.id.as_str());
                        button id={ "sign-in-" (p.id.as_str()) } { (p.name) }
                    }
                    " "
                }
            }
            section {
                h2 { "Or as an administrator" }
                form method="post" action="/session" {
                    select name="admin" {
                        @for a in &admins { option { (a) } }
                    }
                    " working on behalf of "
                    select name="on_behalf_of" {
                        @for (p, _) in &people {
                            option value=(p.id.as_str()) { (p.name) }
                        }
                    }
                    " "
                    button #sign-in-admin { "Sign in" }
                }
            }
        },
    )
}

/// How the signed-in caller is named at the top of the page.
fn who(app: &Shared, actor: &Actor) -> Result<String, ApiError> {
    Ok(match actor {
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
    })
}

/// The connect buttons' labels (iCloud is a form of its own).
fn connect_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Google => "Connect Google Calendar",
        Provider::Microsoft => "Connect Microsoft 365",
        Provider::Icloud => "Connect iCloud",
    }
}

/// The providers `subject` may connect: every one of their programs allows
/// it (their one calendar serves them all) and the service has it
/// configured. The others' buttons are not shown.
fn connectable(app: &Shared, subject: &ParticipantId) -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|p| app.assistant.can_connect(subject, *p))
        .collect()
}

/// The home page: who is signed in, their calendar (status and connect
/// buttons), their hours, their partners' weeks, their groups' poll forms
/// and their polls.
async fn home(app: &Shared, identity: &Identity) -> Result<Response, ApiError> {
    let actor = identity.actor();
    let token = app.csrf_token(identity);
    let administrator = !matches!(actor, Actor::Participant(_));
    let header = html! {
        p {
            "Signed in as " span #who { (who(app, actor)?) } ". "
            form.inline method="post" action="/logout" {
                (csrf_field(&token))
                button #sign-out { "Sign out" }
            }
        }
        @if administrator {
            p { a #admin href="/admin" { "Administration" } }
        }
    };
    let polls = polls::polls_section(app, actor).await?;
    let Some(subject) = subject(actor).cloned() else {
        let body = html! {
            (header)
            p { "Choose a participant to work for." }
            (polls)
        };
        return Ok(page("Scheduling assistant", body).into_response());
    };
    let status = app.assistant.status_for(actor, &subject).await?;
    let providers = connectable(app, &subject);
    let hours = hours::hours_section(app, &subject, &token)?;
    let mut partners = Vec::new();
    for pair in app.assistant.pairs() {
        let partner = if pair.mentor == subject {
            pair.mentee
        } else if pair.mentee == subject {
            pair.mentor
        } else {
            continue;
        };
        let name = app.assistant.participant(&partner)?.name;
        partners.push((partner, name));
    }
    let groups: Vec<_> = app
        .assistant
        .groups()
        .into_iter()
        .filter(|g| g.members.contains(&subject))
        .collect();
    let today = today(app, &subject)?;
    let body = html! {
        (header)
        section {
            h2 { "Calendar" }
            p.status #status { (status.text()) }
            @for provider in providers.iter().filter(|p| **p != Provider::Icloud) {
                form.inline method="post" action={ "/connect/" (provider.as_str()) } {
                    (csrf_field(&token))
                    input type="hidden" name="return_to" value="/";
                    button id={ "connect-" (provider.as_str()) } { (connect_label(*provider)) }
                }
                " "
            }
            @if providers.contains(&Provider::Icloud) {
                form method="post" action="/connect/icloud" #icloud-form {
                    (csrf_field(&token))
                    input type="hidden" name="return_to" value="/";
                    p {
                        "iCloud: "
                        input name="apple_id" #apple-id placeholder="Apple ID" autocomplete="off";
                        " "
                        input name="app_password" #app-password type="password"
                            placeholder="app-specific password" autocomplete="off";
                        " "
                        button #connect-icloud { (connect_label(Provider::Icloud)) }
                    }
                }
            }
            @if providers.is_empty() {
                p #no-providers {
                    "Your programs allow no calendar that can be connected here."
                }
            }
            @if !matches!(status, ConnectionStatus::NotConnected) {
                form method="post" action="/disconnect" {
                    (csrf_field(&token))
                    button #disconnect { "Disconnect" }
                }
            }
        }
        (hours)
        section {
            h2 { "Mentoring" }
            ul {
                @for (id, name) in &partners {
                    li {
                        a id={ "week-" (id.as_str()) } href={ "/week/" (id.as_str()) } {
                            (name) "'s week"
                        }
                    }
                }
            }
        }
        section {
            h2 { "Group polls" }
            @for group in &groups {
                form method="post" action="/polls" {
                    (csrf_field(&token))
                    input type="hidden" name="group" value=(group.id.as_str());
                    (group.name) ": "
                    input name="title" id={ "poll-title-" (group.id.as_str()) }
                        value=(group.name) size="20" aria-label="title";
                    ", "
                    input name="duration" value="60m" size="4";
                    " from "
                    input name="start" type="date" value=(maud::display(today));
                    " for 7 days "
                    button id={ "poll-" (group.id.as_str()) } { "Propose times" }
                }
            }
        }
        (polls)
    };
    Ok(page("Scheduling assistant", body).into_response())
}

/// The zone of a participant's own clock.
fn zone_of(app: &Shared, id: &ParticipantId) -> Result<TimeZone, ApiError> {
    let p = app.assistant.participant(id)?;
    caldav_provider::ical::time_zone(&p.time_zone)
        .ok_or_else(|| ApiError::bad(format!("unknown time zone {}", p.time_zone)))
}

/// Today, on `viewer`'s clock.
fn today(app: &Shared, viewer: &ParticipantId) -> Result<Date, ApiError> {
    Ok(zone_of(app, viewer)?
        .to_datetime(app.assistant.now())
        .date())
}

/// The second `minutes` after midnight starting `date` in `tz`.
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

/// `Thu 05 Mar 14:00 - 15:00` in `tz`.
fn when(tz: &TimeZone, interval: Interval) -> String {
    let s = tz.to_datetime(interval.start_jiff());
    let e = tz.to_datetime(interval.end_jiff());
    format!("{} - {}", s.strftime("%a %d %b %H:%M"), e.strftime("%H:%M"))
}

/// The demo's sign-in form.
#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    participant: Option<String>,
    admin: Option<String>,
    on_behalf_of: Option<String>,
}

/// `POST /session`: the demo's sign-in (404 when it is off).
pub(super) async fn page_sign_in(
    State(app): App,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let result = async {
        let demo = app.demo_sign_in()?;
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

/// A form that carries nothing but the form token.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (its form token checked) and expires
/// its cookie. Without a session there is nothing to end: home.
pub(super) async fn page_sign_out(
    State(app): App,
    caller: MaybeCaller,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let result = async {
        if caller.0.is_some() {
            let Form(f) = form.map_err(rejected)?;
            signed(&app, &caller, &f.csrf)?;
        }
        let mut response = Redirect::to("/").into_response();
        if let Some(demo) = app.demo.as_deref() {
            let cookie = demo.sign_out(&headers).await?;
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }
    .await;
    page_result(result)
}

/// The connect forms: the form token, the page to return to, and for
/// iCloud the Apple ID and app-specific password.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ConnectForm {
    #[serde(default)]
    csrf: String,
    apple_id: Option<String>,
    app_password: Option<String>,
    return_to: Option<String>,
}

/// `POST /connect/{provider}`: iCloud at once (back to the page it was
/// sent from), Google and Microsoft through the provider's consent, whose
/// callback returns there.
pub(super) async fn page_connect(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<ConnectForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(rejected)?;
        let identity = signed(&app, &caller, &f.csrf)?;
        let Path(name) = path.map_err(rejected)?;
        let provider = provider(&name)?;
        let subject = subject_of(identity.actor())?;
        let back = return_path(f.return_to.as_deref())?;
        let body = ConnectBody {
            apple_id: f.apple_id,
            app_password: f.app_password,
            return_to: Some(back.clone()),
        };
        match connect(&app, &identity, subject, provider, body, Some(&back)).await? {
            ConnectOut::Redirect {
                authorization_url, ..
            } => Ok(Redirect::to(&authorization_url).into_response()),
            ConnectOut::Connected(_) => Ok(Redirect::to(&back).into_response()),
        }
    }
    .await;
    page_result(result)
}

/// `POST /disconnect`: disconnects the caller's own calendar.
pub(super) async fn page_disconnect(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(rejected)?;
        let identity = signed(&app, &caller, &f.csrf)?;
        let actor = identity.actor();
        let subject = subject_of(actor)?;
        app.assistant.disconnect(actor, &subject).await?;
        Ok(Redirect::to("/").into_response())
    }
    .await;
    page_result(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_is_the_one_style_element_verbatim() {
        let html = layout("<t>", html! { p { "x" } }).into_string();
        assert_eq!(html.matches("<style>").count(), 1);
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        assert!(!html.contains("style=") && !html.contains("<script"));
        assert!(html.contains("<title>&lt;t&gt; - scheduling-assistant</title>"));
    }

    #[tokio::test]
    async fn a_fault_shows_the_public_message_never_its_detail() {
        let e = ApiError::internal("the vault's key k1 is missing at /srv/keys".to_owned());
        let response = error_page(&e);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("an internal error occurred"), "{body}");
        assert!(
            !body.contains("k1") && !body.contains("/srv/keys"),
            "{body}"
        );
    }
}
