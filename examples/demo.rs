//! The main job, on an embedded default:
//!
//! ```sh
//! cargo run --release --example demo [-- --data DIR]
//! ```
//!
//! A mentoring program in London ("Spring mentoring": weekdays 08:00-18:00,
//! Europe/London) with a mentor in New York, a mentee in London and a
//! five-person circle. Their calendars are the `.ics` files in
//! `examples/data/` (recurring meetings, an all-day event, an
//! out-of-office day, a free focus block, a cancelled meeting; the US clock
//! change on Sunday 8 March 2026 falls inside the shown week, so the
//! mentor's 09:00 New York stand-up moves from 14:00 to 13:00 London).
//!
//! Everything runs through the real [`Assistant`]: a SQLite file in a
//! temporary directory holds the sealed credentials and the records;
//! participants connect their own calendars (an administrator working on
//! someone's behalf is refused); calendars are read by caldav-provider's
//! `IcsSource`, standing in for iCloud (the demo's only stand-in: a login is
//! "validated" by having a shipped file). The clock is fixed at Thursday
//! 5 March 2026, 09:00 London, so the output is the same every run.
//!
//! Prints the connection statuses, the mentee's view of the mentor's week
//! (Unavailable blocks only, in the program's zone), the top mutual slots,
//! and a group poll with its connected count. Then the poll is stored and
//! answered by the circle (a fixed pattern, [`VOTES`]), its creator's view
//! shows each answer beside who is free now, the slot with the most "yes"
//! is booked (re-checked fresh), and the invitation it produced is printed
//! as iCalendar (iTIP `METHOD:REQUEST`) by the demo's own sender, which
//! records the meeting instead of mailing it. Only the poll's and the
//! booking's ids (in the `UID`) differ between runs. Exits 2 with a
//! one-line error on bad arguments or data.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::tz::TimeZone;
use jiff::{Timestamp, civil::Date};
use scheduling_assistant::{
    Actor, Assistant, BookOptions, Booking, Delivered, FixedClock, Interval, Invitees, KeyId,
    KeyRing, MasterKey, Meeting, MeetingChange, MeetingSender, ParticipantId, Person, PollOptions,
    PollView, ProgramId, ProgramPolicy, Proposal, Provider, SecretString, SlotRequest, SourceError,
    SqliteStore, Vault, Vote,
};

#[path = "support/demo_data.rs"]
mod demo_data;
use demo_data::PEOPLE;

const USAGE: &str = "usage: demo [--data DIR]";

/// How each circle member answers the stored poll, slot by slot in the
/// order proposed: `Y` yes, `?` if need be, `N` no.
const VOTES: [(&str, &str); 5] = [
    ("ana", "YYY?Y"),
    ("ben", "?YNNY"),
    ("chen", "YY??N"),
    ("dara", "NYYYY"),
    ("eli", "Y?YNN"),
];

/// The demo's invitations: it records each meeting it is given and says
/// it went by email, so the demo can print the iCalendar an email sender
/// would attach (the library's own iTIP writer sends real mail, through
/// [`EmailInvitations`](scheduling_assistant::invite::EmailInvitations)).
#[derive(Debug, Default)]
struct Recorded {
    sent: Mutex<Vec<(Meeting, MeetingChange)>>,
}

impl Recorded {
    fn sent(&self) -> Vec<(Meeting, MeetingChange)> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl MeetingSender for Recorded {
    fn via(&self) -> &'static str {
        "email"
    }

    fn organiser(&self) -> Option<Person> {
        Some(Person::new("scheduling@example.org").named("Spring mentoring"))
    }

    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((meeting.clone(), change.clone()));
        Ok(Delivered {
            via: "email",
            event: None,
        })
    }
}

fn parse_args() -> Result<PathBuf, String> {
    let mut data = demo_data::default_data();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => {
                data = PathBuf::from(args.next().ok_or("--data needs a directory")?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(data)
}

/// 32 random bytes for a throwaway vault key.
fn random_key() -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| "no randomness for the vault key".to_owned())?;
    Ok(key)
}

