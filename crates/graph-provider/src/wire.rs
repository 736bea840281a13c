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
