use std::process::Command;

use availability::Interval;
use policy_rules::ProgramPolicy;

/// What a run computes: the bookable windows of a DST-sensitive policy.
fn compute() -> String {
    let policy = ProgramPolicy::from_toml(
        "time_zone = \"America/New_York\"\ndays = [\"sun\", \"mon\"]\nday_start = \"01:00\"\nday_end = \"15:00\"",
    )
    .unwrap();
    let window = Interval::new(1_772_150_400, 1_773_360_000).unwrap(); // 27 Feb - 13 Mar 2026
    let now = jiff::Timestamp::from_second(1_772_150_400).unwrap();
    policy
        .bookable(window, now)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The child half of `host_time_zone_never_matters`: computes the windows
/// (two Sundays and two Mondays) and prints them when the parent asks.
#[test]
fn child_prints_bookable() {
    let result = compute();
    assert_eq!(result.split(',').count(), 4, "{result}");
    if std::env::var_os("POLICY_RULES_CHILD").is_some() {
        println!("RESULT={result}");
    }
}

#[test]
fn host_time_zone_never_matters() {
    let here = compute();
    assert!(
        here.contains("2026-03-08T06:00:00Z/2026-03-08T19:00:00Z"),
        "{here}"
    );
    let exe = std::env::current_exe().unwrap();
    for tz in [
        "Pacific/Kiritimati",
        "Asia/Kathmandu",
        "America/St_Johns",
        "Nowhere/Bogus",
        "UTC+13",
    ] {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "host_tz::child_prints_bookable",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TZ", tz)
            .env("POLICY_RULES_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("RESULT=").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("no result with TZ={tz}: {stdout}"));
        assert_eq!(line, here, "TZ={tz}");
    }
}
