//! Applying another instance's writes record by record: the change log
//! (`store/changes.rs`) names what changed; each named record is read back
//! alone and replaces (or removes) the one in memory. What a change's
//! scope covers is read from the store *and* from memory, so a row the
//! write deleted (a deleted participant's pairs, a group place they left)
//! goes too.

use std::collections::BTreeSet;

use policy_rules::ParticipantHours;

use crate::error::AssistantError;
use crate::model::{
    Connection, Group, GroupId, Pair, PairId, Participant, ParticipantId, ProgramId,
};
use crate::store::{Change, StoreError};

use super::records::{ORG_POLICY_KEY, org_layer, resolve_policy};
use super::{Assistant, Records};

/// What an applied change set touched, for the work that follows it.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The organisation integrations' settings changed.
    pub(crate) integrations: bool,
    /// Participants whose record or connection changed (their automatic
    /// organisation connection is decided again).
    pub(crate) participants: Vec<ParticipantId>,
    /// Every record was loaded (the log could not say what changed).
    pub(crate) everything: bool,
}

/// A program read back: with its resolved policy and when it was archived.
type ProgramRow = (crate::model::Program, policy_rules::ProgramPolicy, i64);
/// A participant read back, with their programs.
type ParticipantRow = (Participant, Vec<ProgramId>);

/// The records a change set names, read back (`None`: gone).
#[derive(Default)]
struct Fetched {
    /// Every program again (the organisation's layer changed), or the
    /// named ones.
    all_programs: bool,
    programs: Vec<(ProgramId, Option<ProgramRow>)>,
    participants: Vec<(ParticipantId, Option<ParticipantRow>)>,
    pairs: Vec<(PairId, Option<(Pair, i64)>)>,
    groups: Vec<(GroupId, Option<Group>)>,
    connections: Vec<(ParticipantId, Option<Connection>)>,
    hours: Vec<(ParticipantId, Option<ParticipantHours>)>,
}

