use availability::{FreeBusyRequest, FreeBusySource};
use graph_provider::Mode;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{config, row, rows, source, window};

/// Personal accounts: `/me/calendarView` with `$select` of times and
/// status only, paged through `@odata.nextLink`; all-day events block even
/// when shown as free; cancelled events do not.
#[tokio::test]
async fn calendar_view_pages_and_blocks_all_day_events() {
    let server = MockServer::start().await;
    let next = format!("{}/v1.0/me/calendarView?$skip=2", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1.0/me/calendarView"))
        .and(query_param(
            "$select",
            "start,end,showAs,isAllDay,isCancelled",
        ))
        .and(query_param("startDateTime", "2025-03-03T00:00:00Z"))
        .and(query_param("endDateTime", "2025-03-10T00:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [
                {"start": {"dateTime": "2025-03-04T00:00:00.0000000", "timeZone": "UTC"},
                 "end": {"dateTime": "2025-03-05T00:00:00.0000000", "timeZone": "UTC"},
                 "showAs": "free", "isAllDay": true, "isCancelled": false},
                {"start": {"dateTime": "2025-03-05T09:00:00.0000000", "timeZone": "UTC"},
                 "end": {"dateTime": "2025-03-05T10:00:00.0000000", "timeZone": "UTC"},
                 "showAs": "busy", "isAllDay": false, "isCancelled": true}
            ],
            "@odata.nextLink": next
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/calendarView"))
        .and(query_param("$skip", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [
                {"start": {"dateTime": "2025-03-06T09:00:00.0000000", "timeZone": "UTC"},
                 "end": {"dateTime": "2025-03-06T10:00:00.0000000", "timeZone": "UTC"},
                 "showAs": "tentative", "isAllDay": false, "isCancelled": false},
                {"start": {"dateTime": "2025-03-07T09:00:00.0000000", "timeZone": "UTC"},
                 "end": {"dateTime": "2025-03-07T10:00:00.0000000", "timeZone": "UTC"},
                 "showAs": "free", "isAllDay": false, "isCancelled": false}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(
        std::sync::Arc::new(availability::StaticToken::new("user-token")),
        config(&server).mode(Mode::CalendarView),
    );
    let answer = source
        .free_busy(&FreeBusyRequest::new(
            window("2025-03-03T00:00:00Z", "2025-03-10T00:00:00Z"),
            ["someone@outlook.com"],
        ))
        .await
        .unwrap();
    assert_eq!(
        rows(answer.accounts[0].result.as_ref().unwrap()),
        vec![
            row("2025-03-04T00:00:00Z", "2025-03-05T00:00:00Z", "busy"),
            row("2025-03-06T09:00:00Z", "2025-03-06T10:00:00Z", "tentative"),
        ]
    );
}
