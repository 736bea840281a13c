//! Who may see what, over every actor kind, through the library and over
//! real HTTP: one table of expectations, asserted for every operation that
//! takes an actor. On the code before the access rule, the poll bypass
//! (any program member polling `["me", "sam"]`) and the status read by
//! anyone signed in were allowed; here they are refused.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, FreeBusy};
use common::{Counting, H, MONDAY, Validator, World, iv, week};
use credential_vault::SecretString;
use policy_rules::ParticipantHours;
use reqwest::StatusCode;
use scheduling_assistant::http::{HttpConfig, router};
use scheduling_assistant::{
    Actor, Assistant, AssistantError, Group, Invitees, Pair, Participant, ParticipantId, Program,
    ProgramId, Provider, SlotRequest,
};
use serde_json::{Value, json};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// The actor kinds, each with what they may do to `sam`.
struct Kind {
    name: &'static str,
    actor: Actor,
    /// Sign-in body over HTTP.
    sign_in: Value,
    /// Read sam's availability and status, be in a poll with sam.
    schedule: bool,
    /// See sam's details (connected account, provider reasons, email) and
    /// set or read sam's hours.
    detail: bool,
    /// See the pair sam–pat's slots.
    pair: bool,
    /// Poll the group sam and gil are in.
    group: bool,
}

fn kinds() -> Vec<Kind> {
    let participant = |name: &'static str, id: &'static str, schedule, pair, group| Kind {
        name,
        actor: Actor::participant(id),
        sign_in: json!({"participant": id}),
        schedule,
        detail: id == "sam",
        pair,
        group,
    };
    vec![
        participant("self", "sam", true, true, true),
        participant("partner", "pat", true, true, false),
        participant("ended partner", "eve", false, false, false),
        participant("group member", "gil", true, false, true),
        participant("other member of the program", "oli", false, false, false),
        participant("member of another program", "quinn", false, false, false),
        Kind {
            name: "program administrator",
            actor: Actor::program_admin("coordinator", ["p"]),
            sign_in: json!({"admin": "coordinator", "programs": ["p"]}),
            schedule: true,
            detail: true,
            pair: true,
            group: true,
        },
        Kind {
            name: "another program's administrator",
            actor: Actor::program_admin("coordinator", ["q"]),
            sign_in: json!({"admin": "coordinator", "programs": ["q"]}),
            schedule: false,
            detail: false,
            pair: false,
            group: false,
        },
        Kind {
            name: "global administrator",
            actor: Actor::global_admin("coordinator"),
            sign_in: json!({"admin": "coordinator"}),
            schedule: true,
            detail: true,
            pair: true,
            group: true,
        },
    ]
}

