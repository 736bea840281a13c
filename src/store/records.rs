//! The records' tables: programs, participants and their memberships,
//! pairs, groups and their members, connections, organisation
//! integrations' settings. Parents and children load in one pass each.

use policy_rules::Provider;

use super::changes::{Change, logged};
use super::db::{Row, Statement, children, int, text};
use super::migrations::i64_of;
use super::{Store, StoreError};
use crate::model::{
    Connection, Group, GroupId, Pair, PairId, Participant, ParticipantId, Program, ProgramId,
};

impl Store {
    pub(crate) async fn put_program(&self, p: &Program) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![(
                    "INSERT INTO assistant_programs (id, name, policy_toml) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                 policy_toml = excluded.policy_toml",
                    vec![
                        p.id.as_str().into(),
                        p.name.clone().into(),
                        p.policy_toml.clone().into(),
                    ],
                )],
                &[Change::Program(p.id.as_str().to_owned())],
            )
            .await
    }

    /// Every program, with when it was archived (0: it is live).
    pub(crate) async fn programs(&self) -> Result<Vec<(Program, i64)>, StoreError> {
        self.db
            .query(
                "SELECT id, name, policy_toml, archived_at FROM assistant_programs ORDER BY id",
                vec![],
            )
            .await?
            .iter()
            .map(program_row)
            .collect()
    }

    /// Archives a program at `at` and ends its current pairs then.
    pub(crate) async fn archive_program(&self, p: &ProgramId, at: i64) -> Result<(), StoreError> {
        self.db
            .transaction(vec![
                (
                    "UPDATE assistant_programs SET archived_at = $2 WHERE id = $1",
                    vec![p.as_str().into(), at.into()],
                ),
                (
                    "UPDATE assistant_pairs SET ended_at = $2 WHERE program_id = $1 AND ended_at = 0",
                    vec![p.as_str().into(), at.into()],
                ),
                ],
                &[Change::Program(p.as_str().to_owned())],
            )
            .await
    }

    /// Ends a pair at `at` (kept as history).
    pub(crate) async fn end_pair(&self, p: &PairId, at: i64) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![(
                    "UPDATE assistant_pairs SET ended_at = $2 WHERE id = $1 AND ended_at = 0",
                    vec![p.as_str().into(), at.into()],
                )],
                &[Change::Pair(p.as_str().to_owned())],
            )
            .await
    }

    /// Takes `participant` out of `group`.
    pub(crate) async fn remove_group_member(
        &self,
        group: &GroupId,
        participant: &ParticipantId,
    ) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "DELETE FROM assistant_group_members WHERE group_id = $1 AND participant_id = $2",
                vec![group.as_str().into(), participant.as_str().into()],
            )],
                &[Change::Group(group.as_str().to_owned())],
            )
            .await
    }

    /// Takes a participant out of a program at `at`: the membership goes,
    /// their pairs in it end, and they leave its groups.
    pub(crate) async fn remove_membership(
        &self,
        participant: &ParticipantId,
        program: &ProgramId,
        at: i64,
    ) -> Result<(), StoreError> {
        let (who, what) = (participant.as_str(), program.as_str());
        self.db
            .transaction(vec![
                (
                    "DELETE FROM assistant_memberships WHERE participant_id = $1 AND program_id = $2",
                    vec![who.into(), what.into()],
                ),
                (
                    "UPDATE assistant_pairs SET ended_at = $3
                     WHERE program_id = $2 AND (mentor = $1 OR mentee = $1) AND ended_at = 0",
                    vec![who.into(), what.into(), at.into()],
                ),
                (
                    "DELETE FROM assistant_group_members WHERE participant_id = $1
                     AND group_id IN (SELECT id FROM assistant_groups WHERE program_id = $2)",
                    vec![who.into(), what.into()],
                ),
                ],
                &[Change::Participant(who.to_owned())],
            )
            .await
    }

    /// Deletes a participant and every record row of theirs: when they were
    /// last asked for, own hours,
    /// the connection, group memberships, pairs (ended or not: a deleted
    /// person leaves no history), program memberships, the participant; and
    /// their answers, invitations, attendances and the polls and bookings
    /// they created (`polls.rs`'s statements).
    /// (OAuth attempts and cached busy times have their own owners,
    /// `attempts.rs` and `busy.rs`; secrets are the vault's.)
    pub(crate) async fn delete_participant(&self, p: &ParticipantId) -> Result<(), StoreError> {
        let who = p.as_str();
        let mut statements = super::changes::forget(who);
        statements.extend(super::polls::erase_participant(who));
        statements.extend([
            (
                "DELETE FROM assistant_demand WHERE participant_id = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_participant_hours WHERE participant_id = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_connections WHERE participant_id = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_group_members WHERE participant_id = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_pairs WHERE mentor = $1 OR mentee = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_memberships WHERE participant_id = $1",
                vec![who.into()],
            ),
            (
                "DELETE FROM assistant_participants WHERE id = $1",
                vec![who.into()],
            ),
        ]);
        // Other instances load everything again rather than read a row
        // naming the deleted participant.
        self.db.transaction(statements, &[Change::Everything]).await
    }

    pub(crate) async fn put_participant(
        &self,
        p: &Participant,
        programs: &[ProgramId],
    ) -> Result<(), StoreError> {
        let mut statements: Vec<Statement> = vec![(
            "INSERT INTO assistant_participants (id, email, time_zone, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET email = excluded.email,
             time_zone = excluded.time_zone, name = excluded.name",
            vec![
                p.id.as_str().into(),
                p.email.clone().into(),
                p.time_zone.clone().into(),
                p.name.clone().into(),
            ],
        )];
        for program in programs {
            statements.push((
                "INSERT INTO assistant_memberships (program_id, participant_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                vec![program.as_str().into(), p.id.as_str().into()],
            ));
        }
        self.db
            .transaction(statements, &[Change::Participant(p.id.as_str().to_owned())])
            .await
    }

    pub(crate) async fn participants(
        &self,
    ) -> Result<Vec<(Participant, Vec<ProgramId>)>, StoreError> {
        let people = self
            .db
            .query(
                "SELECT id, email, time_zone, name FROM assistant_participants ORDER BY id",
                vec![],
            )
            .await?;
        let memberships = self
            .db
            .query(
                "SELECT participant_id, program_id FROM assistant_memberships
                 ORDER BY participant_id, program_id",
                vec![],
            )
            .await?;
        let mut memberships = children(&memberships)?;
        people
            .iter()
            .map(|r| {
                let id = text(r, 0)?;
                let programs = memberships
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(ProgramId::new)
                    .collect();
                Ok((participant_row(r, id)?, programs))
            })
            .collect()
    }

    pub(crate) async fn put_pair(&self, p: &Pair) -> Result<(), StoreError> {
        self.db
            .transaction(vec![(
                "INSERT INTO assistant_pairs (id, program_id, mentor, mentee) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET program_id = excluded.program_id,
                 mentor = excluded.mentor, mentee = excluded.mentee, ended_at = 0",
                vec![
                    p.id.as_str().into(),
                    p.program.as_str().into(),
                    p.mentor.as_str().into(),
                    p.mentee.as_str().into(),
                ],
            )],
                &[Change::Pair(p.id.as_str().to_owned())],
            )
            .await
    }

    /// Every pair, with when it ended (0: it is current).
    pub(crate) async fn pairs(&self) -> Result<Vec<(Pair, i64)>, StoreError> {
        self.db
            .query(
                "SELECT id, program_id, mentor, mentee, ended_at FROM assistant_pairs ORDER BY id",
                vec![],
            )
            .await?
            .iter()
            .map(pair_row)
            .collect()
    }

    pub(crate) async fn put_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut statements: Vec<Statement> = vec![
            (
                "INSERT INTO assistant_groups (id, program_id, name) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET program_id = excluded.program_id,
                 name = excluded.name",
                vec![
                    g.id.as_str().into(),
                    g.program.as_str().into(),
                    g.name.clone().into(),
                ],
            ),
            (
                "DELETE FROM assistant_group_members WHERE group_id = $1",
                vec![g.id.as_str().into()],
            ),
        ];
        for (i, member) in g.members.iter().enumerate() {
            statements.push((
                "INSERT INTO assistant_group_members (group_id, position, participant_id)
                 VALUES ($1, $2, $3)",
                vec![
                    g.id.as_str().into(),
                    i64_of(i).into(),
                    member.as_str().into(),
                ],
            ));
        }
        self.db
            .transaction(statements, &[Change::Group(g.id.as_str().to_owned())])
            .await
    }

    pub(crate) async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let groups = self
            .db
            .query(
                "SELECT id, program_id, name FROM assistant_groups ORDER BY id",
                vec![],
            )
            .await?;
        let members = self
            .db
            .query(
                "SELECT group_id, participant_id FROM assistant_group_members
                 ORDER BY group_id, position",
                vec![],
            )
            .await?;
        let mut members = children(&members)?;
        groups
            .iter()
            .map(|r| {
                let id = text(r, 0)?;
                let members = members
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(ParticipantId::new)
                    .collect();
                Ok(Group {
                    id: GroupId::new(id),
                    program: ProgramId::new(text(r, 1)?),
                    name: text(r, 2)?,
                    members,
                })
            })
            .collect()
    }

    pub(crate) async fn put_connection(&self, c: &Connection) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![(
                    "INSERT INTO assistant_connections
                 (participant_id, provider, account, connected_at, needs_reconnect)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (participant_id) DO UPDATE SET provider = excluded.provider,
                 account = excluded.account, connected_at = excluded.connected_at,
                 needs_reconnect = excluded.needs_reconnect",
                    vec![
                        c.participant.as_str().into(),
                        c.provider.as_str().into(),
                        c.account.clone().into(),
                        c.connected_at.into(),
                        c.needs_reconnect.clone().unwrap_or_default().into(),
                    ],
                )],
                &[Change::Connection(c.participant.as_str().to_owned())],
            )
            .await
    }

    pub(crate) async fn delete_connection(&self, p: &ParticipantId) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![(
                    "DELETE FROM assistant_connections WHERE participant_id = $1",
                    vec![p.as_str().into()],
                )],
                &[Change::Connection(p.as_str().to_owned())],
            )
            .await
    }

    pub(crate) async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        self.db
            .query(
                "SELECT participant_id, provider, account, connected_at, needs_reconnect
                 FROM assistant_connections ORDER BY participant_id",
                vec![],
            )
            .await?
            .iter()
            .map(connection_row)
            .collect()
    }

    /// Stores a participant's own hours (JSON), or removes them (`None`).
    pub(crate) async fn put_hours(
        &self,
        participant: &ParticipantId,
        json: Option<String>,
    ) -> Result<(), StoreError> {
        let statement = match json {
            Some(json) => (
                "INSERT INTO assistant_participant_hours (participant_id, hours_json) VALUES ($1, $2)
                 ON CONFLICT (participant_id) DO UPDATE SET hours_json = excluded.hours_json",
                vec![participant.as_str().into(), json.into()],
            ),
            None => (
                "DELETE FROM assistant_participant_hours WHERE participant_id = $1",
                vec![participant.as_str().into()],
            ),
        };
        self.db
            .transaction(
                vec![statement],
                &[Change::Hours(participant.as_str().to_owned())],
            )
            .await
    }

    /// Every participant's own hours (JSON).
    pub(crate) async fn hours(&self) -> Result<Vec<(ParticipantId, String)>, StoreError> {
        self.db
            .query(
                "SELECT participant_id, hours_json FROM assistant_participant_hours
                 ORDER BY participant_id",
                vec![],
            )
            .await?
            .iter()
            .map(|r| Ok((ParticipantId::new(text(r, 0)?), text(r, 1)?)))
            .collect()
    }

    /// Stores an integration's settings unless the integration `excludes`
    /// names is stored (Exchange Online and on-premise): `false` then,
    /// nothing written. The check holds across instances: the revision
    /// row is locked (and bumped) first, so two instances storing the two
    /// kinds at once are serialised and the second sees the first.
    pub(crate) async fn put_integration(
        &self,
        kind: &str,
        json: String,
        excludes: Option<&str>,
    ) -> Result<bool, StoreError> {
        // The bump (and the change's row) first: its row lock orders the
        // check below after any other instance's write.
        let mut statements = logged(&[Change::Integrations]);
        let guard = statements.len();
        statements.push((
            "INSERT INTO assistant_org_integrations (kind, settings_json)
             SELECT $1, $2 WHERE NOT EXISTS
                (SELECT 1 FROM assistant_org_integrations WHERE kind = $3)
             ON CONFLICT (kind) DO UPDATE SET settings_json = excluded.settings_json",
            vec![kind.into(), json.into(), excludes.unwrap_or("").into()],
        ));
        self.db.write_guarded_at(statements, guard).await
    }

    pub(crate) async fn delete_integration(&self, kind: &str) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![(
                    "DELETE FROM assistant_org_integrations WHERE kind = $1",
                    vec![kind.into()],
                )],
                &[Change::Integrations],
            )
            .await
    }

    pub(crate) async fn integrations(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT settings_json FROM assistant_org_integrations ORDER BY kind",
                vec![],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
    }
}

