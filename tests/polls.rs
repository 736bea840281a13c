//! Stored polls and bookings through the public API, on a real SQLite
//! file: invitees answer, the creator sees answers beside live
//! availability, a booking re-reads every calendar fresh (refusing a slot
//! that became busy, naming who), sends the meeting and counts it busy at
//! once; reschedule and cancel keep the UID and raise the SEQUENCE; a
//! failed invitation leaves the poll open; polls survive a restart; the
//! one access rule over every actor.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{BusyKind, Clock, FreeBusy, MeetingChange, SourceError};
use common::{Counting, H, MONDAY, Recorder, Validator, World, iv};
use credential_vault::SecretString;
use scheduling_assistant::{
    Actor, Assistant, AssistantError, BookOptions, Group, Invitees, Pair, Participant,
    ParticipantId, PollId, PollOptions, PollStatus, Program, ProgramId, Provider, SlotRequest,
    Vote,
};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn me(s: &str) -> Actor {
    Actor::participant(s)
}

const CIRCLE: [&str; 4] = ["mia", "c1", "c2", "c3"];

async fn seed(a: &Assistant) {
    a.add_program(
        Program::new("mentoring", "Mentoring")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    a.add_program(
        Program::new("other", "Other")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    for p in ["mia", "max", "c1", "c2", "c3", "zoe"] {
        a.add_participant(
            Participant::new(p, p.to_uppercase(), format!("{p}@example.org"), "UTC"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
    }
    a.add_participant(
        Participant::new("olga", "OLGA", "olga@example.org", "UTC"),
        &[ProgramId::new("other")],
    )
    .await
    .unwrap();
    a.add_pair(Pair {
        id: "mia-max".into(),
        program: "mentoring".into(),
        mentor: pid("mia"),
        mentee: pid("max"),
    })
    .await
    .unwrap();
    a.add_group(Group {
        id: "circle".into(),
        program: "mentoring".into(),
        name: "Circle".into(),
        members: CIRCLE.map(pid).to_vec(),
    })
    .await
    .unwrap();
}

/// Connects `who`'s iCloud calendar, empty until a test fills it.
async fn connect(a: &Assistant, source: &Counting, who: &str) {
    source.set(&format!("{who}@example.org"), FreeBusy::new());
    a.connect_icloud(
        &me(who),
        &pid(who),
        &format!("{who}@icloud.com"),
        SecretString::new("abcd-efgh-ijkl-mnop".to_owned()),
    )
    .await
    .unwrap();
}

async fn build(world: &World, source: &Arc<Counting>, sender: &Arc<Recorder>) -> Assistant {
    world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .invitations(sender.clone())
        .build()
        .await
        .unwrap()
}

/// Tuesday 3 March 2026, 08:00 to 12:00 UTC.
fn tuesday_morning() -> availability::Interval {
    iv(MONDAY + 86_400 + 8 * H, MONDAY + 86_400 + 12 * H)
}

fn busy(account: &str, source: &Counting, start: i64, end: i64) {
    source.set(
        account,
        FreeBusy::from_entries([(BusyKind::Busy, iv(start, end))]),
    );
}

async fn circle_poll(a: &Assistant) -> scheduling_assistant::PollView {
    a.create_poll(
        &me("mia"),
        &Invitees::Group("circle".into()),
        SlotRequest::new(Duration::from_secs(H as u64), tuesday_morning())
            .limit(3)
            .min_free(1),
        PollOptions::new("Circle planning").description("Bring one question"),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn invitees_answer_and_the_creator_sees_answers_beside_live_availability() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    for p in ["mia", "c1", "c2"] {
        connect(&a, &source, p).await;
    }
    // c1 is busy 08:00-09:00: the first slots are ranked by free count.
    let t = MONDAY + 86_400;
    busy("c1@example.org", &source, t + 8 * H, t + 9 * H);
    let poll = circle_poll(&a).await;
    assert_eq!(poll.status, PollStatus::Open);
    assert_eq!(poll.slots.len(), 3);
    assert_eq!(
        poll.connected_text.as_deref(),
        Some("3 of 4 invitees have connected a calendar")
    );
    let first = &poll.slots[0];
    let availability = first.availability.as_ref().unwrap();
    assert_eq!(availability.free, ["mia", "c1", "c2"].map(pid));
    assert_eq!(availability.unknown, [pid("c3")], "no calendar: unknown");
    assert!(
        first.interval.start() >= t + 9 * H,
        "the free slot ranks first"
    );

    // Answers, changeable; out-of-range and repeated slots refused.
    a.answer_poll(&me("c1"), &poll.id, &[(0, Vote::No)])
        .await
        .unwrap();
    let view = a
        .answer_poll(&me("c1"), &poll.id, &[(0, Vote::Yes), (1, Vote::IfNeedBe)])
        .await
        .unwrap();
    assert_eq!(view.slots[0].mine, Some(Vote::Yes));
    assert_eq!(view.slots[1].mine, Some(Vote::IfNeedBe));
    assert!(
        view.slots[0].answers.is_none(),
        "an invitee sees counts only"
    );
    assert!(view.slots[0].availability.is_none());
    a.answer_poll(&me("c3"), &poll.id, &[(0, Vote::Yes), (2, Vote::No)])
        .await
        .unwrap();
    for bad in [vec![(3, Vote::Yes)], vec![(0, Vote::Yes), (0, Vote::No)]] {
        assert!(matches!(
            a.answer_poll(&me("c2"), &poll.id, &bad).await,
            Err(AssistantError::Invalid(_))
        ));
    }

    // c2 becomes busy during slot 0: after the TTL the creator's view
    // shows it, and the answers are untouched (two different facts).
    let s0 = poll.slots[0].interval;
    busy("c2@example.org", &source, s0.start(), s0.end());
    world.clock.advance(11 * 60);
    let view = a.view_poll(&me("mia"), &poll.id).await.unwrap();
    let slot = &view.slots[0];
    assert_eq!(slot.availability.as_ref().unwrap().unavailable, [pid("c2")]);
    assert_eq!(
        slot.answers.as_ref().unwrap(),
        &[(pid("c1"), Vote::Yes), (pid("c3"), Vote::Yes)]
    );
    assert_eq!(
        (slot.counts.yes, slot.counts.no, slot.counts.unanswered),
        (2, 0, 2)
    );

    // The polls waiting for each one.
    let waiting = |list: Vec<scheduling_assistant::PollSummary>| -> Vec<bool> {
        list.iter().map(|p| p.waiting).collect()
    };
    assert_eq!(waiting(a.polls(&me("c2")).await.unwrap()), [true]);
    assert_eq!(waiting(a.polls(&me("c1")).await.unwrap()), [false]);
    assert!(a.polls(&me("zoe")).await.unwrap().is_empty());

    // After closing, answers are refused; the poll survives a restart
    // with its answers.
    a.close_poll(&me("mia"), &poll.id).await.unwrap();
    assert!(matches!(
        a.answer_poll(&me("c2"), &poll.id, &[(0, Vote::Yes)]).await,
        Err(AssistantError::PollNotOpen {
            status: PollStatus::Closed,
            ..
        })
    ));
    drop(a);
    let a = build(&world, &source, &sender).await;
    let view = a.view_poll(&me("mia"), &poll.id).await.unwrap();
    assert_eq!(view.status, PollStatus::Closed);
    assert_eq!(view.slots[0].counts.yes, 2);
    assert_eq!(view.title, "Circle planning");
}

#[tokio::test]
async fn a_booking_rechecks_fresh_refuses_a_taken_slot_and_is_busy_at_once() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    for p in ["mia", "c1", "c2"] {
        connect(&a, &source, p).await;
    }
    let poll = circle_poll(&a).await;
    let slot = poll.slots[0].interval;
    assert_eq!(
        poll.slots[0].availability.as_ref().unwrap().free,
        ["mia", "c1", "c2"].map(pid)
    );
    // c2 becomes busy just now: the cache (TTL not passed) does not know,
    // the booking's fresh read does.
    busy("c2@example.org", &source, slot.start(), slot.start() + 900);
    let asked_before = source.asked("c2@example.org");
    let err = a
        .book_poll(&me("mia"), &poll.id, 0, BookOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AssistantError::SlotTaken { participants } if participants == &[pid("c2")]),
        "{err:?}"
    );
    assert!(err.to_string().contains("c2"), "{err}");
    assert!(source.asked("c2@example.org") > asked_before, "read fresh");
    assert!(sender.sent.lock().unwrap().is_empty(), "nothing sent");
    assert_eq!(
        a.view_poll(&me("mia"), &poll.id).await.unwrap().status,
        PollStatus::Open
    );

    // An invitee may not book; the creator may force it.
    assert!(matches!(
        a.book_poll(&me("c1"), &poll.id, 0, BookOptions::new())
            .await,
        Err(AssistantError::NotAllowed(_))
    ));
    let booking = a
        .book_poll(&me("mia"), &poll.id, 0, BookOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(booking.interval, slot);
    assert_eq!(booking.sequence, 0);
    assert_eq!(booking.title, "Circle planning");
    assert_eq!(booking.attendees.len(), 4);
    {
        let sent = sender.sent.lock().unwrap();
        let (meeting, change) = &sent[0];
        assert_eq!(change, &MeetingChange::Create);
        assert_eq!(meeting.uid, booking.uid);
        assert_eq!(meeting.description, "Bring one question");
        assert_eq!(meeting.organiser.email, "scheduling@example.org");
        let mut to: Vec<&str> = meeting.attendees.iter().map(|p| p.email.as_str()).collect();
        to.sort_unstable();
        assert_eq!(
            to,
            [
                "c1@example.org",
                "c2@example.org",
                "c3@example.org",
                "mia@example.org"
            ]
        );
    }
    let view = a.view_poll(&me("c1"), &poll.id).await.unwrap();
    assert_eq!(view.status, PollStatus::Booked);
    assert_eq!(view.booking.as_ref(), Some(&booking.id));
    assert!(matches!(
        a.book_poll(&me("mia"), &poll.id, 1, BookOptions::new())
            .await,
        Err(AssistantError::PollNotOpen {
            status: PollStatus::Booked,
            ..
        })
    ));

    // Busy at once for every attendee (the cache still holds the old
    // read): mia's partner sees it, and a new poll proposes around it.
    let seen = a
        .availability(&me("max"), &pid("mia"), tuesday_morning())
        .await
        .unwrap();
    assert!(
        seen.unavailable
            .iter()
            .any(|u| u.start() <= slot.start() && slot.end() <= u.end()),
        "{seen:?}"
    );
    let again = circle_poll(&a).await;
    assert!(
        again.slots.iter().all(|s| !s.interval.overlaps(&slot)
            || !s.availability.as_ref().unwrap().free.contains(&pid("mia"))),
        "the booked hour is not free for mia"
    );

    // Reschedule: same UID, SEQUENCE 1; the booking's own time is not in
    // its way. Then cancel: SEQUENCE 2, the poll cancelled.
    let later = iv(slot.start() + H, slot.end() + H);
    let moved = a
        .reschedule(
            &me("mia"),
            &booking.id,
            later,
            BookOptions::new().force(true),
        )
        .await
        .unwrap();
    assert_eq!(
        (moved.uid.as_str(), moved.sequence),
        (booking.uid.as_str(), 1)
    );
    assert_eq!(moved.interval, later);
    assert!(
        matches!(
            a.reschedule(
                &me("mia"),
                &booking.id,
                iv(MONDAY + 5 * 86_400 + 9 * H, MONDAY + 5 * 86_400 + 10 * H),
                BookOptions::new()
            )
            .await,
            Err(AssistantError::Invalid(_))
        ),
        "Saturday is outside the program's days"
    );
    assert!(matches!(
        a.cancel_booking(&me("c1"), &booking.id).await,
        Err(AssistantError::NotAllowed(_))
    ));
    let cancelled = a.cancel_booking(&me("mia"), &booking.id).await.unwrap();
    assert_eq!((cancelled.booked, cancelled.sequence), (false, 2));
    {
        let sent = sender.sent.lock().unwrap();
        assert_eq!(sent.len(), 3);
        assert!(matches!(sent[1].1, MeetingChange::Update { .. }));
        assert!(matches!(sent[2].1, MeetingChange::Cancel { .. }));
        assert!(sent.iter().all(|(m, _)| m.uid == booking.uid));
        assert_eq!(sent[2].0.sequence, 2);
    }
    assert_eq!(
        a.view_poll(&me("mia"), &poll.id).await.unwrap().status,
        PollStatus::Cancelled
    );
    let seen = a
        .availability(&me("max"), &pid("mia"), tuesday_morning())
        .await
        .unwrap();
    assert!(
        !seen.unavailable.iter().any(|u| u.overlaps(&later)),
        "a cancelled meeting is no longer busy: {seen:?}"
    );
}

#[tokio::test]
async fn a_failed_invitation_leaves_the_poll_open_and_nothing_booked() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    connect(&a, &source, "mia").await;
    let poll = circle_poll(&a).await;
    *sender.fail.lock().unwrap() = Some(SourceError::RateLimited {
        retry_after: Some(Duration::from_secs(30)),
    });
    let err = a
        .book_poll(&me("mia"), &poll.id, 0, BookOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AssistantError::Invitation { via: "email", source } if source.is_transient()),
        "{err:?}"
    );
    assert_eq!(
        a.view_poll(&me("mia"), &poll.id).await.unwrap().status,
        PollStatus::Open
    );
    assert!(a.bookings(&me("mia")).await.unwrap().is_empty());
    // The claim was released: the next attempt books at once.
    *sender.fail.lock().unwrap() = None;
    let booking = a
        .book_poll(&me("mia"), &poll.id, 0, BookOptions::new())
        .await
        .unwrap();
    assert_eq!(a.bookings(&me("c3")).await.unwrap()[0].id, booking.id);

    // Without any sender, booking says so and books nothing.
    let world = World::new();
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .build()
        .await
        .unwrap();
    seed(&a).await;
    connect(&a, &source, "mia").await;
    let poll = circle_poll(&a).await;
    assert!(matches!(
        a.book_poll(&me("mia"), &poll.id, 0, BookOptions::new())
            .await,
        Err(AssistantError::InvitationsNotConfigured)
    ));
    assert_eq!(
        a.view_poll(&me("mia"), &poll.id).await.unwrap().status,
        PollStatus::Open
    );
}

#[tokio::test]
async fn a_pair_books_a_mutual_slot_inside_the_programs_hours() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    connect(&a, &source, "mia").await;
    connect(&a, &source, "max").await;
    let slots = a
        .mutual_slots(
            &me("max"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(1800), tuesday_morning()),
        )
        .await
        .unwrap();
    let slot = slots.slots[0].interval;
    // Outside the hours (07:00), and by a stranger: refused.
    let t = MONDAY + 86_400;
    assert!(matches!(
        a.book_pair(
            &me("max"),
            &"mia-max".into(),
            iv(t + 7 * H, t + 8 * H),
            BookOptions::new()
        )
        .await,
        Err(AssistantError::Invalid(_))
    ));
    assert!(matches!(
        a.book_pair(&me("zoe"), &"mia-max".into(), slot, BookOptions::new())
            .await,
        Err(AssistantError::NotAllowed(_))
    ));
    busy("mia@example.org", &source, slot.start(), slot.end());
    assert!(matches!(
        a.book_pair(&me("max"), &"mia-max".into(), slot, BookOptions::new()).await,
        Err(AssistantError::SlotTaken { participants }) if participants == [pid("mia")]
    ));
    source.set("mia@example.org", FreeBusy::new());
    let booking = a
        .book_pair(
            &me("max"),
            &"mia-max".into(),
            slot,
            BookOptions::new().title("Our 1:1"),
        )
        .await
        .unwrap();
    assert_eq!(booking.title, "Our 1:1");
    // Either partner may move or cancel their 1:1.
    a.cancel_booking(&me("mia"), &booking.id).await.unwrap();
}

/// The claim_until of each hold in `assistant_booking_locks`, by participant.
fn holds(path: &std::path::Path) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut q = c
        .prepare("SELECT participant_id, claim_until FROM assistant_booking_locks ORDER BY 1")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A sender that reads the holds while the meeting is being sent.
#[derive(Debug)]
struct SeesHolds(std::path::PathBuf, std::sync::Mutex<Vec<(String, i64)>>);

#[async_trait::async_trait]
impl availability::MeetingSender for SeesHolds {
    fn via(&self) -> &'static str {
        "email"
    }

    fn organiser(&self) -> Option<availability::Person> {
        Some(availability::Person::new("scheduling@example.org"))
    }

    async fn send(
        &self,
        _meeting: &availability::Meeting,
        _change: &MeetingChange,
    ) -> Result<availability::Delivered, SourceError> {
        *self.1.lock().unwrap() = holds(&self.0);
        Ok(availability::Delivered {
            via: "email",
            event: None,
        })
    }
}

