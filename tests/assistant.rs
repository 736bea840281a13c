//! The assistant through its public API: who may connect, see and poll;
//! statuses; the cache (TTL on an injected clock, single flight); polls;
//! persistence across a restart.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, FreeBusy, SourceError};
use common::{Counting, H, MONDAY, Validator, World, iv, week};
use credential_vault::SecretString;
use google_provider::{GoogleOAuth, OAuthConfig};
use scheduling_assistant::GoogleConnector;
use scheduling_assistant::{
    Actor, Assistant, AssistantError, ConnectionStatus, Group, Invitees, Pair, Participant,
    ParticipantId, Program, ProgramId, Provider, SlotRequest,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn me(s: &str) -> Actor {
    Actor::participant(s)
}

fn pw(s: &str) -> SecretString {
    SecretString::new(s.to_owned())
}

const PEOPLE: [&str; 8] = ["mia", "max", "zoe", "c1", "c2", "c3", "c4", "c5"];

/// Programs, people, a pair (mia mentors max), a circle (c1..c5 and mia).
async fn seed(a: &Assistant, policy: &str) {
    // Both are off by default: an administrator turns them on.
    let policy = format!("scheduling_assistant = true\ngroup_polls = true\n{policy}");
    a.add_program(Program::new("mentoring", "Mentoring").with_policy_toml(policy))
        .await
        .unwrap();
    for p in PEOPLE {
        a.add_participant(
            Participant::new(p, p.to_uppercase(), format!("{p}@example.org"), "UTC"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
    }
    a.add_pair(Pair {
        id: "mia-max".into(),
        program: "mentoring".into(),
        mentor: pid("mia"),
        mentee: pid("max"),
    })
    .await
    .unwrap();
    a.add_group(Group {
        id: "circle".into(),
        program: "mentoring".into(),
        name: "Circle".into(),
        members: ["mia", "c1", "c2", "c3", "c4", "c5"].map(pid).to_vec(),
    })
    .await
    .unwrap();
}

async fn connect(a: &Assistant, who: &str) {
    let status = a
        .connect_icloud(
            &me(who),
            &pid(who),
            &format!("{who}@icloud.com"),
            pw("abcd-efgh-ijkl-mnop"),
        )
        .await
        .unwrap();
    // The participant who connected sees which account they connected.
    assert_eq!(
        status.text(),
        format!("Your iCloud calendar ({who}@icloud.com) is connected")
    );
}

async fn world_with(source: &Arc<Counting>, policy: &str) -> (World, Assistant) {
    let world = World::new();
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    seed(&a, policy).await;
    (world, a)
}

fn busy(entries: &[(BusyKind, i64, i64)]) -> FreeBusy {
    FreeBusy::from_entries(entries.iter().map(|&(k, s, e)| (k, iv(s, e))))
}

#[tokio::test]
async fn only_the_participant_connects_or_disconnects_their_calendar() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, "").await;
    let admin = Actor::admin_on_behalf_of("coordinator-1", "max");
    let err = a
        .connect_icloud(&admin, &pid("max"), "max@icloud.com", pw("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AssistantError::OnBehalfRefused { participant } if participant.as_str() == "max"),
        "{err:?}"
    );
    assert!(err.to_string().contains("only max can connect"), "{err}");
    assert!(matches!(
        a.begin_connect(&admin, &pid("max"), Provider::Icloud).await,
        Err(AssistantError::OnBehalfRefused { .. })
    ));
    // Another participant is refused too, differently.
    assert!(matches!(
        a.connect_icloud(&me("zoe"), &pid("max"), "max@icloud.com", pw("x"))
            .await,
        Err(AssistantError::NotAllowed(_))
    ));
    assert_eq!(a.status(&pid("max")).await, ConnectionStatus::NotConnected);
    assert!(!a.has_secret(&pid("max")).await);

    connect(&a, "max").await;
    assert!(matches!(
        a.disconnect(&admin, &pid("max")).await,
        Err(AssistantError::OnBehalfRefused { .. })
    ));
    assert!(
        a.has_secret(&pid("max")).await,
        "the refusal kept the connection"
    );
    assert!(a.disconnect(&me("max"), &pid("max")).await.unwrap());
    assert!(!a.has_secret(&pid("max")).await);
    assert_eq!(
        a.status(&pid("max")).await.text(),
        "Your calendar is not connected"
    );
}

#[tokio::test]
async fn a_provider_the_program_does_not_allow_is_refused() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, r#"providers = ["google", "microsoft"]"#).await;
    let err = a
        .connect_icloud(&me("max"), &pid("max"), "max@icloud.com", pw("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AssistantError::ProviderNotAllowed {
                provider: Provider::Icloud,
                ..
            }
        ),
        "{err:?}"
    );
    // Allowed by the program but not configured in this assistant.
    assert!(matches!(
        a.begin_connect(&me("max"), &pid("max"), Provider::Google)
            .await,
        Err(AssistantError::ProviderNotConfigured(Provider::Google))
    ));
    // One calendar serves every program: a second program refusing it wins.
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, "").await;
    a.add_program(Program::new("strict", "Strict").with_policy_toml(r#"providers = ["google"]"#))
        .await
        .unwrap();
    let max = a.participant(&pid("max")).unwrap();
    a.add_participant(max, &[ProgramId::new("strict")])
        .await
        .unwrap();
    assert!(matches!(
        a.connect_icloud(&me("max"), &pid("max"), "max@icloud.com", pw("x"))
            .await,
        Err(AssistantError::ProviderNotAllowed { .. })
    ));
}

#[tokio::test]
async fn icloud_logins_are_validated_before_anything_is_stored() {
    let world = World::new();
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, Counting::new(Duration::ZERO))
        .caldav_validator(Arc::new(Validator(Some(SourceError::Unauthorized {
            message: "HTTP 401".into(),
        }))))
        .build()
        .await
        .unwrap();
    seed(&a, "").await;
    let err = a
        .connect_icloud(&me("max"), &pid("max"), "max@icloud.com", pw("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, AssistantError::ConnectFailed(_)), "{err:?}");
    assert!(!err.to_string().contains("wrong"));
    assert!(a.connection(&pid("max")).is_none());
    assert!(!a.has_secret(&pid("max")).await);
}

async fn google_assistant(world: &World, token: &MockServer) -> Assistant {
    let oauth = GoogleOAuth::new(
        OAuthConfig::new(
            "client-1",
            Some(pw("client-secret")),
            "http://127.0.0.1/callback",
        )
        .with_endpoints(
            format!("{}/auth", token.uri()),
            format!("{}/token", token.uri()),
            format!("{}/revoke", token.uri()),
        ),
    )
    .unwrap();
    world
        .builder()
        .await
        .source(Provider::Icloud, Counting::new(Duration::ZERO))
        .source(Provider::Google, Counting::new(Duration::ZERO))
        .oauth(Provider::Google, Arc::new(GoogleConnector(Arc::new(oauth))))
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap()
}

fn state_of(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn oauth_connects_replace_the_previous_connection_and_its_secrets() {
    let token = MockServer::start().await;
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("code=good-code"))
        .and(body_string_contains("code_verifier="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.a0-access",
            "expires_in": 3599,
            "refresh_token": "1//refresh",
            "scope": "https://www.googleapis.com/auth/calendar.freebusy",
            "token_type": "Bearer"
        })))
        .mount(&token)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Bad Request"
        })))
        .mount(&token)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&token)
        .await;
    let world = World::new();
    let a = google_assistant(&world, &token).await;
    seed(&a, "").await;
    connect(&a, "max").await;
    let icloud_secret = a.has_secret(&pid("max")).await;
    assert!(icloud_secret);

    let start = a
        .begin_connect(&me("max"), &pid("max"), Provider::Google)
        .await
        .unwrap();
    assert!(
        start
            .authorization_url
            .starts_with(&format!("{}/auth?", token.uri()))
    );
    assert!(
        start
            .authorization_url
            .contains("code_challenge_method=S256")
    );
    let state = state_of(&start.authorization_url);
    // A wrong state is unknown; a bad code fails and uses the attempt up.
    assert!(matches!(
        a.complete_connect("forged", "good-code").await,
        Err(AssistantError::ConnectExpired)
    ));
    let status = a.complete_connect(&state, "good-code").await.unwrap();
    assert_eq!(status.text(), "Your Google calendar is connected");
    assert!(matches!(
        a.complete_connect(&state, "good-code").await,
        Err(AssistantError::ConnectExpired)
    ));
    let c = a.connection(&pid("max")).unwrap();
    assert_eq!(
        (c.provider, c.account.as_str()),
        (Provider::Google, "max@example.org")
    );
    // The iCloud password was deleted from the vault.
    let vault = world.vault();
    let owner = credential_vault::OwnerId::new("max@example.org").unwrap();
    assert_eq!(
        vault.kinds(&owner).await.unwrap(),
        vec![credential_vault::SecretKind::GoogleOauth]
    );

    // A refused code: typed failure, nothing changes.
    let start = a
        .begin_connect(&me("max"), &pid("max"), Provider::Google)
        .await
        .unwrap();
    let err = a
        .complete_connect(&state_of(&start.authorization_url), "bad-code")
        .await
        .unwrap_err();
    assert!(matches!(err, AssistantError::ConnectFailed(_)), "{err:?}");
    assert_eq!(
        a.connection(&pid("max")).unwrap().provider,
        Provider::Google
    );

    // An attempt is good for 10 minutes on the (injected) clock: still
    // taken at +599 s, expired at +601 s.
    let start = a
        .begin_connect(&me("max"), &pid("max"), Provider::Google)
        .await
        .unwrap();
    world.clock.advance(599);
    let status = a
        .complete_connect(&state_of(&start.authorization_url), "good-code")
        .await
        .unwrap();
    assert_eq!(status.text(), "Your Google calendar is connected");
    let start = a
        .begin_connect(&me("max"), &pid("max"), Provider::Google)
        .await
        .unwrap();
    world.clock.advance(601);
    assert!(matches!(
        a.complete_connect(&state_of(&start.authorization_url), "good-code")
            .await,
        Err(AssistantError::ConnectExpired)
    ));

    // Disconnecting revokes at Google (the mock expects one call) and deletes.
    assert!(a.disconnect(&me("max"), &pid("max")).await.unwrap());
    assert!(vault.kinds(&owner).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_participant_sees_only_partners_and_group_members_as_unavailable_times() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, r#"blocking = ["busy", "out_of_office"]"#).await;
    for p in ["mia", "max", "zoe"] {
        connect(&a, p).await;
    }
    source.set(
        "mia@example.org",
        busy(&[
            (BusyKind::Busy, MONDAY + 9 * H, MONDAY + 10 * H),
            (BusyKind::OutOfOffice, MONDAY + 10 * H, MONDAY + 12 * H),
            (BusyKind::Tentative, MONDAY + 14 * H, MONDAY + 15 * H),
        ]),
    );
    let seen = a
        .availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    assert!(seen.known);
    // Busy and out-of-office merge into one Unavailable block; tentative
    // does not block in this program.
    assert_eq!(seen.unavailable, vec![iv(MONDAY + 9 * H, MONDAY + 12 * H)]);
    let json = serde_json::to_value(&seen).unwrap();
    assert!(json.get("kind").is_none() && !json.to_string().contains("out_of_office"));

    // Zoe is neither mia's partner nor in her group.
    assert!(matches!(
        a.availability(&me("zoe"), &pid("mia"), week()).await,
        Err(AssistantError::NotAllowed(_))
    ));
    // Group members see each other; an administrator sees anyone.
    assert!(a.availability(&me("c3"), &pid("mia"), week()).await.is_ok());
    let admin = Actor::admin_on_behalf_of("coordinator-1", "zoe");
    assert!(
        a.availability(&admin, &pid("mia"), week())
            .await
            .unwrap()
            .known
    );
    // A partner without a calendar is unknown, never "free".
    let c1 = a
        .availability(&me("mia"), &pid("c1"), week())
        .await
        .unwrap();
    assert!(!c1.known && c1.unavailable.is_empty());
    // Why, to a group member: a fixed code, never the status text.
    assert_eq!(
        c1.reason.as_deref(),
        Some(scheduling_assistant::REASON_NOT_CONNECTED)
    );
}

