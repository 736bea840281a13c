use std::path::PathBuf;

use availability::Interval;
use caldav_provider::ical::{BusyReport, Calendar, ExpandOptions};
pub(crate) use provider_http::test_support::{rows, window};

pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `.ics` of the peers' fixture set, sorted by name.
pub(crate) fn peer_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures().join("peers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    files.sort();
    files
}

pub(crate) fn peer(name: &str) -> String {
    let path = peer_files()
        .into_iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no fixture {name}"));
    std::fs::read_to_string(path).unwrap()
}

/// The peers' two-week window, across the US DST change of 2025-03-09.
pub(crate) fn two_weeks() -> Interval {
    window("2025-03-03T00:00:00Z", "2025-03-17T00:00:00Z")
}

pub(crate) fn report(text: &str, window: Interval, options: &ExpandOptions) -> BusyReport {
    Calendar::parse(text).unwrap().busy_time(window, options)
}

/// A one-event calendar around `body` (CRLF lines).
pub(crate) fn vevent(body: &str) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:test\r\n");
    for line in body.lines() {
        text.push_str(line.trim());
        text.push_str("\r\n");
    }
    text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    text
}
