//! The administrator's JSON API under `/api/admin/` (routes in `routes`):
//! the organisation's policy layer and each program's policy, creating
//! programs, participants, pairs and groups, each program's connections
//! report, and the organisation integrations. Who may do what is the
//! assistant's (`assistant/admin.rs`); these handlers only read input and
//! shape answers. Secrets in a body go to the vault and are never echoed.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Json, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use credential_vault::{AppSecret, SecretString};
use org_wide_auth::{
    Coverage, ExchangeOnPremise, ExchangeOnline, GoogleWorkspace, IntegrationKind,
    IntegrationStatus, ReadAs,
};
use policy_rules::ProgramPolicy;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Group, GroupId, IntegrationConfig, Pair, PairId, Participant, ParticipantId, Program,
    ProgramId, ProgramReport,
};

use super::App;
use super::auth::Caller;
use super::error::{ApiError, ErrorResponse, rejected};

/// The caller, if an administrator of any scope: a participant gets 403
/// before their input is read (the assistant decides the rest).
fn admin(caller: &Caller) -> Result<&crate::Actor, ApiError> {
    let actor = caller.actor();
    if actor.is_admin() {
        Ok(actor)
    } else {
        Err(ApiError::from(crate::AssistantError::NotAllowed(
            "the administrator API is for administrators".to_owned(),
        )))
    }
}

/// A policy as TOML, in and out.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyText {
    pub(super) toml: String,
}

/// `GET /api/admin/policy`: the stored organisation layer.
#[utoipa::path(
    get,
    path = "/api/admin/policy",
    summary = "The organisation's policy layer an administrator stored (TOML; empty: only the service's own layer applies). Any administrator",
    responses((status = 200, description = "OK", body = PolicyText), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse))
)]
pub(super) async fn admin_org_policy(
    State(app): App,
    caller: Caller,
) -> Result<Json<PolicyText>, ApiError> {
    let actor = admin(&caller)?;
    let toml = app.assistant.org_policy_toml(actor).await?;
    Ok(Json(PolicyText { toml }))
}

/// `PUT /api/admin/policy`: sets it (every program must still resolve).
#[utoipa::path(
    put,
    path = "/api/admin/policy",
    summary = "Set the organisation's policy layer (global administrators): over the service's own layer, under every program's; every program must still resolve, else nothing changes. Applied on every instance",
    request_body = PolicyText,
    responses((status = 200, description = "OK", body = PolicyText), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse))
)]
pub(super) async fn admin_set_org_policy(
    State(app): App,
    caller: Caller,
    body: Result<Json<PolicyText>, JsonRejection>,
) -> Result<Json<PolicyText>, ApiError> {
    let actor = admin(&caller)?;
    let Json(body) = body.map_err(rejected)?;
    app.assistant.set_org_policy(actor, &body.toml).await?;
    Ok(Json(body))
}

/// A program's policy: as written and resolved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ProgramPolicy)]
pub(super) struct ProgramPolicyOut {
    program: ProgramId,
    toml: String,
    /// Every key resolved: the program's over the organisation's over the
    /// defaults.
    #[schema(value_type = Object)]
    resolved: ProgramPolicy,
}

fn program_id(path: Result<Path<String>, PathRejection>) -> Result<ProgramId, ApiError> {
    let Path(id) = path.map_err(rejected)?;
    Ok(ProgramId::new(id))
}

