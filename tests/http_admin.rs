//! The administrator API and page over real HTTP on loopback: policies
//! changed at run time and seen by a second instance on the same SQLite
//! file (invalid ones refused with nothing changed), the access rule
//! (global administrators, program administrators scoped to their
//! programs, participants refused everywhere), each program's connections
//! report, and organisation integrations enabled and disabled through the
//! API and the page's forms against the wiremock Google Workspace and the
//! EWS double (a 409 for the second Exchange kind).
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{FreeBusy, SourceError};
use common::{Counting, Validator, World};
use ews_provider::test_support::AvailabilityDouble;
use google_provider::{GoogleOAuth, OAuthConfig};
use reqwest::StatusCode;
use scheduling_assistant::http::{DemoConfig, HttpConfig, router, routes};
use scheduling_assistant::{
    Actor, Assistant, GoogleConnector, OrgAuth, Participant, ParticipantId, PolicyLayer, Program,
    ProgramId, Provider, SecretString, Store,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// An assistant on `world`'s SQLite file with organisation integrations,
/// `source` for iCloud and Google, and Google OAuth on `oauth` if given.
async fn assistant(
    world: &World,
    source: &Arc<Counting>,
    oauth: Option<&MockServer>,
    org_policy: Option<PolicyLayer>,
) -> Assistant {
    let vault = world.vault();
    let org = Arc::new(OrgAuth::new(vault.clone(), world.clock.clone()));
    let mut builder = Assistant::builder()
        .store(Store::open_sqlite(&world.path).await.unwrap())
        .vault(vault)
        .clock(world.clock.clone())
        .org_auth(org)
        .source(Provider::Icloud, source.clone())
        .source(Provider::Google, source.clone())
        .caldav_validator(Arc::new(Validator(None)));
    if let Some(server) = oauth {
        let google = GoogleOAuth::new(
            OAuthConfig::new("c", None, "http://127.0.0.1/api/oauth/callback").with_endpoints(
                format!("{}/auth", server.uri()),
                format!("{}/token", server.uri()),
                format!("{}/revoke", server.uri()),
            ),
        )
        .unwrap();
        builder = builder.oauth(
            Provider::Google,
            Arc::new(GoogleConnector(Arc::new(google))),
        );
    }
    if let Some(layer) = org_policy {
        builder = builder.org_policy(layer);
    }
    builder.build().await.unwrap()
}

/// Programs `p` (ana, ben, cat, dan of the school, eve) and `q` (quinn).
async fn seed(a: &Assistant) {
    a.add_program(Program::new("p", "Mentoring").with_policy_toml("scheduling_assistant = true"))
        .await
        .unwrap();
    a.add_program(Program::new("q", "Coaching")).await.unwrap();
    for (id, email) in [
        ("ana", "ana@example.org"),
        ("ben", "ben@example.org"),
        ("cat", "cat@example.org"),
        ("dan", "dan@school.example"),
        ("eve", "eve@example.org"),
    ] {
        a.add_participant(
            Participant::new(id, id.to_uppercase(), email, "UTC"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
    }
    a.add_participant(
        Participant::new("quinn", "QUINN", "quinn@example.org", "UTC"),
        &[ProgramId::new("q")],
    )
    .await
    .unwrap();
}

struct Server {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(a: Assistant) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a, HttpConfig::demo(DemoConfig::default()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { base, task }
}

/// A client holding one session cookie.
struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Client {
    async fn signed_in(server: &Server, who: Value) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = http
            .post(format!("{}/api/session", server.base))
            .json(&who)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{who}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        Self {
            http,
            base: server.base.clone(),
            cookie,
        }
    }

    fn anonymous(server: &Server) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            cookie: None,
        }
    }

    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        r
    }

    /// A JSON call; the answer's status, its text and its JSON.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, Value) {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, text, json)
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, json) = self.call(method, path, body).await;
        (status, json)
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.request("GET", path).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Posts a form; the status, the redirect target and the body.
    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let response = self
            .request("POST", path)
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// The form token in the administrator page.
    async fn csrf(&self) -> String {
        let (status, html) = self.page("/admin").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
        html[start..][..html[start..].find('"').unwrap()].to_owned()
    }
}

