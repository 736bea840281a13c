//! WebDAV multistatus XML from a server: parsing never panics, hangs or
//! expands entities, and what parses can be parsed again identically.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first = caldav_provider::fuzzing::multistatus_hrefs(text);
    assert_eq!(first, caldav_provider::fuzzing::multistatus_hrefs(text));
    if let Some(hrefs) = first {
        // No entity expansion: every href is at most as long as the input.
        assert!(hrefs.iter().all(|h| h.len() <= text.len()));
    }
});
