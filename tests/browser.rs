//! The `serve` example in a real browser: headless Chromium driven through
//! chromedriver (Debian packages `chromium` and `chromium-driver`, which the
//! README test command installs). Signs in, connects two demo participants
//! with the iCloud form, opens the mentor's week and checks the grid's
//! Unavailable blocks against the shipped calendar (across the US clock
//! change) and that the page's style applies under its
//! Content-Security-Policy, checks the work-on-behalf refusal (every form
//! carrying the session's form token), and saves a screenshot to
//! `target/test-artifacts/serve-week.png`; `serve` has no invitation
//! sender, so booking a poll there ends on that error page.
//!
//! The poll flow runs the same router in process over an assistant built
//! here with a recording invitation sender: a circle member creates two
//! polls on the page, another answers one with the radio form, the creator
//! sees the answer beside the availability and books; booking the other
//! poll at the same time is refused naming who is busy, then booked anyway.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fantoccini::{Client, ClientBuilder, Locator};
use scheduling_assistant::http::{HttpConfig, router};
use scheduling_assistant::{
    Actor, Assistant, Delivered, FixedClock, KeyId, KeyRing, MasterKey, Meeting, MeetingChange,
    MeetingSender, ParticipantId, Person, Provider, SecretString, SourceError, SqliteStore, Store,
    Vault,
};

#[allow(dead_code)]
#[path = "../examples/support/demo_data.rs"]
mod demo_data;

/// Kills a child process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver and Chromium, or why not: a failure, never a silent skip.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let found = (
        find(&["chromedriver"]),
        find(&["chromium", "chromium-browser"]),
    );
    if let (Some(driver), Some(chromium)) = found {
        return Some((driver, chromium));
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !in_ci && std::env::var("SKIP_BROWSER_TEST").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED: the browser test (SKIP_BROWSER_TEST=1)");
        return None;
    }
    panic!(
        "chromedriver and chromium are not installed: run the README test command \
         (scripts/test), which installs the Debian packages chromium and chromium-driver"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("serve")
}

/// Starts `serve` on a free loopback port with the demo clock; its URL.
fn start_serve(dir: &Path) -> (Killed, String) {
    let mut child = Command::new(serve_binary())
        .args([
            "--addr",
            "127.0.0.1:0",
            "--now",
            "2026-03-05T09:00:00Z",
            "--db",
        ])
        .arg(dir.join("serve.sqlite3"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut line).unwrap();
    // Keep reading (and dropping) the rest, so the server never writes
    // into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .trim()
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    (Killed(child), url)
}

async fn start_driver(driver: &Path, chromium: &Path) -> (Killed, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Killed(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1900"]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for attempt in 0.. {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (guard, client),
            Err(e) if attempt < 50 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not start: {e}"),
        }
    }
    unreachable!()
}

/// Waits (up to 10 s) for an element: page loads after form posts and
/// redirects finish on their own time.
async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => panic!(
            "no {css} on {}: {e}\n{}",
            c.current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default(),
            c.source().await.unwrap_or_default()
        ),
    }
}

/// Waits (up to 10 s) until the element's text satisfies `ok` (a click
/// that posts a form leaves the old page in place for a moment, so the
/// first match may be the old page's, or go stale), and returns it.
async fn text_until(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{css} never matched (last {last:?}) on {}",
        c.current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    )
}

async fn text_is(c: &Client, css: &str, expected: &str) {
    text_until(c, css, |t| t == expected).await;
}

async fn sign_in(c: &Client, base: &str, who: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    if let Ok(out) = c.find(Locator::Css("#sign-out")).await {
        out.click().await.unwrap();
    }
    el(c, &format!("#sign-in-{who}"))
        .await
        .click()
        .await
        .unwrap();
}

async fn connect_icloud(c: &Client, apple_id: &str) {
    el(c, "#apple-id").await.send_keys(apple_id).await.unwrap();
    el(c, "#app-password")
        .await
        .send_keys("abcd-efgh-ijkl-mnop")
        .await
        .unwrap();
    el(c, "#connect-icloud").await.click().await.unwrap();
}

