//! The JSON Microsoft Graph documents, and nothing more. Subjects and
//! locations that Graph may send are not fields here, so they are dropped
//! by the parser the moment they are read.

use serde::{Deserialize, Serialize};

/// `POST /users/{id}/calendar/getSchedule` body.
/// <https://learn.microsoft.com/en-us/graph/api/calendar-getschedule>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleQuery<'a> {
    /// SMTP addresses; at most 20 per request (documented limit).
    pub(crate) schedules: Vec<&'a str>,
    pub(crate) start_time: DateTimeTimeZone,
    pub(crate) end_time: DateTimeTimeZone,
    /// Minutes per availabilityView digit (5 to 1440).
    pub(crate) availability_view_interval: u32,
}

/// `dateTimeTimeZone`: a wall-clock time and a zone name.
/// <https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone>
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateTimeTimeZone {
    pub(crate) date_time: String,
    #[serde(default)]
    pub(crate) time_zone: Option<String>,
}

/// getSchedule response: `{"value": [scheduleInformation]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduleAnswer {
    #[serde(default)]
    pub(crate) value: Vec<ScheduleInformation>,
}

/// One schedule's answer.
/// <https://learn.microsoft.com/en-us/graph/api/resources/scheduleinformation>
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleInformation {
    pub(crate) schedule_id: String,
    #[serde(default)]
    pub(crate) schedule_items: Vec<ScheduleItem>,
    pub(crate) working_hours: Option<WorkingHoursWire>,
    pub(crate) error: Option<FreeBusyError>,
}

/// A busy block: status and times only (`subject`, `location` and
/// `isPrivate` are not read).
/// <https://learn.microsoft.com/en-us/graph/api/resources/scheduleitem>
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduleItem {
    pub(crate) status: String,
    pub(crate) start: DateTimeTimeZone,
    pub(crate) end: DateTimeTimeZone,
}

/// `freeBusyError`: an unknown address, a mailbox that may not be read.
/// <https://learn.microsoft.com/en-us/graph/api/resources/freebusyerror>
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FreeBusyError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) response_code: String,
}

/// `workingHours`.
/// <https://learn.microsoft.com/en-us/graph/api/resources/workinghours>
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkingHoursWire {
    #[serde(default)]
    pub(crate) days_of_week: Vec<String>,
    pub(crate) start_time: Option<String>,
    pub(crate) end_time: Option<String>,
    pub(crate) time_zone: Option<TimeZoneBase>,
}

/// `timeZoneBase` (`{"name": ...}`) or `customTimeZone` (with `bias` in
/// minutes west of UTC and standard/daylight rules).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TimeZoneBase {
    pub(crate) name: Option<String>,
    pub(crate) bias: Option<i32>,
}

/// `GET /me/calendarView` page: `$select=start,end,showAs,isAllDay,isCancelled`.
/// <https://learn.microsoft.com/en-us/graph/api/user-list-calendarview>
#[derive(Debug, Deserialize)]
pub(crate) struct EventsPage {
    #[serde(default)]
    pub(crate) value: Vec<EventTimes>,
    #[serde(rename = "@odata.nextLink")]
    pub(crate) next_link: Option<String>,
}

/// An event's times and busy fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventTimes {
    pub(crate) start: DateTimeTimeZone,
    pub(crate) end: DateTimeTimeZone,
    pub(crate) show_as: Option<String>,
    #[serde(default)]
    pub(crate) is_all_day: bool,
    #[serde(default)]
    pub(crate) is_cancelled: bool,
}

/// Graph's error envelope: `{"error": {"code": ..., "message": ...}}`.
/// <https://learn.microsoft.com/en-us/graph/errors>
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub(crate) error: GraphError,
}

/// The `error` object (only its code is shown).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub(crate) code: String,
}

/// The event resource as `POST /users/{id}/events` and
/// `PATCH /users/{id}/events/{id}` send it: what the assistant wrote, and
/// nothing read from anyone's calendar.
/// <https://learn.microsoft.com/en-us/graph/api/user-post-events>,
/// <https://learn.microsoft.com/en-us/graph/api/event-update>,
/// <https://learn.microsoft.com/en-us/graph/api/resources/event>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventWrite<'a> {
    pub(crate) subject: &'a str,
    pub(crate) body: ItemBody<'a>,
    /// UTC wall time without an offset, `timeZone: UTC`.
    pub(crate) start: DateTimeTimeZone,
    pub(crate) end: DateTimeTimeZone,
    pub(crate) attendees: Vec<Attendee<'a>>,
    /// Graph's idempotency key of a create ("to avoid redundant POST
    /// operations in case of client retries"): the meeting's `UID`.
    /// Create only (it cannot change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<&'a str>,
    /// `busy`. Create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) show_as: Option<&'static str>,
}

/// `itemBody`: `{"contentType": "text", "content": ...}`.
/// <https://learn.microsoft.com/en-us/graph/api/resources/itembody>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemBody<'a> {
    pub(crate) content_type: &'static str,
    pub(crate) content: &'a str,
}

/// `attendee`: `{"emailAddress": {"address", "name"?}, "type": "required"}`.
/// <https://learn.microsoft.com/en-us/graph/api/resources/attendee>
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attendee<'a> {
    pub(crate) email_address: EmailAddress<'a>,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

/// `emailAddress`.
/// <https://learn.microsoft.com/en-us/graph/api/resources/emailaddress>
#[derive(Debug, Serialize)]
pub(crate) struct EmailAddress<'a> {
    pub(crate) address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
}

/// `POST /users/{id}/events/{id}/cancel` body.
/// <https://learn.microsoft.com/en-us/graph/api/event-cancel>
#[derive(Debug, Serialize)]
pub(crate) struct CancelBody<'a> {
    pub(crate) comment: &'a str,
}

/// The created event, of which only its `id` is read (to update or
/// cancel it later).
#[derive(Debug, Deserialize)]
pub(crate) struct EventId {
    pub(crate) id: String,
}
