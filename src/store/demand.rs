//! `assistant_demand`: when someone last asked for a participant's busy
//! time (a read, a poll, a booking), by any instance. The background
//! refresher keeps these participants (the working set) fresh and leaves
//! the others to be read on demand. Only a participant's id and an instant
//! are kept; a deleted participant's row goes with them (`records.rs`).

use super::db::{Statement, Value, int, text};
use super::{Store, StoreError};
use crate::model::ParticipantId;

impl Store {
    /// Records that `participants` were asked for at `at` (Unix seconds);
    /// a later mark is never moved back.
    pub(crate) async fn put_demand(
        &self,
        participants: &[String],
        at: i64,
    ) -> Result<(), StoreError> {
        let statements: Vec<Statement> = participants
            .iter()
            .map(|p| {
                (
                    "INSERT INTO assistant_demand (participant_id, demanded_at) VALUES ($1, $2)
                     ON CONFLICT (participant_id) DO UPDATE SET demanded_at = excluded.demanded_at
                     WHERE assistant_demand.demanded_at < excluded.demanded_at",
                    vec![p.as_str().into(), Value::Int(at)],
                )
            })
            .collect();
        self.db.write(statements, false).await.map(|_| ())
    }

    /// The participants asked for at or after `since`, most recently
    /// asked first; older marks are deleted.
    pub(crate) async fn demanded_since(
        &self,
        since: i64,
    ) -> Result<Vec<(ParticipantId, i64)>, StoreError> {
        self.db
            .write(
                vec![(
                    "DELETE FROM assistant_demand WHERE demanded_at < $1",
                    vec![Value::Int(since)],
                )],
                false,
            )
            .await?;
        self.db
            .query(
                "SELECT participant_id, demanded_at FROM assistant_demand
                 WHERE demanded_at >= $1 ORDER BY demanded_at DESC, participant_id",
                vec![Value::Int(since)],
            )
            .await?
            .iter()
            .map(|r| Ok((ParticipantId::new(text(r, 0)?), int(r, 1)?)))
            .collect()
    }
}
