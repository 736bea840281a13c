//! The [`Assistant`]: one type whose `impl` is spread over this module's
//! files by job (see ARCHITECTURE.md). This file holds the shared state.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use availability::{Clock, FreeBusySource};
use credential_vault::Vault;
use org_wide_auth::{IntegrationKind, OrgAuth};
use policy_rules::{PolicyLayer, ProgramPolicy, Provider};

use crate::busy::BusyCache;
use crate::connect::{CalDavValidator, OAuthConnector};
use crate::model::{
    Connection, Group, GroupId, Pair, PairId, Participant, ParticipantId, Program, ProgramId,
};
use crate::store::Store;

mod access;
mod admin;
mod apply;
mod attempts;
mod booking;
mod builder;
mod connections;
mod hours;
mod lifecycle;
mod organisation;
mod polls;
mod reads;
mod records;
mod slots;
mod status;
mod sync;

pub use access::{Act, REASON_NOT_CONNECTED, REASON_RECONNECT, REASON_UNREADABLE, Relation};
pub use admin::{
    ConnectedCounts, IntegrationConfig, NeedsReconnecting, ParticipantReport, ProgramReport,
};
pub use booking::{BookOptions, Booking};
pub use builder::AssistantBuilder;
pub use connections::{ConnectBinding, ConnectDone, ConnectStart};
pub(crate) use connections::{PendingConnect, owner};
#[cfg(feature = "http")]
pub(crate) use connections::{hex, sha256_hex};
pub use lifecycle::{EndedPair, Listed};
pub(crate) use organisation::{restore_integration, stored_integrations};
pub use polls::{PollOptions, PollSlot, PollSummary, PollView, SlotAvailability, VoteCounts};
pub use reads::Availability;
pub(crate) use records::load_records;
pub use slots::{Invitees, Problem, Proposal, ProposedSlot, SlotRequest};
pub use status::ConnectionStatus;
pub use sync::Refresher;

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Records {
    pub(crate) programs: BTreeMap<ProgramId, (Program, ProgramPolicy)>,
    pub(crate) participants: BTreeMap<ParticipantId, (Participant, Vec<ProgramId>)>,
    /// Current pairs only.
    pub(crate) pairs: BTreeMap<PairId, Pair>,
    /// Ended pairs, with when they ended: history, granting nothing.
    pub(crate) ended_pairs: BTreeMap<PairId, (Pair, i64)>,
    /// Archived programs (still in `programs`): they link nobody, and
    /// nothing is read, proposed or connected through them.
    pub(crate) archived: std::collections::BTreeSet<ProgramId>,
    pub(crate) groups: BTreeMap<GroupId, Group>,
    pub(crate) connections: HashMap<ParticipantId, Connection>,
    /// Participants' own hours (only those who narrowed theirs).
    pub(crate) hours: HashMap<ParticipantId, policy_rules::ParticipantHours>,
    /// Who is in which current pair and group, built from the maps above
    /// when first asked after a write ([`Assistant::records_mut`] clears
    /// it): the access check looks a viewer's links up instead of scanning
    /// every pair and group.
    pub(crate) links: LinkCache,
}

impl Records {
    /// The links of the records as they are now.
    pub(crate) fn links(&self) -> &Links {
        self.links.0.get_or_init(|| {
            let mut links = Links::default();
            for pair in self.pairs.values() {
                for who in [&pair.mentor, &pair.mentee] {
                    links
                        .pairs_of
                        .entry(who.clone())
                        .or_default()
                        .push(pair.id.clone());
                }
            }
            for group in self.groups.values() {
                for who in &group.members {
                    let of = links.groups_of.entry(who.clone()).or_default();
                    if of.last() != Some(&group.id) {
                        of.push(group.id.clone());
                    }
                }
            }
            links
        })
    }
}

/// Each participant's current pairs and groups, in id order.
#[derive(Debug, Default)]
pub(crate) struct Links {
    pub(crate) pairs_of: HashMap<ParticipantId, Vec<PairId>>,
    pub(crate) groups_of: HashMap<ParticipantId, Vec<GroupId>>,
}