/// One record at a time: what another instance's change names is read
/// back alone (`changes.rs`), by primary key or by the indexes migration 10
/// added.
impl Store {
    /// One program, with when it was archived (0: live).
    pub(crate) async fn program(&self, id: &str) -> Result<Option<(Program, i64)>, StoreError> {
        self.db
            .query(
                "SELECT id, name, policy_toml, archived_at FROM assistant_programs WHERE id = $1",
                vec![id.into()],
            )
            .await?
            .first()
            .map(program_row)
            .transpose()
    }

    /// One pair, with when it ended (0: current).
    pub(crate) async fn pair(&self, id: &str) -> Result<Option<(Pair, i64)>, StoreError> {
        self.db
            .query(
                "SELECT id, program_id, mentor, mentee, ended_at FROM assistant_pairs WHERE id = $1",
                vec![id.into()],
            )
            .await?
            .first()
            .map(pair_row)
            .transpose()
    }

    /// The ids of a program's pairs.
    pub(crate) async fn pair_ids_of(&self, program: &str) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT id FROM assistant_pairs WHERE program_id = $1",
                vec![program.into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
    }

    /// One group with its members in order.
    pub(crate) async fn group(&self, id: &str) -> Result<Option<Group>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, program_id, name FROM assistant_groups WHERE id = $1",
                vec![id.into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let members = self
            .db
            .query(
                "SELECT participant_id FROM assistant_group_members WHERE group_id = $1
                 ORDER BY position",
                vec![id.into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0).map(ParticipantId::new))
            .collect::<Result<_, _>>()?;
        Ok(Some(Group {
            id: GroupId::new(text(row, 0)?),
            program: ProgramId::new(text(row, 1)?),
            name: text(row, 2)?,
            members,
        }))
    }

