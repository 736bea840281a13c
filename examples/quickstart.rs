//! A first look at the core: a few participants' busy times built in code,
//! who is free when, and the best meeting slots, printed as tables.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! Bookable hours here are built by hand (weekdays 08:00-18:00 UTC); the
//! `policy-rules` crate computes them from a program policy in its zone.

use std::error::Error;
use std::time::Duration;

use availability::{
    BusyKind, Coverage, FreeBusy, Interval, IntervalSet, KindSet, SlotQuery, find_slots,
};
use jiff::{Timestamp, ToSpan, civil::Date, tz::TimeZone};

const HOUR: i64 = 3600;

/// `date` at `hh:mm` UTC, in seconds since the Unix epoch.
fn at(date: Date, hh: i8, mm: i8) -> Result<i64, jiff::Error> {
    Ok(date
        .at(hh, mm, 0, 0)
        .to_zoned_datetime(TimeZone::UTC)?
        .timestamp()
        .as_second())
}

fn span(date: Date, from: (i8, i8), to: (i8, i8)) -> Result<Interval, Box<dyn Error>> {
    Ok(Interval::new(
        at(date, from.0, from.1)?,
        at(date, to.0, to.1)?,
    )?)
}

fn fmt_time(second: i64) -> String {
    Timestamp::from_second(second)
        .map(|t| t.strftime("%a %m-%d %H:%M").to_string())
        .unwrap_or_else(|_| second.to_string())
}

fn main() -> Result<(), Box<dyn Error>> {
    let monday = Date::new(2026, 1, 5)?;
    let days: Vec<Date> = (0..5)
        .map(|d| monday.checked_add(d.days()))
        .collect::<Result<_, _>>()?;
    let [mon, tue, wed, thu, fri] = days[..] else {
        return Err("five weekdays expected".into());
    };

    // Busy time by kind, as a provider would report it.
    let mut ana = FreeBusy::new();
    for &d in &days {
        ana.add(BusyKind::Busy, span(d, (9, 0), (9, 30))?); // daily stand-up
    }
    ana.add(BusyKind::Busy, span(tue, (13, 0), (16, 0))?);
    ana.add(
        BusyKind::OutOfOffice,
        Interval::new(at(fri, 0, 0)?, at(fri, 0, 0)? + 24 * HOUR)?,
    );

    let mut ben = FreeBusy::new();
    ben.add(BusyKind::Busy, span(mon, (10, 0), (12, 0))?);
    ben.add(BusyKind::Tentative, span(wed, (14, 0), (15, 0))?);
    ben.add(BusyKind::WorkingElsewhere, span(thu, (8, 0), (18, 0))?); // does not block

    let mut chen = FreeBusy::new();
    for &d in &days {
        chen.add(BusyKind::Busy, span(d, (12, 0), (13, 0))?); // lunch
    }
    chen.add(BusyKind::Busy, span(wed, (8, 0), (11, 0))?);
    chen.add(BusyKind::Busy, span(thu, (15, 0), (17, 30))?);

    let mut dara = FreeBusy::new();
    dara.add(BusyKind::OutOfOffice, span(mon, (8, 0), (13, 0))?);
    dara.add(BusyKind::Busy, span(tue, (9, 0), (10, 0))?);
    dara.add(BusyKind::Busy, span(thu, (10, 0), (11, 30))?);

    // Eli has not connected a calendar: unknown, never counted as free.
    let names = ["Ana", "Ben", "Chen", "Dara", "Eli"];
    let blocking = KindSet::default(); // busy, tentative, out of office
    let unavailable: Vec<Option<IntervalSet>> =
        [Some(ana), Some(ben), Some(chen), Some(dara), None]
            .into_iter()
            .map(|fb| fb.map(|fb| fb.unavailable(blocking)))
            .collect();
    let people: Vec<Option<&IntervalSet>> = unavailable.iter().map(Option::as_ref).collect();

    let bookable: IntervalSet = days
        .iter()
        .map(|&d| span(d, (8, 0), (18, 0)))
        .collect::<Result<_, _>>()?;
    let week = Interval::new(at(mon, 0, 0)?, at(fri, 0, 0)? + 24 * HOUR)?;
    let coverage = Coverage::new(week, people.iter().copied());

    println!(
        "Week of {mon}: {} participants, {} with a connected calendar (Eli has none).\n",
        coverage.participants(),
        coverage.known()
    );
    println!(
        "Fewest participants free at any moment of each hour (of {}):",
        coverage.known()
    );
    print!("{:<11}", "");
    for h in 8..18 {
        print!("{h:>4}");
    }
    println!();
    for &d in &days {
        print!("{:<11}", d.strftime("%a %m-%d").to_string());
        for h in 8..18 {
            let hour = span(d, (h, 0), (h + 1, 0))?;
            let fewest = coverage
                .segments()
                .filter(|s| s.interval.overlaps(&hour))
                .map(|s| s.counts.free)
                .min()
                .unwrap_or(0);
            print!("{fewest:>4}");
        }
        println!();
    }

    println!("\nBookable hours by how many are free:");
    let mut hours = vec![0i64; coverage.known() as usize + 1];
    for seg in coverage.segments() {
        let inside = IntervalSet::from(seg.interval).intersection(&bookable);
        hours[seg.counts.free as usize] += inside.total_secs();
    }
    for (free, secs) in hours.iter().enumerate().rev() {
        println!(
            "  {free} of {} free: {:>5.1} h",
            coverage.known(),
            *secs as f64 / HOUR as f64
        );
    }

    let slots = find_slots(
        &bookable,
        people.iter().copied(),
        SlotQuery::new(Duration::from_secs(60 * 60))
            .min_free(3)
            .distinct(true)
            .limit(6),
    )?;
    println!("\nBest one-hour slots (at least 3 free, not overlapping):");
    println!(
        "  {:<22} {:<22} {:<14} unknown",
        "when", "free", "unavailable"
    );
    let list = |ix: &[usize]| ix.iter().map(|&i| names[i]).collect::<Vec<_>>().join(", ");
    for slot in &slots {
        println!(
            "  {:<22} {:<22} {:<14} {}",
            format!(
                "{}-{}",
                fmt_time(slot.interval.start()),
                &fmt_time(slot.interval.end())[10..]
            ),
            list(&slot.free),
            list(&slot.unavailable),
            list(&slot.unknown),
        );
    }
    Ok(())
}