/// [`Links`], derived: equal whatever it holds, and not printed (two
/// copies of the same records compare and print alike).
#[derive(Default)]
pub(crate) struct LinkCache(std::sync::OnceLock<Links>);

impl PartialEq for LinkCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for LinkCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCache")
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    /// The zone book the embedder's CalDAV logins read, if given.
    pub(crate) zones: Option<crate::vault_adapters::ParticipantZones>,
    pub(crate) vault: Arc<Vault>,
    pub(crate) sources: HashMap<Provider, Arc<dyn FreeBusySource>>,
    pub(crate) oauth: HashMap<Provider, Arc<dyn OAuthConnector>>,
    pub(crate) caldav: Option<Arc<dyn CalDavValidator>>,
    pub(crate) org: Option<Arc<OrgAuth>>,
    pub(crate) org_policy: PolicyLayer,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) lookahead_secs: i64,
    pub(crate) connect_expiry_secs: i64,
    /// How long busy times are reused (seconds).
    pub(crate) ttl_secs: i64,
    /// How long after the last ask a participant stays in the refresher's
    /// working set (seconds).
    pub(crate) working_set_secs: i64,
    /// When this instance last recorded each participant as asked for
    /// (the store's mark is rewritten at most once per 24th of the working
    /// set: `sync::demand_every`).
    pub(crate) demand: Mutex<HashMap<ParticipantId, i64>>,
    pub(crate) records: RwLock<Records>,
    pub(crate) pending: Mutex<HashMap<String, PendingConnect>>,
    pub(crate) cache: Box<dyn BusyCache>,
    /// The store's records revision this instance last loaded.
    pub(crate) revision: std::sync::atomic::AtomicI64,
    /// One reload at a time (the others then find it done); also held
    /// while an integration is enabled or disabled here, so a reload never
    /// sees it changed in memory but not yet in the store.
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// The stored organisation-integration settings this instance applied,
    /// as stored text by kind (a re-enabled integration's text differs).
    pub(crate) integrations: Mutex<BTreeMap<IntegrationKind, String>>,
    /// An integration could not be applied at the last reload: the next
    /// sync tries again even if nothing was written since.
    pub(crate) integrations_pending: std::sync::atomic::AtomicBool,
    /// How meetings are sent when no scheduling account books them.
    pub(crate) invitations: Option<Arc<dyn availability::MeetingSender>>,
}

/// The scheduling assistant. Cheap to clone (shared state); every
/// dependency is injected through [`Assistant::builder`].
///
/// Setting up programs, participants, pairs and groups is your service's
/// job (it knows who administers what), so those methods take no
/// [`Actor`](crate::Actor). Connecting, reading availability and polling do: the
/// assistant enforces who may see and do what.
#[derive(Clone)]
pub struct Assistant {
    inner: Arc<Inner>,
}

impl fmt::Debug for Assistant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assistant")
            .field("store", &self.inner.store)
            .field("providers", &self.inner.sources.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Assistant {
    /// Starts building an assistant.
    pub fn builder() -> AssistantBuilder {
        AssistantBuilder::default()
    }

    pub(crate) fn records(&self) -> std::sync::RwLockReadGuard<'_, Records> {
        self.inner
            .records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The records to change; their derived [`Links`] are dropped, to be
    /// built again from the changed records when next asked.
    pub(crate) fn records_mut(&self) -> std::sync::RwLockWriteGuard<'_, Records> {
        let mut records = self
            .inner
            .records
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        records.links = LinkCache::default();
        records
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.inner.clock.now().as_second()
    }

    /// Writes every participant's zone into the zone book, if there is one.
    pub(crate) fn publish_zones(&self) {
        if let Some(zones) = &self.inner.zones {
            let records = self.records();
            zones.replace_all(
                records
                    .participants
                    .values()
                    .map(|(p, _)| (p.email.as_str(), p.time_zone.as_str())),
            );
        }
    }

    /// The assistant's "now" (its injected clock).
    pub fn now(&self) -> jiff::Timestamp {
        self.inner.clock.now()
    }

    /// The store (for its path and schema version).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}
