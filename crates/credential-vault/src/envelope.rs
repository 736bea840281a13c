//! The sealed record format (version 1) and AES-256-GCM seal/open.
//!
//! ```text
//! offset      size  field
//! 0           1     format version (1)
//! 1           4     key id, big-endian
//! 5           4     key check value (HKDF of the master key, "key-check")
//! 9           1     secret kind code
//! 10          1     owner id length n (1..=255)
//! 11          n     owner id, UTF-8
//! 11+n        4     ciphertext length m, big-endian
//! 15+n        12    nonce (random)
//! 27+n        m     ciphertext
//! 27+n+m      16    GCM tag
//! ```
//!
//! The associated data is the whole header (bytes `0..15+n`), so the key id,
//! owner, kind and format version are all authenticated: a record copied to
//! another owner or kind, or relabelled with another key id, fails to open.
//! Owner and kind are in the header (not only in the associated data) so a
//! misplaced record is reported as such rather than as tampering, and the
//! length is there so a cut-short record is reported as truncated.

use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::keys::{CHECK_LEN, KeyId, KeyRing};
use crate::secret::{OwnerId, SecretKind};

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Longest sealed record accepted (64 KiB), checked before any decryption.
pub const MAX_SEALED_LEN: usize = 64 * 1024;

const TAG_LEN: usize = 16;
const FIXED_HEADER: usize = 1 + 4 + CHECK_LEN + 1 + 1;
const LEN_FIELD: usize = 4;

/// Why a record did not open (the vault adds owner and kind).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    TooLarge {
        len: usize,
    },
    Truncated {
        len: usize,
    },
    UnsupportedVersion {
        version: u8,
    },
    UnknownKey {
        key_id: KeyId,
    },
    WrongKey {
        key_id: KeyId,
    },
    Misplaced {
        owner: String,
        kind: Option<SecretKind>,
    },
    Tampered,
}

/// Seals `plaintext` for `owner`/`kind` with the ring's active key.
pub(crate) fn seal(
    ring: &KeyRing,
    rng: &SystemRandom,
    owner: &OwnerId,
    kind: SecretKind,
    plaintext: &[u8],
) -> Result<(KeyId, Vec<u8>), ring::error::Unspecified> {
    let (key_id, key) = ring.active_key();
    let owner_bytes = owner.as_str().as_bytes();
    let header_len = FIXED_HEADER + owner_bytes.len() + LEN_FIELD;
    let body_len = u32::try_from(plaintext.len()).map_err(|_| ring::error::Unspecified)?;
    let mut out = Vec::with_capacity(header_len + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&key_id.0.to_be_bytes());
    out.extend_from_slice(&key.check);
    out.push(kind.code());
    // OwnerId guarantees 1..=255 bytes.
    out.push(u8::try_from(owner_bytes.len()).map_err(|_| ring::error::Unspecified)?);
    out.extend_from_slice(owner_bytes);
    out.extend_from_slice(&body_len.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let (header, rest) = out.split_at_mut(header_len);
    let (_, body) = rest.split_at_mut(NONCE_LEN);
    let tag = key.aead.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&*header),
        body,
    )?;
    out.extend_from_slice(tag.as_ref());
    Ok((key_id, out))
}

/// Reads the key id of a sealed record without opening it.
pub(crate) fn key_id_of(sealed: &[u8]) -> Option<KeyId> {
    let bytes: [u8; 4] = sealed.get(1..5)?.try_into().ok()?;
    Some(KeyId(u32::from_be_bytes(bytes)))
}

