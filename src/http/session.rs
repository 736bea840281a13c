//! The demo's sign-in ([`DemoSignIn`]): anyone may pick a participant, or
//! an administrator name from [`DemoConfig::admins`], and gets a session
//! cookie. Sessions live in the assistant's store (so every instance on a
//! shared database knows them), under a hash of their token; they expire
//! when idle and at an absolute age, are capped (the least recently used
//! go first), and are removed at sign-out, whose cookie expires at once.
//!
//! Only the `serve` example enables it: in your service, implement
//! [`Authenticator`] over your own sign-in.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::store::StoredSession;
use crate::{Actor, Assistant, ParticipantId, ProgramId};

use super::auth::{AuthError, Authenticator, Identity};
use super::error::ApiError;

/// The demo sign-in's settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DemoConfig {
    /// Administrator names the sign-in accepts (default `coordinator`).
    pub admins: Vec<String>,
    /// How long an unused session lasts (default 30 minutes).
    pub idle_timeout: Duration,
    /// How long any session lasts (default 12 hours).
    pub absolute_timeout: Duration,
    /// At most this many sessions are kept (default 10,000); a new one
    /// beyond it removes the least recently used.
    pub max_sessions: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            admins: vec!["coordinator".to_owned()],
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            max_sessions: 10_000,
        }
    }
}

impl DemoConfig {
    /// The administrator names the sign-in accepts.
    #[must_use]
    pub fn admins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, admins: I) -> Self {
        self.admins = admins.into_iter().map(Into::into).collect();
        self
    }

    /// Idle and absolute session lifetimes.
    #[must_use]
    pub fn timeouts(mut self, idle: Duration, absolute: Duration) -> Self {
        self.idle_timeout = idle;
        self.absolute_timeout = absolute;
        self
    }

    /// The most sessions kept at once.
    #[must_use]
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }
}

/// A session is touched in the store at most this often.
const TOUCH_EVERY_SECS: i64 = 60;

/// The sessions of an unshared (SQLite) store, held in memory as well: one
/// instance is the only writer, so the copy is exact, and a request reads
/// no database. Loaded from the store on first use (a restart keeps the
/// sessions); every write goes to both, with the same expiry and cap.
/// Each session is kept with its actor already read.
type Memory = std::collections::HashMap<String, (StoredSession, Actor)>;

/// The demo's sign-in, as an [`Authenticator`] over session cookies.
pub(crate) struct DemoSignIn {
    assistant: Assistant,
    config: DemoConfig,
    cookie: &'static str,
    secure: bool,
    /// `Some` on an unshared store: `None` inside until loaded.
    memory: Option<tokio::sync::Mutex<Option<Memory>>>,
}

/// Removes from `memory` what [`crate::Store::put_session`] removes from
/// the store: the expired, then the least recently used beyond `cap - 1`
/// (the same order: last use, newest first, then token hash).
fn evict(memory: &mut Memory, expired: (i64, i64), cap: usize) {
    let (idle_before, created_before) = expired;
    memory.retain(|_, (s, _)| s.last_seen >= idle_before && s.created_at >= created_before);
    let keep = cap.saturating_sub(1);
    if memory.len() > keep {
        let mut order: Vec<(i64, String)> = memory
            .iter()
            .map(|(h, (s, _))| (s.last_seen, h.clone()))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, hash) in order.into_iter().skip(keep) {
            memory.remove(&hash);
        }
    }
}

impl DemoSignIn {
    pub(crate) fn new(assistant: Assistant, config: DemoConfig, secure: bool) -> Arc<Self> {
        let memory = (!assistant.store().is_shared()).then(|| tokio::sync::Mutex::new(None));
        Arc::new(Self {
            assistant,
            config,
            cookie: cookie_name(secure),
            secure,
            memory,
        })
    }

