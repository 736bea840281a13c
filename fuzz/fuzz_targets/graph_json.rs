//! Microsoft Graph's getSchedule JSON from the network: parsing never
//! panics, and parsing the same bytes twice gives the same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = graph_provider::fuzzing::schedule_answer(data);
    assert_eq!(first, graph_provider::fuzzing::schedule_answer(data));
});
