//! EWS GetUserAvailability SOAP from the network, read into busy time as
//! `EwsSource` reads one request's answer (exact namespaces, either prefix
//! style, no DTD): no panic, every asked mailbox is answered exactly once
//! and in order, and every busy interval lies inside the asked window.
#![no_main]

use availability::{AccountId, BusyKind, Interval};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 2025-03-03 to 2025-03-10 UTC, the window the seeds are written for.
    let window = Interval::new(1_740_960_000, 1_741_564_800).expect("valid window");
    let asked: Vec<AccountId> = [
        "adele@contoso.com",
        "nobody@contoso.com",
        "hidden@contoso.com",
        "nodata@contoso.com",
        "merged@contoso.com",
    ]
    .into_iter()
    .map(AccountId::new)
    .collect();
    let Some(answers) = ews_provider::fuzzing::availability_busy(data, &asked, window) else {
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
});
