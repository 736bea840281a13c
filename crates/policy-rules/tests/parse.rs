use availability::{BusyKind, KindSet};
use policy_rules::{PolicyError, PolicyLayer, ProgramPolicy, Provider, TimeOfDay, Weekday};

#[test]
fn defaults_match_design() {
    let p = ProgramPolicy::from_toml("").unwrap();
    assert_eq!(p, ProgramPolicy::default());
    assert_eq!(p.time_zone().name(), "UTC");
    assert_eq!(p.days().iter().count(), 5);
    assert!(!p.days().contains(Weekday::Saturday));
    assert_eq!(p.day_start().to_string(), "08:00");
    assert_eq!(p.day_end().to_string(), "18:00");
    assert_eq!(p.min_notice().as_secs(), 0);
    assert_eq!(p.horizon().as_secs(), 90 * 86_400);
    assert_eq!(p.slot_step().as_secs(), 1800);
    assert_eq!(p.blocking(), KindSet::DEFAULT_BLOCKING);
    assert!(Provider::ALL.iter().all(|&pr| p.providers().contains(pr)));
    assert!(!p.scheduling_assistant_enabled());
    assert!(!p.group_polls_enabled());
}

#[test]
fn design_example_parses_and_round_trips() {
    let text = r#"
time_zone = "UTC"
days = ["mon", "tue", "wed", "thu", "fri"]
day_start = "08:00"
day_end = "18:00"
min_notice = "0m"
horizon = "90d"
slot_step = "30m"
blocking = ["busy", "tentative", "out_of_office"]
providers = ["google", "microsoft", "icloud"]
"#;
    let p = ProgramPolicy::from_toml(text).unwrap();
    assert_eq!(p, ProgramPolicy::default());
    let custom = ProgramPolicy::from_toml(
        "time_zone = \"Pacific/Chatham\"\ndays = [\"Sat\", \"sunday\"]\nday_end = \"24:00\"\nmin_notice = \"1h30m\"\nblocking = [\"busy\", \"unknown\"]\nproviders = [\"icloud\"]\ngroup_polls = true",
    )
    .unwrap();
    let again = ProgramPolicy::from_toml(&custom.to_toml()).unwrap();
    assert_eq!(again, custom);
    assert_eq!(custom.day_end(), TimeOfDay::END_OF_DAY);
    assert_eq!(
        custom.blocking(),
        KindSet::EMPTY.with(BusyKind::Busy).with(BusyKind::Unknown)
    );
    assert!(custom.providers().contains(Provider::Icloud));
    assert!(!custom.providers().contains(Provider::Google));
    assert!(custom.group_polls_enabled());
}

#[test]
fn program_overrides_organisation_field_by_field() {
    let org = PolicyLayer::from_toml(
        "time_zone = \"Europe/Paris\"\nday_start = \"09:00\"\nslot_step = \"15m\"\nscheduling_assistant = true",
    )
    .unwrap();
    let program = PolicyLayer::from_toml("day_start = \"10:00\"\ngroup_polls = true").unwrap();
    let p = ProgramPolicy::resolve(&org, &program).unwrap();
    assert_eq!(p.time_zone().name(), "Europe/Paris");
    assert_eq!(p.day_start().to_string(), "10:00");
    assert_eq!(p.slot_step().as_secs(), 900);
    assert_eq!(p.day_end().to_string(), "18:00"); // the default
    assert!(p.scheduling_assistant_enabled() && p.group_polls_enabled());
    // Built in code, without TOML.
    let program = PolicyLayer::new().with_day_end("08:30".parse().unwrap());
    let err = ProgramPolicy::resolve(&org, &program).unwrap_err();
    assert!(
        matches!(
            err,
            PolicyError::Invalid {
                key: "day_end",
                line: None,
                ..
            }
        ),
        "{err}"
    );
}

