//! The iTIP message (RFC 5546) of a meeting, as iCalendar text written by
//! the `icalendar` crate: `METHOD:REQUEST` to create or move it,
//! `METHOD:CANCEL` to cancel it (RFC 5546 §3.2.2 and §3.2.5).
//!
//! Times are written in UTC (`DTSTART:...Z`, RFC 5545 §3.3.5 form 2), so no
//! `VTIMEZONE` is needed and every client shows the right local time across
//! a clock change.

use availability::{Meeting, Person};
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

/// Which iTIP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// Create or move (RFC 5546 §3.2.2).
    Request,
    /// Cancel (RFC 5546 §3.2.5).
    Cancel,
}

impl Method {
    /// The `METHOD` value, also the MIME `method` parameter (RFC 6047 §2.4).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

fn utc(second: i64) -> DateTime<Utc> {
    // An `Interval` holds instants jiff accepts, all inside chrono's range.
    DateTime::from_timestamp(second, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn mailto(person: &Person, key: &str) -> Property {
    let mut property = Property::new(key, format!("mailto:{}", person.email));
    if let Some(name) = &person.name {
        property.add_parameter("CN", name);
    }
    property
}

/// The iCalendar text of `meeting` for `method`, stamped at `now` (Unix
/// seconds): `UID`, `SEQUENCE`, `DTSTAMP`, `ORGANIZER`, every `ATTENDEE`
/// (`ROLE=REQ-PARTICIPANT`, `PARTSTAT=NEEDS-ACTION`, `RSVP=TRUE` on a
/// request), `DTSTART`/`DTEND` in UTC, the title and description.
pub(crate) fn itip(meeting: &Meeting, method: Method, now: i64) -> String {
    let mut event = Event::new();
    event
        .uid(&meeting.uid)
        .sequence(meeting.sequence)
        .timestamp(utc(now))
        .starts(utc(meeting.interval.start()))
        .ends(utc(meeting.interval.end()))
        .summary(&meeting.title)
        .append_property(mailto(&meeting.organiser, "ORGANIZER"));
    if !meeting.description.is_empty() {
        event.description(&meeting.description);
    }
    for attendee in &meeting.attendees {
        let mut property = mailto(attendee, "ATTENDEE");
        property
            .add_parameter("ROLE", "REQ-PARTICIPANT")
            .add_parameter("PARTSTAT", "NEEDS-ACTION");
        if method == Method::Request {
            property.add_parameter("RSVP", "TRUE");
        }
        event.append_multi_property(property);
    }
    match method {
        Method::Request => event.status(EventStatus::Confirmed),
        Method::Cancel => event.status(EventStatus::Cancelled),
    };
    event.add_property("TRANSP", "OPAQUE");
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new(
            "PRODID",
            "-//scheduling-assistant//invitations//EN",
        ))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method.as_str()))
        .push(event.done());
    calendar.to_string()
}

#[cfg(test)]
mod tests {
    use availability::Interval;

    use super::*;

    fn meeting() -> Meeting {
        Meeting {
            uid: "b1@scheduling-assistant".into(),
            sequence: 1,
            // 2026-03-29 00:30Z to 01:30Z: across the UK's clock change.
            interval: Interval::new(1_774_744_200, 1_774_747_800).unwrap(),
            time_zone: "Europe/London".into(),
            title: "Circle: planning, a review; and more".into(),
            description: "Agenda\nline two".into(),
            organiser: Person::new("sched@example.org").named("Scheduling, Team"),
            attendees: vec![
                Person::new("ada@example.org").named("Ada"),
                Person::new("bo@example.org"),
            ],
        }
    }

    #[test]
    fn a_request_has_every_property_itip_needs_in_utc() {
        let text = itip(&meeting(), Method::Request, 1_774_000_000);
        let unfolded = text.replace("\r\n ", "");
        for line in [
            "METHOD:REQUEST",
            "UID:b1@scheduling-assistant",
            "SEQUENCE:1",
            "DTSTAMP:20260320T094640Z",
            "DTSTART:20260329T003000Z",
            "DTEND:20260329T013000Z",
            "STATUS:CONFIRMED",
            "SUMMARY:Circle: planning\\, a review\\; and more",
            "DESCRIPTION:Agenda\\nline two",
        ] {
            assert!(unfolded.contains(line), "{line} missing in\n{text}");
        }
        assert!(unfolded.contains("ORGANIZER;CN=\"Scheduling, Team\":mailto:sched@example.org"));
        assert_eq!(unfolded.matches("ATTENDEE;").count(), 2, "{text}");
        assert_eq!(unfolded.matches("RSVP=TRUE").count(), 2, "{text}");
        assert!(text.lines().all(|l| l.len() <= 75), "folded at 75 octets");
        assert!(text.contains("\r\n"), "CRLF line ends");
    }

    #[test]
    fn a_cancel_keeps_the_uid_and_asks_no_answer() {
        let text = itip(&meeting(), Method::Cancel, 1_774_000_000);
        assert!(text.contains("METHOD:CANCEL") && text.contains("STATUS:CANCELLED"));
        assert!(!text.contains("RSVP"), "{text}");
        assert!(text.contains("UID:b1@scheduling-assistant"));
    }
}
