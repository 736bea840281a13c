//! A service account with domain-wide delegation reads every participant's
//! calendar by impersonating them: the JWT bearer grant of RFC 7523,
//! signed RS256 ([`Rs256Key`]).
//! <https://developers.google.com/identity/protocols/oauth2/service-account#delegatingauthority>

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountId, Clock, RetryConfig, SourceError, SystemClock, TokenSource,
};
use credential_vault::SecretString;
use provider_http::{ClientOptions, Rs256Key, TokenCache};
use serde::Deserialize;

use crate::wire::TokenAnswer;

/// The JWT bearer grant type (RFC 7523 §2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google caps an assertion's lifetime at one hour.
const LIFETIME_SECS: i64 = 3600;

/// Why a service-account key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not the JSON key file Google issues.
    #[error("not a service-account JSON key: {0}")]
    Json(String),
    /// The `private_key` is not a PKCS#8 RSA key in PEM.
    #[error("the private_key is not a PKCS#8 RSA key")]
    PrivateKey,
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A service account's key, ready to sign. `Debug` shows only its email.
pub struct ServiceAccount {
    client_email: String,
    key_id: Option<String>,
    token_uri: String,
    key: Rs256Key,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads the JSON key file Google issues (`client_email`,
    /// `private_key` in PEM PKCS#8, `private_key_id`, `token_uri`).
    ///
    /// # Errors
    ///
    /// [`KeyError`] for anything else; the message never contains key
    /// material.
    pub fn from_json(json: &SecretString) -> Result<Self, KeyError> {
        let file: KeyFile = serde_json::from_str(json.secret())
            .map_err(|e| KeyError::Json(format!("line {}, column {}", e.line(), e.column())))?;
        let key = Rs256Key::from_pkcs8_pem(&file.private_key).map_err(|_| KeyError::PrivateKey)?;
        Ok(Self {
            client_email: file.client_email,
            key_id: file.private_key_id,
            token_uri: file
                .token_uri
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned()),
            key,
        })
    }

    /// Sends tokens to another endpoint (tests); the JWT `aud` follows.
    #[must_use]
    pub fn with_token_uri(mut self, uri: impl Into<String>) -> Self {
        self.token_uri = uri.into();
        self
    }

    /// The service account's email (the JWT `iss`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The signed assertion for `subject` (the user impersonated) and
    /// `scopes`, issued at `now`, valid one hour.
    ///
    /// # Errors
    ///
    /// [`SourceError::InvalidResponse`] if signing fails.
    pub fn assertion(
        &self,
        subject: &str,
        scopes: &[String],
        now: jiff::Timestamp,
    ) -> Result<String, SourceError> {
        let header = match &self.key_id {
            Some(kid) => serde_json::json!({"kid": kid}),
            None => serde_json::json!({}),
        };
        let iat = now.as_second();
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": scopes.join(" "),
            "aud": self.token_uri,
            "iat": iat,
            "exp": iat + LIFETIME_SECS,
            "sub": subject,
        });
        self.key
            .sign(&header, &claims)
            .map_err(|_| SourceError::InvalidResponse {
                message: "could not sign the service-account assertion".to_owned(),
            })
    }
}

/// Tokens that impersonate each participant (the account id is their
/// email, the JWT `sub`), minted once per subject at a time, cached and
/// re-minted five minutes before they expire. There is no refresh token:
/// a new assertion is signed each time.
#[derive(Debug)]
pub struct ServiceAccountTokens {
    account: Arc<ServiceAccount>,
    scopes: Vec<String>,
    http: reqwest::Client,
    retry: RetryConfig,
    cache: TokenCache,
}

impl ServiceAccountTokens {
    /// Tokens for `scopes` (the free/busy scope by default in the
    /// provider), on the system clock.
    ///
    /// # Errors
    ///
    /// [`SourceError::Transport`] if the HTTP client cannot be built.
    pub fn new(account: Arc<ServiceAccount>, scopes: Vec<String>) -> Result<Self, SourceError> {
        Self::with_clock(account, scopes, Arc::new(SystemClock))
    }