#[tokio::test]
async fn busy_times_are_reused_until_the_ttl_on_the_injected_clock() {
    let source = Counting::new(Duration::ZERO);
    let (w, a) = world_with(&source, "").await;
    connect(&a, "mia").await;
    source.set(
        "mia@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 9 * H, MONDAY + 10 * H)]),
    );
    let (max, mia) = (me("max"), pid("mia"));
    let get = || a.availability(&max, &mia, week());
    get().await.unwrap();
    assert_eq!(source.asked("mia@example.org"), 1);
    get().await.unwrap();
    w.clock.advance(599);
    get().await.unwrap();
    assert_eq!(source.asked("mia@example.org"), 1, "fresh for 10 minutes");
    w.clock.advance(1);
    get().await.unwrap();
    assert_eq!(source.asked("mia@example.org"), 2, "refetched at the TTL");
    // A window outside what was fetched is fetched.
    let later = iv(MONDAY + 60 * 86_400, MONDAY + 61 * 86_400);
    a.availability(&me("max"), &pid("mia"), later)
        .await
        .unwrap();
    assert_eq!(source.asked("mia@example.org"), 3);
    // The refresher's pass: nothing stale yet, then everyone connected.
    assert_eq!(a.refresh(false).await.fetched, 0);
    w.clock.advance(600);
    let counts = a.refresh(false).await;
    assert_eq!((counts.fetched, counts.failed), (1, 0));
    // Disconnecting forgets the cached times.
    a.disconnect(&me("mia"), &pid("mia")).await.unwrap();
    assert!(!get().await.unwrap().known);
}

