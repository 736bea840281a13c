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
use ews_provider::test_support::AvailabilityDouble;
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

/// Exchange on-premise end to end through the assistant: enabling it
/// (one `GetUserAvailability` for the scheduling account) connects the
/// school's participants without a calendar of their own; a group poll
/// reads them through EWS (ada's meeting makes her unavailable, a mailbox
/// EWS refuses is a named problem, never free); it survives a restart
/// without a new validation call and excludes Exchange Online there;
/// disabling removes exactly its connections.
#[tokio::test]
async fn exchange_on_premise_connects_the_school_and_polls_read_through_ews() {
    let double = AvailabilityDouble::new()
        .mailbox("scheduling@school.example", &[])
        .mailbox(
            "ada@school.example",
            &[(MONDAY + 10 * H, MONDAY + 11 * H, "Busy")],
        )
        .mailbox(
            "bea@school.example",
            &[(MONDAY + 14 * H, MONDAY + 15 * H, "OOF")],
        )
        .error("eve@school.example", "ErrorNoFreeBusyAccess");
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/EWS/Exchange.asmx"))
        .respond_with(double.clone())
        .mount(&server)
        .await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = open(&world, &source).await;
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    for (id, email) in [
        ("ada", "ada@school.example"),
        ("bea", "bea@school.example"),
        ("eve", "eve@school.example"),
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
        members: ["ada", "bea", "eve", "dev"].map(pid).to_vec(),
    })
    .await
    .unwrap();

    let config = org_wide_auth::ExchangeOnPremise::new(
        format!("{}/EWS/Exchange.asmx", server.uri()),
        "SCHOOL\\scheduler",
        SecretString::new("Spring-2026!".into()),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    )
    .with_auth(ews_provider::AuthMethod::Basic);
    let connected = a.enable_exchange_on_premise(config).await.unwrap();
    let mut ids: Vec<&str> = connected.iter().map(|(p, _)| p.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["ada", "bea", "eve"], "dev is not covered");
    assert!(
        connected
            .iter()
            .all(|(_, kind)| *kind == IntegrationKind::ExchangeOnPremise)
    );
    assert_eq!(double.asked(), [["scheduling@school.example"]]);
    assert_eq!(
        a.status(&pid("ada")).await.text(),
        "Your calendar is connected through your organisation"
    );

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
    // One batch for the three covered mailboxes.
    let asked = double.asked();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let mut batch = asked[1].clone();
    batch.sort();
    assert_eq!(
        batch,
        [
            "ada@school.example",
            "bea@school.example",
            "eve@school.example"
        ]
    );
    assert_eq!(
        poll.problems
            .iter()
            .map(|p| p.participant.as_str())
            .collect::<Vec<_>>(),
        ["eve"]
    );
    for slot in &poll.slots {
        let overlaps = |s: i64, e: i64| slot.interval.start() < e && slot.interval.end() > s;
        assert_eq!(
            slot.unavailable.contains(&pid("ada")),
            overlaps(MONDAY + 10 * H, MONDAY + 11 * H),
            "{slot:?}"
        );
        assert_eq!(
            slot.unavailable.contains(&pid("bea")),
            overlaps(MONDAY + 14 * H, MONDAY + 15 * H),
            "{slot:?}"
        );
        assert!(slot.unknown.contains(&pid("eve")) && slot.unknown.contains(&pid("dev")));
        assert!(!slot.free.contains(&pid("eve")));
    }
    drop(a);

    // A restart restores it from the stored settings and the vault's
    // login, without a new validation call; Exchange Online is refused.
    let calls = double.asked().len();
    let a = open(&world, &source).await;
    assert_eq!(
        a.status(&pid("bea")).await.text(),
        "Your calendar is connected through your organisation"
    );
    assert_eq!(double.asked().len(), calls);
    let online = org_wide_auth::ExchangeOnline::new(
        "school.example",
        "client",
        credential_vault::AppSecret::ClientSecret(SecretString::new("s".into())),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    );
    let err = a.enable_exchange_online(online).await.unwrap_err();
    assert!(err.to_string().contains("disable it before"), "{err}");

    let mut gone = a
        .disable_integration(IntegrationKind::ExchangeOnPremise)
        .await
        .unwrap();
    gone.sort();
    assert_eq!(gone, vec![pid("ada"), pid("bea"), pid("eve")]);
    assert_eq!(a.status(&pid("ada")).await, ConnectionStatus::NotConnected);
    drop(a);
    let a = open(&world, &source).await;
    assert_eq!(a.status(&pid("ada")).await, ConnectionStatus::NotConnected);
}