    /// The same with an injected clock.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(
        account: Arc<ServiceAccount>,
        scopes: Vec<String>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        let http = ClientOptions::new(crate::http::USER_AGENT).build()?;
        Ok(Self {
            account,
            scopes,
            http,
            retry: RetryConfig::default().max_retries(2),
            cache: TokenCache::new(clock, Duration::from_secs(300)),
        })
    }

    /// Also trusts these root certificates (DER) for the token endpoint:
    /// a private CA, or a proxy that inspects TLS.
    ///
    /// # Errors
    ///
    /// [`SourceError::Transport`] if a certificate is not DER (the client
    /// cannot be built).
    pub fn with_root_certificates(mut self, roots: &[Vec<u8>]) -> Result<Self, SourceError> {
        self.http = ClientOptions::new(crate::http::USER_AGENT)
            .extra_roots(roots)
            .build()?;
        Ok(self)
    }

    async fn mint(&self, subject: &str) -> Result<AccessToken, SourceError> {
        let now = self.cache.now();
        let assertion = self.account.assertion(subject, &self.scopes, now)?;
        let form = [
            ("grant_type", JWT_BEARER),
            ("assertion", assertion.as_str()),
        ];
        let reply = crate::http::GOOGLE
            .send_raw(
                || self.http.post(&self.account.token_uri).form(&form),
                &self.retry,
                1024 * 1024,
                crate::http::classify,
            )
            .await?;
        if !reply.is_success() {
            // RFC 6749 §5.2: the error code says why (400 or 401).
            let answer: Option<TokenAnswer> = serde_json::from_slice(&reply.body).ok();
            return Err(delegation_error(
                answer.as_ref().and_then(|a| a.error.as_deref()),
                answer.as_ref().and_then(|a| a.error_description.as_deref()),
                &self.account.client_email,
                subject,
            ));
        }
        let body = reply.body;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|_| SourceError::InvalidResponse {
                message: "the token endpoint's answer is not JSON".to_owned(),
            })?;
        let token = answer
            .access_token
            .ok_or_else(|| SourceError::InvalidResponse {
                message: "the token endpoint sent no access_token".to_owned(),
            })?;
        let expires = answer.expires_in.unwrap_or(LIFETIME_SECS);
        let at = jiff::Timestamp::from_second(now.as_second().saturating_add(expires)).ok();
        Ok(AccessToken::new(token, at))
    }
}

/// Google's refusals of a delegated token, explained.
pub(crate) fn delegation_error(
    error: Option<&str>,
    description: Option<&str>,
    client_email: &str,
    subject: &str,
) -> SourceError {
    match error {
        Some("unauthorized_client") => SourceError::Forbidden {
            message: format!(
                "the service account {client_email} is not authorised for these scopes: in the \
                 Google Admin console (Security > API controls > Domain-wide delegation) add its \
                 client ID with the scopes; changes can take up to 24 hours (unauthorized_client)"
            ),
        },
        Some("invalid_grant") => SourceError::NotFound {
            message: format!(
                "Google refused to impersonate {subject}: the user does not exist or is not in \
                 the service account's domain (invalid_grant{})",
                description.map(|d| format!(": {d}")).unwrap_or_default()
            ),
        },
        Some(other) => SourceError::Forbidden {
            message: format!("the token endpoint refused the service account ({other})"),
        },
        None => SourceError::InvalidResponse {
            message: "the token endpoint refused the service account without a reason".to_owned(),
        },
    }
}

#[async_trait]
impl TokenSource for ServiceAccountTokens {
    async fn token(&self, account: &AccountId) -> Result<AccessToken, SourceError> {
        self.cache
            .get_or_mint(account, || self.mint(account.as_str()))
            .await
    }

    async fn invalidate(&self, account: &AccountId) {
        self.cache.invalidate(account).await;
    }
}