/// A request that waited for another's fetch, which was then cancelled,
/// fetches itself and dates the result when that fetch starts, not when
/// the request began: it stays fresh for a whole TTL from then.
///
/// No sleeps: the source holds mia's fetches until the test releases
/// them, and the second request (1:1 slots, mia and max) has boarded when
/// max's fetch starts: boarding decides in one step to fetch max and to
/// wait for mia's flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_after_waiting_is_dated_when_it_starts() {
    let source = Counting::new(Duration::ZERO);
    let (w, a) = world_with(&source, "").await;
    connect(&a, "mia").await;
    connect(&a, "max").await;
    source.set(
        "mia@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 9 * H, MONDAY + 10 * H)]),
    );
    source.set("max@example.org", FreeBusy::default());
    source.hold("mia@example.org");
    let first = tokio::spawn({
        let a = a.clone();
        async move { a.availability(&me("max"), &pid("mia"), week()).await }
    });
    source.until_asked("mia@example.org", 1).await;
    // Joins the first request's fetch of mia at t0 (and fetches max)...
    let second = tokio::spawn({
        let a = a.clone();
        async move {
            let request = SlotRequest::new(Duration::from_secs(1800), week());
            a.mutual_slots(&me("max"), &"mia-max".into(), request).await
        }
    });
    source.until_asked("max@example.org", 1).await;
    // ...which is cancelled 300 s later, still held: the second fetches
    // mia itself.
    w.clock.advance(300);
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    source.until_asked("mia@example.org", 2).await;
    source.release("mia@example.org");
    let second = second.await.unwrap().unwrap();
    assert_eq!((second.connected, second.problems.len()), (2, 0));
    assert_eq!(source.asked("mia@example.org"), 2);
    // 700 s after t0, 400 s after the second fetch: still fresh.
    w.clock.advance(400);
    let answer = a
        .availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    assert_eq!(
        answer.unavailable,
        vec![iv(MONDAY + 9 * H, MONDAY + 10 * H)]
    );
    assert_eq!(source.asked("mia@example.org"), 2);
    w.clock.advance(200);
    a.availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    assert_eq!(source.asked("mia@example.org"), 3, "stale a TTL after it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_fetch_each_participant_once() {
    let source = Counting::new(Duration::from_millis(50));
    let (_w, a) = world_with(&source, "").await;
    for p in ["mia", "c1", "c2", "c3", "c4", "c5"] {
        connect(&a, p).await;
    }
    let mut tasks = Vec::new();
    for i in 0..200 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                a.availability(&me("max"), &pid("mia"), week())
                    .await
                    .map(|_| ())
            } else {
                let request = SlotRequest::new(Duration::from_secs(1800), week());
                a.poll(&me("c1"), &Invitees::Group("circle".into()), request)
                    .await
                    .map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for p in ["mia", "c1", "c2", "c3", "c4", "c5"] {
        assert_eq!(source.asked(&format!("{p}@example.org")), 1, "{p}");
    }
}

