//! A participant's own Google account: authorization code + PKCE with
//! `access_type=offline`, code exchange, refresh and revocation, built on
//! the `oauth2` crate with our reqwest client.
//! <https://developers.google.com/identity/protocols/oauth2/web-server>

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{Clock, SourceError, SystemClock};
use credential_vault::{OAuthTokens, SecretString};
use oauth2::basic::BasicErrorResponse;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, RedirectUrl, RefreshToken, RevocationUrl, Scope, TokenUrl, url,
};
use provider_http::{
    Authorization, ClientOptions, IdTokenRule, OAuthClient, OAuthHttp, TokenAnswer, TokenRefusals,
    TokenStore,
};

/// How Google's token endpoint refusals read.
const REFUSALS: TokenRefusals = TokenRefusals::new(
    "Google refused the refresh token (invalid_grant): it was revoked, expired or unused for \
     months; the participant must reconnect",
    "the OAuth client is not accepted",
    "",
);

/// `https://www.googleapis.com/auth/calendar.freebusy`: availability only,
/// the default (least privilege).
pub const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
/// `openid`: the token endpoint then returns an ID token naming the
/// account that consented (its `sub`), so that account's calendar is read.
pub const SCOPE_OPENID: &str = "openid";
/// `email`: the ID token then carries that account's address and whether
/// Google verified it. Neither scope reads a calendar.
pub const SCOPE_EMAIL: &str = "email";
/// `https://www.googleapis.com/auth/calendar.events.readonly`: needed by
/// the opt-in events mode ([`Mode::Events`](crate::Mode::Events)).
pub const SCOPE_EVENTS_READONLY: &str = "https://www.googleapis.com/auth/calendar.events.readonly";

/// Google's OAuth endpoints, overridable for tests and other deployments.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret (web applications have one).
    pub client_secret: Option<SecretString>,
    /// Where Google sends the participant back with the code.
    pub redirect_uri: String,
    /// Default `https://accounts.google.com/o/oauth2/v2/auth`.
    pub auth_url: String,
    /// Default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// Default `https://oauth2.googleapis.com/revoke`.
    pub revoke_url: String,
    /// Default [`SCOPE_FREEBUSY`], [`SCOPE_OPENID`] and [`SCOPE_EMAIL`]:
    /// availability, and who consented (no scope that reads events).
    pub scopes: Vec<String>,
    /// Root certificates (DER) trusted for the token and revocation
    /// endpoints besides the platform's: a private CA, or a proxy that
    /// inspects TLS. Empty by default.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl OAuthConfig {
    /// Google's endpoints and the free/busy and identity scopes.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            revoke_url: "https://oauth2.googleapis.com/revoke".to_owned(),
            scopes: vec![
                SCOPE_FREEBUSY.to_owned(),
                SCOPE_OPENID.to_owned(),
                SCOPE_EMAIL.to_owned(),
            ],
            extra_root_certificates: Vec::new(),
        }
    }

    /// Adds a root certificate (DER) to
    /// [`extra_root_certificates`](Self::extra_root_certificates).
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// Uses other endpoints (a test server, another deployment).
    #[must_use]
    pub fn with_endpoints(
        mut self,
        auth_url: impl Into<String>,
        token_url: impl Into<String>,
        revoke_url: impl Into<String>,
    ) -> Self {
        self.auth_url = auth_url.into();
        self.token_url = token_url.into();
        self.revoke_url = revoke_url.into();
        self
    }

    /// Asks for these scopes instead.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

/// Why the OAuth client could not be set up or a code not exchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// A configured URL is not a URL.
    #[error("bad OAuth endpoint URL: {0}")]
    Url(String),
    /// The `state` that came back is not the one sent (a forged or stale
    /// callback).
    #[error("the OAuth state does not match; start connecting again")]
    StateMismatch,
    /// The token endpoint refused or failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP client could not be built (an extra root certificate that
    /// is not DER, for one).
    #[error("the OAuth HTTP client could not be built: {0}")]
    Client(String),
}

type Client = OAuthClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

/// The OAuth client for participants' Google accounts.
#[derive(Debug)]
pub struct GoogleOAuth {
    client: Client,
    http: OAuthHttp,
    scopes: Vec<String>,
    revoke_url: String,
}