/// An attendee held by another booking attempt (another instance's, in the
/// store) refuses a booking until the hold expires; the assistant's own
/// holds expire 2 minutes after they are taken.
#[tokio::test]
async fn an_attendee_held_elsewhere_is_refused_until_the_two_minute_hold_expires() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(SeesHolds(world.path.clone(), Default::default()));
    let a = world
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .invitations(sender.clone())
        .build()
        .await
        .unwrap();
    seed(&a).await;
    connect(&a, &source, "mia").await;
    connect(&a, &source, "max").await;
    let slot = a
        .mutual_slots(
            &me("max"),
            &"mia-max".into(),
            SlotRequest::new(Duration::from_secs(1800), tuesday_morning()),
        )
        .await
        .unwrap()
        .slots[0]
        .interval;
    let held_at = world.clock.now().as_second();
    rusqlite::Connection::open(&world.path)
        .unwrap()
        .execute(
            "INSERT INTO assistant_booking_locks (participant_id, claim_until, claim_token) \
             VALUES ('mia', ?1, 'hold-elsewhere')",
            [held_at + 120],
        )
        .unwrap();
    world.clock.advance(119);
    let refused = a
        .book_pair(&me("max"), &"mia-max".into(), slot, BookOptions::new())
        .await;
    assert!(
        matches!(refused, Err(AssistantError::Conflict(_))),
        "{refused:?}"
    );
    // The refused attempt let go of its own holds only.
    assert_eq!(holds(&world.path), [("mia".to_owned(), held_at + 120)]);
    world.clock.advance(2);
    a.book_pair(&me("max"), &"mia-max".into(), slot, BookOptions::new())
        .await
        .unwrap();
    // While it sent, this attempt held both for 2 minutes; then let go.
    let now = held_at + 121;
    assert_eq!(
        *sender.1.lock().unwrap(),
        [("max".to_owned(), now + 120), ("mia".to_owned(), now + 120)]
    );
    assert!(holds(&world.path).is_empty());
}

