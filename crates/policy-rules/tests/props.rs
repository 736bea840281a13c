use std::time::Duration;

use availability::{Interval, find_slots};
use policy_rules::{ProgramPolicy, parse_day};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "Antarctica/Troll",
    "Pacific/Kiritimati",
];

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn policy_text() -> impl Strategy<Value = (String, Vec<&'static str>, u16, u16, u64)> {
    (
        prop::sample::select(ZONES),
        prop::sample::subsequence(DAYS.to_vec(), 1..=7),
        0u16..1440,
        1u16..=1440,
        prop::sample::select(vec![5u64, 15, 30, 45, 60, 90]),
    )
        .prop_filter("end after start", |(_, _, s, e, _)| e > s)
        .prop_map(|(zone, days, start, end, step)| (zone.to_owned(), days, start, end, step))
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn bookable_instants_are_on_allowed_days_in_hours(
        (zone, days, start, end, step) in policy_text(),
        from in 1_767_225_600i64..1_798_761_600, // 2026
        len in 3600i64..(20 * 86_400),
        probes in prop::collection::vec(0.0f64..1.0, 24),
    ) {
        let days_toml: Vec<String> = days.iter().map(|d| format!("\"{d}\"")).collect();
        let text = format!(
            "time_zone = \"{zone}\"\ndays = [{}]\nday_start = \"{}\"\nday_end = \"{}\"\nslot_step = \"{step}m\"\nhorizon = \"400d\"",
            days_toml.join(", "), hhmm(start), hhmm(end)
        );
        let policy = ProgramPolicy::from_toml(&text).unwrap();
        let tz = policy.time_zone().tz().clone();
        let window = Interval::new(from, from + len).unwrap();
        let now = jiff::Timestamp::from_second(1_767_225_600 - 86_400).unwrap();
        let bookable = policy.bookable(window, now);
        prop_assert!(bookable.iter().all(|iv| window.contains_interval(iv)));
        let local = |t: i64| tz.to_datetime(jiff::Timestamp::from_second(t).unwrap());
        let inside = |t: i64| {
            let dt = local(t);
            let minute = i64::from(dt.hour()) * 60 + i64::from(dt.minute());
            let day_ok = days.iter().any(|d| parse_day(d).unwrap() == dt.weekday());
            day_ok && minute >= i64::from(start) && minute < i64::from(end)
        };
        // Every bookable instant probed is in hours on an allowed day...
        for iv in &bookable {
            for t in [iv.start(), iv.end() - 1, iv.start() + iv.len_secs() / 2] {
                prop_assert!(inside(t), "{} at {} ({})", text, t, local(t));
            }
        }
        // ...and every probed instant of the window that is in hours is bookable.
        for p in probes {
            let t = from + (p * len as f64) as i64;
            prop_assert_eq!(bookable.contains(t), inside(t), "{} at {} ({})", text, t, local(t));
        }
        // Slot starts are on the local grid, inside bookable windows.
        let starts = policy.slot_starts(&bookable);
        for &s in &starts {
            let dt = local(s);
            let secs = i64::from(dt.hour()) * 3600 + i64::from(dt.minute()) * 60 + i64::from(dt.second());
            prop_assert_eq!(secs % (step as i64 * 60), 0);
            prop_assert!(bookable.contains(s));
        }
        // And find_slots on that grid keeps slots inside one window.
        let slots = find_slots(
            &bookable,
            [None],
            policy.slot_query(Duration::from_secs(step * 60), &bookable).limit(50),
        )
        .unwrap();
        for slot in slots {
            prop_assert!(bookable.covers(&slot.interval));
        }
    }
}
