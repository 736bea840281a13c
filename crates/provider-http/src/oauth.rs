//! OAuth over our reqwest client: the oauth2 crate's HTTP client trait
//! (its own reqwest feature is reqwest 0.12), token endpoint errors as
//! [`SourceError`], token responses as the vault's [`OAuthTokens`] (with
//! the consenting account, when an [`IdTokenRule`] is set), and a started
//! authorization ([`Authorization`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use availability::SourceError;
use credential_vault::{OAuthTokens, SecretString};
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    CodeTokenRequest, CsrfToken, PkceCodeVerifier, RefreshTokenRequest, RequestTokenError,
    TokenResponse,
};

use crate::oidc::{IdTokenRule, TokenAnswer};
use crate::reply::Service;

/// The largest token endpoint answer read.
const MAX_TOKEN_ANSWER: usize = 1024 * 1024;

/// Why a request to the token endpoint got no answer: `connection` when
/// it never got through (refused, reset, TLS: a transport error), else
/// (a timeout, an oversized answer) the endpoint is unavailable. Carries a
/// message only: no URL, no secret, no reqwest type.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HttpFailed {
    message: String,
    connection: bool,
}

impl HttpFailed {
    fn sending(e: reqwest::Error) -> Self {
        let connection = !e.is_timeout();
        let e = e.without_url();
        // The causes say why (a TLS certificate not trusted, say); none
        // holds a URL or a secret.
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        Self {
            message,
            connection,
        }
    }

    fn other(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            connection: false,
        }
    }

    /// Whether the request never got through (refused, reset, TLS).
    pub fn is_connection(&self) -> bool {
        self.connection
    }
}

/// What [`OAuthHttp::adapter`]'s requests return.
pub type HttpFuture =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpFailed>> + Send>>;

/// How a provider words the token endpoint's refusals.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct TokenRefusals {
    /// The message of `invalid_grant` (the refresh token or code is
    /// revoked, expired or used: reconnect).
    pub invalid_grant: &'static str,
    /// The start of the message of `invalid_client` and
    /// `unauthorized_client`; the code follows in parentheses.
    pub client_refused: &'static str,
    /// What follows the code (advice), empty for none.
    pub client_hint: &'static str,
}

impl TokenRefusals {
    /// These wordings.
    pub const fn new(
        invalid_grant: &'static str,
        client_refused: &'static str,
        client_hint: &'static str,
    ) -> Self {
        Self {
            invalid_grant,
            client_refused,
            client_hint,
        }
    }
}

/// A provider's token endpoint client: our reqwest client (redirects off,
/// timeouts on, rustls on ring) as oauth2's HTTP client, and the one
/// mapping of its errors.
#[derive(Clone, Debug)]
pub struct OAuthHttp {
    http: reqwest::Client,
    refusals: TokenRefusals,
    id_tokens: Option<IdTokenRule>,
}

impl OAuthHttp {
    /// Token requests over `http`, refusals worded by `refusals`.
    pub fn new(http: reqwest::Client, refusals: TokenRefusals) -> Self {
        Self {
            http,
            refusals,
            id_tokens: None,
        }
    }

    /// Reads the ID token of every answer by `rule` into the tokens'
    /// [`account`](OAuthTokens::account): the flow asks for `openid`.
    #[must_use]
    pub fn with_id_tokens(mut self, rule: IdTokenRule) -> Self {
        self.id_tokens = Some(rule);
        self
    }

