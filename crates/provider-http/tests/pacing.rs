use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability::RetryConfig;
use futures_util::future::join_all;
use provider_http::{
    ClientOptions, Pacer, Pacing, Rate, Reply, Service, StatusCode, StatusError, map_status,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SERVICE: Service = Service::new("Test");

fn classify(reply: &Reply) -> Option<StatusError> {
    map_status(reply.status, reply.retry_after, &StatusCode(""))
}

fn quick() -> RetryConfig {
    RetryConfig::default().backoff(Duration::from_millis(1), Duration::from_millis(2))
}

/// Each request's arrival at the server and its `x-identity`.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// Answers 200 after `delay`, or 429 with `Retry-After: 1` to the first
/// request of `throttle_first`; records every arrival.
struct Recorder {
    log: Log,
    delay: Duration,
    throttle_first: Option<&'static str>,
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let identity = request
            .headers
            .get("x-identity")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut log = self.log.lock().unwrap();
        let first_of_it = !log.iter().any(|(_, id)| *id == identity);
        log.push((Instant::now(), identity.clone()));
        if first_of_it && self.throttle_first == Some(identity.as_str()) {
            return ResponseTemplate::new(429).insert_header("Retry-After", "1");
        }
        ResponseTemplate::new(200)
            .set_body_string("ok")
            .set_delay(self.delay)
    }
}

async fn server(delay: Duration, throttle_first: Option<&'static str>) -> (MockServer, Log) {
    let server = MockServer::start().await;
    let log = Log::default();
    Mock::given(any())
        .respond_with(Recorder {
            log: log.clone(),
            delay,
            throttle_first,
        })
        .mount(&server)
        .await;
    (server, log)
}

/// Sends `n` requests of each of `identities` at once through `pacer`;
/// how many succeeded.
async fn burst(server: &MockServer, pacer: &Pacer, identities: &[&str], n: usize) -> usize {
    let http = ClientOptions::new("test/0").build().unwrap();
    let retry = quick();
    let requests = identities.iter().flat_map(|id| (0..n).map(move |_| *id));
    let sent = requests.map(|id| {
        let (http, retry) = (&http, &retry);
        async move {
            SERVICE
                .send_paced(
                    pacer.identity(id),
                    || http.get(server.uri()).header("x-identity", id),
                    retry,
                    1024,
                    classify,
                )
                .await
        }
    });
    join_all(sent)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|reply| reply.body == b"ok"))
        .count()
}

/// The arrivals of `identity` (all with `None`), in order.
fn arrivals(log: &Log, identity: Option<&str>) -> Vec<Instant> {
    let mut times: Vec<Instant> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, id)| identity.is_none_or(|want| want == id))
        .map(|(t, _)| *t)
        .collect();
    times.sort();
    times
}

/// The most arrivals in any window of `window` (half-open, sliding).
fn most_in_window(times: &[Instant], window: Duration) -> usize {
    let mut most = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_identity_stays_within_its_rate() {
    let (server, log) = server(Duration::ZERO, None).await;
    let pacer = Pacer::new(&Pacing::default().per_identity(Rate::per_second(20)));
    let ok = burst(&server, &pacer, &["alice"], 100).await;
    assert_eq!(ok, 100, "every request succeeds: pacing only waits");
    let times = arrivals(&log, None);
    assert_eq!(times.len(), 100);
    let most = most_in_window(&times, Duration::from_secs(1));
    assert!(most <= 20, "{most} arrivals in one second");
    // Paced, not trickled: the quota is used.
    assert!(most >= 15, "{most} arrivals in one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_identities_are_paced_apart() {
    let (server, log) = server(Duration::ZERO, None).await;
    let pacer = Pacer::new(&Pacing::default().per_identity(Rate::per_second(20)));
    let ok = burst(&server, &pacer, &["alice", "bob"], 40).await;
    assert_eq!(ok, 80);
    for who in ["alice", "bob"] {
        let times = arrivals(&log, Some(who));
        assert_eq!(times.len(), 40);
        let most = most_in_window(&times, Duration::from_secs(1));
        assert!(most <= 20, "{who}: {most} arrivals in one second");
    }
    // Each has a rate of its own: together they go about twice as fast.
    let together = most_in_window(&arrivals(&log, None), Duration::from_secs(1));
    assert!(together > 30, "{together} arrivals in one second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_cap_is_never_exceeded() {
    let delay = Duration::from_millis(200);
    let (server, log) = server(delay, None).await;
    let pacer = Pacer::new(&Pacing::default().concurrency(3));
    let ok = burst(&server, &pacer, &["alice"], 15).await;
    assert_eq!(ok, 15);
    // A request is in flight at the server from its arrival until its
    // answer leaves, `delay` later (less a margin for timers).
    let times = arrivals(&log, Some("alice"));
    let most = most_in_window(&times, delay - Duration::from_millis(20));
    assert_eq!(most, 3, "at most 3 in flight, and the cap used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_holds_back_every_request_of_that_identity() {
    let (server, log) = server(Duration::ZERO, Some("alice")).await;
    let pacer = Pacer::new(&Pacing::default().per_identity(Rate::per_second(10)));
    let ok = burst(&server, &pacer, &["alice", "bob"], 5).await;
    assert_eq!(ok, 10, "the throttled request is retried, and all succeed");
    let alice = arrivals(&log, Some("alice"));
    assert_eq!(alice.len(), 6, "five requests and one retry");
    let throttled = alice[0];
    for later in &alice[1..] {
        let after = *later - throttled;
        assert!(
            after >= Duration::from_millis(995),
            "a request of alice arrived {after:?} after the 429"
        );
    }
    // Bob is not held back.
    let bob = arrivals(&log, Some("bob"));
    assert_eq!(bob.len(), 5);
    assert!(bob[4] - throttled < Duration::from_secs(1), "bob waited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_gives_its_slot_back() {
    let (server, log) = server(Duration::from_secs(5), None).await;
    let pacer = Pacer::new(&Pacing::default().concurrency(1));
    let http = ClientOptions::new("test/0").build().unwrap();
    let retry = quick();
    let send = || {
        SERVICE.send_paced(
            pacer.identity("alice"),
            || http.get(server.uri()).header("x-identity", "alice"),
            &retry,
            1024,
            classify,
        )
    };
    // The first is dropped in flight; the second still gets the one slot.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), send())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), send())
            .await
            .is_err()
    );
    assert_eq!(arrivals(&log, Some("alice")).len(), 2);
}