fn kind(body: &Value) -> &str {
    body["error"]["kind"].as_str().unwrap_or("")
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

fn global() -> Value {
    json!({"admin": "coordinator"})
}

/// The organisation's layer and a program's policy change at run time;
/// another instance on the same file applies them once it reloads, and a
/// restart keeps them (the stored layer over the builder's, key by key).
/// An invalid policy is refused and nothing changes.
#[tokio::test]
async fn policies_change_at_run_time_and_every_instance_applies_them() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, None, None).await;
    seed(&a).await;
    let b = assistant(&world, &source, None, None).await;
    let server = serve(a).await;
    let admin = Client::signed_in(&server, global()).await;

    let (status, body) = admin.send("GET", "/api/admin/policy", None).await;
    assert_eq!((status, body["toml"].as_str()), (StatusCode::OK, Some("")));
    let org = "time_zone = \"Europe/London\"\nday_start = \"09:00\"";
    let (status, body) = admin
        .send("PUT", "/api/admin/policy", Some(json!({"toml": org})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, programs) = admin.send("GET", "/api/programs", None).await;
    assert_eq!(programs[0]["time_zone"], "Europe/London", "{programs}");

    assert_eq!(
        b.policy(&ProgramId::new("p")).unwrap().time_zone().name(),
        "UTC"
    );
    assert!(b.reload().await.unwrap());
    let p = b.policy(&ProgramId::new("p")).unwrap();
    assert_eq!(p.time_zone().name(), "Europe/London");
    assert_eq!(p.day_start().to_string(), "09:00");

    let (status, body) = admin
        .send(
            "PUT",
            "/api/admin/programs/p/policy",
            Some(json!({"toml": "scheduling_assistant = true\nday_end = \"17:00\""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["toml"],
        "scheduling_assistant = true\nday_end = \"17:00\""
    );
    assert!(b.reload().await.unwrap());
    let p = b.policy(&ProgramId::new("p")).unwrap();
    assert_eq!(p.day_end().to_string(), "17:00");
    assert_eq!(p.time_zone().name(), "Europe/London", "inherited");

    // An organisation layer under which p no longer resolves: refused,
    // naming the program; nothing stored, nothing reloaded.
    let (status, body) = admin
        .send(
            "PUT",
            "/api/admin/policy",
            Some(json!({"toml": "day_start = \"18:00\""})),
        )
        .await;
    assert_eq!((status, kind(&body)), (StatusCode::BAD_REQUEST, "invalid"));
    assert!(message(&body).contains("program p"), "{body}");
    let (_, body) = admin.send("GET", "/api/admin/policy", None).await;
    assert_eq!(body["toml"], org);
    assert!(!b.reload().await.unwrap(), "nothing was written");
    // Malformed TOML names its line; a bad program policy is refused too.
    let (status, body) = admin
        .send(
            "PUT",
            "/api/admin/policy",
            Some(json!({"toml": "x = 1\nnope = 1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("line 2"), "{body}");
    let (status, body) = admin
        .send(
            "PUT",
            "/api/admin/programs/p/policy",
            Some(json!({"toml": "day_end = \"08:00\""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, body) = admin
        .send("GET", "/api/admin/programs/p/policy", None)
        .await;
    assert_eq!(
        body["toml"],
        "scheduling_assistant = true\nday_end = \"17:00\""
    );
    let (status, _) = admin
        .send(
            "PUT",
            "/api/admin/programs/zzz/policy",
            Some(json!({"toml": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin
        .send("PUT", "/api/admin/policy", Some(json!({"tom": ""})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!b.reload().await.unwrap());
    drop(server);

    // A restart applies the stored layer over the builder's: its keys
    // win, the builder's other keys stay.
    let builder_layer =
        PolicyLayer::from_toml("time_zone = \"Asia/Tokyo\"\nmin_notice = \"2h\"").unwrap();
    let c = assistant(&world, &source, None, Some(builder_layer)).await;
    let p = c.policy(&ProgramId::new("p")).unwrap();
    assert_eq!(p.time_zone().name(), "Europe/London");
    assert_eq!(p.min_notice().to_string(), "2h");
    assert_eq!(p.day_end().to_string(), "17:00");
}

/// Global administrators create programs, participants, pairs and groups;
/// bad input is 400 with a reason, a taken id 409, unknown ids 404.
#[tokio::test]
async fn a_global_administrator_sets_up_programs_and_people() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, None, None).await;
    seed(&a).await;
    let server = serve(a.clone()).await;
    let admin = Client::signed_in(&server, global()).await;

    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/programs",
            Some(json!({"id": "r", "name": "Reading", "policy_toml": "group_polls = true"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/programs",
            Some(json!({"id": "r", "name": "Again"})),
        )
        .await;
    assert_eq!((status, kind(&body)), (StatusCode::CONFLICT, "conflict"));
    for bad in [
        json!({"id": "", "name": "X"}),
        json!({"id": "s", "name": "S", "policy_toml": "day_end = \"25:00\""}),
        json!({"id": "s"}),
    ] {
        let (status, body) = admin
            .send("POST", "/api/admin/programs", Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(!message(&body).is_empty());
    }
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/participants",
            Some(json!({"id": "rae", "name": "Rae", "email": "rae@example.org", "time_zone": "Europe/Paris", "programs": ["r", "p"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["programs"], json!(["r", "p"]));
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/participants",
            Some(json!({"id": "sol", "name": "Sol", "email": "sol@example.org", "time_zone": "Mars/Olympus", "programs": ["r"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = admin
        .send(
            "POST",
            "/api/admin/participants",
            Some(json!({"id": "sol", "name": "Sol", "email": "sol@example.org", "time_zone": "UTC", "programs": ["nope"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/pairs",
            Some(json!({"id": "rae-ana", "program": "p", "mentor": "rae", "mentee": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/pairs",
            Some(json!({"id": "rae-quinn", "program": "p", "mentor": "rae", "mentee": "quinn"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "quinn is not in p: {body}");
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/groups",
            Some(json!({"id": "circle", "program": "p", "name": "Circle", "members": ["rae", "ana", "ben"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(a.pairs().iter().any(|p| p.id.as_str() == "rae-ana"));
    assert_eq!(a.groups().len(), 1);
    let (status, body) = admin.send("GET", "/api/admin/programs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 3, "{body}");
}

/// A program administrator reads and changes only their programs, and
/// nothing of the organisation's but reading its policy.
#[tokio::test]
async fn a_program_administrator_is_scoped_to_their_programs() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, None, None).await;
    seed(&a).await;
    let server = serve(a.clone()).await;
    let track =
        Client::signed_in(&server, json!({"admin": "coordinator", "programs": ["p"]})).await;

    let (status, body) = track
        .send("GET", "/api/admin/programs/p/connections", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["participants"], 5);
    let (status, body) = track
        .send("GET", "/api/admin/programs/q/connections", None)
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::FORBIDDEN, "not_allowed")
    );
    let (status, body) = track.send("GET", "/api/admin/programs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    let (status, _) = track.send("GET", "/api/admin/policy", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "reading the layer under their programs"
    );
    for (method, path, body) in [
        (
            "PUT",
            "/api/admin/policy",
            json!({"toml": "day_start = \"10:00\""}),
        ),
        ("PUT", "/api/admin/programs/q/policy", json!({"toml": ""})),
        ("GET", "/api/admin/programs/q/policy", Value::Null),
        (
            "POST",
            "/api/admin/programs",
            json!({"id": "z", "name": "Z"}),
        ),
        ("GET", "/api/admin/integrations", Value::Null),
        (
            "POST",
            "/api/admin/integrations/google_workspace",
            json!({}),
        ),
        (
            "DELETE",
            "/api/admin/integrations/google_workspace",
            Value::Null,
        ),
        (
            "POST",
            "/api/admin/participants",
            json!({"id": "fay", "name": "Fay", "email": "fay@example.org", "time_zone": "UTC", "programs": ["q"]}),
        ),
        (
            "POST",
            "/api/admin/participants",
            json!({"id": "quinn", "name": "Renamed", "email": "quinn@example.org", "time_zone": "UTC", "programs": ["p"]}),
        ),
        (
            "POST",
            "/api/admin/pairs",
            json!({"id": "x", "program": "q", "mentor": "quinn", "mentee": "quinn"}),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = track.send(method, path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
    }
    let (status, body) = track
        .send(
            "PUT",
            "/api/admin/programs/p/policy",
            Some(json!({"toml": "scheduling_assistant = true\ngroup_polls = true"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        a.policy(&ProgramId::new("p"))
            .unwrap()
            .group_polls_enabled()
    );
    let (status, body) = track
        .send(
            "POST",
            "/api/admin/participants",
            Some(json!({"id": "fay", "name": "Fay", "email": "fay@example.org", "time_zone": "UTC", "programs": ["p"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = track
        .send(
            "POST",
            "/api/admin/pairs",
            Some(json!({"id": "fay-ana", "program": "p", "mentor": "fay", "mentee": "ana"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, html) = track.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"program-p\"") && !html.contains("id=\"program-q\""));
    assert!(!html.contains("Organisation integrations") && !html.contains("/admin/policy\""));
}

/// Participants get 403 on every administrator route (before their input
/// is read), and the page; without a session, 401.
#[tokio::test]
async fn participants_are_refused_everywhere_under_admin() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, None, None).await;
    seed(&a).await;
    let server = serve(a).await;
    let ana = Client::signed_in(&server, json!({"participant": "ana"})).await;
    let anonymous = Client::anonymous(&server);
    let admin_routes: Vec<_> = routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/admin/"))
        .collect();
    assert!(admin_routes.len() >= 12, "{admin_routes:?}");
    for (method, route) in admin_routes {
        let path = route
            .replace("{id}", "p")
            .replace("{kind}", "google_workspace");
        let body = matches!(method, "POST" | "PUT").then(|| json!({}));
        let (status, answer) = ana.send(method, &path, body.clone()).await;
        assert_eq!(
            (status, kind(&answer)),
            (StatusCode::FORBIDDEN, "not_allowed"),
            "{method} {path}: {answer}"
        );
        let (status, _) = anonymous.send(method, &path, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, _) = ana.page("/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = ana
        .form(
            "/admin/policy",
            &[("csrf", "x"), ("toml", "day_start = \"10:00\"")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
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

/// Google Workspace on wiremock: dan of the school is free.
fn nobody_busy(_: &str) -> Value {
    json!([])
}

/// The report: connected k of n by provider (Google, iCloud, the
/// organisation), who needs reconnecting with the provider's reason, and
/// when each calendar was last read (never, for who has none).
#[tokio::test]
async fn the_report_counts_connections_by_provider_and_names_who_must_reconnect() {
    let oauth = MockServer::start().await;
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("code=good"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.x", "expires_in": 3599, "refresh_token": "1//r", "token_type": "Bearer"
        })))
        .mount(&oauth)
        .await;
    let workspace = common::mock_google_workspace(nobody_busy).await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, Some(&oauth), None).await;
    seed(&a).await;
    for who in ["ana", "cat"] {
        a.connect_icloud(
            &Actor::participant(who),
            &pid(who),
            &format!("{who}@icloud.com"),
            SecretString::new("app-pw".into()),
        )
        .await
        .unwrap();
    }
    let start = a
        .begin_connect(&Actor::participant("ben"), &pid("ben"), Provider::Google)
        .await
        .unwrap();
    a.complete_connect(&state_of(&start.authorization_url), "good")
        .await
        .unwrap();
    a.enable_google_workspace(
        scheduling_assistant::GoogleWorkspace::new(
            common::service_account_key(),
            "scheduling@school.example",
            scheduling_assistant::Coverage::domains(["school.example"]),
        )
        .endpoints(format!("{}/token", workspace.uri()), workspace.uri()),
    )
    .await
    .unwrap();
    source.set("ana@example.org", FreeBusy::new());
    source.set("ben@example.org", FreeBusy::new());
    source.inner.fail(
        "cat@example.org",
        SourceError::Unauthorized {
            message: "HTTP 401 from the CalDAV server".into(),
        },
    );
    a.refresh(true).await;
    let server = serve(a).await;
    let admin = Client::signed_in(&server, global()).await;

    let (status, report) = admin
        .send("GET", "/api/admin/programs/p/connections", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["participants"], 5);
    assert_eq!(report["connected"], 3, "{report}");
    assert_eq!(
        report["by_provider"],
        json!({"google": 1, "microsoft": 0, "icloud": 1, "organisation": 1})
    );
    let reconnect = report["needs_reconnecting"].as_array().unwrap();
    assert_eq!(reconnect.len(), 1, "{report}");
    assert_eq!(reconnect[0]["participant"], "cat");
    assert_eq!(reconnect[0]["provider"], "icloud");
    assert!(
        reconnect[0]["reason"].as_str().unwrap().contains("401"),
        "{report}"
    );
    let person = |id: &str| {
        report["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["participant"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(person("eve")["status"]["state"], "not_connected");
    assert_eq!(person("eve")["last_read"], Value::Null, "never read");
    // Read by the refresh, at the clock's time; a failed read is no read.
    let now = availability::Clock::now(&*world.clock).to_string();
    assert_eq!(person("ana")["last_read"], now.as_str(), "{report}");
    assert_eq!(person("ben")["last_read"], now.as_str());
    assert_eq!(person("cat")["last_read"], Value::Null, "the read failed");
    assert_eq!(person("dan")["status"]["state"], "through_organisation");
    assert!(
        person("ben")["status"].get("account").is_none(),
        "no address in the report"
    );

    let (status, html) = admin.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Connected: 3 of 5"), "{html}");
    assert!(html.contains("Google 1 · Microsoft 0 · iCloud 1 · Organisation 1"));
    assert!(
        html.contains("<li>CAT (iCloud): ") && html.contains("HTTP 401 from the CalDAV server"),
        "{html}"
    );
}

/// Google Workspace through the API, Exchange on-premise through the
/// page's form (its token checked first), the second Exchange kind 409,
/// then both disabled; no secret is ever echoed.
#[tokio::test]
async fn integrations_are_enabled_and_disabled_through_the_api_and_the_page() {
    let workspace = common::mock_google_workspace(nobody_busy).await;
    let double = AvailabilityDouble::new()
        .mailbox("scheduling@school.example", &[])
        .mailbox("dan@school.example", &[]);
    let ews = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/EWS/Exchange.asmx"))
        .respond_with(double.clone())
        .mount(&ews)
        .await;
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let a = assistant(&world, &source, None, None).await;
    seed(&a).await;
    let server = serve(a.clone()).await;
    let admin = Client::signed_in(&server, global()).await;

    let key = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/org-wide-auth/tests/test-service-account.json"),
    )
    .unwrap();
    let google = json!({
        "service_account_key": key,
        "scheduling_account": "scheduling@school.example",
        "domains": ["school.example"],
        "token_uri": format!("{}/token", workspace.uri()),
        "api_base": workspace.uri(),
    });
    let mut no_domains = google.clone();
    no_domains.as_object_mut().unwrap().remove("domains");
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/integrations/google_workspace",
            Some(no_domains),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("domains"), "{body}");
    let mut wrong_type = google.clone();
    wrong_type["service_account_key"] = json!(12345);
    let (status, text, _) = admin
        .call(
            "POST",
            "/api/admin/integrations/google_workspace",
            Some(wrong_type),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!text.contains("12345"), "{text}");
    let (status, _) = admin
        .send("POST", "/api/admin/integrations/zoom", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, text, body) = admin
        .call(
            "POST",
            "/api/admin/integrations/google_workspace",
            Some(google),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["participants"], json!(["dan"]));
    assert!(!text.contains("PRIVATE KEY"));
    let (_, text, list) = admin.call("GET", "/api/admin/integrations", None).await;
    assert_eq!(list[0]["kind"], "google_workspace", "{text}");
    assert_eq!(list[0]["automatic_connections"], 1);
    assert!(!text.contains("PRIVATE KEY") && !text.contains("private_key"));
    let (status, body) = admin
        .send("DELETE", "/api/admin/integrations/google_workspace", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["participants"], json!(["dan"]));

    // The page: the form token first, then the Integrate card.
    let csrf = admin.csrf().await;
    let ews_url = format!("{}/EWS/Exchange.asmx", ews.uri());
    let fields = |token: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", token.to_owned()),
            ("ews_url", ews_url.clone()),
            ("auth", "basic".to_owned()),
            ("user", "SCHOOL\\scheduler".to_owned()),
            ("password", "Spring-2026!".to_owned()),
            ("scheduling_account", "scheduling@school.example".to_owned()),
            ("domains", "school.example".to_owned()),
        ]
    };
    let stale = fields("stale");
    let stale: Vec<(&str, &str)> = stale.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = admin
        .form("/admin/integrations/exchange_on_premise", &stale)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        double.asked().is_empty(),
        "nothing validated with a stale form"
    );
    let good = fields(&csrf);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, html) = admin
        .form("/admin/integrations/exchange_on_premise", &good)
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin"),
        "{html}"
    );
    let (_, html) = admin.page("/admin").await;
    assert!(
        html.contains("id=\"disable-exchange_on_premise\""),
        "{html}"
    );
    assert!(!html.contains("Spring-2026!"));
    let (_, text, list) = admin.call("GET", "/api/admin/integrations", None).await;
    assert_eq!(list[0]["kind"], "exchange_on_premise", "{text}");
    assert!(!text.contains("Spring-2026!") && !text.contains("scheduler\""));
    assert_eq!(
        a.status(&pid("dan")).await.text(),
        "Your calendar is connected through your organisation"
    );

    // Exchange Online is refused while on-premise is enabled.
    let (status, body) = admin
        .send(
            "POST",
            "/api/admin/integrations/exchange_online",
            Some(json!({
                "tenant": "school.example", "client_id": "client", "client_secret": "s3cret",
                "scheduling_account": "scheduling@school.example", "domains": ["school.example"],
            })),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    assert!(!body.to_string().contains("s3cret"));

    let (status, location, _) = admin
        .form(
            "/admin/integrations/exchange_on_premise/disable",
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin")
    );
    let (_, list) = admin.send("GET", "/api/admin/integrations", None).await;
    assert_eq!(list, json!([]));
    let (_, html) = admin.page("/admin").await;
    assert!(html.contains("id=\"integrate-exchange_on_premise\""));

    // The page's policy editor, with its token.
    let (status, location, _) = admin
        .form(
            "/admin/policy",
            &[
                ("csrf", csrf.as_str()),
                ("toml", "time_zone = \"Europe/Berlin\""),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin")
    );
    assert_eq!(
        a.policy(&ProgramId::new("p")).unwrap().time_zone().name(),
        "Europe/Berlin"
    );
    let (status, _, html) = admin
        .form(
            "/admin/programs/p/policy",
            &[("csrf", csrf.as_str()), ("toml", "day_end = \"07:00\"")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("id=\"error\""));
}

/// On PostgreSQL every instance applies a policy changed through another
/// one at its next request (the router syncs first).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn on_postgres_a_policy_changed_on_one_instance_applies_on_the_next_request_of_another() {
    use credential_vault::{KeyId, KeyRing, MasterKey, PostgresStore, Vault};
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let instance = async || {
        let vault = Arc::new(Vault::new(
            Arc::new(PostgresStore::connect_without_tls(&url).await.unwrap()),
            KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
        ));
        Assistant::builder()
            .store(Store::connect_postgres_without_tls(&url).await.unwrap())
            .vault(vault)
            .clock(world.clock.clone())
            .source(Provider::Icloud, source.clone())
            .build()
            .await
            .unwrap()
    };
    let a = instance().await;
    seed(&a).await;
    let b = instance().await;
    let (server_a, server_b) = (serve(a).await, serve(b).await);
    let on_a = Client::signed_in(&server_a, global()).await;
    let on_b = Client::signed_in(&server_b, json!({"participant": "ana"})).await;
    let (status, body) = on_a
        .send(
            "PUT",
            "/api/admin/policy",
            Some(json!({"toml": "time_zone = \"America/New_York\""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, programs) = on_b.send("GET", "/api/programs", None).await;
    assert_eq!(programs[0]["time_zone"], "America/New_York", "{programs}");
    let (status, body) = on_a
        .send(
            "PUT",
            "/api/admin/programs/p/policy",
            Some(json!({"toml": "scheduling_assistant = true\ntime_zone = \"Asia/Tokyo\""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, programs) = on_b.send("GET", "/api/programs", None).await;
    assert_eq!(programs[0]["time_zone"], "Asia/Tokyo", "{programs}");
    assert_eq!(programs[1]["time_zone"], "America/New_York", "{programs}");
}
