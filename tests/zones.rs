//! Each participant's own hours: a program's days and day window apply in
//! every invitee's zone (`hours_in = "participant"`, the default), busy
//! time keeps the policy's buffers, and `hours_in = "program"` keeps the
//! program's zone for everyone. Through the public API, on a SQLite store.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, FixedClock, FreeBusy, Interval, MemorySource};
use common::{Validator, World, at, iv};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use scheduling_assistant::{
    Actor, Assistant, Group, Invitees, Pair, Participant, ParticipantId, Program, ProgramId,
    Proposal, Provider, SecretString, SlotRequest,
};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

/// An assistant whose program (London) has `policy` on top of the
/// switches, with `people` (id, zone) connected to an empty calendar each,
/// and the clock at `now`.
async fn world(
    policy: &str,
    people: &[(&str, &str)],
    now: i64,
) -> (World, Assistant, Arc<MemorySource>) {
    let mut w = World::new();
    w.clock = Arc::new(FixedClock::new(Timestamp::from_second(now).unwrap()));
    let calendars = Arc::new(MemorySource::new());
    let a = w
        .builder()
        .await
        .source(Provider::Icloud, calendars.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    let policy = format!(
        "time_zone = \"Europe/London\"\nscheduling_assistant = true\ngroup_polls = true\n{policy}"
    );
    a.add_program(Program::new("p", "P").with_policy_toml(policy))
        .await
        .unwrap();
    for (id, zone) in people {
        a.add_participant(
            Participant::new(*id, *id, format!("{id}@example.org"), *zone),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
        calendars.insert(format!("{id}@example.org"), FreeBusy::default());
        a.connect_icloud(
            &Actor::participant(*id),
            &pid(id),
            &format!("{id}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .unwrap();
    }
    (w, a, calendars)
}

/// Local wall-clock minutes after midnight and weekday of `second` in `zone`.
fn local(zone: &str, second: i64) -> (jiff::civil::Weekday, i64) {
    let dt = TimeZone::get(zone)
        .unwrap()
        .to_datetime(Timestamp::from_second(second).unwrap());
    (
        dt.weekday(),
        i64::from(dt.hour()) * 60 + i64::from(dt.minute()),
    )
}

/// Whether `slot` lies inside 08:00-18:00, Monday to Friday, in `zone`
/// (its end may be 18:00 exactly).
fn inside_working_day(zone: &str, slot: Interval) -> bool {
    use jiff::civil::Weekday::{Saturday, Sunday};
    let (day, start) = local(zone, slot.start());
    let (end_day, end) = local(zone, slot.end());
    let end = if end == 0 && end_day != day {
        24 * 60
    } else {
        end
    };
    !matches!(day, Saturday | Sunday) && start >= 8 * 60 && end <= 18 * 60 && end > start
}

async fn all_slots(a: &Assistant, invitees: &[&str], window: Interval, hours: u64) -> Proposal {
    // The program's administrator: any of its people may be invited.
    a.poll(
        &Actor::global_admin("coordinator"),
        &Invitees::List {
            program: ProgramId::new("p"),
            participants: invitees.iter().map(|p| pid(p)).collect(),
        },
        SlotRequest::new(Duration::from_secs(hours * 3600), window).limit(500),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn new_york_and_london_meet_only_inside_both_working_days_across_both_clock_changes() {
    // 8-29 March 2026: New York is on EDT from 8 March, London on GMT until
    // 29 March, so the offset is 4 hours, not 5, for three weeks.
    let now = at("2026-03-01T00:00:00Z");
    let people = [("maya", "America/New_York"), ("theo", "Europe/London")];
    let (_w, a, _c) = world("", &people, now).await;
    a.add_pair(Pair {
        id: "m-t".into(),
        program: "p".into(),
        mentor: pid("maya"),
        mentee: pid("theo"),
    })
    .await
    .unwrap();
    let window = iv(at("2026-03-02T00:00:00Z"), at("2026-04-04T00:00:00Z"));
    let proposal = a
        .mutual_slots(
            &Actor::participant("theo"),
            &"m-t".into(),
            SlotRequest::new(Duration::from_secs(3600), window).limit(500),
        )
        .await
        .unwrap();
    assert!(!proposal.slots.is_empty());
    for s in &proposal.slots {
        assert!(
            inside_working_day("America/New_York", s.interval),
            "{}",
            s.interval
        );
        assert!(
            inside_working_day("Europe/London", s.interval),
            "{}",
            s.interval
        );
    }
    let starts: Vec<i64> = proposal.slots.iter().map(|s| s.interval.start()).collect();
    // The window's shape each week: 13:00-18:00 London (08:00-13:00 New
    // York) before 8 March, 12:00-18:00 London (08:00-14:00) from 9 March,
    // and 13:00 again from 30 March (London on BST).
    assert_eq!(starts.first(), Some(&at("2026-03-02T13:00:00Z")));
    assert!(starts.contains(&at("2026-03-09T12:00:00Z")));
    assert!(!starts.contains(&at("2026-03-02T12:00:00Z")));
    assert!(starts.contains(&at("2026-03-30T12:00:00Z")), "13:00 BST");
    assert!(!starts.contains(&at("2026-03-30T11:00:00Z")));
    // The last hour of each day ends at 18:00 London in every week.
    assert!(starts.contains(&at("2026-03-09T17:00:00Z")));
}

#[tokio::test]
async fn hours_in_program_keeps_the_programs_zone_for_everyone() {
    let now = at("2026-03-01T00:00:00Z");
    let people = [("maya", "America/New_York"), ("theo", "Europe/London")];
    let (_w, a, _c) = world("hours_in = \"program\"", &people, now).await;
    let window = iv(at("2026-03-09T00:00:00Z"), at("2026-03-10T00:00:00Z"));
    let proposal = all_slots(&a, &["theo", "maya"], window, 1).await;
    // 08:00 London, 04:00 for Maya: what the program's zone alone allows.
    assert_eq!(
        proposal.slots.iter().map(|s| s.interval.start()).min(),
        Some(at("2026-03-09T08:00:00Z"))
    );
}

#[tokio::test]
async fn half_hour_and_quarter_hour_zones_share_only_their_common_hours() {
    let now = at("2026-01-04T00:00:00Z");
    // Monday 5 January 2026: Kolkata +05:30, Chatham +13:45 (daylight
    // time), Lord Howe +11:00 (daylight time, 30-minute shift).
    for (zones, expect_any) in [
        (vec![("a", "Asia/Kolkata"), ("b", "Europe/London")], true),
        (
            vec![("a", "Asia/Kolkata"), ("b", "Australia/Lord_Howe")],
            true,
        ),
        (
            vec![("a", "Pacific/Chatham"), ("b", "Europe/London")],
            false,
        ),
    ] {
        let (_w, a, _c) = world("slot_step = \"15m\"", &zones, now).await;
        let window = iv(at("2026-01-05T00:00:00Z"), at("2026-01-10T00:00:00Z"));
        let ids: Vec<&str> = zones.iter().map(|(id, _)| *id).collect();
        let proposal = all_slots(&a, &ids, window, 1).await;
        assert_eq!(!proposal.slots.is_empty(), expect_any, "{zones:?}");
        for s in &proposal.slots {
            for (_, zone) in &zones {
                assert!(
                    inside_working_day(zone, s.interval),
                    "{zone}: {}",
                    s.interval
                );
            }
        }
    }
}

#[tokio::test]
async fn buffers_keep_a_margin_around_every_busy_interval() {
    let now = at("2026-03-01T00:00:00Z");
    let people = [("ana", "Europe/London"), ("ben", "Europe/London")];
    let (_w, a, calendars) = world(
        "buffer_before = \"15m\"\nbuffer_after = \"30m\"\nslot_step = \"15m\"",
        &people,
        now,
    )
    .await;
    let meeting = iv(at("2026-03-09T10:00:00Z"), at("2026-03-09T11:00:00Z"));
    calendars.insert(
        "ana@example.org",
        FreeBusy::from_entries([(BusyKind::Busy, meeting)]),
    );
    let window = iv(at("2026-03-09T00:00:00Z"), at("2026-03-10T00:00:00Z"));
    let proposal = a
        .poll(
            &Actor::global_admin("coordinator"),
            &Invitees::List {
                program: ProgramId::new("p"),
                participants: vec![pid("ana"), pid("ben")],
            },
            SlotRequest::new(Duration::from_secs(900), window)
                .limit(500)
                .min_free(2),
        )
        .await
        .unwrap();
    let kept = iv(at("2026-03-09T09:45:00Z"), at("2026-03-09T11:30:00Z"));
    let starts: Vec<i64> = proposal.slots.iter().map(|s| s.interval.start()).collect();
    for s in &proposal.slots {
        assert!(s.interval.intersection(&kept).is_none(), "{}", s.interval);
    }
    // Right up to the margins (quarter-hour slots), not further.
    assert!(starts.contains(&at("2026-03-09T09:30:00Z")));
    assert!(starts.contains(&at("2026-03-09T11:30:00Z")));
}

const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "UTC",
];

proptest! {
    // Failures are reported, never written into the source tree.
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    /// Every proposed slot lies inside each invitee's local working day
    /// and outside every known invitee's busy time widened by the buffers.
    #[test]
    fn every_proposed_slot_suits_every_invitee_in_their_own_zone(
        picks in prop::collection::vec(0usize..ZONES.len(), 2..4),
        day in 0i64..300,
        busy in prop::collection::vec((0i64..7 * 96, 1i64..12), 0..8),
        buffer in 0u64..4,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let start = at("2026-01-01T00:00:00Z") + day * 86_400;
            let people: Vec<(String, &str)> =
                picks.iter().enumerate().map(|(i, &z)| (format!("p{i}"), ZONES[z])).collect();
            let refs: Vec<(&str, &str)> = people.iter().map(|(id, z)| (id.as_str(), *z)).collect();
            let minutes = buffer * 15;
            let policy = format!("buffer_before = \"{minutes}m\"\nbuffer_after = \"{minutes}m\"");
            let (_w, a, calendars) = world(&policy, &refs, start - 86_400).await;
            // The first invitee's busy time: quarter hours from the start.
            let entries: Vec<_> = busy
                .iter()
                .map(|&(q, len)| (BusyKind::Busy, iv(start + q * 900, start + (q + len) * 900)))
                .collect();
            calendars.insert("p0@example.org", FreeBusy::from_entries(entries.clone()));
            let window = iv(start, start + 7 * 86_400);
            let ids: Vec<&str> = refs.iter().map(|(id, _)| *id).collect();
            let proposal = all_slots(&a, &ids, window, 1).await;
            let margin = i64::try_from(minutes * 60).unwrap();
            for s in &proposal.slots {
                for (_, zone) in &refs {
                    prop_assert!(inside_working_day(zone, s.interval), "{zone}: {}", s.interval);
                }
                if s.free.contains(&pid("p0")) {
                    for (_, b) in &entries {
                        let kept = iv(b.start() - margin, b.end() + margin);
                        prop_assert!(s.interval.intersection(&kept).is_none(), "{} in {}", s.interval, kept);
                    }
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_group_with_no_common_hours_gets_no_slot() {
    // New York and Kolkata share no hour of a 08:00-18:00 day (9h30 apart).
    let now = at("2026-01-04T00:00:00Z");
    let people = [("a", "America/New_York"), ("b", "Asia/Kolkata")];
    let (_w, a, _c) = world("", &people, now).await;
    a.add_group(Group {
        id: "g".into(),
        program: "p".into(),
        name: "G".into(),
        members: vec![pid("a"), pid("b")],
    })
    .await
    .unwrap();
    let window = iv(at("2026-01-05T00:00:00Z"), at("2026-01-10T00:00:00Z"));
    let proposal = a
        .poll(
            &Actor::participant("a"),
            &Invitees::Group("g".into()),
            SlotRequest::new(Duration::from_secs(1800), window),
        )
        .await
        .unwrap();
    assert!(proposal.slots.is_empty(), "{:?}", proposal.slots);
    assert_eq!(proposal.invitees, 2);
}

/// A participant's own account that is gone (not found) or no longer
/// shared (forbidden) needs reconnecting, with the reason, instead of
/// "could not be read just now" for ever; reconnecting clears it.
#[tokio::test]
async fn a_gone_or_unshared_own_calendar_needs_reconnecting() {
    use availability::SourceError;
    use scheduling_assistant::ConnectionStatus;
    let now = at("2026-03-01T00:00:00Z");
    let people = [("ana", "Europe/London"), ("ben", "Europe/London")];
    let (_w, a, calendars) = world("", &people, now).await;
    calendars.fail(
        "ana@example.org",
        SourceError::NotFound {
            message: "no such calendar".into(),
        },
    );
    calendars.fail(
        "ben@example.org",
        SourceError::Forbidden {
            message: "the calendar is no longer shared".into(),
        },
    );
    let window = iv(at("2026-03-02T00:00:00Z"), at("2026-03-03T00:00:00Z"));
    let poll = all_slots(&a, &["ana", "ben"], window, 1).await;
    assert_eq!(poll.problems.len(), 2);
    for (id, why) in [("ana", "no such calendar"), ("ben", "no longer shared")] {
        match a.status(&pid(id)).await {
            ConnectionStatus::NeedsReconnecting { provider, reason } => {
                assert_eq!(provider, Provider::Icloud);
                assert!(reason.contains(why), "{id}: {reason}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    // Reconnecting (the calendar shared again) clears it.
    calendars.insert("ana@example.org", FreeBusy::default());
    a.connect_icloud(
        &Actor::participant("ana"),
        &pid("ana"),
        "ana@icloud.com",
        SecretString::new("abcd-efgh-ijkl-mnop".into()),
    )
    .await
    .unwrap();
    assert!(matches!(
        a.status(&pid("ana")).await,
        ConnectionStatus::Connected { .. }
    ));
}

/// A participant's own hours narrow what they are offered, in their zone:
/// weekly ranges, a day off, different hours on one date; kept across a
/// restart; set by the participant or an administrator, never by another
/// participant.
#[tokio::test]
async fn own_hours_narrow_every_proposal_and_are_kept() {
    use scheduling_assistant::{AssistantError, Day, HoursRange, ParticipantHours};
    let now = at("2026-03-01T00:00:00Z");
    let people = [("maya", "America/New_York"), ("theo", "Europe/London")];
    let (w, a, calendars) = world("", &people, now).await;
    let t = |s: &str| s.parse().unwrap();
    let mut hours = ParticipantHours::default();
    // Maya: Mondays 09:00-10:00 her time only; Tuesday 10 March off;
    // Wednesday 11 March 13:00-14:00 instead of the whole day.
    hours.weekly.insert(
        Day(jiff::civil::Weekday::Monday),
        vec![HoursRange::new(t("09:00"), t("10:00"))],
    );
    hours.dates.insert("2026-03-10".parse().unwrap(), vec![]);
    hours.dates.insert(
        "2026-03-11".parse().unwrap(),
        vec![HoursRange::new(t("13:00"), t("14:00"))],
    );
    // Theo may not set Maya's hours; Maya and an administrator may.
    assert!(matches!(
        a.set_own_hours(&Actor::participant("theo"), &pid("maya"), hours.clone())
            .await,
        Err(AssistantError::NotAllowed(_))
    ));
    a.set_own_hours(&Actor::participant("maya"), &pid("maya"), hours.clone())
        .await
        .unwrap();
    let admin = Actor::Administrator {
        admin: "coordinator".into(),
        on_behalf_of: None,
    };
    a.set_own_hours(&admin, &pid("maya"), hours.clone())
        .await
        .unwrap();
    let bad = ParticipantHours {
        dates: [(
            "2026-03-12".parse().unwrap(),
            vec![HoursRange::new(t("12:00"), t("11:00"))],
        )]
        .into(),
        ..ParticipantHours::default()
    };
    assert!(matches!(
        a.set_own_hours(&Actor::participant("maya"), &pid("maya"), bad)
            .await,
        Err(AssistantError::Invalid(_))
    ));

    let window = iv(at("2026-03-09T00:00:00Z"), at("2026-03-12T00:00:00Z"));
    let starts = |p: &Proposal| {
        p.slots
            .iter()
            .map(|s| s.interval.start())
            .collect::<Vec<_>>()
    };
    let proposal = all_slots(&a, &["theo", "maya"], window, 1).await;
    // Monday 09:00-10:00 New York (13:00Z), Wednesday 13:00 New York
    // (17:00Z, 17:00-18:00 London); nothing on Tuesday.
    assert_eq!(
        starts(&proposal),
        [at("2026-03-09T13:00:00Z"), at("2026-03-11T17:00:00Z")]
    );

    // Kept across a restart (same file), and removable.
    drop(a);
    let a = w
        .builder()
        .await
        .source(Provider::Icloud, calendars.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    assert_eq!(a.own_hours(&pid("maya")).unwrap(), hours);
    assert_eq!(
        starts(&all_slots(&a, &["theo", "maya"], window, 1).await).len(),
        2
    );
    a.set_own_hours(
        &Actor::participant("maya"),
        &pid("maya"),
        ParticipantHours::default(),
    )
    .await
    .unwrap();
    assert!(
        all_slots(&a, &["theo", "maya"], window, 1)
            .await
            .slots
            .len()
            > 2
    );
}