async fn world() -> (World, Assistant, Arc<Counting>) {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    for id in ["p", "q"] {
        a.add_program(
            Program::new(id, id.to_uppercase())
                .with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
        )
        .await
        .unwrap();
    }
    for id in ["sam", "pat", "eve", "gil", "oli"] {
        a.add_participant(
            Participant::new(id, id.to_uppercase(), format!("{id}@school.edu"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_participant(
        Participant::new("quinn", "QUINN", "quinn@school.edu", "UTC"),
        &[ProgramId::new("q")],
    )
    .await
    .unwrap();
    for (id, mentee) in [("sam-pat", "pat"), ("sam-eve", "eve")] {
        a.add_pair(Pair {
            id: id.into(),
            program: "p".into(),
            mentor: pid("sam"),
            mentee: pid(mentee),
        })
        .await
        .unwrap();
    }
    a.end_pair(&"sam-eve".into()).await.unwrap();
    a.add_group(Group {
        id: "circle".into(),
        program: "p".into(),
        name: "Circle".into(),
        members: vec![pid("sam"), pid("gil")],
    })
    .await
    .unwrap();
    a.connect_icloud(
        &Actor::participant("sam"),
        &pid("sam"),
        "sam.private@icloud.com",
        SecretString::new("abcd-efgh-ijkl-mnop".into()),
    )
    .await
    .unwrap();
    source.set(
        "sam@school.edu",
        FreeBusy::from_entries([(BusyKind::Busy, iv(MONDAY + 9 * H, MONDAY + 10 * H))]),
    );
    (world, a, source)
}

fn refused(r: &Result<impl std::fmt::Debug, AssistantError>) -> bool {
    matches!(
        r,
        Err(AssistantError::NotAllowed(_) | AssistantError::OnBehalfRefused { .. })
    )
}

fn request() -> SlotRequest {
    SlotRequest::new(Duration::from_secs(3600), week()).limit(3)
}

#[tokio::test]
async fn every_method_follows_the_one_table_for_every_actor() {
    let (_world, a, _source) = world().await;
    let sam = pid("sam");
    for k in kinds() {
        let who = k.name;
        let seen = a.availability(&k.actor, &sam, week()).await;
        assert_eq!(seen.is_ok(), k.schedule, "{who}: availability {seen:?}");
        assert!(k.schedule || refused(&seen), "{who}: {seen:?}");
        if let Ok(seen) = seen {
            assert_eq!(
                seen.unavailable,
                [iv(MONDAY + 9 * H, MONDAY + 10 * H)],
                "{who}"
            );
        }

        let status = a.status_for(&k.actor, &sam).await;
        assert_eq!(status.is_ok(), k.schedule, "{who}: status {status:?}");
        if let Ok(status) = &status {
            let text = status.text();
            assert_eq!(
                text.contains("sam.private@icloud.com"),
                k.detail,
                "{who}: {text}"
            );
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json.contains("sam.private"), k.detail, "{who}: {json}");
        }

        let slots = a.mutual_slots(&k.actor, &"sam-pat".into(), request()).await;
        assert_eq!(slots.is_ok(), k.pair, "{who}: slots {slots:?}");
        assert!(k.pair || refused(&slots), "{who}: {slots:?}");

        // A poll of a list: the caller (a participant) with sam; an
        // administrator invites sam and pat.
        let participants = match &k.actor {
            Actor::Participant(me) => vec![me.clone(), sam.clone()],
            _ => vec![sam.clone(), pid("pat")],
        };
        let list = Invitees::List {
            program: "p".into(),
            participants,
        };
        let poll = a.poll(&k.actor, &list, request().min_free(1)).await;
        let may_poll_list = k.schedule && who != "another program's administrator";
        assert_eq!(poll.is_ok(), may_poll_list, "{who}: poll {poll:?}");
        if who == "member of another program" {
            // Quinn is not even in program p: refused as invalid input.
            assert!(poll.is_err());
        } else if !may_poll_list {
            assert!(refused(&poll), "{who}: {poll:?}");
        }

        let group = a
            .poll(&k.actor, &Invitees::Group("circle".into()), request())
            .await;
        assert_eq!(group.is_ok(), k.group, "{who}: group poll {group:?}");
        assert!(k.group || refused(&group), "{who}: {group:?}");

        let hours = a.own_hours_for(&k.actor, &sam).await;
        assert_eq!(hours.is_ok(), k.detail, "{who}: hours {hours:?}");
        let set = a
            .set_own_hours(&k.actor, &sam, ParticipantHours::default())
            .await;
        assert_eq!(set.is_ok(), k.detail, "{who}: set hours {set:?}");

        // Connecting is the participant's own act, for everyone.
        let connect = a.begin_connect(&k.actor, &sam, Provider::Google).await;
        if who == "self" {
            // Google is not configured here: allowed, then not configured.
            assert!(matches!(
                connect,
                Err(AssistantError::ProviderNotConfigured(_))
            ));
        } else {
            assert!(refused(&connect), "{who}: connect {connect:?}");
        }
        if who != "self" {
            let off = a.disconnect(&k.actor, &sam).await;
            assert!(refused(&off), "{who}: disconnect {off:?}");
        }

        let listed = a.visible_participants(&k.actor).await;
        let sam_listed = listed.iter().find(|l| l.id == sam);
        assert_eq!(
            sam_listed.is_some(),
            k.schedule,
            "{who}: listing {listed:?}"
        );
        if let Some(l) = sam_listed {
            assert_eq!(l.email.is_some(), k.detail, "{who}: email {l:?}");
        }
        // Nobody outside their programs is listed to a program admin.
        if who == "program administrator" {
            assert!(listed.iter().all(|l| l.id.as_str() != "quinn"));
        }
    }
    assert!(a.has_secret(&sam).await, "nobody but sam disconnected sam");
}

#[tokio::test]
async fn others_see_reason_codes_the_participant_sees_the_detail() {
    let (_world, a, source) = world().await;
    // Gil's calendar fails with a provider message holding an address.
    a.connect_icloud(
        &Actor::participant("gil"),
        &pid("gil"),
        "gil@icloud.com",
        SecretString::new("abcd-efgh-ijkl-mnop".into()),
    )
    .await
    .unwrap();
    source.inner.fail(
        "gil@school.edu",
        availability::SourceError::Unavailable {
            message: "server of gil@icloud.com is down".into(),
            retry_after: None,
        },
    );
    let circle = Invitees::Group("circle".into());
    let by_sam = a
        .poll(&Actor::participant("sam"), &circle, request())
        .await
        .unwrap();
    assert_eq!(by_sam.problems.len(), 1);
    assert_eq!(
        by_sam.problems[0].reason,
        scheduling_assistant::REASON_UNREADABLE
    );
    let seen = a
        .availability(&Actor::participant("sam"), &pid("gil"), week())
        .await
        .unwrap();
    assert_eq!(
        seen.reason.as_deref(),
        Some(scheduling_assistant::REASON_UNREADABLE)
    );
    // Gil and the administrator see why.
    let by_gil = a
        .availability(&Actor::participant("gil"), &pid("gil"), week())
        .await
        .unwrap();
    assert!(by_gil.reason.unwrap().contains("is down"));
    let by_admin = a
        .poll(&Actor::program_admin("c", ["p"]), &circle, request())
        .await
        .unwrap();
    assert!(by_admin.problems[0].reason.contains("is down"));
}

#[tokio::test]
async fn the_switch_off_stops_connecting_reading_and_proposing() {
    let (_world, a, _source) = world().await;
    a.add_program(Program::new("off", "Off").with_policy_toml("scheduling_assistant = false"))
        .await
        .unwrap();
    for id in ["ada", "bo"] {
        a.add_participant(
            Participant::new(id, id, format!("{id}@school.edu"), "UTC"),
            &[ProgramId::new("off")],
        )
        .await
        .unwrap();
    }
    a.add_pair(Pair {
        id: "ada-bo".into(),
        program: "off".into(),
        mentor: pid("ada"),
        mentee: pid("bo"),
    })
    .await
    .unwrap();
    let ada = Actor::participant("ada");
    let off =
        |r: &Result<_, AssistantError>| matches!(r, Err(AssistantError::SchedulingDisabled(_)));
    let connect = a
        .connect_icloud(
            &ada,
            &pid("ada"),
            "ada@icloud.com",
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .map(|_| ());
    assert!(off(&connect), "{connect:?}");
    let seen = a.availability(&ada, &pid("bo"), week()).await.map(|_| ());
    assert!(off(&seen), "{seen:?}");
    let slots = a
        .mutual_slots(&ada, &"ada-bo".into(), request())
        .await
        .map(|_| ());
    assert!(off(&slots), "{slots:?}");
}

#[tokio::test]
async fn ending_and_deleting_end_visibility_at_once() {
    let (world, a, _source) = world().await;
    let pat = Actor::participant("pat");
    assert!(a.availability(&pat, &pid("sam"), week()).await.is_ok());
    a.end_pair(&"sam-pat".into()).await.unwrap();
    assert!(refused(&a.availability(&pat, &pid("sam"), week()).await));
    let history = a.pair_history();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|h| h.ended_at == MONDAY + 7 * H));

    // Out of the group: gil no longer sees sam.
    let gil = Actor::participant("gil");
    assert!(a.availability(&gil, &pid("sam"), week()).await.is_ok());
    a.remove_from_group(&"circle".into(), &pid("gil"))
        .await
        .unwrap();
    assert!(refused(&a.availability(&gil, &pid("sam"), week()).await));

    // Out of the program: the program's administrator no longer sees oli.
    let admin = Actor::program_admin("c", ["p"]);
    assert!(a.availability(&admin, &pid("oli"), week()).await.is_ok());
    a.remove_from_program(&pid("oli"), &"p".into())
        .await
        .unwrap();
    assert!(refused(&a.availability(&admin, &pid("oli"), week()).await));

    // Deleting sam leaves nothing of sam: no record, no secret, no row.
    assert!(a.delete_participant(&pid("sam")).await.unwrap());
    assert!(!a.has_secret(&pid("sam")).await);
    assert!(a.participant(&pid("sam")).is_err());
    assert!(a.pair_history().iter().all(|h| h.pair.mentor != pid("sam")));
    drop(a);
    let again = world.builder().await.build().await.unwrap();
    assert!(again.participant(&pid("sam")).is_err());
    let conn = rusqlite_rows(&world.path);
    for (table, row) in &conn {
        assert!(!row.contains("sam@school.edu"), "{table}: {row}");
        assert!(!row.contains("\"sam\"") && row != "sam", "{table}: {row}");
    }
    for entry in std::fs::read_dir(world.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in ["sam@school.edu", "sam.private@icloud.com", "sam-pat"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} is still in the database's bytes"
            );
        }
    }
}

