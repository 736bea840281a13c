//! iCalendar from anywhere: parsing and expansion never panic or hang, and
//! every busy interval lies inside the asked window. Expansion is bounded by
//! small caps so a FREQ=SECONDLY rule costs milliseconds, not seconds.
#![no_main]

use availability::{BusyKind, Interval};
use caldav_provider::ical::{Calendar, ExpandOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(calendar) = Calendar::parse_bytes(data) else {
        return;
    };
    // 2025-03-01 to 2025-04-01 UTC, across the US and EU DST changes.
    let window = Interval::new(1_740_787_200, 1_743_465_600).expect("valid window");
    let zone = caldav_provider::ical::time_zone("America/New_York").expect("bundled");
    let options = ExpandOptions::new(zone)
        .max_instances_per_series(2_000)
        .max_iterations_per_series(20_000);
    let report = calendar.busy_time(window, &options);
    for kind in BusyKind::ALL {
        for iv in report.busy.get(kind) {
            assert!(window.contains_interval(iv), "{iv:?} outside the window");
        }
    }
    // The same input gives the same answer.
    let again = calendar.busy_time(window, &options);
    assert_eq!(again.busy, report.busy);
});
