//! A participant's zone reaches their calendar source: a floating-time
//! event in a real CalDAV calendar (Radicale, started by the README test
//! command) that declares no zone is read in its owner's zone when the
//! assistant keeps a `ParticipantZones` book for the CalDAV logins, and in
//! UTC without one (the server's and the calendar's silence leaves no
//! other reading).
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use std::sync::Arc;

use availability::FixedClock;
use caldav_provider::CalDavSource;
use common::{World, at, iv};
use scheduling_assistant::{
    Actor, Assistant, DiscoveryValidator, Participant, ParticipantId, ParticipantZones, Program,
    ProgramId, Provider, SecretString, VaultCalDavLogins,
};

fn radicale() -> String {
    std::env::var("CALDAV_TEST_RADICALE_URL").unwrap_or_else(|_| {
        panic!(
            "CALDAV_TEST_RADICALE_URL is not set: run the README test command (scripts/test), \
             which starts Radicale, or start it with scripts/caldav-env"
        )
    })
}

/// bob's calendar with one floating event, Monday 14 June 2027 12:00-13:00.
async fn seed(base: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = format!("{base}/bob/zone-{}/", std::process::id());
    let _ = http
        .delete(&url)
        .basic_auth("bob", Some("bobpw"))
        .send()
        .await;
    let mk = http
        .request(reqwest::Method::from_bytes(b"MKCALENDAR").unwrap(), &url)
        .basic_auth("bob", Some("bobpw"))
        .send()
        .await
        .unwrap();
    assert_eq!(mk.status().as_u16(), 201, "MKCALENDAR {url}");
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zone test//EN\r\nBEGIN:VEVENT\r\n\
                 UID:floating@zone-test\r\nDTSTAMP:20270101T000000Z\r\n\
                 DTSTART:20270614T120000\r\nDTEND:20270614T130000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put = http
        .put(format!("{url}floating.ics"))
        .basic_auth("bob", Some("bobpw"))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(event)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
}

async fn assistant(w: &World, zones: Option<ParticipantZones>) -> Assistant {
    let vault = w.vault();
    let base = format!("{}/", radicale());
    let mut logins = VaultCalDavLogins::for_server(vault.clone(), base.clone());
    if let Some(z) = &zones {
        logins = logins.with_zones(z.clone());
    }
    let source = Arc::new(CalDavSource::new(Arc::new(logins)).unwrap());
    let mut builder = w
        .builder()
        .await
        .source(Provider::Icloud, source.clone())
        .caldav_validator(Arc::new(DiscoveryValidator::new(source, base)));
    if let Some(z) = zones {
        builder = builder.participant_zones(z);
    }
    builder.build().await.unwrap()
}

#[tokio::test]
async fn floating_times_are_read_in_the_owners_zone() {
    let base = radicale();
    seed(&base).await;
    let monday = iv(at("2027-06-14T00:00:00Z"), at("2027-06-15T00:00:00Z"));
    for (zones, expected) in [
        // 12:00 in New York (EDT) is 16:00Z.
        (Some(ParticipantZones::new()), "2027-06-14T16:00:00Z"),
        // No book: the floating time is read in UTC, as before.
        (None, "2027-06-14T12:00:00Z"),
    ] {
        let mut w = World::new();
        w.clock = Arc::new(FixedClock::new(
            jiff::Timestamp::from_second(at("2027-06-13T00:00:00Z")).unwrap(),
        ));
        let a = assistant(&w, zones.clone()).await;
        a.add_program(Program::new("p", "P").with_policy_toml("scheduling_assistant = true\n"))
            .await
            .unwrap();
        a.add_participant(
            Participant::new("bob", "Bob", "bob@example.org", "America/New_York"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
        if let Some(z) = &zones {
            assert_eq!(
                z.get("BOB@example.org")
                    .map(|tz| tz.iana_name().map(str::to_owned)),
                Some(Some("America/New_York".to_owned())),
                "the assistant keeps the book"
            );
        }
        let bob = ParticipantId::new("bob");
        a.connect_icloud(
            &Actor::participant("bob"),
            &bob,
            "bob",
            SecretString::new("bobpw".into()),
        )
        .await
        .unwrap();
        let seen = a
            .availability(&Actor::participant("bob"), &bob, monday)
            .await
            .unwrap();
        assert!(seen.known, "{seen:?}");
        let start = at(expected);
        assert!(
            seen.unavailable.contains(&iv(start, start + 3600)),
            "{expected}: {:?}",
            seen.unavailable
        );
    }
}