#[tokio::test]
async fn the_page_connects_a_participant_and_shows_the_partners_week() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_serve, base) = start_serve(dir.path());
    let (_driver, c) = start_driver(&driver, &chromium).await;

    // Maya connects her calendar, through forms carrying her session's
    // form token.
    sign_in(&c, &base, "maya").await;
    text_is(&c, "#status", "Your calendar is not connected").await;
    let token = el(&c, "#icloud-form input[name=csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.len(), 64, "{token}");
    assert_eq!(
        el(&c, "#icloud-form input[name=return_to]")
            .await
            .attr("value")
            .await
            .unwrap()
            .as_deref(),
        Some("/")
    );
    connect_icloud(&c, "maya@example.org").await;
    // She sees which account she connected.
    text_is(
        &c,
        "#status",
        "Your iCloud calendar (maya@example.org) is connected",
    )
    .await;

    // Theo, her mentee, opens her week (in his zone, London).
    sign_in(&c, &base, "theo").await;
    text_is(&c, "#who", "Theo (mentee)").await;
    el(&c, "#week-maya").await.click().await.unwrap();
    el(&c, "#week").await;
    let mut unavailable = Vec::new();
    for cell in c.find_all(Locator::Css("td.unavailable")).await.unwrap() {
        unavailable.push(cell.attr("data-start").await.unwrap().unwrap());
    }
    let has = |at: &str| unavailable.iter().any(|u| u == at);
    // The page's one stylesheet applies under its Content-Security-Policy
    // (allowed by hash): an Unavailable cell is red.
    let red = el(&c, "td.unavailable")
        .await
        .css_value("background-color")
        .await
        .unwrap();
    assert!(
        red == "rgba(192, 57, 43, 1)" || red == "rgb(192, 57, 43)",
        "{red}"
    );
    let mut closed = Vec::new();
    for cell in c.find_all(Locator::Css("td.closed")).await.unwrap() {
        closed.push(cell.attr("data-start").await.unwrap().unwrap());
    }
    // Outside the program's hours: the weekend, evenings, and before the
    // one hour of notice on Thursday (now is 09:00).
    for at in [
        "2026-03-07T10:00:00Z",
        "2026-03-09T19:00:00Z",
        "2026-03-05T09:30:00Z",
    ] {
        assert!(closed.iter().any(|c| c == at), "{at} not shaded");
    }
    assert!(!closed.iter().any(|c| c == "2026-03-05T10:00:00Z"));
    // The 09:00 New York stand-up: 14:00 London on Thursday, 13:00 on
    // Monday after the US clock change; none on Wednesday (EXDATE).
    assert!(has("2026-03-05T14:00:00Z") && !has("2026-03-05T14:30:00Z"));
    assert!(has("2026-03-09T13:00:00Z") && !has("2026-03-09T14:00:00Z"));
    assert!(!has("2026-03-11T13:00:00Z"));
    // The client call 15:00-16:30 UTC Thursday.
    assert!(has("2026-03-05T15:00:00Z") && has("2026-03-05T16:00:00Z"));
    // The all-day conference: all of Friday in London (05:00 Friday to
    // 05:00 Saturday UTC), 28 half-hour rows from 07:00.
    let friday = unavailable
        .iter()
        .filter(|u| u.starts_with("2026-03-06"))
        .count();
    assert_eq!(friday, 28);
    // The out-of-office Tuesday from 12:00 London, the transparent focus
    // block (Monday 10:00) not shown.
    assert!(has("2026-03-10T12:00:00Z") && !has("2026-03-10T11:30:00Z"));
    assert!(!has("2026-03-09T10:00:00Z"));
    // Nothing but the word: no titles on the page.
    let html = c.source().await.unwrap();
    assert!(!html.contains("stand-up") && !html.contains("Client call"));
    assert!(c.find(Locator::Css("#slots li")).await.is_ok());
    // Each mutual slot in Theo's time and Maya's own: never outside
    // 08:00-18:00 in New York.
    let theirs = c.find_all(Locator::Css("#slots li .theirs")).await.unwrap();
    assert!(!theirs.is_empty());
    for slot in theirs {
        let text = slot.text().await.unwrap();
        assert!(text.contains("for Maya"), "{text}");
        let hours: Vec<&str> = text
            .split(' ')
            .filter(|w| w.len() == 5 && w.as_bytes()[2] == b':')
            .collect();
        assert_eq!(hours.len(), 2, "{text}");
        assert!(hours[0] >= "08:00" && hours[1] <= "18:00", "{text}");
    }

    let png = c.screenshot().await.unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("serve-week.png"), &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    // An administrator working on Eli's behalf cannot connect Eli's calendar.
    c.goto(&format!("{base}/")).await.unwrap();
    el(&c, "#sign-out").await.click().await.unwrap();
    el(&c, "select[name=on_behalf_of] option[value=eli]")
        .await
        .click()
        .await
        .unwrap();
    el(&c, "#sign-in-admin").await.click().await.unwrap();
    text_until(&c, "#who", |t| t.contains("working on behalf of Eli")).await;
    connect_icloud(&c, "eli@example.org").await;
    text_until(&c, "#error", |t| t.contains("only eli can connect")).await;
    c.goto(&format!("{base}/")).await.unwrap();
    text_is(&c, "#status", "Your calendar is not connected").await;

    // A poll on `serve`: created and shown, but `serve` sends no
    // invitations, so booking it is the typed error's page.
    sign_in(&c, &base, "ana").await;
    connect_icloud(&c, "ana@example.org").await;
    text_is(
        &c,
        "#status",
        "Your iCloud calendar (ana@example.org) is connected",
    )
    .await;
    create_poll(&c, "Circle catch-up").await;
    text_is(
        &c,
        "#connected",
        "1 of 5 invitees have connected a calendar",
    )
    .await;
    el(&c, "#book-0").await.click().await.unwrap();
    text_until(&c, "#error", |t| {
        t.contains("no way to send invitations is configured")
    })
    .await;
    c.close().await.unwrap();
}

