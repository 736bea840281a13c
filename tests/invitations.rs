//! Email invitations (RFC 6047 iMIP) sent to a real SMTP server: aiosmtpd
//! on 127.0.0.1 from the peer venv (`tests/smtp_sink.py`, started and
//! stopped here). Each received message is read as a calendar client
//! would, with Python's `email` parser and the peer `icalendar` package
//! (`tests/itip_read.py`): its MIME structure, METHOD, UID, SEQUENCE,
//! attendees, and times across the UK's clock change (29 March 2026).
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use availability::{FixedClock, FreeBusy, Person};
use common::{Counting, Validator, iv};
use credential_vault::SecretString;
use scheduling_assistant::invite::{EmailInvitations, SmtpSecurity, SmtpSettings};
use scheduling_assistant::{
    Actor, Assistant, AssistantError, BookOptions, Pair, Participant, ParticipantId, Program,
    ProgramId, Provider,
};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peer venv's interpreter. Under `CI=true` a missing one fails;
/// elsewhere only `SKIP_PEER_SMTP=1` skips, and says so.
fn peer_python() -> Option<PathBuf> {
    let path = std::env::var_os("PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    let in_ci = std::env::var("CI").as_deref() == Ok("true");
    if !in_ci && std::env::var("SKIP_PEER_SMTP").as_deref() == Ok("1") {
        eprintln!("SKIPPED: the SMTP invitation tests (SKIP_PEER_SMTP=1)");
        return None;
    }
    panic!(
        "the peer venv is missing at {} (scripts/test installs it with aiosmtpd); \
         SKIP_PEER_SMTP=1 skips these tests outside CI",
        path.display()
    );
}

/// aiosmtpd on 127.0.0.1, writing each message to `dir`; stopped (stdin
/// closed, then killed) when dropped.
struct Sink {
    child: Child,
    port: u16,
}

impl Sink {
    fn start(python: &Path, dir: &Path) -> Self {
        let mut child = Command::new(python)
            .arg(root().join("tests/smtp_sink.py"))
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP sink did not start: {line:?}")
        });
        Self { child, port }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(python: &Path, eml: &Path) -> Value {
    let out = Command::new(python)
        .arg(root().join("tests/itip_read.py"))
        .arg(eml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn at(s: &str) -> i64 {
    common::at(s)
}

async fn assistant(
    dir: &Path,
    clock: Arc<FixedClock>,
    sender: Arc<EmailInvitations>,
) -> (Assistant, Arc<Counting>) {
    let path = dir.join("assistant.sqlite3");
    let vault = Arc::new(credential_vault::Vault::new(
        Arc::new(credential_vault::SqliteStore::open(&path).unwrap()),
        credential_vault::KeyRing::new(credential_vault::MasterKey::from_bytes(
            credential_vault::KeyId(1),
            [7; 32],
        )),
    ));
    let source = Counting::new(Duration::ZERO);
    let a = Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&path)
                .await
                .unwrap(),
        )
        .vault(vault)
        .clock(clock)
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .invitations(sender)
        .build()
        .await
        .unwrap();
    a.add_program(
        Program::new("mentoring", "Mentoring")
            .with_policy_toml("scheduling_assistant = true\ntime_zone = \"Europe/London\""),
    )
    .await
    .unwrap();
    for (id, name) in [("mia", "Mia Chen"), ("max", "Max, Jr.")] {
        a.add_participant(
            Participant::new(id, name, format!("{id}@example.org"), "Europe/London"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
        source.set(&format!("{id}@example.org"), FreeBusy::new());
        a.connect_icloud(
            &Actor::participant(id),
            &pid(id),
            &format!("{id}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".to_owned()),
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
    (a, source)
}

fn sender(port: u16, clock: Arc<FixedClock>) -> Arc<EmailInvitations> {
    Arc::new(
        EmailInvitations::new(
            SmtpSettings::new(
                "127.0.0.1",
                Person::new("scheduling@example.org").named("Mentoring scheduling"),
            )
            .port(port)
            .security(SmtpSecurity::LoopbackPlain)
            .timeout(Duration::from_secs(10)),
            clock,
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_its_move_across_the_clock_change_and_its_cancellation_reach_a_real_smtp_server()
{
    let Some(python) = peer_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    let sink = Sink::start(&python, &mail);
    // Thursday 26 March 2026, before the UK's clocks go forward.
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(at("2026-03-26T08:00:00Z")).unwrap(),
    ));
    let (a, _source) = assistant(dir.path(), clock.clone(), sender(sink.port, clock)).await;
    let mia = Actor::participant("mia");

    // Friday 27 March, 10:00-11:00 in London (GMT: 10:00Z).
    let friday = iv(at("2026-03-27T10:00:00Z"), at("2026-03-27T11:00:00Z"));
    let booking = a
        .book_pair(
            &mia,
            &"mia-max".into(),
            friday,
            BookOptions::new()
                .title("Mentoring: planning; goals, next steps")
                .description("Agenda:\nreview the plan"),
        )
        .await
        .unwrap();
    assert_eq!(booking.via, "email");
    // Moved to Monday 30 March, 10:00 in London (BST: 09:00Z).
    let monday = iv(at("2026-03-30T09:00:00Z"), at("2026-03-30T10:00:00Z"));
    a.reschedule(&mia, &booking.id, monday, BookOptions::new())
        .await
        .unwrap();
    a.cancel_booking(&mia, &booking.id).await.unwrap();

    // The server has answered 250 to each before the calls returned.
    let messages: Vec<Value> = (0..3)
        .map(|n| read(&python, &mail.join(format!("{n:03}.eml"))))
        .collect();
    assert!(!mail.join("003.eml").exists(), "exactly three messages");
    for (n, m) in messages.iter().enumerate() {
        let method = ["REQUEST", "REQUEST", "CANCEL"][n];
        assert_eq!(m["top"], "multipart/alternative", "{m}");
        let parts = m["parts"].as_array().unwrap();
        let calendar = parts
            .iter()
            .find(|p| p["type"] == "text/calendar")
            .unwrap_or_else(|| panic!("no text/calendar part: {m}"));
        assert_eq!(calendar["method"], method, "RFC 6047 §2.4: {m}");
        assert_eq!(calendar["charset"], "utf-8");
        assert!(parts.iter().any(|p| p["type"] == "text/plain"), "{m}");
        assert_eq!(m["method"], method);
        assert_eq!(m["version"], "2.0");
        assert_eq!(m["events"], 1);
        assert_eq!(m["uid"], booking.uid.as_str(), "the same UID throughout");
        assert_eq!(m["sequence"], n, "SEQUENCE 0, 1, 2");
        assert_eq!(m["summary"], "Mentoring: planning; goals, next steps");
        assert_eq!(m["organizer"], "mailto:scheduling@example.org");
        assert_eq!(
            m["attendees"],
            serde_json::json!(["mailto:max@example.org", "mailto:mia@example.org"])
        );
        assert_eq!(m["dtstamp_utc"], true);
        assert!(
            m["from"]
                .as_str()
                .unwrap()
                .contains("<scheduling@example.org>"),
            "{m}"
        );
        let to = m["to"].as_str().unwrap();
        assert!(to.contains("mia@example.org") && to.contains("max@example.org"));
    }
    let (first, moved, cancelled) = (&messages[0], &messages[1], &messages[2]);
    assert_eq!(first["description"], "Agenda:\nreview the plan");
    assert_eq!(first["rsvp"], serde_json::json!(["TRUE", "TRUE"]));
    assert_eq!(first["status"], "CONFIRMED");
    assert_eq!(first["start_utc"], "2026-03-27T10:00:00+00:00");
    assert_eq!(first["start_london"], "2026-03-27T10:00:00+00:00");
    // After the clock change: 09:00Z is 10:00 in London.
    assert_eq!(moved["start_utc"], "2026-03-30T09:00:00+00:00");
    assert_eq!(moved["start_london"], "2026-03-30T10:00:00+01:00");
    assert_eq!(moved["end_london"], "2026-03-30T11:00:00+01:00");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["rsvp"], serde_json::json!(["", ""]));
    assert!(
        cancelled["subject"]
            .as_str()
            .unwrap()
            .starts_with("Cancelled"),
        "{cancelled}"
    );
    drop(sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_is_a_typed_error_and_books_nothing() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(at("2026-03-26T08:00:00Z")).unwrap(),
    ));
    let (a, _source) = assistant(dir.path(), clock.clone(), sender(port, clock)).await;
    let friday = iv(at("2026-03-27T10:00:00Z"), at("2026-03-27T11:00:00Z"));
    let err = a
        .book_pair(
            &Actor::participant("mia"),
            &"mia-max".into(),
            friday,
            BookOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AssistantError::Invitation { via: "email", source } if source.is_transient()),
        "{err:?}"
    );
    assert!(!err.to_string().contains("example.org"), "{err}");
    assert!(
        a.bookings(&Actor::participant("mia"))
            .await
            .unwrap()
            .is_empty()
    );
}