/// `GET /api/admin/programs/{id}/policy`.
#[utoipa::path(
    get,
    path = "/api/admin/programs/{id}/policy",
    summary = "A program's policy as written and resolved (its administrators)",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = ProgramPolicyOut), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_program_policy(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ProgramPolicyOut>, ApiError> {
    let actor = admin(&caller)?;
    let program = program_id(path)?;
    let toml = app.assistant.program_policy_toml(actor, &program).await?;
    let resolved = app.assistant.policy(&program)?;
    Ok(Json(ProgramPolicyOut {
        program,
        toml,
        resolved,
    }))
}

/// `PUT /api/admin/programs/{id}/policy`.
#[utoipa::path(
    put,
    path = "/api/admin/programs/{id}/policy",
    summary = "Set a program's policy (its administrators): validated over the organisation's, nothing changes otherwise; applied on every instance",
    params(("id" = String, Path, description = "The id")),
    request_body = PolicyText,
    responses((status = 200, description = "OK", body = ProgramPolicyOut), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_set_program_policy(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PolicyText>, JsonRejection>,
) -> Result<Json<ProgramPolicyOut>, ApiError> {
    let actor = admin(&caller)?;
    let program = program_id(path)?;
    let Json(body) = body.map_err(rejected)?;
    let resolved = app
        .assistant
        .set_program_policy(actor, &program, &body.toml)
        .await?;
    Ok(Json(ProgramPolicyOut {
        program,
        toml: body.toml,
        resolved,
    }))
}

/// A program as the administrator API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AdminProgram)]
pub(super) struct AdminProgramOut {
    id: ProgramId,
    name: String,
    archived: bool,
    policy_toml: String,
}

/// `GET /api/admin/programs`: the programs the caller administers.
#[utoipa::path(
    get,
    path = "/api/admin/programs",
    summary = "The programs the caller administers, with their policies as written",
    responses((status = 200, description = "OK", body = Vec<AdminProgramOut>), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse))
)]
pub(super) async fn admin_programs(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<AdminProgramOut>>, ApiError> {
    let actor = admin(&caller)?;
    Ok(Json(
        app.assistant
            .administered_programs(actor)
            .into_iter()
            .map(|p| AdminProgramOut {
                archived: app.assistant.is_archived(&p.id),
                id: p.id,
                name: p.name,
                policy_toml: p.policy_toml,
            })
            .collect(),
    ))
}

/// `POST /api/admin/programs` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ProgramBody)]
#[serde(deny_unknown_fields)]
pub(super) struct ProgramIn {
    id: String,
    name: String,
    #[serde(default)]
    policy_toml: String,
}

/// `POST /api/admin/programs`: creates a program (global administrators).
#[utoipa::path(
    post,
    path = "/api/admin/programs",
    summary = "Create a program (global administrators); its policy must resolve",
    request_body = ProgramIn,
    responses((status = 201, description = "Created", body = AdminProgramOut), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 409, response = ErrorResponse))
)]
pub(super) async fn admin_create_program(
    State(app): App,
    caller: Caller,
    body: Result<Json<ProgramIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller)?;
    let Json(body) = body.map_err(rejected)?;
    let program = Program::new(body.id.trim(), body.name.trim()).with_policy_toml(body.policy_toml);
    app.assistant.create_program(actor, program.clone()).await?;
    Ok(created(AdminProgramOut {
        id: program.id,
        name: program.name,
        archived: false,
        policy_toml: program.policy_toml,
    }))
}

