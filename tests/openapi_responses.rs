//! Real responses against the OpenAPI document: every documented `GET`
//! route of the JSON API, called over HTTP on loopback as a participant, an
//! administrator and nobody, answers a status the document lists for it,
//! with a body valid under that status's schema (JSON Schema 2020-12, the
//! dialect of OpenAPI 3.1, checked by the `jsonschema` crate); and the
//! state-changing routes the page and scripts use most do the same.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, FreeBusy};
use common::{H, MONDAY, Validator, World, iv};
use reqwest::StatusCode;
use scheduling_assistant::http::{DemoConfig, HttpConfig, openapi, router};
use scheduling_assistant::{Group, Pair, Participant, ParticipantId, Program, ProgramId, Provider};
use serde_json::{Value, json};

struct Checker {
    doc: Value,
    http: reqwest::Client,
    base: String,
    checked: usize,
}

impl Checker {
    /// The schema of `method path`'s `status` response, resolved against
    /// the document's components.
    fn schema(&self, method: &str, path: &str, status: StatusCode) -> Option<Value> {
        let op = &self.doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        let mut response = op["responses"][status.as_str()].clone();
        if response.is_null() {
            return None;
        }
        if let Some(r) = response["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap();
            response = self.doc["components"]["responses"][name].clone();
        }
        let schema = response["content"]["application/json"]["schema"].clone();
        Some(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [if schema.is_null() { json!(true) } else { schema }],
        }))
    }

    async fn call(
        &mut self,
        cookie: Option<&str>,
        method: &str,
        documented: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
        let text = response.text().await.unwrap();
        let Some(schema) = self.schema(method, documented, status) else {
            panic!("{method} {path} answered {status}, which the document does not list: {text}");
        };
        if is_json {
            let value: Value = serde_json::from_str(&text).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: {errors:?}\n{value}"
            );
            self.checked += 1;
            (status, value)
        } else {
            (status, Value::String(text))
        }
    }
}

async fn sign_in(http: &reqwest::Client, base: &str, who: Value) -> String {
    let r = http
        .post(format!("{base}/api/session"))
        .json(&who)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn real_responses_match_the_documents_schemas() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let world = World::new();
    let source = common::Counting::new(Duration::ZERO);
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
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
    for id in ["mia", "max", "c1"] {
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
        members: ["mia", "max", "c1"].map(ParticipantId::new).to_vec(),
    })
    .await
    .unwrap();
    source.set(
        "mia@example.org",
        FreeBusy::from_entries([(BusyKind::Busy, iv(MONDAY + 9 * H, MONDAY + 11 * H))]),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(a, HttpConfig::demo(DemoConfig::default()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mia = sign_in(&http, &base, json!({"participant": "mia"})).await;
    let admin = sign_in(&http, &base, json!({"admin": "coordinator"})).await;
    let mut c = Checker {
        doc: openapi(),
        http,
        base,
        checked: 0,
    };
    for who in ["mia", "max"] {
        let (status, _) = c
            .call(
                Some(&mia),
                "POST",
                "/api/participants/{id}/connect/{provider}",
                &format!("/api/participants/{who}/connect/icloud"),
                Some(json!({"apple_id": format!("{who}@example.org"), "app_password": "abcd-efgh-ijkl-mnop"})),
            )
            .await;
        // mia connects herself; max's connection is his own act (403).
        assert_eq!(
            status,
            if who == "mia" {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        );
    }
    let week = "from=2026-03-02T00:00:00Z&to=2026-03-07T00:00:00Z";
    let (status, created) = c
        .call(
            Some(&mia),
            "POST",
            "/api/polls",
            "/api/polls",
            Some(json!({"group": "g", "from": "2026-03-02T00:00:00Z", "to": "2026-03-07T00:00:00Z", "duration": "30m", "slots": 3, "title": "Circle"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let poll = created["id"].as_str().unwrap().to_owned();
    c.call(
        Some(&mia),
        "PUT",
        "/api/polls/{id}/answers",
        &format!("/api/polls/{poll}/answers"),
        Some(json!({"answers": [{"slot": 0, "vote": "yes"}]})),
    )
    .await;
    c.call(
        Some(&mia),
        "PUT",
        "/api/participants/{id}/hours",
        "/api/participants/mia/hours",
        Some(json!({"weekly": {"mon": [{"start": "09:00", "end": "17:00"}]}})),
    )
    .await;

    // Every documented GET, with real ids, as mia, the administrator and
    // nobody; and unknown ids.
    let gets: Vec<String> = c.doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item.get("get").is_some())
        .map(|(p, _)| p.clone())
        .collect();
    for documented in &gets {
        if documented == "/api/oauth/callback" {
            continue; // An HTML page, checked in http_api.rs.
        }
        let ids: &[&str] = if documented.starts_with("/api/pairs/") {
            &["mia-max", "nope"]
        } else if documented.starts_with("/api/polls/") {
            &[poll.as_str(), "nope"]
        } else if documented.starts_with("/api/bookings/") {
            &["nope"]
        } else if documented.starts_with("/api/admin/programs/") {
            &["p", "nope"]
        } else {
            &["mia", "max", "nope"]
        };
        for id in ids {
            let mut path = documented.replace("{id}", id);
            if documented.contains("availability") || documented.contains("slots") {
                path = format!("{path}?{week}");
            }
            for cookie in [Some(mia.as_str()), Some(admin.as_str()), None] {
                c.call(cookie, "GET", documented, &path, None).await;
            }
        }
    }
    assert!(c.checked >= 3 * gets.len(), "only {} checked", c.checked);
    task.abort();
}