async fn run(data: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let db = dir.path().join("assistant.sqlite3");
    let vault = Arc::new(Vault::new(
        Arc::new(SqliteStore::open(&db).map_err(|e| err(&e))?),
        KeyRing::new(MasterKey::from_bytes(KeyId(1), random_key()?)),
    ));
    let now: Timestamp = "2026-03-05T09:00:00Z".parse().map_err(|e| err(&e))?;
    let clock = Arc::new(FixedClock::new(now));

    let (ics, files) = demo_data::sources(data)?;
    let invitations = Arc::new(Recorded::default());
    let assistant = Assistant::builder()
        .store(
            scheduling_assistant::Store::open_sqlite(&db)
                .await
                .map_err(|e| err(&e))?,
        )
        .vault(vault)
        .clock(clock)
        .source(Provider::Icloud, Arc::new(ics))
        .caldav_validator(Arc::new(files))
        .invitations(Arc::clone(&invitations) as Arc<dyn MeetingSender>)
        .build()
        .await
        .map_err(|e| err(&e))?;

    let program = ProgramId::new("spring");
    demo_data::seed(&assistant).await?;
    let p = |s: &str| ParticipantId::new(s);

    println!("scheduling-assistant demo: Spring mentoring (Europe/London), now {now} (fixed)");
    println!("database: a SQLite file in a temporary directory (sealed credentials + records)\n");

    // Connecting is each participant's own act.
    let admin = Actor::admin_on_behalf_of("coordinator", "eli");
    let refused = assistant
        .connect_icloud(
            &admin,
            &p("eli"),
            "eli@example.org",
            SecretString::new("xxxx-xxxx-xxxx-xxxx".into()),
        )
        .await;
    if let Err(e) = refused {
        println!("An administrator connecting Eli's calendar: refused ({e})\n");
    }
    for (id, _, _, _, connects) in PEOPLE {
        if connects {
            assistant
                .connect_icloud(
                    &Actor::participant(id),
                    &p(id),
                    &format!("{id}@example.org"),
                    SecretString::new("abcd-efgh-ijkl-mnop".into()),
                )
                .await
                .map_err(|e| err(&e))?;
        }
    }
    println!("Connection statuses");
    for (id, name, _, _, _) in PEOPLE {
        println!("  {name:<14} {}", assistant.status(&p(id)).await.text());
    }

    let policy = assistant.policy(&program).map_err(|e| err(&e))?;
    let tz = policy.time_zone().tz().clone();
    let first: Date = tz.to_datetime(now).date();
    let start = local(&tz, first, 0, 0)?;
    let end = local(
        &tz,
        first
            .checked_add(jiff::Span::new().days(7))
            .map_err(|e| err(&e))?,
        0,
        0,
    )?;
    let week = Interval::new(start, end).map_err(|e| err(&e))?;

    let view = assistant
        .availability(&Actor::participant("theo"), &p("maya"), week)
        .await
        .map_err(|e| err(&e))?;
    println!(
        "\nTheo's view of Maya's week ({}, every 30 minutes; ## = Unavailable, . = free, \
         blank = outside the program's days)",
        policy.time_zone().name()
    );
    print_grid(&tz, first, &policy, &view.unavailable)?;

    let mutual = assistant
        .mutual_slots(
            &Actor::participant("theo"),
            &"maya-theo".into(),
            SlotRequest::new(Duration::from_secs(3600), week).limit(5),
        )
        .await
        .map_err(|e| err(&e))?;
    // Each slot in both partners' own time: the program's days and hours
    // apply in each one's zone, so Maya is never offered a time outside
    // 08:00-18:00 in New York.
    let maya = assistant.participant(&p("maya")).map_err(|e| err(&e))?;
    let maya_tz = TimeZone::get(&maya.time_zone).map_err(|e| err(&e))?;
    println!("\nTop mutual one-hour slots for Maya and Theo (London time, and Maya's in New York)");
    for slot in &mutual.slots {
        println!(
            "  {}   (Maya: {})",
            when(&tz, slot.interval),
            when(&maya_tz, slot.interval)
        );
    }

    let poll = assistant
        .poll(
            &Actor::participant("ana"),
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_secs(3600), week)
                .limit(5)
                .min_free(1),
        )
        .await
        .map_err(|e| err(&e))?;
    print_poll(&tz, &poll);

    stored_poll(&assistant, &tz, week, &invitations, now).await
}

