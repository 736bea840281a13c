//! An organisation at scale, shared by `benches/scale.rs` and the scale
//! tests (`tests/scale.rs`): `people` participants in 20 programs, each in
//! one program and in one of five zones, `people * 2 / 5` pairs inside a
//! program and `people / 25` groups of ten (at 50,000: 20,000 pairs and
//! 2,000 groups), written straight into the assistant's tables in one
//! transaction (after its migrations ran), on SQLite or PostgreSQL.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

/// Every program's policy: the assistant and group polls on.
pub const POLICY: &str = "scheduling_assistant = true\ngroup_polls = true";

/// The programs' number.
pub const PROGRAMS: usize = 20;

const ZONES: [&str; 5] = [
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Berlin",
    "Australia/Sydney",
];

/// Program `i` (modulo [`PROGRAMS`]).
pub fn program(i: usize) -> String {
    format!("prog{:02}", i % PROGRAMS)
}

/// Participant `i`'s id.
pub fn person(i: usize) -> String {
    format!("p{i}")
}

/// The organisation's rows, table by table.
#[derive(Debug, Default)]
pub struct Org {
    /// `assistant_programs`: id, name (policy [`POLICY`]).
    pub programs: Vec<(String, String)>,
    /// `assistant_participants`: id, email, zone, name.
    pub participants: Vec<(String, String, String, String)>,
    /// `assistant_memberships`: program, participant.
    pub memberships: Vec<(String, String)>,
    /// `assistant_pairs`: id, program, mentor, mentee.
    pub pairs: Vec<(String, String, String, String)>,
    /// `assistant_groups`: id, program, name.
    pub groups: Vec<(String, String, String)>,
    /// `assistant_group_members`: group, position, participant.
    pub members: Vec<(String, i64, String)>,
}

/// The rows of an organisation of `people` (at least 500, so every group
/// has ten members of its program).
pub fn org(people: usize) -> Org {
    let mut org = Org::default();
    for i in 0..PROGRAMS {
        org.programs.push((program(i), format!("Program {i}")));
    }
    for i in 0..people {
        org.participants.push((
            person(i),
            format!("p{i}@example.org"),
            ZONES[i % ZONES.len()].to_owned(),
            format!("Person {i}"),
        ));
        org.memberships.push((program(i), person(i)));
    }
    // p{i} and p{i + 20} share a program.
    for k in 0..people * 2 / 5 {
        let i = (k / PROGRAMS) * 2 * PROGRAMS + k % PROGRAMS;
        org.pairs.push((
            format!("pair{k}"),
            program(i),
            person(i),
            person(i + PROGRAMS),
        ));
    }
    let stride = PROGRAMS * (people / 25 / PROGRAMS).max(1);
    for g in 0..people / 25 {
        org.groups
            .push((format!("g{g}"), program(g), format!("Group {g}")));
        for k in 0..10 {
            org.members.push((
                format!("g{g}"),
                i64::try_from(k).unwrap_or(0),
                person(g + k * stride),
            ));
        }
    }
    org
}

impl Org {
    /// Writes the rows into a migrated SQLite store at `db`.
    pub fn seed_sqlite(&self, db: &Path) {
        let conn = rusqlite::Connection::open(db).expect("open the store");
        let tx = conn.unchecked_transaction().expect("a transaction");
        {
            let mut program = tx
                .prepare(
                    "INSERT INTO assistant_programs (id, name, policy_toml) VALUES (?1, ?2, ?3)",
                )
                .expect("prepare");
            for (id, name) in &self.programs {
                program.execute((id, name, POLICY)).expect("a program");
            }
            let mut participant = tx
                .prepare("INSERT INTO assistant_participants (id, email, time_zone, name) VALUES (?1, ?2, ?3, ?4)")
                .expect("prepare");
            for row in &self.participants {
                participant.execute(row.clone()).expect("a participant");
            }
            let mut membership = tx
                .prepare(
                    "INSERT INTO assistant_memberships (program_id, participant_id) VALUES (?1, ?2)",
                )
                .expect("prepare");
            for row in &self.memberships {
                membership.execute(row.clone()).expect("a membership");
            }
            let mut pair = tx
                .prepare("INSERT INTO assistant_pairs (id, program_id, mentor, mentee) VALUES (?1, ?2, ?3, ?4)")
                .expect("prepare");
            for row in &self.pairs {
                pair.execute(row.clone()).expect("a pair");
            }
            let mut group = tx
                .prepare("INSERT INTO assistant_groups (id, program_id, name) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for row in &self.groups {
                group.execute(row.clone()).expect("a group");
            }
            let mut member = tx
                .prepare("INSERT INTO assistant_group_members (group_id, position, participant_id) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for row in &self.members {
                member.execute(row.clone()).expect("a member");
            }
        }
        tx.commit().expect("commit");
    }

    /// Writes the rows into a migrated PostgreSQL store, one `UNNEST`
    /// insert per table in one transaction.
    #[cfg(feature = "postgres")]
    pub async fn seed_postgres(&self, url: &str) {
        let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        let task = tokio::spawn(connection);
        let tx = client.transaction().await.expect("a transaction");
        fn col<T: Clone, R>(rows: &[R], f: impl Fn(&R) -> &T) -> Vec<T> {
            rows.iter().map(|r| f(r).clone()).collect()
        }
        let p = &self.programs;
        tx.execute(
            "INSERT INTO assistant_programs (id, name, policy_toml)
             SELECT id, name, $3 FROM UNNEST($1::text[], $2::text[]) AS t (id, name)",
            &[&col(p, |r| &r.0), &col(p, |r| &r.1), &POLICY],
        )
        .await
        .expect("programs");
        let p = &self.participants;
        tx.execute(
            "INSERT INTO assistant_participants (id, email, time_zone, name)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
            &[
                &col(p, |r| &r.0),
                &col(p, |r| &r.1),
                &col(p, |r| &r.2),
                &col(p, |r| &r.3),
            ],
        )
        .await
        .expect("participants");
        let m = &self.memberships;
        tx.execute(
            "INSERT INTO assistant_memberships (program_id, participant_id)
             SELECT * FROM UNNEST($1::text[], $2::text[])",
            &[&col(m, |r| &r.0), &col(m, |r| &r.1)],
        )
        .await
        .expect("memberships");
        let p = &self.pairs;
        tx.execute(
            "INSERT INTO assistant_pairs (id, program_id, mentor, mentee)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[])",
            &[
                &col(p, |r| &r.0),
                &col(p, |r| &r.1),
                &col(p, |r| &r.2),
                &col(p, |r| &r.3),
            ],
        )
        .await
        .expect("pairs");
        let g = &self.groups;
        tx.execute(
            "INSERT INTO assistant_groups (id, program_id, name)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
            &[&col(g, |r| &r.0), &col(g, |r| &r.1), &col(g, |r| &r.2)],
        )
        .await
        .expect("groups");
        let m = &self.members;
        tx.execute(
            "INSERT INTO assistant_group_members (group_id, position, participant_id)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[])",
            &[&col(m, |r| &r.0), &col(m, |r| &r.1), &col(m, |r| &r.2)],
        )
        .await
        .expect("group members");
        tx.commit().await.expect("commit");
        drop(client);
        let _ = task.await;
    }
}