    /// The in-memory copy (loaded on first use), on an unshared store.
    async fn memory(
        &self,
    ) -> Result<Option<tokio::sync::MutexGuard<'_, Option<Memory>>>, crate::StoreError> {
        let Some(memory) = &self.memory else {
            return Ok(None);
        };
        let mut guard = memory.lock().await;
        if guard.is_none() {
            let all = self.assistant.store().all_sessions().await?;
            // A row that does not read as an actor is left out: it signs
            // nobody in, as on a shared store.
            *guard = Some(
                all.into_iter()
                    .filter_map(|(hash, session)| {
                        let actor = actor_from_json(&session.actor_json).ok()?;
                        Some((hash, (session, actor)))
                    })
                    .collect(),
            );
        }
        Ok(Some(guard))
    }

    fn now(&self) -> i64 {
        self.assistant.now_secs()
    }

    fn idle(&self) -> i64 {
        i64::try_from(self.config.idle_timeout.as_secs()).unwrap_or(i64::MAX)
    }

    fn absolute(&self) -> i64 {
        i64::try_from(self.config.absolute_timeout.as_secs()).unwrap_or(i64::MAX)
    }

    /// Checks a sign-in request and opens a session; returns the actor and
    /// the cookie.
    pub(crate) async fn sign_in(&self, request: &SignIn) -> Result<(Actor, HeaderValue), ApiError> {
        let actor = self.actor_for(request)?;
        let token = new_token()?;
        let now = self.now();
        let hash = token_hash(&token);
        let session = StoredSession {
            actor_json: actor_json(&actor)?,
            created_at: now,
            last_seen: now,
        };
        let expired = (
            now.saturating_sub(self.idle()),
            now.saturating_sub(self.absolute()),
        );
        let failed = |e: crate::StoreError| ApiError::internal(format!("storing a session: {e}"));
        let mut memory = self.memory().await.map_err(failed)?;
        self.assistant
            .store()
            .put_session(&hash, &session, expired, self.config.max_sessions)
            .await
            .map_err(failed)?;
        if let Some(Some(memory)) = memory.as_deref_mut() {
            evict(memory, expired, self.config.max_sessions);
            memory.insert(hash, (session, actor.clone()));
        }
        drop(memory);
        let cookie = HeaderValue::from_str(&format!(
            "{}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
            self.cookie,
            self.absolute(),
            if self.secure { "; Secure" } else { "" }
        ))
        .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok((actor, cookie))
    }

    /// Ends the request's session (if any) and returns a cookie that
    /// expires it in the browser.
    pub(crate) async fn sign_out(&self, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
        if let Some(token) = cookie_token(headers, self.cookie) {
            let hash = token_hash(&token);
            let failed =
                |e: crate::StoreError| ApiError::internal(format!("removing a session: {e}"));
            let mut memory = self.memory().await.map_err(failed)?;
            self.assistant
                .store()
                .delete_session(&hash)
                .await
                .map_err(failed)?;
            if let Some(Some(memory)) = memory.as_deref_mut() {
                memory.remove(&hash);
            }
        }
        HeaderValue::from_str(&format!(
            "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
            self.cookie,
            if self.secure { "; Secure" } else { "" }
        ))
        .map_err(|e| ApiError::internal(e.to_string()))
    }

    fn actor_for(&self, request: &SignIn) -> Result<Actor, ApiError> {
        match (&request.participant, &request.admin) {
            (Some(p), None) => {
                let id = ParticipantId::new(p.clone());
                self.assistant.participant(&id)?;
                Ok(Actor::Participant(id))
            }
            (None, Some(admin)) => {
                if !self.config.admins.iter().any(|a| a == admin) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "not_allowed",
                        "that name is not an administrator here".to_owned(),
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
                Ok(match &request.programs {
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
                })
            }
            _ => Err(ApiError::bad(
                "give either `participant`, or `admin` (with `on_behalf_of`)",
            )),
        }
    }
}

#[async_trait]
impl Authenticator for DemoSignIn {
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, AuthError> {
        let Some(token) = cookie_token(&request.headers, self.cookie) else {
            return Ok(None);
        };
        let hash = token_hash(&token);
        let store = self.assistant.store();
        let failed = |action: &str, e: crate::StoreError| {
            AuthError::Failed(format!("{action} a session: {e}"))
        };
        let now = self.now();
        let mut memory = self.memory().await.map_err(|e| failed("reading", e))?;
        let stored = match memory.as_deref() {
            Some(Some(m)) => m.get(&hash).map(|(s, a)| (s.clone(), Some(a.clone()))),
            _ => store
                .session(&hash)
                .await
                .map_err(|e| failed("reading", e))?
                .map(|s| (s, None)),
        };
        let Some((session, actor)) = stored else {
            return Ok(None);
        };
        if now.saturating_sub(session.last_seen) >= self.idle()
            || now.saturating_sub(session.created_at) >= self.absolute()
        {
            store
                .delete_session(&hash)
                .await
                .map_err(|e| failed("removing", e))?;
            if let Some(Some(m)) = memory.as_deref_mut() {
                m.remove(&hash);
            }
            return Ok(None);
        }
        if now.saturating_sub(session.last_seen) >= TOUCH_EVERY_SECS {
            store
                .touch_session(&hash, now)
                .await
                .map_err(|e| failed("touching", e))?;
            if let Some(Some(m)) = memory.as_deref_mut()
                && let Some((s, _)) = m.get_mut(&hash)
            {
                s.last_seen = now;
            }
        }
        drop(memory);
        let actor = match actor {
            Some(actor) => actor,
            None => actor_from_json(&session.actor_json)
                .map_err(|e| AuthError::Failed(format!("a stored session: {e}")))?,
        };
        Ok(Some(Identity::with_session(actor, token)))
    }
}

