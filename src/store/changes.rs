//! The change log other instances apply: every write of the records names
//! what it changed (`assistant_changes`, one row per record under the
//! revision the write took), so an instance that loaded revision `r` reads
//! only the rows after `r` and reloads only those records.
//!
//! Order: a write bumps the one revision row and inserts its change rows
//! in the same transaction; the bump's row lock serialises writers, so
//! revisions commit in order and every change at or below a revision an
//! instance reads is visible with it. The log keeps the last
//! [`RETAINED`] revisions; an instance further behind, or one that finds a
//! revision without rows (written by a build before the log), loads
//! everything instead.

use std::collections::BTreeSet;

use super::db::{Statement, Value, int, text};
use super::{Store, StoreError};

/// How many revisions the log keeps. An instance more than this far
/// behind (asleep for a long time, or just started against a busy
/// database) loads every record once instead.
pub(crate) const RETAINED: i64 = 10_000;

/// Above this many changed rows, loading everything is about as cheap as
/// loading each one (a bulk import, say), so the log is not read further.
pub(crate) const MOST_APPLIED: i64 = 2_000;

/// One changed record, by kind and id. A participant's change covers
/// everything tied to them (their memberships, pairs, group places,
/// connection and own hours), since a write that removes a participant
/// from a program ends pairs and group places it cannot name in SQL; a
/// program's covers its pairs (archiving ends them).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// A program (its row, and its pairs' `ended_at`).
    Program(String),
    /// A participant and every record tied to them.
    Participant(String),
    /// A pair.
    Pair(String),
    /// A group and its members.
    Group(String),
    /// A participant's connection.
    Connection(String),
    /// A participant's own hours.
    Hours(String),
    /// The organisation integrations' settings.
    Integrations,
    /// A run-time setting, by key.
    Setting(String),
    /// Something no other record names: every instance loads everything.
    /// A deleted participant's change is this one, so that the log (like
    /// every other table) keeps nothing of them.
    Everything,
}

impl Change {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Program(id) => ("program", id),
            Self::Participant(id) => ("participant", id),
            Self::Pair(id) => ("pair", id),
            Self::Group(id) => ("group", id),
            Self::Connection(id) => ("connection", id),
            Self::Hours(id) => ("hours", id),
            Self::Integrations => ("integrations", ""),
            Self::Setting(key) => ("setting", key),
            Self::Everything => ("everything", ""),
        }
    }

    fn parse(kind: &str, key: String) -> Result<Self, StoreError> {
        Ok(match kind {
            "program" => Self::Program(key),
            "participant" => Self::Participant(key),
            "pair" => Self::Pair(key),
            "group" => Self::Group(key),
            "connection" => Self::Connection(key),
            "hours" => Self::Hours(key),
            "integrations" => Self::Integrations,
            "setting" => Self::Setting(key),
            "everything" => Self::Everything,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "a change of unknown kind {other:?}"
                )));
            }
        })
    }
}

/// The statements that take a deleted participant out of the log: the
/// rows naming them or their pairs (run before the pairs are deleted).
pub(super) fn forget(participant: &str) -> Vec<Statement> {
    vec![
        (
            "DELETE FROM assistant_changes WHERE kind = 'pair' AND key IN
             (SELECT id FROM assistant_pairs WHERE mentor = $1 OR mentee = $1)",
            vec![participant.into()],
        ),
        (
            "DELETE FROM assistant_changes WHERE key = $1
             AND kind IN ('participant', 'connection', 'hours')",
            vec![participant.into()],
        ),
    ]
}

/// The statements that end a write of the records: the revision's bump
/// (which takes the row lock that orders writers), one row per change
/// under the new revision, and the trim of rows older than [`RETAINED`].
pub(super) fn logged(changes: &[Change]) -> Vec<Statement> {
    let mut out: Vec<Statement> = vec![(
        "UPDATE assistant_revision SET revision = revision + 1 WHERE id = 1",
        Vec::new(),
    )];
    for change in changes {
        let (kind, key) = change.parts();
        out.push((
            "INSERT INTO assistant_changes (revision, kind, key)
             SELECT revision, $1, $2 FROM assistant_revision WHERE id = 1
             ON CONFLICT DO NOTHING",
            vec![kind.into(), key.into()],
        ));
    }
    out.push((
        "DELETE FROM assistant_changes
         WHERE revision <= (SELECT revision FROM assistant_revision WHERE id = 1) - $1",
        vec![Value::Int(RETAINED)],
    ));
    out
}