/// The poll stored, answered by the circle ([`VOTES`]), seen by its
/// creator (answers beside who is free now), its best slot booked, and the
/// invitation that went out.
async fn stored_poll(
    assistant: &Assistant,
    tz: &TimeZone,
    week: Interval,
    invitations: &Recorded,
    now: Timestamp,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let ana = Actor::participant("ana");
    let created = assistant
        .create_poll(
            &ana,
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_secs(3600), week)
                .limit(5)
                .min_free(1),
            PollOptions::new("Thursday circle"),
        )
        .await
        .map_err(|e| err(&e))?;
    println!(
        "\nThe poll stored: \"{}\", proposed by Ana; the circle answers \
         (Y yes, ? if need be, N no; slots in the order above)",
        created.title
    );
    for (who, pattern) in VOTES {
        let answers: Vec<(usize, Vote)> = pattern
            .chars()
            .map(vote_of)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .enumerate()
            .take(created.slots.len())
            .collect();
        assistant
            .answer_poll(&Actor::participant(who), &created.id, &answers)
            .await
            .map_err(|e| err(&e))?;
        let marks: Vec<&str> = answers.iter().map(|(_, v)| mark(*v)).collect();
        println!("  {who:<6} {}", marks.join(" "));
    }

    let view = assistant
        .view_poll(&ana, &created.id)
        .await
        .map_err(|e| err(&e))?;
    print_creator_view(tz, &view);

    // The best slot: most "yes", then most "yes" or "if need be", then
    // the earliest proposed.
    let best = view
        .slots
        .iter()
        .min_by_key(|s| {
            (
                std::cmp::Reverse(s.counts.yes),
                std::cmp::Reverse(s.counts.yes + s.counts.if_need_be),
                s.index,
            )
        })
        .ok_or("the poll has no slots")?;
    let booking = assistant
        .book_poll(&ana, &created.id, best.index, BookOptions::new())
        .await
        .map_err(|e| err(&e))?;
    let after = assistant
        .view_poll(&ana, &created.id)
        .await
        .map_err(|e| err(&e))?;
    print_booking(tz, best.index, &booking, &after);

    let sent = invitations.sent();
    let (meeting, change) = sent.last().ok_or("no invitation was sent")?;
    if *change != MeetingChange::Create {
        return Err(format!("unexpected invitation {change:?}"));
    }
    println!(
        "\nThe invitation sent ({} of them; iTIP, as the email sender attaches it; the demo \
         prints it instead of mailing it)",
        sent.len()
    );
    for line in itip_request(meeting, now) {
        println!("  {line}");
    }
    Ok(())
}

fn vote_of(c: char) -> Result<Vote, String> {
    match c {
        'Y' => Ok(Vote::Yes),
        '?' => Ok(Vote::IfNeedBe),
        'N' => Ok(Vote::No),
        other => Err(format!("{other:?} is not a vote (Y, ? or N)")),
    }
}

fn mark(vote: Vote) -> &'static str {
    match vote {
        Vote::Yes => "Y",
        Vote::IfNeedBe => "?",
        Vote::No => "N",
    }
}

