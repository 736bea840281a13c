//! End to end through the public API: one poll over an `.ics` calendar, a
//! real CalDAV server (Radicale, started by the README test command), and
//! Google and Microsoft Graph on wiremock speaking their documented JSON,
//! each connected the way a participant connects. Every calendar carries
//! unique marker strings in its titles, locations and descriptions; no
//! marker may appear in any output, log line or byte of the database.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability::{Capabilities, FreeBusyRequest, FreeBusyResponse, FreeBusySource, SourceError};
use caldav_provider::{CalDavLogin, CalDavSource, IcsSource};
use common::{H, MONDAY, World, iv};
use credential_vault::SecretString;
use scheduling_assistant::VaultCalDavLogins;
use scheduling_assistant::{
    Actor, Assistant, Group, Invitees, Pair, Participant, ParticipantId, Program, ProgramId,
    Provider, SlotRequest,
};
use scheduling_assistant::{CalDavValidator, DiscoveryValidator};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MARKERS: [&str; 6] = [
    "MARKER-ics-summary-5f1c",
    "MARKER-ics-location-a93e",
    "MARKER-ics-description-77d0",
    "MARKER-caldav-summary-c2b4",
    "MARKER-graph-subject-0e6a",
    "MARKER-graph-location-b81f",
];

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn event(uid: &str, start: &str, end: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//e2e//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n{extra}\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// The test's iCloud-kind source: ivy's account reads a local `.ics` file
/// (IcsSource), every other one the CalDAV server. Both are the
/// crates' real sources; only the routing is the test's.
#[derive(Debug)]
struct Route {
    ics: IcsSource,
    caldav: CalDavSource,
}

#[async_trait]
impl FreeBusySource for Route {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(1)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        if request
            .accounts
            .iter()
            .all(|a| a.as_str() == "ivy@example.org")
        {
            self.ics.free_busy(request).await
        } else {
            self.caldav.free_busy(request).await
        }
    }
}

#[derive(Debug)]
struct RouteValidator(DiscoveryValidator);

#[async_trait]
impl CalDavValidator for RouteValidator {
    async fn validate(&self, login: &CalDavLogin) -> Result<(), SourceError> {
        if login.username.ends_with("@ics.example") {
            return Ok(());
        }
        self.0.validate(login).await
    }

    fn server(&self) -> &str {
        self.0.server()
    }
}

/// A `MakeWriter` into a shared buffer: every log line of the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn radicale() -> String {
    std::env::var("CALDAV_TEST_RADICALE_URL").unwrap_or_else(|_| {
        panic!(
            "CALDAV_TEST_RADICALE_URL is not set: run the README test command (scripts/test), \
             which starts Radicale, or start it with scripts/caldav-env"
        )
    })
}

/// bob's calendar on Radicale with one event (13:00-14:00Z Monday).
async fn seed_radicale(base: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = format!("{base}/bob/e2e-{}/", std::process::id());
    let _ = http
        .delete(&url)
        .basic_auth("bob", Some("bobpw"))
        .send()
        .await;
    let mk = http
        .request(reqwest::Method::from_bytes(b"MKCALENDAR").unwrap(), &url)
        .basic_auth("bob", Some("bobpw"))
        .send()
        .await
        .unwrap();
    assert_eq!(mk.status().as_u16(), 201, "MKCALENDAR {url}");
    let put = http
        .put(format!("{url}e1.ics"))
        .basic_auth("bob", Some("bobpw"))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(event(
            "e1@e2e",
            "20260302T130000Z",
            "20260302T140000Z",
            MARKERS[3],
            "",
        ))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
}

