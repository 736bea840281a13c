//! The vault behind the providers' credential traits: tokens and
//! app-specific passwords round-trip, Microsoft's rotated refresh token is
//! stored by compare-and-set (a stale version is refused, never a blind
//! overwrite), and a refresh through graph-provider lands in the vault.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::sync::Arc;

use availability::{AccountId, FixedClock, TokenSource};
use caldav_provider::CalDavLogins;
use credential_vault::{
    AppPassword, Credential, Expect, KeyId, KeyRing, MasterKey, MemoryStore, OAuthTokens, OwnerId,
    SecretKind, SecretString, Vault,
};
use graph_provider::{AuthConfig, GraphOAuth, Tenant, UserTokens, VersionedTokenStore};
use scheduling_assistant::{VaultCalDavLogins, VaultTokens};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn vault() -> Arc<Vault> {
    Arc::new(Vault::new(
        Arc::new(MemoryStore::new()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [9; 32])),
    ))
}

fn secret(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

#[tokio::test]
async fn google_tokens_round_trip_and_unknown_accounts_need_connecting() {
    let store = VaultTokens::google(vault());
    let ana = AccountId::new("ana@example.org");
    let err = google_provider::TokenStore::load(&store, &ana)
        .await
        .unwrap_err();
    assert!(err.needs_reconnect());
    let tokens = OAuthTokens::new(secret("ya29.a")).with_refresh_token(secret("1//r"));
    google_provider::TokenStore::save(&store, &ana, &tokens)
        .await
        .unwrap();
    assert_eq!(
        google_provider::TokenStore::load(&store, &ana)
            .await
            .unwrap(),
        tokens
    );
}

#[tokio::test]
async fn microsoft_tokens_are_replaced_only_against_the_version_read() {
    let vault = vault();
    let ana = AccountId::new("ana@contoso.com");
    vault
        .put(
            &OwnerId::new("ana@contoso.com").unwrap(),
            &Credential::MicrosoftOauth(
                OAuthTokens::new(secret("eyJ.1")).with_refresh_token(secret("M.1")),
            ),
            Expect::Absent,
        )
        .await
        .unwrap();
    let store = VaultTokens::microsoft(vault.clone());
    let (tokens, version) = store.load(&ana).await.unwrap();
    assert_eq!(tokens.access_token.secret(), "eyJ.1");
    let next = OAuthTokens::new(secret("eyJ.2")).with_refresh_token(secret("M.2"));
    assert!(store.replace(&ana, &next, version).await.unwrap());
    // The same old version again: someone else stored first.
    let stale = OAuthTokens::new(secret("eyJ.stale")).with_refresh_token(secret("M.stale"));
    assert!(!store.replace(&ana, &stale, version).await.unwrap());
    let (now, _) = store.load(&ana).await.unwrap();
    assert_eq!(now.refresh_token.unwrap().secret(), "M.2");
}

/// graph-provider's refresh over the vault: the rotated refresh token is in
/// the vault before the access token is handed out.
#[tokio::test]
async fn a_graph_refresh_stores_the_rotated_token_in_the_vault() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("refresh_token=M.old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599,
            "access_token": "eyJ.new", "refresh_token": "M.rotated"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vault = vault();
    vault
        .put(
            &OwnerId::new("ana@contoso.com").unwrap(),
            &Credential::MicrosoftOauth(
                OAuthTokens::new(secret("eyJ.old"))
                    .with_expires_at("2025-03-03T07:00:00Z".parse().unwrap())
                    .with_refresh_token(secret("M.old")),
            ),
            Expect::Absent,
        )
        .await
        .unwrap();
    let oauth =
        GraphOAuth::new(AuthConfig::new("client", Tenant::common()).authority(server.uri()))
            .unwrap();
    let tokens = UserTokens::with_clock(
        Arc::new(oauth),
        Arc::new(VaultTokens::microsoft(vault.clone())),
        Arc::new(FixedClock::new("2025-03-03T08:00:00Z".parse().unwrap())),
    );
    let token = tokens
        .token(&AccountId::new("ana@contoso.com"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "eyJ.new");
    let stored = vault
        .get(
            &OwnerId::new("ana@contoso.com").unwrap(),
            SecretKind::MicrosoftOauth,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored
            .value
            .as_oauth()
            .unwrap()
            .refresh_token
            .as_ref()
            .unwrap()
            .secret(),
        "M.rotated"
    );
}

#[tokio::test]
async fn icloud_logins_come_from_the_vault() {
    let vault = vault();
    vault
        .put(
            &OwnerId::new("ben").unwrap(),
            &Credential::AppleAppPassword(AppPassword::new(
                "ben@icloud.example",
                secret("abcd-efgh-ijkl-mnop"),
            )),
            Expect::Absent,
        )
        .await
        .unwrap();
    let logins = VaultCalDavLogins::icloud(vault);
    let login = logins.login(&AccountId::new("ben")).await.unwrap();
    assert_eq!(login.url, "https://caldav.icloud.com/");
    assert_eq!(login.username, "ben@icloud.example");
    assert_eq!(login.password.secret(), "abcd-efgh-ijkl-mnop");
    assert!(!format!("{login:?}").contains("abcd"));
    let err = logins.login(&AccountId::new("nobody")).await.unwrap_err();
    assert!(err.needs_reconnect());
}