    /// The reqwest client (for requests oauth2 does not make, such as a
    /// revocation).
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// oauth2's HTTP client over the reqwest client: pass it to
    /// `request_async`. Answers are read up to 1 MiB.
    pub fn adapter(&self) -> impl Fn(oauth2::HttpRequest) -> HttpFuture + use<> {
        let http = self.http.clone();
        move |request: oauth2::HttpRequest| -> HttpFuture {
            let http = http.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let response = http
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(HttpFailed::sending)?;
                let status = response.status();
                let headers = response.headers().clone();
                let reply = Service::new("the token endpoint")
                    .read(response, MAX_TOKEN_ANSWER)
                    .await
                    .map_err(|e| HttpFailed::other(e.to_string()))?;
                let mut out = http::Response::builder().status(status);
                if let Some(h) = out.headers_mut() {
                    *h = headers;
                }
                out.body(reply.body)
                    .map_err(|e| HttpFailed::other(e.to_string()))
            })
        }
    }

    /// Completes a code exchange: checks `returned_state` against the
    /// `state` `pending` sent (a forged or stale callback is `mismatch`,
    /// refused before any request), then sends `request` (the client's
    /// `exchange_code`) with `pending`'s PKCE verifier, answered at `now`.
    ///
    /// # Errors
    ///
    /// `mismatch`, or [`token_error`](Self::token_error)'s reading of a
    /// failure.
    pub async fn exchange_code<E: From<SourceError>>(
        &self,
        request: CodeTokenRequest<'_, BasicErrorResponse, TokenAnswer>,
        pending: &Authorization,
        returned_state: &str,
        mismatch: E,
        now: jiff::Timestamp,
    ) -> Result<OAuthTokens, E> {
        if !pending.state_matches(returned_state) {
            return Err(mismatch);
        }
        let verifier = PkceCodeVerifier::new(pending.pkce_verifier.secret().to_owned());
        let adapter = self.adapter();
        let response = request
            .set_pkce_verifier(verifier)
            .request_async(&adapter)
            .await
            .map_err(|e| self.token_error(e))?;
        let t = tokens(&response, None, now);
        Ok(self.with_account(t, &response, None, now)?)
    }

    /// Sends a refresh `request` (the client's `exchange_refresh_token`
    /// with `old`'s refresh token, plus any scopes), answered at `now`; the
    /// result keeps `old`'s refresh token when no new one is sent, and its
    /// account when the answer carries no ID token.
    ///
    /// # Errors
    ///
    /// [`token_error`](Self::token_error)'s reading of a failure
    /// (`invalid_grant`: [`SourceError::Unauthorized`], reconnect).
    pub async fn refresh(
        &self,
        request: RefreshTokenRequest<'_, BasicErrorResponse, TokenAnswer>,
        old: &OAuthTokens,
        now: jiff::Timestamp,
    ) -> Result<OAuthTokens, SourceError> {
        let adapter = self.adapter();
        let response = request
            .request_async(&adapter)
            .await
            .map_err(|e| self.token_error(e))?;
        let t = tokens(&response, old.refresh_token.as_ref(), now);
        self.with_account(t, &response, old.account.clone(), now)
    }

    /// `t` with the account the answer's ID token names (read by the rule),
    /// else `kept`. An ID token that fails the rule fails the answer: the
    /// account it would name cannot be trusted.
    fn with_account(
        &self,
        t: OAuthTokens,
        response: &TokenAnswer,
        kept: Option<availability::ConnectedAccount>,
        now: jiff::Timestamp,
    ) -> Result<OAuthTokens, SourceError> {
        let learned = match (&self.id_tokens, response.extra_fields().id_token()) {
            (Some(rule), Some(id_token)) => Some(rule.account(id_token, now)?),
            _ => None,
        };
        Ok(match learned.or(kept) {
            Some(account) => t.with_account(account),
            None => t,
        })
    }

    /// A failed token request as a [`SourceError`]: `invalid_grant` is
    /// [`SourceError::Unauthorized`] (reconnect; never retried), a refused
    /// client [`SourceError::Forbidden`], no connection
    /// [`SourceError::Transport`], another failure to answer
    /// [`SourceError::Unavailable`], anything else
    /// [`SourceError::InvalidResponse`].
    pub fn token_error(&self, e: RequestTokenError<HttpFailed, BasicErrorResponse>) -> SourceError {
        let refusals = &self.refusals;
        match e {
            RequestTokenError::ServerResponse(r) => match r.error() {
                BasicErrorResponseType::InvalidGrant => SourceError::Unauthorized {
                    message: refusals.invalid_grant.to_owned(),
                },
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => SourceError::Forbidden {
                    message: format!(
                        "{} ({}){}",
                        refusals.client_refused,
                        r.error(),
                        refusals.client_hint
                    ),
                },
                other => SourceError::InvalidResponse {
                    message: format!("the token endpoint refused: {other}"),
                },
            },
            RequestTokenError::Request(e) if e.connection => SourceError::Transport {
                message: format!("the token endpoint could not be reached: {e}"),
                source: None,
            },
            RequestTokenError::Request(e) => SourceError::Unavailable {
                message: format!("the token endpoint failed: {e}"),
                retry_after: None,
            },
            RequestTokenError::Parse(e, _) => SourceError::InvalidResponse {
                message: format!("the token endpoint's answer is malformed: {e}"),
            },
            RequestTokenError::Other(e) => SourceError::InvalidResponse { message: e },
        }
    }
}

