//! An organisation at scale (the generator `benches/scale.rs` measures
//! with, at a size the suite's budget allows): another instance's writes
//! applied from the change log leave exactly the records a full load
//! reads, on PostgreSQL; an organisation integration connects and
//! disconnects thousands of participants in one write.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;
#[path = "../benches/support/org.rs"]
mod org;

use std::sync::Arc;

use availability::MemorySource;
use common::{Validator, World};
use credential_vault::SecretString;
use org_wide_auth::{Coverage, GoogleWorkspace, IntegrationKind, OrgAuth};
use scheduling_assistant::{
    Actor, Assistant, AssistantBuilder, GroupId, Pair, PairId, Participant, ParticipantHours,
    ParticipantId, ProgramId, Provider,
};

const PEOPLE: usize = 3_000;

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// Everything an instance holds about the records, through the public
/// API, in a fixed order.
fn dump(a: &Assistant) -> String {
    let mut out = String::new();
    for program in a.programs() {
        out += &format!(
            "{program:?} {:?} archived={}\n",
            a.policy(&program.id).unwrap(),
            a.is_archived(&program.id)
        );
    }
    for (p, programs) in a.participants() {
        out += &format!(
            "{p:?} {programs:?} {:?} {:?}\n",
            a.connection(&p.id),
            a.own_hours(&p.id).unwrap()
        );
    }
    out += &format!(
        "{:?}\n{:?}\n{:?}\n",
        a.pairs(),
        a.pair_history(),
        a.groups()
    );
    out
}

fn with_icloud(builder: AssistantBuilder) -> AssistantBuilder {
    builder
        .source(Provider::Icloud, Arc::new(MemorySource::new()))
        .caldav_validator(Arc::new(Validator(None)))
}

