//! Busy times per participant: who answers for whom ([`Target`]), one
//! batched fetch per source ([`fetch`]), and the cache seam
//! ([`BusyCache`]) with its two backends: [`LocalCache`] in this process's
//! memory (a SQLite store, one instance) and, with the `postgres` feature,
//! [`SharedCache`] in the database, refreshed under leases by one instance
//! per TTL. Both use one single-flight mechanism ([`flight`]) and one
//! freshness rule ([`usable_for`]).
//!
//! Nothing here reads a record or decides who may see what: the assistant
//! resolves targets and checks access before it asks.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use availability::{AccountId, FreeBusy, FreeBusySource, FreeBusySourceExt, Interval, SourceError};

use crate::model::ParticipantId;

mod flight;
mod local;
#[cfg(feature = "postgres")]
mod shared;

pub(crate) use local::LocalCache;
#[cfg(feature = "postgres")]
pub(crate) use shared::SharedCache;

/// Which source answers for a participant: their own connection's provider,
/// or an organisation integration. Requests are batched per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SourceKey {
    /// The participant's own connection.
    Personal(policy_rules::Provider),
    /// An organisation integration covering them.
    Organisation(org_wide_auth::IntegrationKind),
}

impl SourceKey {
    /// The stored spelling (`personal:google`, `organisation:google_workspace`).
    #[cfg(feature = "postgres")]
    pub(crate) fn as_text(self) -> String {
        match self {
            Self::Personal(p) => format!("personal:{}", p.as_str()),
            Self::Organisation(kind) => format!("organisation:{}", kind.as_str()),
        }
    }

    /// Whether a stored spelling names this key. Builds before
    /// `IntegrationKind::as_str` stored an organisation key in its `Debug`
    /// form (`organisation:GoogleWorkspace`): rows they wrote stay usable.
    #[cfg(feature = "postgres")]
    pub(crate) fn matches_text(self, text: &str) -> bool {
        if text == self.as_text() {
            return true;
        }
        match self {
            Self::Organisation(kind) => text
                .strip_prefix("organisation:")
                .is_some_and(|rest| rest == format!("{kind:?}")),
            Self::Personal(_) => false,
        }
    }
}

/// One participant to read.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// Whose busy times.
    pub(crate) participant: ParticipantId,
    /// Which source answers (the batch they go in).
    pub(crate) key: SourceKey,
    /// The account the source reads.
    pub(crate) account: AccountId,
    /// The source.
    pub(crate) source: Arc<dyn FreeBusySource>,
}

/// What a fetch round did, for counting and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchCounts {
    /// Participants whose busy time was fetched from a source.
    pub fetched: usize,
    /// Of those, how many failed.
    pub failed: usize,
}

/// What sees every fresh answer (to update connection statuses).
pub(crate) type OnFetched<'a> = &'a (dyn Fn(&Target, &Result<FreeBusy, SourceError>) + Sync);

/// Each participant's busy time (clipped to the asked window) or why it
/// could not be read.
pub(crate) type Answers = HashMap<ParticipantId, Result<FreeBusy, SourceError>>;

/// One read of busy times through a [`BusyCache`].
pub(crate) struct BusyQuery<'a> {
    /// Whom to read.
    pub(crate) targets: &'a [Target],
    /// The window answered (each answer is clipped to it).
    pub(crate) window: Interval,
    /// The window a fetch reads (contains `window`; wider, so nearby
    /// requests hit the cache).
    pub(crate) fetch_window: Interval,
    /// Fetch even when the cache is fresh.
    pub(crate) force: bool,
    /// Wait for participants another instance is refreshing (a request);
    /// without it only what this instance may refresh is read (the
    /// background refresher). A single instance has nobody to wait for.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) wait: bool,
    /// Sees every fresh answer.
    pub(crate) on_fetched: OnFetched<'a>,
}

