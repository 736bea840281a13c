//! Integration tests of caldav-provider.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

/// A sweep of broken calendars: typed errors or named partial results.
mod broken;
/// Shared helpers: fixtures, windows, JSON of busy time.
mod common;
/// iCalendar to busy time: the peers' fixtures, busy rules, recurrence,
/// zones, limits and broken input.
mod ical;
/// `IcsSource` as a `FreeBusySource` over files.
mod ics_source;
/// Where credentials go (issue 25): redirects and hrefs to another origin,
/// or from HTTP to HTTPS, refused before anything is sent.
mod origins;
/// iCloud-style answers and failures replayed by wiremock.
mod replay;
/// The CalDAV client against real Radicale and Xandikos servers.
mod servers;
