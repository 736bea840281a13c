//! The administrator's page (`/admin`), rendered with maud (escaping by
//! default): each program's connections report (connected k of n by
//! provider, who needs reconnecting and why, when each calendar was last
//! read) with its policy editor, and for global administrators the
//! organisation's policy editor and the organisation integrations as
//! cards (Integrate / Disable). Every form carries the caller's form token
//! (`csrf`), checked before anything else; the page's styles are the main
//! page's (`page::STYLE`, the one the CSP allows).

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use org_wide_auth::{IntegrationKind, IntegrationStatus};
use serde::Deserialize;

use crate::{Actor, ConnectionStatus, ProgramId, ProgramReport, Provider};

use super::admin::{
    GoogleIn, IntegrationIn, KINDS, OnPremiseIn, OnlineIn, disable, enable, integration_kind,
};
use super::auth::{Identity, MaybeCaller};
use super::error::{ApiError, rejected};
use super::page::layout;
use super::{App, Shared};

fn error_page(e: &ApiError) -> Response {
    let message = e.public_message();
    (
        e.status,
        Html(
            layout(
                "Not done",
                html! { p.error #error { (message) } p { a href="/admin" { "Back to administration" } } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// A path segment, percent-encoded (ids may hold any character): all but
/// RFC 3986's unreserved characters.
fn segment(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::Google => "Google",
        Provider::Microsoft => "Microsoft",
        Provider::Icloud => "iCloud",
    }
}

fn kind_label(kind: IntegrationKind) -> &'static str {
    match kind {
        IntegrationKind::GoogleWorkspace => "Google Workspace",
        IntegrationKind::ExchangeOnline => "Exchange Online",
        _ => "Exchange on-premise",
    }
}

/// The status as an administrator reads it (the provider's reason
/// included, never the account).
fn status_text(status: &ConnectionStatus) -> String {
    match status {
        ConnectionStatus::NotConnected => "not connected".to_owned(),
        ConnectionStatus::Connected { provider, .. } => {
            format!("connected ({})", provider_label(*provider))
        }
        ConnectionStatus::ThroughOrganisation { integration } => {
            format!("connected through the organisation ({integration})")
        }
        ConnectionStatus::NeedsReconnecting { provider, reason } => {
            format!(
                "needs reconnecting ({}): {reason}",
                provider_label(*provider)
            )
        }
        ConnectionStatus::Unreachable { reason, .. } => {
            format!("connected, could not be read just now: {reason}")
        }
    }
}

fn last_read_text(report: &crate::ParticipantReport) -> String {
    report.last_read.map_or_else(
        || "never".to_owned(),
        |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn csrf_input(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn program_section(report: &ProgramReport, toml: &str, csrf: &str) -> Markup {
    let id = report.program.as_str();
    let c = &report.by_provider;
    html! {
        section id=(format!("program-{id}")) {
            h2 { (report.name) " (" (id) ")" @if report.archived { " - archived" } }
            p.status id=(format!("connected-{id}")) {
                "Connected: " (report.connected) " of " (report.participants)
            }
            p id=(format!("providers-{id}")) {
                "Google " (c.google) " · Microsoft " (c.microsoft) " · iCloud " (c.icloud)
                " · Organisation " (c.organisation)
            }
            @if !report.needs_reconnecting.is_empty() {
                h3 { "Needs reconnecting" }
                ul id=(format!("reconnect-{id}")) {
                    @for r in &report.needs_reconnecting {
                        li { (r.name) " (" (provider_label(r.provider)) "): " (r.reason) }
                    }
                }
            }
            @if !report.people.is_empty() {
                table.poll {
                    tr { th { "Participant" } th { "Calendar" } th { "Last read" } }
                    @for p in &report.people {
                        tr id=(format!("person-{}", p.participant.as_str())) {
                            td { (p.name) }
                            td { (status_text(&p.status)) }
                            td { (last_read_text(p)) }
                        }
                    }
                }
            }
            h3 { "Policy" }
            form method="post" action=(format!("/admin/programs/{}/policy", segment(id))) {
                (csrf_input(csrf))
                textarea name="toml" rows="8" cols="70" aria-label="Program policy (TOML)" { (toml) }
                br;
                button id=(format!("save-policy-{id}")) { "Save policy" }
            }
        }
    }
}

fn text_field(label: &str, name: &str, kind: &str) -> Markup {
    html! {
        label { (label) " " input type=(kind) name=(name); }
        br;
    }
}

fn integration_card(
    kind: IntegrationKind,
    enabled: Option<&IntegrationStatus>,
    csrf: &str,
) -> Markup {
    let name = kind.as_str();
    html! {
        section id=(format!("integration-{name}")) {
            h3 { (kind_label(kind)) }
            @if let Some(s) = enabled {
                p.status { "Enabled" }
                p {
                    "Scheduling account " (s.scheduling_account) "; covers "
                    (s.coverage.domains.iter().cloned().collect::<Vec<_>>().join(", "))
                    "; " (s.automatic_connections) " connected through it"
                }
                form method="post" action=(format!("/admin/integrations/{name}/disable")) {
                    (csrf_input(csrf))
                    button id=(format!("disable-{name}")) { "Disable" }
                }
            } @else {
                p { "Not enabled" }
                form method="post" action=(format!("/admin/integrations/{name}")) {
                    (csrf_input(csrf))
                    @match kind {
                        IntegrationKind::GoogleWorkspace => {
                            label { "Service account key (JSON) " textarea name="service_account_key" rows="4" cols="60" {} }
                            br;
                            (text_field("Scheduling account", "scheduling_account", "email"))
                            (text_field("Domains (comma-separated)", "domains", "text"))
                            (text_field("Also allow (emails)", "allow", "text"))
                            label { input type="checkbox" name="via_scheduling_account" value="on"; " Read through the scheduling account" }
                            br;
                            label { input type="checkbox" name="booking" value="on"; " Book meetings from the scheduling account" }
                            br;
                            (text_field("Token endpoint (optional)", "token_uri", "url"))
                            (text_field("Calendar API base (optional)", "api_base", "url"))
                        }
                        IntegrationKind::ExchangeOnline => {
                            (text_field("Tenant", "tenant", "text"))
                            (text_field("Client id", "client_id", "text"))
                            (text_field("Client secret", "client_secret", "password"))
                            (text_field("Scheduling account", "scheduling_account", "email"))
                            (text_field("Domains (comma-separated)", "domains", "text"))
                            (text_field("Also allow (emails)", "allow", "text"))
                            label { input type="checkbox" name="booking" value="on"; " Book meetings from the scheduling account" }
                            br;
                            (text_field("Identity authority (optional)", "authority", "url"))
                            (text_field("Graph base (optional)", "graph_base", "url"))
                        }
                        _ => {
                            (text_field("EWS URL", "ews_url", "url"))
                            label {
                                "Sign-in "
                                select name="auth" {
                                    option value="ntlm" { "NTLM" }
                                    option value="basic" { "Basic" }
                                    option value="bearer" { "Bearer" }
                                }
                            }
                            br;
                            (text_field("User", "user", "text"))
                            (text_field("Password", "password", "password"))
                            (text_field("Scheduling account", "scheduling_account", "email"))
                            (text_field("Domains (comma-separated)", "domains", "text"))
                            (text_field("Also allow (emails)", "allow", "text"))
                            (text_field("Longest window in days (optional)", "max_window_days", "number"))
                        }
                    }
                    button id=(format!("integrate-{name}")) { "Integrate" }
                }
            }
        }
    }
}

async fn admin_body(app: &Shared, identity: &Identity) -> Result<Markup, ApiError> {
    let actor = identity.actor();
    let csrf = app.csrf_token(identity);
    let reports = app.assistant.connections_reports(actor).await?;
    let mut programs = Vec::with_capacity(reports.len());
    for report in &reports {
        let toml = app
            .assistant
            .program_policy_toml(actor, &report.program)
            .await?;
        programs.push(program_section(report, &toml, &csrf));
    }
    let global = app.assistant.administers_organisation(actor);
    let org = if global {
        let toml = app.assistant.org_policy_toml(actor).await?;
        let enabled = app.assistant.integrations_for(actor).await?;
        let has_org = app.assistant.has_organisation_integrations();
        Some(html! {
            section id="org-policy" {
                h2 { "Organisation policy" }
                p { "Under every program's policy; every program must still resolve." }
                form method="post" action="/admin/policy" {
                    (csrf_input(&csrf))
                    textarea name="toml" rows="8" cols="70" aria-label="Organisation policy (TOML)" { (toml) }
                    br;
                    button id="save-org-policy" { "Save organisation policy" }
                }
            }
            section id="integrations" {
                h2 { "Organisation integrations" }
                @if has_org {
                    @for kind in KINDS {
                        (integration_card(kind, enabled.iter().find(|s| s.kind == kind), &csrf))
                    }
                } @else {
                    p { "This service was set up without organisation integrations." }
                }
            }
        })
    } else {
        None
    };
    Ok(html! {
        @if programs.is_empty() {
            p { "You administer no program yet." }
        }
        @for p in programs { (p) }
        @if let Some(org) = org { (org) }
    })
}

/// Who may post to or read the page: an administrator, signed in.
fn admin_identity(caller: MaybeCaller) -> Result<Identity, ApiError> {
    let Some(identity) = caller.0 else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_session",
            "sign in first".to_owned(),
        ));
    };
    if !identity.actor().is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "this page is for administrators".to_owned(),
        ));
    }
    Ok(identity)
}