/// The busy-time cache seam: one participant's entry per source and
/// account, fresh for the TTL (errors for at most a minute), fetched once
/// however many callers want it.
#[async_trait]
pub(crate) trait BusyCache: std::fmt::Debug + Send + Sync {
    /// The busy time of each target over `query.window`, from the cache
    /// when fresh, else fetched over `query.fetch_window`, batched per
    /// source, one fetch per participant across concurrent callers. Every
    /// target gets an answer.
    async fn get(&self, query: BusyQuery<'_>) -> (Answers, FetchCounts);

    /// Forgets a participant (disconnected, reconnected).
    async fn forget(&self, participant: &ParticipantId);

    /// Of `participants`, those whose busy times are older than the TTL
    /// (or missing) and that no instance is fetching now, oldest first
    /// (never read first), so a refresher with a budget never starves
    /// anyone.
    async fn stale(&self, participants: Vec<ParticipantId>) -> Vec<ParticipantId>;

    /// The last error read for a participant, if their last read failed.
    async fn last_error(&self, participant: &ParticipantId) -> Option<SourceError>;

    /// When the participant's calendar was last read successfully (Unix
    /// seconds), while that answer is kept; `None` if never, or if the
    /// last read failed.
    async fn last_read(&self, participant: &ParticipantId) -> Option<i64>;
}

/// Errors are kept this long at most (milliseconds), so a failing
/// provider is not asked again by every request, yet recovers soon.
const ERROR_TTL_MS: i64 = 60_000;

/// Whether a result fetched at `fetched_ms` over `fetched_window` answers
/// for `window` at `now_ms`: successes for the TTL, errors for at most a
/// minute (or as long as the source asked to wait, up to the TTL). Times
/// and the TTL are in milliseconds.
pub(crate) fn usable_for(
    result: &Result<FreeBusy, SourceError>,
    fetched_ms: i64,
    fetched_window: Interval,
    ttl_ms: i64,
    window: Interval,
    now_ms: i64,
) -> bool {
    let ttl = match result {
        Ok(_) => ttl_ms,
        Err(e) => {
            let asked = e
                .retry_after()
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            ttl_ms.min(ERROR_TTL_MS.max(asked))
        }
    };
    now_ms.saturating_sub(fetched_ms) < ttl && fetched_window.contains_interval(&window)
}

/// A result clipped to `window`.
pub(crate) fn clip(
    result: &Result<FreeBusy, SourceError>,
    window: Interval,
) -> Result<FreeBusy, SourceError> {
    result
        .as_ref()
        .map(|fb| fb.clip(window))
        .map_err(Clone::clone)
}

/// The answer for targets still unanswered when a read gives up.
pub(crate) fn not_in_time(message: &str) -> SourceError {
    SourceError::Unavailable {
        message: message.to_owned(),
        retry_after: None,
    }
}

/// Fetches targets grouped by source key, the groups concurrently; each
/// group goes through [`FreeBusySourceExt::query`], which splits it by the
/// source's `Capabilities` (accounts per request, window length).
pub(crate) async fn fetch(
    targets: &[&Target],
    window: Interval,
) -> Vec<Result<FreeBusy, SourceError>> {
    let mut groups: Vec<(SourceKey, Vec<usize>)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| *k == t.key) {
            Some((_, members)) => members.push(i),
            None => groups.push((t.key, vec![i])),
        }
    }
    let futures = groups.iter().map(|(_, members)| {
        let source = Arc::clone(&targets[members[0]].source);
        let accounts: Vec<AccountId> = members
            .iter()
            .map(|&i| targets[i].account.clone())
            .collect();
        async move { source.query(window, &accounts).await }
    });
    let responses = futures_util::future::join_all(futures).await;
    let mut out: Vec<Option<Result<FreeBusy, SourceError>>> = vec![None; targets.len()];
    for ((_, members), response) in groups.iter().zip(responses) {
        for (&i, answer) in members.iter().zip(response.accounts) {
            out[i] = Some(answer.result);
        }
    }
    out.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(SourceError::InvalidResponse {
                    message: "the source did not answer for this account".to_owned(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use availability::{BusyKind, FreeBusy};

    use super::*;

    fn iv(a: i64, b: i64) -> Interval {
        Interval::new(a, b).unwrap()
    }

    #[test]
    fn successes_are_fresh_for_the_ttl_and_only_inside_their_window() {
        let ok: Result<FreeBusy, SourceError> = Ok(FreeBusy::default());
        let fetched = iv(0, 1_000);
        assert!(usable_for(&ok, 0, fetched, 600_000, iv(10, 20), 599_999));
        assert!(!usable_for(&ok, 0, fetched, 600_000, iv(10, 20), 600_000));
        assert!(!usable_for(&ok, 0, fetched, 600_000, iv(900, 1_001), 1));
    }

    #[test]
    fn errors_are_kept_a_minute_or_as_long_as_asked_up_to_the_ttl() {
        let w = iv(0, 10);
        let plain = Err(SourceError::Forbidden {
            message: String::new(),
        });
        assert!(usable_for(&plain, 0, w, 600_000, w, 59_999));
        assert!(!usable_for(&plain, 0, w, 600_000, w, 60_000));
        let asked = Err(SourceError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(120)),
        });
        assert!(usable_for(&asked, 0, w, 600_000, w, 119_999));
        assert!(!usable_for(&asked, 0, w, 600_000, w, 120_000));
        // Never longer than the TTL, whatever the source asked.
        assert!(!usable_for(&asked, 0, w, 30_000, w, 30_000));
    }

    #[test]
    fn clipping_keeps_errors_and_cuts_busy_time_to_the_window() {
        let busy = Ok(FreeBusy::from_entries([(BusyKind::Busy, iv(0, 100))]));
        let clipped = clip(&busy, iv(50, 60)).unwrap();
        assert_eq!(
            clipped
                .unavailable(availability::KindSet::default())
                .into_vec(),
            vec![iv(50, 60)]
        );
        let err: Result<FreeBusy, SourceError> = Err(SourceError::NotFound {
            message: "x".into(),
        });
        assert!(clip(&err, iv(0, 1)).is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn source_keys_are_stored_by_their_one_spelling_and_read_in_the_old_one() {
        use org_wide_auth::IntegrationKind;
        let google = SourceKey::Personal(policy_rules::Provider::Google);
        assert_eq!(google.as_text(), "personal:google");
        let org = SourceKey::Organisation(IntegrationKind::GoogleWorkspace);
        assert_eq!(org.as_text(), "organisation:google_workspace");
        assert!(org.matches_text("organisation:google_workspace"));
        assert!(org.matches_text("organisation:GoogleWorkspace"));
        assert!(!org.matches_text("organisation:ExchangeOnline"));
        assert!(!google.matches_text("personal:microsoft"));
    }
}