#[tokio::test]
async fn a_poll_ranks_slots_and_counts_connected_invitees() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(
        &source,
        r#"day_start = "09:00"
day_end = "12:00"
slot_step = "60m""#,
    )
    .await;
    for p in ["mia", "c1", "c2", "c3"] {
        connect(&a, p).await;
    }
    // Monday 09-12: mia busy 09-10, c1 busy 10-11, c2 busy 09-11; c3's
    // provider fails; c4 and c5 have no calendar.
    source.set(
        "mia@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 9 * H, MONDAY + 10 * H)]),
    );
    source.set(
        "c1@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 10 * H, MONDAY + 11 * H)]),
    );
    source.set(
        "c2@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 9 * H, MONDAY + 11 * H)]),
    );
    source.inner.fail(
        "c3@example.org",
        SourceError::Unavailable {
            message: "HTTP 503".into(),
            retry_after: None,
        },
    );
    let request = SlotRequest::new(Duration::from_secs(3600), iv(MONDAY, MONDAY + 86_400))
        .limit(3)
        .min_free(1);
    let poll = a
        .poll(&me("mia"), &Invitees::Group("circle".into()), request)
        .await
        .unwrap();
    assert_eq!((poll.invitees, poll.connected), (6, 4));
    assert_eq!(
        poll.connected_text(),
        "4 of 6 invitees have connected a calendar"
    );
    let starts: Vec<i64> = poll
        .slots
        .iter()
        .map(|s| s.interval.start() - MONDAY)
        .collect();
    // 11:00 suits all three readable; then 09:00 (c1) and 10:00 (mia) tie
    // on one free each and rank by start.
    assert_eq!(starts, vec![11 * H, 9 * H, 10 * H]);
    let best = &poll.slots[0];
    assert_eq!(best.free, ["mia", "c1", "c2"].map(pid).to_vec());
    assert_eq!(best.unknown, ["c3", "c4", "c5"].map(pid).to_vec());
    assert_eq!(poll.slots[1].unavailable, ["mia", "c2"].map(pid).to_vec());
    assert_eq!(poll.problems.len(), 1);
    assert_eq!(poll.problems[0].participant, pid("c3"));
    // c3's status says why, and still counts as connected.
    assert!(matches!(
        a.status(&pid("c3")).await,
        ConnectionStatus::Unreachable { .. }
    ));

    // Only members poll their group; the program can switch polls off.
    assert!(matches!(
        a.poll(&me("max"), &Invitees::Group("circle".into()), request)
            .await,
        Err(AssistantError::NotAllowed(_))
    ));
    a.add_program(
        Program::new("mentoring", "Mentoring")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = false"),
    )
    .await
    .unwrap();
    assert!(matches!(
        a.poll(&me("mia"), &Invitees::Group("circle".into()), request)
            .await,
        Err(AssistantError::GroupPollsDisabled(_))
    ));
    // 1:1 slots still work, for the pair only, ranked by start.
    let mutual = a
        .mutual_slots(
            &me("max"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(1800), week()),
        )
        .await
        .unwrap();
    assert_eq!(mutual.invitees, 2);
    assert!(
        mutual
            .slots
            .windows(2)
            .all(|w| w[0].interval.start() < w[1].interval.start())
    );
    assert!(matches!(
        a.mutual_slots(
            &me("zoe"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(1800), week())
        )
        .await,
        Err(AssistantError::NotAllowed(_))
    ));
    a.add_program(
        Program::new("mentoring", "Mentoring").with_policy_toml("scheduling_assistant = false"),
    )
    .await
    .unwrap();
    assert!(matches!(
        a.mutual_slots(
            &me("max"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(1800), week())
        )
        .await,
        Err(AssistantError::SchedulingDisabled(_))
    ));
}

