//! Deterministic generated calendars for the iCalendar benchmark and the
//! comparison with the Python peer (shared by `benches/ical.rs` and
//! `tests/ical_peer.rs`).

use std::fmt::Write as _;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Zones the generated events use (`None`: UTC with a `Z`; `Some("")`:
/// floating).
const ZONES: [Option<&str>; 5] = [
    None,
    Some("America/New_York"),
    Some("Europe/Berlin"),
    Some("Asia/Kolkata"),
    Some(""),
];
const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn stamp(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> String {
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}00")
}

fn date_time(prop: &str, zone: Option<&str>, local: &str) -> String {
    match zone {
        None => format!("{prop}:{local}Z\r\n"),
        Some("") => format!("{prop}:{local}\r\n"),
        Some(tz) => format!("{prop};TZID={tz}:{local}\r\n"),
    }
}

/// The text a real calendar carries that busy time never needs: summaries,
/// descriptions, locations, attendees (`padding` repeats the description).
fn private_lines(rng: &mut SmallRng, i: usize, padding: usize) -> String {
    let mut s = format!(
        "SUMMARY:Meeting {i} about the quarterly plan\r\nLOCATION:Room {}\r\n\
         ATTENDEE;CN=Person {i};PARTSTAT=ACCEPTED:mailto:person{i}@example.org\r\n",
        rng.random_range(1..500)
    );
    if padding > 0 {
        s.push_str("DESCRIPTION:");
        for _ in 0..padding {
            s.push_str("Agenda item with some words in it\\, and more. ");
        }
        s.push_str("\r\n");
    }
    s
}

fn fold(text: &str) -> String {
    // RFC 5545 §3.1: lines longer than 75 octets are folded.
    let mut out = String::with_capacity(text.len() + text.len() / 70);
    for line in text.split_inclusive("\r\n") {
        let body = line.trim_end_matches("\r\n");
        let mut count = 0;
        for c in body.chars() {
            if count >= 74 {
                out.push_str("\r\n ");
                count = 1;
            }
            out.push(c);
            count += c.len_utf8();
        }
        out.push_str("\r\n");
    }
    out
}

fn status(rng: &mut SmallRng) -> &'static str {
    match rng.random_range(0..20) {
        0 => "STATUS:TENTATIVE\r\n",
        1 => "TRANSP:TRANSPARENT\r\n",
        2 => "STATUS:CANCELLED\r\n",
        3 => "X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n",
        _ => "",
    }
}

