//! A store written by an earlier build loads unchanged: the SQLite files in
//! `tests/fixtures/` (schema 5 to 9; see its README); `store-v5.sqlite3` was written through the public API
//! by the build before the architecture change (commit 836e7b4; the
//! generator is in `tests/fixtures/README.md`), and is opened here from a
//! copy (tests never write into the source tree).
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::sync::Arc;

use availability::{BusyKind, FixedClock, FreeBusy, Interval, MemorySource};
use credential_vault::{
    Credential, KeyId, KeyRing, MasterKey, OwnerId, SecretKind, SqliteStore, Vault,
};
use org_wide_auth::{IntegrationKind, OrgAuth};
use scheduling_assistant::SCHEMA_VERSION;
use scheduling_assistant::{
    Actor, Assistant, ConnectionStatus, ParticipantId, ProgramId, Provider, Store,
};

const MONDAY: i64 = 1_772_409_600; // 2 March 2026, the fixture's clock

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

async fn open_copy(
    dir: &std::path::Path,
    name: &str,
) -> (Assistant, Arc<MemorySource>, Arc<OrgAuth>, Arc<Vault>) {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let db = dir.join("assistant.sqlite3");
    std::fs::copy(&fixture, &db).unwrap();
    let key = MasterKey::from_bytes(KeyId(1), [42; 32]);
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(key),
    ));
    let calendars = Arc::new(MemorySource::new());
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(MONDAY).unwrap(),
    ));
    let org = Arc::new(OrgAuth::new(vault.clone(), clock.clone()));
    let assistant = Assistant::builder()
        .store(Store::open_sqlite(&db).await.unwrap())
        .vault(vault.clone())
        .source(Provider::Icloud, calendars.clone())
        .org_auth(org.clone())
        .clock(clock)
        .build()
        .await
        .unwrap();
    (assistant, calendars, org, vault)
}

#[tokio::test]
async fn a_store_written_by_the_previous_build_loads_unchanged() {
    assert_eq!(
        SCHEMA_VERSION, 10,
        "a new migration: add a fixture written by the build before it"
    );
    // Schema 5 (before the architecture change): nobody had own hours.
    let dir = tempfile::tempdir().unwrap();
    let (a, calendars, org, vault) = open_copy(dir.path(), "store-v5.sqlite3").await;
    assert!(a.own_hours(&pid("maya")).unwrap().is_unrestricted());
    everything_else_loads(a, calendars, org, vault).await;

    // Schema 6 (before partnerships could end): the same records, and
    // maya's own hours (Mondays 09:00-12:00, 4 March off).
    let dir = tempfile::tempdir().unwrap();
    let (a, calendars, org, vault) = open_copy(dir.path(), "store-v6.sqlite3").await;
    let hours = a.own_hours(&pid("maya")).unwrap();
    assert_eq!(
        serde_json::to_value(&hours).unwrap(),
        serde_json::json!({"weekly": {"mon": [{"start": "09:00", "end": "12:00"}]}, "dates": {"2026-03-04": []}})
    );
    everything_else_loads(a, calendars, org, vault).await;

    // Schema 7 (before polls and bookings were stored): the same, with no
    // poll or booking for anyone.
    let dir = tempfile::tempdir().unwrap();
    let (a, calendars, org, vault) = open_copy(dir.path(), "store-v7.sqlite3").await;
    assert!(!a.own_hours(&pid("maya")).unwrap().is_unrestricted());
    for who in ["maya", "theo", "ana", "ben"] {
        assert!(a.polls(&Actor::participant(who)).await.unwrap().is_empty());
        assert!(
            a.bookings(&Actor::participant(who))
                .await
                .unwrap()
                .is_empty()
        );
    }
    everything_else_loads(a, calendars, org, vault).await;

    // Schema 8 (before sessions and bound OAuth attempts were stored): the
    // same records; no session or setting to carry over.
    let dir = tempfile::tempdir().unwrap();
    let (a, calendars, org, vault) = open_copy(dir.path(), "store-v8.sqlite3").await;
    assert!(!a.own_hours(&pid("maya")).unwrap().is_unrestricted());
    everything_else_loads(a, calendars, org, vault).await;

    // Schema 9 (before the change log other instances apply): the same
    // records; the log starts empty and the first write fills it.
    let dir = tempfile::tempdir().unwrap();
    let (a, calendars, org, vault) = open_copy(dir.path(), "store-v9.sqlite3").await;
    assert!(!a.own_hours(&pid("maya")).unwrap().is_unrestricted());
    everything_else_loads(a, calendars, org, vault).await;
}

