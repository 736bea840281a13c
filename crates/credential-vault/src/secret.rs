//! The secrets the vault keeps: owners, kinds, and credential payloads whose
//! secret parts zeroize on drop and never print.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A secret string (token, password, private key): zeroized on drop,
/// `[redacted]` in `Debug`, no `Display`, no `Serialize`.
///
/// The only way to read it is [`SecretString::secret`], so every place that
/// handles the plaintext is easy to find with a search for `.secret()`.
///
/// # Example
/// ```
/// use credential_vault::SecretString;
///
/// let token = SecretString::new("ya29.a0AfB_example".to_owned());
/// assert_eq!(format!("{token:?}"), "[redacted]");
/// assert_eq!(token.secret(), "ya29.a0AfB_example");
/// ```
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`; the string is zeroized when the secret is dropped.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret value.
    ///
    /// # Security Warning
    /// Leaking the value through logs, error messages, URLs or responses
    /// defeats the vault. Pass it straight to the request that needs it and do
    /// not copy it into longer-lived strings.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Byte length of the secret (useful for limits; reveals only the length).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Who a secret belongs to: a participant id, or an organisation-wide
/// integration (for example `org:google-workspace`).
///
/// 1 to [`OwnerId::MAX_LEN`] bytes of UTF-8 without control characters.
/// Owner ids are not secret: they appear in errors and in the store's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OwnerId(String);

impl OwnerId {
    /// Longest owner id in bytes (it is stored in each sealed record's header).
    pub const MAX_LEN: usize = 255;

    /// Validates and wraps an owner id.
    ///
    /// # Errors
    /// [`InvalidOwnerId`] when `id` is empty, longer than [`OwnerId::MAX_LEN`]
    /// bytes, or contains a control character.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidOwnerId> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN || id.chars().any(char::is_control) {
            return Err(InvalidOwnerId { len: id.len() });
        }
        Ok(Self(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OwnerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(raw).map_err(serde::de::Error::custom)
    }
}

/// An owner id that is empty, too long or contains control characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "owner id must be 1 to {max} bytes without control characters (got {len} bytes)",
    max = OwnerId::MAX_LEN
)]
pub struct InvalidOwnerId {
    /// Byte length of the rejected id.
    pub len: usize,
}

/// What a secret is. Each owner holds at most one secret of each kind.
///
/// The kind is bound into every sealed record, so a record copied to another
/// kind fails to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretKind {
    /// A participant's Google OAuth tokens.
    GoogleOauth,
    /// A participant's Microsoft identity platform OAuth tokens.
    MicrosoftOauth,
    /// A participant's Apple ID and iCloud app-specific password.
    AppleAppPassword,
    /// An organisation's Google service-account key (domain-wide delegation).
    GoogleServiceAccount,
    /// An organisation's Microsoft Entra app credentials (client secret or certificate).
    MicrosoftAppCredentials,
    /// The PKCE verifier (RFC 7636) of an OAuth authorization a participant
    /// has started and not yet completed, kept for the few minutes until
    /// the provider's callback, which any instance may receive.
    OauthAttempt,
    /// An organisation's Exchange Server (on-premise) scheduling account:
    /// its user name and password for EWS (NTLM or Basic).
    ExchangeServerLogin,
}

impl SecretKind {
    /// Every kind, in code order.
    pub const ALL: [Self; 7] = [
        Self::GoogleOauth,
        Self::MicrosoftOauth,
        Self::AppleAppPassword,
        Self::GoogleServiceAccount,
        Self::MicrosoftAppCredentials,
        Self::OauthAttempt,
        Self::ExchangeServerLogin,
    ];

    /// The stable name stored in databases (`google_oauth`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GoogleOauth => "google_oauth",
            Self::MicrosoftOauth => "microsoft_oauth",
            Self::AppleAppPassword => "apple_app_password",
            Self::GoogleServiceAccount => "google_service_account",
            Self::MicrosoftAppCredentials => "microsoft_app_credentials",
            Self::OauthAttempt => "oauth_attempt",
            Self::ExchangeServerLogin => "exchange_server_login",
        }
    }

    /// Parses a name written by [`SecretKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The one-byte code in a sealed record's header.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::GoogleOauth => 1,
            Self::MicrosoftOauth => 2,
            Self::AppleAppPassword => 3,
            Self::GoogleServiceAccount => 4,
            Self::MicrosoftAppCredentials => 5,
            Self::OauthAttempt => 6,
            Self::ExchangeServerLogin => 7,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OAuth 2.0 tokens for one participant (Google or Microsoft).
