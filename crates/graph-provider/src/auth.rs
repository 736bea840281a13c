//! Microsoft identity platform: delegated OAuth (authorization code + PKCE,
//! `openid profile email offline_access Calendars.ReadBasic`) with
//! refresh-token rotation and the consenting account read from the ID
//! token, and
//! app-only client credentials (secret or certificate) for org-wide
//! authorisation.
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>,
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{AccessToken, AccountId, Clock, SourceError, SystemClock, TokenSource};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credential_vault::{OAuthTokens, SecretString};
use oauth2::basic::BasicErrorResponse;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenUrl, url,
};
use provider_http::{
    Authorization, ClientOptions, IdTokenRule, OAuthClient, OAuthHttp, Rs256Key, Rs256KeyError,
    TokenAnswer, TokenRefusals, VersionedTokenStore, tokens,
};
use tokio::sync::Mutex;

/// How Microsoft's token endpoint refusals read.
const REFUSALS: TokenRefusals = TokenRefusals::new(
    "Microsoft refused the refresh token (invalid_grant): revoked, expired or already used; the \
     participant must reconnect",
    "the app registration is not accepted",
    ": check its credentials and that a tenant administrator consented",
);

/// The delegated scopes: who consented (`openid` for the ID token with
/// `oid` and `tid`, `profile` for `preferred_username`, `email` for the
/// optional `email` claim), a refresh token, and availability only
/// (`Calendars.ReadBasic`, the least privileged for getSchedule and
/// calendarView). None reads an event's subject or body.
pub const DELEGATED_SCOPES: [&str; 5] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "Calendars.ReadBasic",
];

/// The tenant id of personal Microsoft accounts (outlook.com, hotmail.com):
/// an ID token whose `tid` is this names an account that getSchedule does
/// not serve, so [`Mode::Auto`](crate::Mode::Auto) reads it through
/// calendarView (Microsoft identity platform, "ID token claims reference").
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The app-only scope: every application permission consented.
pub const APP_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Which accounts may sign in: `common` (work, school and personal),
/// `organizations` (work and school), `consumers` (personal) or one
/// tenant id / domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant(pub String);

impl Tenant {
    /// `common`.
    pub fn common() -> Self {
        Self("common".to_owned())
    }

    /// `organizations`.
    pub fn organizations() -> Self {
        Self("organizations".to_owned())
    }
}

/// The identity platform's host, overridable for tests and national
/// clouds. Default `https://login.microsoftonline.com`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The application (client) id.
    pub client_id: String,
    /// The tenant (delegated: who may sign in; app-only: whose mailboxes).
    pub tenant: Tenant,
    /// The identity host.
    pub authority: String,
    /// Where the participant comes back (delegated only).
    pub redirect_uri: Option<String>,
    /// The client secret of a confidential client, if any.
    pub client_secret: Option<SecretString>,
    /// Root certificates (DER) trusted for the identity host besides the
    /// platform's: a private CA, or a proxy that inspects TLS. Empty by
    /// default.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl AuthConfig {
    /// A configuration for `client_id` in `tenant`.
    pub fn new(client_id: impl Into<String>, tenant: Tenant) -> Self {
        Self {
            client_id: client_id.into(),
            tenant,
            authority: "https://login.microsoftonline.com".to_owned(),
            redirect_uri: None,
            client_secret: None,
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

    /// Sets the redirect URI (delegated flow).
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Sets the client secret.
    #[must_use]
    pub fn client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Uses another identity host (a test server, a national cloud).
    #[must_use]
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into().trim_end_matches('/').to_owned();
        self
    }

    fn endpoint(&self, what: &str) -> String {
        format!("{}/{}/oauth2/v2.0/{what}", self.authority, self.tenant.0)
    }

    /// The URL a tenant administrator opens to consent to the app's
    /// application permissions for the whole tenant.
    /// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-admin-consent>
    pub fn admin_consent_url(&self, redirect_uri: &str, state: &str) -> String {
        let mut url = format!("{}/{}/v2.0/adminconsent", self.authority, self.tenant.0);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", APP_SCOPE)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .finish();
        url.push('?');
        url.push_str(&query);
        url
    }
}

/// Why the OAuth client could not be set up or a code not exchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A configured URL is not a URL, or a needed one is missing.
    #[error("bad OAuth configuration: {0}")]
    Config(String),
    /// The returned `state` is not the one sent.
    #[error("the OAuth state does not match; start connecting again")]
    StateMismatch,
    /// The token endpoint refused or failed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

