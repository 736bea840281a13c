//! RS256 JSON Web Tokens (RFC 7515 compact form, RFC 7518 §3.3) signed
//! with ring, from a PKCS#8 RSA key in DER or PEM: Google's
//! service-account assertion and Microsoft's certificate client assertion
//! (both RFC 7523). ring's types stay inside.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// Why a private key was refused. The message never holds key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rs256KeyError {
    /// No `-----BEGIN PRIVATE KEY-----` block with base64 inside.
    #[error("the key is not a PKCS#8 PEM")]
    NotPem,
    /// The DER is not a PKCS#8 RSA key ring accepts.
    #[error("the key is not a PKCS#8 RSA key")]
    NotRsa,
}

/// Signing failed (ring refused; not expected with a key it parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("could not sign the JWT")]
pub struct SignError;

/// An RSA private key that signs JWTs with RS256. `Debug` shows no key
/// material.
pub struct Rs256Key {
    key: RsaKeyPair,
}

impl fmt::Debug for Rs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rs256Key([redacted])")
    }
}

impl Rs256Key {
    /// From a PKCS#8 RSA private key in DER.
    ///
    /// # Errors
    ///
    /// [`Rs256KeyError::NotRsa`] if it is not one.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Rs256KeyError> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|_| Rs256KeyError::NotRsa)?;
        Ok(Self { key })
    }

    /// From a PKCS#8 RSA private key in PEM (`-----BEGIN PRIVATE
    /// KEY-----` ... `-----END PRIVATE KEY-----`; text around it and
    /// whitespace inside are ignored).
    ///
    /// # Errors
    ///
    /// [`Rs256KeyError::NotPem`] without such a block,
    /// [`Rs256KeyError::NotRsa`] if its DER is not an RSA key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Rs256KeyError> {
        let der = pem_body(pem).ok_or(Rs256KeyError::NotPem)?;
        Self::from_pkcs8_der(&der)
    }

    /// The compact JWT `header.claims.signature`: `header` gets `alg`
    /// `RS256` and `typ` `JWT` besides the fields it has (`kid`, `x5t`;
    /// pass `{}` for none), serialized as JSON like `claims`.
    ///
    /// # Errors
    ///
    /// [`SignError`] if ring fails to sign.
    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<String, SignError> {
        let mut fields = serde_json::Map::new();
        fields.insert("alg".to_owned(), "RS256".into());
        fields.insert("typ".to_owned(), "JWT".into());
        if let Some(extra) = header.as_object() {
            fields.extend(extra.clone());
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::Value::Object(fields).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SignError)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER inside `-----BEGIN PRIVATE KEY-----` ... `-----END ...-----`.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    let start = pem.find(BEGIN)? + BEGIN.len();
    let end = pem[start..].find("-----END PRIVATE KEY-----")? + start;
    let b64: String = pem[start..end].split_whitespace().collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_named_without_their_material() {
        let not_pem = Rs256Key::from_pkcs8_pem("AAAA").unwrap_err();
        assert_eq!(not_pem, Rs256KeyError::NotPem);
        let not_b64 = "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----";
        assert_eq!(
            Rs256Key::from_pkcs8_pem(not_b64).unwrap_err(),
            Rs256KeyError::NotPem
        );
        let not_rsa = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        let err = Rs256Key::from_pkcs8_pem(not_rsa).unwrap_err();
        assert_eq!(err, Rs256KeyError::NotRsa);
        assert!(!err.to_string().contains("AAAA"));
    }
}
