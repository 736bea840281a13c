use std::sync::Arc;

use credential_vault::{
    Credential, Expect, KeyId, KeyRing, MAX_SEALED_LEN, MemoryStore, OAuthTokens, RecordKey,
    SecretKind, SecretStore, Vault, VaultError, Write,
};

use crate::common::{assert_no_secret, owner, ring, samples};

fn memory() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new())
}

#[tokio::test]
async fn every_kind_round_trips_and_debug_hides_it() {
    let vault = Vault::new(memory(), ring(1, &[]));
    let who = owner("p-1");
    for credential in samples() {
        let version = vault.insert(&who, &credential).await.unwrap();
        let read = vault.get(&who, credential.kind()).await.unwrap().unwrap();
        assert_eq!(read.value, credential);
        assert_eq!(read.version, version);
        assert_no_secret(&format!("{read:?}"));
    }
    assert_eq!(vault.kinds(&who).await.unwrap(), SecretKind::ALL.to_vec());
    assert_eq!(vault.owners().await.unwrap(), vec![who.clone()]);
    assert!(vault.delete(&who, SecretKind::GoogleOauth).await.unwrap());
    assert_eq!(
        vault.get(&who, SecretKind::GoogleOauth).await.unwrap(),
        None
    );
    assert_eq!(
        vault.delete_owner(&who).await.unwrap(),
        SecretKind::ALL.len() as u64 - 1
    );
}