/// Every actor against one poll: who sees it, answers it, books it.
#[tokio::test]
async fn the_access_rule_over_every_actor() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    connect(&a, &source, "mia").await;
    let poll = circle_poll(&a).await;
    struct Case {
        who: &'static str,
        actor: Actor,
        sees: bool,
        manages: bool,
        answers: bool,
    }
    let cases = [
        Case {
            who: "creator",
            actor: me("mia"),
            sees: true,
            manages: true,
            answers: true,
        },
        Case {
            who: "invitee",
            actor: me("c1"),
            sees: true,
            manages: false,
            answers: true,
        },
        Case {
            who: "partner of the creator",
            actor: me("max"),
            sees: false,
            manages: false,
            answers: false,
        },
        Case {
            who: "member of the program",
            actor: me("zoe"),
            sees: false,
            manages: false,
            answers: false,
        },
        Case {
            who: "member of another program",
            actor: me("olga"),
            sees: false,
            manages: false,
            answers: false,
        },
        Case {
            who: "program administrator",
            actor: Actor::program_admin("pa", ["mentoring"]),
            sees: true,
            manages: true,
            answers: false,
        },
        Case {
            who: "another program's administrator",
            actor: Actor::program_admin("oa", ["other"]),
            sees: false,
            manages: false,
            answers: false,
        },
        Case {
            who: "global administrator",
            actor: Actor::global_admin("root"),
            sees: true,
            manages: true,
            answers: false,
        },
        Case {
            who: "administrator for an invitee",
            actor: Actor::admin_on_behalf_of("root", "c2"),
            sees: true,
            manages: true,
            answers: false,
        },
    ];
    for c in &cases {
        let view = a.view_poll(&c.actor, &poll.id).await;
        assert_eq!(view.is_ok(), c.sees, "{}: {view:?}", c.who);
        if let Ok(view) = &view {
            assert_eq!(view.manages, c.manages, "{}", c.who);
            assert_eq!(view.slots[0].availability.is_some(), c.manages, "{}", c.who);
        } else {
            assert!(
                matches!(view, Err(AssistantError::UnknownPoll(_))),
                "{}: strangers learn nothing",
                c.who
            );
        }
        let answered = a.answer_poll(&c.actor, &poll.id, &[(0, Vote::Yes)]).await;
        assert_eq!(answered.is_ok(), c.answers, "{}: {answered:?}", c.who);
        // Closing, on a poll of its own (closing is for good).
        let other = circle_poll(&a).await;
        let closed = a.close_poll(&c.actor, &other.id).await;
        assert_eq!(closed.is_ok(), c.manages, "{}: {closed:?}", c.who);
    }
    a.close_poll(&me("mia"), &poll.id).await.unwrap();
    // The poll is closed now; only managers cancel it.
    assert!(a.cancel_poll(&me("c1"), &poll.id).await.is_err());
    assert!(
        a.cancel_poll(&Actor::program_admin("oa", ["other"]), &poll.id)
            .await
            .is_err()
    );
    let cancelled = a
        .cancel_poll(&Actor::program_admin("pa", ["mentoring"]), &poll.id)
        .await
        .unwrap();
    assert_eq!(cancelled.status, PollStatus::Cancelled);
    assert!(matches!(
        a.book_poll(&me("mia"), &poll.id, 0, BookOptions::new())
            .await,
        Err(AssistantError::PollNotOpen {
            status: PollStatus::Cancelled,
            ..
        })
    ));
    // Creating: under the poll() rules (a stranger cannot poll the circle).
    assert!(matches!(
        a.create_poll(
            &me("zoe"),
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_secs(3600), tuesday_morning()),
            PollOptions::new("x"),
        )
        .await,
        Err(AssistantError::NotAllowed(_))
    ));
    assert!(matches!(
        a.view_poll(&me("mia"), &PollId::new("poll-nope")).await,
        Err(AssistantError::UnknownPoll(_))
    ));
}