///
/// Microsoft rotates the refresh token on every refresh: store the new one
/// with [`Vault::replace`](crate::Vault::replace) against the version you read,
/// before using the new access token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct OAuthTokens {
    /// The bearer access token.
    pub access_token: SecretString,
    /// When the access token expires, if the server said.
    pub expires_at: Option<jiff::Timestamp>,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<SecretString>,
    /// The scopes granted (as the token endpoint reported them).
    pub scopes: Vec<String>,
    /// The account that consented, from the ID token (`None` in tokens
    /// stored before it was learned). Sealed with the tokens: the address
    /// is personal data.
    #[serde(default)]
    pub account: Option<availability::ConnectedAccount>,
}

impl OAuthTokens {
    /// Tokens with the given access token and nothing else.
    pub fn new(access_token: SecretString) -> Self {
        Self {
            access_token,
            expires_at: None,
            refresh_token: None,
            scopes: Vec::new(),
            account: None,
        }
    }

    /// Sets the account that consented.
    #[must_use]
    pub fn with_account(mut self, account: availability::ConnectedAccount) -> Self {
        self.account = Some(account);
        self
    }

    /// Sets the access token's expiry.
    #[must_use]
    pub fn with_expires_at(mut self, at: jiff::Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, token: SecretString) -> Self {
        self.refresh_token = Some(token);
        self
    }

    /// Sets the granted scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

/// An Apple ID and an app-specific password, for iCloud CalDAV.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AppPassword {
    /// The Apple ID (an email address; not secret, but personal).
    pub apple_id: String,
    /// The app-specific password (`xxxx-xxxx-xxxx-xxxx`).
    pub password: SecretString,
}

impl AppPassword {
    /// An Apple ID with its app-specific password.
    pub fn new(apple_id: impl Into<String>, password: SecretString) -> Self {
        Self {
            apple_id: apple_id.into(),
            password,
        }
    }
}

/// A user name and password for an organisation's own server: the
/// Exchange Server (EWS) scheduling account.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ServerLogin {
    /// The user name (`DOMAIN\\name` or a UPN; not secret, but personal).
    pub user: String,
    /// The password.
    pub password: SecretString,
}

impl ServerLogin {
    /// A user name with its password.
    pub fn new(user: impl Into<String>, password: SecretString) -> Self {
        Self {
            user: user.into(),
            password,
        }
    }
}

/// A Google service-account key, kept as the JSON file Google issues.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ServiceAccountKey {
    /// The service account's email (`client_email` in the key file).
    pub client_email: String,
    /// The whole key file as issued, including `private_key`.
    pub key_json: SecretString,
}

impl ServiceAccountKey {
    /// A key for `client_email` with its JSON key file.
    pub fn new(client_email: impl Into<String>, key_json: SecretString) -> Self {
        Self {
            client_email: client_email.into(),
            key_json,
        }
    }
}

/// How a Microsoft Entra app proves its identity to the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AppSecret {
    /// A client secret.
    ClientSecret(SecretString),
    /// A certificate: its PKCS#8 PEM private key and the certificate's
    /// SHA-1 thumbprint (hex), used for the `x5t` header of the client assertion.
    Certificate {
        /// The private key, PEM (`-----BEGIN PRIVATE KEY-----`).
        private_key_pem: SecretString,
        /// The certificate thumbprint (hex). Not secret.
        thumbprint: String,
    },
}

/// A Microsoft Entra app registration's credentials for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AppCredentials {
    /// The directory (tenant) id.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret or certificate.
    pub secret: AppSecret,
}