impl GoogleOAuth {
    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`OAuthError::Url`] for a malformed endpoint,
    /// [`OAuthError::Client`] for a bad extra root certificate.
    pub fn new(config: OAuthConfig) -> Result<Self, OAuthError> {
        let url = |e: url::ParseError| OAuthError::Url(e.to_string());
        let rule = IdTokenRule::google(config.client_id.clone());
        let mut client = OAuthClient::new(ClientId::new(config.client_id))
            .set_auth_uri(AuthUrl::new(config.auth_url).map_err(url)?)
            .set_token_uri(TokenUrl::new(config.token_url).map_err(url)?)
            .set_revocation_url(RevocationUrl::new(config.revoke_url.clone()).map_err(url)?)
            .set_redirect_uri(RedirectUrl::new(config.redirect_uri).map_err(url)?);
        if let Some(secret) = config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.secret().to_owned()));
        }
        // The token endpoints' timeouts: 10 s to connect, 30 s a request.
        let http = ClientOptions::new(crate::http::USER_AGENT)
            .extra_roots(&config.extra_root_certificates)
            .build()
            .map_err(|e| OAuthError::Client(e.to_string()))?;
        Ok(Self {
            client,
            http: OAuthHttp::new(http, REFUSALS).with_id_tokens(rule),
            scopes: config.scopes,
            revoke_url: config.revoke_url,
        })
    }

    /// Starts a connection: the authorization URL with PKCE (S256), a
    /// random `state`, `access_type=offline` (for a refresh token) and, if
    /// `force_consent`, `prompt=consent` (Google returns a refresh token
    /// only on a consent screen, so use it when one must be re-obtained).
    pub fn authorize(&self, force_consent: bool) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("include_granted_scopes", "true");
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if force_consent {
            request = request.add_extra_param("prompt", "consent");
        }
        let (url, state) = request.url();
        Authorization::started(&url, &state, &verifier)
    }

    /// Completes a connection: checks `returned_state` against the one
    /// sent, then exchanges `code` with the PKCE verifier. The tokens name
    /// the account that consented ([`OAuthTokens::account`]) when the
    /// answer carries an ID token (the `openid` scope was asked for).
    ///
    /// # Errors
    ///
    /// [`OAuthError::StateMismatch`], or the token endpoint's refusal
    /// (`invalid_grant`: the code was used or expired), or an ID token that
    /// is not Google's for this client ([`SourceError::InvalidResponse`]).
    pub async fn exchange(
        &self,
        pending: &Authorization,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, OAuthError> {
        let request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()));
        let (mismatch, now) = (OAuthError::StateMismatch, SystemClock.now());
        self.http
            .exchange_code(request, pending, returned_state, mismatch, now)
            .await
    }

    /// Revokes a token (a refresh token revokes the whole grant), when a
    /// participant disconnects: RFC 7009 `POST token=...` to the revocation
    /// endpoint. (By hand: oauth2 refuses a non-HTTPS revocation URL, which
    /// a loopback test server is; here HTTPS is required except on
    /// loopback.)
    ///
    /// # Errors
    ///
    /// What the revocation endpoint answers.
    pub async fn revoke(&self, refresh_token: &SecretString) -> Result<(), SourceError> {
        let url =
            reqwest::Url::parse(&self.revoke_url).map_err(|e| SourceError::InvalidResponse {
                message: format!("bad revocation URL: {e}"),
            })?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !loopback {
            return Err(SourceError::Forbidden {
                message: "the revocation endpoint must use HTTPS".to_owned(),
            });
        }
        let form = [("token", refresh_token.secret())];
        // Revocation is not a Calendar API request: not paced.
        let unpaced = provider_http::Pacer::off();
        crate::http::send_with_retries(
            unpaced.identity(""),
            || self.http.client().post(url.clone()).form(&form),
            &availability::RetryConfig::default().max_retries(2),
            64 * 1024,
        )
        .await
        .map(|_| ())
    }
}

/// Participants' own tokens: the stored access token while it is good,
/// else one refresh (single flight per account: concurrent queries wait
/// for it), stored before use. provider-http's `UserTokens` over
/// [`GoogleOAuth`] and a plain [`TokenStore`].
pub type UserTokens = provider_http::UserTokens<GoogleOAuth>;

#[async_trait]
impl provider_http::Refresh for GoogleOAuth {
    type Store = Arc<dyn TokenStore>;
    const MARGIN: Duration = Duration::from_secs(60);

    fn oauth_http(&self) -> &OAuthHttp {
        &self.http
    }

    /// Google usually keeps the refresh token; if it sends a new one, the
    /// result carries it. `invalid_grant` (revoked, expired or unused for
    /// months) means the participant must reconnect.
    fn refresh_request<'a>(
        &'a self,
        token: &'a RefreshToken,
    ) -> oauth2::RefreshTokenRequest<'a, BasicErrorResponse, TokenAnswer> {
        self.client.exchange_refresh_token(token)
    }
}
