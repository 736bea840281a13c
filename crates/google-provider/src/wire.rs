//! The JSON Google documents, and nothing more.

use serde::{Deserialize, Serialize};

/// `freebusy.query` request body.
/// <https://developers.google.com/workspace/calendar/api/v3/reference/freebusy/query>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FreeBusyQuery<'a> {
    /// RFC 3339 with an explicit offset (Google answers 400 without one).
    pub(crate) time_min: String,
    pub(crate) time_max: String,
    /// The zone of the answer; always UTC here.
    pub(crate) time_zone: &'static str,
    /// At most 50 (documented maximum).
    pub(crate) calendar_expansion_max: usize,
    pub(crate) items: Vec<FreeBusyItem<'a>>,
}

/// One calendar of a `freebusy.query`.
#[derive(Debug, Serialize)]
pub(crate) struct FreeBusyItem<'a> {
    pub(crate) id: &'a str,
}

/// `freebusy.query` response: `calendars` maps each id to its busy
/// periods or errors. Unknown fields (`kind`, `groups`, ...) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct FreeBusyAnswer {
    #[serde(default)]
    pub(crate) calendars: std::collections::HashMap<String, CalendarAnswer>,
}

/// One calendar's answer: busy periods (start inclusive, end exclusive)
/// or per-calendar errors (`notFound`, `internalError`, ...).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CalendarAnswer {
    #[serde(default)]
    pub(crate) busy: Vec<Period>,
    #[serde(default)]
    pub(crate) errors: Vec<ErrorItem>,
}

/// `{"start": RFC 3339, "end": RFC 3339}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Period {
    pub(crate) start: String,
    pub(crate) end: String,
}

/// `{"domain": "global", "reason": "notFound", "message": ...}`: only the
/// reason is read (messages are not shown to participants).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub(crate) reason: String,
}

/// The error envelope of every Google API:
/// `{"error": {"code": 403, "message": ..., "errors": [...], "status": ...}}`.
/// <https://developers.google.com/workspace/calendar/api/guides/errors>
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub(crate) error: ApiError,
}

/// The `error` object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) errors: Vec<ErrorItem>,
}

/// `events.list` response, asked with the field mask
/// `items(start,end,transparency,status,eventType),nextPageToken`, so no
/// title, description, location or attendee is ever transferred.
/// <https://developers.google.com/workspace/calendar/api/v3/reference/events/list>
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventsPage {
    #[serde(default)]
    pub(crate) items: Vec<EventTimes>,
    pub(crate) next_page_token: Option<String>,
}

/// An event's times and busy-relevant fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventTimes {
    pub(crate) start: Option<EventTime>,
    pub(crate) end: Option<EventTime>,
    /// `opaque` (default) or `transparent`.
    pub(crate) transparency: Option<String>,
    /// `confirmed`, `tentative` or `cancelled`.
    pub(crate) status: Option<String>,
    /// `default`, `outOfOffice`, `focusTime`, `workingLocation`, ...
    pub(crate) event_type: Option<String>,
}

/// `{"date": "2025-03-05"}` for all-day events, or `{"dateTime": RFC 3339,
/// "timeZone": ...}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventTime {
    pub(crate) date: Option<String>,
    pub(crate) date_time: Option<String>,
}

/// RFC 6749 §5.1 token response (and §5.2 errors).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: Option<String>,
    pub(crate) expires_in: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

/// The Event resource as `events.insert` and `events.patch` send it: what
/// the assistant wrote, and nothing read from anyone's calendar.
/// <https://developers.google.com/workspace/calendar/api/v3/reference/events/insert>,
/// <https://developers.google.com/workspace/calendar/api/v3/reference/events#resource>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventWrite<'a> {
    pub(crate) summary: &'a str,
    pub(crate) description: &'a str,
    pub(crate) start: EventDateTime<'a>,
    pub(crate) end: EventDateTime<'a>,
    pub(crate) attendees: Vec<Attendee<'a>>,
    pub(crate) sequence: u32,
    /// The RFC 5545 `UID`: set on insert only (it cannot change), so
    /// Google refuses a second insert of the same meeting (409
    /// `duplicate`) instead of making two events.
    #[serde(rename = "iCalUID", skip_serializing_if = "Option::is_none")]
    pub(crate) ical_uid: Option<&'a str>,
    /// `opaque`: the meeting blocks its attendees' time. Insert only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transparency: Option<&'static str>,
    /// `{"useDefault": true}`: each attendee's own reminders. Insert only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reminders: Option<Reminders>,
}

/// `{"dateTime": RFC 3339, "timeZone": IANA name}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventDateTime<'a> {
    pub(crate) date_time: String,
    pub(crate) time_zone: &'a str,
}

/// An attendee: `{"email", "displayName"?}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attendee<'a> {
    pub(crate) email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<&'a str>,
}

/// `reminders`: the calendar's default reminders.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reminders {
    pub(crate) use_default: bool,
}

/// The answer of `events.insert`: the Event resource, of which only its
/// `id` is read (to patch or delete it later).
#[derive(Debug, Deserialize)]
pub(crate) struct EventId {
    pub(crate) id: String,
}