    /// Everything tied to one participant, in three reads: their row
    /// with their connection and own hours (JSON), their programs and the
    /// groups they are in, and the pairs they are in.
    pub(crate) async fn participant_scope(&self, id: &str) -> Result<ParticipantScope, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT p.id, p.email, p.time_zone, p.name,
                        CAST(CASE WHEN c.participant_id IS NULL THEN 0 ELSE 1 END AS BIGINT),
                        COALESCE(c.provider, ''), COALESCE(c.account, ''),
                        COALESCE(c.connected_at, CAST(0 AS BIGINT)),
                        COALESCE(c.needs_reconnect, ''),
                        CAST(CASE WHEN h.participant_id IS NULL THEN 0 ELSE 1 END AS BIGINT),
                        COALESCE(h.hours_json, '')
                 FROM assistant_participants p
                 LEFT JOIN assistant_connections c ON c.participant_id = p.id
                 LEFT JOIN assistant_participant_hours h ON h.participant_id = p.id
                 WHERE p.id = $1",
                vec![id.into()],
            )
            .await?;
        let mut scope = ParticipantScope::default();
        let Some(row) = rows.first() else {
            return Ok(scope);
        };
        let links = self
            .db
            .query(
                "SELECT 'm', program_id FROM assistant_memberships WHERE participant_id = $1
                 UNION ALL
                 SELECT 'g', group_id FROM assistant_group_members WHERE participant_id = $1
                 ORDER BY 1, 2",
                vec![id.into()],
            )
            .await?;
        let mut programs = Vec::new();
        for link in &links {
            match text(link, 0)?.as_str() {
                "m" => programs.push(ProgramId::new(text(link, 1)?)),
                _ => scope.groups.push(text(link, 1)?),
            }
        }
        scope.person = Some((participant_row(row, text(row, 0)?)?, programs));
        if int(row, 4)? == 1 {
            let provider: Provider = text(row, 5)?.parse().map_err(StoreError::Corrupt)?;
            let reason = text(row, 8)?;
            scope.connection = Some(Connection {
                participant: ParticipantId::new(id),
                provider,
                account: text(row, 6)?,
                connected_at: int(row, 7)?,
                needs_reconnect: (!reason.is_empty()).then_some(reason),
            });
        }
        if int(row, 9)? == 1 {
            scope.hours = Some(text(row, 10)?);
        }
        scope.pairs = self
            .db
            .query(
                "SELECT id, program_id, mentor, mentee, ended_at FROM assistant_pairs WHERE mentor = $1
                 UNION
                 SELECT id, program_id, mentor, mentee, ended_at FROM assistant_pairs WHERE mentee = $1",
                vec![id.into()],
            )
            .await?
            .iter()
            .map(pair_row)
            .collect::<Result<_, _>>()?;
        Ok(scope)
    }

    /// One participant's connection.
    pub(crate) async fn connection(
        &self,
        participant: &str,
    ) -> Result<Option<Connection>, StoreError> {
        self.db
            .query(
                "SELECT participant_id, provider, account, connected_at, needs_reconnect
                 FROM assistant_connections WHERE participant_id = $1",
                vec![participant.into()],
            )
            .await?
            .first()
            .map(connection_row)
            .transpose()
    }

    /// One participant's own hours (JSON).
    pub(crate) async fn hours_of(&self, participant: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query(
                "SELECT hours_json FROM assistant_participant_hours WHERE participant_id = $1",
                vec![participant.into()],
            )
            .await?
            .first()
            .map(|r| text(r, 0))
            .transpose()
    }
}

