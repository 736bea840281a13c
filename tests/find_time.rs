//! The `find-time` example against its public contract (DESIGN.md), on the
//! peers' fixture calendars.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("find-time")
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/caldav-provider/tests/fixtures/peers")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(example()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Monday 2025-03-10 in New York (EDT): bookable 09:00-17:00 local
/// (13:00Z-21:00Z). Ana's stand-up is 13:30-14:00Z, Ben's meeting
/// 18:00-19:00Z, Cy has no calendar.
#[test]
fn distinct_slots_ranked_with_names_and_the_connected_count() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "time_zone = \"America/New_York\"\nday_start = \"09:00\"\nday_end = \"17:00\"\n",
    )
    .unwrap();
    let ana = format!("ana={}", fixture("05-weekly.ics"));
    let ben = format!("ben={}", fixture("01-timed-tz.ics"));
    let base = [
        "--participant",
        &ana,
        "--participant",
        &ben,
        "--participant",
        "cy=-",
        "--policy",
        policy.to_str().unwrap(),
        "--duration",
        "60m",
        "--from",
        "2025-03-10T00:00:00Z",
        "--to",
        "2025-03-11T00:00:00Z",
        "--now",
        "2025-03-01T00:00:00Z",
        "--limit",
        "3",
    ];
    let slot = |s: &str, e: &str| {
        format!(
            r#"{{"start":"{s}","end":"{e}","free":["ana","ben"],"unavailable":[],"unknown":["cy"]}}"#
        )
    };
    let (code, out, err) = run(&[&base[..], &["--distinct"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!(
            r#"{{"invitees":3,"connected":2,"slots":[{},{},{}]}}"#,
            slot("2025-03-10T14:00:00Z", "2025-03-10T15:00:00Z"),
            slot("2025-03-10T15:00:00Z", "2025-03-10T16:00:00Z"),
            slot("2025-03-10T16:00:00Z", "2025-03-10T17:00:00Z"),
        )
    );
    // Without --distinct, every step: 14:00, 14:30, 15:00.
    let (code, out, _) = run(&base);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let starts: Vec<&str> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2025-03-10T14:00:00Z",
            "2025-03-10T14:30:00Z",
            "2025-03-10T15:00:00Z"
        ]
    );
    // --step 15m and --min-free 1: a slot where Ana is busy still counts,
    // ranked after those where both are free.
    let (code, out, _) = run(&[
        &base[..],
        &["--step", "15m", "--min-free", "1", "--limit", "50"],
    ]
    .concat());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let slots = v["slots"].as_array().unwrap();
    assert_eq!(
        slots.len(),
        29,
        "every 15-minute start from 13:00Z to 20:00Z"
    );
    assert_eq!(slots[0]["start"], "2025-03-10T14:00:00Z");
    assert_eq!(slots[1]["start"], "2025-03-10T14:15:00Z");
    let last = &slots[slots.len() - 1];
    assert_eq!(last["free"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_arguments_and_input_exit_2_with_one_line() {
    let ok = format!("ana={}", fixture("01-timed-tz.ics"));
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--participant", &ok],
        vec![
            "--participant",
            "no-equals-sign",
            "--duration",
            "30m",
            "--from",
            "2025-03-10T00:00:00Z",
            "--to",
            "2025-03-11T00:00:00Z",
        ],
        vec![
            "--participant",
            &ok,
            "--duration",
            "half an hour",
            "--from",
            "2025-03-10T00:00:00Z",
            "--to",
            "2025-03-11T00:00:00Z",
        ],
        vec![
            "--participant",
            "ana=/no/such.ics",
            "--duration",
            "30m",
            "--from",
            "2025-03-10T00:00:00Z",
            "--to",
            "2025-03-11T00:00:00Z",
        ],
        vec![
            "--participant",
            &ok,
            "--duration",
            "30m",
            "--from",
            "2025-03-11T00:00:00Z",
            "--to",
            "2025-03-10T00:00:00Z",
        ],
        vec![
            "--participant",
            &ok,
            "--duration",
            "30m",
            "--from",
            "2025-03-10T00:00:00Z",
            "--to",
            "2025-03-11T00:00:00Z",
            "--policy",
            "/no/such.toml",
        ],
    ];
    for args in cases {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// `NAME=PATH.ics@ZONE`: the policy's hours also apply in that
/// participant's zone, and their floating times are read in it. Thursday
/// 13 March 2025, a London policy (GMT) and a New York participant (EDT,
/// -4): together 12:00Z-18:00Z. Her floating 12:00-13:00 is 16:00Z-17:00Z
/// in New York (it would be 12:00Z in London).
#[test]
fn a_participant_zone_narrows_the_hours_and_reads_floating_times_there() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "time_zone = \"Europe/London\"\n").unwrap();
    let maya = format!("maya={}@America/New_York", fixture("09-floating.ics"));
    let args = [
        "--participant",
        &maya,
        "--participant",
        "theo=-@Europe/London",
        "--policy",
        policy.to_str().unwrap(),
        "--duration",
        "60m",
        "--from",
        "2025-03-13T00:00:00Z",
        "--to",
        "2025-03-14T00:00:00Z",
        "--now",
        "2025-03-01T00:00:00Z",
        "--min-free",
        "1",
        "--limit",
        "50",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let slots = v["slots"].as_array().unwrap();
    let start = |s: &serde_json::Value| s["start"].as_str().unwrap().to_owned();
    let starts: Vec<String> = slots.iter().map(start).collect();
    // Inside both days: nothing before 12:00Z (08:00 New York), nothing
    // ending after 18:00Z (18:00 London).
    assert!(
        starts.iter().all(|s| s.as_str() >= "2025-03-13T12:00:00Z"),
        "{starts:?}"
    );
    assert!(
        starts.iter().all(|s| s.as_str() <= "2025-03-13T17:00:00Z"),
        "{starts:?}"
    );
    assert!(starts.contains(&"2025-03-13T12:00:00Z".to_owned()));
    // Maya is busy 16:00Z-17:00Z (12:00 her time): no slot touches it;
    // at 12:00Z (08:00 hers) she is free.
    for busy in [
        "2025-03-13T15:30:00Z",
        "2025-03-13T16:00:00Z",
        "2025-03-13T16:30:00Z",
    ] {
        assert!(!starts.contains(&busy.to_owned()), "{busy}: {starts:?}");
    }
    for free in ["2025-03-13T15:00:00Z", "2025-03-13T17:00:00Z"] {
        assert!(starts.contains(&free.to_owned()), "{free}: {starts:?}");
    }
    // Without zones, the old reading: London hours from 08:00Z, and the
    // floating hour read in London (12:00Z-13:00Z).
    let plain = format!("maya={}", fixture("09-floating.ics"));
    let (code, out, _) = run(&[&["--participant", &plain][..], &args[4..]].concat());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let starts: Vec<String> = v["slots"].as_array().unwrap().iter().map(start).collect();
    assert_eq!(starts[0], "2025-03-13T08:00:00Z");
    assert!(
        !starts.contains(&"2025-03-13T12:00:00Z".to_owned()),
        "{starts:?}"
    );
    assert!(
        starts.contains(&"2025-03-13T16:00:00Z".to_owned()),
        "{starts:?}"
    );
    // A zone that is no zone is refused with one line.
    let (code, _, err) = run(&[&["--participant", "x=-@Mars/Olympus"][..], &args[4..]].concat());
    assert_eq!(code, 2);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
