//! The cost of reading a provider's free/busy answer into busy time, per
//! mailbox-day: Exchange's EWS `GetUserAvailability` SOAP envelope against
//! Microsoft Graph's `getSchedule` JSON carrying the same events.
//!
//! ```text
//! cargo bench --bench provider_parse
//! ```
//!
//! One answer of 100 mailboxes over 42 days (EWS's largest request: 100
//! mailboxes, a 42-day window), each mailbox with 3 events a weekday (09:00,
//! 11:30 and 15:00 UTC, an hour each, cycling through busy, tentative and
//! out-of-office). Both are read through the providers' own conversion (the
//! entry points the fuzz targets use): parsing, times, kinds, clipping to the
//! window, one answer per mailbox in order.
//!
//! - `provider_parse/ews_100x42`: `ews_provider::fuzzing::availability_busy`.
//! - `provider_parse/graph_100x42`: `graph_provider::fuzzing::schedule_busy`
//!   (Graph allows 20 schedules a request; one body of 100 is read here so
//!   both measure the same events, and serde_json's cost is linear in it).
//!
//! Throughput is in mailbox-days (4,200 an iteration); criterion prints
//! both, and their ratio is the figure README gives.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use availability::{AccountId, Interval};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const MAILBOXES: usize = 100;
const DAYS: i64 = 42;
/// Monday 2 March 2026, 00:00 UTC.
const START: i64 = 1_772_409_600;

fn window() -> Interval {
    Interval::new(START, START + DAYS * 86_400).unwrap()
}

fn accounts() -> Vec<AccountId> {
    (0..MAILBOXES)
        .map(|i| AccountId::new(format!("m{i:03}@example.org")))
        .collect()
}

/// Each mailbox's events: `(start, end, EWS BusyType, Graph status)`.
fn events() -> Vec<(i64, i64, &'static str, &'static str)> {
    let kinds = [("Busy", "busy"), ("Tentative", "tentative"), ("OOF", "oof")];
    let mut out = Vec::new();
    for day in 0..DAYS {
        if day % 7 >= 5 {
            continue;
        }
        for (k, offset) in [9 * 3600, 11 * 3600 + 1800, 15 * 3600]
            .into_iter()
            .enumerate()
        {
            let start = START + day * 86_400 + offset;
            out.push((start, start + 3600, kinds[k].0, kinds[k].1));
        }
    }
    out
}

fn local(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The SOAP answer, as Exchange 2013 and later write it (prefixed, times
/// in the request's UTC zone without an offset).
fn ews_body() -> Vec<u8> {
    let mut answers = String::new();
    for _ in accounts() {
        answers.push_str(
            "<m:FreeBusyResponse><m:ResponseMessage ResponseClass=\"Success\">\
             <m:ResponseCode>NoError</m:ResponseCode></m:ResponseMessage><m:FreeBusyView>\
             <t:FreeBusyViewType>FreeBusy</t:FreeBusyViewType><t:CalendarEventArray>",
        );
        for (s, e, kind, _) in events() {
            answers.push_str(&format!(
                "<t:CalendarEvent><t:StartTime>{}</t:StartTime><t:EndTime>{}</t:EndTime>\
                 <t:BusyType>{kind}</t:BusyType></t:CalendarEvent>",
                local(s),
                local(e)
            ));
        }
        answers.push_str("</t:CalendarEventArray></m:FreeBusyView></m:FreeBusyResponse>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
         <m:GetUserAvailabilityResponse \
         xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" \
         xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\">\
         <m:FreeBusyResponseArray>{answers}</m:FreeBusyResponseArray>\
         </m:GetUserAvailabilityResponse></s:Body></s:Envelope>"
    )
    .into_bytes()
}

/// The getSchedule answer with the same events (times as Graph writes
/// them: seven fractional digits, the zone apart).
fn graph_body() -> Vec<u8> {
    let schedules: Vec<serde_json::Value> = accounts()
        .iter()
        .map(|a| {
            let items: Vec<serde_json::Value> = events()
                .into_iter()
                .map(|(s, e, _, status)| {
                    serde_json::json!({
                        "isPrivate": false,
                        "status": status,
                        "start": {"dateTime": format!("{}.0000000", local(s)), "timeZone": "UTC"},
                        "end": {"dateTime": format!("{}.0000000", local(e)), "timeZone": "UTC"},
                    })
                })
                .collect();
            serde_json::json!({"scheduleId": a.as_str(), "scheduleItems": items})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "value": schedules })).unwrap()
}

fn bench(c: &mut Criterion) {
    let (accounts, window) = (accounts(), window());
    let (ews, graph) = (ews_body(), graph_body());
    // Both read the same busy time.
    let read_ews = ews_provider::fuzzing::availability_busy(&ews, &accounts, window).unwrap();
    let read_graph = graph_provider::fuzzing::schedule_busy(&graph, &accounts, window).unwrap();
    assert_eq!(read_ews.len(), MAILBOXES);
    for ((a, e), (b, g)) in read_ews.iter().zip(&read_graph) {
        assert_eq!(a, b);
        let (e, g) = (e.as_ref().unwrap(), g.as_ref().unwrap());
        assert_eq!(e.entries().len(), events().len());
        assert_eq!(e.entries(), g.entries());
    }
    eprintln!(
        "bodies: EWS {} bytes, Graph {} bytes, for {} mailbox-days",
        ews.len(),
        graph.len(),
        MAILBOXES as i64 * DAYS
    );
    let mut group = c.benchmark_group("provider_parse");
    group.throughput(Throughput::Elements((MAILBOXES as u64) * DAYS as u64));
    group.bench_function("ews_100x42", |b| {
        b.iter(|| ews_provider::fuzzing::availability_busy(black_box(&ews), &accounts, window))
    });
    group.bench_function("graph_100x42", |b| {
        b.iter(|| graph_provider::fuzzing::schedule_busy(black_box(&graph), &accounts, window))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