#[tokio::test]
async fn the_store_never_sees_plaintext() {
    let store = memory();
    let vault = Vault::new(store.clone(), ring(1, &[]));
    let who = owner("p-1");
    for credential in samples() {
        vault.insert(&who, &credential).await.unwrap();
        let record = store
            .get(&RecordKey {
                owner: who.clone(),
                kind: credential.kind(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_no_secret(&String::from_utf8_lossy(&record.sealed));
        assert_no_secret(&format!("{record:?}"));
    }
}

/// Stores `credential` for `owner`, lets `edit` change the stored record
/// (as an attacker with database access would), and returns what opening
/// it gives.
async fn open_after(
    seal_with: KeyRing,
    open_with: KeyRing,
    edit: impl FnOnce(&mut RecordKey, &mut Vec<u8>),
) -> VaultError {
    let store = memory();
    let sealer = Vault::new(store.clone(), seal_with);
    let who = owner("alice");
    let credential = samples().remove(0);
    sealer.insert(&who, &credential).await.unwrap();
    let key = RecordKey {
        owner: who,
        kind: credential.kind(),
    };
    let record = store.get(&key).await.unwrap().unwrap();
    let (mut new_key, mut sealed) = (key.clone(), record.sealed);
    edit(&mut new_key, &mut sealed);
    store.delete(&key, Expect::Any).await.unwrap();
    store
        .put(Write {
            key: new_key.clone(),
            key_id: record.key_id,
            sealed,
            expect: Expect::Any,
        })
        .await
        .unwrap();
    let opener = Vault::new(store, open_with);
    let error = opener.get(&new_key.owner, new_key.kind).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert_no_secret(&shown);
    assert!(
        shown.contains(new_key.owner.as_str()),
        "{shown} does not name the owner"
    );
    assert!(
        shown.contains(new_key.kind.as_str()),
        "{shown} does not name the kind"
    );
    error
}

#[tokio::test]
async fn wrong_key_material_under_the_right_id() {
    let impostor = KeyRing::new(credential_vault::MasterKey::from_bytes(
        KeyId(1),
        [0xee; 32],
    ));
    let error = open_after(ring(1, &[]), impostor, |_, _| {}).await;
    assert!(
        matches!(
            error,
            VaultError::WrongKey {
                key_id: KeyId(1),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn unknown_key_id() {
    let error = open_after(ring(1, &[]), ring(2, &[3]), |_, _| {}).await;
    assert!(
        matches!(
            error,
            VaultError::UnknownKey {
                key_id: KeyId(1),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn tampered_ciphertext() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| {
        let last = sealed.len() - 20;
        sealed[last] ^= 0x01;
    })
    .await;
    assert!(matches!(error, VaultError::Tampered { .. }), "{error:?}");
}

#[tokio::test]
async fn tampered_tag() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| {
        let last = sealed.len() - 1;
        sealed[last] ^= 0x80;
    })
    .await;
    assert!(matches!(error, VaultError::Tampered { .. }), "{error:?}");
}

#[tokio::test]
async fn relabelled_key_id_fails() {
    // Rewriting the header's key id to another key in the ring: the check
    // value no longer matches that key.
    let error = open_after(ring(1, &[2]), ring(1, &[2]), |_, sealed| {
        sealed[1..5].copy_from_slice(&2u32.to_be_bytes());
    })
    .await;
    assert!(
        matches!(
            error,
            VaultError::WrongKey {
                key_id: KeyId(2),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn copied_to_another_owner() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |key, _| {
        key.owner = owner("mallory")
    })
    .await;
    match error {
        VaultError::WrongOwnerOrKind {
            owner,
            sealed_owner,
            sealed_kind,
            ..
        } => {
            assert_eq!(
                (owner.as_str(), sealed_owner.as_str()),
                ("mallory", "alice")
            );
            assert_eq!(sealed_kind, Some(SecretKind::GoogleOauth));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn copied_to_another_kind() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |key, _| {
        key.kind = SecretKind::MicrosoftOauth;
    })
    .await;
    assert!(
        matches!(
            error,
            VaultError::WrongOwnerOrKind {
                kind: SecretKind::MicrosoftOauth,
                sealed_kind: Some(SecretKind::GoogleOauth),
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn header_owner_rewritten_to_match_fails_authentication() {
    // An attacker who also rewrites the owner in the header (same length)
    // gets past the placement check but not the AEAD.
    let error = open_after(ring(1, &[]), ring(1, &[]), |key, sealed| {
        key.owner = owner("alicf");
        let at = sealed.windows(5).position(|w| w == b"alice").unwrap();
        sealed[at..at + 5].copy_from_slice(b"alicf");
    })
    .await;
    assert!(matches!(error, VaultError::Tampered { .. }), "{error:?}");
}

#[tokio::test]
async fn truncated_record() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| {
        sealed.truncate(sealed.len() - 3);
    })
    .await;
    assert!(matches!(error, VaultError::Truncated { .. }), "{error:?}");
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| sealed.truncate(6)).await;
    assert!(
        matches!(error, VaultError::Truncated { len: 6, .. }),
        "{error:?}"
    );
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| sealed.clear()).await;
    assert!(
        matches!(error, VaultError::Truncated { len: 0, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn unsupported_format_version() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| sealed[0] = 2).await;
    assert!(
        matches!(error, VaultError::UnsupportedVersion { version: 2, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn oversized_record_is_refused_before_decrypting() {
    let error = open_after(ring(1, &[]), ring(1, &[]), |_, sealed| {
        sealed.resize(MAX_SEALED_LEN + 1, 0);
    })
    .await;
    assert!(
        matches!(error, VaultError::TooLarge { len, max, .. } if len == MAX_SEALED_LEN + 1 && max == MAX_SEALED_LEN),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_credential_too_large_to_seal_is_refused() {
    let vault = Vault::new(memory(), ring(1, &[]));
    let huge = Credential::GoogleOauth(OAuthTokens::new("x".repeat(MAX_SEALED_LEN).into()));
    let error = vault.insert(&owner("p"), &huge).await.unwrap_err();
    assert!(
        matches!(error, VaultError::CredentialTooLarge { .. }),
        "{error:?}"
    );
    assert!(vault.owners().await.unwrap().is_empty());
}

#[tokio::test]
async fn keyring_seal_and_open_work_without_a_store() {
    let ring = ring(4, &[]);
    let who = owner("p");
    for credential in samples() {
        let (key_id, sealed) = ring.seal(&who, &credential).unwrap();
        assert_eq!(key_id, KeyId(4));
        assert_eq!(
            ring.open(&who, credential.kind(), &sealed).unwrap(),
            credential
        );
    }
}
