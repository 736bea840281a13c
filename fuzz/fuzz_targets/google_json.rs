//! Google's freeBusy JSON from the network: parsing never panics, and
//! parsing the same bytes twice gives the same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = google_provider::fuzzing::free_busy_answer(data);
    assert_eq!(first, google_provider::fuzzing::free_busy_answer(data));
});
