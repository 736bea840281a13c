//! `GET /week/{id}`: a partner's week as a grid of Unavailable blocks in
//! the viewer's time zone, and the pair's mutual slots.

use std::time::Duration;

use availability::Interval;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use maud::{Markup, html};
use serde::Deserialize;

use crate::{ParticipantId, SlotRequest};

use super::super::App;
use super::super::auth::MaybeCaller;
use super::super::error::{ApiError, rejected};
use super::super::session::subject;
use super::{local_second, page, page_result, today, when, zone_of};

/// The week's first day (default: today on the viewer's clock).
#[derive(Debug, Deserialize)]
pub(in crate::http) struct WeekQuery {
    start: Option<String>,
}

/// The grid's rows: half hours from 07:00, 28 of them.
const ROWS: i64 = 28;

/// `GET /week/{id}`: the partner's Unavailable blocks over seven days,
/// shaded outside the program's bookable hours, nothing about what the
/// blocks are; with the pair's mutual one-hour slots (in the viewer's
/// time and the partner's own) when the viewer and they are a pair.
pub(in crate::http) async fn page_week(
    State(app): App,
    caller: MaybeCaller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WeekQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let actor = caller.require()?;
        let Path(id) = path.map_err(rejected)?;
        let Query(q) = query.map_err(rejected)?;
        let target = ParticipantId::new(id);
        let partner = app.assistant.participant(&target)?;
        // The viewer's zone: the participant's own, else the partner's.
        let viewer = subject(&actor).cloned().unwrap_or_else(|| target.clone());
        let tz = zone_of(&app, &viewer)?;
        let first = match q.start.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse::<Date>()
                .map_err(|e| ApiError::bad(format!("`start` is not a date: {e}")))?,
            None => today(&app, &viewer)?,
        };
        let start = local_second(&tz, first, 0)?;
        let end = local_second(&tz, first, 7 * 24 * 60)?;
        let w = Interval::new(start, end).map_err(|e| ApiError::bad(e.to_string()))?;
        let seen = app.assistant.availability(&actor, &target, w).await?;
        // Hours the program does not book (weekends, nights, inside the
        // minimum notice) are shaded: the pair's program, else the partner's.
        let pair = app.assistant.pairs().into_iter().find(|p| {
            (p.mentor == viewer && p.mentee == target) || (p.mentee == viewer && p.mentor == target)
        });
        let program = match &pair {
            Some(p) => Some(p.program.clone()),
            None => app
                .assistant
                .participants()
                .into_iter()
                .find(|(p, _)| p.id == target)
                .and_then(|(_, programs)| programs.into_iter().next()),
        };
        let bookable = match &program {
            Some(p) => Some(app.assistant.policy(p)?.bookable(w, app.assistant.now())),
            None => None,
        };
        let days: Vec<Date> = (0..7)
            .filter_map(|i| first.checked_add(jiff::Span::new().days(i)).ok())
            .collect();
        // Each cell: its start, and what it shows.
        let mut rows = Vec::new();
        for row in 0..ROWS {
            let minutes = 7 * 60 + row * 30;
            let mut cells = Vec::with_capacity(days.len());
            for d in &days {
                let s = local_second(&tz, *d, minutes)?;
                let cell = Interval::new(s, s + 1800).map_err(|e| ApiError::bad(e.to_string()))?;
                let at = Timestamp::from_second(s).unwrap_or(Timestamp::MIN);
                let kind = if !seen.known {
                    Cell::Unknown
                } else if seen.unavailable.iter().any(|u| u.overlaps(&cell)) {
                    Cell::Unavailable
                } else if bookable.as_ref().is_some_and(|b| !b.covers(&cell)) {
                    Cell::Closed
                } else {
                    Cell::Free
                };
                cells.push((at, kind));
            }
            rows.push((minutes, cells));
        }
        // Mutual slots, when the viewer and this partner are a pair.
        let slots = match pair {
            Some(pair) => {
                let request = SlotRequest::new(Duration::from_secs(3600), w).limit(5);
                Some(
                    match app.assistant.mutual_slots(&actor, &pair.id, request).await {
                        Ok(p) => {
                            // Each slot in the viewer's time and the partner's own.
                            let theirs = zone_of(&app, &target)?;
                            Ok(p.slots
                                .iter()
                                .map(|s| (when(&tz, s.interval), when(&theirs, s.interval)))
                                .collect::<Vec<_>>())
                        }
                        Err(e) => Err(ApiError::from(e).public_message()),
                    },
                )
            }
            None => None,
        };
        let body = html! {
            p {
                (partner.name) "'s availability, in your time zone ("
                (tz.iana_name().unwrap_or("UTC"))
                "). Unavailable blocks only: nothing about what they are. \
                 Grey: outside the program's bookable hours."
            }
            @if !seen.known {
                p.error #unknown {
                    "Their times are unknown: " (seen.reason.as_deref().unwrap_or(""))
                }
            }
            table.week #week {
                tr {
                    th {}
                    @for d in &days { th { (d.strftime("%a %d %b").to_string()) } }
                }
                @for (minutes, cells) in &rows {
                    tr {
                        th { (format!("{:02}:{:02}", minutes / 60, minutes % 60)) }
                        @for (at, kind) in cells { (cell(*at, *kind)) }
                    }
                }
            }
            @match &slots {
                Some(Ok(slots)) => {
                    h2 { "Mutual one-hour slots" }
                    p { "Your time, then " (partner.name) "'s." }
                    ol #slots {
                        @for (mine, theirs) in slots {
                            li {
                                span.mine { (mine) }
                                " "
                                span.theirs { "(" (theirs) " for " (partner.name) ")" }
                            }
                        }
                    }
                }
                Some(Err(message)) => { p.error { (message) } }
                None => {}
            }
        };
        Ok(page(&format!("{}'s week", partner.name), body).into_response())
    }
    .await;
    page_result(result)
}

/// What a half hour of the grid shows.
#[derive(Clone, Copy, Debug)]
enum Cell {
    /// The partner's times are unknown (no calendar, a failed read).
    Unknown,
    /// Busy on their calendar.
    Unavailable,
    /// Outside the program's bookable hours.
    Closed,
    /// Free and bookable.
    Free,
}

/// One cell of the grid, with its start (`data-start`, UTC).
fn cell(at: Timestamp, kind: Cell) -> Markup {
    let at = at.to_string();
    html! {
        @match kind {
            Cell::Unknown => td.closed data-start=(at) { "?" },
            Cell::Unavailable => td.unavailable data-start=(at) { "Unavailable" },
            Cell::Closed => td.closed data-start=(at) title="outside the program's hours" {},
            Cell::Free => td.free data-start=(at) {},
        }
    }
}
