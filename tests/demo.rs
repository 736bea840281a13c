//! The `demo` example: the main job on the shipped calendars, checked
//! against hand-computed times, with nothing of the calendars' content in
//! its output.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

fn demo() -> Command {
    let exe = std::env::current_exe().unwrap();
    Command::new(
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join("demo"),
    )
}

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data")
}

/// The grid row for `time`, split into its seven day cells.
fn row<'a>(out: &'a str, time: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(time))
        .unwrap_or_else(|| panic!("no grid row {time}"));
    let cells = &line[line.find(time).unwrap() + time.len()..];
    (0..7)
        .map(|i| {
            cells
                .get(1 + i * 8..(1 + i * 8 + 7).min(cells.len()))
                .unwrap_or("")
                .trim()
        })
        .collect()
}

#[test]
fn the_demo_shows_statuses_the_partners_week_slots_and_a_poll() {
    let out = demo().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.contains("An administrator connecting Eli's calendar: refused"));
    assert!(out.contains("Maya (mentor)  Your iCloud calendar is connected"));
    assert!(out.contains("Eli            Your calendar is not connected"));
    //            Thu   Fri   Sat Sun Mon   Tue   Wed
    // 09:00 New York stand-up: 14:00 London before the US change on
    // Sunday 8 March, 13:00 after; skipped on Wednesday (EXDATE).
    assert_eq!(row(&out, "14:00"), ["##", "##", "", "", ".", "##", "."]);
    assert_eq!(row(&out, "13:00"), [".", "##", "", "", "##", "##", "."]);
    // The all-day conference (Friday in New York: 05:00 Friday to 05:00
    // Saturday in London) covers Friday; the out-of-office day starts
    // 08:00 New York = 12:00 London on Tuesday; the transparent focus block
    // (Monday 10:00 London) does not block; the tentative breakfast does.
    assert_eq!(row(&out, "08:00"), [".", "##", "", "", ".", ".", "."]);
    assert_eq!(row(&out, "10:00"), [".", "##", "", "", ".", ".", "."]);
    assert_eq!(row(&out, "12:00"), [".", "##", "", "", ".", "##", "."]);
    assert_eq!(row(&out, "11:00"), [".", "##", "", "", ".", ".", "##"]);
    // The client call 15:00-16:30 UTC on Thursday.
    assert_eq!(row(&out, "16:00")[0], "##");
    assert_eq!(row(&out, "16:30")[0], ".");
    // Mutual slots lie inside both partners' own working day: the first is
    // 08:00 in New York (13:00 in London while New York is on EST, before
    // Sunday 8 March), after the 1 h notice and Theo's library shift.
    assert!(out.contains(
        "Top mutual one-hour slots for Maya and Theo (London time, and Maya's in New York)\n  \
         Thu 05 Mar 13:00 - 14:00   (Maya: Thu 05 Mar 08:00 - 09:00)\n"
    ));
    let mutual: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Top mutual"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(mutual.len(), 5, "{out}");
    for line in mutual {
        // "(Maya: Thu 05 Mar 08:00 - 09:00)": never before 08:00 or after
        // 18:00 her time.
        let hers = line.rsplit_once("(Maya: ").unwrap().1.trim_end_matches(')');
        let (from, to) = hers[hers.len() - 13..].split_once(" - ").unwrap();
        assert!(
            ("08:00"..="17:00").contains(&from) && ("09:00"..="18:00").contains(&to),
            "{line}"
        );
    }
    assert!(out.contains("4 of 5 invitees have connected a calendar"));
    // Chen is in Singapore (UTC+8): the circle's shared day is 08:00-10:00
    // in London, 16:00-18:00 in Singapore.
    assert!(out.contains(
        "Fri 06 Mar 08:00 - 09:00   free: ana, ben, chen, dara     unavailable: -            unknown: eli"
    ));
    // No title, location or description of any shipped calendar.
    for entry in std::fs::read_dir(data()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            for key in ["SUMMARY:", "LOCATION:", "DESCRIPTION:"] {
                if let Some(value) = line.strip_prefix(key) {
                    assert!(!out.contains(value.trim()), "{value} in the output");
                }
            }
        }
    }
}

#[test]
fn bad_arguments_or_data_exit_2_with_one_line() {
    for args in [
        vec!["--bogus"],
        vec!["--data"],
        vec!["--data", "/nonexistent/dir"],
    ] {
        let out = demo().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("demo: "), "{err}");
    }
}