/// What [`Store::participant_scope`] reads (all empty when the
/// participant is gone).
#[derive(Debug, Default)]
pub(crate) struct ParticipantScope {
    /// The participant and their programs.
    pub(crate) person: Option<(Participant, Vec<ProgramId>)>,
    /// Their connection.
    pub(crate) connection: Option<Connection>,
    /// Their own hours (JSON).
    pub(crate) hours: Option<String>,
    /// The pairs they are in, with when each ended (0: current).
    pub(crate) pairs: Vec<(Pair, i64)>,
    /// The ids of the groups they are in.
    pub(crate) groups: Vec<String>,
}

fn program_row(r: &Row) -> Result<(Program, i64), StoreError> {
    Ok((
        Program {
            id: ProgramId::new(text(r, 0)?),
            name: text(r, 1)?,
            policy_toml: text(r, 2)?,
        },
        int(r, 3)?,
    ))
}

fn participant_row(r: &Row, id: String) -> Result<Participant, StoreError> {
    Ok(Participant {
        id: ParticipantId::new(id),
        email: text(r, 1)?,
        time_zone: text(r, 2)?,
        name: text(r, 3)?,
    })
}

fn pair_row(r: &Row) -> Result<(Pair, i64), StoreError> {
    Ok((
        Pair {
            id: PairId::new(text(r, 0)?),
            program: ProgramId::new(text(r, 1)?),
            mentor: ParticipantId::new(text(r, 2)?),
            mentee: ParticipantId::new(text(r, 3)?),
        },
        int(r, 4)?,
    ))
}