impl AppCredentials {
    /// Credentials of `client_id` in `tenant_id`.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        secret: AppSecret,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            secret,
        }
    }
}

/// A credential the vault keeps; its variant is its [`SecretKind`].
///
/// There is deliberately no variant for a Google or Microsoft password: the
/// assistant never asks for one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// [`SecretKind::GoogleOauth`].
    GoogleOauth(OAuthTokens),
    /// [`SecretKind::MicrosoftOauth`].
    MicrosoftOauth(OAuthTokens),
    /// [`SecretKind::AppleAppPassword`].
    AppleAppPassword(AppPassword),
    /// [`SecretKind::GoogleServiceAccount`].
    GoogleServiceAccount(ServiceAccountKey),
    /// [`SecretKind::MicrosoftAppCredentials`].
    MicrosoftAppCredentials(AppCredentials),
    /// [`SecretKind::OauthAttempt`]: the PKCE verifier.
    OauthAttempt(SecretString),
    /// [`SecretKind::ExchangeServerLogin`].
    ExchangeServerLogin(ServerLogin),
}

impl Credential {
    /// The kind this credential is stored under.
    pub fn kind(&self) -> SecretKind {
        match self {
            Self::GoogleOauth(_) => SecretKind::GoogleOauth,
            Self::MicrosoftOauth(_) => SecretKind::MicrosoftOauth,
            Self::AppleAppPassword(_) => SecretKind::AppleAppPassword,
            Self::GoogleServiceAccount(_) => SecretKind::GoogleServiceAccount,
            Self::MicrosoftAppCredentials(_) => SecretKind::MicrosoftAppCredentials,
            Self::OauthAttempt(_) => SecretKind::OauthAttempt,
            Self::ExchangeServerLogin(_) => SecretKind::ExchangeServerLogin,
        }
    }

    /// The OAuth tokens, for the two OAuth kinds.
    pub fn as_oauth(&self) -> Option<&OAuthTokens> {
        match self {
            Self::GoogleOauth(tokens) | Self::MicrosoftOauth(tokens) => Some(tokens),
            _ => None,
        }
    }

