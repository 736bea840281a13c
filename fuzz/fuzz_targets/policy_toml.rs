//! Policy TOML from anywhere: parsing never panics, and a policy that parses
//! yields bookable windows inside the asked window (and after the notice),
//! with slot starts inside them.
#![no_main]

use availability::{Interval, IntervalSet};
use libfuzzer_sys::fuzz_target;
use policy_rules::ProgramPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = ProgramPolicy::from_toml(text) else {
        return;
    };
    // What a policy prints reads back to the same policy.
    let again = ProgramPolicy::from_toml(&policy.to_toml()).expect("to_toml reads back");
    assert_eq!(again, policy);
    // Two weeks around the 2026 northern DST change, asked a week before.
    let window = Interval::new(1_774_137_600, 1_775_347_200).expect("valid window");
    let now = jiff::Timestamp::from_second(1_773_532_800).expect("valid now");
    let bookable = policy.bookable(window, now);
    let earliest = now.as_second() + policy.min_notice().as_secs() as i64;
    for iv in &bookable {
        assert!(window.contains_interval(iv));
        assert!(iv.start() >= earliest);
    }
    let starts = policy.slot_starts(&bookable);
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    assert!(starts.iter().all(|&s| bookable.contains(s)));
    assert_eq!(
        IntervalSet::from_unsorted(bookable.iter().copied()),
        bookable
    );
});
