use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use availability::{AccountId, FreeBusyRequest, FreeBusySource};
use google_provider::{GoogleConfig, Pacing, Rate, StaticToken};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::{config, source, window};

/// Every freeBusy request's arrival, `timeMin` and calendars.
type Log = Arc<Mutex<Vec<(Instant, String, usize)>>>;

/// Answers every calendar asked with no busy time, and records the request.
struct FreeForAll(Log);

impl Respond for FreeForAll {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let items = body["items"].as_array().unwrap();
        let calendars: serde_json::Map<String, serde_json::Value> = items
            .iter()
            .map(|item| {
                let id = item["id"].as_str().unwrap().to_owned();
                (id, serde_json::json!({ "busy": [] }))
            })
            .collect();
        let time_min = body["timeMin"].as_str().unwrap().to_owned();
        self.0
            .lock()
            .unwrap()
            .push((Instant::now(), time_min, items.len()));
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "kind": "calendar#freeBusy",
            "calendars": calendars,
        }))
    }
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

#[test]
fn google_s_documented_quotas_are_the_default() {
    let pacing = GoogleConfig::default().pacing;
    assert!(pacing.enabled);
    assert_eq!(pacing.per_identity, Some(Rate::per_minute(600)));
    assert_eq!(pacing.overall, Some(Rate::per_minute(10_000)));
    assert_eq!(pacing.concurrency, None);
    assert!(!GoogleConfig::default().pacing(Pacing::off()).pacing.enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_s_query_is_batched_and_kept_within_its_quota() {
    let server = MockServer::start().await;
    let log = Log::default();
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(FreeForAll(log.clone()))
        .mount(&server)
        .await;
    // The per-minute quota scaled down to a second, so that the test
    // takes seconds: 4 requests a second for the one account.
    let mut config = config(&server).pacing(
        Pacing::default()
            .per_identity(Rate::per_second(4))
            .overall(Rate::per_second(100)),
    );
    config.max_window = Duration::from_secs(86_400);
    let google = source(Arc::new(StaticToken::new("scheduler-token")), config);
    // 120 calendars through one scheduling account's token, over three
    // days: three pieces of a day, each ceil(120 / 50) = 3 requests.
    let accounts: Vec<AccountId> = (0..120)
        .map(|n| AccountId::from(format!("person{n}@example.org")))
        .collect();
    let request = FreeBusyRequest::new(
        window("2025-03-03T00:00:00Z", "2025-03-06T00:00:00Z"),
        accounts.clone(),
    );
    let answer = google.free_busy(&request).await.unwrap();
    assert_eq!(answer.accounts.len(), 120);
    assert!(answer.accounts.iter().all(|a| a.result.is_ok()));

    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 9, "3 pieces of 3 requests");
    for day in ["2025-03-03", "2025-03-04", "2025-03-05"] {
        let mut sizes: Vec<usize> = log
            .iter()
            .filter(|(_, time_min, _)| time_min.starts_with(day))
            .map(|(_, _, n)| *n)
            .collect();
        sizes.sort();
        assert_eq!(sizes, [20, 50, 50], "the piece of {day}");
    }
    let times = log.iter().map(|(t, _, _)| *t).collect();
    let most = most_in_window(times, Duration::from_secs(1));
    assert!(most <= 4, "{most} requests in one second");
}
