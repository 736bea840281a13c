//! The demo program, its people and their shipped calendars, shared by the
//! `demo` and `serve` examples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use availability::SourceError;
use caldav_provider::{CalDavLogin, IcsSource};
use scheduling_assistant::CalDavValidator;
use scheduling_assistant::{
    Assistant, Group, Pair, Participant, ParticipantId, Program, ProgramId,
};

/// "Spring mentoring": London, weekdays 08:00-18:00, one hour's notice.
pub(crate) const POLICY: &str = r#"time_zone = "Europe/London"
days = ["mon", "tue", "wed", "thu", "fri"]
day_start = "08:00"
day_end = "18:00"
min_notice = "1h"
slot_step = "30m"
blocking = ["busy", "tentative", "out_of_office"]
scheduling_assistant = true
group_polls = true
"#;

/// (id, name, zone, calendar file, connects in the demo)
pub(crate) const PEOPLE: [(&str, &str, &str, &str, bool); 7] = [
    (
        "maya",
        "Maya (mentor)",
        "America/New_York",
        "mentor.ics",
        true,
    ),
    ("theo", "Theo (mentee)", "Europe/London", "mentee.ics", true),
    ("ana", "Ana", "Europe/London", "circle-ana.ics", true),
    ("ben", "Ben", "Europe/London", "circle-ben.ics", true),
    ("chen", "Chen", "Asia/Singapore", "circle-chen.ics", true),
    ("dara", "Dara", "Europe/London", "circle-dara.ics", true),
    ("eli", "Eli", "Europe/London", "circle-eli.ics", false),
];

/// The shipped calendars, where the examples look by default.
pub(crate) fn default_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data")
}

/// The demo's iCloud stand-in: an Apple ID "logs in" when a shipped file
/// exists for it (the participant's email).
#[derive(Debug)]
pub(crate) struct ShippedFiles(pub(crate) HashMap<String, PathBuf>);

#[async_trait]
impl CalDavValidator for ShippedFiles {
    async fn validate(&self, login: &CalDavLogin) -> Result<(), SourceError> {
        match self.0.get(&login.username) {
            Some(path) if path.is_file() => Ok(()),
            _ => Err(SourceError::Unauthorized {
                message: "no calendar for this Apple ID".to_owned(),
            }),
        }
    }
}

/// Each participant's shipped calendar as an `IcsSource` account (their
/// email), all-day and floating times in their zone; and the stand-in
/// validator for the same files.
pub(crate) fn sources(data: &Path) -> Result<(IcsSource, ShippedFiles), String> {
    let mut ics = IcsSource::new();
    let mut files = HashMap::new();
    for (id, _, tz, file, _) in PEOPLE {
        let path = data.join(file);
        if !path.is_file() {
            return Err(format!("missing calendar {}", path.display()));
        }
        let zone = caldav_provider::ical::time_zone(tz)
            .ok_or_else(|| format!("unknown time zone {tz}"))?;
        let email = format!("{id}@example.org");
        ics = ics.with_file_in_zone(email.clone(), &path, zone);
        files.insert(email, path);
    }
    Ok((ics, ShippedFiles(files)))
}

/// The program, its people, the mentor-mentee pair and the circle.
pub(crate) async fn seed(assistant: &Assistant) -> Result<(), String> {
    let err = |e: scheduling_assistant::AssistantError| e.to_string();
    let program = ProgramId::new("spring");
    assistant
        .add_program(Program::new("spring", "Spring mentoring").with_policy_toml(POLICY))
        .await
        .map_err(err)?;
    for (id, name, tz, _, _) in PEOPLE {
        assistant
            .add_participant(
                Participant::new(id, name, format!("{id}@example.org"), tz),
                std::slice::from_ref(&program),
            )
            .await
            .map_err(err)?;
    }
    let p = |s: &str| ParticipantId::new(s);
    assistant
        .add_pair(Pair {
            id: "maya-theo".into(),
            program: program.clone(),
            mentor: p("maya"),
            mentee: p("theo"),
        })
        .await
        .map_err(err)?;
    assistant
        .add_group(Group {
            id: "circle".into(),
            program,
            name: "Thursday circle".into(),
            members: ["ana", "ben", "chen", "dara", "eli"].map(p).to_vec(),
        })
        .await
        .map_err(err)
}
