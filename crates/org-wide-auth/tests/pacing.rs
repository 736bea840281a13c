//! Pacing of organisation integrations against wiremock (Google's token
//! endpoint and `freeBusy`, `events.insert`; Graph's `getSchedule` and
//! `POST /users/{id}/events`, in their documented shapes): the rate set
//! on the registry with `OrgAuth::with_pacing` is what arrives at the
//! server, for enabled and restored integrations; a source and its
//! booking writer count against one identity; and Google's scheduling
//! account stays one identity across the hourly refresh of its token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability::{BusyEntry, BusyKind, FixedClock, FreeBusyRequest, Interval, MeetingChange};
use org_wide_auth::{IntegrationKind, OrgAuth, Pacing, Rate, ReadAs};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::booking::meeting;
use crate::integrations::{exchange, google, google_echo, org_on, participants, vault, week};

/// What arrived, in order: when, the path, the bearer token, and how many
/// calendars a `freeBusy` asked.
type Log = Arc<Mutex<Vec<Arrival>>>;

#[derive(Clone, Debug)]
struct Arrival {
    at: Instant,
    path: String,
    token: String,
    calendars: usize,
}

fn record(log: &Log, r: &Request) {
    let calendars = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|b| b["items"].as_array().map(Vec::len))
        .unwrap_or(0);
    let token = r
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    log.lock().unwrap().push(Arrival {
        at: Instant::now(),
        path: r.url.path().to_owned(),
        token,
        calendars,
    });
}

/// The most arrivals in any sliding window of `window`.
fn most_in_window(mut times: Vec<Instant>, window: Duration) -> usize {
    times.sort();
    let (mut most, mut start) = (0, 0);
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

/// The shortest gap between consecutive arrivals.
fn shortest_gap(log: &[Arrival]) -> Duration {
    let mut times: Vec<Instant> = log.iter().map(|a| a.at).collect();
    times.sort();
    times
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(Duration::MAX)
}

/// Calendar `p{i:04}@example.org`'s one busy period: five minutes from
/// `i` times ten minutes into `week()`.
fn busy_of(i: usize) -> Interval {
    let start = week().start() + i64::try_from(i).unwrap() * 600;
    Interval::new(start, start + 300).unwrap()
}

/// A time within the week of 3 March 2025, as RFC 3339 in UTC.
fn utc(t: i64) -> String {
    let since = t - week().start();
    let (day, rest) = (since / 86_400, since % 86_400);
    format!(
        "2025-03-{:02}T{:02}:{:02}:{:02}Z",
        3 + day,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `freeBusy` as documented
/// (<https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query>):
/// each asked `p{i:04}@example.org` busy at its own [`busy_of`], others
/// free. Records each request, and on the `refresh_at`-th one moves the
/// clock on two hours, so the scheduling account's token (an hour's
/// lifetime) is refreshed for the batches that start after it.
struct FreeBusyOfTheirOwn {
    log: Log,
    clock: Arc<FixedClock>,
    seen: AtomicUsize,
    refresh_at: usize,
}

impl Respond for FreeBusyOfTheirOwn {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        record(&self.log, r);
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.refresh_at {
            self.clock.advance(2 * 3600);
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let calendars: serde_json::Map<String, Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let id = item["id"].as_str().unwrap();
                let busy = match id
                    .strip_prefix('p')
                    .and_then(|rest| rest.strip_suffix("@example.org"))
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(i) => {
                        let iv = busy_of(i);
                        vec![json!({"start": utc(iv.start()), "end": utc(iv.end())})]
                    }
                    None => Vec::new(),
                };
                (id.to_owned(), json!({"busy": busy}))
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy", "calendars": calendars
        }))
    }
}

