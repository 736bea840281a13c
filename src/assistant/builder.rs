//! [`AssistantBuilder`]: injected dependencies, loading the stored records
//! and integrations, choosing the busy-time cache for the store.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use availability::{Clock, FreeBusySource, SystemClock};
use credential_vault::Vault;
use org_wide_auth::{IntegrationKind, IntegrationSettings, OrgAuth};
use policy_rules::{PolicyLayer, Provider};

use crate::busy::{BusyCache, LocalCache};
use crate::connect::{CalDavValidator, OAuthConnector};
use crate::error::{AssistantError, BuildError};
use crate::store::Store;

use super::{Assistant, Inner, load_records, restore_integration, stored_integrations};

/// Builds an [`Assistant`]. `store` and `vault` are required.
#[must_use]
#[derive(Default)]
pub struct AssistantBuilder {
    store: Option<Store>,
    vault: Option<Arc<Vault>>,
    sources: HashMap<Provider, Arc<dyn FreeBusySource>>,
    oauth: HashMap<Provider, Arc<dyn OAuthConnector>>,
    caldav: Option<Arc<dyn CalDavValidator>>,
    org: Option<Arc<OrgAuth>>,
    org_policy: PolicyLayer,
    clock: Option<Arc<dyn Clock>>,
    ttl: Option<Duration>,
    lease: Option<Duration>,
    lookahead: Option<Duration>,
    working_set: Option<Duration>,
    connect_expiry: Option<Duration>,
    zones: Option<crate::vault_adapters::ParticipantZones>,
    invitations: Option<Arc<dyn availability::MeetingSender>>,
}

impl fmt::Debug for AssistantBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssistantBuilder").finish_non_exhaustive()
    }
}