/// Opens a record expected to belong to `owner`/`kind`; the plaintext
/// zeroizes on drop.
pub(crate) fn open(
    ring: &KeyRing,
    owner: &OwnerId,
    kind: SecretKind,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    let len = sealed.len();
    if len > MAX_SEALED_LEN {
        return Err(OpenFailure::TooLarge { len });
    }
    let Some(&version) = sealed.first() else {
        return Err(OpenFailure::Truncated { len });
    };
    if version != FORMAT_VERSION {
        return Err(OpenFailure::UnsupportedVersion { version });
    }
    if len < FIXED_HEADER {
        return Err(OpenFailure::Truncated { len });
    }
    let owner_len = usize::from(sealed[FIXED_HEADER - 1]);
    let header_len = FIXED_HEADER + owner_len + LEN_FIELD;
    if len < header_len {
        return Err(OpenFailure::Truncated { len });
    }
    let declared: [u8; LEN_FIELD] = sealed[header_len - LEN_FIELD..header_len]
        .try_into()
        .map_err(|_| OpenFailure::Truncated { len })?;
    let declared = usize::try_from(u32::from_be_bytes(declared)).unwrap_or(usize::MAX);
    let expected = declared.saturating_add(header_len + NONCE_LEN + TAG_LEN);
    if len < expected {
        return Err(OpenFailure::Truncated { len });
    }
    if len > expected || owner_len == 0 {
        // Trailing bytes or an impossible header: not something we wrote.
        return Err(OpenFailure::Tampered);
    }
    let key_id = key_id_of(sealed).ok_or(OpenFailure::Truncated { len })?;
    let (header, rest) = sealed.split_at(header_len);
    let sealed_owner = &header[FIXED_HEADER..FIXED_HEADER + owner_len];
    let sealed_kind = SecretKind::from_code(header[FIXED_HEADER - 2]);
    if sealed_owner != owner.as_str().as_bytes() || sealed_kind != Some(kind) {
        return Err(OpenFailure::Misplaced {
            owner: String::from_utf8_lossy(sealed_owner).into_owned(),
            kind: sealed_kind,
        });
    }
    let key = ring.get(key_id).ok_or(OpenFailure::UnknownKey { key_id })?;
    // Constant-time comparison of the key check value (rustls' ticketer
    // compares its key name the same way).
    let check = &header[5..5 + CHECK_LEN];
    let differs = check
        .iter()
        .zip(key.check)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if differs != 0 {
        return Err(OpenFailure::WrongKey { key_id });
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenFailure::Tampered)?;
    let mut buffer = Zeroizing::new(body.to_vec());
    let plaintext_len = key
        .aead
        .open_in_place(nonce, Aad::from(header), &mut buffer[..])
        .map_err(|_| OpenFailure::Tampered)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;

    fn ring() -> KeyRing {
        KeyRing::new(MasterKey::from_bytes(KeyId(3), [7; 32]))
    }

    fn owner(id: &str) -> OwnerId {
        OwnerId::new(id).unwrap()
    }

    #[test]
    fn layout_matches_the_documented_offsets() {
        let rng = SystemRandom::new();
        let (key_id, sealed) = seal(
            &ring(),
            &rng,
            &owner("p1"),
            SecretKind::GoogleOauth,
            b"hello",
        )
        .unwrap();
        assert_eq!(key_id, KeyId(3));
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(&sealed[1..5], &3u32.to_be_bytes());
        assert_eq!(sealed[9], SecretKind::GoogleOauth.code());
        assert_eq!(sealed[10], 2);
        assert_eq!(&sealed[11..13], b"p1");
        assert_eq!(&sealed[13..17], &5u32.to_be_bytes());
        assert_eq!(sealed.len(), 17 + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(key_id_of(&sealed), Some(KeyId(3)));
        let opened = open(&ring(), &owner("p1"), SecretKind::GoogleOauth, &sealed).unwrap();
        assert_eq!(&opened[..], b"hello");
    }

    #[test]
    fn nonces_are_fresh_per_seal() {
        let rng = SystemRandom::new();
        let a = seal(&ring(), &rng, &owner("p"), SecretKind::GoogleOauth, b"x").unwrap();
        let b = seal(&ring(), &rng, &owner("p"), SecretKind::GoogleOauth, b"x").unwrap();
        assert_ne!(a.1, b.1);
    }

    #[test]
    fn every_prefix_is_rejected_without_panicking() {
        let rng = SystemRandom::new();
        let (_, sealed) =
            seal(&ring(), &rng, &owner("p"), SecretKind::GoogleOauth, b"xyz").unwrap();
        for cut in 1..sealed.len() {
            let result = open(
                &ring(),
                &owner("p"),
                SecretKind::GoogleOauth,
                &sealed[..cut],
            );
            assert_eq!(
                result,
                Err(OpenFailure::Truncated { len: cut }),
                "prefix of {cut} bytes"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            open(&ring(), &owner("p"), SecretKind::GoogleOauth, &longer),
            Err(OpenFailure::Tampered)
        );
    }
}
