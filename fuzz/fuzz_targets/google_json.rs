//! Google's freeBusy JSON from the network, read into busy time as
//! `GoogleSource` reads one request's answer: no panic, every asked
//! calendar is answered exactly once and in order, every busy interval lies
//! inside the asked window, and an account asked twice gets the same answer
//! twice (the same busy time, or an error of the same kind).
#![no_main]

use availability::{AccountId, BusyKind, Interval};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 2025-03-03 to 2025-03-10 UTC, the window the seeds are written for.
    let window = Interval::new(1_740_960_000, 1_741_564_800).expect("valid window");
    // One calendar asked twice, and two others.
    let asked: Vec<AccountId> = [
        "ana@example.org",
        "nobody@example.org",
        "ana@example.org",
        "cy@example.org",
    ]
    .into_iter()
    .map(AccountId::new)
    .collect();
    let Some(answers) = google_provider::fuzzing::free_busy_busy(data, &asked, window) else {
        return;
    };
    let answered: Vec<&AccountId> = answers.iter().map(|(id, _)| id).collect();
    assert_eq!(
        answered,
        asked.iter().collect::<Vec<_>>(),
        "asked ids answered once, in order"
    );
    for (id, answer) in &answers {
        let Ok(busy) = answer else { continue };
        for kind in BusyKind::ALL {
            for iv in busy.get(kind) {
                assert!(
                    window.contains_interval(iv),
                    "{id}: {iv:?} outside {window:?}"
                );
            }
        }
    }
    let same = match (&answers[0].1, &answers[2].1) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.kind() == b.kind(),
        _ => false,
    };
    assert!(same, "the same calendar answered differently: {answers:?}");
});
