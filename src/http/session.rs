//! The demo's sessions: a cookie naming an [`Actor`]. Replace the sign-in
//! with your own in a real service.

use std::fmt::Write as _;

use std::sync::PoisonError;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::{Actor, ParticipantId, ProgramId};

use super::error::ApiError;
use super::{COOKIE, Shared};

pub(super) fn new_token() -> Result<String, ApiError> {
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

pub(super) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(str::to_owned)
}

impl Shared {
    pub(super) fn actor(&self, headers: &HeaderMap) -> Option<Actor> {
        let token = cookie_token(headers)?;
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&token)
            .cloned()
    }

    pub(super) fn require(&self, headers: &HeaderMap) -> Result<Actor, ApiError> {
        self.actor(headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "no_session",
                "sign in first (POST /api/session)".to_owned(),
            )
        })
    }

    /// Checks a sign-in request and opens a session; returns the cookie.
    pub(super) fn sign_in(&self, request: &SignIn) -> Result<(Actor, HeaderValue), ApiError> {
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
                match &request.programs {
                    // A single-track administrator: these programs only.
                    Some(programs) => {
                        let mut scope = Vec::new();
                        for p in programs {
                            let id = ProgramId::new(p.clone());
                            self.assistant.policy(&id)?;
                            scope.push(id);
                        }
                        Actor::ProgramAdministrator {
                            admin: admin.clone(),
                            programs: scope,
                            on_behalf_of,
                        }
                    }
                    None => Actor::Administrator {
                        admin: admin.clone(),
                        on_behalf_of,
                    },
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

    pub(super) fn sign_out(&self, headers: &HeaderMap) -> bool {
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
pub(super) fn subject(actor: &Actor) -> Option<&ParticipantId> {
    actor.subject()
}

/// `POST /api/session`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    pub(super) participant: Option<String>,
    pub(super) admin: Option<String>,
    pub(super) on_behalf_of: Option<String>,
    /// With `admin`: the programs administered (a single-track
    /// administrator); without, a global administrator.
    pub(super) programs: Option<Vec<String>>,
}

#[derive(Serialize)]
pub(super) struct Me {
    participant: Option<ParticipantId>,
    admin: Option<String>,
    on_behalf_of: Option<ParticipantId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programs: Option<Vec<ProgramId>>,
}

pub(super) fn me(actor: &Actor) -> Me {
    match actor {
        Actor::Participant(p) => Me {
            participant: Some(p.clone()),
            admin: None,
            on_behalf_of: None,
            programs: None,
        },
        Actor::Administrator {
            admin,
            on_behalf_of,
        } => Me {
            participant: None,
            admin: Some(admin.clone()),
            on_behalf_of: on_behalf_of.clone(),
            programs: None,
        },
        Actor::ProgramAdministrator {
            admin,
            programs,
            on_behalf_of,
        } => Me {
            participant: None,
            admin: Some(admin.clone()),
            on_behalf_of: on_behalf_of.clone(),
            programs: Some(programs.clone()),
        },
    }
}