fn ids(ids: &[ParticipantId]) -> String {
    if ids.is_empty() {
        "-".to_owned()
    } else {
        ids.iter()
            .map(ParticipantId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn print_creator_view(tz: &TimeZone, view: &PollView) {
    println!(
        "\nAna's view of the poll: each slot's answers beside who is free now (read again \
         from the calendars)"
    );
    if let Some(text) = &view.connected_text {
        println!("  {text}");
    }
    for slot in &view.slots {
        let c = slot.counts;
        println!(
            "  {}. {:<26} {} yes, {} if need be, {} no, {} unanswered",
            slot.index + 1,
            when(tz, slot.interval),
            c.yes,
            c.if_need_be,
            c.no,
            c.unanswered
        );
        let answers: Vec<String> = slot
            .answers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|(who, vote)| format!("{who} {}", mark(*vote)))
            .collect();
        println!("     answers: {}", answers.join(", "));
        if let Some(now) = &slot.availability {
            println!(
                "     now:     free: {}   unavailable: {}   unknown: {}",
                ids(&now.free),
                ids(&now.unavailable),
                ids(&now.unknown)
            );
        }
    }
}

fn print_booking(tz: &TimeZone, index: usize, booking: &Booking, after: &PollView) {
    println!(
        "\nBooked slot {} (the most yes): {}",
        index + 1,
        when(tz, booking.interval)
    );
    println!(
        "  title: {}   via: {}   attendees: {}",
        booking.title,
        booking.via,
        ids(&booking.attendees)
    );
    println!("  the poll is now {}", after.status);
}

/// `20260311T080000Z`.
fn utc(second: i64) -> String {
    Timestamp::from_second(second)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// The iTIP request (RFC 5546 §3.2.2) for a new meeting, as RFC 5545
/// lines (unfolded; the email sender folds them at 75 octets).
fn itip_request(meeting: &Meeting, stamp: Timestamp) -> Vec<String> {
    // `;CN="Name":mailto:address`, or `:mailto:address` without a name.
    let person = |p: &Person| match &p.name {
        Some(name) => format!(";CN=\"{}\":mailto:{}", name.replace('"', "'"), p.email),
        None => format!(":mailto:{}", p.email),
    };
    // TEXT values escape backslashes, semicolons, commas and newlines
    // (RFC 5545 §3.3.11).
    let text = |t: &str| {
        t.replace('\\', "\\\\")
            .replace(';', "\\;")
            .replace(',', "\\,")
            .replace('\n', "\\n")
    };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//scheduling-assistant//demo//EN".to_owned(),
        "METHOD:REQUEST".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", meeting.uid),
        format!("SEQUENCE:{}", meeting.sequence),
        format!("DTSTAMP:{}", utc(stamp.as_second())),
        format!("DTSTART:{}", utc(meeting.interval.start())),
        format!("DTEND:{}", utc(meeting.interval.end())),
        format!("SUMMARY:{}", text(&meeting.title)),
        format!("ORGANIZER{}", person(&meeting.organiser)),
    ];
    for attendee in &meeting.attendees {
        lines.push(format!(
            "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE{}",
            person(attendee)
        ));
    }
    lines.extend(["STATUS:CONFIRMED", "END:VEVENT", "END:VCALENDAR"].map(str::to_owned));
    lines
}

fn local(tz: &TimeZone, date: Date, hour: i8, minute: i8) -> Result<i64, String> {
    tz.to_ambiguous_timestamp(date.at(hour, minute, 0, 0))
        .compatible()
        .map(|t| t.as_second())
        .map_err(|e| e.to_string())
}

fn when(tz: &TimeZone, interval: Interval) -> String {
    let s = tz.to_datetime(interval.start_jiff());
    let e = tz.to_datetime(interval.end_jiff());
    format!("{} - {}", s.strftime("%a %d %b %H:%M"), e.strftime("%H:%M"))
}

fn print_grid(
    tz: &TimeZone,
    first: Date,
    policy: &ProgramPolicy,
    unavailable: &[Interval],
) -> Result<(), String> {
    let days: Vec<Date> = (0..7)
        .map(|i| first.checked_add(jiff::Span::new().days(i)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut header = String::from("        ");
    for d in &days {
        header.push_str(&format!(" {:<7}", d.strftime("%a %d").to_string()));
    }
    println!("{header}");
    let (from, to) = (policy.day_start().minutes(), policy.day_end().minutes());
    let mut minute = from;
    while minute < to {
        let (h, m) = (minute / 60, minute % 60);
        let mut row = format!("  {h:02}:{m:02} ");
        for d in &days {
            let cell = if policy.days().contains(d.weekday()) {
                let hour = i8::try_from(h).map_err(|e| e.to_string())?;
                let min = i8::try_from(m).map_err(|e| e.to_string())?;
                let s = local(tz, *d, hour, min)?;
                let slot = Interval::new(s, s + 1800).map_err(|e| e.to_string())?;
                if unavailable.iter().any(|u| u.overlaps(&slot)) {
                    "##"
                } else {
                    "."
                }
            } else {
                ""
            };
            row.push_str(&format!(" {cell:^7}"));
        }
        println!("{}", row.trim_end());
        minute += 30;
    }
    Ok(())
}

fn print_poll(tz: &TimeZone, poll: &Proposal) {
    println!("\nGroup poll for the Thursday circle (one hour, best first)");
    println!("  {}", poll.connected_text());
    let names = |ids: &[ParticipantId]| {
        if ids.is_empty() {
            "-".to_owned()
        } else {
            ids.iter()
                .map(ParticipantId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for slot in &poll.slots {
        println!(
            "  {:<26} free: {:<24} unavailable: {:<12} unknown: {}",
            when(tz, slot.interval),
            names(&slot.free),
            names(&slot.unavailable),
            names(&slot.unknown)
        );
    }
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|data| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(run(&data))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("demo: {}", message.lines().next().unwrap_or_default());
            ExitCode::from(2)
        }
    }
}
