//! `freebusy --google` and `--graph` against wiremock servers speaking the
//! providers' documented JSON: the contract's many-account output.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn freebusy_example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("freebusy")
}

#[tokio::test]
async fn many_accounts_in_order_with_per_account_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(header("authorization", "Bearer ya29.from-env"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {
                "ana@example.org": {"busy": [
                    {"start": "2025-03-03T10:00:00+01:00", "end": "2025-03-03T11:00:00+01:00"},
                    {"start": "2025-03-03T09:30:00Z", "end": "2025-03-03T10:30:00Z"}
                ]},
                "nobody@example.org": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let out = Command::new(freebusy_example())
        .args([
            "--google",
            &server.uri(),
            "--token-env",
            "FREEBUSY_TEST_TOKEN",
        ])
        .args([
            "--calendar",
            "nobody@example.org",
            "--calendar",
            "ana@example.org",
        ])
        .args([
            "--from",
            "2025-03-03T00:00:00Z",
            "--to",
            "2025-03-04T00:00:00Z",
        ])
        .env("FREEBUSY_TEST_TOKEN", "ya29.from-env")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        r#"{"accounts":[{"id":"nobody@example.org","error":{"kind":"not_found","message":"not found: Google has no such calendar, or it is not shared (notFound)"}},{"id":"ana@example.org","busy":[{"start":"2025-03-03T09:00:00Z","end":"2025-03-03T10:30:00Z","kind":"busy"}]}]}"#
    );
    assert!(!stdout.contains("ya29"));
    // No token variable: exit 2 with one line.
    let out = Command::new(freebusy_example())
        .args([
            "--google",
            &server.uri(),
            "--token-env",
            "FREEBUSY_TEST_UNSET_VAR",
        ])
        .args(["--calendar", "ana@example.org"])
        .args([
            "--from",
            "2025-03-03T00:00:00Z",
            "--to",
            "2025-03-04T00:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr)
            .unwrap()
            .trim_end()
            .lines()
            .count(),
        1
    );
}

#[tokio::test]
async fn graph_schedules_in_order_with_per_account_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/nobody@contoso.com/calendar/getSchedule"))
        .and(header("authorization", "Bearer eyJ.from-env"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [
                {"scheduleId": "adele@contoso.com", "scheduleItems": [
                    {"status": "Busy", "subject": "secret subject",
                     "start": {"dateTime": "2025-03-03T09:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-03T10:00:00.0000000", "timeZone": "UTC"}},
                    {"status": "oof",
                     "start": {"dateTime": "2025-03-03T12:00:00.0000000", "timeZone": "UTC"},
                     "end": {"dateTime": "2025-03-03T13:00:00.0000000", "timeZone": "UTC"}}]},
                {"scheduleId": "nobody@contoso.com", "error": {"message": "not found", "responseCode": "ErrorMailRecipientNotFound"}}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let out = Command::new(freebusy_example())
        .args([
            "--graph",
            &format!("{}/v1.0", server.uri()),
            "--token-env",
            "FREEBUSY_TEST_TOKEN",
        ])
        .args([
            "--schedule",
            "nobody@contoso.com",
            "--schedule",
            "adele@contoso.com",
        ])
        .args([
            "--from",
            "2025-03-03T00:00:00Z",
            "--to",
            "2025-03-04T00:00:00Z",
        ])
        .env("FREEBUSY_TEST_TOKEN", "eyJ.from-env")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        r#"{"accounts":[{"id":"nobody@contoso.com","error":{"kind":"not_found","message":"not found: Graph does not know this mailbox (ErrorMailRecipientNotFound)"}},{"id":"adele@contoso.com","busy":[{"start":"2025-03-03T09:00:00Z","end":"2025-03-03T10:00:00Z","kind":"busy"},{"start":"2025-03-03T12:00:00Z","end":"2025-03-03T13:00:00Z","kind":"out_of_office"}]}]}"#
    );
    assert!(!stdout.contains("secret subject"));
}

/// `freebusy --ews`: Exchange's GetUserAvailability (the documented SOAP
/// envelope, from `ews_provider::test_support`) with Basic or a bearer
/// token, the mailboxes in the order given, a per-mailbox error, the
/// password never printed; bad flags exit 2 with one line.
#[tokio::test]
async fn ews_mailboxes_in_order_with_per_account_errors() {
    use ews_provider::test_support::AvailabilityDouble;
    // 2025-03-03 09:00 and 12:00 UTC.
    let (nine, noon) = (1_740_992_400, 1_741_003_200);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/EWS/Exchange.asmx"))
        .respond_with(
            AvailabilityDouble::new()
                .mailbox(
                    "adele@contoso.com",
                    &[(nine, nine + 3600, "Busy"), (noon, noon + 3600, "OOF")],
                )
                .mailbox("ben@contoso.com", &[(noon, noon + 1800, "Tentative")]),
        )
        .mount(&server)
        .await;
    let url = format!("{}/EWS/Exchange.asmx", server.uri());
    let run = |auth: &str, extra: &[&str]| {
        Command::new(freebusy_example())
            .args(["--ews", &url, "--user", "CONTOSO\\scheduler"])
            .args(["--password-env", "FREEBUSY_TEST_PASSWORD", "--auth", auth])
            .args(extra)
            .args([
                "--from",
                "2025-03-03T00:00:00Z",
                "--to",
                "2025-03-04T00:00:00Z",
            ])
            .env("FREEBUSY_TEST_PASSWORD", "Winter-2026!")
            .output()
            .unwrap()
    };
    let mailboxes = [
        "--mailbox",
        "nobody@contoso.com",
        "--mailbox",
        "adele@contoso.com",
        "--mailbox",
        "ben@contoso.com",
    ];
    for auth in ["basic", "bearer"] {
        let out = run(auth, &mailboxes);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.contains("Winter-2026!"));
        let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let accounts = answer["accounts"].as_array().unwrap();
        let ids: Vec<&str> = accounts.iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            ["nobody@contoso.com", "adele@contoso.com", "ben@contoso.com"]
        );
        assert_eq!(accounts[0]["error"]["kind"], "not_found");
        assert_eq!(
            accounts[1]["busy"],
            json!([
                {"start": "2025-03-03T09:00:00Z", "end": "2025-03-03T10:00:00Z", "kind": "busy"},
                {"start": "2025-03-03T12:00:00Z", "end": "2025-03-03T13:00:00Z", "kind": "out_of_office"}
            ])
        );
        assert_eq!(
            accounts[2]["busy"],
            json!([{"start": "2025-03-03T12:00:00Z", "end": "2025-03-03T12:30:00Z", "kind": "tentative"}])
        );
    }
    let sent = server.received_requests().await.unwrap();
    assert_eq!(
        sent.len(),
        2,
        "one request per run: three mailboxes batched"
    );
    // base64("CONTOSO\\scheduler:Winter-2026!"), RFC 7617.
    assert_eq!(
        sent[0].headers["authorization"],
        "Basic Q09OVE9TT1xzY2hlZHVsZXI6V2ludGVyLTIwMjYh"
    );
    assert_eq!(sent[1].headers["authorization"], "Bearer Winter-2026!");

    for (auth, extra) in [("basic", &[][..]), ("kerberos", &mailboxes[..])] {
        let out = run(auth, extra);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("Winter-2026!"));
    }
}