/// Each bad file, the line and key its error must name.
#[test]
fn errors_name_the_key_and_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("day_start = \"09:00\"\nday_ned = \"17:00\"", 2, "day_ned"),
        ("\n\ntime_zone = \"Mars/Base\"", 3, "Mars/Base"),
        ("days = [\"mon\", \"funday\"]", 1, "funday"),
        ("blocking = [\"busy\", \"oof\"]", 1, "oof"),
        ("providers = [\"yahoo\"]", 1, "yahoo"),
        ("day_start = \"8h\"", 1, "day_start"),
        ("min_notice = \"ten minutes\"", 1, "min_notice"),
        ("horizon = 90", 1, "horizon"),
        ("slot_step = \"30m\"\nday_end = \"25:00\"", 2, "25:00"),
        (
            "day_start = \"09:00\"\nday_start = \"10:00\"",
            2,
            "day_start",
        ),
        ("this is not toml", 1, ""),
    ];
    for &(text, line, needle) in cases {
        let err = ProgramPolicy::from_toml(text).unwrap_err();
        match &err {
            PolicyError::Toml { line: l, .. } => assert_eq!(*l, line, "{text:?}: {err}"),
            other => panic!("{text:?}: expected a TOML error, got {other}"),
        }
        let shown = err.to_string();
        assert!(shown.contains(needle), "{text:?}: {shown}");
        assert!(shown.contains(&format!("line {line}")), "{shown}");
    }
}

#[test]
fn invalid_combinations_are_typed_errors() {
    let cases: &[(&str, &str, usize)] = &[
        ("day_start = \"18:00\"\nday_end = \"09:00\"", "day_end", 2),
        ("day_start = \"10:00\"\n\nday_end = \"10:00\"", "day_end", 3),
        ("day_start = \"24:00\"", "day_start", 1),
        ("day_start = \"19:00\"", "day_start", 1),
        ("slot_step = \"0m\"", "slot_step", 1),
        ("slot_step = \"2d\"", "slot_step", 1),
        ("days = []", "days", 1),
    ];
    for &(text, key, line) in cases {
        let err = ProgramPolicy::from_toml(text).unwrap_err();
        assert_eq!(
            err,
            match &err {
                PolicyError::Invalid { message, .. } => PolicyError::Invalid {
                    key,
                    line: Some(line),
                    message: message.clone()
                },
                other => panic!("{text:?}: {other}"),
            },
            "{text:?}"
        );
        assert!(err.to_string().contains(key));
    }
}

#[test]
fn hours_in_and_buffers_are_read_defaulted_and_bounded() {
    use policy_rules::HoursIn;
    let default = ProgramPolicy::from_toml("").unwrap();
    assert_eq!(default.hours_in(), HoursIn::Participant);
    assert_eq!(default.buffer_before().as_secs(), 0);
    assert_eq!(default.buffer_after().as_secs(), 0);
    let set = ProgramPolicy::from_toml(
        "hours_in = \"program\"\nbuffer_before = \"15m\"\nbuffer_after = \"10m\"",
    )
    .unwrap();
    assert_eq!(set.hours_in(), HoursIn::Program);
    assert_eq!(
        (set.buffer_before().as_secs(), set.buffer_after().as_secs()),
        (900, 600)
    );
    // Written back, it reads the same.
    assert_eq!(ProgramPolicy::from_toml(&set.to_toml()).unwrap(), set);
    let bad = ProgramPolicy::from_toml("hours_in = \"mine\"")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("hours_in"), "{bad}");
    let long = ProgramPolicy::from_toml("buffer_after = \"2d\"")
        .unwrap_err()
        .to_string();
    assert!(long.contains("buffer_after"), "{long}");
    // At most a day each: "1d" is read, one second more is refused.
    for (buffer, read) in [
        ("buffer_before", (86_400, 0)),
        ("buffer_after", (0, 86_400)),
    ] {
        let day = ProgramPolicy::from_toml(&format!("{buffer} = \"1d\"")).unwrap();
        assert_eq!(
            (day.buffer_before().as_secs(), day.buffer_after().as_secs()),
            read,
            "{buffer}"
        );
        let over = ProgramPolicy::from_toml(&format!("{buffer} = \"1d1s\""))
            .unwrap_err()
            .to_string();
        assert!(over.contains(buffer), "{over}");
    }
}
