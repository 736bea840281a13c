//! `assistant_sessions` (sign-in sessions of the HTTP layer, under a hash
//! of their token) and `assistant_settings` (run-time settings by key).

#[cfg(feature = "http")]
use super::db::int;
use super::db::text;
use super::{Store, StoreError};

/// A stored session: whom it acts as (the HTTP layer's JSON of an actor),
/// when it began and when it was last used, in whole seconds.
#[cfg(feature = "http")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredSession {
    pub(crate) actor_json: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen: i64,
}

impl Store {
    #[cfg(feature = "http")]
    /// Keeps a new session, first removing the expired ones (`idle_before`:
    /// last used before it; `created_before`: begun before it), then, while
    /// more than `cap - 1` remain, the least recently used: the store never
    /// holds more than `cap` sessions.
    pub(crate) async fn put_session(
        &self,
        token_hash: &str,
        session: &StoredSession,
        expired: (i64, i64),
        cap: usize,
    ) -> Result<(), StoreError> {
        let (idle_before, created_before) = expired;
        let keep = super::i64_of(cap.saturating_sub(1));
        self.db
            .write(
                vec![
                    (
                        "DELETE FROM assistant_sessions WHERE last_seen < $1 OR created_at < $2",
                        vec![idle_before.into(), created_before.into()],
                    ),
                    (
                        "DELETE FROM assistant_sessions WHERE token_hash NOT IN (\
                         SELECT token_hash FROM assistant_sessions \
                         ORDER BY last_seen DESC, token_hash LIMIT $1)",
                        vec![keep.into()],
                    ),
                    (
                        "INSERT INTO assistant_sessions \
                         (token_hash, actor_json, created_at, last_seen) VALUES ($1, $2, $3, $4)",
                        vec![
                            token_hash.into(),
                            session.actor_json.as_str().into(),
                            session.created_at.into(),
                            session.last_seen.into(),
                        ],
                    ),
                ],
                false,
            )
            .await
            .map(|_| ())
    }

    #[cfg(feature = "http")]
    /// The session under `token_hash`, if any.
    pub(crate) async fn session(
        &self,
        token_hash: &str,
    ) -> Result<Option<StoredSession>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT actor_json, created_at, last_seen FROM assistant_sessions \
                 WHERE token_hash = $1",
                vec![token_hash.into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(StoredSession {
            actor_json: text(row, 0)?,
            created_at: int(row, 1)?,
            last_seen: int(row, 2)?,
        }))
    }

    #[cfg(feature = "http")]
    /// Records that a session was used at `now`.
    pub(crate) async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        self.db
            .write(
                vec![(
                    // Parameters in the order they appear (SQLite numbers
                    // `$n` by first appearance).
                    "UPDATE assistant_sessions SET last_seen = $1 WHERE token_hash = $2",
                    vec![now.into(), token_hash.into()],
                )],
                false,
            )
            .await
            .map(|_| ())
    }

    #[cfg(feature = "http")]
    /// Removes a session (sign-out, or found expired); whether it existed.
    pub(crate) async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.db
            .write(
                vec![(
                    "DELETE FROM assistant_sessions WHERE token_hash = $1",
                    vec![token_hash.into()],
                )],
                true,
            )
            .await
    }

    #[cfg(feature = "http")]
    /// Every stored session, by token hash.
    pub(crate) async fn all_sessions(&self) -> Result<Vec<(String, StoredSession)>, StoreError> {
        self.db
            .query(
                "SELECT token_hash, actor_json, created_at, last_seen FROM assistant_sessions",
                Vec::new(),
            )
            .await?
            .iter()
            .map(|row| {
                Ok((
                    text(row, 0)?,
                    StoredSession {
                        actor_json: text(row, 1)?,
                        created_at: int(row, 2)?,
                        last_seen: int(row, 3)?,
                    },
                ))
            })
            .collect()
    }

    /// A run-time setting (`assistant_settings`), if set.
    pub(crate) async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT value FROM assistant_settings WHERE key = $1",
                vec![key.into()],
            )
            .await?;
        rows.first().map(|r| text(r, 0)).transpose()
    }

    /// Sets a run-time setting, bumping the records' revision so every
    /// instance reloads what depends on it.
    pub(crate) async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.db
            .transaction(
                vec![
                    (
                        "DELETE FROM assistant_settings WHERE key = $1",
                        vec![key.into()],
                    ),
                    (
                        "INSERT INTO assistant_settings (key, value) VALUES ($1, $2)",
                        vec![key.into(), value.into()],
                    ),
                ],
                &[super::Change::Setting(key.to_owned())],
            )
            .await
    }
}