/// The default of [`AssistantBuilder::refresh_lease`].
const DEFAULT_REFRESH_LEASE: Duration = Duration::from_secs(60);

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl AssistantBuilder {
    /// Where programs, participants and connections are kept. On
    /// PostgreSQL the busy-time cache lives there too, shared by every
    /// instance on the database (see [`refresh_lease`](Self::refresh_lease)).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Where OAuth tokens and app-specific passwords are kept.
    pub fn vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The free/busy source for a provider's personal connections (for
    /// Google and Microsoft, built over `VaultTokens`; for iCloud, a
    /// `CalDavSource` over `VaultCalDavLogins`).
    pub fn source(mut self, provider: Provider, source: Arc<dyn FreeBusySource>) -> Self {
        self.sources.insert(provider, source);
        self
    }

    /// The OAuth authorization for Google or Microsoft connections.
    pub fn oauth(mut self, provider: Provider, connector: Arc<dyn OAuthConnector>) -> Self {
        self.oauth.insert(provider, connector);
        self
    }

    /// How iCloud logins are checked before they are stored.
    pub fn caldav_validator(mut self, validator: Arc<dyn CalDavValidator>) -> Self {
        self.caldav = Some(validator);
        self
    }

    /// The organisation integrations (participants they cover, without a
    /// connection of their own, are connected through them).
    pub fn org_auth(mut self, org: Arc<OrgAuth>) -> Self {
        self.org = Some(org);
        self
    }

    /// The organisation's policy, under every program's overrides.
    pub fn org_policy(mut self, layer: PolicyLayer) -> Self {
        self.org_policy = layer;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How long busy times are reused (default 10 minutes).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// With a PostgreSQL store, how long an instance's claim to refresh a
    /// participant's busy times lasts before another instance may take it
    /// over (default 60 s). Make it longer than a fetch can take: a
    /// longer fetch may be repeated by another instance; a shorter lease
    /// only makes a crashed instance's participants move on sooner.
    pub fn refresh_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How far ahead a fetch reads, so nearby requests hit the cache
    /// (default 28 days from the start of today, UTC).
    pub fn lookahead(mut self, lookahead: Duration) -> Self {
        self.lookahead = Some(lookahead);
        self
    }

    /// How long after someone last asked for a participant's busy time
    /// (a read, a poll, a booking, on any instance) the background
    /// refresher keeps it fresh (default 24 hours). Others are read when
    /// asked for, so a large organisation's quota goes to the people in use.
    pub fn working_set(mut self, window: Duration) -> Self {
        self.working_set = Some(window);
        self
    }

    /// How long an OAuth connection attempt stays valid (default 10
    /// minutes).
    pub fn connect_expiry(mut self, expiry: Duration) -> Self {
        self.connect_expiry = Some(expiry);
        self
    }

    /// A zone book to keep current with every participant's zone (give the
    /// same book to [`VaultCalDavLogins::with_zones`](crate::VaultCalDavLogins::with_zones),
    /// so floating times and all-day dates in an iCloud calendar without a
    /// declared zone are read in its owner's).
    pub fn participant_zones(mut self, zones: crate::vault_adapters::ParticipantZones) -> Self {
        self.zones = Some(zones);
        self
    }

    /// How booked meetings are sent when no organisation scheduling account
    /// books them: usually [`EmailInvitations`](crate::invite::EmailInvitations)
    /// (iTIP by email, for every participant whatever their calendar).
    /// Without it, booking needs an organisation integration with booking
    /// on for every attendee.
    pub fn invitations(mut self, sender: Arc<dyn availability::MeetingSender>) -> Self {
        self.invitations = Some(sender);
        self
    }

    /// The lease the shared busy-time cache is given: the one set with
    /// [`refresh_lease`](Self::refresh_lease), or the default.
    pub(crate) fn refresh_lease_or_default(&self) -> Duration {
        self.lease.unwrap_or(DEFAULT_REFRESH_LEASE)
    }

    /// Loads the stored records and builds the assistant.
    ///
    /// # Errors
    /// [`AssistantError::Build`] without a store or vault;
    /// [`AssistantError::Invalid`] for a stored program whose policy no
    /// longer resolves;
    /// [`AssistantError::Store`] when loading fails.
    pub async fn build(self) -> Result<Assistant, AssistantError> {
        let lease = self.refresh_lease_or_default();
        let store = self.store.ok_or(BuildError::MissingStore)?;
        let vault = self.vault.ok_or(BuildError::MissingVault)?;
        let ttl = self.ttl.unwrap_or(Duration::from_secs(600));
        let revision = store.revision().await?;
        let records = load_records(&store, &self.org_policy).await?;
        let mut applied = BTreeMap::new();
        if let Some(org) = &self.org {
            let enabled: Vec<IntegrationKind> = org
                .settings()
                .await
                .iter()
                .map(IntegrationSettings::kind)
                .collect();
            for (settings, json) in stored_integrations(&store).await? {
                if enabled.contains(&settings.kind()) || restore_integration(org, &settings).await {
                    applied.insert(settings.kind(), json);
                }
            }
        }
        let store_for_cache = store.clone();
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let cache = busy_cache(&store_for_cache, &clock, ttl, lease);
        let assistant = Assistant {
            inner: Arc::new(Inner {
                store,
                vault,
                sources: self.sources,
                oauth: self.oauth,
                caldav: self.caldav,
                org: self.org,
                org_policy: self.org_policy,
                clock,
                lookahead_secs: secs(self.lookahead.unwrap_or(Duration::from_secs(28 * 86_400))),
                connect_expiry_secs: secs(self.connect_expiry.unwrap_or(Duration::from_secs(600))),
                ttl_secs: secs(ttl),
                working_set_secs: secs(self.working_set.unwrap_or(Duration::from_secs(86_400))),
                demand: Mutex::new(HashMap::new()),
                records: RwLock::new(records),
                pending: Mutex::new(HashMap::new()),
                cache,
                revision: std::sync::atomic::AtomicI64::new(revision),
                reloading: tokio::sync::Mutex::new(()),
                integrations: Mutex::new(applied),
                integrations_pending: std::sync::atomic::AtomicBool::new(false),
                zones: self.zones,
                invitations: self.invitations,
            }),
        };
        assistant.publish_zones();
        assistant.sync_organisation().await;
        Ok(assistant)
    }
}

/// The busy-time cache for a store: shared through the database on
/// PostgreSQL, in memory on SQLite.
pub(crate) fn busy_cache(
    store: &Store,
    clock: &Arc<dyn Clock>,
    ttl: Duration,
    lease: Duration,
) -> Box<dyn BusyCache> {
    #[cfg(feature = "postgres")]
    if let Some(pool) = store.postgres_pool() {
        return Box::new(crate::busy::SharedCache::new(
            pool,
            Arc::clone(clock),
            ttl,
            lease,
        ));
    }
    let _ = (store, lease);
    Box::new(LocalCache::new(secs(ttl), Arc::clone(clock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README: `refresh_lease` defaults to 60 s; a set one is kept.
    #[test]
    fn the_refresh_lease_defaults_to_sixty_seconds() {
        let builder = Assistant::builder();
        assert_eq!(builder.refresh_lease_or_default(), Duration::from_secs(60));
        let builder = builder.refresh_lease(Duration::from_secs(3));
        assert_eq!(builder.refresh_lease_or_default(), Duration::from_secs(3));
    }
}