#[tokio::test]
async fn deleting_an_invitee_erases_their_answers_and_places() {
    let world = World::new();
    let source = Counting::new(Duration::ZERO);
    let sender = Arc::new(Recorder::default());
    let a = build(&world, &source, &sender).await;
    seed(&a).await;
    connect(&a, &source, "mia").await;
    let poll = circle_poll(&a).await;
    a.answer_poll(&me("c1"), &poll.id, &[(0, Vote::Yes)])
        .await
        .unwrap();
    let booking = a
        .book_pair(
            &me("max"),
            &"mia-max".into(),
            iv(MONDAY + 2 * 86_400 + 9 * H, MONDAY + 2 * 86_400 + 10 * H),
            BookOptions::new(),
        )
        .await
        .unwrap();
    assert!(a.delete_participant(&pid("c1")).await.unwrap());
    let view = a.view_poll(&me("mia"), &poll.id).await.unwrap();
    assert!(!view.invitees.contains(&pid("c1")));
    assert_eq!(view.slots[0].counts.yes, 0);
    // max made the booking: it goes with them.
    assert!(a.delete_participant(&pid("max")).await.unwrap());
    assert!(matches!(
        a.booking(&me("mia"), &booking.id).await,
        Err(AssistantError::UnknownBooking(_))
    ));
    // mia created the poll: it goes with her.
    assert!(a.delete_participant(&pid("mia")).await.unwrap());
    assert!(matches!(
        a.view_poll(&Actor::global_admin("root"), &poll.id).await,
        Err(AssistantError::UnknownPoll(_))
    ));
    let bytes = std::fs::read(&world.path).unwrap();
    assert!(
        !bytes.windows(15).any(|w| w == b"Circle planning"),
        "the deleted creator's poll text is not in the file"
    );
}
