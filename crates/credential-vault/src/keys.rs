//! Master keys and the key ring.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::hkdf;
use zeroize::Zeroizing;

/// The id of a master key, written into every record it seals.
///
/// Ids are chosen by the operator (for example 1, 2, 3 as keys are rotated)
/// and never reused for different key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}", self.0)
    }
}

/// 32 bytes of master key material with its id. Zeroized on drop; `Debug`
/// shows only the id.
///
/// Load keys with [`MasterKey::from_base64`], [`MasterKey::from_env`] or
/// [`MasterKey::from_file`]. Production code never generates a key; the
/// `dev-keys` feature adds [`MasterKey::create_dev_key_file`] for development.
pub struct MasterKey {
    id: KeyId,
    bytes: Zeroizing<[u8; Self::LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("bytes", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// Length of a master key in bytes (256 bits).
    pub const LEN: usize = 32;

    /// A key from raw bytes.
    pub fn from_bytes(id: KeyId, bytes: [u8; Self::LEN]) -> Self {
        Self {
            id,
            bytes: Zeroizing::new(bytes),
        }
    }

    /// A key from standard base64 (44 characters; surrounding whitespace is
    /// ignored, so a key file may end with a newline).
    ///
    /// # Errors
    /// [`KeyError::Base64`] or [`KeyError::WrongLength`]; neither shows the input.
    pub fn from_base64(id: KeyId, encoded: &str) -> Result<Self, KeyError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| KeyError::Base64 { id })?,
        );
        let bytes: [u8; Self::LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::WrongLength {
                    id,
                    len: decoded.len(),
                })?;
        Ok(Self::from_bytes(id, bytes))
    }

    /// A key from the base64 value of environment variable `var`.
    ///
    /// # Errors
    /// [`KeyError::MissingEnv`] when the variable is unset or not Unicode, and
    /// the errors of [`MasterKey::from_base64`].
    pub fn from_env(id: KeyId, var: &str) -> Result<Self, KeyError> {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| KeyError::MissingEnv {
            id,
            var: var.to_owned(),
        })?);
        Self::from_base64(id, &value)
    }

    /// A key from a file holding its base64 value.
    ///
    /// # Errors
    /// [`KeyError::Io`] when the file cannot be read, and the errors of
    /// [`MasterKey::from_base64`].
    pub fn from_file(id: KeyId, path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let content =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyError::Io {
                    id,
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::from_base64(id, &content)
    }

    /// **Development only.** Generates a random key and writes its base64 to a
    /// new file `path` with mode 0600 (on Unix), then returns it.
    ///
    /// Use it for local demos. In production, generate the key with your
    /// secret manager (`openssl rand -base64 32`) and load it with
    /// [`MasterKey::from_file`] or [`MasterKey::from_env`].
    ///
    /// # Errors
    /// [`KeyError::Io`] when the file exists already or cannot be written:
    /// an existing key is never overwritten.
    #[cfg(feature = "dev-keys")]
    pub fn create_dev_key_file(id: KeyId, path: impl AsRef<Path>) -> Result<Self, KeyError> {
        use ring::rand::SecureRandom as _;
        use std::io::Write as _;

        let path = path.as_ref();
        let io = |source| KeyError::Io {
            id,
            path: path.to_owned(),
            source,
        };
        let mut bytes = Zeroizing::new([0u8; Self::LEN]);
        ring::rand::SystemRandom::new()
            .fill(&mut bytes[..])
            .map_err(|_| {
                io(std::io::Error::other(
                    "system random number generator failed",
                ))
            })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        let encoded = Zeroizing::new(STANDARD.encode(&bytes[..]));
        file.write_all(encoded.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self::from_bytes(id, *bytes))
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// Errors loading master keys or assembling a key ring. None shows key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not valid standard base64.
    #[error("{id}: not valid base64")]
    Base64 {
        /// The key.
        id: KeyId,
    },
    /// The key does not decode to 32 bytes.
    #[error("{id}: decodes to {len} bytes, expected 32")]
    WrongLength {
        /// The key.
        id: KeyId,
        /// Decoded length.
        len: usize,
    },
    /// The environment variable is unset or not Unicode.
    #[error("{id}: environment variable {var} is not set")]
    MissingEnv {
        /// The key.
        id: KeyId,
        /// The variable's name.
        var: String,
    },
    /// The key file cannot be read (or, in dev mode, created).
    #[error("{id}: cannot use key file {path}")]
    Io {
        /// The key.
        id: KeyId,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Two keys with one id.
    #[error("{id} is in the key ring twice")]
    DuplicateId {
        /// The repeated id.
        id: KeyId,
    },
    /// The id named active (or to activate or retire) is not in the ring.
    #[error("{id} is not in the key ring")]
    NotInRing {
        /// The missing id.
        id: KeyId,
    },
    /// The active key cannot be retired.
    #[error("{id} is the active key; activate another key before retiring it")]
    RetireActive {
        /// The active key.
        id: KeyId,
    },
}

/// A data key derived from a master key: the AEAD key and its check value.
pub(crate) struct DataKey {
    pub(crate) aead: LessSafeKey,
    pub(crate) check: [u8; CHECK_LEN],
}

/// Length of the key check value in each record header.
pub(crate) const CHECK_LEN: usize = 4;

/// HKDF salt: fixed and public, for domain separation only (RFC 5869 §3.1).
const HKDF_SALT: &[u8] = b"scheduling-assistant/credential-vault/v1";

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl DataKey {
    /// Derives the AES-256-GCM key and a 4-byte key check value from the
    /// master key with HKDF-SHA256, each under its own `info` label, so the
    /// check value reveals nothing about the AEAD key.
    fn derive(master: &MasterKey) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&master.bytes[..]);
        let id = master.id.0.to_be_bytes();
        let aead_info: [&[u8]; 2] = [b"aes-256-gcm", &id];
        let check_info: [&[u8]; 2] = [b"key-check", &id];
        // Both lengths are valid for HKDF-SHA256 (at most 255 * 32 bytes), so
        // `expand` and `fill` cannot fail here.
        let aead = prk
            .expand(&aead_info, &AES_256_GCM)
            .map(UnboundKey::from)
            .map(LessSafeKey::new);
        let mut check = [0u8; CHECK_LEN];
        let filled = prk
            .expand(&check_info, Len(CHECK_LEN))
            .and_then(|okm| okm.fill(&mut check));
        match (aead, filled) {
            (Ok(aead), Ok(())) => Self { aead, check },
            _ => unreachable!("HKDF-SHA256 output lengths 32 and 4 are always valid"),
        }
    }
}