async fn everything_else_loads(
    a: Assistant,
    calendars: Arc<MemorySource>,
    org: Arc<OrgAuth>,
    vault: Arc<Vault>,
) {
    // Migrated on open to this build's schema.
    assert_eq!(a.store().schema_version().await.unwrap(), SCHEMA_VERSION);
    // Every pair stored before pairs could end is current.
    assert!(a.pair_history().is_empty());
    assert!(!a.is_archived(&ProgramId::new("spring")));

    // Programs and their policies.
    let programs: Vec<(String, String)> = a
        .programs()
        .into_iter()
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    assert_eq!(
        programs,
        [
            ("autumn".into(), "Autumn".into()),
            ("spring".into(), "Spring cohort".into())
        ]
    );
    let spring = a.policy(&ProgramId::new("spring")).unwrap();
    assert!(spring.scheduling_assistant_enabled());
    assert!(spring.group_polls_enabled());
    assert!(
        !a.policy(&ProgramId::new("autumn"))
            .unwrap()
            .group_polls_enabled()
    );

    // Participants, their zones and programs (maya is in two).
    let people: Vec<(String, String, String, Vec<String>)> = a
        .participants()
        .into_iter()
        .map(|(p, programs)| {
            (
                p.id.to_string(),
                p.email,
                p.time_zone,
                programs.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            (
                "ana".into(),
                "ana@example.org".into(),
                "Europe/Paris".into(),
                vec!["spring".into()]
            ),
            (
                "ben".into(),
                "ben@example.org".into(),
                "UTC".into(),
                vec!["autumn".into()]
            ),
            (
                "maya".into(),
                "maya@example.org".into(),
                "America/New_York".into(),
                vec!["autumn".into(), "spring".into()]
            ),
            (
                "theo".into(),
                "theo@example.org".into(),
                "Europe/London".into(),
                vec!["spring".into()]
            ),
        ]
    );

    // The pair, and the group's members in their stored order.
    let pairs = a.pairs();
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        (pairs[0].mentor.as_str(), pairs[0].mentee.as_str()),
        ("maya", "theo")
    );
    let groups = a.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, "Circle");
    assert_eq!(groups[0].members, ["theo", "maya", "ana"].map(pid));

    // Connections: maya's works, theo's needs reconnecting, with its reason.
    let maya = a.connection(&pid("maya")).unwrap();
    assert_eq!(
        (maya.provider, maya.account.as_str(), maya.connected_at),
        (Provider::Icloud, "maya@example.org", MONDAY)
    );
    assert!(
        matches!(a.status(&pid("maya")).await, ConnectionStatus::Connected { provider: Provider::Icloud, since, account: None } if since == MONDAY)
    );
    // Maya sees which account she connected (her Apple ID, sealed in the
    // vault); her partner does not.
    let own = a
        .status_for(&Actor::participant("maya"), &pid("maya"))
        .await
        .unwrap();
    assert_eq!(
        own.text(),
        "Your iCloud calendar (maya@icloud.com) is connected"
    );
    let partner = a
        .status_for(&Actor::participant("theo"), &pid("maya"))
        .await
        .unwrap();
    assert_eq!(partner.text(), "Your iCloud calendar is connected");
    match a.status(&pid("theo")).await {
        ConnectionStatus::NeedsReconnecting { provider, reason } => {
            assert_eq!(provider, Provider::Icloud);
            assert!(
                reason.contains("app-specific password was revoked"),
                "{reason}"
            );
        }
        other => panic!("theo: {other:?}"),
    }
    assert_eq!(a.status(&pid("ben")).await, ConnectionStatus::NotConnected);

    // The sealed secret still opens with the same key.
    assert!(a.has_secret(&pid("maya")).await);
    let sealed = vault
        .get(
            &OwnerId::new("maya@example.org").unwrap(),
            SecretKind::AppleAppPassword,
        )
        .await
        .unwrap()
        .unwrap();
    match sealed.value {
        Credential::AppleAppPassword(p) => {
            assert_eq!(p.apple_id, "maya@icloud.com");
            assert_eq!(p.password.secret(), "abcd-efgh-ijkl-mnop");
        }
        other => panic!("{other:?}"),
    }

    // The organisation integration was restored from its stored settings.
    let kinds: Vec<IntegrationKind> = org.settings().await.iter().map(|s| s.kind()).collect();
    assert_eq!(kinds, [IntegrationKind::ExchangeOnPremise]);

    // And the records work: theo sees maya's week through the pair.
    let nine = Interval::new(MONDAY + 9 * 3600, MONDAY + 10 * 3600).unwrap();
    calendars.insert(
        "maya@example.org",
        FreeBusy::from_entries([(BusyKind::Busy, nine)]),
    );
    let week = Interval::new(MONDAY, MONDAY + 5 * 86_400).unwrap();
    let seen = a
        .availability(&Actor::participant("theo"), &pid("maya"), week)
        .await
        .unwrap();
    assert!(seen.known);
    assert_eq!(seen.unavailable, vec![nine]);
}
