//! Who consented: the ID token a token endpoint returns beside the access
//! token when `openid` is asked for, read into an
//! [`availability::ConnectedAccount`].
//!
//! The ID token is received directly from the token endpoint over TLS (the
//! client checks the server's certificate), so, as OpenID Connect Core 1.0
//! §3.1.3.7 item 6 allows, its signature is not checked; its issuer
//! (item 2), audience (items 3 and 4, `azp` too) and expiry (item 9) are.

use std::fmt;

use availability::{ConnectedAccount, SourceError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{EndpointNotSet, ExtraTokenFields, StandardRevocableToken, StandardTokenResponse};
use serde::{Deserialize, Serialize};

/// The token endpoint's answer with its optional `id_token` (OpenID
/// Connect Core 1.0 §3.1.3.3): the response type of the providers' clients.
pub type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// oauth2's client over [`TokenAnswer`] (its `BasicClient` with the ID
/// token kept), with the endpoint type-states of oauth2 5.
pub type OAuthClient<
    HasAuthUrl = EndpointNotSet,
    HasDeviceAuthUrl = EndpointNotSet,
    HasIntrospectionUrl = EndpointNotSet,
    HasRevocationUrl = EndpointNotSet,
    HasTokenUrl = EndpointNotSet,
> = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    HasDeviceAuthUrl,
    HasIntrospectionUrl,
    HasRevocationUrl,
    HasTokenUrl,
>;

/// The `id_token` member of a token answer. `Debug` hides it (its claims
/// are personal data).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl IdTokenField {
    /// The compact JWT, if the answer carried one.
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }
}

impl fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenField")
            .field("id_token", &self.id_token.as_ref().map(|_| "[personal]"))
            .finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

/// Who may have issued the ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Issuer {
    /// One of these exact values (Google documents two:
    /// `https://accounts.google.com` and `accounts.google.com`).
    OneOf(Vec<String>),
    /// The tenant's own issuer, `{prefix}{tid}{suffix}` with the token's
    /// `tid` claim (the Microsoft identity platform v2:
    /// `https://login.microsoftonline.com/{tid}/v2.0`). The subject is then
    /// `oid`, which Microsoft documents as the stable id within a tenant.
    Tenant {
        /// Before the tenant id.
        prefix: String,
        /// After it.
        suffix: String,
    },
}

/// How a provider's ID tokens are checked and read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdTokenRule {
    /// The expected issuer.
    pub issuer: Issuer,
    /// Our client id: `aud` must contain it (and `azp`, if sent, be it).
    pub audience: String,
    /// How far a clock may be behind the issuer's: an ID token expired less
    /// than this long ago is still read. 300 seconds.
    pub leeway_secs: i64,
}

impl IdTokenRule {
    /// Google's: issuer `https://accounts.google.com` (or without the
    /// scheme), subject `sub`, the address the `email` claim only when
    /// `email_verified` is true (Google Identity, "OpenID Connect").
    pub fn google(client_id: impl Into<String>) -> Self {
        Self {
            issuer: Issuer::OneOf(vec![
                "https://accounts.google.com".to_owned(),
                "accounts.google.com".to_owned(),
            ]),
            audience: client_id.into(),
            leeway_secs: 300,
        }
    }

    /// The Microsoft identity platform's (v2 endpoints, any tenant):
    /// issuer `https://login.microsoftonline.com/{tid}/v2.0`, subject
    /// `oid`, tenant `tid`, address `email`, else `preferred_username`
    /// (Microsoft identity platform, "ID token claims reference").
    pub fn microsoft(client_id: impl Into<String>) -> Self {
        Self {
            issuer: Issuer::Tenant {
                prefix: "https://login.microsoftonline.com/".to_owned(),
                suffix: "/v2.0".to_owned(),
            },
            audience: client_id.into(),
            leeway_secs: 300,
        }
    }