/// On the home page, creates a poll for the circle titled `title`, and
/// waits for its page; the poll's id.
async fn create_poll(c: &Client, title: &str) -> String {
    let field = el(c, "#poll-title-circle").await;
    field.clear().await.unwrap();
    field.send_keys(title).await.unwrap();
    el(c, "#poll-circle").await.click().await.unwrap();
    text_until(c, "h1", |t| t == title).await;
    el(c, "#poll").await;
    let url = c.current_url().await.unwrap();
    url.path()
        .strip_prefix("/polls/")
        .unwrap_or_else(|| panic!("not a poll page: {url}"))
        .to_owned()
}

/// Opens a poll from the home page's list.
async fn open_poll(c: &Client, base: &str, id: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    el(c, &format!("#open-{id}")).await.click().await.unwrap();
    el(c, "#poll-status").await;
}

async fn text_of(c: &Client, css: &str) -> String {
    el(c, css).await.text().await.unwrap()
}

/// The invitations, recorded instead of sent.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<(Meeting, MeetingChange)>>);

#[async_trait]
impl MeetingSender for Recorded {
    fn via(&self) -> &'static str {
        "email"
    }

    fn organiser(&self) -> Option<Person> {
        Some(Person::new("scheduling@example.org"))
    }

    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError> {
        self.0
            .lock()
            .unwrap()
            .push((meeting.clone(), change.clone()));
        Ok(Delivered {
            via: "email",
            event: None,
        })
    }
}