/// A calendar of `recurring` recurring and `single` one-off events in
/// 2025, every RRULE shape, with EXDATEs and overrides (moved, cancelled,
/// made transparent). `padding` grows each event's description (for the
/// 10 MB parse benchmark).
pub(crate) fn calendar(seed: u64, recurring: usize, single: usize, padding: usize) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//gen//EN\r\n");
    for i in 0..recurring {
        let zone = ZONES[rng.random_range(0..ZONES.len())];
        let month = rng.random_range(1..=6);
        let day = rng.random_range(1..=28);
        let hour = rng.random_range(7..=18);
        let minute = [0, 15, 30, 45][rng.random_range(0..4)];
        let start = stamp(2025, month, day, hour, minute);
        let minutes = [15, 30, 45, 60, 90][rng.random_range(0..5)];
        let uid = format!("rec-{i}@bench");
        let all_day = rng.random_range(0..10) == 0;
        let mut ev = format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n");
        ev.push_str(&private_lines(&mut rng, i, padding));
        if all_day {
            let _ = write!(
                ev,
                "DTSTART;VALUE=DATE:2025{month:02}{day:02}\r\nDURATION:P1D\r\n"
            );
        } else {
            ev.push_str(&date_time("DTSTART", zone, &start));
            let _ = write!(ev, "DURATION:PT{minutes}M\r\n");
        }
        ev.push_str(status(&mut rng));
        // (rule, whether instance k is start + k * step days)
        let (rule, step_days) = match rng.random_range(0..10) {
            0 => (
                format!("FREQ=DAILY;INTERVAL={}", rng.random_range(1..4)),
                None,
            ),
            1 => {
                let n = rng.random_range(1..4);
                (
                    format!("FREQ=DAILY;INTERVAL={n};COUNT={}", rng.random_range(5..60)),
                    Some(n),
                )
            }
            2 | 3 => {
                let mut days: Vec<&str> = DAYS[..5]
                    .iter()
                    .copied()
                    .filter(|_| rng.random_range(0..2) == 0)
                    .collect();
                if days.is_empty() {
                    days.push("WE");
                }
                let wkst = if rng.random_range(0..3) == 0 {
                    ";WKST=SU"
                } else {
                    ""
                };
                (
                    format!(
                        "FREQ=WEEKLY;INTERVAL={};BYDAY={}{wkst}",
                        rng.random_range(1..3),
                        days.join(",")
                    ),
                    None,
                )
            }
            4 => (
                format!("FREQ=WEEKLY;UNTIL=2025{:02}28T235959Z", month + 4),
                Some(7),
            ),
            5 => (
                format!(
                    "FREQ=MONTHLY;BYMONTHDAY={}",
                    [1, 15, 28, -1][rng.random_range(0..4)]
                ),
                None,
            ),
            6 => (
                format!(
                    "FREQ=MONTHLY;BYDAY={}{}",
                    ["1", "2", "-1"][rng.random_range(0..3)],
                    DAYS[rng.random_range(0..5)]
                ),
                None,
            ),
            7 => (
                format!(
                    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS={}",
                    ["1", "-1"][rng.random_range(0..2)]
                ),
                None,
            ),
            8 => (
                format!(
                    "FREQ=YEARLY;BYMONTH={},{};BYDAY=2TU",
                    rng.random_range(1..7),
                    rng.random_range(7..13)
                ),
                None,
            ),
            _ => (
                format!(
                    "FREQ=DAILY;BYHOUR=9,14;BYMINUTE=0;COUNT={}",
                    rng.random_range(10..80)
                ),
                None,
            ),
        };
        let _ = write!(ev, "RRULE:{rule}\r\n");
        let mut overrides = String::new();
        if let (Some(step), false) = (step_days, all_day) {
            let base = jiff::civil::date(2025, month as i8, day as i8);
            let instance = |k: i64| {
                let d = base
                    .checked_add(jiff::Span::new().days(k * step))
                    .unwrap_or(base);
                stamp(
                    i32::from(d.year()),
                    d.month() as u32,
                    d.day() as u32,
                    hour,
                    minute,
                )
            };
            ev.push_str(&date_time("EXDATE", zone, &instance(2)));
            let moved = instance(3);
            let mut o = format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n");
            o.push_str(&date_time("RECURRENCE-ID", zone, &moved));
            let new_start = format!("{}{:02}{}", &moved[..9], (hour + 2).min(23), &moved[11..]);
            o.push_str(&date_time("DTSTART", zone, &new_start));
            let _ = write!(o, "DURATION:PT{minutes}M\r\nEND:VEVENT\r\n");
            overrides.push_str(&o);
            let mut c = format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n");
            c.push_str(&date_time("RECURRENCE-ID", zone, &instance(4)));
            c.push_str(&date_time("DTSTART", zone, &instance(4)));
            let _ = write!(
                c,
                "DURATION:PT{minutes}M\r\n{}END:VEVENT\r\n",
                ["STATUS:CANCELLED\r\n", "TRANSP:TRANSPARENT\r\n"][rng.random_range(0..2)]
            );
            overrides.push_str(&c);
        }
        ev.push_str("END:VEVENT\r\n");
        text.push_str(&fold(&ev));
        text.push_str(&fold(&overrides));
    }
    for i in 0..single {
        let zone = ZONES[rng.random_range(0..ZONES.len())];
        let month = rng.random_range(1..=12);
        let day = rng.random_range(1..=28);
        let mut ev = format!("BEGIN:VEVENT\r\nUID:one-{i}@bench\r\nDTSTAMP:20250101T000000Z\r\n");
        ev.push_str(&private_lines(&mut rng, i, padding));
        if rng.random_range(0..10) == 0 {
            let _ = write!(ev, "DTSTART;VALUE=DATE:2025{month:02}{day:02}\r\n");
        } else {
            let hour = rng.random_range(6..=20);
            let minute = [0, 30][rng.random_range(0..2)];
            ev.push_str(&date_time(
                "DTSTART",
                zone,
                &stamp(2025, month, day, hour, minute),
            ));
            let end_hour = (hour + rng.random_range(1..3)).min(23);
            ev.push_str(&date_time(
                "DTEND",
                zone,
                &stamp(2025, month, day, end_hour, minute),
            ));
        }
        ev.push_str(status(&mut rng));
        ev.push_str("END:VEVENT\r\n");
        text.push_str(&fold(&ev));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}