/// What changed between two revisions.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ChangeSet {
    /// The revision the changes bring an instance to.
    pub(crate) revision: i64,
    /// Each changed record once.
    pub(crate) changes: BTreeSet<Change>,
}

impl Store {
    /// The records changed after revision `since`, up to the current one
    /// (tests; [`changes_between`](Self::changes_between) does the work).
    ///
    /// # Errors
    /// [`StoreError`].
    #[cfg(test)]
    pub(crate) async fn changes_since(&self, since: i64) -> Result<Option<ChangeSet>, StoreError> {
        let revision = self.revision().await?;
        self.changes_between(since, revision).await
    }

    /// The records changed after revision `since`, up to `revision` (one
    /// the caller just read); `None` when the log cannot say (more than
    /// [`RETAINED`] revisions behind, more than [`MOST_APPLIED`] rows, a
    /// revision with no row: trimmed, or written by an older build; or
    /// [`Change::Everything`]), so the caller loads everything.
    ///
    /// # Errors
    /// [`StoreError`].
    pub(crate) async fn changes_between(
        &self,
        since: i64,
        revision: i64,
    ) -> Result<Option<ChangeSet>, StoreError> {
        let behind = revision.saturating_sub(since);
        if behind <= 0 {
            return Ok(Some(ChangeSet {
                revision,
                changes: BTreeSet::new(),
            }));
        }
        if since <= 0 || behind > RETAINED || behind > MOST_APPLIED {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT revision, kind, key FROM assistant_changes
                 WHERE revision > $1 AND revision <= $2 ORDER BY revision LIMIT $3",
                vec![since.into(), revision.into(), (MOST_APPLIED + 1).into()],
            )
            .await?;
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) > MOST_APPLIED {
            return Ok(None);
        }
        let mut revisions = BTreeSet::new();
        let mut changes = BTreeSet::new();
        for row in &rows {
            revisions.insert(int(row, 0)?);
            match Change::parse(&text(row, 1)?, text(row, 2)?)? {
                Change::Everything => return Ok(None),
                change => changes.insert(change),
            };
        }
        // Every revision in between left at least one row, unless it was
        // trimmed or written without the log.
        if i64::try_from(revisions.len()).unwrap_or(0) != behind {
            return Ok(None);
        }
        Ok(Some(ChangeSet { revision, changes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Participant, Program, ProgramId};

    #[tokio::test]
    async fn each_write_names_its_records_and_a_gap_asks_for_everything() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_sqlite(dir.path().join("s.sqlite3"))
            .await
            .unwrap();
        let start = s.revision().await.unwrap();
        assert_eq!(start, 0);
        s.put_program(&Program::new("p", "P")).await.unwrap();
        let after_program = s.revision().await.unwrap();
        s.put_participant(
            &Participant::new("a", "A", "a@example.org", "Europe/Paris"),
            &[ProgramId::new("p")],
        )
        .await
        .unwrap();
        s.put_hours(&crate::model::ParticipantId::new("a"), None)
            .await
            .unwrap();
        let set = s.changes_since(after_program).await.unwrap().unwrap();
        assert_eq!(set.revision, after_program + 2);
        assert_eq!(
            set.changes.into_iter().collect::<Vec<_>>(),
            [Change::Participant("a".into()), Change::Hours("a".into())]
        );
        // Nothing new: an empty set at the same revision.
        let none = s.changes_since(after_program + 2).await.unwrap().unwrap();
        assert!(none.changes.is_empty());
        // From nothing loaded (revision 0): everything.
        assert_eq!(s.changes_since(0).await.unwrap(), None);
        // A bump without a row (a build before the log): everything.
        s.db.write(
            vec![(
                "UPDATE assistant_revision SET revision = revision + 1 WHERE id = 1",
                Vec::new(),
            )],
            false,
        )
        .await
        .unwrap();
        assert_eq!(s.changes_since(after_program).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_log_keeps_the_retained_revisions_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_sqlite(dir.path().join("s.sqlite3"))
            .await
            .unwrap();
        // A write at revision 1, then a jump to the trim's edge: the next
        // write's trim takes revision 1's row.
        s.put_program(&Program::new("p", "P")).await.unwrap();
        s.db.write(
            vec![(
                "UPDATE assistant_revision SET revision = $1 WHERE id = 1",
                vec![Value::Int(RETAINED)],
            )],
            false,
        )
        .await
        .unwrap();
        s.put_program(&Program::new("q", "Q")).await.unwrap();
        let rows =
            s.db.query(
                "SELECT revision FROM assistant_changes ORDER BY revision",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(rows, [vec![Value::Int(RETAINED + 1)]]);
    }
}