/// The scheduling account reads 1000 calendars, 50 to a `freeBusy`, paced
/// at 5 a second for its one identity, and its token is refreshed in the
/// middle of the read: exactly 20 requests arrive, never more than 5 in
/// any second (counting the validation probe just before), and every
/// calendar has its own busy time. Were the identity the token's, the
/// batches after the refresh would start a budget of their own beside
/// the old one's and arrive twice as fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calendars_through_the_scheduling_account_keep_its_rate_across_a_refresh() {
    let server = MockServer::start().await;
    let minted = Arc::new(AtomicUsize::new(0));
    let mints = minted.clone();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |_: &Request| {
            let n = mints.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("ya29.scheduler-{n}"),
                "expires_in": 3600,
                "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    let clock = Arc::new(FixedClock::new("2025-03-03T08:00:00Z".parse().unwrap()));
    let log = Log::default();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(FreeBusyOfTheirOwn {
            log: log.clone(),
            clock: clock.clone(),
            seen: AtomicUsize::new(0),
            // The probe, then the query's 8th request.
            refresh_at: 1 + 8,
        })
        .mount(&server)
        .await;
    let org = OrgAuth::new(vault(), clock.clone()).with_pacing(
        IntegrationKind::GoogleWorkspace,
        Pacing::default().per_identity(Rate::per_second(5)),
    );
    org.enable_google(google(&server).read_as(ReadAs::SchedulingAccount))
        .await
        .unwrap();
    let source = org.source(IntegrationKind::GoogleWorkspace).await.unwrap();
    let everyone = participants();
    let answer = source
        .free_busy(&FreeBusyRequest::new(week(), everyone.clone()))
        .await
        .unwrap();

    assert_eq!(answer.accounts.len(), 1000);
    for (i, (asked, a)) in everyone.iter().zip(&answer.accounts).enumerate() {
        assert_eq!(a.account.as_str(), asked);
        assert_eq!(
            a.result.as_ref().unwrap().entries(),
            vec![BusyEntry {
                interval: busy_of(i),
                kind: BusyKind::Busy
            }],
            "{asked}"
        );
    }
    let log = log.lock().unwrap().clone();
    let (probe, query) = log.split_at(1);
    assert_eq!(probe[0].calendars, 1);
    assert_eq!(query.len(), 20, "ceil(1000 / 50) requests");
    assert!(query.iter().all(|a| a.calendars == 50));
    // The refresh happened in the middle of the query: both tokens read.
    assert_eq!(minted.load(Ordering::SeqCst), 2);
    let first = query
        .iter()
        .filter(|a| a.token == "Bearer ya29.scheduler-1")
        .count();
    let second = query
        .iter()
        .filter(|a| a.token == "Bearer ya29.scheduler-2")
        .count();
    assert!(first >= 8 && second >= 1, "{first} then {second}");
    assert_eq!(first + second, 20);
    let most = most_in_window(log.iter().map(|a| a.at).collect(), Duration::from_secs(1));
    assert!(most <= 5, "{most} requests in one second");
}

