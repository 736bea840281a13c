//! Microsoft Graph's getSchedule JSON from the network, read into busy time
//! as `GraphSource` reads one request's answer (times in any zone name,
//! schedule ids matched case-insensitively): no panic, every asked mailbox
//! is answered exactly once and in order, every busy interval lies inside
//! the asked window, and a mailbox asked twice (in two spellings) gets the
//! same answer twice (the same busy time, or an error of the same kind).
#![no_main]

use availability::{AccountId, BusyKind, Interval};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 2025-03-03 to 2025-03-10 UTC, the window the seeds are written for.
    let window = Interval::new(1_740_960_000, 1_741_564_800).expect("valid window");
    let asked: Vec<AccountId> = [
        "adele@contoso.com",
        "nobody@contoso.com",
        "Adele@Contoso.com",
        "cy@contoso.com",
    ]
    .into_iter()
    .map(AccountId::new)
    .collect();
    let Some(answers) = graph_provider::fuzzing::schedule_busy(data, &asked, window) else {
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
    assert!(same, "the same mailbox answered differently: {answers:?}");
});