/// Master keys by id: one active key seals, every key opens.
///
/// # Example: rotating to a new key
/// ```
/// use credential_vault::{KeyId, KeyRing, MasterKey};
///
/// let old = MasterKey::from_base64(KeyId(1), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// let new = MasterKey::from_base64(KeyId(2), "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")?;
/// // New records are sealed with key 2; records sealed with key 1 still open.
/// let ring = KeyRing::new(new).with_key(old)?;
/// assert_eq!(ring.active(), KeyId(2));
/// assert_eq!(ring.ids(), vec![KeyId(1), KeyId(2)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyRing {
    keys: BTreeMap<KeyId, DataKey>,
    active: KeyId,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids())
            .field("active", &self.active)
            .finish()
    }
}

impl KeyRing {
    /// A ring holding `active`, which seals new records. The master key
    /// bytes are dropped (and zeroized) once the data key is derived.
    pub fn new(active: MasterKey) -> Self {
        let id = active.id;
        let mut keys = BTreeMap::new();
        keys.insert(id, DataKey::derive(&active));
        Self { keys, active: id }
    }

    /// Adds a key that opens records (it does not become active).
    ///
    /// # Errors
    /// [`KeyError::DuplicateId`] when the ring already holds a key with this id.
    pub fn with_key(mut self, key: MasterKey) -> Result<Self, KeyError> {
        self.add(key)?;
        Ok(self)
    }

    /// Adds a key that opens records (it does not become active).
    ///
    /// # Errors
    /// [`KeyError::DuplicateId`] when the ring already holds a key with this id.
    pub fn add(&mut self, key: MasterKey) -> Result<(), KeyError> {
        if self.keys.contains_key(&key.id) {
            return Err(KeyError::DuplicateId { id: key.id });
        }
        self.keys.insert(key.id, DataKey::derive(&key));
        Ok(())
    }

    /// Makes `id` the key that seals new records.
    ///
    /// # Errors
    /// [`KeyError::NotInRing`] when no key has this id.
    pub fn activate(&mut self, id: KeyId) -> Result<(), KeyError> {
        if !self.keys.contains_key(&id) {
            return Err(KeyError::NotInRing { id });
        }
        self.active = id;
        Ok(())
    }