/// `__Host-` (Secure, Path=/, no Domain) over TLS; the plain name otherwise
/// (browsers refuse `__Host-` cookies without `Secure`).
pub(crate) fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-sa_session"
    } else {
        "sa_session"
    }
}

fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| ApiError::internal("no randomness".to_owned()))?;
    Ok(super::auth::hex(&bytes))
}

fn token_hash(token: &str) -> String {
    crate::assistant::sha256_hex(&format!("session:{token}"))
}

pub(crate) fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .map(str::to_owned)
}

/// The stored shape of an actor, read back (the fields of [`Me`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredActor {
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    admin: Option<String>,
    #[serde(default)]
    on_behalf_of: Option<String>,
    #[serde(default)]
    programs: Option<Vec<String>>,
}

/// The stored shape of an actor: the same JSON as `GET /api/me`.
fn actor_json(actor: &Actor) -> Result<String, ApiError> {
    serde_json::to_string(&me(actor)).map_err(|e| ApiError::internal(e.to_string()))
}

fn actor_from_json(json: &str) -> Result<Actor, String> {
    let stored: StoredActor = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let on_behalf_of = stored.on_behalf_of.map(ParticipantId::new);
    match (stored.participant, stored.admin, stored.programs) {
        (Some(p), None, None) => Ok(Actor::Participant(ParticipantId::new(p))),
        (None, Some(admin), None) => Ok(Actor::Administrator {
            admin,
            on_behalf_of,
        }),
        (None, Some(admin), Some(programs)) => Ok(Actor::ProgramAdministrator {
            admin,
            programs: programs.into_iter().map(ProgramId::new).collect(),
            on_behalf_of,
        }),
        _ => Err("neither a participant nor an administrator".to_owned()),
    }
}

/// Whom a session acts for: the participant, or the one an administrator
/// works for.
pub(super) fn subject(actor: &Actor) -> Option<&ParticipantId> {
    actor.subject()
}

/// `POST /api/session`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    pub(super) participant: Option<String>,
    pub(super) admin: Option<String>,
    pub(super) on_behalf_of: Option<String>,
    /// With `admin`: the programs administered (a single-track
    /// administrator); without, a global administrator.
    pub(super) programs: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_actor_survives_the_stored_shape() {
        for actor in [
            Actor::participant("maya"),
            Actor::global_admin("coordinator"),
            Actor::admin_on_behalf_of("coordinator", "maya"),
            Actor::ProgramAdministrator {
                admin: "lead".into(),
                programs: vec![ProgramId::new("spring"), ProgramId::new("autumn")],
                on_behalf_of: Some(ParticipantId::new("theo")),
            },
        ] {
            let json = actor_json(&actor).unwrap();
            assert_eq!(actor_from_json(&json).unwrap(), actor);
        }
        assert!(actor_from_json(r#"{"participant":"a","admin":"b"}"#).is_err());
        assert!(actor_from_json("{}").is_err());
    }

    #[test]
    fn the_cookie_is_read_by_its_exact_name_and_bounded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; sa_session_other=2; sa_session=abc"),
        );
        assert_eq!(cookie_token(&h, "sa_session").as_deref(), Some("abc"));
        assert_eq!(cookie_token(&h, "__Host-sa_session"), None);
        let long = format!("sa_session={}", "a".repeat(200));
        h.insert(header::COOKIE, HeaderValue::from_str(&long).unwrap());
        assert_eq!(cookie_token(&h, "sa_session"), None);
    }
}