    /// Serialises the plaintext for sealing into a buffer that zeroizes.
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let wire = match self {
            Self::GoogleOauth(t) | Self::MicrosoftOauth(t) => WireOut::OAuth {
                access_token: t.access_token.secret(),
                expires_at: t.expires_at,
                refresh_token: t.refresh_token.as_ref().map(SecretString::secret),
                scopes: &t.scopes,
                account: t.account.as_ref(),
            },
            Self::AppleAppPassword(p) => WireOut::AppPassword {
                apple_id: &p.apple_id,
                password: p.password.secret(),
            },
            Self::GoogleServiceAccount(k) => WireOut::ServiceAccount {
                client_email: &k.client_email,
                key_json: k.key_json.secret(),
            },
            Self::MicrosoftAppCredentials(c) => WireOut::App {
                tenant_id: &c.tenant_id,
                client_id: &c.client_id,
                secret: match &c.secret {
                    AppSecret::ClientSecret(s) => WireAppSecret::ClientSecret(s.secret()),
                    AppSecret::Certificate {
                        private_key_pem,
                        thumbprint,
                    } => WireAppSecret::Certificate {
                        private_key_pem: private_key_pem.secret(),
                        thumbprint,
                    },
                },
            },
            Self::OauthAttempt(verifier) => WireOut::OauthAttempt {
                pkce_verifier: verifier.secret(),
            },
            Self::ExchangeServerLogin(login) => WireOut::ServerLogin {
                user: &login.user,
                password: login.password.secret(),
            },
        };
        // Reserve generously up front so the buffer never reallocates (a
        // reallocation would leave an unzeroized copy behind).
        let mut out = Zeroizing::new(Vec::with_capacity(self.encoded_len_hint()));
        // Writing plain strings and numbers into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, &wire).is_err() {
            out.clear();
        }
        out
    }

    fn encoded_len_hint(&self) -> usize {
        let secrets = match self {
            Self::GoogleOauth(t) | Self::MicrosoftOauth(t) => {
                t.access_token.len()
                    + t.refresh_token.as_ref().map_or(0, SecretString::len)
                    + t.scopes.iter().map(|s| s.len() + 3).sum::<usize>()
            }
            Self::AppleAppPassword(p) => p.apple_id.len() + p.password.len(),
            Self::GoogleServiceAccount(k) => k.client_email.len() + k.key_json.len(),
            Self::MicrosoftAppCredentials(c) => {
                c.tenant_id.len()
                    + c.client_id.len()
                    + match &c.secret {
                        AppSecret::ClientSecret(s) => s.len(),
                        AppSecret::Certificate {
                            private_key_pem,
                            thumbprint,
                        } => private_key_pem.len() + thumbprint.len(),
                    }
            }
            Self::OauthAttempt(verifier) => verifier.len(),
            Self::ExchangeServerLogin(login) => login.user.len() + login.password.len(),
        };
        // JSON escapes at most double a string's length (\n, \"), plus keys.
        2 * secrets + 256
    }

    /// Parses a plaintext written by [`Credential::encode`] for `kind`.
    pub(crate) fn decode(kind: SecretKind, plaintext: &[u8]) -> Option<Self> {
        let wire: WireIn = serde_json::from_slice(plaintext).ok()?;
        Some(match (kind, wire) {
            (SecretKind::GoogleOauth, WireIn::OAuth(t)) => Self::GoogleOauth(t),
            (SecretKind::MicrosoftOauth, WireIn::OAuth(t)) => Self::MicrosoftOauth(t),
            (SecretKind::AppleAppPassword, WireIn::AppPassword(p)) => Self::AppleAppPassword(p),
            (SecretKind::GoogleServiceAccount, WireIn::ServiceAccount(k)) => {
                Self::GoogleServiceAccount(k)
            }
            (SecretKind::MicrosoftAppCredentials, WireIn::App(c)) => {
                Self::MicrosoftAppCredentials(c)
            }
            (SecretKind::OauthAttempt, WireIn::OauthAttempt { pkce_verifier }) => {
                Self::OauthAttempt(pkce_verifier)
            }
            (SecretKind::ExchangeServerLogin, WireIn::ServerLogin(login)) => {
                Self::ExchangeServerLogin(login)
            }
            _ => return None,
        })
    }
}

