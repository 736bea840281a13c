//! The cost of a program policy next to the algebra: a year of bookable
//! windows and of slot-grid starts, in zones with and without DST.
//!
//! ```text
//! cargo bench --bench policy
//! ```
//!
//! Groups `policy/bookable_year/<zone>` and `policy/slot_starts_year/<zone>`
//! (default hours, Monday to Friday, 30-minute steps) and
//! `policy/floor_merge_year`, building the same number of intervals into an
//! `IntervalSet` from sorted input, for scale.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use availability::{Interval, IntervalSet};
use criterion::{Criterion, criterion_group, criterion_main};
use policy_rules::ProgramPolicy;

/// 2026-01-01T00:00:00Z.
const YEAR_START: i64 = 1_767_225_600;

fn policy(c: &mut Criterion) {
    let year = Interval::new(YEAR_START, YEAR_START + 365 * 86_400).expect("valid");
    let now = jiff::Timestamp::from_second(YEAR_START).expect("valid");
    let mut group = c.benchmark_group("policy");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for zone in [
        "UTC",
        "America/New_York",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
    ] {
        let p = ProgramPolicy::from_toml(&format!("time_zone = \"{zone}\"\nhorizon = \"400d\""))
            .expect("valid policy");
        group.bench_function(format!("bookable_year/{zone}"), |b| {
            b.iter(|| p.bookable(black_box(year), now))
        });
        let bookable = p.bookable(year, now);
        group.bench_function(format!("slot_starts_year/{zone}"), |b| {
            b.iter(|| p.slot_starts(black_box(&bookable)))
        });
    }
    let windows: Vec<Interval> = (0..261)
        .map(|d| {
            let s = YEAR_START + d * 86_400 + 8 * 3600;
            Interval::new(s, s + 10 * 3600).expect("valid")
        })
        .collect();
    group.bench_function("floor_merge_year", |b| {
        b.iter(|| IntervalSet::from(black_box(&windows).clone()))
    });
    group.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