/// Every kind of write but a deletion, by `writer`, at scale: an
/// enrolment, a changed email and zone, a pair added and one ended, a
/// group rewritten and a member removed, a participant leaving a program,
/// a program archived, a connection made and one removed, own hours, the
/// organisation's policy.
async fn every_kind_of_write(writer: &Assistant) {
    let p0 = ProgramId::new(org::program(0));
    writer
        .add_participant(
            Participant::new("new", "New", "new@example.org", "Asia/Tokyo"),
            std::slice::from_ref(&p0),
        )
        .await
        .unwrap();
    let mut moved = writer.participant(&pid("p1")).unwrap();
    moved.email = "p1.moved@example.org".into();
    moved.time_zone = "America/Chicago".into();
    writer.add_participant(moved, &[]).await.unwrap();
    writer
        .add_pair(Pair {
            id: PairId::new("new-pair"),
            program: p0.clone(),
            mentor: pid("new"),
            mentee: pid("p40"),
        })
        .await
        .unwrap();
    writer.end_pair(&PairId::new("pair1")).await.unwrap();
    let mut g0 = writer
        .groups()
        .into_iter()
        .find(|g| g.id.as_str() == "g0")
        .unwrap();
    g0.members.insert(0, pid("new"));
    writer.add_group(g0.clone()).await.unwrap();
    writer
        .remove_from_group(&GroupId::new("g0"), &g0.members[3])
        .await
        .unwrap();
    writer.remove_from_program(&pid("p20"), &p0).await.unwrap();
    writer
        .archive_program(&ProgramId::new(org::program(19)))
        .await
        .unwrap();
    for who in ["p2", "p3"] {
        writer
            .connect_icloud(
                &Actor::participant(who),
                &pid(who),
                &format!("{who}@icloud.com"),
                SecretString::new("abcd-efgh-ijkl-mnop".into()),
            )
            .await
            .unwrap();
    }
    writer
        .disconnect(&Actor::participant("p3"), &pid("p3"))
        .await
        .unwrap();
    let hours: ParticipantHours =
        serde_json::from_str(r#"{"weekly": {"tue": [{"start": "10:00", "end": "15:00"}]}}"#)
            .unwrap();
    writer
        .set_own_hours(&Actor::participant("p4"), &pid("p4"), hours)
        .await
        .unwrap();
    writer
        .set_org_policy(
            &Actor::Administrator {
                admin: "ops".into(),
                on_behalf_of: None,
            },
            "day_end = \"17:30\"",
        )
        .await
        .unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_writes_applied_from_the_log_equal_a_full_load() {
    use credential_vault::{KeyId, KeyRing, MasterKey, PostgresStore, Vault};
    use scheduling_assistant::Store;

    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let world = World::new();
    let instance = |url: String| {
        let clock = world.clock.clone();
        async move {
            let vault = Arc::new(Vault::new(
                Arc::new(PostgresStore::connect_without_tls(&url).await.unwrap()),
                KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
            ));
            with_icloud(Assistant::builder())
                .store(Store::connect_postgres_without_tls(&url).await.unwrap())
                .vault(vault)
                .clock(clock)
                .build()
                .await
                .unwrap()
        }
    };
    // The schema first, then the organisation straight into its tables.
    drop(instance(url.clone()).await);
    org::org(PEOPLE).seed_postgres(&url).await;

    let reader = instance(url.clone()).await;
    let writer = instance(url.clone()).await;
    assert_eq!(reader.participants().len(), PEOPLE);
    let before = dump(&reader);
    let revision = reader.store().revision().await.unwrap();

    every_kind_of_write(&writer).await;
    let written = writer.store().revision().await.unwrap() - revision;
    assert!(written >= 13, "{written} writes");

    // The reader applies them at its next call (reading methods sync on
    // PostgreSQL); then a third instance loads everything from scratch.
    assert!(reader.reload().await.unwrap());
    let applied = dump(&reader);
    let fresh = dump(&instance(url.clone()).await);
    assert_ne!(applied, before, "the writes changed the records");
    assert_eq!(applied, fresh, "applied from the log = loaded whole");
    assert_eq!(dump(&writer), fresh, "and = the writer's own view");
    assert!(!reader.reload().await.unwrap(), "nothing left to apply");
    assert_eq!(reader.participants().len(), PEOPLE + 1, "one enrolled");

    // A deletion: the log names nobody (the reader loads everything).
    assert!(writer.delete_participant(&pid("p0")).await.unwrap());
    assert!(reader.reload().await.unwrap());
    assert!(reader.participant(&pid("p0")).is_err());
    assert_eq!(dump(&reader), dump(&instance(url.clone()).await));
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    // p0 mentors p20 in pair0 (the generator's first pair).
    let named: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM assistant_changes WHERE key IN ('p0', 'pair0')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(named, 0, "nothing of p0 is left in the log");
    drop(db);
    let _ = task.await;
    assert_eq!(
        reader
            .policy(&ProgramId::new(org::program(3)))
            .unwrap()
            .day_end()
            .to_string(),
        "17:30"
    );
}

/// The same writes on one SQLite file shared by two instances (the
/// embedder calls `reload`), so the log is proven on both engines.
#[tokio::test]
async fn on_sqlite_too() {
    let world = World::new();
    drop(world.builder().await.build().await.unwrap());
    org::org(PEOPLE).seed_sqlite(&world.path);
    let reader = with_icloud(world.builder().await).build().await.unwrap();
    let writer = with_icloud(world.builder().await).build().await.unwrap();
    every_kind_of_write(&writer).await;
    assert!(reader.reload().await.unwrap());
    let fresh = with_icloud(world.builder().await).build().await.unwrap();
    assert_eq!(dump(&reader), dump(&fresh));
}

/// Enabling Google Workspace for the whole organisation connects every
/// covered participant without a calendar of their own in one write (the
/// settings: one revision), and disabling it removes exactly them.
#[tokio::test]
async fn an_integration_connects_and_disconnects_the_organisation_in_one_write() {
    let server = common::mock_google_workspace(|_| serde_json::json!([])).await;
    let world = World::new();
    drop(world.builder().await.build().await.unwrap());
    org::org(PEOPLE).seed_sqlite(&world.path);
    let vault = world.vault();
    let org = Arc::new(OrgAuth::new(vault.clone(), world.clock.clone()));
    let a = with_icloud(world.builder().await)
        .vault(vault)
        .org_auth(org.clone())
        .build()
        .await
        .unwrap();
    // Two participants keep their own calendars.
    for who in ["p5", "p6"] {
        a.connect_icloud(
            &Actor::participant(who),
            &pid(who),
            &format!("{who}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .unwrap();
    }
    let before = a.store().revision().await.unwrap();
    let config = GoogleWorkspace::new(
        common::service_account_key(),
        "scheduling@example.org",
        Coverage::domains(["example.org"]),
    )
    .endpoints(format!("{}/token", server.uri()), server.uri());
    let connected = a.enable_google_workspace(config).await.unwrap();
    assert_eq!(
        a.store().revision().await.unwrap(),
        before + 1,
        "one write: the integration's settings"
    );
    assert_eq!(connected.len(), PEOPLE - 2);
    assert!(connected.iter().all(|(p, kind)| {
        *kind == IntegrationKind::GoogleWorkspace && p.as_str() != "p5" && p.as_str() != "p6"
    }));
    let status = org.status().await;
    assert_eq!(status[0].automatic_connections, PEOPLE - 2);

    let removed = a
        .disable_integration(IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    let mut removed: Vec<String> = removed.iter().map(ToString::to_string).collect();
    let mut expected: Vec<String> = connected.iter().map(|(p, _)| p.to_string()).collect();
    removed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(removed, expected, "exactly those it connected");
    assert!(org.status().await.is_empty());
    assert!(a.connection(&pid("p5")).is_some(), "own connections stay");
}

/// The background refresher keeps the working set fresh (the participants
/// someone asked for, on any instance) and leaves the others to be read
/// when asked for; each tick takes at most twice its even share of the
/// working set over the TTL, so a cold backlog is spread, not a burst.
#[tokio::test]
async fn the_refresher_keeps_the_working_set_fresh_spread_over_the_ttl() {
    use std::time::Duration;

    use common::Counting;

    const CONNECTED: usize = 200;
    const ASKED: usize = 100;
    let world = World::new();
    drop(world.builder().await.build().await.unwrap());
    org::org(1_000).seed_sqlite(&world.path);
    let source = Counting::new(Duration::ZERO);
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .cache_ttl(Duration::from_secs(600))
        .build()
        .await
        .unwrap();
    for i in 0..CONNECTED {
        let who = org::person(i);
        source.set(
            &format!("{who}@example.org"),
            availability::FreeBusy::default(),
        );
        a.connect_icloud(
            &Actor::participant(who.as_str()),
            &pid(&who),
            &format!("{who}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .unwrap();
    }
    // Half of them are asked for (an administrator reads their week).
    let admin = Actor::Administrator {
        admin: "ops".into(),
        on_behalf_of: None,
    };
    for i in 0..ASKED {
        a.availability(&admin, &pid(&org::person(i)), common::week())
            .await
            .unwrap();
    }
    assert_eq!(source.total(), ASKED);

    // Fresh: nothing to do. A TTL later all 100 are stale; a tick of 60 s
    // over a TTL of 600 s takes 2 × 100 × 60 / 600 = 20 of them.
    let every = Duration::from_secs(60);
    assert_eq!(a.refresh_tick(every).await.fetched, 0);
    world.clock.advance(600);
    let mut ticks = Vec::new();
    loop {
        let fetched = a.refresh_tick(every).await.fetched;
        if fetched == 0 {
            break;
        }
        ticks.push(fetched);
        assert!(ticks.len() < 10, "{ticks:?}");
    }
    assert_eq!(ticks, [20, 20, 20, 20, 20], "spread, not a burst of 100");
    assert_eq!(source.total(), 2 * ASKED, "only the working set");
    for i in ASKED..CONNECTED {
        assert_eq!(
            source.asked(&format!("{}@example.org", org::person(i))),
            0,
            "nobody asked for {i}: read when asked for"
        );
    }

    // A day after the last ask the working set is empty; `refresh(true)`
    // still reads everyone connected.
    world.clock.advance(86_400);
    assert_eq!(a.refresh(false).await.fetched, 0);
    assert_eq!(a.refresh(true).await.fetched, CONNECTED);
}

/// Google's freeBusy on wiremock, recording when each request arrived and
/// which calendars it asked for; every calendar free.
/// https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query
struct Recorded(Requests);

/// When each freeBusy request arrived, and the calendars it asked for.
type Requests = Arc<std::sync::Mutex<Vec<(std::time::Instant, Vec<String>)>>>;

impl wiremock::Respond for Recorded {
    fn respond(&self, r: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let ids: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        let calendars: serde_json::Map<String, serde_json::Value> = ids
            .iter()
            .map(|id| (id.clone(), serde_json::json!({"busy": []})))
            .collect();
        self.0
            .lock()
            .unwrap()
            .push((std::time::Instant::now(), ids));
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "kind": "calendar#freeBusy",
            "timeMin": body["timeMin"], "timeMax": body["timeMax"],
            "calendars": calendars
        }))
    }
}

/// A full refresh of the organisation through Google Workspace's
/// scheduling account sends exactly the batched minimum (50 calendars per
/// freeBusy request, one window piece: 1,500 people, 30 requests) and never
/// more than the configured quota in any window (scaled to 10 per second
/// so the test takes seconds; the default is Google's 600 per minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_refresh_through_one_scheduling_account_is_the_batched_minimum_within_quota() {
    use std::time::Duration;

    use org_wide_auth::{Pacing, Rate, ReadAs};
    use wiremock::matchers::{method, path};

    const PEOPLE: usize = 1_500;
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"
            })),
        )
        .mount(&server)
        .await;
    let log: Requests = Arc::default();
    wiremock::Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(Recorded(log.clone()))
        .mount(&server)
        .await;

    let world = World::new();
    drop(world.builder().await.build().await.unwrap());
    org::org(PEOPLE).seed_sqlite(&world.path);
    let vault = world.vault();
    let quota = Rate::per_second(10);
    let org = Arc::new(
        OrgAuth::new(vault.clone(), world.clock.clone()).with_pacing(
            IntegrationKind::GoogleWorkspace,
            Pacing::default().per_identity(quota),
        ),
    );
    let a = world
        .builder()
        .await
        .vault(vault)
        .org_auth(org)
        .build()
        .await
        .unwrap();
    let config = GoogleWorkspace::new(
        common::service_account_key(),
        "scheduling@example.org",
        Coverage::domains(["example.org"]),
    )
    .read_as(ReadAs::SchedulingAccount)
    .endpoints(format!("{}/token", server.uri()), server.uri());
    assert_eq!(
        a.enable_google_workspace(config).await.unwrap().len(),
        PEOPLE
    );
    let probes = log.lock().unwrap().len();

    let counts = a.refresh(true).await;
    assert_eq!((counts.fetched, counts.failed), (PEOPLE, 0));
    let log = log.lock().unwrap().split_off(probes);
    assert_eq!(log.len(), PEOPLE.div_ceil(50), "the batched minimum");
    let mut asked: Vec<&String> = log.iter().flat_map(|(_, ids)| ids).collect();
    assert!(log.iter().all(|(_, ids)| ids.len() <= 50));
    asked.sort_unstable();
    asked.dedup();
    assert_eq!(asked.len(), PEOPLE, "everyone once");
    // Never above the quota in any sliding window of its period.
    let times: Vec<std::time::Instant> = log.iter().map(|(t, _)| *t).collect();
    for (i, start) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(within <= 10, "{within} requests within a second");
    }
}