/// The sealed plaintext, borrowed from the credential (no `Serialize` on the
/// public types, so secrets cannot be serialised by accident elsewhere).
#[derive(Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum WireOut<'a> {
    #[serde(rename = "oauth")]
    OAuth {
        access_token: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<jiff::Timestamp>,
        #[serde(skip_serializing_if = "Option::is_none")]
        refresh_token: Option<&'a str>,
        scopes: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<&'a availability::ConnectedAccount>,
    },
    AppPassword {
        apple_id: &'a str,
        password: &'a str,
    },
    ServiceAccount {
        client_email: &'a str,
        key_json: &'a str,
    },
    App {
        tenant_id: &'a str,
        client_id: &'a str,
        secret: WireAppSecret<'a>,
    },
    OauthAttempt {
        pkce_verifier: &'a str,
    },
    ServerLogin {
        user: &'a str,
        password: &'a str,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum WireAppSecret<'a> {
    ClientSecret(&'a str),
    Certificate {
        private_key_pem: &'a str,
        thumbprint: &'a str,
    },
}

#[derive(Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum WireIn {
    #[serde(rename = "oauth")]
    OAuth(OAuthTokens),
    AppPassword(AppPassword),
    ServiceAccount(ServiceAccountKey),
    App(AppCredentials),
    OauthAttempt {
        pkce_verifier: SecretString,
    },
    ServerLogin(ServerLogin),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Credential> {
        vec![
            Credential::GoogleOauth(
                OAuthTokens::new("ya29.access".into())
                    .with_expires_at(jiff::Timestamp::from_second(1_790_000_000).unwrap())
                    .with_refresh_token("1//refresh".into())
                    .with_scopes(["https://www.googleapis.com/auth/calendar.freebusy"]),
            ),
            Credential::MicrosoftOauth(OAuthTokens::new("eyJ0eXAi".into())),
            Credential::MicrosoftOauth(OAuthTokens::new("eyJ0eXAi".into()).with_account(
                availability::ConnectedAccount::new(
                    "oid-1",
                    Some("9188040d-6c67-4c5b-b112-36a304b66dad".to_owned()),
                    Some("theo.r@outlook.com".to_owned()),
                ),
            )),
            Credential::AppleAppPassword(AppPassword::new(
                "someone@icloud.com",
                "abcd-efgh-ijkl-mnop".into(),
            )),
            Credential::GoogleServiceAccount(ServiceAccountKey::new(
                "sa@project.iam.gserviceaccount.com",
                "{\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n\"}".into(),
            )),
            Credential::MicrosoftAppCredentials(AppCredentials::new(
                "tenant",
                "client",
                AppSecret::Certificate {
                    private_key_pem: "-----BEGIN PRIVATE KEY-----\nMIIE\n".into(),
                    thumbprint: "AB12".into(),
                },
            )),
            Credential::MicrosoftAppCredentials(AppCredentials::new(
                "tenant",
                "client",
                AppSecret::ClientSecret("s3cr3t~".into()),
            )),
            Credential::OauthAttempt("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
            Credential::ExchangeServerLogin(ServerLogin::new(
                "CORP\\scheduler",
                "Winter-2026!".into(),
            )),
        ]
    }

    #[test]
    fn encode_decode_round_trip_every_kind() {
        for credential in samples() {
            let bytes = credential.encode();
            assert!(bytes.len() <= bytes.capacity());
            let back = Credential::decode(credential.kind(), &bytes).unwrap();
            assert_eq!(back, credential);
        }
    }

    #[test]
    fn tokens_sealed_before_accounts_were_learned_still_open() {
        // The plaintext main wrote before `account` existed.
        let old = br#"{"t":"oauth","access_token":"a","refresh_token":"r","scopes":["s"]}"#;
        let back = Credential::decode(SecretKind::GoogleOauth, old).unwrap();
        let tokens = back.as_oauth().unwrap();
        assert_eq!(tokens.account, None);
        assert_eq!(tokens.refresh_token.as_ref().unwrap().secret(), "r");
        // And tokens without an account are written as before.
        let again = String::from_utf8(back.encode().to_vec()).unwrap();
        assert!(!again.contains("account"), "{again}");
    }

    #[test]
    fn decode_refuses_a_payload_of_another_kind() {
        let google = &samples()[0];
        let bytes = google.encode();
        assert!(Credential::decode(SecretKind::AppleAppPassword, &bytes).is_none());
        // Google and Microsoft tokens share a shape but not a kind.
        assert!(Credential::decode(SecretKind::MicrosoftOauth, &bytes).is_some());
    }

    #[test]
    fn debug_never_shows_secrets() {
        for credential in samples() {
            let shown = format!("{credential:?}");
            for secret in [
                "ya29.access",
                "1//refresh",
                "eyJ0eXAi",
                "abcd-efgh",
                "PRIVATE KEY",
                "s3cr3t",
                "theo.r@",
            ] {
                assert!(!shown.contains(secret), "{shown} leaks {secret}");
            }
            assert!(shown.contains("[redacted]"));
        }
    }

    #[test]
    fn owner_ids_are_validated() {
        assert!(OwnerId::new("participant-42").is_ok());
        assert!(OwnerId::new("").is_err());
        assert!(OwnerId::new("a\nb").is_err());
        assert!(OwnerId::new("x".repeat(256)).is_err());
        assert!(OwnerId::new("x".repeat(255)).is_ok());
    }

    #[test]
    fn kind_names_and_codes_round_trip() {
        for kind in SecretKind::ALL {
            assert_eq!(SecretKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(SecretKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(SecretKind::from_code(0), None);
    }
}
