//! "Your hours": the participant's own weekly hours and days off, as a
//! form on the home page, and its `POST /hours`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::{Date, Weekday};
use maud::{Markup, html};
use policy_rules::{Day, HoursRange, TimeOfDay};
use serde::Deserialize;

use crate::ParticipantId;

use super::super::auth::MaybeCaller;
use super::super::error::{ApiError, rejected};
use super::super::{App, Shared};
use super::{csrf_field, page_result, signed, subject_of};

/// The weekdays the hours form shows, with their field names.
const FORM_DAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "mon", "Monday"),
    (Weekday::Tuesday, "tue", "Tuesday"),
    (Weekday::Wednesday, "wed", "Wednesday"),
    (Weekday::Thursday, "thu", "Thursday"),
    (Weekday::Friday, "fri", "Friday"),
    (Weekday::Saturday, "sat", "Saturday"),
    (Weekday::Sunday, "sun", "Sunday"),
];

/// `09:00-12:00, 14:00-17:30` for a list of ranges.
fn ranges_text(ranges: &[HoursRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{}-{}", r.start, r.end))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `09:00-12:00, 14:00-17:30`.
fn parse_ranges(what: &str, text: &str) -> Result<Vec<HoursRange>, ApiError> {
    text.split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (start, end) = piece
                .split_once('-')
                .ok_or_else(|| ApiError::bad(format!("{what}: {piece:?} is not HH:MM-HH:MM")))?;
            let time = |t: &str| {
                t.trim()
                    .parse::<TimeOfDay>()
                    .map_err(|e| ApiError::bad(format!("{what}: {e}")))
            };
            Ok(HoursRange::new(time(start)?, time(end)?))
        })
        .collect()
}

/// "Your hours": the participant's own weekly hours and days off, in
/// their zone, as a form (empty fields keep the program's hours) carrying
/// the form token `csrf`.
pub(super) fn hours_section(
    app: &Shared,
    subject: &ParticipantId,
    csrf: &str,
) -> Result<Markup, ApiError> {
    let hours = app.assistant.own_hours(subject)?;
    let zone = app.assistant.participant(subject)?.time_zone;
    let off: Vec<String> = hours
        .dates
        .iter()
        .filter(|(_, ranges)| ranges.is_empty())
        .map(|(date, _)| date.to_string())
        .collect();
    Ok(html! {
        section {
            h2 { "Your hours" }
            p {
                "In your time zone (" (zone) "), inside the program's days and hours. \
                 Leave a day empty to keep the program's hours."
            }
            form method="post" action="/hours" #hours-form {
                (csrf_field(csrf))
                table {
                    @for (day, field, label) in FORM_DAYS {
                        tr {
                            td { (label) }
                            td {
                                input name=(field) id={ "hours-" (field) }
                                    value=(hours.weekly.get(&Day(day)).map(|r| ranges_text(r)).unwrap_or_default())
                                    placeholder="09:00-12:00, 14:00-17:00";
                            }
                        }
                    }
                    tr {
                        td { "Days off" }
                        td {
                            input name="off" #hours-off value=(off.join(", "))
                                placeholder="2026-03-13, 2026-03-20";
                        }
                    }
                }
                button #save-hours { "Save my hours" }
            }
        }
    })
}

/// The hours form: the form token, one field a weekday, and the days off.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http) struct HoursForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mon: String,
    #[serde(default)]
    tue: String,
    #[serde(default)]
    wed: String,
    #[serde(default)]
    thu: String,
    #[serde(default)]
    fri: String,
    #[serde(default)]
    sat: String,
    #[serde(default)]
    sun: String,
    #[serde(default)]
    off: String,
}

/// `POST /hours`: saves the signed-in participant's own hours (their form
/// token checked first). Dates with other hours than their weekday's, set
/// through the API, are kept.
pub(in crate::http) async fn page_hours(
    State(app): App,
    caller: MaybeCaller,
    form: Result<Form<HoursForm>, FormRejection>,
) -> Response {
    let result = async {
        let Form(f) = form.map_err(rejected)?;
        let identity = signed(&app, &caller, &f.csrf)?;
        let actor = identity.actor();
        let subject = subject_of(actor)?;
        let mut hours = app.assistant.own_hours(&subject)?;
        hours.weekly.clear();
        for ((day, _, label), text) in FORM_DAYS
            .iter()
            .zip([&f.mon, &f.tue, &f.wed, &f.thu, &f.fri, &f.sat, &f.sun])
        {
            let ranges = parse_ranges(label, text)?;
            if !ranges.is_empty() {
                hours.weekly.insert(Day(*day), ranges);
            }
        }
        hours.dates.retain(|_, ranges| !ranges.is_empty());
        for date in f.off.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let date: Date = date
                .parse()
                .map_err(|e| ApiError::bad(format!("days off: {date:?} is not a date: {e}")))?;
            hours.dates.insert(date, Vec::new());
        }
        app.assistant.set_own_hours(actor, &subject, hours).await?;
        Ok(Redirect::to("/").into_response())
    }
    .await;
    page_result(result)
}