#[tokio::test]
async fn mutual_slots_respect_both_calendars_and_the_policy() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, r#"min_notice = "2h""#).await;
    connect(&a, "mia").await;
    connect(&a, "max").await;
    // Now is Monday 07:00; notice pushes the first start to 09:00.
    source.set(
        "mia@example.org",
        busy(&[(BusyKind::Busy, MONDAY + 9 * H, MONDAY + 10 * H)]),
    );
    source.set(
        "max@example.org",
        busy(&[(BusyKind::OutOfOffice, MONDAY + 10 * H, MONDAY + 11 * H)]),
    );
    let got = a
        .mutual_slots(
            &me("max"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(3600), week()).limit(2),
        )
        .await
        .unwrap();
    let starts: Vec<i64> = got
        .slots
        .iter()
        .map(|s| s.interval.start() - MONDAY)
        .collect();
    assert_eq!(starts, vec![11 * H, 12 * H]);
    assert_eq!(got.connected, 2);
}

#[tokio::test]
async fn a_revoked_credential_needs_reconnecting_and_survives_a_restart() {
    let source = Counting::new(Duration::ZERO);
    let (w, a) = world_with(&source, "").await;
    connect(&a, "mia").await;
    source.inner.fail(
        "mia@example.org",
        SourceError::Unauthorized {
            message: "HTTP 401 from the CalDAV server".into(),
        },
    );
    let seen = a
        .availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    assert!(!seen.known);
    let status = a.status(&pid("mia")).await;
    assert!(matches!(
        status,
        ConnectionStatus::NeedsReconnecting {
            provider: Provider::Icloud,
            ..
        }
    ));
    assert!(
        status
            .text()
            .starts_with("Your iCloud calendar needs reconnecting"),
        "{}",
        status.text()
    );
    drop(a);
    let a = w
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    assert!(matches!(
        a.status(&pid("mia")).await,
        ConnectionStatus::NeedsReconnecting { .. }
    ));
    // A poll still answers, with mia unknown and not asked again.
    let asked = source.asked("mia@example.org");
    let poll = a
        .poll(
            &me("c1"),
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_secs(1800), week()),
        )
        .await
        .unwrap();
    assert_eq!(poll.connected, 0);
    assert!(poll.slots.iter().all(|s| s.unknown.contains(&pid("mia"))));
    assert_eq!(source.asked("mia@example.org"), asked);
    // Reconnecting clears it.
    source.inner.remove(&"mia@example.org".into());
    source.set("mia@example.org", FreeBusy::new());
    connect(&a, "mia").await;
    assert!(
        a.availability(&me("max"), &pid("mia"), week())
            .await
            .unwrap()
            .known
    );
}

