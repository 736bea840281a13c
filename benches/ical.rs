//! iCalendar to busy time: a year of a calendar with 200 recurring and 2000
//! single events, and a 10 MB calendar, compared in the same run with the
//! Python peer (icalendar + recurring-ical-events) on the same files.
//!
//! ```text
//! cargo bench --bench ical
//! ```
//!
//! Criterion groups: `ical year (200 recurring + 2000 single)` and
//! `ical 10 MB`. After them, a comparison runs the peer script
//! (`crates/caldav-provider/tests/peer_busy.py`, with `PEER_PYTHON` or
//! `.venv/bin/python` from the README test command), prints seconds per
//! run and the ratio, and panics if the busy times are not identical.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use availability::Interval;
use caldav_provider::ical::{Calendar, ExpandOptions, time_zone};
use criterion::{Criterion, criterion_group};

#[path = "support/ical_gen.rs"]
mod ical_gen;

const FROM: &str = "2025-01-01T00:00:00Z";
const TO: &str = "2026-01-01T00:00:00Z";
const ZONE: &str = "Europe/Berlin";

fn year() -> Interval {
    let ts = |s: &str| s.parse::<jiff::Timestamp>().expect("RFC 3339").as_second();
    Interval::new(ts(FROM), ts(TO)).expect("a window")
}

fn options() -> ExpandOptions {
    ExpandOptions::new(time_zone(ZONE).expect("a bundled zone"))
}

/// The year calendar, and one of about 10 MB (long descriptions, as real
/// exports have, and more events).
fn inputs() -> (String, String) {
    let year = ical_gen::calendar(7, 200, 2000, 0);
    let big = ical_gen::calendar(11, 400, 12_000, 15);
    (year, big)
}

fn bench(c: &mut Criterion) {
    let (year_text, big_text) = inputs();
    let window = year();
    let options = options();

    let mut group = c.benchmark_group("ical year (200 recurring + 2000 single)");
    group.sample_size(20);
    let parsed = Calendar::parse(&year_text).expect("parses");
    group.bench_function("parse + expand (ours)", |b| {
        b.iter(|| {
            let cal = Calendar::parse(black_box(&year_text)).expect("parses");
            black_box(cal.busy_time(window, &options))
        });
    });
    group.bench_function("expand only (ours)", |b| {
        b.iter(|| black_box(parsed.busy_time(black_box(window), &options)));
    });
    group.finish();

    let mut group = c.benchmark_group("ical 10 MB");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Bytes(big_text.len() as u64));
    group.bench_function("parse (ours)", |b| {
        b.iter(|| black_box(Calendar::parse(black_box(&big_text)).expect("parses")));
    });
    group.bench_function("parse + expand (ours)", |b| {
        b.iter(|| {
            let cal = Calendar::parse(black_box(&big_text)).expect("parses");
            black_box(cal.busy_time(window, &options))
        });
    });
    group.finish();
}

fn peer_python() -> Option<PathBuf> {
    let path = std::env::var_os("PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    path.exists().then_some(path)
}

/// Mean seconds per parse + expand of ours over `runs`.
fn ours(text: &str, runs: u32) -> (f64, String) {
    let window = year();
    let options = options();
    let mut json = String::new();
    let started = Instant::now();
    for _ in 0..runs {
        let cal = Calendar::parse(text).expect("parses");
        let report = cal.busy_time(window, &options);
        json = serde_json::to_string(&report.busy).unwrap_or_default();
    }
    (started.elapsed().as_secs_f64() / f64::from(runs), json)
}

/// The peer's busy JSON and its mean seconds per run over `runs`.
fn theirs(python: &Path, file: &Path, runs: u32) -> Option<(f64, String)> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/caldav-provider/tests/peer_busy.py");
    let out = Command::new(python)
        .arg(script)
        .arg(file)
        .args([FROM, TO, "--tz", ZONE, "--repeat", &runs.to_string()])
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seconds = stderr
        .lines()
        .find_map(|l| l.strip_prefix("seconds_per_run="))?
        .trim()
        .parse()
        .ok()?;
    Some((
        seconds,
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    ))
}

fn compare_with_peer() {
    let Some(python) = peer_python() else {
        println!("\nPython peer not found (PEER_PYTHON or .venv/): comparison not run");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let (year_text, big_text) = inputs();
    println!(
        "\nComparison with the Python peer (icalendar + recurring-ical-events), same files, window {FROM}..{TO}, zone {ZONE}:"
    );
    for (name, text, our_runs, their_runs) in [
        ("year: 200 recurring + 2000 single", &year_text, 50, 3),
        ("10 MB calendar", &big_text, 10, 1),
    ] {
        let file = dir.path().join("calendar.ics");
        if std::fs::write(&file, text).is_err() {
            return;
        }
        let (our_secs, our_json) = ours(text, our_runs);
        let Some((their_secs, their_json)) = theirs(&python, &file, their_runs) else {
            println!("  {name}: the peer failed");
            continue;
        };
        let read = |who: &str, json: &str| -> serde_json::Value {
            serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("{name}: {who} busy times are not JSON: {e}"))
        };
        let (our_busy, their_busy) = (read("our", &our_json), read("the peer's", &their_json));
        let same = our_busy == their_busy;
        println!(
            "  {name} ({:.1} MB): ours {:.2} ms, peer {:.1} ms, ratio {:.0}x, busy times identical: {same}",
            text.len() as f64 / 1e6,
            our_secs * 1e3,
            their_secs * 1e3,
            their_secs / our_secs
        );
        assert!(
            same,
            "{name}: our busy times differ from the Python peer's on the same file \
             ({} entries against {})",
            our_busy.as_array().map_or(0, Vec::len),
            their_busy.as_array().map_or(0, Vec::len),
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    compare_with_peer();
}
