//! Busy time of one calendar as JSON, the public contract of DESIGN.md.
//!
//! ```text
//! cargo run --release --example freebusy -- --ics PATH --from RFC3339 --to RFC3339 [--tz ZONE]
//! ```
//!
//! Prints `{"busy":[{"start":"…Z","end":"…Z","kind":"busy"}]}`: coalesced per
//! kind, sorted by start then kind, clipped to the window, UTC, whole seconds.
//! `--tz` is the IANA zone for floating times and all-day dates (default UTC).
//! Problems inside the calendar (a broken event, an unknown zone) are
//! reported on stderr as warnings; the rest of the calendar still counts.
//! Exit code 2, with a one-line error, for bad arguments or unreadable input.
//!
//! The `--caldav`, `--google` and `--graph` sources of the contract arrive
//! with their providers; until then they are refused with exit code 2.

use std::process::ExitCode;

use availability::{AccountId, Interval};
use caldav_provider::IcsSource;
use caldav_provider::ical::ExpandOptions;
use jiff::Timestamp;
use jiff::tz::TimeZone;

const USAGE: &str = "usage: freebusy --ics PATH --from RFC3339 --to RFC3339 [--tz ZONE]";

struct Args {
    ics: String,
    window: Interval,
    zone: TimeZone,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut ics, mut from, mut to, mut tz) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--ics" => ics = Some(value("--ics")?),
            "--from" => from = Some(value("--from")?),
            "--to" => to = Some(value("--to")?),
            "--tz" => tz = Some(value("--tz")?),
            "--caldav" | "--google" | "--graph" => {
                return Err(format!(
                    "{flag} is not available in this build yet; use --ics"
                ));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let ics = ics.ok_or_else(|| format!("--ics is required; {USAGE}"))?;
    let instant = |name: &str, v: Option<String>| -> Result<Timestamp, String> {
        let v = v.ok_or_else(|| format!("{name} is required; {USAGE}"))?;
        v.parse::<Timestamp>()
            .map_err(|e| format!("{name} {v:?} is not an RFC 3339 time: {e}"))
    };
    let from = instant("--from", from)?;
    let to = instant("--to", to)?;
    let window = Interval::from_jiff(from, to)
        .map_err(|e| format!("--from/--to do not make a window: {e}"))?;
    if window.len_secs() == 0 {
        return Err("--to must be after --from".to_owned());
    }
    let zone = match tz {
        None => TimeZone::UTC,
        Some(name) => caldav_provider::ical::time_zone(&name)
            .ok_or_else(|| format!("--tz {name:?} is not an IANA time zone"))?,
    };
    Ok(Args { ics, window, zone })
}

async fn run(args: Args) -> Result<String, String> {
    let account = AccountId::new("calendar");
    let source = IcsSource::new()
        .with_options(ExpandOptions::new(args.zone))
        .with_file(account.clone(), &args.ics);
    let report = source
        .report(&account, args.window)
        .await
        .map_err(|e| e.to_string())?;
    for problem in &report.problems {
        eprintln!("warning: {}: {problem}", args.ics);
    }
    serde_json::to_string(&report.busy).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("freebusy: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("freebusy: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("freebusy: {message}");
            ExitCode::from(2)
        }
    }
}