#[tokio::test]
async fn a_restart_loses_nothing() {
    let source = Counting::new(Duration::ZERO);
    let (w, a) = world_with(&source, r#"time_zone = "Europe/Berlin""#).await;
    connect(&a, "mia").await;
    assert_eq!(
        a.store().schema_version().await.unwrap(),
        scheduling_assistant::SCHEMA_VERSION
    );
    let before = (
        a.programs(),
        a.participants(),
        a.pairs(),
        a.groups(),
        a.connection(&pid("mia")),
    );
    drop(a);
    for _ in 0..2 {
        let a = w
            .builder()
            .await
            .source(Provider::Icloud, source.clone())
            .build()
            .await
            .unwrap();
        let after = (
            a.programs(),
            a.participants(),
            a.pairs(),
            a.groups(),
            a.connection(&pid("mia")),
        );
        assert_eq!(before, after);
        assert!(a.has_secret(&pid("mia")).await);
        assert_eq!(
            a.policy(&"mentoring".into()).unwrap().time_zone().name(),
            "Europe/Berlin"
        );
        assert_eq!(
            a.status(&pid("mia")).await.text(),
            "Your iCloud calendar is connected"
        );
    }
}

#[tokio::test]
async fn bad_set_up_input_is_refused_with_a_typed_error() {
    let source = Counting::new(Duration::ZERO);
    let (_w, a) = world_with(&source, "").await;
    let bad_zone = Participant::new("x", "X", "x@example.org", "Mars/Olympus");
    assert!(matches!(
        a.add_participant(bad_zone, &[]).await,
        Err(AssistantError::Invalid(_))
    ));
    let same_email = Participant::new("x", "X", "MIA@example.org", "UTC");
    assert!(matches!(
        a.add_participant(same_email, &[]).await,
        Err(AssistantError::Invalid(_))
    ));
    assert!(matches!(
        a.add_program(Program::new("p", "P").with_policy_toml("days = [\"someday\"]"))
            .await,
        Err(AssistantError::Invalid(_))
    ));
    assert!(matches!(
        a.add_pair(Pair {
            id: "p".into(),
            program: "mentoring".into(),
            mentor: pid("mia"),
            mentee: pid("ghost")
        })
        .await,
        Err(AssistantError::UnknownParticipant(_))
    ));
    assert!(matches!(
        a.poll(
            &me("mia"),
            &Invitees::Group("nope".into()),
            SlotRequest::new(Duration::from_secs(60), week())
        )
        .await,
        Err(AssistantError::UnknownGroup(_))
    ));
    assert!(matches!(
        a.poll(
            &me("mia"),
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_millis(1500), week())
        )
        .await,
        Err(AssistantError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let w = World::new();
    drop(w.builder().await);
    let conn = rusqlite::Connection::open(&w.path).unwrap();
    conn.execute("INSERT INTO assistant_schema (version) VALUES (99)", [])
        .unwrap();
    drop(conn);
    let err = scheduling_assistant::Store::open_sqlite(&w.path)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        scheduling_assistant::StoreError::SchemaTooNew {
            found: 99,
            known: scheduling_assistant::SCHEMA_VERSION
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn the_background_refresher_refreshes_stale_participants() {
    let source = Counting::new(Duration::ZERO);
    let (w, a) = world_with(&source, "").await;
    connect(&a, "mia").await;
    connect(&a, "max").await;
    // Their calendars exist (empty): a calendar that is not found needs
    // reconnecting and is no longer refreshed.
    source.set("mia@example.org", FreeBusy::default());
    source.set("max@example.org", FreeBusy::default());
    // Nobody asked for anyone yet: the refresher reads nobody.
    let refresher = a.spawn_refresher(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(source.total(), 0, "outside the working set");
    drop(refresher);
    // Each reads the other's week: both are in the working set now.
    a.availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    a.availability(&me("mia"), &pid("max"), week())
        .await
        .unwrap();
    assert_eq!(
        (
            source.asked("mia@example.org"),
            source.asked("max@example.org")
        ),
        (1, 1)
    );
    let refresher = a.spawn_refresher(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Not stale yet on the injected clock: the next tick fetches nothing.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.total(), 2);
    // Both stale: a tick takes its share of the working set over the TTL
    // (2 × 2 × 60 / 600, at least one), so one now and one a tick later.
    w.clock.advance(600);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.total(), 3);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.total(), 4);
    drop(refresher);
    w.clock.advance(600);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(source.total(), 4, "dropping the handle stops it");
}

/// The same restart on PostgreSQL: the vault and the assistant's tables in
/// one database, two instances migrating at once.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_restart_loses_nothing_on_postgresql() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = Arc::new(availability::FixedClock::new(
        jiff::Timestamp::from_second(MONDAY + 7 * H).unwrap(),
    ));
    let source = Counting::new(Duration::ZERO);
    let open = || async {
        let vault = Arc::new(credential_vault::Vault::new(
            Arc::new(
                credential_vault::PostgresStore::connect_without_tls(&url)
                    .await
                    .unwrap(),
            ),
            credential_vault::KeyRing::new(credential_vault::MasterKey::from_bytes(
                credential_vault::KeyId(1),
                [7; 32],
            )),
        ));
        Assistant::builder()
            .store(
                scheduling_assistant::Store::connect_postgres_without_tls(&url)
                    .await
                    .unwrap(),
            )
            .vault(vault)
            .clock(clock.clone())
            .source(Provider::Icloud, source.clone())
            .caldav_validator(Arc::new(Validator(None)))
            .build()
            .await
            .unwrap()
    };
    // Two instances starting together: the advisory lock serialises migration.
    let (a, other) = tokio::join!(open(), open());
    drop(other);
    assert_eq!(
        a.store().schema_version().await.unwrap(),
        scheduling_assistant::SCHEMA_VERSION
    );
    seed(&a, r#"time_zone = "America/New_York""#).await;
    connect(&a, "mia").await;
    source.inner.fail(
        "mia@example.org",
        SourceError::Unauthorized {
            message: "invalid_grant".into(),
        },
    );
    a.availability(&me("max"), &pid("mia"), week())
        .await
        .unwrap();
    let before = (
        a.programs(),
        a.participants(),
        a.pairs(),
        a.groups(),
        a.connection(&pid("mia")),
    );
    assert!(before.4.as_ref().unwrap().needs_reconnect.is_some());
    drop(a);
    let a = open().await;
    let after = (
        a.programs(),
        a.participants(),
        a.pairs(),
        a.groups(),
        a.connection(&pid("mia")),
    );
    assert_eq!(before, after);
    assert!(a.has_secret(&pid("mia")).await);
    assert!(matches!(
        a.status(&pid("mia")).await,
        ConnectionStatus::NeedsReconnecting { .. }
    ));
    assert!(a.disconnect(&me("mia"), &pid("mia")).await.unwrap());
    drop(a);
    let a = open().await;
    assert!(a.connection(&pid("mia")).is_none());
    assert!(!a.has_secret(&pid("mia")).await);
}