impl Assistant {
    /// Reads back every record `changes` names and replaces the ones in
    /// memory in one step (readers see all of it or none). On an error
    /// nothing is applied.
    pub(crate) async fn apply_changes(
        &self,
        changes: &BTreeSet<Change>,
    ) -> Result<Applied, AssistantError> {
        let store = &self.inner.store;
        let mut programs = BTreeSet::new();
        let mut all_programs = false;
        let mut pairs = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let mut connections = BTreeSet::new();
        let mut hours = BTreeSet::new();
        let mut applied = Applied::default();
        let mut fetched = Fetched::default();
        // A participant's change reads everything tied to them at once.
        let mut scoped = BTreeSet::new();
        for change in changes {
            if let Change::Participant(id) = change {
                scoped.insert(id.clone());
                let scope = store.participant_scope(id).await?;
                let who = ParticipantId::new(id.clone());
                let read: BTreeSet<String> = scope
                    .pairs
                    .iter()
                    .map(|(p, _)| p.id.as_str().to_owned())
                    .collect();
                for (pair, ended_at) in scope.pairs {
                    fetched
                        .pairs
                        .push((pair.id.clone(), Some((pair, ended_at))));
                }
                groups.extend(scope.groups);
                {
                    // What the write may have deleted: the pairs and group
                    // places in memory that name them.
                    let records = self.records();
                    pairs.extend(
                        records
                            .pairs
                            .values()
                            .chain(records.ended_pairs.values().map(|(p, _)| p))
                            .filter(|p| p.mentor.as_str() == id || p.mentee.as_str() == id)
                            .map(|p| p.id.as_str().to_owned())
                            .filter(|p| !read.contains(p)),
                    );
                    groups.extend(
                        records
                            .groups
                            .values()
                            .filter(|g| g.members.iter().any(|m| m.as_str() == id))
                            .map(|g| g.id.as_str().to_owned()),
                    );
                }
                fetched.participants.push((who.clone(), scope.person));
                fetched.connections.push((who.clone(), scope.connection));
                fetched.hours.push((who, parse_hours(id, scope.hours)?));
            }
        }
        let fetched_pairs: BTreeSet<String> = fetched
            .pairs
            .iter()
            .map(|(id, _)| id.as_str().to_owned())
            .collect();
        for change in changes {
            match change {
                Change::Program(id) => {
                    programs.insert(id.clone());
                    // Archiving ends the program's pairs.
                    pairs.extend(store.pair_ids_of(id).await?);
                }
                Change::Participant(_) => {}
                Change::Pair(id) => {
                    pairs.insert(id.clone());
                }
                Change::Group(id) => {
                    groups.insert(id.clone());
                }
                Change::Connection(id) if !scoped.contains(id) => {
                    connections.insert(id.clone());
                }
                Change::Hours(id) if !scoped.contains(id) => {
                    hours.insert(id.clone());
                }
                Change::Connection(_) | Change::Hours(_) => {}
                Change::Integrations => applied.integrations = true,
                Change::Setting(key) => all_programs |= key == ORG_POLICY_KEY,
                // `changes_since` answers `None` for it: everything is loaded.
                Change::Everything => {}
            }
        }
        pairs.retain(|p| !fetched_pairs.contains(p));

        fetched.all_programs = all_programs;
        if all_programs || !programs.is_empty() {
            let org = org_layer(store, &self.inner.org_policy).await?;
            let rows = if all_programs {
                store.programs().await?
            } else {
                let mut rows = Vec::new();
                for id in &programs {
                    match store.program(id).await? {
                        Some(row) => rows.push(row),
                        None => fetched.programs.push((ProgramId::new(id.clone()), None)),
                    }
                }
                rows
            };
            for (program, archived_at) in rows {
                let policy = resolve_policy(&org, &program)?;
                fetched
                    .programs
                    .push((program.id.clone(), Some((program, policy, archived_at))));
            }
        }
        for id in pairs {
            let row = store.pair(&id).await?;
            fetched.pairs.push((PairId::new(id), row));
        }
        for id in groups {
            let row = store.group(&id).await?;
            fetched.groups.push((GroupId::new(id), row));
        }
        for id in connections {
            let row = store.connection(&id).await?;
            fetched.connections.push((ParticipantId::new(id), row));
        }
        for id in hours {
            let row = parse_hours(&id, store.hours_of(&id).await?)?;
            fetched.hours.push((ParticipantId::new(id), row));
        }

        applied.participants = fetched
            .participants
            .iter()
            .map(|(id, _)| id.clone())
            .chain(fetched.connections.iter().map(|(id, _)| id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let zones = {
            let mut records = self.records_mut();
            let zones = zone_changes(&records, &fetched.participants);
            put(&mut records, fetched);
            zones
        };
        if let Some(book) = &self.inner.zones {
            for (email, zone) in zones {
                book.set(&email, zone.as_deref());
            }
        }
        Ok(applied)
    }
}

/// Own hours read back as JSON, parsed.
fn parse_hours(id: &str, json: Option<String>) -> Result<Option<ParticipantHours>, StoreError> {
    json.map(|json| {
        serde_json::from_str::<ParticipantHours>(&json)
            .map_err(|e| StoreError::Corrupt(format!("own hours of {id}: {e}")))
    })
    .transpose()
}

/// The zone book's entries the fetched participants change: an old email
/// goes, the current one gets its zone.
fn zone_changes(
    records: &Records,
    fetched: &[(ParticipantId, Option<ParticipantRow>)],
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (id, row) in fetched {
        if let Some((old, _)) = records.participants.get(id)
            && row
                .as_ref()
                .is_none_or(|(new, _)| !new.email.eq_ignore_ascii_case(&old.email))
        {
            out.push((old.email.clone(), None));
        }
        if let Some((new, _)) = row {
            out.push((new.email.clone(), Some(new.time_zone.clone())));
        }
    }
    out
}

/// Replaces the records in memory with the fetched ones.
fn put(records: &mut Records, fetched: Fetched) {
    if fetched.all_programs {
        records.programs.clear();
        records.archived.clear();
    }
    for (id, row) in fetched.programs {
        records.archived.remove(&id);
        match row {
            Some((program, policy, archived_at)) => {
                if archived_at != 0 {
                    records.archived.insert(id.clone());
                }
                records.programs.insert(id, (program, policy));
            }
            None => {
                records.programs.remove(&id);
            }
        }
    }
    for (id, row) in fetched.participants {
        match row {
            Some(row) => {
                records.participants.insert(id, row);
            }
            None => {
                records.participants.remove(&id);
            }
        }
    }
    for (id, row) in fetched.pairs {
        records.pairs.remove(&id);
        records.ended_pairs.remove(&id);
        match row {
            Some((pair, 0)) => {
                records.pairs.insert(id, pair);
            }
            Some((pair, ended_at)) => {
                records.ended_pairs.insert(id, (pair, ended_at));
            }
            None => {}
        }
    }
    for (id, row) in fetched.groups {
        match row {
            Some(group) => {
                records.groups.insert(id, group);
            }
            None => {
                records.groups.remove(&id);
            }
        }
    }
    for (id, row) in fetched.connections {
        match row {
            Some(c) => {
                records.connections.insert(id, c);
            }
            None => {
                records.connections.remove(&id);
            }
        }
    }
    for (id, row) in fetched.hours {
        match row {
            Some(h) => {
                records.hours.insert(id, h);
            }
            None => {
                records.hours.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use availability::FixedClock;
    use credential_vault::{KeyId, KeyRing, MasterKey, SqliteStore, Vault};
    use policy_rules::Provider;

    use super::*;
    use crate::model::{Actor, Program};
    use crate::store::Store;

    /// Where the two instances meet: a SQLite file, or a PostgreSQL
    /// database (with the `postgres` feature, on the server the README's
    /// test command starts).
    enum Engine {
        Sqlite(std::path::PathBuf),
        #[cfg(feature = "postgres")]
        Postgres(String),
    }

    async fn open(engine: &Engine) -> Assistant {
        let key = KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32]));
        let (store, vault) = match engine {
            Engine::Sqlite(path) => (
                Store::open_sqlite(path).await.unwrap(),
                Vault::new(Arc::new(SqliteStore::open(path).unwrap()), key),
            ),
            #[cfg(feature = "postgres")]
            Engine::Postgres(url) => (
                Store::connect_postgres_without_tls(url).await.unwrap(),
                Vault::new(
                    Arc::new(
                        credential_vault::PostgresStore::connect_without_tls(url)
                            .await
                            .unwrap(),
                    ),
                    key,
                ),
            ),
        };
        Assistant::builder()
            .store(store)
            .vault(Arc::new(vault))
            .clock(Arc::new(FixedClock::new(
                jiff::Timestamp::from_second(1_772_409_600).unwrap(),
            )))
            .build()
            .await
            .unwrap()
    }

    fn person(id: &str, zone: &str) -> Participant {
        Participant::new(id, id.to_uppercase(), format!("{id}@example.org"), zone)
    }

    fn pid(id: &str) -> ParticipantId {
        ParticipantId::new(id)
    }

    fn pair(id: &str, program: &str, mentor: &str, mentee: &str) -> Pair {
        Pair {
            id: PairId::new(id),
            program: ProgramId::new(program),
            mentor: pid(mentor),
            mentee: pid(mentee),
        }
    }

    #[tokio::test]
    async fn applying_the_log_equals_loading_everything_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        applying_the_log_equals_loading_everything(Engine::Sqlite(dir.path().join("s.sqlite3")))
            .await;
    }

    /// On PostgreSQL, on the server `scripts/test` starts
    /// (`TEST_POSTGRES_URL`); without it the test fails.
    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn applying_the_log_equals_loading_everything_on_postgres() {
        let base = std::env::var("TEST_POSTGRES_URL")
            .expect("TEST_POSTGRES_URL: run scripts/test, which starts PostgreSQL");
        let base = base.trim_end_matches('/');
        let name = format!("sa_apply_{}", std::process::id());
        let (admin, connection) =
            tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        let task = tokio::spawn(connection);
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        drop(admin);
        let _ = task.await;
        applying_the_log_equals_loading_everything(Engine::Postgres(format!("{base}/{name}")))
            .await;
    }

    /// Every kind of write another instance makes, applied from the log,
    /// leaves exactly the records a full load reads.
    async fn applying_the_log_equals_loading_everything(engine: Engine) {
        let writer = open(&engine).await;
        let (p1, p2) = (ProgramId::new("p1"), ProgramId::new("p2"));
        writer.add_program(Program::new("p1", "One")).await.unwrap();
        writer.add_program(Program::new("p2", "Two")).await.unwrap();
        for id in ["a", "b", "c", "d", "e", "f"] {
            writer
                .add_participant(person(id, "Europe/Paris"), &[p1.clone(), p2.clone()])
                .await
                .unwrap();
        }
        for (id, m, n) in [("ab", "a", "b"), ("cd", "c", "d"), ("ef", "e", "f")] {
            writer.add_pair(pair(id, "p1", m, n)).await.unwrap();
        }
        writer.add_pair(pair("ac2", "p2", "a", "c")).await.unwrap();
        let circle = Group {
            id: GroupId::new("circle"),
            program: p1.clone(),
            name: "Circle".into(),
            members: vec![pid("a"), pid("c"), pid("d"), pid("e")],
        };
        writer.add_group(circle.clone()).await.unwrap();

        let reader = open(&engine).await;
        let loaded = reader.inner.revision.load(Ordering::Acquire);
        assert_eq!(loaded, reader.inner.store.revision().await.unwrap());

        // Every kind of write, by the other instance.
        writer
            .add_participant(person("g", "Asia/Tokyo"), std::slice::from_ref(&p1))
            .await
            .unwrap();
        let mut moved = person("a", "America/New_York");
        moved.email = "a.new@example.org".into();
        writer.add_participant(moved, &[]).await.unwrap();
        writer.add_pair(pair("bg", "p1", "b", "g")).await.unwrap();
        writer.end_pair(&PairId::new("ef")).await.unwrap();
        writer
            .add_group(Group {
                members: vec![pid("g"), pid("a"), pid("c"), pid("d"), pid("e")],
                ..circle
            })
            .await
            .unwrap();
        writer
            .remove_from_group(&GroupId::new("circle"), &pid("e"))
            .await
            .unwrap();
        writer.remove_from_program(&pid("c"), &p1).await.unwrap();
        writer.archive_program(&p2).await.unwrap();
        let store = &writer.inner.store;
        store
            .put_connection(&Connection {
                participant: pid("b"),
                provider: Provider::Google,
                account: "b@example.org".into(),
                connected_at: 1_772_409_600,
                needs_reconnect: Some("revoked".into()),
            })
            .await
            .unwrap();
        let hours: ParticipantHours =
            serde_json::from_str(r#"{"weekly": {"mon": [{"start": "09:00", "end": "12:00"}]}}"#)
                .unwrap();
        writer
            .set_own_hours(&Actor::Participant(pid("f")), &pid("f"), hours)
            .await
            .unwrap();
        writer
            .set_org_policy(
                &Actor::Administrator {
                    admin: "ops".into(),
                    on_behalf_of: None,
                },
                "day_start = \"08:00\"",
            )
            .await
            .unwrap();
        writer
            .add_program(Program::new("p3", "Three").with_policy_toml("group_polls = true"))
            .await
            .unwrap();

        let set = reader
            .inner
            .store
            .changes_since(loaded)
            .await
            .unwrap()
            .expect("the log covers every write");
        assert!(set.changes.len() >= 10, "{:?}", set.changes);
        let before = format!("{:?}", *reader.records());
        assert!(reader.reload().await.unwrap());
        let fresh = crate::assistant::load_records(&reader.inner.store, &reader.inner.org_policy)
            .await
            .unwrap();
        assert_ne!(before, format!("{fresh:?}"), "the writes changed something");
        assert_eq!(*reader.records(), fresh);
        assert_eq!(format!("{:?}", *reader.records()), format!("{fresh:?}"));
        assert_eq!(
            reader.inner.revision.load(Ordering::Acquire),
            reader.inner.store.revision().await.unwrap()
        );
        // The policy's new day start reached every program.
        assert_eq!(
            reader
                .policy(&ProgramId::new("p3"))
                .unwrap()
                .day_start()
                .to_string(),
            "08:00"
        );
        assert!(!reader.reload().await.unwrap(), "nothing more to apply");

        // A deletion leaves no row naming the participant or their pairs
        // in the log: the other instance loads everything instead.
        let loaded = reader.inner.revision.load(Ordering::Acquire);
        assert!(writer.delete_participant(&pid("d")).await.unwrap());
        assert_eq!(
            reader.inner.store.changes_since(loaded).await.unwrap(),
            None
        );
        let keys = reader.inner.store.changes_since(loaded - 1).await.unwrap();
        assert_eq!(keys, None);
        assert!(reader.reload().await.unwrap());
        assert!(reader.participant(&pid("d")).is_err());
        let fresh = crate::assistant::load_records(&reader.inner.store, &reader.inner.org_policy)
            .await
            .unwrap();
        assert_eq!(*reader.records(), fresh);
        assert!(!format!("{fresh:?}").contains("\"d\""));
    }
}