async fn mock_providers(server: &MockServer) {
    // Google token exchange:
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/google/token"))
        .and(body_string_contains("code=gus-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.gus-access", "expires_in": 3599,
            "refresh_token": "1//gus-refresh", "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/calendar.freebusy"
        })))
        .mount(server)
        .await;
    // freeBusy.query: https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.gus-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"gus@example.org": {"busy": [
                {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}
            ]}}
        })))
        // Once for the poll (every later view hits the cache), once for the
        // forced refresh.
        .expect(2)
        .mount(server)
        .await;
    // Microsoft identity platform token exchange:
    // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
    Mock::given(method("POST"))
        .and(path("/ms/common/oauth2/v2.0/token"))
        .and(body_string_contains("code=mel-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "eyJ.mel-access", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": "M.mel-refresh", "scope": "Calendars.ReadBasic offline_access"
        })))
        .mount(server)
        .await;
    // calendar/getSchedule: https://learn.microsoft.com/en-us/graph/api/calendar-getschedule
    Mock::given(method("POST"))
        .and(path("/v1.0/users/mel@example.org/calendar/getSchedule"))
        .and(header("authorization", "Bearer eyJ.mel-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{
                "scheduleId": "mel@example.org",
                "availabilityView": "",
                "scheduleItems": [{
                    "isPrivate": false, "status": "busy",
                    "subject": MARKERS[4], "location": MARKERS[5],
                    "start": {"dateTime": "2026-03-02T15:00:00.0000000", "timeZone": "UTC"},
                    "end": {"dateTime": "2026-03-02T16:00:00.0000000", "timeZone": "UTC"}
                }]
            }]
        })))
        // Once for the poll (every later view hits the cache), once for the
        // forced refresh.
        .expect(2)
        .mount(server)
        .await;
}

async fn build(world: &World, server: &MockServer, ics_path: &std::path::Path) -> Assistant {
    let vault = world.vault();
    let base = radicale();
    let caldav = CalDavSource::new(Arc::new(VaultCalDavLogins::for_server(
        vault.clone(),
        format!("{base}/"),
    )))
    .unwrap();
    let validator_source = Arc::new(
        CalDavSource::new(Arc::new(VaultCalDavLogins::for_server(
            vault.clone(),
            format!("{base}/"),
        )))
        .unwrap(),
    );
    let ics = IcsSource::new().with_file("ivy@example.org", ics_path);
    let route = Route { ics, caldav };

    let builder = Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&world.path)
                .await
                .unwrap(),
        )
        .vault(vault.clone())
        .clock(world.clock.clone())
        .source(Provider::Icloud, Arc::new(route));
    common::with_own_oauth(builder, world, &vault, server, "gid", "mid")
        .caldav_validator(Arc::new(RouteValidator(DiscoveryValidator::new(
            validator_source,
            format!("{base}/"),
        ))))
        .build()
        .await
        .unwrap()
}

