//! Interval merge and k-way coverage, against the floors and crates named in
//! `research/perf-anchors.md`.
//!
//! ```text
//! cargo bench --bench interval_merge
//! scripts/bench-ratios            # the ratio table from criterion's estimates
//! ```
//!
//! Groups `merge/{cal,uniform}/<N>` (N = 1e4, 1e5, 1e6) build one coalesced
//! set from N unsorted intervals: `floor_sort_unstable` only sorts a clone of
//! the input by start, `availability` is `IntervalSet::from_unsorted`,
//! `range_set_blaze` and `rangemap` build their sets, and `presorted` builds
//! from input already sorted by start. Groups `coverage/{cal,uniform}/<k>`
//! (k = 10, 100, 1000 participants over one year) compare the full
//! free-count profile (`Coverage::new`) with `floor_endpoint_sort`, an
//! unstable sort of all 2n endpoints. Input clones are made outside the
//! timed section, and results are dropped outside it.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use availability::{Coverage, Interval, IntervalSet};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use range_set_blaze::RangeSetBlaze;

const DAY: i64 = 86_400;
/// 2026-01-01T00:00:00Z, a Thursday.
const YEAR_START: i64 = 1_767_225_600;
const YEAR_DAYS: i64 = 365;

fn iv(start: i64, end: i64) -> Interval {
    Interval::new(start, end).expect("generated intervals are valid")
}

/// A weekday of 2026, as a day index.
fn weekday(rng: &mut SmallRng) -> i64 {
    loop {
        let d = rng.random_range(0..YEAR_DAYS);
        // Day 0 is a Thursday: 2 and 3 are the weekend.
        if !matches!(d % 7, 2 | 3) {
            return d;
        }
    }
}

/// A meeting: weekday, starting 08:00-17:55 on a 5-minute grid, 15-240
/// minutes long with most weight on 30 and 60.
fn meeting(rng: &mut SmallRng) -> Interval {
    let day = weekday(rng);
    let start = YEAR_START + day * DAY + 8 * 3600 + rng.random_range(0..120) * 300;
    let minutes = match rng.random_range(0..10) {
        0..=3 => 30,
        4..=6 => 60,
        _ => rng.random_range(3..=48) * 5,
    };
    iv(start, start + minutes * 60)
}

/// Calendar-shaped: 1000 participants × N/1000 meetings, grouped by
/// participant, random order within each.
fn cal(n: usize, rng: &mut SmallRng) -> Vec<Interval> {
    (0..n).map(|_| meeting(rng)).collect()
}

/// Uniform: starts uniform over `[0, 2000 N)` seconds, lengths 1-2000 s.
fn uniform(n: usize, rng: &mut SmallRng) -> Vec<Interval> {
    let span = 2000 * n as i64;
    (0..n)
        .map(|_| {
            let s = rng.random_range(0..span);
            iv(s, s + rng.random_range(1..=2000))
        })
        .collect()
}

fn merge(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for (shape, make) in [
        ("cal", cal as fn(usize, &mut SmallRng) -> Vec<Interval>),
        ("uniform", uniform),
    ] {
        for n in [10_000usize, 100_000, 1_000_000] {
            let input = make(n, &mut rng);
            let mut sorted = input.clone();
            sorted.sort_unstable_by_key(|iv| iv.start());
            let mut group = c.benchmark_group(format!("merge/{shape}/{n}"));
            group.sample_size(if n >= 1_000_000 { 10 } else { 30 });
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(3));
            group.bench_function("floor_sort_unstable", |b| {
                b.iter_batched(
                    || input.clone(),
                    |mut v| {
                        v.sort_unstable_by_key(|iv| iv.start());
                        v
                    },
                    BatchSize::LargeInput,
                )
            });
            group.bench_function("availability", |b| {
                b.iter_batched(
                    || input.clone(),
                    IntervalSet::from_unsorted,
                    BatchSize::LargeInput,
                )
            });
            group.bench_function("range_set_blaze", |b| {
                b.iter(|| {
                    RangeSetBlaze::from_iter(
                        black_box(&input).iter().map(|iv| iv.start()..=iv.end() - 1),
                    )
                })
            });
            group.bench_function("rangemap", |b| {
                b.iter(|| {
                    rangemap::RangeSet::from_iter(
                        black_box(&input).iter().map(|iv| iv.start()..iv.end()),
                    )
                })
            });
            group.bench_function("presorted", |b| {
                b.iter_batched(|| sorted.clone(), IntervalSet::from, BatchSize::LargeInput)
            });
            group.finish();
        }
    }
}

/// `k` participants' busy sets over one year.
fn participants(shape: &str, k: usize, rng: &mut SmallRng) -> Vec<IntervalSet> {
    match shape {
        // Each participant: 1500 meetings a year.
        "cal" => (0..k)
            .map(|_| (0..1500).map(|_| meeting(rng)).collect())
            .collect(),
        // 3500 events in total, 24/7, lengths 1-160 minutes, over k people:
        // the union does not saturate (about 2000 gaps), adversarial for folds.
        _ => {
            let mut raw: Vec<Vec<Interval>> = vec![Vec::new(); k];
            for _ in 0..3500 {
                let s = YEAR_START + rng.random_range(0..YEAR_DAYS * DAY);
                let e = s + rng.random_range(60..=9600);
                raw[rng.random_range(0..k)].push(iv(s, e));
            }
            raw.into_iter().map(IntervalSet::from).collect()
        }
    }
}

fn coverage(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(0xc0ffee);
    let year = iv(YEAR_START, YEAR_START + YEAR_DAYS * DAY);
    for shape in ["cal", "uniform"] {
        for k in [10usize, 100, 1000] {
            let sets = participants(shape, k, &mut rng);
            let endpoints: Vec<i64> = sets
                .iter()
                .flat_map(|s| s.iter())
                .flat_map(|iv| [(iv.start() << 1) | 1, iv.end() << 1])
                .collect();
            let mut group = c.benchmark_group(format!("coverage/{shape}/{k}"));
            group.sample_size(if k >= 1000 { 10 } else { 30 });
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(3));
            group.bench_function("floor_endpoint_sort", |b| {
                b.iter_batched(
                    || endpoints.clone(),
                    |mut v| {
                        v.sort_unstable();
                        v
                    },
                    BatchSize::LargeInput,
                )
            });
            group.bench_function("availability", |b| {
                b.iter(|| Coverage::new(year, black_box(&sets).iter().map(Some)))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, merge, coverage);
criterion_main!(benches);
