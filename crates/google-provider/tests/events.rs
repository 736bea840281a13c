use std::sync::Arc;

use availability::{FreeBusyRequest, FreeBusySource};
use google_provider::{Mode, StaticToken};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{config, row, rows, source, window};

/// Events mode asks for times and statuses only, pages through the
/// answer, and applies the product's busy rules: all-day events block even
/// when left as "Free"; out of office is out of office.
#[tokio::test]
async fn events_mode_reads_times_only_and_blocks_all_day_events() {
    let server = MockServer::start().await;
    let fields = "items(start,end,transparency,status,eventType),nextPageToken";
    Mock::given(method("GET"))
        .and(path("/calendar/v3/calendars/ana@example.org/events"))
        .and(query_param("fields", fields))
        .and(query_param("singleEvents", "true"))
        .and(query_param("timeMin", "2025-03-03T00:00:00Z"))
        .and(query_param("timeMax", "2025-03-10T00:00:00Z"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [
                {"start": {"date": "2025-03-04"}, "end": {"date": "2025-03-05"}, "transparency": "transparent"},
                {"start": {"dateTime": "2025-03-05T09:00:00+01:00"}, "end": {"dateTime": "2025-03-05T10:00:00+01:00"}},
                {"start": {"dateTime": "2025-03-05T12:00:00Z"}, "end": {"dateTime": "2025-03-05T13:00:00Z"}, "transparency": "transparent"},
                {"start": {"dateTime": "2025-03-05T14:00:00Z"}, "end": {"dateTime": "2025-03-05T15:00:00Z"}, "status": "cancelled"}
            ],
            "nextPageToken": "page-2"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/calendar/v3/calendars/ana@example.org/events"))
        .and(query_param("pageToken", "page-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [
                {"start": {"dateTime": "2025-03-06T00:00:00Z"}, "end": {"dateTime": "2025-03-07T00:00:00Z"}, "eventType": "outOfOffice"},
                {"start": {"dateTime": "2025-03-07T09:00:00Z"}, "end": {"dateTime": "2025-03-07T10:00:00Z"}, "status": "tentative"},
                {"start": {"date": "2025-03-08"}, "end": {"date": "2025-03-09"}, "eventType": "workingLocation"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(
        Arc::new(StaticToken::new("t")),
        config(&server).mode(Mode::Events).account_zone(
            "ana@example.org",
            jiff::tz::TimeZoneDatabase::bundled()
                .get("Europe/Berlin")
                .unwrap(),
        ),
    );
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
            ["ana@example.org"],
        ))
        .await
        .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![
            // The all-day day in the participant's zone (Berlin, UTC+1).
            row("2025-03-03T23:00:00Z", "2025-03-04T23:00:00Z", "busy"),
            row("2025-03-05T08:00:00Z", "2025-03-05T09:00:00Z", "busy"),
            row(
                "2025-03-06T00:00:00Z",
                "2025-03-07T00:00:00Z",
                "out_of_office"
            ),
            row("2025-03-07T09:00:00Z", "2025-03-07T10:00:00Z", "tentative"),
        ]
    );
}