/// `GET /admin`.
pub(super) async fn page_admin(State(app): App, caller: MaybeCaller) -> Response {
    let result = async {
        let identity = admin_identity(caller)?;
        let body = admin_body(&app, &identity).await?;
        Ok::<_, ApiError>(Html(layout("Administration", body).into_string()).into_response())
    }
    .await;
    result.unwrap_or_else(|e| error_page(&e))
}

/// A policy form.
#[derive(Debug, Deserialize)]
pub(super) struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    toml: String,
}

/// Runs a form's action after the form token check; back to `/admin`.
async fn posted<F>(app: &Shared, caller: MaybeCaller, csrf: &str, action: F) -> Response
where
    F: AsyncFnOnce(&Actor) -> Result<(), ApiError>,
{
    let result = async {
        let identity = admin_identity(caller)?;
        app.check_csrf(&identity, csrf)?;
        action(identity.actor()).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(e) => error_page(&e),
    }
}

/// `POST /admin/policy`.
pub(super) async fn page_admin_org_policy(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<PolicyForm>, FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => return error_page(&rejected(e)),
    };
    posted(&app, caller, &f.csrf, async |actor| {
        Ok(app.assistant.set_org_policy(actor, &f.toml).await?)
    })
    .await
}

/// `POST /admin/programs/{id}/policy`.
pub(super) async fn page_admin_program_policy(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<PolicyForm>, FormRejection>,
) -> Response {
    let (program, f) = match (path, form) {
        (Ok(Path(id)), Ok(Form(f))) => (ProgramId::new(id), f),
        (Err(e), _) => return error_page(&rejected(e)),
        (_, Err(e)) => return error_page(&rejected(e)),
    };
    posted(&app, caller, &f.csrf, async |actor| {
        app.assistant
            .set_program_policy(actor, &program, &f.toml)
            .await?;
        Ok(())
    })
    .await
}