fn state_of(url: &str) -> String {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_poll_over_ics_caldav_google_and_graph_without_a_trace_of_content() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    seed_radicale(&radicale()).await;
    let server = MockServer::start().await;
    mock_providers(&server).await;
    let world = World::new();
    let ics_path = world.dir.path().join("ivy.ics");
    std::fs::File::create(&ics_path)
        .unwrap()
        .write_all(
            event(
                "ivy-1@e2e",
                "20260302T100000Z",
                "20260302T110000Z",
                MARKERS[0],
                &format!("LOCATION:{}\r\nDESCRIPTION:{}\r\n", MARKERS[1], MARKERS[2]),
            )
            .as_bytes(),
        )
        .unwrap();
    let a = build(&world, &server, &ics_path).await;
    a.add_program(
        Program::new("p", "Program")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    let people = ["bob", "ivy", "gus", "mel", "nox"];
    for p in people {
        a.add_participant(
            Participant::new(p, p, format!("{p}@example.org"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_group(Group {
        id: "all".into(),
        program: "p".into(),
        name: "All".into(),
        members: people.map(pid).to_vec(),
    })
    .await
    .unwrap();
    a.add_pair(Pair {
        id: "gus-mel".into(),
        program: "p".into(),
        mentor: pid("gus"),
        mentee: pid("mel"),
    })
    .await
    .unwrap();

    // Connect the way each participant does.
    let me = Actor::participant;
    let mut outputs: Vec<String> = Vec::new();
    let s = a
        .connect_icloud(
            &me("bob"),
            &pid("bob"),
            "bob",
            SecretString::new("bobpw".into()),
        )
        .await
        .unwrap();
    outputs.push(format!("{s:?} {}", s.text()));
    let wrong = a
        .connect_icloud(
            &me("nox"),
            &pid("nox"),
            "alice",
            SecretString::new("not-her-password".into()),
        )
        .await
        .unwrap_err();
    outputs.push(format!("{wrong:?} {wrong}"));
    let s = a
        .connect_icloud(
            &me("ivy"),
            &pid("ivy"),
            "ivy@ics.example",
            SecretString::new("x".into()),
        )
        .await
        .unwrap();
    outputs.push(format!("{s:?}"));
    let start = a
        .begin_connect(&me("gus"), &pid("gus"), Provider::Google)
        .await
        .unwrap();
    let s = a
        .complete_connect(&state_of(&start.authorization_url), "gus-code")
        .await
        .unwrap();
    assert_eq!(s.text(), "Your Google calendar is connected");
    let start = a
        .begin_connect(&me("mel"), &pid("mel"), Provider::Microsoft)
        .await
        .unwrap();
    let s = a
        .complete_connect(&state_of(&start.authorization_url), "mel-code")
        .await
        .unwrap();
    assert_eq!(s.text(), "Your Microsoft 365 calendar is connected");

    // The poll: Monday 08:00-18:00 UTC, one hour.
    let request = SlotRequest::new(Duration::from_secs(3600), iv(MONDAY, MONDAY + 86_400)).limit(3);
    let poll = a
        .poll(&me("gus"), &Invitees::Group("all".into()), request)
        .await
        .unwrap();
    assert_eq!(
        poll.connected_text(),
        "4 of 5 invitees have connected a calendar"
    );
    assert!(poll.problems.is_empty(), "{:?}", poll.problems);
    let starts: Vec<i64> = poll
        .slots
        .iter()
        .map(|s| s.interval.start() - MONDAY)
        .collect();
    // Busy: gus 09, ivy 10, bob 13, mel 15 (UTC); the first hours free for all.
    assert_eq!(starts, vec![8 * H, 11 * H, 12 * H]);
    for slot in &poll.slots {
        assert_eq!(slot.free, ["bob", "ivy", "gus", "mel"].map(pid).to_vec());
        assert_eq!(slot.unknown, vec![pid("nox")]);
    }
    outputs.push(serde_json::to_string(&poll).unwrap());
    outputs.push(format!("{poll:?}"));

    // Each source's busy time arrived: the partner's view and a wider poll.
    let day = iv(MONDAY, MONDAY + 86_400);
    let mel = a.availability(&me("gus"), &pid("mel"), day).await.unwrap();
    assert_eq!(mel.unavailable, vec![iv(MONDAY + 15 * H, MONDAY + 16 * H)]);
    let admin = Actor::admin_on_behalf_of("coordinator", "gus");
    for (who, hour) in [("bob", 13), ("ivy", 10), ("gus", 9)] {
        let seen = a.availability(&admin, &pid(who), day).await.unwrap();
        assert_eq!(
            seen.unavailable,
            vec![iv(MONDAY + hour * H, MONDAY + (hour + 1) * H)],
            "{who}"
        );
        outputs.push(serde_json::to_string(&seen).unwrap());
        outputs.push(format!("{seen:?}"));
    }
    outputs.push(serde_json::to_string(&mel).unwrap());
    let mutual = a
        .mutual_slots(
            &me("mel"),
            &"gus-mel".into(),
            SlotRequest::new(Duration::from_secs(1800), day),
        )
        .await
        .unwrap();
    outputs.push(format!("{mutual:?}"));
    for p in people {
        let s = a.status(&pid(p)).await;
        outputs.push(format!("{s:?} {}", s.text()));
    }
    outputs.push(format!("{:?}", a.refresh(true).await));
    outputs.push(format!("{a:?}"));
    assert!(a.disconnect(&me("ivy"), &pid("ivy")).await.unwrap());
    drop(a);

    // Nothing of any calendar's content anywhere.
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("calendar connected"),
        "logging was captured: {logs}"
    );
    let mut db = Vec::new();
    for entry in std::fs::read_dir(world.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("assistant.sqlite3")
        {
            db.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(db.len() > 4096, "the database was written");
    let all = outputs.join("\n");
    for marker in MARKERS {
        assert!(!all.contains(marker), "{marker} in an output");
        assert!(!logs.contains(marker), "{marker} in the logs");
        assert!(
            !db.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{marker} in the database file"
        );
    }
    // Nor a secret.
    for secret in [
        "bobpw",
        "not-her-password",
        "ya29.gus-access",
        "1//gus-refresh",
        "M.mel-refresh",
    ] {
        assert!(
            !all.contains(secret) && !logs.contains(secret),
            "{secret} leaked"
        );
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in plain text"
        );
    }
}