type Client = OAuthClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The OAuth client for Microsoft accounts.
#[derive(Debug)]
pub struct GraphOAuth {
    client: Client,
    http: OAuthHttp,
    config: AuthConfig,
}

impl GraphOAuth {
    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] for a malformed URL or an extra root
    /// certificate that is not DER.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        let bad = |e: url::ParseError| AuthError::Config(e.to_string());
        let mut client = OAuthClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(config.endpoint("authorize")).map_err(bad)?)
            .set_token_uri(TokenUrl::new(config.endpoint("token")).map_err(bad)?)
            // Microsoft takes client credentials in the body.
            .set_auth_type(AuthType::RequestBody);
        if let Some(uri) = &config.redirect_uri {
            client = client.set_redirect_uri(RedirectUrl::new(uri.clone()).map_err(bad)?);
        }
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.secret().to_owned()));
        }
        // The identity host's timeouts: 10 s to connect, 30 s a request.
        let http = ClientOptions::new(crate::http::USER_AGENT)
            .extra_roots(&config.extra_root_certificates)
            .build()
            .map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(Self {
            client,
            http: OAuthHttp::new(http, REFUSALS)
                .with_id_tokens(IdTokenRule::microsoft(config.client_id.clone())),
            config,
        })
    }

    /// Starts a delegated connection: PKCE S256, a random state, and the
    /// [`DELEGATED_SCOPES`].
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for scope in DELEGATED_SCOPES {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        let (url, state) = request.url();
        Authorization::started(&url, &state, &verifier)
    }

    /// Completes a delegated connection: the state is checked, the code
    /// exchanged with the verifier. The tokens name the account that
    /// consented ([`OAuthTokens::account`]: `oid`, `tid` and its address)
    /// from the answer's ID token.
    ///
    /// # Errors
    ///
    /// [`AuthError::StateMismatch`], the token endpoint's refusal, or an ID
    /// token not issued by its tenant for this app.
    pub async fn exchange(
        &self,
        pending: &Authorization,
        returned_state: &str,
        code: &str,
    ) -> Result<OAuthTokens, AuthError> {
        let code = AuthorizationCode::new(code.to_owned());
        let now = SystemClock.now();
        self.http
            .exchange_code(
                self.client.exchange_code(code),
                pending,
                returned_state,
                AuthError::StateMismatch,
                now,
            )
            .await
    }

    /// An app-only token (client credentials with [`APP_SCOPE`]): with the
    /// client secret, or with a certificate's signed client assertion.
    ///
    /// # Errors
    ///
    /// What the token endpoint answers (`unauthorized_client`,
    /// `invalid_client`: consent or credentials missing).
    pub async fn app_token(
        &self,
        certificate: Option<&Certificate>,
        now: jiff::Timestamp,
    ) -> Result<AccessToken, SourceError> {
        let mut request = self
            .client
            .exchange_client_credentials()
            .add_scope(Scope::new(APP_SCOPE.to_owned()));
        let assertion;
        if let Some(cert) = certificate {
            assertion =
                cert.assertion(&self.config.client_id, &self.config.endpoint("token"), now)?;
            request = request
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion.clone());
        }
        let response = request
            .request_async(&self.http.adapter())
            .await
            .map_err(|e| self.http.token_error(e))?;
        let t = tokens(&response, None, now);
        Ok(AccessToken::new(t.access_token.secret(), t.expires_at))
    }
}