fn connection_row(r: &Row) -> Result<Connection, StoreError> {
    let provider: Provider = text(r, 1)?.parse().map_err(StoreError::Corrupt)?;
    let reason = text(r, 4)?;
    Ok(Connection {
        participant: ParticipantId::new(text(r, 0)?),
        provider,
        account: text(r, 2)?,
        connected_at: int(r, 3)?,
        needs_reconnect: (!reason.is_empty()).then_some(reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("s.sqlite3"))
            .await
            .unwrap();
        (dir, store)
    }

    fn person(id: &str) -> Participant {
        Participant::new(
            id,
            id.to_uppercase(),
            format!("{id}@example.org"),
            "Europe/Paris",
        )
    }

    #[tokio::test]
    async fn every_record_reads_back_as_written() {
        let (_dir, s) = store().await;
        let spring = Program::new("spring", "Spring").with_policy_toml("group_polls = true");
        s.put_program(&spring).await.unwrap();
        s.put_program(&Program::new("autumn", "Autumn"))
            .await
            .unwrap();
        let programs = s.programs().await.unwrap();
        assert_eq!(programs.len(), 2);
        assert_eq!(
            (
                programs[1].0.id.as_str(),
                programs[1].0.policy_toml.as_str()
            ),
            ("spring", "group_polls = true")
        );

        // Memberships accumulate per participant, in program order.
        s.put_participant(&person("zoe"), &[ProgramId::new("spring")])
            .await
            .unwrap();
        s.put_participant(
            &person("al"),
            &[ProgramId::new("spring"), ProgramId::new("autumn")],
        )
        .await
        .unwrap();
        let people = s.participants().await.unwrap();
        let ids: Vec<(&str, Vec<&str>)> = people
            .iter()
            .map(|(p, programs)| {
                (
                    p.id.as_str(),
                    programs.iter().map(ProgramId::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [("al", vec!["autumn", "spring"]), ("zoe", vec!["spring"])]
        );
        assert_eq!(people[0].0, person("al"));

        let pair = Pair {
            id: PairId::new("al-zoe"),
            program: ProgramId::new("spring"),
            mentor: ParticipantId::new("al"),
            mentee: ParticipantId::new("zoe"),
        };
        s.put_pair(&pair).await.unwrap();
        assert_eq!(s.pairs().await.unwrap(), [(pair, 0)]);

        // Members keep their order; rewriting a group replaces them.
        let mut group = Group {
            id: GroupId::new("circle"),
            program: ProgramId::new("spring"),
            name: "Circle".into(),
            members: vec![ParticipantId::new("zoe"), ParticipantId::new("al")],
        };
        s.put_group(&group).await.unwrap();
        assert_eq!(s.groups().await.unwrap(), [group.clone()]);
        group.members = vec![ParticipantId::new("al")];
        s.put_group(&group).await.unwrap();
        assert_eq!(s.groups().await.unwrap(), [group]);

        // A connection, its needs-reconnect reason, and its removal.
        let mut c = Connection {
            participant: ParticipantId::new("al"),
            provider: Provider::Google,
            account: "al@example.org".into(),
            connected_at: 1_772_409_600,
            needs_reconnect: None,
        };
        s.put_connection(&c).await.unwrap();
        assert_eq!(s.connections().await.unwrap(), [c.clone()]);
        c.needs_reconnect = Some("revoked".into());
        s.put_connection(&c).await.unwrap();
        assert_eq!(s.connections().await.unwrap(), [c]);
        s.delete_connection(&ParticipantId::new("al"))
            .await
            .unwrap();
        assert!(s.connections().await.unwrap().is_empty());

        assert!(
            s.put_integration("exchange_on_premise", "{}".into(), Some("exchange_online"))
                .await
                .unwrap()
        );
        assert!(
            !s.put_integration("exchange_online", "{}".into(), Some("exchange_on_premise"))
                .await
                .unwrap(),
            "the excluded kind is stored: refused"
        );
        s.put_integration("exchange_on_premise", "{}".into(), None)
            .await
            .unwrap();
        assert_eq!(s.integrations().await.unwrap(), ["{}"]);
        s.delete_integration("exchange_on_premise").await.unwrap();
        assert!(s.integrations().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn every_write_bumps_the_revision() {
        let (_dir, s) = store().await;
        let before = s.revision().await.unwrap();
        s.put_program(&Program::new("p", "P")).await.unwrap();
        s.put_participant(&person("a"), &[ProgramId::new("p")])
            .await
            .unwrap();
        assert_eq!(s.revision().await.unwrap(), before + 2);
    }
}