/// A token response as the vault's tokens, received at `now`.
///
/// `old_refresh` is the refresh token the request used, if any: when the
/// provider sends no new one (Google usually keeps it; Microsoft rotates
/// it), the old one is kept ([`kept_refresh_token`]).
pub fn tokens(
    response: &TokenAnswer,
    old_refresh: Option<&SecretString>,
    now: jiff::Timestamp,
) -> OAuthTokens {
    let mut t = OAuthTokens::new(SecretString::new(response.access_token().secret().clone()));
    let expires_in = response
        .expires_in()
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(3600));
    if let Some(at) = expires_in.and_then(|secs| expires_at(now, secs)) {
        t = t.with_expires_at(at);
    }
    let new = response
        .refresh_token()
        .map(|r| SecretString::new(r.secret().clone()));
    if let Some(refresh) = kept_refresh_token(new, old_refresh) {
        t = t.with_refresh_token(refresh);
    }
    if let Some(scopes) = response.scopes() {
        t = t.with_scopes(scopes.iter().map(|s| s.to_string()));
    }
    t
}

/// The refresh token to store after a token response: the new one if the
/// provider sent one, else the one the request used (a refresh must never
/// lose the grant), else none (a code exchange without offline access).
pub fn kept_refresh_token(
    new: Option<SecretString>,
    old: Option<&SecretString>,
) -> Option<SecretString> {
    new.or_else(|| old.cloned())
}

/// `now` plus `secs`, if representable.
fn expires_at(now: jiff::Timestamp, secs: i64) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_second(now.as_second().saturating_add(secs)).ok()
}

/// A started authorization (code flow with PKCE): send the participant to
/// [`url`](Self::url), keep the rest (server-side, bound to the
/// participant) for the provider's `exchange`. The same type for every
/// provider, so one connector can serve them all.
#[non_exhaustive]
pub struct Authorization {
    /// Where to send the participant.
    pub url: String,
    /// The CSRF `state` sent; the callback must return it.
    pub state: SecretString,
    /// The PKCE verifier (RFC 7636) for the exchange.
    pub pkce_verifier: SecretString,
}

impl Authorization {
    /// An authorization just started: its URL, `state` and PKCE verifier.
    pub fn new(url: impl Into<String>, state: SecretString, pkce_verifier: SecretString) -> Self {
        Self {
            url: url.into(),
            state,
            pkce_verifier,
        }
    }

    /// An authorization from oauth2's authorization URL, its CSRF token and
    /// PKCE verifier.
    pub fn started(url: &oauth2::url::Url, state: &CsrfToken, verifier: &PkceCodeVerifier) -> Self {
        Self::new(
            url.to_string(),
            SecretString::new(state.secret().clone()),
            SecretString::new(verifier.secret().clone()),
        )
    }

    /// An authorization started elsewhere (another instance of your
    /// service, which kept `state` and the PKCE verifier sealed until the
    /// callback), to complete with `exchange`. The URL is not needed.
    pub fn resume(state: SecretString, pkce_verifier: SecretString) -> Self {
        Self::new(String::new(), state, pkce_verifier)
    }

    /// Whether `returned` is the `state` sent, compared without an early
    /// exit (the state is a secret).
    pub fn state_matches(&self, returned: &str) -> bool {
        same_secret(self.state.secret().as_bytes(), returned.as_bytes())
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &"[contains state]")
            .finish_non_exhaustive()
    }
}

/// Compares without an early exit.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::new(s.to_owned())
    }

    fn response(json: &str) -> TokenAnswer {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_old_refresh_token_is_kept_when_none_is_sent() {
        let old = secret("old");
        let kept = kept_refresh_token(None, Some(&old)).unwrap();
        assert_eq!(kept.secret(), "old");
        let rotated = kept_refresh_token(Some(secret("new")), Some(&old)).unwrap();
        assert_eq!(rotated.secret(), "new");
        assert!(kept_refresh_token(None, None).is_none());
        assert_eq!(
            kept_refresh_token(Some(secret("new")), None)
                .unwrap()
                .secret(),
            "new"
        );
    }

    #[test]
    fn tokens_from_a_response() {
        let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let old = secret("old");
        let t = tokens(
            &response(
                r#"{"access_token":"a1","token_type":"Bearer","expires_in":3600,"scope":"x y"}"#,
            ),
            Some(&old),
            now,
        );
        assert_eq!(t.access_token.secret(), "a1");
        assert_eq!(t.refresh_token.as_ref().unwrap().secret(), "old");
        assert_eq!(t.expires_at, Some("2025-01-01T01:00:00Z".parse().unwrap()));
        let t = tokens(
            &response(r#"{"access_token":"a2","token_type":"Bearer","refresh_token":"r2"}"#),
            Some(&old),
            now,
        );
        assert_eq!(t.refresh_token.as_ref().unwrap().secret(), "r2");
        assert_eq!(t.expires_at, None);
    }

    #[test]
    fn state_is_compared_whole() {
        let a = Authorization::resume(secret("state-1"), secret("v"));
        assert!(a.state_matches("state-1"));
        assert!(!a.state_matches("state-2"));
        assert!(!a.state_matches("state-"));
        assert!(!format!("{a:?}").contains("state-1"));
    }
}