/// An integration card's form: every kind's fields (those of other kinds
/// are ignored).
#[derive(Debug, Default, Deserialize)]
pub(super) struct IntegrationForm {
    #[serde(default)]
    csrf: String,
    service_account_key: Option<String>,
    scheduling_account: Option<String>,
    domains: Option<String>,
    allow: Option<String>,
    via_scheduling_account: Option<String>,
    booking: Option<String>,
    token_uri: Option<String>,
    api_base: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    authority: Option<String>,
    graph_base: Option<String>,
    ews_url: Option<String>,
    auth: Option<String>,
    user: Option<String>,
    password: Option<String>,
    max_window_days: Option<String>,
}

fn list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl IntegrationForm {
    fn into_input(self, kind: IntegrationKind) -> Result<IntegrationIn, ApiError> {
        let scheduling_account = self.scheduling_account.unwrap_or_default();
        let domains = list(self.domains);
        let allow = list(self.allow);
        Ok(match kind {
            IntegrationKind::GoogleWorkspace => IntegrationIn::Google(GoogleIn {
                service_account_key: self.service_account_key.unwrap_or_default(),
                scheduling_account,
                domains,
                allow,
                via_scheduling_account: self.via_scheduling_account.is_some(),
                booking: self.booking.is_some(),
                token_uri: self.token_uri,
                api_base: self.api_base,
            }),
            IntegrationKind::ExchangeOnline => IntegrationIn::Online(OnlineIn {
                tenant: self.tenant.unwrap_or_default(),
                client_id: self.client_id.unwrap_or_default(),
                client_secret: self.client_secret,
                certificate_key_pem: None,
                certificate_thumbprint: None,
                scheduling_account,
                domains,
                allow,
                booking: self.booking.is_some(),
                authority: self.authority,
                graph_base: self.graph_base,
            }),
            _ => IntegrationIn::OnPremise(OnPremiseIn {
                ews_url: self.ews_url.unwrap_or_default(),
                auth: self.auth,
                user: self.user.unwrap_or_default(),
                password: self.password.unwrap_or_default(),
                scheduling_account,
                domains,
                allow,
                max_window_days: match self.max_window_days.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(days) => Some(days.parse().map_err(|_| {
                        ApiError::bad("`max_window_days` must be a whole number of days")
                    })?),
                },
            }),
        })
    }
}

/// `POST /admin/integrations/{kind}`: Integrate.
pub(super) async fn page_admin_enable(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<IntegrationForm>, FormRejection>,
) -> Response {
    let (name, mut f) = match (path, form) {
        (Ok(Path(name)), Ok(Form(f))) => (name, f),
        (Err(e), _) => return error_page(&rejected(e)),
        (_, Err(e)) => return error_page(&rejected(e)),
    };
    let csrf = std::mem::take(&mut f.csrf);
    posted(&app, caller, &csrf, async |actor| {
        let kind = integration_kind(&name)?;
        enable(&app, actor, f.into_input(kind)?).await?;
        Ok(())
    })
    .await
}

/// A form with only its token.
#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/integrations/{kind}/disable`: Disable.
pub(super) async fn page_admin_disable(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let (name, f) = match (path, form) {
        (Ok(Path(name)), Ok(Form(f))) => (name, f),
        (Err(e), _) => return error_page(&rejected(e)),
        (_, Err(e)) => return error_page(&rejected(e)),
    };
    posted(&app, caller, &f.csrf, async |actor| {
        let kind = integration_kind(&name)?;
        disable(&app, actor, kind).await?;
        Ok(())
    })
    .await
}