    /// Reads the account from a compact ID token received from the token
    /// endpoint at `now`.
    ///
    /// # Errors
    ///
    /// [`SourceError::InvalidResponse`] for a token that is not a JWT with
    /// a JSON payload, from another issuer or for another client, expired,
    /// or without a subject. The message never holds a claim's value.
    pub fn account(
        &self,
        id_token: &str,
        now: jiff::Timestamp,
    ) -> Result<ConnectedAccount, SourceError> {
        let claims = Claims::decode(id_token)?;
        let tenant_issuer = match &self.issuer {
            Issuer::OneOf(allowed) => {
                if !allowed
                    .iter()
                    .any(|a| Some(a.as_str()) == claims.iss.as_deref())
                {
                    return Err(refused("is from another issuer"));
                }
                false
            }
            Issuer::Tenant { prefix, suffix } => {
                let tid = claims
                    .tid
                    .as_deref()
                    .ok_or_else(|| refused("has no tenant (tid)"))?;
                if claims.iss.as_deref() != Some(format!("{prefix}{tid}{suffix}").as_str()) {
                    return Err(refused("is from another issuer"));
                }
                true
            }
        };
        if !claims.aud.contains(&self.audience) {
            return Err(refused("is for another client (aud)"));
        }
        if claims
            .azp
            .as_deref()
            .is_some_and(|azp| azp != self.audience)
        {
            return Err(refused("was issued to another client (azp)"));
        }
        let exp = claims.exp.ok_or_else(|| refused("has no expiry (exp)"))?;
        if exp.saturating_add(self.leeway_secs) <= now.as_second() {
            return Err(refused("has expired"));
        }
        let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let account = if tenant_issuer {
            let subject = non_empty(claims.oid).ok_or_else(|| refused("has no oid"))?;
            let address = non_empty(claims.email).or_else(|| non_empty(claims.preferred_username));
            ConnectedAccount::new(subject, claims.tid, address)
        } else {
            let subject = non_empty(claims.sub).ok_or_else(|| refused("has no sub"))?;
            // An unverified address may be anyone's: never read by it.
            let address = non_empty(claims.email).filter(|_| claims.email_verified.is_true());
            ConnectedAccount::new(subject, None, address)
        };
        Ok(account)
    }
}

fn refused(why: &str) -> SourceError {
    SourceError::InvalidResponse {
        message: format!("the token endpoint's ID token {why}"),
    }
}

/// The claims read (OpenID Connect Core 1.0 §2 and the providers' own).
#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
    azp: Option<String>,
    exp: Option<i64>,
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Verified,
    oid: Option<String>,
    tid: Option<String>,
    preferred_username: Option<String>,
}

impl Claims {
    fn decode(id_token: &str) -> Result<Self, SourceError> {
        let mut parts = id_token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused("is not a compact JWT"));
        };
        let json = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| refused("payload is not base64url"))?;
        serde_json::from_slice(&json).map_err(|_| refused("payload is not the documented JSON"))
    }
}

/// `aud`: one string or an array of them (§2).
#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl Audience {
    fn contains(&self, client: &str) -> bool {
        match self {
            Self::One(a) => a == client,
            Self::Many(all) => all.iter().any(|a| a == client),
            Self::None => false,
        }
    }
}

/// `email_verified`: a boolean, or (as Google once sent it) a string.
#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Verified {
    Bool(bool),
    Text(String),
    #[default]
    Absent,
}