/// Booking with Google Workspace's booking on: a meeting whose attendees
/// the integration covers is created on the scheduling account's calendar
/// (`events.insert` with `sendUpdates=all`), so Google sends the
/// invitations from that account; a throttled insert is a typed error that
/// leaves the poll open; cancelling deletes the event with notifications;
/// a meeting with someone the integration does not cover falls back to
/// email (none configured here, so it says so).
/// https://developers.google.com/workspace/calendar/api/v3/reference/events/insert
/// https://developers.google.com/workspace/calendar/api/v3/reference/events/delete
#[tokio::test]
async fn covered_attendees_are_invited_from_the_scheduling_account() {
    use wiremock::matchers::{method, path_regex, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let server = common::mock_google_workspace(busy_of).await;
    let events = "^/calendar/v3/calendars/scheduling(@|%40)school.example/events";
    Mock::given(method("POST"))
        .and(path_regex(format!("{events}$")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("{events}$")))
        .and(query_param("sendUpdates", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#event", "id": "evt1", "status": "confirmed",
            "iCalUID": "ignored@google.com"
        })))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex(format!("{events}/evt1$")))
        .and(query_param("sendUpdates", "all"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = open(&world, &source).await;
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    for (id, email) in [
        ("ada", "ada@school.example"),
        ("bea", "bea@school.example"),
        ("dev", "dev@elsewhere.example"),
    ] {
        a.add_participant(
            Participant::new(id, id.to_uppercase(), email, "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    for (id, members) in [
        ("school", &["ada", "bea"][..]),
        ("mixed", &["ada", "dev"][..]),
    ] {
        a.add_group(Group {
            id: id.into(),
            program: "p".into(),
            name: id.into(),
            members: members.iter().map(|m| pid(m)).collect(),
        })
        .await
        .unwrap();
    }
    let config = GoogleWorkspace::new(
        common::service_account_key(),
        "scheduling@school.example",
        Coverage::domains(["school.example"]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri())
    .with_booking(true);
    a.enable_google_workspace(config).await.unwrap();
    let ada = Actor::participant("ada");
    let request = SlotRequest::new(
        Duration::from_secs(3600),
        iv(MONDAY + 86_400 + 9 * H, MONDAY + 86_400 + 12 * H),
    )
    .limit(2);
    let poll = a
        .create_poll(
            &ada,
            &Invitees::Group("school".into()),
            request,
            scheduling_assistant::PollOptions::new("School circle"),
        )
        .await
        .unwrap();

    let before = server.received_requests().await.unwrap().len();
    let err = a
        .book_poll(&ada, &poll.id, 0, scheduling_assistant::BookOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AssistantError::Invitation { via: "google", source } if source.retry_after() == Some(Duration::from_secs(3600))),
        "{err:?}"
    );
    assert!(!err.to_string().contains("school.example"), "{err}");
    assert_eq!(
        a.view_poll(&ada, &poll.id).await.unwrap().status,
        scheduling_assistant::PollStatus::Open,
        "never half-booked"
    );
    let booking = a
        .book_poll(&ada, &poll.id, 0, scheduling_assistant::BookOptions::new())
        .await
        .unwrap();
    assert_eq!(booking.via, "google");
    let seen = server.received_requests().await.unwrap();
    let inserts: Vec<&wiremock::Request> = seen[before..]
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/events"))
        .collect();
    assert_eq!(
        inserts.len(),
        2,
        "the throttled one and the one that worked"
    );
    let body: Value = serde_json::from_slice(&inserts[1].body).unwrap();
    let mut attendees: Vec<&str> = body["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    attendees.sort_unstable();
    assert_eq!(attendees, ["ada@school.example", "bea@school.example"]);
    assert_eq!(body["summary"], "School circle");
    assert_eq!(body["iCalUID"], booking.uid.as_str());
    // The fresh re-check read the invitees' free/busy again per attempt.
    let fresh_reads = seen[before..]
        .iter()
        .filter(|r| r.url.path() == "/calendar/v3/freeBusy")
        .count();
    assert!(
        fresh_reads >= 2,
        "{fresh_reads} freeBusy requests for two attempts"
    );

    let cancelled = a.cancel_booking(&ada, &booking.id).await.unwrap();
    assert!(!cancelled.booked);
    assert_eq!(
        requests(
            &server,
            "/calendar/v3/calendars/scheduling@school.example/events/evt1"
        )
        .await
            + requests(
                &server,
                "/calendar/v3/calendars/scheduling%40school.example/events/evt1"
            )
            .await,
        1
    );

    // Someone the integration does not cover: email, which is not set up.
    let mixed = a
        .create_poll(
            &ada,
            &Invitees::Group("mixed".into()),
            request.min_free(1),
            scheduling_assistant::PollOptions::new("Mixed"),
        )
        .await
        .unwrap();
    assert!(matches!(
        a.book_poll(&ada, &mixed.id, 0, scheduling_assistant::BookOptions::new())
            .await,
        Err(AssistantError::InvitationsNotConfigured)
    ));
}