    /// Removes a key from the ring. Records it sealed can no longer be
    /// opened: use [`Vault::retire_key`](crate::Vault::retire_key), which
    /// first checks that no stored record uses it.
    ///
    /// # Errors
    /// [`KeyError::RetireActive`] for the active key, [`KeyError::NotInRing`]
    /// for an unknown id.
    pub fn remove(&mut self, id: KeyId) -> Result<(), KeyError> {
        if id == self.active {
            return Err(KeyError::RetireActive { id });
        }
        self.keys
            .remove(&id)
            .map(drop)
            .ok_or(KeyError::NotInRing { id })
    }

    /// The id of the sealing key.
    pub fn active(&self) -> KeyId {
        self.active
    }

    /// Every key id, ascending.
    pub fn ids(&self) -> Vec<KeyId> {
        self.keys.keys().copied().collect()
    }

    /// `true` when the ring holds a key with this id.
    pub fn contains(&self, id: KeyId) -> bool {
        self.keys.contains_key(&id)
    }

    pub(crate) fn active_key(&self) -> (KeyId, &DataKey) {
        match self.keys.get(&self.active) {
            Some(key) => (self.active, key),
            // `activate` and `remove` keep the active id in the map.
            None => unreachable!("the active key is always in the ring"),
        }
    }

    pub(crate) fn get(&self, id: KeyId) -> Option<&DataKey> {
        self.keys.get(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn base64_keys_must_be_32_bytes() {
        assert!(MasterKey::from_base64(KeyId(1), K1).is_ok());
        assert!(MasterKey::from_base64(KeyId(1), &format!("  {K1}\n")).is_ok());
        assert!(matches!(
            MasterKey::from_base64(KeyId(1), "AAEC"),
            Err(KeyError::WrongLength { len: 3, .. })
        ));
        assert!(matches!(
            MasterKey::from_base64(KeyId(1), "not base64!"),
            Err(KeyError::Base64 { .. })
        ));
    }

    #[test]
    fn debug_hides_key_material() {
        let key = MasterKey::from_base64(KeyId(7), K1).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("KeyId(7)") && shown.contains("[redacted]"));
        assert!(!shown.contains("AAEC") && !shown.contains("0, 1, 2"));
        let ring = KeyRing::new(key);
        assert_eq!(
            format!("{ring:?}"),
            "KeyRing { ids: [KeyId(7)], active: KeyId(7) }"
        );
    }

    #[test]
    fn ring_rules() {
        let mut ring = KeyRing::new(MasterKey::from_bytes(KeyId(1), [1; 32]));
        assert!(matches!(
            ring.add(MasterKey::from_bytes(KeyId(1), [2; 32])),
            Err(KeyError::DuplicateId { .. })
        ));
        ring.add(MasterKey::from_bytes(KeyId(2), [2; 32])).unwrap();
        assert!(matches!(
            ring.remove(KeyId(1)),
            Err(KeyError::RetireActive { .. })
        ));
        assert!(matches!(
            ring.activate(KeyId(3)),
            Err(KeyError::NotInRing { .. })
        ));
        ring.activate(KeyId(2)).unwrap();
        ring.remove(KeyId(1)).unwrap();
        assert_eq!(ring.ids(), vec![KeyId(2)]);
    }

    #[test]
    fn same_bytes_under_other_ids_give_other_check_values() {
        let a = DataKey::derive(&MasterKey::from_bytes(KeyId(1), [9; 32]));
        let b = DataKey::derive(&MasterKey::from_bytes(KeyId(2), [9; 32]));
        assert_ne!(a.check, b.check);
    }

    #[test]
    fn missing_env_is_a_typed_error() {
        assert!(matches!(
            MasterKey::from_env(KeyId(1), "CREDENTIAL_VAULT_TEST_UNSET_VARIABLE"),
            Err(KeyError::MissingEnv { .. })
        ));
    }

    #[cfg(all(feature = "dev-keys", unix))]
    #[test]
    fn dev_key_file_is_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.key");
        let created = MasterKey::create_dev_key_file(KeyId(1), &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = MasterKey::from_file(KeyId(1), &path).unwrap();
        assert_eq!(created.bytes[..], loaded.bytes[..]);
        assert!(matches!(
            MasterKey::create_dev_key_file(KeyId(1), &path),
            Err(KeyError::Io { .. })
        ));
    }
}
