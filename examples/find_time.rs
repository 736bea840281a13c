//! The best meeting slots for several participants, as JSON: the public
//! contract of DESIGN.md.
//!
//! ```text
//! cargo run --release --example find-time -- --participant NAME=PATH.ics[@ZONE] ... [--policy FILE.toml] \
//!     --duration 30m --from RFC3339 --to RFC3339 [--min-free K] [--limit N] \
//!     [--now RFC3339] [--step 15m] [--distinct]
//! ```
//!
//! Prints `{"invitees":n,"connected":c,"slots":[{"start":"…Z","end":"…Z",
//! "free":[…],"unavailable":[…],"unknown":[…]}]}`. A participant given as
//! `NAME=-` has no connected calendar (unknown, never free). `@ZONE` (an
//! IANA name, optional, also after `-`) gives that participant's own zone:
//! the policy's days and hours then also apply in it, and floating times
//! and all-day dates in their calendar are read in it; without it they are
//! read in the policy's zone, and with no zone at all the semantics are
//! exactly those below. A candidate start is an
//! instant whose local time in the policy zone is a whole multiple of the
//! step after local midnight; the slot lies inside one bookable window of
//! the policy and inside `--from/--to`. Slots with at least K free (default:
//! every participant with a calendar) are ranked by free count, then start;
//! at most `--limit` (default 10). `--distinct` keeps only slots that overlap
//! no better-ranked one (what a poll proposes). Exit code 2 with a one-line
//! error for bad arguments or input.

use std::process::ExitCode;
use std::time::Duration;

use availability::{Interval, IntervalSet, find_slots};
use caldav_provider::ical::{Calendar, ExpandOptions, time_zone};
use jiff::Timestamp;
use policy_rules::{PolicyDuration, PolicyLayer, ProgramPolicy};
use serde::Serialize;

const USAGE: &str = "usage: find-time --participant NAME=PATH.ics[@ZONE]... [--policy FILE.toml] \
                     --duration 30m --from RFC3339 --to RFC3339 [--min-free K] [--limit N] \
                     [--now RFC3339] [--step 15m] [--distinct]";

/// One `--participant`: a name, a calendar file (none for `-`), and their
/// own zone, if given.
struct Invitee {
    name: String,
    path: Option<String>,
    zone: Option<policy_rules::Zone>,
}

struct Args {
    participants: Vec<Invitee>,
    policy: ProgramPolicy,
    duration: Duration,
    window: Interval,
    min_free: Option<u32>,
    limit: usize,
    now: Timestamp,
    distinct: bool,
}

fn duration(flag: &str, v: &str) -> Result<Duration, String> {
    let d: PolicyDuration = v
        .parse()
        .map_err(|e| format!("{flag} {v:?} is not a duration such as 30m: {e}"))?;
    Ok(Duration::from_secs(d.as_secs()))
}

/// Splits `PATH.ics@ZONE` at its last `@` when what follows names an IANA
/// zone (a path may hold an `@` of its own: then it is all path, if that
/// file exists).
fn path_and_zone(value: &str) -> Result<(&str, Option<policy_rules::Zone>), String> {
    let Some((path, zone)) = value.rsplit_once('@') else {
        return Ok((value, None));
    };
    match policy_rules::Zone::new(zone) {
        Ok(zone) => Ok((path, Some(zone))),
        Err(_) if std::path::Path::new(value).exists() => Ok((value, None)),
        Err(e) => Err(format!("--participant {value:?}: {e}")),
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut participants = Vec::new();
    let (mut policy_file, mut dur, mut from, mut to, mut min_free, mut limit, mut now, mut step) =
        (None, None, None, None, None, 10usize, None, None);
    let mut distinct = false;
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--participant" => {
                let v = value("--participant")?;
                let (name, path) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--participant {v:?} is not NAME=PATH.ics or NAME=-"))?;
                if name.is_empty() {
                    return Err(format!("--participant {v:?} has no name"));
                }
                let (path, zone) = path_and_zone(path)?;
                let path = (path != "-").then(|| path.to_owned());
                participants.push(Invitee {
                    name: name.to_owned(),
                    path,
                    zone,
                });
            }
            "--policy" => policy_file = Some(value("--policy")?),
            "--duration" => dur = Some(duration("--duration", &value("--duration")?)?),
            "--from" => from = Some(value("--from")?),
            "--to" => to = Some(value("--to")?),
            "--min-free" => {
                let v = value("--min-free")?;
                min_free = Some(
                    v.parse()
                        .map_err(|_| format!("--min-free {v:?} is not a count"))?,
                );
            }
            "--limit" => {
                let v = value("--limit")?;
                limit = v
                    .parse()
                    .map_err(|_| format!("--limit {v:?} is not a count"))?;
            }
            "--now" => now = Some(value("--now")?),
            "--step" => step = Some(value("--step")?),
            "--distinct" => distinct = true,
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if participants.is_empty() {
        return Err(format!("at least one --participant is needed; {USAGE}"));
    }
    let instant = |name: &str, v: Option<String>| -> Result<Timestamp, String> {
        let v = v.ok_or_else(|| format!("{name} is required; {USAGE}"))?;
        v.parse()
            .map_err(|e| format!("{name} {v:?} is not an RFC 3339 time: {e}"))
    };
    let window = Interval::from_jiff(instant("--from", from)?, instant("--to", to)?)
        .map_err(|e| format!("--from/--to do not make a window: {e}"))?;
    if window.len_secs() == 0 {
        return Err("--to must be after --from".to_owned());
    }
    let now = match now {
        Some(v) => instant("--now", Some(v))?,
        None => Timestamp::now(),
    };
    let text = match &policy_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the policy {path}: {e}"))?,
        None => String::new(),
    };
    let mut layer = PolicyLayer::from_toml(&text).map_err(|e| format!("policy: {e}"))?;
    if let Some(step) = step {
        let d: PolicyDuration = step
            .parse()
            .map_err(|e| format!("--step {step:?} is not a duration such as 15m: {e}"))?;
        layer = layer.with_slot_step(d);
    }
    let policy = ProgramPolicy::resolve(&PolicyLayer::default(), &layer)
        .map_err(|e| format!("policy: {e}"))?;
    Ok(Args {
        participants,
        policy,
        duration: dur.ok_or_else(|| format!("--duration is required; {USAGE}"))?,
        window,
        min_free,
        limit,
        now,
        distinct,
    })
}

