use credential_vault::{
    AppCredentials, AppPassword, AppSecret, Credential, KeyId, KeyRing, MasterKey, OAuthTokens,
    OwnerId, ServerLogin, ServiceAccountKey,
};

/// Every secret string the samples contain: none may appear in any error,
/// `Debug` output or log line.
pub(crate) const SECRETS: &[&str] = &[
    "ya29.a0-google-access",
    "1//google-refresh",
    "eyJ0-ms-access",
    "M.C-ms-refresh",
    "abcd-efgh-ijkl-mnop",
    "MIIEvQIBADANBgkq",
    "client~secret~value",
    "pkce-verifier-dBjftJeZ4CVP",
    "Ews-Winter-2026!",
];

pub(crate) fn key(id: u32) -> MasterKey {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(id as u8);
    }
    MasterKey::from_bytes(KeyId(id), bytes)
}

pub(crate) fn ring(active: u32, others: &[u32]) -> KeyRing {
    others.iter().fold(KeyRing::new(key(active)), |ring, id| {
        ring.with_key(key(*id)).unwrap()
    })
}

pub(crate) fn owner(id: &str) -> OwnerId {
    OwnerId::new(id).unwrap()
}

pub(crate) fn samples() -> Vec<Credential> {
    vec![
        Credential::GoogleOauth(
            OAuthTokens::new(SECRETS[0].into())
                .with_expires_at("2026-11-25T10:00:00Z".parse().unwrap())
                .with_refresh_token(SECRETS[1].into())
                .with_scopes(["https://www.googleapis.com/auth/calendar.freebusy"]),
        ),
        Credential::MicrosoftOauth(
            OAuthTokens::new(SECRETS[2].into())
                .with_refresh_token(SECRETS[3].into())
                .with_scopes(["offline_access", "Calendars.ReadBasic"]),
        ),
        Credential::AppleAppPassword(AppPassword::new("someone@icloud.com", SECRETS[4].into())),
        Credential::GoogleServiceAccount(ServiceAccountKey::new(
            "vault@project.iam.gserviceaccount.com",
            format!(
                "{{\"type\":\"service_account\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"}}",
                SECRETS[5]
            )
            .into(),
        )),
        Credential::MicrosoftAppCredentials(AppCredentials::new(
            "contoso-tenant",
            "app-client-id",
            AppSecret::ClientSecret(SECRETS[6].into()),
        )),
        Credential::OauthAttempt(SECRETS[7].into()),
        Credential::ExchangeServerLogin(ServerLogin::new("CORP\\scheduler", SECRETS[8].into())),
    ]
}

/// Asserts `text` shows no sample secret.
pub(crate) fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{text:?} contains a secret");
    }
}

/// A token whose access and refresh halves carry the same generation, so a
/// reader can tell a torn write from a whole one.
pub(crate) fn generation_tokens(n: u64) -> Credential {
    Credential::MicrosoftOauth(
        OAuthTokens::new(format!("access-{n}").into())
            .with_refresh_token(format!("refresh-{n}").into()),
    )
}

pub(crate) fn generation_of(credential: &Credential) -> u64 {
    let tokens = credential.as_oauth().unwrap();
    let access: u64 = tokens.access_token.secret()["access-".len()..]
        .parse()
        .unwrap();
    let refresh: u64 = tokens.refresh_token.as_ref().unwrap().secret()["refresh-".len()..]
        .parse()
        .unwrap();
    assert_eq!(
        access, refresh,
        "torn credential: access {access}, refresh {refresh}"
    );
    access
}

/// A fresh database on the PostgreSQL server the test command started
/// (`TEST_POSTGRES_URL=postgres://user@127.0.0.1:PORT`, no database path).
///
/// Without the variable the test fails, naming the command that provides the
/// server. Outside CI, `CREDENTIAL_VAULT_SKIP_POSTGRES=1` skips explicitly
/// (the test prints that it skipped); under `CI=true` it never skips.
#[cfg(feature = "postgres")]
pub(crate) async fn fresh_postgres() -> Option<credential_vault::PostgresStore> {
    let url = fresh_postgres_url().await?;
    Some(
        credential_vault::PostgresStore::connect_without_tls(&url)
            .await
            .expect("open the PostgreSQL store"),
    )
}

/// The URL of a new, empty database (see [`fresh_postgres`]).
#[cfg(feature = "postgres")]
pub(crate) async fn fresh_postgres_url() -> Option<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);

    let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let skip = std::env::var("CREDENTIAL_VAULT_SKIP_POSTGRES").is_ok_and(|v| v == "1");
        if skip && !in_ci {
            eprintln!("SKIPPED: PostgreSQL tests (CREDENTIAL_VAULT_SKIP_POSTGRES=1)");
            return None;
        }
        panic!(
            "TEST_POSTGRES_URL is not set: run `scripts/test`, which installs and starts \
             PostgreSQL on loopback, or point it at a server (postgres://user@127.0.0.1:PORT)"
        );
    };
    let base = base.trim_end_matches('/');
    let name = format!(
        "cv_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (admin, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL server");
    let task = tokio::spawn(connection);
    // Names are per process, so a leftover can only come from an earlier
    // run that reused this pid; DROP and CREATE cannot share a transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .expect("create a test database");
    }
    drop(admin);
    let _ = task.await;
    Some(format!("{base}/{name}"))
}
