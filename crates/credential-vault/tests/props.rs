use credential_vault::{Credential, OAuthTokens, SecretKind};
use proptest::prelude::*;

use crate::common::{owner, ring, samples};

/// Every bit of one record, exhaustively: no flip opens.
#[test]
fn every_single_bit_flip_of_a_record_is_detected() {
    let ring = ring(1, &[2]);
    let who = owner("alice");
    for credential in samples() {
        let (_, sealed) = ring.seal(&who, &credential).unwrap();
        for bit in 0..sealed.len() * 8 {
            let mut flipped = sealed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                ring.open(&who, credential.kind(), &flipped).is_err(),
                "flipping bit {bit} of a {} record went unnoticed",
                credential.kind()
            );
        }
    }
}

fn arbitrary_tokens() -> impl Strategy<Value = Credential> {
    (
        "[ -~]{0,300}",
        proptest::option::of("[ -~]{1,200}"),
        proptest::collection::vec("[a-zA-Z.:/_]{1,40}", 0..4),
        any::<bool>(),
    )
        .prop_map(|(access, refresh, scopes, google)| {
            let mut tokens = OAuthTokens::new(access.into()).with_scopes(scopes);
            if let Some(refresh) = refresh {
                tokens = tokens.with_refresh_token(refresh.into());
            }
            if google {
                Credential::GoogleOauth(tokens)
            } else {
                Credential::MicrosoftOauth(tokens)
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any credential round-trips, and any single-bit flip anywhere in its
    /// record is detected.
    #[test]
    fn round_trip_and_any_bit_flip(credential in arbitrary_tokens(), bit in any::<prop::sample::Index>(), who in "[a-z0-9-]{1,40}") {
        let ring = ring(3, &[]);
        let who = owner(&who);
        let (_, sealed) = ring.seal(&who, &credential).unwrap();
        prop_assert_eq!(&ring.open(&who, credential.kind(), &sealed).unwrap(), &credential);
        let bit = bit.index(sealed.len() * 8);
        let mut flipped = sealed;
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(ring.open(&who, credential.kind(), &flipped).is_err());
    }

    /// Arbitrary bytes never open and never panic.
    #[test]
    fn garbage_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let ring = ring(1, &[]);
        prop_assert!(ring.open(&owner("alice"), SecretKind::GoogleOauth, &bytes).is_err());
    }
}