impl Verified {
    fn is_true(&self) -> bool {
        match self {
            Self::Bool(b) => *b,
            Self::Text(t) => t.eq_ignore_ascii_case("true"),
            Self::Absent => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let part = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(&serde_json::json!({"alg":"RS256","kid":"k"})),
            part(&claims)
        )
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    const MS_CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    fn google(extra: serde_json::Value) -> serde_json::Value {
        let mut base = serde_json::json!({
            "iss": "https://accounts.google.com",
            "aud": "client-1.apps.googleusercontent.com",
            "azp": "client-1.apps.googleusercontent.com",
            "sub": "110169484474386276334",
            "email": "theo.r@gmail.com",
            "email_verified": true,
            "iat": 1_799_999_000,
            "exp": 1_800_003_000,
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    }

    #[test]
    fn a_google_id_token_names_the_verified_account() {
        let rule = IdTokenRule::google("client-1.apps.googleusercontent.com");
        let a = rule
            .account(&jwt(google(serde_json::json!({}))), now())
            .unwrap();
        assert_eq!(a.subject, "110169484474386276334");
        assert_eq!(a.address.as_deref(), Some("theo.r@gmail.com"));
        assert_eq!(a.tenant, None);
        // The issuer without its scheme, and the old string form of
        // `email_verified`, as Google documents and once sent.
        let a = rule
            .account(
                &jwt(google(serde_json::json!({
                    "iss": "accounts.google.com", "email_verified": "true"
                }))),
                now(),
            )
            .unwrap();
        assert_eq!(a.address.as_deref(), Some("theo.r@gmail.com"));
        // An unverified address is not relied on; the subject still is.
        let a = rule
            .account(
                &jwt(google(serde_json::json!({"email_verified": false}))),
                now(),
            )
            .unwrap();
        assert_eq!(a.address, None);
        assert_eq!(a.subject, "110169484474386276334");
    }

    #[test]
    fn id_tokens_from_elsewhere_or_for_others_are_refused() {
        let rule = IdTokenRule::google("client-1.apps.googleusercontent.com");
        for (claims, why) in [
            (serde_json::json!({"iss": "https://evil.example"}), "issuer"),
            (serde_json::json!({"aud": "another-client"}), "aud"),
            (
                serde_json::json!({"aud": ["another", "client-1.apps.googleusercontent.com"], "azp": "another"}),
                "azp",
            ),
            (serde_json::json!({"exp": 1_799_999_000}), "expired"),
            (serde_json::json!({"sub": ""}), "sub"),
        ] {
            let e = rule.account(&jwt(google(claims)), now()).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
            assert!(!e.to_string().contains("theo.r"), "{e}");
        }
        // Expired within the leeway is still read (clock skew).
        assert!(
            rule.account(
                &jwt(google(serde_json::json!({"exp": 1_799_999_900}))),
                now()
            )
            .is_ok()
        );
        // Several audiences including ours, no azp: read.
        assert!(
            rule.account(
                &jwt(google(serde_json::json!({
                    "aud": ["client-1.apps.googleusercontent.com", "x"], "azp": null
                }))),
                now()
            )
            .is_ok()
        );
        for bad in ["", "a.b", "a.b.c.d", "a.!!!.c", "a.bm90IGpzb24.c"] {
            let e = rule.account(bad, now()).unwrap_err();
            assert_eq!(e.kind(), availability::SourceErrorKind::InvalidResponse);
        }
    }

    #[test]
    fn a_microsoft_id_token_names_tenant_oid_and_address() {
        let rule = IdTokenRule::microsoft("app-1");
        let claims = |tid: &str, extra: serde_json::Value| {
            let mut c = serde_json::json!({
                "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
                "aud": "app-1",
                "exp": 1_800_003_000,
                "tid": tid,
                "oid": "00000000-0000-0000-66f3-3332eca7ea81",
                "sub": "pairwise-not-stable-across-apps",
                "preferred_username": "theo.r@outlook.com",
            });
            if let (Some(b), Some(e)) = (c.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    b.insert(k.clone(), v.clone());
                }
            }
            c
        };
        let a = rule
            .account(&jwt(claims(MS_CONSUMER, serde_json::json!({}))), now())
            .unwrap();
        assert_eq!(a.subject, "00000000-0000-0000-66f3-3332eca7ea81");
        assert_eq!(a.tenant.as_deref(), Some(MS_CONSUMER));
        assert_eq!(a.address.as_deref(), Some("theo.r@outlook.com"));
        // The optional `email` claim wins over the sign-in name.
        let a = rule
            .account(
                &jwt(claims(
                    "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    serde_json::json!({"email": "theo@contoso.com"}),
                )),
                now(),
            )
            .unwrap();
        assert_eq!(a.address.as_deref(), Some("theo@contoso.com"));
        // The issuer must be the token's own tenant's.
        let mut other = claims(MS_CONSUMER, serde_json::json!({}));
        other["iss"] = "https://login.microsoftonline.com/another-tenant/v2.0".into();
        assert!(rule.account(&jwt(other), now()).is_err());
        // No oid: refused (the pairwise sub is no stable id across apps).
        let mut no_oid = claims(MS_CONSUMER, serde_json::json!({}));
        no_oid["oid"] = serde_json::Value::Null;
        assert!(
            rule.account(&jwt(no_oid), now())
                .unwrap_err()
                .to_string()
                .contains("oid")
        );
    }

    #[test]
    fn the_id_token_is_kept_from_a_token_answer_and_hidden_in_debug() {
        let answer: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","id_token":"h.p.s"}"#,
        )
        .unwrap();
        use oauth2::TokenResponse as _;
        assert_eq!(answer.extra_fields().id_token(), Some("h.p.s"));
        assert!(!format!("{answer:?}").contains("h.p.s"));
        let none: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        assert_eq!(none.extra_fields().id_token(), None);
        let _ = none.access_token();
    }
}
