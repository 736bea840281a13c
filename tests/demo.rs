//! The `demo` example: the main job on the shipped calendars, checked
//! against hand-computed times, with nothing of the calendars' content in
//! its output; then the stored poll answered in a fixed pattern, booked at
//! its best slot, and the invitation it sent.
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

/// The demo's answers, slot by slot in the order proposed (Y yes, ? if
/// need be, N no): a copy of `VOTES` in `examples/demo.rs`.
const VOTES: [(&str, &str); 5] = [
    ("ana", "YYY?Y"),
    ("ben", "?YNNY"),
    ("chen", "YY??N"),
    ("dara", "NYYYY"),
    ("eli", "Y?YNN"),
];

/// The lines after the one starting with `heading`, up to a blank line.
fn section<'a>(out: &'a str, heading: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty(), "no section {heading:?} in\n{out}");
    lines
}

#[test]
fn the_demo_books_the_slot_the_circle_answered_best_and_prints_its_invitation() {
    let out = demo().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).unwrap();
    // The slots the (unstored) group poll proposed, best first: the stored
    // poll proposes the same ones, in the same order.
    let proposed: Vec<&str> = section(&out, "Group poll for the Thursday circle")
        .into_iter()
        .skip(1)
        .map(|l| l.trim_start().split("   free:").next().unwrap().trim())
        .collect();
    assert_eq!(proposed.len(), 5, "{out}");

    // Each member's answers as given.
    let answered = section(&out, "The poll stored: \"Thursday circle\"");
    for ((who, pattern), line) in VOTES.iter().zip(&answered) {
        let marks: Vec<String> = pattern.chars().map(String::from).collect();
        assert_eq!(*line, format!("  {who:<6} {}", marks.join(" ")));
    }

    // The creator's view: per slot the counts, each answer (as the pattern
    // says) and who is free now, beside each other.
    let view = section(&out, "Ana's view of the poll");
    assert_eq!(view[0], "  4 of 5 invitees have connected a calendar");
    let slots = &view[1..];
    assert_eq!(slots.len(), 3 * proposed.len(), "{out}");
    let mut best = (0, 0, 0);
    for (i, when) in proposed.iter().enumerate() {
        let column: Vec<char> = VOTES.iter().map(|(_, p)| p.as_bytes()[i] as char).collect();
        let count = |c: char| column.iter().filter(|&&v| v == c).count();
        let (yes, maybe, no) = (count('Y'), count('?'), count('N'));
        assert_eq!(
            slots[3 * i],
            format!(
                "  {}. {when:<26} {yes} yes, {maybe} if need be, {no} no, 0 unanswered",
                i + 1
            )
        );
        let answers: Vec<String> = VOTES
            .iter()
            .zip(&column)
            .map(|((who, _), v)| format!("{who} {v}"))
            .collect();
        assert_eq!(
            slots[3 * i + 1],
            format!("     answers: {}", answers.join(", "))
        );
        // Availability is read from the calendars, apart from the answers:
        // Eli has no calendar, so is unknown whatever he answered.
        let now = slots[3 * i + 2];
        assert!(now.starts_with("     now:     free: "), "{now}");
        assert!(now.ends_with("unknown: eli"), "{now}");
        if (yes, yes + maybe) > (best.1, best.2) {
            best = (i, yes, yes + maybe);
        }
    }
    // Booked: the slot with the most yes (Wednesday 08:00, all four with a
    // calendar free), one of those proposed.
    let (index, _, _) = best;
    let booked = section(&out, "Booked slot ");
    let heading = out.lines().find(|l| l.starts_with("Booked slot ")).unwrap();
    let booked_when = heading.split_once("(the most yes): ").unwrap().1;
    assert_eq!(
        heading,
        format!(
            "Booked slot {} (the most yes): {}",
            index + 1,
            proposed[index]
        )
    );
    assert!(proposed.contains(&booked_when));
    assert_eq!(booked_when, "Wed 11 Mar 08:00 - 09:00");
    assert_eq!(
        booked,
        [
            "  title: Thursday circle   via: email   attendees: ana, ben, chen, dara, eli",
            "  the poll is now booked",
        ]
    );

    // The invitation: one iTIP request for that hour, in UTC (London is on
    // GMT until 29 March), from the scheduling address, to all five.
    let itip: Vec<&str> = section(&out, "The invitation sent (1 of them;")
        .into_iter()
        .map(str::trim_start)
        .collect();
    assert_eq!(itip.first(), Some(&"BEGIN:VCALENDAR"));
    assert_eq!(itip.last(), Some(&"END:VCALENDAR"));
    for line in [
        "METHOD:REQUEST",
        "SEQUENCE:0",
        "DTSTART:20260311T080000Z",
        "DTEND:20260311T090000Z",
        "SUMMARY:Thursday circle",
        "ORGANIZER;CN=\"Spring mentoring\":mailto:scheduling@example.org",
    ] {
        assert!(itip.contains(&line), "no {line} in {itip:#?}");
    }
    let uid = itip.iter().find_map(|l| l.strip_prefix("UID:")).unwrap();
    assert!(
        uid.starts_with("booking-") && uid.ends_with("@scheduling-assistant"),
        "{uid}"
    );
    let attendees: Vec<&str> = itip
        .iter()
        .filter(|l| l.starts_with("ATTENDEE;"))
        .copied()
        .collect();
    assert_eq!(attendees.len(), 5, "{itip:#?}");
    for (who, _) in VOTES {
        assert!(
            attendees
                .iter()
                .any(|a| a.ends_with(&format!(":mailto:{who}@example.org"))),
            "{who} not invited"
        );
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
