//! Who a request comes from: the embedder's [`Authenticator`] maps each
//! request to an [`Identity`] (an [`Actor`] and, where the sign-in has one,
//! its session), once, in a middleware; handlers take [`Caller`] (401
//! without an identity) or [`MaybeCaller`].
//!
//! [`DemoSignIn`](super::session::DemoSignIn) is one authenticator: the demo's sign-in, where anyone may
//! pick a participant or a configured administrator name. Only the `serve`
//! example enables it; the router answers 404 on its sign-in routes
//! otherwise.

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::Actor;
use crate::assistant::ConnectBinding;

use super::error::ApiError;

/// Who a request acts as, as an [`Authenticator`] says.
#[derive(Clone)]
pub struct Identity {
    actor: Actor,
    session: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session key is a bearer secret: never printed.
        f.debug_struct("Identity")
            .field("actor", &self.actor)
            .field("session", &self.session.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Identity {
    /// An actor without a session of its own (a header token, a client
    /// certificate): OAuth connects are then bound to the actor, and the
    /// page's form tokens are keyed by [`super::HttpConfig::csrf_key`].
    #[must_use]
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            session: None,
        }
    }

    /// An actor signed in through a session whose secret key (a cookie's
    /// token, say) only that browser's requests carry: OAuth connects are
    /// bound to it, and the page's form tokens are derived from it.
    #[must_use]
    pub fn with_session(actor: Actor, session_key: impl Into<String>) -> Self {
        Self {
            actor,
            session: Some(session_key.into()),
        }
    }

    /// The actor.
    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// What an OAuth attempt begun by this identity is bound to.
    pub(crate) fn binding(&self) -> ConnectBinding {
        ConnectBinding::session(&self.binding_key())
    }

    /// The key an OAuth callback presents ([`Assistant::complete_connect_bound`](crate::Assistant::complete_connect_bound)).
    pub(crate) fn binding_key(&self) -> String {
        match &self.session {
            Some(s) => format!("session:{s}"),
            None => format!("actor:{}", actor_key(&self.actor)),
        }
    }

    /// The token the page's forms carry: derived from the session key when
    /// there is one (the same on every instance), else an HMAC of the actor
    /// under the router's key.
    pub(crate) fn csrf_token(&self, key: &ring::hmac::Key) -> String {
        match &self.session {
            Some(s) => crate::assistant::sha256_hex(&format!("csrf:{s}")),
            None => hex(ring::hmac::sign(key, actor_key(&self.actor).as_bytes()).as_ref()),
        }
    }
}

/// One stable spelling of an actor (for bindings and form tokens).
pub(crate) fn actor_key(actor: &Actor) -> String {
    match actor {
        Actor::Participant(p) => format!("p:{}", p.as_str()),
        Actor::Administrator {
            admin,
            on_behalf_of,
        } => format!(
            "a:{admin}:{}",
            on_behalf_of.as_ref().map_or("", |p| p.as_str())
        ),
        Actor::ProgramAdministrator {
            admin,
            programs,
            on_behalf_of,
        } => {
            let mut programs: Vec<&str> = programs.iter().map(|p| p.as_str()).collect();
            programs.sort_unstable();
            format!(
                "pa:{admin}:{}:{}",
                programs.join(","),
                on_behalf_of.as_ref().map_or("", |p| p.as_str())
            )
        }
    }
}

pub(crate) use crate::assistant::hex;

/// Why an [`Authenticator`] refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request's credentials are wrong (401; the message is shown to
    /// the caller, so it must not echo the credentials).
    #[error("{0}")]
    Rejected(String),
    /// The authenticator could not decide (its store failed): 500, the
    /// detail logged, never shown.
    #[error("{0}")]
    Failed(String),
}

/// Maps a request to who it acts as: implement it over your service's
/// sign-in (a session cookie, a header token, a proxy's headers) and give
/// it to [`super::HttpConfig::new`].
///
/// `Ok(None)` means "not signed in": routes that need an actor answer 401,
/// the page shows its sign-in (when the demo's is on) or a notice.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Who `request` acts as.
    ///
    /// # Errors
    /// [`AuthError::Rejected`] for bad credentials (401),
    /// [`AuthError::Failed`] when it cannot tell (500).
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, AuthError>;
}

/// No sign-in at all: every request is anonymous. The default of
/// [`super::HttpConfig::default`], so a router mounted without an
/// authenticator lets nobody in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nobody;

#[async_trait]
impl Authenticator for Nobody {
    async fn authenticate(&self, _request: &Parts) -> Result<Option<Identity>, AuthError> {
        Ok(None)
    }
}

/// What the authentication middleware found, in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated(pub(crate) Option<Identity>);

/// The caller's identity; 401 without one.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub(crate) Identity);

impl Caller {
    pub(crate) fn actor(&self) -> &Actor {
        &self.0.actor
    }
}

/// The caller's identity, if signed in.
#[derive(Clone, Debug)]
pub(crate) struct MaybeCaller(pub(crate) Option<Identity>);

impl MaybeCaller {
    /// The actor, if signed in.
    pub(crate) fn actor(&self) -> Option<Actor> {
        self.0.as_ref().map(|i| i.actor.clone())
    }

    /// The actor; 401 when not signed in.
    pub(crate) fn require(&self) -> Result<Actor, ApiError> {
        self.actor().ok_or_else(not_signed_in)
    }
}

fn not_signed_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "no_session",
        "sign in first".to_owned(),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(Some(identity))) => Ok(Self(identity.clone())),
            _ => Err(not_signed_in()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<Authenticated>()
                .and_then(|a| a.0.clone()),
        ))
    }
}