/// The page's router in process, over the demo program (its shipped
/// calendars, the demo clock) with `sent` as the invitation sender; its
/// URL and the assistant.
async fn start_in_process(dir: &Path, sent: Arc<Recorded>) -> (String, Assistant) {
    let db = dir.join("assistant.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).unwrap()),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), [7u8; 32])),
    ));
    let (ics, files) = demo_data::sources(&demo_data::default_data()).unwrap();
    let assistant = Assistant::builder()
        .store(Store::open_sqlite(&db).await.unwrap())
        .vault(vault)
        .clock(Arc::new(FixedClock::new(
            "2026-03-05T09:00:00Z".parse().unwrap(),
        )))
        .source(Provider::Icloud, Arc::new(ics))
        .caldav_validator(Arc::new(files))
        .invitations(sent)
        .build()
        .await
        .unwrap();
    demo_data::seed(&assistant).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(assistant.clone(), HttpConfig::demo(Default::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, assistant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_creates_answers_and_books_a_poll() {
    let Some((driver, chromium)) = browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sent = Arc::new(Recorded::default());
    let (base, assistant) = start_in_process(dir.path(), Arc::clone(&sent)).await;
    // Ana and Ben have connected their calendars (the form is the other
    // test's); Chen, Dara and Eli have not.
    for who in ["ana", "ben"] {
        assistant
            .connect_icloud(
                &Actor::participant(who),
                &ParticipantId::new(who),
                &format!("{who}@example.org"),
                SecretString::new("abcd-efgh-ijkl-mnop".into()),
            )
            .await
            .unwrap();
    }
    let (_driver, c) = start_driver(&driver, &chromium).await;

    // Ana proposes two meetings to the circle.
    sign_in(&c, &base, "ana").await;
    let catch_up = create_poll(&c, "Circle catch-up").await;
    text_is(
        &c,
        "#connected",
        "2 of 5 invitees have connected a calendar",
    )
    .await;
    let first_slot = text_of(&c, "#slot-0 .when").await;
    c.goto(&format!("{base}/")).await.unwrap();
    let retro = create_poll(&c, "Circle retro").await;
    assert_ne!(catch_up, retro);
    // The same calendars, the same best time.
    assert_eq!(text_of(&c, "#slot-0 .when").await, first_slot);

    // Ben sees both waiting for him, and answers the first with the
    // radio form: counts and his own answers only, no one else's.
    sign_in(&c, &base, "ben").await;
    el(&c, &format!("#waiting-{catch_up}")).await;
    el(&c, &format!("#waiting-{retro}")).await;
    open_poll(&c, &base, &catch_up).await;
    assert!(c.find(Locator::Css("#poll")).await.is_err());
    for vote in ["#vote-0-yes", "#vote-1-if_need_be", "#vote-2-no"] {
        el(&c, vote).await.click().await.unwrap();
    }
    el(&c, "#send-answers").await.click().await.unwrap();
    text_until(&c, "#answer-0 .counts", |t| t.starts_with("1 yes")).await;
    assert!(el(&c, "#vote-0-yes").await.is_selected().await.unwrap());
    assert!(
        el(&c, "#vote-1-if_need_be")
            .await
            .is_selected()
            .await
            .unwrap()
    );
    assert!(el(&c, "#vote-2-no").await.is_selected().await.unwrap());
    assert!(!el(&c, "#vote-3-yes").await.is_selected().await.unwrap());
    text_is(
        &c,
        "#answer-1 .counts",
        "0 yes, 1 if need be, 0 no, 4 not yet",
    )
    .await;
    assert!(!c.source().await.unwrap().contains("Ben: yes"));
    c.goto(&format!("{base}/")).await.unwrap();
    el(&c, &format!("#waiting-{retro}")).await;
    assert!(
        c.find(Locator::Css(&format!("#waiting-{catch_up}")))
            .await
            .is_err()
    );

    // Ana sees Ben's answers beside who is free now, and books.
    sign_in(&c, &base, "ana").await;
    open_poll(&c, &base, &catch_up).await;
    text_is(
        &c,
        "#connected",
        "2 of 5 invitees have connected a calendar",
    )
    .await;
    let each = text_of(&c, "#slot-0 .each").await;
    assert!(
        each.contains("Ben: yes") && each.contains("Ana: no answer"),
        "{each}"
    );
    assert!(
        text_of(&c, "#slot-1 .each")
            .await
            .contains("Ben: if need be")
    );
    assert!(text_of(&c, "#slot-2 .each").await.contains("Ben: no"));
    assert_eq!(
        text_of(&c, "#slot-0 .counts").await,
        "1 yes, 0 if need be, 0 no, 4 not yet"
    );
    let free = text_of(&c, "#slot-0 .now-free").await;
    assert!(free.contains("Ana") && free.contains("Ben"), "{free}");
    // No calendar: unknown, never free.
    let unknown = text_of(&c, "#slot-0 .now-unknown").await;
    for who in ["Chen", "Dara", "Eli"] {
        assert!(unknown.contains(who), "{unknown}");
    }
    el(&c, "#book-0").await.click().await.unwrap();
    text_is(&c, "#booking-title", "Circle catch-up").await;
    assert_eq!(text_of(&c, "#booking-when").await, first_slot);
    assert_eq!(text_of(&c, "#booking-via").await, "email");
    assert_eq!(
        text_of(&c, "#booking-attendees").await,
        "Ana, Ben, Chen, Dara, Eli"
    );
    text_is(&c, "#status-word", "booked").await;
    assert!(c.find(Locator::Css("#book-0")).await.is_err());
    {
        let sent = sent.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let (meeting, change) = &sent[0];
        assert_eq!(*change, MeetingChange::Create);
        assert_eq!(meeting.title, "Circle catch-up");
        assert_eq!(meeting.attendees.len(), 5);
    }

    // The other poll's best time is now taken by that meeting: refused,
    // naming who is busy, until Ana books it anyway.
    open_poll(&c, &base, &retro).await;
    let busy = text_of(&c, "#slot-0 .now-unavailable").await;
    assert!(busy.contains("Ana") && busy.contains("Ben"), "{busy}");
    el(&c, "#book-0").await.click().await.unwrap();
    let error = text_until(&c, "#error", |t| t.contains("no longer free")).await;
    assert!(error.contains("Ana, Ben"), "{error}");
    assert_eq!(sent.0.lock().unwrap().len(), 1);
    el(&c, "#back").await.click().await.unwrap();
    el(&c, "#force-0").await.click().await.unwrap();
    el(&c, "#book-0").await.click().await.unwrap();
    text_is(&c, "#booking-title", "Circle retro").await;
    assert_eq!(text_of(&c, "#booking-when").await, first_slot);
    assert_eq!(sent.0.lock().unwrap().len(), 2);

    let png = c.screenshot().await.unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("serve-poll.png"), &png).unwrap();
    c.close().await.unwrap();
}