/// Google with booking: the writer shares the source's pacer and counts
/// against the scheduling account by name, though its token (the events
/// scope) is not the reads' (the free/busy scope). At 2 per 800 ms (one
/// every 800 ms), a booking right after the validation probe, and a read
/// right after the booking, each wait their turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_reads_and_bookings_of_the_scheduling_account_share_its_rate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(|r: &Request| {
            let claims = crate::integrations::jwt_claims(r);
            let token = if claims["scope"]
                .as_str()
                .unwrap()
                .ends_with("calendar.events")
            {
                "ya29.events"
            } else {
                "ya29.freebusy"
            };
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "expires_in": 3600, "token_type": "Bearer"
            }))
        })
        .mount(&server)
        .await;
    let log = Log::default();
    let reads = log.clone();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(move |r: &Request| {
            record(&reads, r);
            google_echo(r)
        })
        .mount(&server)
        .await;
    let writes = log.clone();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/mentoring@example.org/events"))
        .respond_with(move |r: &Request| {
            record(&writes, r);
            ResponseTemplate::new(200).set_body_json(json!({
                "kind": "calendar#event", "id": "evt0001", "iCalUID": "mtg-7f3c2a"
            }))
        })
        .expect(1)
        .mount(&server)
        .await;
    let org = org_on(vault()).with_pacing(
        IntegrationKind::GoogleWorkspace,
        Pacing::default().per_identity(Rate::new(2, Duration::from_millis(800))),
    );
    org.enable_google(
        google(&server)
            .read_as(ReadAs::SchedulingAccount)
            .with_booking(true),
    )
    .await
    .unwrap();
    let sender = org
        .meeting_sender(IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    sender
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap();
    let source = org.source(IntegrationKind::GoogleWorkspace).await.unwrap();
    let answer = source
        .free_busy(&FreeBusyRequest::new(week(), ["ana@example.org"]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());

    let log = log.lock().unwrap().clone();
    let tokens: Vec<&str> = log.iter().map(|a| a.token.as_str()).collect();
    assert_eq!(
        tokens,
        [
            "Bearer ya29.freebusy",
            "Bearer ya29.events",
            "Bearer ya29.freebusy"
        ]
    );
    let gap = shortest_gap(&log);
    assert!(gap >= Duration::from_millis(700), "{gap:?}");
}

/// The registry's pacing reaches integrations restored from stored
/// settings on another instance: Google at one request every 600 ms per
/// identity (its default would allow one every 100 ms), and Exchange
/// Online at the same for the scheduling mailbox, whose reads and
/// bookings share it (Graph's default: one every 60 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_pacing_reaches_restored_integrations() {
    let slow = || Pacing::default().per_identity(Rate::new(2, Duration::from_millis(600)));
    let vault = vault();
    let log = Log::default();

    let google_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.delegated", "expires_in": 3600, "token_type": "Bearer"
        })))
        .mount(&google_server)
        .await;
    let reads = log.clone();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(move |r: &Request| {
            record(&reads, r);
            google_echo(r)
        })
        .mount(&google_server)
        .await;

    let graph_server = MockServer::start().await;
    // One app-only token for each instance.
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app"
        })))
        .expect(2)
        .mount(&graph_server)
        .await;
    let reads = log.clone();
    Mock::given(method("POST"))
        .and(path_regex(r"/getSchedule$"))
        .respond_with(move |r: &Request| {
            record(&reads, r);
            ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"scheduleId": "mentoring@example.org", "scheduleItems": []}]}))
        })
        .mount(&graph_server)
        .await;
    let writes = log.clone();
    Mock::given(method("POST"))
        .and(path("/v1.0/users/mentoring@example.org/events"))
        .respond_with(move |r: &Request| {
            record(&writes, r);
            ResponseTemplate::new(201).set_body_json(json!({"id": "AAMkAGI1AAAt9AHjAAA="}))
        })
        .expect(1)
        .mount(&graph_server)
        .await;

    // Enabled on one instance with the defaults; restored on another
    // with its own pacing.
    let first = org_on(vault.clone());
    first
        .enable_google(google(&google_server).read_as(ReadAs::SchedulingAccount))
        .await
        .unwrap();
    first
        .enable_exchange_online(exchange(&graph_server).with_booking(true))
        .await
        .unwrap();
    let stored = first.settings().await;
    assert!(
        stored
            .iter()
            .all(|s| !serde_json::to_string(s).unwrap().contains("pacing")),
        "pacing is not stored"
    );
    let restarted = org_on(vault)
        .with_pacing(IntegrationKind::GoogleWorkspace, slow())
        .with_pacing(IntegrationKind::ExchangeOnline, slow());
    assert_eq!(restarted.pacing(IntegrationKind::GoogleWorkspace), slow());
    assert_eq!(
        restarted.pacing(IntegrationKind::ExchangeOnPremise),
        ews_provider::EwsConfig::new("").pacing,
        "the provider's default where none was set"
    );
    for settings in &stored {
        restarted.restore(settings).await.unwrap();
    }
    log.lock().unwrap().clear();

    // Google: 150 calendars, 3 requests of the scheduling account.
    let google = restarted
        .source(IntegrationKind::GoogleWorkspace)
        .await
        .unwrap();
    let some: Vec<String> = participants().into_iter().take(150).collect();
    let answer = google
        .free_busy(&FreeBusyRequest::new(week(), some))
        .await
        .unwrap();
    assert!(answer.accounts.iter().all(|a| a.result.is_ok()));
    let google_log = std::mem::take(&mut *log.lock().unwrap());
    assert_eq!(google_log.len(), 3);
    let gap = shortest_gap(&google_log);
    assert!(gap >= Duration::from_millis(500), "Google: {gap:?}");

    // Exchange Online: read, book, read the scheduling mailbox.
    let graph = restarted
        .source(IntegrationKind::ExchangeOnline)
        .await
        .unwrap();
    let sender = restarted
        .meeting_sender(IntegrationKind::ExchangeOnline)
        .await
        .unwrap();
    let mine = FreeBusyRequest::new(week(), ["mentoring@example.org"]);
    assert!(
        graph.free_busy(&mine).await.unwrap().accounts[0]
            .result
            .is_ok()
    );
    sender
        .send(&meeting(), &MeetingChange::Create)
        .await
        .unwrap();
    assert!(
        graph.free_busy(&mine).await.unwrap().accounts[0]
            .result
            .is_ok()
    );
    let graph_log = log.lock().unwrap().clone();
    let paths: Vec<&str> = graph_log.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1.0/users/mentoring@example.org/calendar/getSchedule",
            "/v1.0/users/mentoring@example.org/events",
            "/v1.0/users/mentoring@example.org/calendar/getSchedule",
        ]
    );
    let gap = shortest_gap(&graph_log);
    assert!(gap >= Duration::from_millis(500), "Graph: {gap:?}");
}
