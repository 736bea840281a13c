//! `assistant_oauth_attempts`: OAuth attempts between `begin_connect` and
//! the provider's callback, on a shared (PostgreSQL) store.

#[cfg(feature = "postgres")]
use policy_rules::Provider;

#[cfg(feature = "postgres")]
use super::db::int;
use super::db::text;
use super::{Store, StoreError};
#[cfg(feature = "postgres")]
use crate::assistant::ConnectBinding;
use crate::model::ParticipantId;

impl Store {
    /// Keeps an OAuth attempt (see `Assistant::begin_connect`).
    #[cfg(feature = "postgres")]
    pub(crate) async fn put_attempt(
        &self,
        state_hash: &str,
        participant: &ParticipantId,
        provider: Provider,
        expires_at: i64,
        binding: &ConnectBinding,
    ) -> Result<(), StoreError> {
        self.db
            .query(
                "INSERT INTO assistant_oauth_attempts \
                 (state_hash, participant_id, provider, expires_at, session_hash, return_to) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    state_hash.into(),
                    participant.as_str().into(),
                    provider.as_str().into(),
                    expires_at.into(),
                    binding.session_hash.as_str().into(),
                    binding.return_to.as_str().into(),
                ],
            )
            .await
            .map(|_| ())
    }

    /// Removes and returns an OAuth attempt, once.
    #[cfg(feature = "postgres")]
    pub(crate) async fn take_attempt(
        &self,
        state_hash: &str,
    ) -> Result<Option<(ParticipantId, Provider, i64, ConnectBinding)>, StoreError> {
        let rows = self
            .db
            .query(
                "DELETE FROM assistant_oauth_attempts WHERE state_hash = $1 \
                 RETURNING participant_id, provider, expires_at, session_hash, return_to",
                vec![state_hash.into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let provider: Provider = text(row, 1)?
            .parse()
            .map_err(|_| StoreError::Corrupt("an OAuth attempt's provider".to_owned()))?;
        Ok(Some((
            ParticipantId::new(text(row, 0)?),
            provider,
            int(row, 2)?,
            ConnectBinding {
                session_hash: text(row, 3)?,
                return_to: text(row, 4)?,
            },
        )))
    }

    /// Removes OAuth attempts that expired unused; their state hashes.
    #[cfg(feature = "postgres")]
    pub(crate) async fn take_expired_attempts(&self, now: i64) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "DELETE FROM assistant_oauth_attempts WHERE expires_at <= $1 RETURNING state_hash",
                vec![now.into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
    }

    /// Removes a participant's OAuth attempts (they are being deleted);
    /// their state hashes, whose sealed verifiers the vault holds.
    pub(crate) async fn take_attempts_of(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "DELETE FROM assistant_oauth_attempts WHERE participant_id = $1 RETURNING state_hash",
                vec![participant.as_str().into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect()
    }
}
