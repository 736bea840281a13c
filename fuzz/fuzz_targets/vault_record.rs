//! Sealed vault records from a store are outside input: opening arbitrary
//! bytes must return a typed error, never panic, and never succeed unless
//! the bytes are a record this key ring sealed. A sealed record of the
//! fuzzed secret must round-trip, and any one-byte change must be refused.
#![no_main]

use credential_vault::{Credential, KeyId, KeyRing, MasterKey, OAuthTokens, OwnerId, SecretKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32]))
        .with_key(MasterKey::from_bytes(KeyId(2), [9; 32]))
        .expect("distinct ids");
    let owner = OwnerId::new("fuzz-owner").expect("valid");
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let kind = SecretKind::ALL[usize::from(selector) % SecretKind::ALL.len()];

    // 1. Arbitrary bytes never open.
    assert!(ring.open(&owner, kind, rest).is_err());

    // 2. The bytes as a secret round-trip, and a changed byte is refused.
    let secret = String::from_utf8_lossy(rest).into_owned();
    let credential = Credential::GoogleOauth(OAuthTokens::new(secret.into()));
    let (_, sealed) = ring.seal(&owner, &credential).expect("seals");
    let opened = ring
        .open(&owner, SecretKind::GoogleOauth, &sealed)
        .expect("opens");
    assert_eq!(opened, credential);
    let at = usize::from(selector) % sealed.len();
    let mut changed = sealed;
    changed[at] ^= 1 | selector;
    assert!(
        ring.open(&owner, SecretKind::GoogleOauth, &changed)
            .is_err()
    );
});
