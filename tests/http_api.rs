//! The HTTP API over real HTTP on loopback: sessions, connect (iCloud form,
//! Google's redirect and callback), status, availability, slots, polls,
//! the error contract (400/401/403/404, never a 500 for input), and the
//! OpenAPI document checked against the routes.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, FreeBusy};
use common::{Counting, H, MONDAY, Validator, World, iv};
use google_provider::{GoogleOAuth, OAuthConfig};
use reqwest::StatusCode;
use scheduling_assistant::GoogleConnector;
use scheduling_assistant::http::{HttpConfig, openapi, router, routes};
use scheduling_assistant::{
    Assistant, Group, Pair, Participant, ParticipantId, Program, ProgramId, Provider,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Server {
    base: String,
    source: Arc<Counting>,
    /// The assistant behind the router (for records a test adds).
    assistant: Assistant,
    _world: World,
    _oauth: MockServer,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let oauth_server = MockServer::start().await;
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("code=good"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.x", "expires_in": 3599, "refresh_token": "1//r", "token_type": "Bearer"
        })))
        .mount(&oauth_server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&oauth_server)
        .await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let oauth = GoogleOAuth::new(
        OAuthConfig::new("c", None, "http://127.0.0.1/api/oauth/callback").with_endpoints(
            format!("{}/auth", oauth_server.uri()),
            format!("{}/token", oauth_server.uri()),
            format!("{}/revoke", oauth_server.uri()),
        ),
    )
    .unwrap();
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .source(Provider::Google, source.clone())
        .oauth(Provider::Google, Arc::new(GoogleConnector(Arc::new(oauth))))
        .caldav_validator(Arc::new(Validator(None)))
        .invitations(Arc::new(common::Recorder::default()))
        .build()
        .await
        .unwrap();
    a.add_program(
        Program::new("p", "P").with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    for id in ["mia", "max", "zoe", "c1", "c2"] {
        a.add_participant(
            Participant::new(id, id.to_uppercase(), format!("{id}@example.org"), "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_pair(Pair {
        id: "mia-max".into(),
        program: "p".into(),
        mentor: "mia".into(),
        mentee: "max".into(),
    })
    .await
    .unwrap();
    a.add_group(Group {
        id: "g".into(),
        program: "p".into(),
        name: "G".into(),
        members: ["mia", "c1", "c2"].map(ParticipantId::new).to_vec(),
    })
    .await
    .unwrap();
    source.set(
        "mia@example.org",
        FreeBusy::from_entries([(BusyKind::OutOfOffice, iv(MONDAY + 9 * H, MONDAY + 11 * H))]),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a.clone(), HttpConfig::demo(Default::default()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base,
        source,
        assistant: a,
        _world: world,
        _oauth: oauth_server,
        task,
    }
}

/// A client holding one session cookie.
struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookie: None,
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn sign_in(&mut self, who: Value) -> StatusCode {
        let response = self
            .http
            .post(format!("{}/api/session", self.base))
            .json(&who)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if let Some(c) = response.headers().get("set-cookie") {
            let c = c.to_str().unwrap();
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
            self.cookie = Some(c.split(';').next().unwrap().to_owned());
        }
        status
    }
}

fn kind(body: &Value) -> &str {
    body["error"]["kind"].as_str().unwrap_or("")
}

const WEEK: &str = "from=2026-03-02T00:00:00Z&to=2026-03-07T00:00:00Z";

#[tokio::test]
async fn a_participant_connects_sees_a_partner_and_polls_over_http() {
    let server = start().await;
    let mut anon = Client::new(&server);
    let (status, body) = anon.send("GET", "/api/me", None).await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
    assert_eq!(
        anon.sign_in(json!({"participant": "ghost"})).await,
        StatusCode::NOT_FOUND
    );

    let mut mia = Client::new(&server);
    assert_eq!(
        mia.sign_in(json!({"participant": "mia"})).await,
        StatusCode::OK
    );
    let (status, me) = mia.send("GET", "/api/me", None).await;
    assert_eq!(
        (status, me["participant"].as_str()),
        (StatusCode::OK, Some("mia"))
    );
    let (_, s) = mia.send("GET", "/api/participants/mia/status", None).await;
    assert_eq!(s["text"], "Your calendar is not connected");
    assert_eq!(s["status"]["state"], "not_connected");
    let (status, body) = mia
        .send(
            "POST",
            "/api/participants/mia/connect/icloud",
            Some(json!({"apple_id": "mia@icloud.com"})),
        )
        .await;
    assert_eq!((status, kind(&body)), (StatusCode::BAD_REQUEST, "invalid"));
    let (status, body) = mia
        .send(
            "POST",
            "/api/participants/mia/connect/icloud",
            Some(json!({"apple_id": "mia@icloud.com", "app_password": "abcd-efgh-ijkl-mnop"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["text"],
        "Your iCloud calendar (mia@icloud.com) is connected"
    );
    assert_eq!(body["status"]["account"], "mia@icloud.com");
    assert!(!body.to_string().contains("abcd-efgh"));

    let mut max = Client::new(&server);
    max.sign_in(json!({"participant": "max"})).await;
    // Her partner sees that she is connected, not which account.
    let (status, hers) = max.send("GET", "/api/participants/mia/status", None).await;
    assert_eq!(status, StatusCode::OK, "{hers}");
    assert_eq!(hers["text"], "Your iCloud calendar is connected");
    assert!(!hers.to_string().contains("mia@icloud.com"), "{hers}");
    let (status, seen) = max
        .send(
            "GET",
            &format!("/api/participants/mia/availability?{WEEK}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["unavailable"],
        json!([{"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T11:00:00Z"}])
    );
    assert!(!seen.to_string().contains("out_of_office"), "times only");
    let (status, slots) = max
        .send(
            "GET",
            &format!("/api/pairs/mia-max/slots?{WEEK}&duration=60m&limit=2"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{slots}");
    assert_eq!(
        slots["connected_text"],
        "1 of 2 invitees have connected a calendar"
    );
    assert_eq!(
        slots["slots"][0]["interval"]["start"],
        "2026-03-02T08:00:00Z"
    );
    assert_eq!(slots["slots"][0]["unknown"], json!(["max"]));

    // Zoe is nobody's partner.
    let mut zoe = Client::new(&server);
    zoe.sign_in(json!({"participant": "zoe"})).await;
    let (status, body) = zoe
        .send(
            "GET",
            &format!("/api/participants/mia/availability?{WEEK}"),
            None,
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "not_allowed")
    );

    // A poll by a group member.
    let (status, poll) = mia
        .send(
            "POST",
            "/api/polls",
            Some(json!({"group": "g", "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z", "duration": "1h", "slots": 3, "min_free": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{poll}");
    assert_eq!(
        poll["connected_text"],
        "1 of 3 invitees have connected a calendar"
    );
    assert_eq!(poll["slots"].as_array().unwrap().len(), 3);
    // Stored: answered by another member, seen by its creator, booked once.
    let id = poll["id"].as_str().unwrap().to_owned();
    assert_eq!(poll["poll"]["status"], "open");
    let mut c1 = Client::new(&server);
    c1.sign_in(json!({"participant": "c1"})).await;
    let (_, mine) = c1.send("GET", "/api/polls", None).await;
    assert_eq!(mine[0]["waiting"], true, "{mine}");
    let (status, view) = c1
        .send(
            "PUT",
            &format!("/api/polls/{id}/answers"),
            Some(
                json!({"answers": [{"slot": 0, "vote": "yes"}, {"slot": 2, "vote": "if_need_be"}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["slots"][0]["mine"], "yes");
    assert!(
        view["slots"][0].get("answers").is_none(),
        "counts only: {view}"
    );
    let (status, body) = c1
        .send(
            "PUT",
            &format!("/api/polls/{id}/answers"),
            Some(json!({"answers": [{"slot": 0, "vote": "maybe"}]})),
        )
        .await;
    assert_eq!((status, kind(&body)), (StatusCode::BAD_REQUEST, "invalid"));
    let (status, body) = zoe.send("GET", &format!("/api/polls/{id}"), None).await;
    assert_eq!((status, kind(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (_, view) = mia.send("GET", &format!("/api/polls/{id}"), None).await;
    assert_eq!(view["slots"][0]["answers"], json!([["c1", "yes"]]));
    assert_eq!(view["slots"][0]["counts"]["yes"], 1);
    assert!(
        view["slots"][0]["availability"]["unknown"].is_array(),
        "{view}"
    );
    let (status, body) = c1
        .send(
            "POST",
            &format!("/api/polls/{id}/booking"),
            Some(json!({"slot": 0})),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "not_allowed")
    );
    let (status, booking) = mia
        .send(
            "POST",
            &format!("/api/polls/{id}/booking"),
            Some(json!({"slot": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    assert_eq!(booking["via"], "email");
    assert_eq!(booking["sequence"], 0);
    let (status, body) = mia
        .send(
            "POST",
            &format!("/api/polls/{id}/booking"),
            Some(json!({"slot": 1})),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::CONFLICT, "poll_not_open")
    );
    let (status, body) = c1
        .send(
            "PUT",
            &format!("/api/polls/{id}/answers"),
            Some(json!({"answers": [{"slot": 1, "vote": "no"}]})),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::CONFLICT, "poll_not_open")
    );
    let booking_id = booking["id"].as_str().unwrap();
    let (_, listed) = c1.send("GET", "/api/bookings", None).await;
    assert_eq!(listed[0]["id"], booking_id);
    let (status, cancelled) = mia
        .send("DELETE", &format!("/api/bookings/{booking_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(
        (cancelled["booked"].clone(), cancelled["sequence"].clone()),
        (json!(false), json!(1))
    );
    let (status, body) = zoe
        .send(
            "POST",
            "/api/polls",
            Some(
                json!({"group": "g", "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "not_allowed")
    );
    let (_, pairs) = max.send("GET", "/api/pairs", None).await;
    assert_eq!(pairs.as_array().unwrap().len(), 1);
    let (_, groups) = max.send("GET", "/api/groups", None).await;
    assert_eq!(groups, json!([]));

    // Disconnect, then the partner's times are unknown.
    let (status, body) = mia
        .send("DELETE", "/api/participants/mia/connection", None)
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"disconnected": true}))
    );
    let (_, seen) = max
        .send(
            "GET",
            &format!("/api/participants/mia/availability?{WEEK}"),
            None,
        )
        .await;
    assert_eq!(seen["known"], false);
    // Once for the reads through the cache, once for the booking's fresh
    // re-check.
    assert_eq!(server.source.asked("mia@example.org"), 2);
    // Sign out ends the session.
    assert_eq!(
        mia.send("DELETE", "/api/session", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        mia.send("GET", "/api/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_administrator_on_behalf_cannot_connect_or_disconnect() {
    let server = start().await;
    let mut admin = Client::new(&server);
    assert_eq!(
        admin
            .sign_in(json!({"admin": "intruder", "on_behalf_of": "max"}))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin
            .sign_in(json!({"admin": "coordinator", "on_behalf_of": "max"}))
            .await,
        StatusCode::OK
    );
    for provider in ["icloud", "google"] {
        let (status, body) = admin
            .send(
                "POST",
                &format!("/api/participants/max/connect/{provider}"),
                Some(json!({"apple_id": "max@icloud.com", "app_password": "x"})),
            )
            .await;
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::FORBIDDEN, "on_behalf_refused"),
            "{provider}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("only max can connect")
        );
    }
    let (status, body) = admin
        .send("DELETE", "/api/participants/max/connection", None)
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "on_behalf_refused")
    );
    // Reading availability on their behalf is allowed.
    let (status, _) = admin
        .send(
            "GET",
            &format!("/api/participants/mia/availability?{WEEK}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn google_connects_through_the_redirect_and_the_callback() {
    let server = start().await;
    let mut max = Client::new(&server);
    max.sign_in(json!({"participant": "max"})).await;
    let (status, started) = max
        .send("POST", "/api/participants/max/connect/google", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let url = started["authorization_url"].as_str().unwrap();
    assert!(url.contains("code_challenge_method=S256") && url.contains("access_type=offline"));
    let state = url
        .split('&')
        .find_map(|kv| kv.split_once("state=").map(|(_, v)| v))
        .unwrap();

    // Declined, forged, without a session, then the real callback in the
    // session that began it.
    let anon = Client::new(&server);
    let (status, page) = anon
        .send("GET", "/api/oauth/callback?error=access_denied", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.as_str().unwrap().contains("access_denied"));
    let (status, _) = max
        .send("GET", "/api/oauth/callback?state=forged&code=good", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = anon
        .send(
            "GET",
            &format!("/api/oauth/callback?state={state}&code=good"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no session, nothing done");
    let (status, _) = max
        .send(
            "GET",
            &format!("/api/oauth/callback?state={state}&code=good"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, s) = max.send("GET", "/api/participants/max/status", None).await;
    assert_eq!(s["text"], "Your Google calendar is connected");
    // Used up.
    let (status, _) = max
        .send(
            "GET",
            &format!("/api/oauth/callback?state={state}&code=good"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_never_a_500() {
    let server = start().await;
    let mut mia = Client::new(&server);
    mia.sign_in(json!({"participant": "mia"})).await;
    let cases: Vec<(&str, String, Option<Value>, StatusCode)> = vec![
        ("GET", "/api/participants/ghost/status".into(), None, StatusCode::NOT_FOUND),
        ("GET", "/api/pairs/ghost/slots?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z".into(), None, StatusCode::NOT_FOUND),
        ("GET", "/api/participants/max/availability".into(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/participants/max/availability?from=yesterday&to=today".into(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/participants/max/availability?from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z".into(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/participants/max/availability?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z".into(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/participants/max/availability?from=-999999-01-01T00:00:00Z&to=2026-01-01T00:00:00Z".into(), None, StatusCode::BAD_REQUEST),
        ("GET", format!("/api/pairs/mia-max/slots?{WEEK}&duration=0m"), None, StatusCode::BAD_REQUEST),
        ("GET", format!("/api/pairs/mia-max/slots?{WEEK}&duration=7s"), None, StatusCode::BAD_REQUEST),
        ("GET", format!("/api/pairs/mia-max/slots?{WEEK}&limit=-1"), None, StatusCode::BAD_REQUEST),
        ("GET", format!("/api/pairs/mia-max/slots?{WEEK}&bogus=1"), None, StatusCode::BAD_REQUEST),
        ("POST", "/api/participants/mia/connect/yahoo".into(), None, StatusCode::BAD_REQUEST),
        ("POST", "/api/participants/mia/connect/icloud".into(), Some(json!({"apple_id": 5})), StatusCode::BAD_REQUEST),
        ("POST", "/api/participants/mia/connect/icloud".into(), Some(json!({"apple_id": "a", "app_password": "b", "x": 1})), StatusCode::BAD_REQUEST),
        ("POST", "/api/polls".into(), Some(json!({})), StatusCode::BAD_REQUEST),
        ("POST", "/api/polls".into(), Some(json!({"group": "g", "program": "p", "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"})), StatusCode::BAD_REQUEST),
        ("POST", "/api/polls".into(), Some(json!({"group": "nope", "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"})), StatusCode::NOT_FOUND),
        ("POST", "/api/polls".into(), Some(json!({"program": "p", "invitees": ["mia", "ghost"], "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"})), StatusCode::NOT_FOUND),
        ("POST", "/api/polls".into(), Some(json!([1, 2, 3])), StatusCode::BAD_REQUEST),
        ("POST", "/api/session".into(), Some(json!({"participant": "mia", "admin": "coordinator"})), StatusCode::BAD_REQUEST),
        ("GET", "/api/nothing-here".into(), None, StatusCode::NOT_FOUND),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = mia.send(method, &path, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert!(
            answer["error"]["kind"].is_string(),
            "{method} {path}: {answer}"
        );
    }
    // Raw bodies that are not JSON at all.
    for raw in ["{", "null", "\u{0}\u{1}", &"[".repeat(10_000)] {
        let r = reqwest::Client::new()
            .post(format!("{}/api/polls", server.base))
            .header("cookie", mia.cookie.clone().unwrap())
            .header("content-type", "application/json")
            .body(raw.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{raw:.20}");
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let server = start().await;
    let doc = openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let routes = routes();
    let api: BTreeSet<(String, String)> = routes
        .iter()
        .filter(|(_, p)| p.starts_with("/api/") || *p == "/openapi.json")
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, api);
    // Every $ref resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let (section, name) = target.split_once('/').unwrap();
        assert!(doc["components"][section][name].is_object(), "{target}");
    }
    // The server serves it, and every listed route exists on the router.
    let mut client = Client::new(&server);
    client.sign_in(json!({"participant": "mia"})).await;
    let (status, served) = client.send("GET", "/openapi.json", None).await;
    assert_eq!((status, &served), (StatusCode::OK, &doc));
    for (method, p) in &routes {
        let concrete = p.replace("{id}", "mia").replace("{provider}", "icloud");
        let (status, body) = client.send(method, &concrete, None).await;
        assert_ne!(kind(&body), "no_route", "{method} {p}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {p}");
        assert!(status.as_u16() < 500, "{method} {p}: {status} {body}");
    }
}

#[tokio::test]
async fn own_hours_are_set_and_read_over_http_by_the_participant_only() {
    let server = start().await;
    let mut mia = Client::new(&server);
    mia.sign_in(json!({"participant": "mia"})).await;
    let hours = json!({"weekly": {"mon": [{"start": "09:00", "end": "12:00"}]}, "dates": {"2026-03-13": []}});
    let (status, body) = mia
        .send("PUT", "/api/participants/mia/hours", Some(hours.clone()))
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &hours));
    let (status, body) = mia.send("GET", "/api/participants/mia/hours", None).await;
    assert_eq!((status, &body), (StatusCode::OK, &hours));
    // A range that ends before it starts, an unknown day, another
    // participant's hours: refused, never a 500.
    let (status, body) = mia
        .send(
            "PUT",
            "/api/participants/mia/hours",
            Some(json!({"weekly": {"tue": [{"start": "12:00", "end": "09:00"}]}})),
        )
        .await;
    assert_eq!((status, kind(&body)), (StatusCode::BAD_REQUEST, "invalid"));
    let (status, _) = mia
        .send(
            "PUT",
            "/api/participants/mia/hours",
            Some(json!({"weekly": {"someday": []}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut max = Client::new(&server);
    max.sign_in(json!({"participant": "max"})).await;
    let (status, body) = max
        .send("PUT", "/api/participants/mia/hours", Some(json!({})))
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "not_allowed")
    );
    let (_, body) = mia.send("GET", "/api/participants/mia/hours", None).await;
    assert_eq!(body, hours, "unchanged");
}

impl Client {
    /// A page: its status and HTML.
    async fn page(&self, path: &str) -> (StatusCode, String) {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        let response = r.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Posts a page's form (`body` url-encoded): the status, the
    /// `Location` (if any) and the body.
    async fn post_form(&self, path: &str, body: &str) -> (StatusCode, String, String) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// The form token the home page's forms carry for this session.
    async fn csrf(&self) -> String {
        let (status, page) = self.page("/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let tokens: BTreeSet<&str> = page
            .split("name=\"csrf\" value=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert_eq!(tokens.len(), 1, "one token a session: {page}");
        tokens.into_iter().next().unwrap().to_owned()
    }
}

#[tokio::test]
async fn the_page_edits_own_hours_through_its_form() {
    let server = start().await;
    let mut mia = Client::new(&server);
    mia.sign_in(json!({"participant": "mia"})).await;
    let mut max = Client::new(&server);
    max.sign_in(json!({"participant": "max"})).await;
    let token = mia.csrf().await;
    let form = "mon=09%3A00-12%3A00%2C+14%3A00-17%3A00&tue=&off=2026-03-13";
    let (_, before) = mia.send("GET", "/api/participants/mia/hours", None).await;
    // Without the token, or with another session's: refused, unchanged.
    for csrf in [String::new(), format!("&csrf={}", max.csrf().await)] {
        let (status, _, page) = mia.post_form("/hours", &format!("{form}{csrf}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(page.contains("id=\"error\""), "{page}");
        let (_, after) = mia.send("GET", "/api/participants/mia/hours", None).await;
        assert_eq!(after, before);
    }
    let (status, location, _) = mia
        .post_form("/hours", &format!("{form}&csrf={token}"))
        .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    let (_, hours) = mia.send("GET", "/api/participants/mia/hours", None).await;
    assert_eq!(
        hours,
        json!({"weekly": {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "17:00"}]},
               "dates": {"2026-03-13": []}})
    );
    // The home page shows them back in the form.
    let (_, page) = mia.page("/").await;
    assert!(
        page.contains("value=\"09:00-12:00, 14:00-17:00\""),
        "{page}"
    );
    assert!(page.contains("value=\"2026-03-13\""), "{page}");
    // Nonsense is a 400 page, and changes nothing.
    let (status, _, _) = mia
        .post_form("/hours", &format!("mon=nine-ish&csrf={token}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, after) = mia.send("GET", "/api/participants/mia/hours", None).await;
    assert_eq!(after, hours);
}

#[tokio::test]
async fn page_posts_need_the_sessions_own_form_token() {
    let server = start().await;
    let mut mia = Client::new(&server);
    mia.sign_in(json!({"participant": "mia"})).await;
    let mut max = Client::new(&server);
    max.sign_in(json!({"participant": "max"})).await;
    let (status, body) = mia
        .send(
            "POST",
            "/api/participants/mia/connect/icloud",
            Some(json!({"apple_id": "mia@icloud.com", "app_password": "abcd-efgh-ijkl-mnop"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = mia.csrf().await;
    let theirs = max.csrf().await;
    assert_ne!(token, theirs);
    let connected = "Your iCloud calendar (mia@icloud.com) is connected";
    let status_text = || async {
        let (_, s) = mia.send("GET", "/api/participants/mia/status", None).await;
        s["text"].as_str().unwrap().to_owned()
    };
    // Each state-changing form, without a token and with max's: 403, and
    // nothing done.
    let forms = [
        ("/disconnect", String::new()),
        (
            "/connect/icloud",
            "apple_id=eve%40icloud.com&app_password=abcd-efgh-ijkl-mnop&return_to=%2F".to_owned(),
        ),
        ("/connect/google", "return_to=%2F".to_owned()),
        ("/polls", "group=g&duration=60m&start=2026-03-02".to_owned()),
        ("/logout", String::new()),
    ];
    for (path, form) in &forms {
        for csrf in ["", "csrf=", &format!("csrf={theirs}")] {
            let body = [form.as_str(), csrf]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("&");
            let (status, location, page) = mia.post_form(path, &body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{path} {body}: {location} {page}"
            );
            assert!(page.contains("reload and try again"), "{path}: {page}");
        }
    }
    assert_eq!(status_text().await, connected);
    let (_, polls) = mia.send("GET", "/api/polls", None).await;
    assert_eq!(polls, json!([]));
    assert_eq!(mia.send("GET", "/api/me", None).await.0, StatusCode::OK);
    // Answering and booking a poll too.
    let (status, poll) = mia
        .send(
            "POST",
            "/api/polls",
            Some(json!({"group": "g", "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z", "duration": "1h", "slots": 2, "min_free": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{poll}");
    let id = poll["id"].as_str().unwrap();
    let (status, _, _) = mia
        .post_form(&format!("/polls/{id}/answers"), "slot-0=yes")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = mia
        .post_form(
            &format!("/polls/{id}/book"),
            &format!("slot=0&csrf={theirs}"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, view) = mia.send("GET", &format!("/api/polls/{id}"), None).await;
    assert_eq!(view["slots"][0]["counts"]["yes"], 0, "{view}");
    assert_eq!(view["status"], "open", "{view}");
    // The poll page's forms carry the same token, and work with it.
    let (_, page) = mia.page(&format!("/polls/{id}")).await;
    assert!(
        page.contains(&format!("name=\"csrf\" value=\"{token}\"")),
        "{page}"
    );
    let (status, _, _) = mia
        .post_form(
            &format!("/polls/{id}/answers"),
            &format!("slot-0=yes&csrf={token}"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, view) = mia.send("GET", &format!("/api/polls/{id}"), None).await;
    assert_eq!(view["slots"][0]["counts"]["yes"], 1, "{view}");
    // With her own token, disconnect and sign-out work.
    let (status, location, _) = mia.post_form("/disconnect", &format!("csrf={token}")).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert_eq!(status_text().await, "Your calendar is not connected");
    let (status, _, _) = mia.post_form("/logout", &format!("csrf={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        mia.send("GET", "/api/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_page_shows_only_allowed_providers_escapes_names_and_returns_to_its_page() {
    let server = start().await;
    let a = &server.assistant;
    a.add_program(
        Program::new("q", "Q")
            .with_policy_toml("scheduling_assistant = true\nproviders = [\"icloud\"]"),
    )
    .await
    .unwrap();
    let odd = "<script>alert(\"x\")</script> O'Neil & \"Q\"";
    a.add_participant(
        Participant::new("odd", odd, "odd@example.org", "UTC"),
        &[ProgramId::new("q")],
    )
    .await
    .unwrap();
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O'Neil &amp; &quot;Q&quot;";
    // The demo's sign-in lists them, escaped.
    let anon = Client::new(&server);
    let (status, page) = anon.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(escaped), "{page}");
    assert!(!page.contains("<script"), "{page}");

    // Their program allows iCloud only: no Google button, though the
    // service has Google configured.
    let mut them = Client::new(&server);
    them.sign_in(json!({"participant": "odd"})).await;
    let (_, page) = them.page("/").await;
    assert!(
        page.contains(&format!("<span id=\"who\">{escaped}</span>")),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("id=\"connect-icloud\""), "{page}");
    assert!(!page.contains("id=\"connect-google\""), "{page}");
    assert!(!page.contains("id=\"connect-microsoft\""), "{page}");

    // Mia's allows all three; Microsoft is not configured here.
    let mut mia = Client::new(&server);
    mia.sign_in(json!({"participant": "mia"})).await;
    let (_, page) = mia.page("/").await;
    assert!(page.contains("id=\"connect-google\""), "{page}");
    assert!(page.contains("id=\"connect-icloud\""), "{page}");
    assert!(!page.contains("id=\"connect-microsoft\""), "{page}");
    assert!(
        page.contains("<input type=\"hidden\" name=\"return_to\" value=\"/\">"),
        "{page}"
    );

    // The connect form's `return_to` is where the callback lands; only
    // the service's own pages.
    let token = mia.csrf().await;
    let (status, _, _) = mia
        .post_form(
            "/connect/google",
            &format!("csrf={token}&return_to=https%3A%2F%2Fevil.example%2F"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, location, _) = mia
        .post_form(
            "/connect/google",
            &format!("csrf={token}&return_to=%2Fadmin"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let state = location
        .split('&')
        .find_map(|kv| kv.split_once("state=").map(|(_, v)| v))
        .unwrap();
    let r = mia
        .http
        .get(format!(
            "{}/api/oauth/callback?state={state}&code=good",
            mia.base
        ))
        .header("cookie", mia.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin");
    let (_, s) = mia.send("GET", "/api/participants/mia/status", None).await;
    assert_eq!(s["text"], "Your Google calendar is connected");
}

#[tokio::test]
async fn without_the_demo_sign_in_the_page_says_to_sign_in_through_the_service() {
    let server = start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(server.assistant.clone(), HttpConfig::default());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Sign in through your service"), "{page}");
    assert!(
        !page.contains("sign-in-mia") && !page.contains("action=\"/session\""),
        "{page}"
    );
    let r = reqwest::Client::new()
        .post(format!("{base}/session"))
        .form(&[("participant", "mia")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("set-cookie").is_none());
    task.abort();
}