fn created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /api/admin/participants` body.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = ParticipantBody)]
#[serde(deny_unknown_fields)]
pub(super) struct ParticipantIn {
    id: String,
    name: String,
    email: String,
    time_zone: String,
    #[serde(default)]
    programs: Vec<String>,
}

/// `POST /api/admin/participants`: adds a participant and enrols them.
#[utoipa::path(
    post,
    path = "/api/admin/participants",
    summary = "Add a participant and enrol them in programs (administrators of every program named; an existing participant's details only by administrators of all their programs)",
    request_body = ParticipantIn,
    responses((status = 201, description = "Added", body = ParticipantIn), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_add_participant(
    State(app): App,
    caller: Caller,
    body: Result<Json<ParticipantIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller)?;
    let Json(body) = body.map_err(rejected)?;
    if body.id.trim().is_empty() || body.name.trim().is_empty() {
        return Err(ApiError::bad("a participant needs an `id` and a `name`"));
    }
    let participant = Participant::new(
        body.id.trim(),
        body.name.trim(),
        body.email.trim(),
        body.time_zone.trim(),
    );
    let programs: Vec<ProgramId> = body.programs.iter().map(ProgramId::new).collect();
    app.assistant
        .enrol_participant(actor, participant, &programs)
        .await?;
    let id = ParticipantId::new(body.id.trim());
    let (p, programs) = app
        .assistant
        .participants()
        .into_iter()
        .find(|(p, _)| p.id == id)
        .ok_or_else(|| ApiError::internal("a participant just added is missing".to_owned()))?;
    Ok(created(ParticipantIn {
        id: p.id.as_str().to_owned(),
        name: p.name,
        email: p.email,
        time_zone: p.time_zone,
        programs: programs.iter().map(|p| p.as_str().to_owned()).collect(),
    }))
}

/// `POST /api/admin/pairs` body (and answer).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = PairBody)]
#[serde(deny_unknown_fields)]
pub(super) struct PairIn {
    id: String,
    program: String,
    mentor: String,
    mentee: String,
}

/// `POST /api/admin/pairs`: adds a mentoring pair.
#[utoipa::path(
    post,
    path = "/api/admin/pairs",
    summary = "Add a mentoring pair (the program's administrators); both must be in the program",
    request_body = PairIn,
    responses((status = 201, description = "Added", body = PairIn), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_add_pair(
    State(app): App,
    caller: Caller,
    body: Result<Json<PairIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller)?;
    let Json(body) = body.map_err(rejected)?;
    if body.id.trim().is_empty() {
        return Err(ApiError::bad("a pair needs an `id`"));
    }
    let pair = Pair {
        id: PairId::new(body.id.trim()),
        program: ProgramId::new(&body.program),
        mentor: ParticipantId::new(&body.mentor),
        mentee: ParticipantId::new(&body.mentee),
    };
    app.assistant.create_pair(actor, pair).await?;
    Ok(created(body))
}

/// `POST /api/admin/groups` body (and answer).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = GroupBody)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupIn {
    id: String,
    program: String,
    name: String,
    members: Vec<String>,
}

/// `POST /api/admin/groups`: adds a group.
#[utoipa::path(
    post,
    path = "/api/admin/groups",
    summary = "Add a group (the program's administrators); every member must be in the program",
    request_body = GroupIn,
    responses((status = 201, description = "Added", body = GroupIn), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_add_group(
    State(app): App,
    caller: Caller,
    body: Result<Json<GroupIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller)?;
    let Json(body) = body.map_err(rejected)?;
    if body.id.trim().is_empty() {
        return Err(ApiError::bad("a group needs an `id`"));
    }
    let group = Group {
        id: GroupId::new(body.id.trim()),
        program: ProgramId::new(&body.program),
        name: body.name.trim().to_owned(),
        members: body.members.iter().map(ParticipantId::new).collect(),
    };
    app.assistant.create_group(actor, group).await?;
    Ok(created(body))
}

/// `GET /api/admin/programs/{id}/connections`: the program's report.
#[utoipa::path(
    get,
    path = "/api/admin/programs/{id}/connections",
    summary = "A program's connections report (its administrators): connected k of n by provider, who needs reconnecting and why, when each calendar was last read",
    params(("id" = String, Path, description = "The id")),
    responses((status = 200, description = "OK", body = ProgramReport), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_connections(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ProgramReport>, ApiError> {
    let actor = admin(&caller)?;
    let program = program_id(path)?;
    Ok(Json(
        app.assistant.connections_report(actor, &program).await?,
    ))
}

/// An enabled integration, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Integration)]
pub(super) struct IntegrationOut {
    kind: &'static str,
    scheduling_account: String,
    domains: Vec<String>,
    allow: Vec<String>,
    automatic_connections: usize,
}

impl From<IntegrationStatus> for IntegrationOut {
    fn from(s: IntegrationStatus) -> Self {
        Self {
            kind: s.kind.as_str(),
            scheduling_account: s.scheduling_account,
            domains: s.coverage.domains.into_iter().collect(),
            allow: s.coverage.allow.into_iter().collect(),
            automatic_connections: s.automatic_connections,
        }
    }
}

/// `GET /api/admin/integrations`: the enabled ones.
#[utoipa::path(
    get,
    path = "/api/admin/integrations",
    summary = "The enabled organisation integrations, without secrets (global administrators)",
    responses((status = 200, description = "OK", body = Vec<IntegrationOut>), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse))
)]
pub(super) async fn admin_integrations(
    State(app): App,
    caller: Caller,
) -> Result<Json<Vec<IntegrationOut>>, ApiError> {
    let actor = admin(&caller)?;
    Ok(Json(
        app.assistant
            .integrations_for(actor)
            .await?
            .into_iter()
            .map(IntegrationOut::from)
            .collect(),
    ))
}

/// The kinds, as the paths spell them ([`IntegrationKind::as_str`]).
pub(super) const KINDS: [IntegrationKind; 3] = [
    IntegrationKind::GoogleWorkspace,
    IntegrationKind::ExchangeOnline,
    IntegrationKind::ExchangeOnPremise,
];

/// The kind a path names: 404 otherwise.
pub(super) fn integration_kind(name: &str) -> Result<IntegrationKind, ApiError> {
    KINDS
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such integration: google_workspace, exchange_online or exchange_on_premise"
                    .to_owned(),
            )
        })
}

/// Google Workspace's settings and key.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = GoogleWorkspaceBody)]
#[serde(deny_unknown_fields)]
pub(super) struct GoogleIn {
    /// The service account's JSON key, as text.
    pub(super) service_account_key: String,
    pub(super) scheduling_account: String,
    pub(super) domains: Vec<String>,
    #[serde(default)]
    pub(super) allow: Vec<String>,
    #[serde(default)]
    pub(super) via_scheduling_account: bool,
    #[serde(default)]
    pub(super) booking: bool,
    pub(super) token_uri: Option<String>,
    pub(super) api_base: Option<String>,
}

/// Exchange Online's settings and secret (a client secret, or a
/// certificate's key and thumbprint).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = ExchangeOnlineBody)]
#[serde(deny_unknown_fields)]
pub(super) struct OnlineIn {
    pub(super) tenant: String,
    pub(super) client_id: String,
    pub(super) client_secret: Option<String>,
    pub(super) certificate_key_pem: Option<String>,
    pub(super) certificate_thumbprint: Option<String>,
    pub(super) scheduling_account: String,
    pub(super) domains: Vec<String>,
    #[serde(default)]
    pub(super) allow: Vec<String>,
    #[serde(default)]
    pub(super) booking: bool,
    pub(super) authority: Option<String>,
    pub(super) graph_base: Option<String>,
}

/// Exchange on-premise's settings and login.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = ExchangeOnPremiseBody)]
#[serde(deny_unknown_fields)]
pub(super) struct OnPremiseIn {
    pub(super) ews_url: String,
    /// `ntlm` (default), `basic` or `bearer`.
    pub(super) auth: Option<String>,
    pub(super) user: String,
    pub(super) password: String,
    pub(super) scheduling_account: String,
    pub(super) domains: Vec<String>,
    #[serde(default)]
    pub(super) allow: Vec<String>,
    pub(super) max_window_days: Option<u32>,
}

/// The body of `POST /api/admin/integrations/{kind}`, for the document:
/// the handler reads it by `kind` ([`IntegrationIn::from_json`]).
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    reason = "a schema only: the handler reads the body by kind"
)]
pub(super) enum IntegrationBody {
    /// `google_workspace`.
    Google(GoogleIn),
    /// `exchange_online`.
    Online(OnlineIn),
    /// `exchange_on_premise`.
    OnPremise(OnPremiseIn),
}

/// The `{kind}` of the integration routes, for the document (the handlers
/// parse it as an [`IntegrationKind`]).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "a schema only: the handlers parse the kind")]
pub(super) enum IntegrationKindName {
    /// Google Workspace.
    GoogleWorkspace,
    /// Exchange Online.
    ExchangeOnline,
    /// Exchange on-premise.
    ExchangeOnPremise,
}

/// What an integration's form or body gives, by kind.
#[derive(Debug)]
pub(super) enum IntegrationIn {
    Google(GoogleIn),
    Online(OnlineIn),
    OnPremise(OnPremiseIn),
}

fn required(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::bad(format!("`{name}` is required")))
    } else {
        Ok(())
    }
}

fn coverage(domains: &[String], allow: &[String]) -> Result<Coverage, ApiError> {
    let domains: Vec<&str> = domains
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect();
    if domains.is_empty() {
        return Err(ApiError::bad(
            "`domains` must name at least one email domain the integration covers",
        ));
    }
    Ok(Coverage::domains(domains).allow(allow.iter().map(|a| a.trim()).filter(|a| !a.is_empty())))
}

fn some_text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Reads an organisation integration's settings in the JSON shape of
/// `POST /api/admin/integrations/{kind}` (`kind`: `google_workspace`,
/// `exchange_online` or `exchange_on_premise`), as `serve --org-config`
/// does. The error names a field, never a value (it may be a secret).
///
/// # Errors
/// An unknown kind or a body of the wrong shape.
pub fn integration_from_json(kind: &str, body: Value) -> Result<IntegrationConfig, String> {
    integration_kind(kind)
        .and_then(|k| IntegrationIn::from_json(k, body))
        .and_then(IntegrationIn::into_config)
        .map_err(|e| e.message)
}

impl IntegrationIn {
    /// Reads a JSON body for `kind`. A body of the wrong shape is 400
    /// naming the field, never echoing a value (it may be a secret).
    pub(super) fn from_json(kind: IntegrationKind, body: Value) -> Result<Self, ApiError> {
        fn read<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
            serde_json::from_value(body).map_err(|e| {
                let message = e.to_string();
                if message.starts_with("missing field") || message.starts_with("unknown field") {
                    ApiError::bad(message)
                } else {
                    ApiError::bad("a field of the body has the wrong type")
                }
            })
        }
        Ok(match kind {
            IntegrationKind::GoogleWorkspace => Self::Google(read(body)?),
            IntegrationKind::ExchangeOnline => Self::Online(read(body)?),
            _ => Self::OnPremise(read(body)?),
        })
    }

    /// The integration to enable, checked.
    pub(super) fn into_config(self) -> Result<IntegrationConfig, ApiError> {
        Ok(match self {
            Self::Google(g) => {
                required("service_account_key", &g.service_account_key)?;
                required("scheduling_account", &g.scheduling_account)?;
                let mut config = GoogleWorkspace::new(
                    SecretString::new(g.service_account_key),
                    g.scheduling_account.trim(),
                    coverage(&g.domains, &g.allow)?,
                )
                .with_booking(g.booking);
                if g.via_scheduling_account {
                    config = config.read_as(ReadAs::SchedulingAccount);
                }
                match (some_text(g.token_uri), some_text(g.api_base)) {
                    (Some(token), Some(api)) => config = config.endpoints(token, api),
                    (None, None) => {}
                    _ => {
                        return Err(ApiError::bad(
                            "give both `token_uri` and `api_base`, or neither",
                        ));
                    }
                }
                IntegrationConfig::GoogleWorkspace(config)
            }
            Self::Online(o) => {
                required("tenant", &o.tenant)?;
                required("client_id", &o.client_id)?;
                required("scheduling_account", &o.scheduling_account)?;
                let secret = match (
                    some_text(o.client_secret),
                    o.certificate_key_pem.filter(|k| !k.trim().is_empty()),
                    some_text(o.certificate_thumbprint),
                ) {
                    (Some(secret), None, None) => {
                        AppSecret::ClientSecret(SecretString::new(secret))
                    }
                    (None, Some(key), Some(thumbprint)) => AppSecret::Certificate {
                        private_key_pem: SecretString::new(key),
                        thumbprint,
                    },
                    _ => {
                        return Err(ApiError::bad(
                            "give `client_secret`, or `certificate_key_pem` with \
                             `certificate_thumbprint`",
                        ));
                    }
                };
                let mut config = ExchangeOnline::new(
                    o.tenant.trim(),
                    o.client_id.trim(),
                    secret,
                    o.scheduling_account.trim(),
                    coverage(&o.domains, &o.allow)?,
                )
                .with_booking(o.booking);
                match (some_text(o.authority), some_text(o.graph_base)) {
                    (Some(authority), Some(graph)) => config = config.endpoints(authority, graph),
                    (None, None) => {}
                    _ => {
                        return Err(ApiError::bad(
                            "give both `authority` and `graph_base`, or neither",
                        ));
                    }
                }
                IntegrationConfig::ExchangeOnline(config)
            }
            Self::OnPremise(e) => {
                required("ews_url", &e.ews_url)?;
                required("user", &e.user)?;
                required("password", &e.password)?;
                required("scheduling_account", &e.scheduling_account)?;
                let auth = match some_text(e.auth) {
                    None => ews_provider::AuthMethod::Ntlm,
                    Some(a) => a
                        .parse()
                        .map_err(|_| ApiError::bad("`auth` must be `ntlm`, `basic` or `bearer`"))?,
                };
                let mut config = ExchangeOnPremise::new(
                    e.ews_url.trim(),
                    e.user.trim(),
                    SecretString::new(e.password),
                    e.scheduling_account.trim(),
                    coverage(&e.domains, &e.allow)?,
                )
                .with_auth(auth);
                if let Some(days) = e.max_window_days {
                    config = config.with_max_window_days(days);
                }
                IntegrationConfig::ExchangeOnPremise(config)
            }
        })
    }
}

/// What enabling or disabling did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct IntegrationChanged {
    kind: &'static str,
    enabled: bool,
    /// Who was connected through it (enabling) or lost its connection
    /// (disabling).
    participants: Vec<ParticipantId>,
}

/// Enables `input` for `caller` (the API and the page).
pub(super) async fn enable(
    app: &super::Shared,
    actor: &crate::Actor,
    input: IntegrationIn,
) -> Result<IntegrationChanged, ApiError> {
    let config = input.into_config()?;
    let kind = config.kind();
    let connected = app.assistant.enable_integration_as(actor, config).await?;
    Ok(IntegrationChanged {
        kind: kind.as_str(),
        enabled: true,
        participants: connected.into_iter().map(|(p, _)| p).collect(),
    })
}

/// Disables `kind` for `caller` (the API and the page).
pub(super) async fn disable(
    app: &super::Shared,
    actor: &crate::Actor,
    kind: IntegrationKind,
) -> Result<IntegrationChanged, ApiError> {
    let gone = app.assistant.disable_integration_as(actor, kind).await?;
    Ok(IntegrationChanged {
        kind: kind.as_str(),
        enabled: false,
        participants: gone,
    })
}

/// `POST /api/admin/integrations/{kind}`: enables one (validated by one
/// real call first; its secret goes to the vault).
#[utoipa::path(
    post,
    path = "/api/admin/integrations/{kind}",
    summary = "Enable an organisation integration (global administrators): one real call validates it first, the secret goes to the vault and is never echoed, then covered participants without a calendar of their own are connected. 409 when the other Exchange kind is enabled",
    params(("kind" = inline(IntegrationKindName), Path, description = "Which integration")),
    request_body = IntegrationBody,
    responses((status = 200, description = "OK", body = IntegrationChanged), (status = 400, response = ErrorResponse), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse), (status = 409, response = ErrorResponse))
)]
pub(super) async fn admin_enable_integration(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<IntegrationChanged>, ApiError> {
    let actor = admin(&caller)?;
    let Path(name) = path.map_err(rejected)?;
    let kind = integration_kind(&name)?;
    // Anyone else is refused before the body (it holds a secret) is read.
    if !app.assistant.administers_organisation(actor) {
        return Err(ApiError::from(crate::AssistantError::NotAllowed(
            "only a global administrator may enable organisation integrations".to_owned(),
        )));
    }
    let Json(body) = body.map_err(rejected)?;
    let input = IntegrationIn::from_json(kind, body)?;
    Ok(Json(enable(&app, actor, input).await?))
}

/// `DELETE /api/admin/integrations/{kind}`: disables one.
#[utoipa::path(
    delete,
    path = "/api/admin/integrations/{kind}",
    summary = "Disable an organisation integration (global administrators): its secret, settings and automatic connections go",
    params(("kind" = inline(IntegrationKindName), Path, description = "Which integration")),
    responses((status = 200, description = "OK", body = IntegrationChanged), (status = 401, response = ErrorResponse), (status = 403, response = ErrorResponse), (status = 404, response = ErrorResponse))
)]
pub(super) async fn admin_disable_integration(
    State(app): App,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<IntegrationChanged>, ApiError> {
    let actor = admin(&caller)?;
    let Path(name) = path.map_err(rejected)?;
    let kind = integration_kind(&name)?;
    Ok(Json(disable(&app, actor, kind).await?))
}