/// A certificate credential: the private key (PKCS#8 DER, RSA) and the
/// certificate (DER) whose SHA-1 thumbprint names it (`x5t`).
pub struct Certificate {
    key: Rs256Key,
    thumbprint: String,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t", &self.thumbprint)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Certificate {
    /// From a PKCS#8 RSA private key and the certificate, both DER.
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] if the key is not a PKCS#8 RSA key.
    pub fn from_der(pkcs8_key: &[u8], certificate: &[u8]) -> Result<Self, AuthError> {
        let key = Rs256Key::from_pkcs8_der(pkcs8_key).map_err(key_error)?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, certificate);
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        })
    }

    /// From a PKCS#8 RSA private key in PEM and the certificate's SHA-1
    /// thumbprint in hex, as the Azure portal shows it (the shape the
    /// credential vault keeps).
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] for a key that is not PKCS#8 RSA or a
    /// thumbprint that is not 40 hex digits.
    pub fn from_pem(private_key_pem: &str, thumbprint_hex: &str) -> Result<Self, AuthError> {
        let bad = |what: &str| AuthError::Config(what.to_owned());
        let key = Rs256Key::from_pkcs8_pem(private_key_pem).map_err(key_error)?;
        let hex = thumbprint_hex.trim().replace(':', "");
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the thumbprint is not 40 hex digits"));
        }
        let bytes: Vec<u8> = (0..20)
            .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(bytes),
        })
    }

    /// The signed client assertion (RFC 7523 §2.2): aud is the token
    /// endpoint, iss and sub the client id, valid ten minutes.
    fn assertion(
        &self,
        client_id: &str,
        aud: &str,
        now: jiff::Timestamp,
    ) -> Result<String, SourceError> {
        let header = serde_json::json!({"x5t": self.thumbprint});
        let iat = now.as_second();
        let mut jti = [0u8; 16];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut jti);
        let claims = serde_json::json!({
            "aud": aud, "iss": client_id, "sub": client_id,
            "iat": iat, "nbf": iat, "exp": iat + 600,
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        self.key
            .sign(&header, &claims)
            .map_err(|_| SourceError::InvalidResponse {
                message: "could not sign the client assertion".to_owned(),
            })
    }
}

/// A refused key in the wording of [`Certificate`]'s errors ("the key is
/// not a PKCS#8 PEM", "... RSA key").
fn key_error(e: Rs256KeyError) -> AuthError {
    AuthError::Config(e.to_string())
}

/// Delegated tokens: the stored access token while good, else one refresh
/// per account at a time whose rotated refresh token is stored by
/// compare-and-set before the access token is used. If another instance
/// refreshed first (the compare fails), its newer tokens are used.
/// provider-http's `UserTokens` over [`GraphOAuth`] and a
/// [`VersionedTokenStore`].
pub type UserTokens = provider_http::UserTokens<GraphOAuth>;

#[async_trait]
impl provider_http::Refresh for GraphOAuth {
    type Store = Arc<dyn VersionedTokenStore>;
    const MARGIN: Duration = Duration::from_secs(120);

    fn oauth_http(&self) -> &OAuthHttp {
        &self.http
    }

    /// Microsoft rotates the refresh token on every use: the result carries
    /// the new one, which must be stored before the access token is used.
    /// The request asks for `openid` too, so the answer's ID token names
    /// the account (a connection made before accounts were learned learns
    /// it here).
    fn refresh_request<'a>(
        &'a self,
        token: &'a RefreshToken,
    ) -> oauth2::RefreshTokenRequest<'a, BasicErrorResponse, TokenAnswer> {
        DELEGATED_SCOPES.iter().fold(
            self.client.exchange_refresh_token(token),
            |request, scope| request.add_scope(Scope::new((*scope).to_owned())),
        )
    }
}

/// App-only tokens for a tenant: one token serves every mailbox, minted
/// once at a time and renewed before it expires.
#[derive(Debug)]
pub struct AppTokens {
    oauth: Arc<GraphOAuth>,
    certificate: Option<Certificate>,
    clock: Arc<dyn Clock>,
    held: Mutex<Option<AccessToken>>,
}

impl AppTokens {
    /// With the client secret of `oauth`'s configuration.
    pub fn with_secret(oauth: Arc<GraphOAuth>, clock: Arc<dyn Clock>) -> Self {
        Self {
            oauth,
            certificate: None,
            clock,
            held: Mutex::new(None),
        }
    }

    /// With a certificate credential.
    pub fn with_certificate(
        oauth: Arc<GraphOAuth>,
        certificate: Certificate,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            oauth,
            certificate: Some(certificate),
            clock,
            held: Mutex::new(None),
        }
    }
}

#[async_trait]
impl TokenSource for AppTokens {
    async fn token(&self, _account: &AccountId) -> Result<AccessToken, SourceError> {
        let mut held = self.held.lock().await;
        let now = self.clock.now();
        if let Some(t) = held.as_ref()
            && t.is_fresh(now, Duration::from_secs(300))
        {
            return Ok(t.clone());
        }
        let token = self.oauth.app_token(self.certificate.as_ref(), now).await?;
        *held = Some(token.clone());
        Ok(token)
    }

    async fn invalidate(&self, _account: &AccountId) {
        *self.held.lock().await = None;
    }
}
