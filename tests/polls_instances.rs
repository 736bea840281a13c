//! Polls and bookings on two assistant instances sharing one PostgreSQL
//! database (each with its own pools, as separate processes): answers given
//! on both are one poll's; a booking made on one is busy on the other at
//! once (its cache still holding the older read); two bookings of one poll
//! at the same moment, one per instance: exactly one wins and only it sends
//! an invitation.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use availability::{FixedClock, FreeBusy};
use common::{Counting, H, MONDAY, Recorder, Validator, iv};
use credential_vault::{KeyId, KeyRing, MasterKey, PostgresStore, SecretString, Vault};
use scheduling_assistant::{
    Actor, Assistant, AssistantError, BookOptions, Group, Invitees, Pair, Participant,
    ParticipantId, PollOptions, PollStatus, Program, ProgramId, Provider, SlotRequest, Store, Vote,
};

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s)
}

fn me(s: &str) -> Actor {
    Actor::participant(s)
}

async fn instance(
    url: &str,
    clock: &Arc<FixedClock>,
    source: &Arc<Counting>,
    sender: &Arc<Recorder>,
) -> Assistant {
    Assistant::builder()
        .store(Store::connect_postgres_without_tls(url).await.unwrap())
        .vault(Arc::new(Vault::new(
            Arc::new(PostgresStore::connect_without_tls(url).await.unwrap()),
            KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
        )))
        .clock(clock.clone())
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(Validator(None)))
        .invitations(sender.clone())
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_on_both_one_booking_wins_and_is_busy_everywhere_at_once() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let clock = Arc::new(FixedClock::new(
        jiff::Timestamp::from_second(MONDAY + 7 * H).unwrap(),
    ));
    let source = Counting::new(Duration::ZERO);
    let (sent_a, sent_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = instance(&url, &clock, &source, &sent_a).await;
    let b = instance(&url, &clock, &source, &sent_b).await;
    a.add_program(
        Program::new("mentoring", "Mentoring")
            .with_policy_toml("scheduling_assistant = true\ngroup_polls = true"),
    )
    .await
    .unwrap();
    for p in ["mia", "max", "c1", "c2"] {
        a.add_participant(
            Participant::new(p, p.to_uppercase(), format!("{p}@example.org"), "UTC"),
            &[ProgramId::new("mentoring")],
        )
        .await
        .unwrap();
        source.set(&format!("{p}@example.org"), FreeBusy::new());
        a.connect_icloud(
            &me(p),
            &pid(p),
            &format!("{p}@icloud.com"),
            SecretString::new("abcd-efgh-ijkl-mnop".into()),
        )
        .await
        .unwrap();
    }
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
        members: ["mia", "c1", "c2"].map(pid).to_vec(),
    })
    .await
    .unwrap();
    let tuesday = iv(MONDAY + 86_400 + 8 * H, MONDAY + 86_400 + 12 * H);
    // b warms its cache of mia before anything is booked.
    let before = b
        .availability(&me("max"), &pid("mia"), tuesday)
        .await
        .unwrap();
    assert!(before.known && before.unavailable.is_empty(), "{before:?}");

    let poll = a
        .create_poll(
            &me("mia"),
            &Invitees::Group("circle".into()),
            SlotRequest::new(Duration::from_secs(3600), tuesday).limit(3),
            PollOptions::new("Circle"),
        )
        .await
        .unwrap();
    // Answers on both instances, one poll.
    a.answer_poll(&me("c1"), &poll.id, &[(0, Vote::Yes)])
        .await
        .unwrap();
    b.answer_poll(&me("c2"), &poll.id, &[(0, Vote::IfNeedBe), (1, Vote::Yes)])
        .await
        .unwrap();
    for view in [
        a.view_poll(&me("mia"), &poll.id).await.unwrap(),
        b.view_poll(&me("mia"), &poll.id).await.unwrap(),
    ] {
        assert_eq!(
            view.slots[0].answers.as_ref().unwrap(),
            &[(pid("c1"), Vote::Yes), (pid("c2"), Vote::IfNeedBe)]
        );
    }
    assert!(b.polls(&me("c1")).await.unwrap().iter().all(|p| !p.waiting));

    // Two bookings of the same poll at once, one per instance.
    let book = |x: &Assistant, slot: usize| {
        let (x, id) = (x.clone(), poll.id.clone());
        tokio::spawn(async move { x.book_poll(&me("mia"), &id, slot, BookOptions::new()).await })
    };
    let (on_a, on_b) = (book(&a, 0), book(&b, 1));
    let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
    let (won, lost) = match (on_a, on_b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one booking must win: {other:?}"),
    };
    assert!(
        matches!(
            lost,
            AssistantError::Conflict(_)
                | AssistantError::PollNotOpen {
                    status: PollStatus::Booked,
                    ..
                }
        ),
        "{lost:?}"
    );
    let sent = sent_a.sent.lock().unwrap().len() + sent_b.sent.lock().unwrap().len();
    assert_eq!(sent, 1, "only the winner sent an invitation");
    for view in [
        a.view_poll(&me("c1"), &poll.id).await.unwrap(),
        b.view_poll(&me("c1"), &poll.id).await.unwrap(),
    ] {
        assert_eq!(view.status, PollStatus::Booked);
        assert_eq!(view.booking.as_ref(), Some(&won.id));
    }

    // Busy at once on b, whose cache still holds the read from before.
    let asked = source.asked("mia@example.org");
    let after = b
        .availability(&me("max"), &pid("mia"), tuesday)
        .await
        .unwrap();
    assert_eq!(source.asked("mia@example.org"), asked, "from b's cache");
    assert!(
        after
            .unavailable
            .iter()
            .any(|u| u.start() <= won.interval.start() && won.interval.end() <= u.end()),
        "{after:?}"
    );
    // Cancelled on b: free again on a.
    b.cancel_booking(&me("mia"), &won.id).await.unwrap();
    let again = a
        .availability(&me("max"), &pid("mia"), tuesday)
        .await
        .unwrap();
    assert!(again.unavailable.is_empty(), "{again:?}");
    assert_eq!(
        a.view_poll(&me("mia"), &poll.id).await.unwrap().status,
        PollStatus::Cancelled
    );

    // Two 1:1 bookings of one hour for the same pair at the same moment,
    // one per instance: each holds the pair while it checks and books, so
    // exactly one wins (the other finds them held, or already busy).
    let before = sent_a.sent.lock().unwrap().len() + sent_b.sent.lock().unwrap().len();
    for round in 0..16 {
        // Wednesday and Thursday, 09:00 to 17:00, an hour each.
        let start = MONDAY + (2 + round / 8) * 86_400 + (9 + round % 8) * H;
        let hour = iv(start, start + H);
        let pair = |x: &Assistant, who: &'static str| {
            let x = x.clone();
            tokio::spawn(async move {
                x.book_pair(&me(who), &"mia-max".into(), hour, BookOptions::new())
                    .await
            })
        };
        let (on_a, on_b) = (pair(&a, "mia"), pair(&b, "max"));
        let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
        match (&on_a, &on_b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => assert!(
                matches!(
                    e,
                    AssistantError::Conflict(_) | AssistantError::SlotTaken { .. }
                ),
                "round {round}: {e:?}"
            ),
            other => panic!("round {round}: exactly one 1:1 booking must win: {other:?}"),
        }
    }
    let after = sent_a.sent.lock().unwrap().len() + sent_b.sent.lock().unwrap().len();
    assert_eq!(after - before, 16, "one invitation per round");
    let booked = a.bookings(&me("max")).await.unwrap();
    assert_eq!(
        booked
            .iter()
            .filter(|b| b.booked && b.pair.is_some())
            .count(),
        16
    );
}
