//! Organisation-wide authorisation through the assistant: Google Workspace
//! (domain-wide delegation, on wiremock speaking Google's token and
//! freeBusy JSON) connects everyone it covers who has no calendar of their
//! own; it survives a restart without a new validation call; disabling it
//! removes exactly those connections, also across a restart.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Counting, H, MONDAY, Validator, World, iv, week};
use credential_vault::SecretString;
use org_wide_auth::{Coverage, GoogleWorkspace, IntegrationKind, OrgAuth};
use scheduling_assistant::{
    Actor, Assistant, AssistantError, ConnectionStatus, Group, Invitees, Participant,
    ParticipantId, Program, ProgramId, Provider, SlotRequest,
};
use serde_json::{Value, json};
use wiremock::MockServer;

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// Google's freeBusy: ada busy Monday 10-11 UTC, everyone else free.
fn busy_of(id: &str) -> Value {
    if id == "ada@school.example" {
        json!([{"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z"}])
    } else {
        json!([])
    }
}

async fn open(world: &World, source: &Arc<Counting>) -> Assistant {
    let vault = world.vault();
    let org = Arc::new(OrgAuth::new(vault.clone(), world.clock.clone()));
    Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&world.path)
                .await
                .unwrap(),
        )
        .vault(vault)
        .clock(world.clock.clone())
        .org_auth(org)
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap()
}

async fn requests(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn google_workspace_connects_the_covered_participants_and_survives_a_restart() {
    let server = common::mock_google_workspace(busy_of).await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = open(&world, &source).await;
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    // ada and bea are at the school's domain; cy connects iCloud herself;
    // dev is elsewhere.
    for (id, email) in [
        ("ada", "ada@school.example"),
        ("bea", "bea@school.example"),
        ("cy", "cy@school.example"),
        ("dev", "dev@elsewhere.example"),
    ] {
        a.add_participant(
            Participant::new(id, id, email, "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_group(Group {
        id: "g".into(),
        program: "p".into(),
        name: "G".into(),
        members: ["ada", "bea", "cy", "dev"].map(pid).to_vec(),
    })
    .await
    .unwrap();
    a.connect_icloud(
        &Actor::participant("cy"),
        &pid("cy"),
        "cy@icloud.com",
        SecretString::new("pw".into()),
    )
    .await
    .unwrap();
    source.set("cy@school.example", availability::FreeBusy::new());

    // A bad key: refused, nothing stored, nobody connected.
    let mut bad = GoogleWorkspace::new(
        SecretString::new("{\"client_email\": 1}".into()),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri());
    bad.read_as = org_wide_auth::ReadAs::EachParticipant;
    assert!(matches!(
        a.enable_google_workspace(bad).await,
        Err(AssistantError::Organisation(_))
    ));
    assert_eq!(a.status(&pid("ada")).await, ConnectionStatus::NotConnected);

    let config = GoogleWorkspace::new(
        common::service_account_key(),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri());
    let connected = a.enable_google_workspace(config).await.unwrap();
    let mut ids: Vec<&str> = connected.iter().map(|(p, _)| p.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["ada", "bea"],
        "cy keeps her own calendar; dev is not covered"
    );
    let ada = a.status(&pid("ada")).await;
    assert_eq!(
        ada.text(),
        "Your calendar is connected through your organisation"
    );
    assert!(matches!(
        a.status(&pid("cy")).await,
        ConnectionStatus::Connected {
            provider: Provider::Icloud,
            ..
        }
    ));
    assert_eq!(a.status(&pid("dev")).await, ConnectionStatus::NotConnected);

    let seen = a
        .availability(&Actor::participant("bea"), &pid("ada"), week())
        .await
        .unwrap();
    assert_eq!(seen.unavailable, vec![iv(MONDAY + 10 * H, MONDAY + 11 * H)]);
    let poll = a
        .poll(
            &Actor::participant("ada"),
            &Invitees::Group("g".into()),
            SlotRequest::new(Duration::from_secs(3600), week()),
        )
        .await
        .unwrap();
    assert_eq!(
        poll.connected_text(),
        "3 of 4 invitees have connected a calendar"
    );
    assert!(poll.problems.is_empty(), "{:?}", poll.problems);
    drop(a);

    // A restart restores it from the stored settings and the vault's key,
    // without a new validation call.
    let probes = requests(&server, "/calendar/v3/freeBusy").await;
    let a = open(&world, &source).await;
    assert_eq!(
        a.status(&pid("ada")).await.text(),
        "Your calendar is connected through your organisation"
    );
    assert_eq!(requests(&server, "/calendar/v3/freeBusy").await, probes);
    assert!(
        a.availability(&Actor::participant("bea"), &pid("ada"), week())
            .await
            .unwrap()
            .known
    );

    // Disabling removes exactly the automatic connections, for good.
    let mut gone = a
        .disable_integration(IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    gone.sort();
    assert_eq!(gone, vec![pid("ada"), pid("bea")]);
    assert_eq!(a.status(&pid("ada")).await, ConnectionStatus::NotConnected);
    assert!(matches!(
        a.status(&pid("cy")).await,
        ConnectionStatus::Connected { .. }
    ));
    assert!(
        !a.availability(&Actor::participant("bea"), &pid("ada"), week())
            .await
            .unwrap()
            .known
    );
    drop(a);
    let a = open(&world, &source).await;
    assert_eq!(a.status(&pid("ada")).await, ConnectionStatus::NotConnected);
}

#[tokio::test]
async fn exchange_online_and_on_premise_exclude_each_other_across_a_restart() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = open(&world, &source).await;
    a.enable_exchange_on_premise("scheduling@school.example")
        .await
        .unwrap();
    drop(a);
    let a = open(&world, &source).await;
    let online = org_wide_auth::ExchangeOnline::new(
        "school.example",
        "client",
        credential_vault::AppSecret::ClientSecret(SecretString::new("s".into())),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    );
    let err = a.enable_exchange_online(online).await.unwrap_err();
    assert!(err.to_string().contains("disable it before"), "{err}");
}