#[derive(Serialize)]
struct SlotOut {
    start: String,
    end: String,
    free: Vec<String>,
    unavailable: Vec<String>,
    unknown: Vec<String>,
}

#[derive(Serialize)]
struct Out {
    invitees: usize,
    connected: usize,
    slots: Vec<SlotOut>,
}

fn run(args: Args) -> Result<String, String> {
    let expand_in = |zone: &policy_rules::Zone| {
        time_zone(zone.name())
            .map(ExpandOptions::new)
            .ok_or_else(|| format!("unknown zone {}", zone.name()))
    };
    let program_options = expand_in(args.policy.time_zone())?;
    let blocking = args.policy.blocking();
    let mut unavailable: Vec<Option<IntervalSet>> = Vec::new();
    for Invitee { name, path, zone } in &args.participants {
        let Some(path) = path else {
            unavailable.push(None);
            continue;
        };
        // Floating times and all-day dates in the participant's own zone.
        let options = match zone {
            Some(zone) => expand_in(zone)?,
            None => program_options.clone(),
        };
        let bytes = std::fs::read(path).map_err(|e| format!("{name}: cannot read {path}: {e}"))?;
        let calendar = Calendar::parse_bytes(&bytes).map_err(|e| format!("{name}: {path}: {e}"))?;
        let report = calendar.busy_time(args.window, &options);
        for problem in &report.problems {
            eprintln!("warning: {name}: {path}: {problem}");
        }
        unavailable.push(Some(report.busy.unavailable(blocking)));
    }
    let connected = unavailable.iter().filter(|u| u.is_some()).count();
    // The policy's days and hours, and also in each zone given.
    let bookable = args
        .participants
        .iter()
        .filter_map(|p| p.zone.as_ref())
        .fold(
            args.policy.bookable(args.window, args.now),
            |bookable, zone| {
                bookable.intersection(&args.policy.bookable_in(args.window, args.now, zone))
            },
        );
    let min_free = args
        .min_free
        .unwrap_or_else(|| u32::try_from(connected).unwrap_or(u32::MAX));
    let query = args
        .policy
        .slot_query(args.duration, &bookable)
        .min_free(min_free)
        .limit(args.limit)
        .distinct(args.distinct);
    let slots = find_slots(&bookable, unavailable.iter().map(Option::as_ref), query)
        .map_err(|e| e.to_string())?;
    let names = |ids: &[usize]| -> Vec<String> {
        ids.iter()
            .filter_map(|&i| args.participants.get(i).map(|p| p.name.clone()))
            .collect()
    };
    let out = Out {
        invitees: args.participants.len(),
        connected,
        slots: slots
            .iter()
            .map(|s| SlotOut {
                start: s.interval.start_jiff().to_string(),
                end: s.interval.end_jiff().to_string(),
                free: names(&s.free),
                unavailable: names(&s.unavailable),
                unknown: names(&s.unknown),
            })
            .collect(),
    };
    serde_json::to_string(&out).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(run) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("find-time: {message}");
            ExitCode::from(2)
        }
    }
}