/// Every text cell of every table of the SQLite file, as `(table, cell)`.
fn rusqlite_rows(path: &std::path::Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let mut s = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = s.column_count();
        let mut rows = s.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let Ok(v) = row.get::<_, String>(i) {
                    out.push((t.clone(), v));
                }
            }
        }
    }
    out
}

// ---- over real HTTP ----

struct Server {
    base: String,
    task: tokio::task::JoinHandle<()>,
    _world: World,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (world, a, _source) = world().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a, HttpConfig::demo(Default::default()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base,
        task,
        _world: world,
    }
}

async fn session(base: &str, who: &Value) -> (reqwest::Client, String) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/session"))
        .json(who)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{who}: {}", r.status());
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (http, cookie)
}

async fn call(
    http: &reqwest::Client,
    cookie: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = http.request(method, url).header("cookie", cookie);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_route_follows_the_same_table_over_http() {
    let server = serve().await;
    let base = &server.base;
    const WEEK: &str = "from=2026-03-02T00:00:00Z&to=2026-03-07T00:00:00Z";
    use reqwest::Method as M;
    for k in kinds() {
        let who = k.name;
        let (http, cookie) = session(base, &k.sign_in).await;
        // The routes the table decides alone: allowed answers 2xx, refused
        // 403.
        let icloud =
            json!({"apple_id": "sam.private@icloud.com", "app_password": "abcd-efgh-ijkl-mnop"});
        let routes = [
            (
                M::GET,
                format!("/api/participants/sam/availability?{WEEK}"),
                None,
                k.schedule,
            ),
            (
                M::GET,
                "/api/participants/sam/status".to_owned(),
                None,
                k.schedule,
            ),
            (
                M::GET,
                format!("/api/pairs/sam-pat/slots?{WEEK}&duration=60m"),
                None,
                k.pair,
            ),
            (
                M::PUT,
                "/api/participants/sam/hours".to_owned(),
                Some(json!({})),
                k.detail,
            ),
            (
                M::GET,
                "/api/participants/sam/hours".to_owned(),
                None,
                k.detail,
            ),
            (
                M::POST,
                "/api/participants/sam/connect/icloud".to_owned(),
                Some(icloud),
                who == "self",
            ),
        ];
        for (method, route, body, allowed) in routes {
            let (s, answer) = call(
                &http,
                &cookie,
                method.clone(),
                format!("{base}{route}"),
                body,
            )
            .await;
            let expected = if allowed {
                s.is_success()
            } else {
                s == StatusCode::FORBIDDEN
            };
            assert!(expected, "{who}: {method} {route}: {s} {answer}");
            if route.ends_with("/status") {
                assert_eq!(
                    answer.to_string().contains("sam.private"),
                    k.detail,
                    "{who}: {answer}"
                );
            }
        }

        let me = k.sign_in["participant"].as_str().unwrap_or("pat");
        let (s, body) = call(
            &http,
            &cookie,
            M::POST,
            format!("{base}/api/polls"),
            Some(json!({
                "program": "p", "invitees": [me, "sam"], "duration": "60m",
                "from": "2026-03-02T00:00:00Z", "to": "2026-03-07T00:00:00Z", "min_free": 1
            })),
        )
        .await;
        let may_poll_list = k.schedule && who != "another program's administrator";
        if may_poll_list {
            assert!(s.is_success(), "{who}: {s} {body}");
        } else {
            assert!(s.is_client_error(), "{who}: {s} {body}");
            assert!(
                !body.to_string().contains("unavailable\":[{"),
                "{who}: {body}"
            );
        }

        let (s, list) = call(
            &http,
            &cookie,
            M::GET,
            format!("{base}/api/participants"),
            None,
        )
        .await;
        assert!(s.is_success(), "{who}: {s}");
        let sam = list.as_array().unwrap().iter().find(|p| p["id"] == "sam");
        assert_eq!(sam.is_some(), k.schedule, "{who}: {list}");
        if let Some(sam) = sam {
            assert_eq!(sam.get("email").is_some(), k.detail, "{who}: {sam}");
        }
    }
}
