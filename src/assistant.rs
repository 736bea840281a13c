//! The [`Assistant`]: programs, participants, connections, cached
//! availability, 1:1 slots and group polls.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use availability::{
    AccountId, Clock, FreeBusy, FreeBusySource, Interval, IntervalSet, KindSet, SlotError,
    SourceError, SystemClock, find_slots,
};
use credential_vault::{AppPassword, Credential, Expect, OwnerId, SecretKind, SecretString, Vault};
use org_wide_auth::{
    ExchangeOnline, GoogleWorkspace, IntegrationKind, IntegrationSettings, OrgAuth,
};
use policy_rules::{PolicyLayer, ProgramPolicy, Provider};
use serde::Serialize;

use crate::cache::{BusyCache, Cache, FetchCounts, SourceKey, Target};
use crate::connect::{CalDavValidator, ConnectFailure, OAuthConnector, PendingExchange};
use crate::model::{
    Actor, Connection, Group, GroupId, Pair, PairId, Participant, ParticipantId, Program,
    ProgramId, provider_name,
};
use crate::store::{Store, StoreError};

/// What went wrong, typed so a service can map it (400, 403, 404, 409).
/// Messages never contain a secret or a calendar's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssistantError {
    /// No such program.
    #[error("unknown program {0}")]
    UnknownProgram(ProgramId),
    /// No such participant.
    #[error("unknown participant {0}")]
    UnknownParticipant(ParticipantId),
    /// No such mentoring connection.
    #[error("unknown pair {0}")]
    UnknownPair(PairId),
    /// No such group.
    #[error("unknown group {0}")]
    UnknownGroup(GroupId),
    /// An administrator tried to connect or disconnect someone's calendar:
    /// only the participant may.
    #[error(
        "only {participant} can connect or disconnect their calendar; \
         an administrator working on their behalf cannot"
    )]
    OnBehalfRefused {
        /// Whose calendar.
        participant: ParticipantId,
    },
    /// The actor may not do this (another participant's calendar, a
    /// non-partner's availability, a group they are not in).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A program the participant is in does not allow this provider.
    #[error("program {program} does not allow {provider} calendars")]
    ProviderNotAllowed {
        /// The provider.
        provider: Provider,
        /// The program refusing it.
        program: ProgramId,
    },
    /// The assistant was built without this provider.
    #[error("{0} calendars are not configured in this assistant")]
    ProviderNotConfigured(Provider),
    /// The program has group polls switched off.
    #[error("program {0} has group polls switched off")]
    GroupPollsDisabled(ProgramId),
    /// The program has the scheduling assistant switched off.
    #[error("program {0} has the scheduling assistant switched off")]
    SchedulingDisabled(ProgramId),
    /// The `state` of an OAuth callback is unknown, used or expired.
    #[error("this connection attempt is unknown or expired; start connecting again")]
    ConnectExpired,
    /// The provider refused the connection (a wrong code, a wrong
    /// app-specific password).
    #[error("the calendar could not be connected: {0}")]
    ConnectFailed(#[from] ConnectFailure),
    /// Bad input (an unknown time zone, an invalid policy, a duplicate
    /// email, an empty window).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An organisation integration could not be enabled or disabled.
    #[error("organisation integration: {0}")]
    Organisation(#[from] org_wide_auth::OrgError),
    /// The vault failed (the message names owner and kind, never the
    /// secret).
    #[error("credential vault: {0}")]
    Vault(String),
}

/// A participant's connection status, with the sentence shown to them
/// ([`text`](Self::text)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// No calendar.
    NotConnected,
    /// Their own calendar is connected and was last read fine (or not yet).
    Connected {
        /// Which provider.
        provider: Provider,
        /// When it was connected (Unix seconds).
        since: i64,
    },
    /// Connected automatically by the organisation's integration.
    ThroughOrganisation {
        /// Which integration (`google_workspace`, `exchange_online`).
        integration: String,
    },
    /// The provider refused the stored credentials: reconnect.
    NeedsReconnecting {
        /// Which provider.
        provider: Provider,
        /// Why, as the provider said.
        reason: String,
    },
    /// Connected, but the last read failed for a passing reason (the
    /// provider was down or rate limiting); their times show as unknown.
    Unreachable {
        /// Which provider, if their own connection.
        provider: Option<Provider>,
        /// Why.
        reason: String,
    },
}

impl ConnectionStatus {
    /// The sentence for the participant, e.g. "Your Google calendar is
    /// connected".
    pub fn text(&self) -> String {
        match self {
            Self::NotConnected => "Your calendar is not connected".to_owned(),
            Self::Connected { provider, .. } => {
                format!("Your {} calendar is connected", provider_name(*provider))
            }
            Self::ThroughOrganisation { .. } => {
                "Your calendar is connected through your organisation".to_owned()
            }
            Self::NeedsReconnecting { provider, reason } => format!(
                "Your {} calendar needs reconnecting ({reason})",
                provider_name(*provider)
            ),
            Self::Unreachable { reason, .. } => {
                format!("Your calendar is connected but could not be read just now ({reason})")
            }
        }
    }

    /// Whether the participant has a usable connection (their times can be
    /// read, now or after a passing failure).
    pub fn is_connected(&self) -> bool {
        matches!(
            self,
            Self::Connected { .. } | Self::ThroughOrganisation { .. } | Self::Unreachable { .. }
        )
    }
}

/// A started OAuth connection.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectStart {
    /// Send the participant's browser here.
    pub authorization_url: String,
    /// When the attempt expires (Unix seconds).
    pub expires_at: i64,
}

/// A participant's unavailable times as their partner sees them: times
/// only, every blocking kind merged into "Unavailable".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// Whose.
    pub participant: ParticipantId,
    /// The window asked about.
    pub window: Interval,
    /// Whether their calendar could be read; when `false`,
    /// [`unavailable`](Self::unavailable) is empty and means nothing.
    pub known: bool,
    /// The unavailable intervals, sorted, disjoint, inside the window.
    pub unavailable: Vec<Interval>,
    /// Why the times are unknown, if they are.
    pub reason: Option<String>,
}

/// A proposed slot and who can make it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProposedSlot {
    /// When.
    pub interval: Interval,
    /// Invitees free for the whole slot.
    pub free: Vec<ParticipantId>,
    /// Invitees with something blocking during it.
    pub unavailable: Vec<ParticipantId>,
    /// Invitees whose calendar is not connected or could not be read:
    /// never counted as free.
    pub unknown: Vec<ParticipantId>,
}

/// Proposed slots for a meeting (a 1:1 or a group poll).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// How many invitees.
    pub invitees: usize,
    /// How many of them have connected a calendar.
    pub connected: usize,
    /// The slots, ranked by free count (descending) then start, none
    /// overlapping a better one.
    pub slots: Vec<ProposedSlot>,
    /// Invitees whose calendar could not be read this time, and why.
    pub problems: Vec<Problem>,
    /// "k of n invitees have connected a calendar".
    pub connected_text: String,
}

/// An invitee whose calendar could not be read for a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Who.
    pub participant: ParticipantId,
    /// Why, as the provider said (never a secret).
    pub reason: String,
}

impl Proposal {
    /// "k of n invitees have connected a calendar".
    pub fn connected_text(&self) -> &str {
        &self.connected_text
    }
}

/// What to look for: a meeting length inside a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRequest {
    /// The meeting length (whole seconds).
    pub duration: Duration,
    /// Where to look (the program's bookable hours inside it).
    pub window: Interval,
    /// At most this many slots (default 5).
    pub limit: usize,
    /// At least this many invitees free; `None`: every invitee whose
    /// calendar is known.
    pub min_free: Option<u32>,
}

impl SlotRequest {
    /// `duration` slots in `window`, at most 5, everyone known free.
    pub fn new(duration: Duration, window: Interval) -> Self {
        Self {
            duration,
            window,
            limit: 5,
            min_free: None,
        }
    }

    /// At most `n` slots.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// At least `k` invitees free.
    #[must_use]
    pub fn min_free(mut self, k: u32) -> Self {
        self.min_free = Some(k);
        self
    }
}

/// Who a poll is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invitees {
    /// Every member of a group, under its program's policy.
    Group(GroupId),
    /// These participants, under this program's policy.
    List {
        /// The program.
        program: ProgramId,
        /// The invitees (each must be in the program).
        participants: Vec<ParticipantId>,
    },
}

struct PendingConnect {
    participant: ParticipantId,
    provider: Provider,
    expires_at: i64,
    exchange: Box<dyn PendingExchange>,
}

#[derive(Default)]
struct Records {
    programs: BTreeMap<ProgramId, (Program, ProgramPolicy)>,
    participants: BTreeMap<ParticipantId, (Participant, Vec<ProgramId>)>,
    pairs: BTreeMap<PairId, Pair>,
    groups: BTreeMap<GroupId, Group>,
    connections: HashMap<ParticipantId, Connection>,
}

struct Inner {
    store: Store,
    vault: Arc<Vault>,
    sources: HashMap<Provider, Arc<dyn FreeBusySource>>,
    oauth: HashMap<Provider, Arc<dyn OAuthConnector>>,
    caldav: Option<Arc<dyn CalDavValidator>>,
    org: Option<Arc<OrgAuth>>,
    org_policy: PolicyLayer,
    clock: Arc<dyn Clock>,
    lookahead_secs: i64,
    connect_expiry_secs: i64,
    records: RwLock<Records>,
    pending: Mutex<HashMap<String, PendingConnect>>,
    cache: BusyCache,
    /// The store's records revision this instance last loaded.
    revision: std::sync::atomic::AtomicI64,
    /// One reload at a time (the others then find it done); also held
    /// while an integration is enabled or disabled here, so a reload never
    /// sees it changed in memory but not yet in the store.
    reloading: tokio::sync::Mutex<()>,
    /// The stored organisation-integration settings this instance applied,
    /// as stored text by kind (a re-enabled integration's text differs).
    integrations: Mutex<BTreeMap<IntegrationKind, String>>,
    /// An integration could not be applied at the last reload: the next
    /// sync tries again even if nothing was written since.
    integrations_pending: std::sync::atomic::AtomicBool,
}

/// The scheduling assistant. Cheap to clone (shared state); every
/// dependency is injected through [`Assistant::builder`].
///
/// Setting up programs, participants, pairs and groups is your service's
/// job (it knows who administers what), so those methods take no
/// [`Actor`]. Connecting, reading availability and polling do: the
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
    connect_expiry: Option<Duration>,
}

impl fmt::Debug for AssistantBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssistantBuilder").finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> i64 {
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

    /// How long an OAuth connection attempt stays valid (default 10
    /// minutes).
    pub fn connect_expiry(mut self, expiry: Duration) -> Self {
        self.connect_expiry = Some(expiry);
        self
    }

    /// Loads the stored records and builds the assistant.
    ///
    /// # Errors
    /// [`AssistantError::Invalid`] without a store or vault, or for a
    /// stored program whose policy no longer resolves;
    /// [`AssistantError::Store`] when loading fails.
    pub async fn build(self) -> Result<Assistant, AssistantError> {
        let store = self
            .store
            .ok_or_else(|| AssistantError::Invalid("the assistant needs a store".to_owned()))?;
        let vault = self
            .vault
            .ok_or_else(|| AssistantError::Invalid("the assistant needs a vault".to_owned()))?;
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
        let cache = busy_cache(&store_for_cache, &clock, ttl, self.lease);
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
                records: RwLock::new(records),
                pending: Mutex::new(HashMap::new()),
                cache,
                revision: std::sync::atomic::AtomicI64::new(revision),
                reloading: tokio::sync::Mutex::new(()),
                integrations: Mutex::new(applied),
                integrations_pending: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        assistant.sync_organisation().await;
        Ok(assistant)
    }
}

/// The busy-time cache for a store: shared through the database on
/// PostgreSQL, in memory on SQLite.
fn busy_cache(
    store: &Store,
    clock: &Arc<dyn Clock>,
    ttl: Duration,
    lease: Option<Duration>,
) -> BusyCache {
    #[cfg(feature = "postgres")]
    if let Some(pool) = store.postgres_pool() {
        return BusyCache::Shared(crate::shared_cache::SharedCache::new(
            pool,
            Arc::clone(clock),
            ttl,
            lease.unwrap_or(Duration::from_secs(60)),
        ));
    }
    let _ = (store, lease);
    BusyCache::Local(Cache::new(secs(ttl), Arc::clone(clock)))
}

/// The stored organisation-integration settings, with their stored text.
async fn stored_integrations(
    store: &Store,
) -> Result<Vec<(IntegrationSettings, String)>, AssistantError> {
    let mut out = Vec::new();
    for json in store.integrations().await? {
        // Unknown fields (the generation `save_integration` adds) are
        // ignored by the settings' serde.
        let settings: IntegrationSettings = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("organisation integration settings: {e}")))?;
        out.push((settings, json));
    }
    Ok(out)
}

/// Re-enables an integration from its stored settings; whether it worked.
/// A failure leaves it off (its participants show as not connected)
/// rather than the assistant down.
async fn restore_integration(org: &OrgAuth, settings: &IntegrationSettings) -> bool {
    match org.restore(settings).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(integration = ?settings.kind(), error = %e, "could not restore an organisation integration");
            false
        }
    }
}

/// Every stored record, with each program's policy resolved.
async fn load_records(store: &Store, org_policy: &PolicyLayer) -> Result<Records, AssistantError> {
    let mut records = Records::default();
    for program in store.programs().await? {
        let policy = resolve_policy(org_policy, &program)?;
        records
            .programs
            .insert(program.id.clone(), (program, policy));
    }
    for (p, programs) in store.participants().await? {
        records.participants.insert(p.id.clone(), (p, programs));
    }
    for pair in store.pairs().await? {
        records.pairs.insert(pair.id.clone(), pair);
    }
    for group in store.groups().await? {
        records.groups.insert(group.id.clone(), group);
    }
    for c in store.connections().await? {
        records.connections.insert(c.participant.clone(), c);
    }
    Ok(records)
}

fn resolve_policy(org: &PolicyLayer, program: &Program) -> Result<ProgramPolicy, AssistantError> {
    let layer = PolicyLayer::from_toml(&program.policy_toml)
        .map_err(|e| AssistantError::Invalid(format!("policy of program {}: {e}", program.id)))?;
    ProgramPolicy::resolve(org, &layer)
        .map_err(|e| AssistantError::Invalid(format!("policy of program {}: {e}", program.id)))
}

fn secret_kind(provider: Provider) -> SecretKind {
    match provider {
        Provider::Google => SecretKind::GoogleOauth,
        Provider::Microsoft => SecretKind::MicrosoftOauth,
        Provider::Icloud => SecretKind::AppleAppPassword,
    }
}

fn owner(account: &str) -> Result<OwnerId, AssistantError> {
    OwnerId::new(account).map_err(|e| AssistantError::Invalid(e.to_string()))
}

/// The key an OAuth attempt is kept under: SHA-256 of its `state`, in hex
/// (the state itself is never stored).
#[cfg(feature = "postgres")]
fn state_hash(state: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, state.as_bytes())
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(feature = "postgres")]
fn attempt_owner(hash: &str) -> Result<OwnerId, AssistantError> {
    owner(&format!("oauth-attempt:{hash}"))
}

fn vault_error(e: credential_vault::VaultError) -> AssistantError {
    AssistantError::Vault(e.to_string())
}

fn integration_name(kind: IntegrationKind) -> &'static str {
    match kind {
        IntegrationKind::GoogleWorkspace => "google_workspace",
        IntegrationKind::ExchangeOnline => "exchange_online",
        _ => "exchange_on_premise",
    }
}

impl Assistant {
    /// Starts building an assistant.
    pub fn builder() -> AssistantBuilder {
        AssistantBuilder::default()
    }

    fn records(&self) -> std::sync::RwLockReadGuard<'_, Records> {
        self.inner
            .records
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn records_mut(&self) -> std::sync::RwLockWriteGuard<'_, Records> {
        self.inner
            .records
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now_secs(&self) -> i64 {
        self.inner.clock.now().as_second()
    }

    /// The assistant's "now" (its injected clock).
    pub fn now(&self) -> jiff::Timestamp {
        self.inner.clock.now()
    }

    // ----- set-up -------------------------------------------------------

    /// Adds or updates a program; its policy TOML must resolve over the
    /// organisation's.
    ///
    /// # Errors
    /// [`AssistantError::Invalid`] for a bad policy, or a storage failure.
    pub async fn add_program(&self, program: Program) -> Result<(), AssistantError> {
        let policy = resolve_policy(&self.inner.org_policy, &program)?;
        self.inner.store.put_program(&program).await?;
        self.records_mut()
            .programs
            .insert(program.id.clone(), (program, policy));
        Ok(())
    }

    /// Adds or updates a participant and enrols them in `programs` (added
    /// to their existing programs). Their time zone must be an IANA name,
    /// their email unique.
    ///
    /// # Errors
    /// [`AssistantError::Invalid`], [`AssistantError::UnknownProgram`], or
    /// a storage failure.
    pub async fn add_participant(
        &self,
        participant: Participant,
        programs: &[ProgramId],
    ) -> Result<(), AssistantError> {
        self.sync().await;
        policy_rules::Zone::new(&participant.time_zone)
            .map_err(|e| AssistantError::Invalid(format!("participant {}: {e}", participant.id)))?;
        if !participant.email.contains('@') || OwnerId::new(&participant.email).is_err() {
            return Err(AssistantError::Invalid(format!(
                "participant {}: not an email address",
                participant.id
            )));
        }
        let mut all = {
            let records = self.records();
            for program in programs {
                if !records.programs.contains_key(program) {
                    return Err(AssistantError::UnknownProgram(program.clone()));
                }
            }
            if records.participants.values().any(|(p, _)| {
                p.id != participant.id && p.email.eq_ignore_ascii_case(&participant.email)
            }) {
                return Err(AssistantError::Invalid(format!(
                    "another participant has the email of {}",
                    participant.id
                )));
            }
            records
                .participants
                .get(&participant.id)
                .map(|(_, p)| p.clone())
                .unwrap_or_default()
        };
        for p in programs {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        self.inner.store.put_participant(&participant, &all).await?;
        if let Some(org) = &self.inner.org
            && !self.records().connections.contains_key(&participant.id)
        {
            org.connect_automatically(std::slice::from_ref(&participant.email))
                .await;
        }
        self.records_mut()
            .participants
            .insert(participant.id.clone(), (participant, all));
        Ok(())
    }

    /// Adds or updates a mentoring connection; both must be in its program.
    ///
    /// # Errors
    /// Unknown ids, [`AssistantError::Invalid`] when someone is not in the
    /// program or is paired with themselves, or a storage failure.
    pub async fn add_pair(&self, pair: Pair) -> Result<(), AssistantError> {
        if pair.mentor == pair.mentee {
            return Err(AssistantError::Invalid(
                "a pair needs two participants".to_owned(),
            ));
        }
        self.sync().await;
        self.check_members(&pair.program, [&pair.mentor, &pair.mentee])?;
        self.inner.store.put_pair(&pair).await?;
        self.records_mut().pairs.insert(pair.id.clone(), pair);
        Ok(())
    }

    /// Adds or updates a group; every member must be in its program.
    ///
    /// # Errors
    /// As [`add_pair`](Self::add_pair).
    pub async fn add_group(&self, group: Group) -> Result<(), AssistantError> {
        self.sync().await;
        self.check_members(&group.program, group.members.iter())?;
        self.inner.store.put_group(&group).await?;
        self.records_mut().groups.insert(group.id.clone(), group);
        Ok(())
    }

    fn check_members<'a>(
        &self,
        program: &ProgramId,
        members: impl IntoIterator<Item = &'a ParticipantId>,
    ) -> Result<(), AssistantError> {
        let records = self.records();
        if !records.programs.contains_key(program) {
            return Err(AssistantError::UnknownProgram(program.clone()));
        }
        for m in members {
            let (_, programs) = records
                .participants
                .get(m)
                .ok_or_else(|| AssistantError::UnknownParticipant(m.clone()))?;
            if !programs.contains(program) {
                return Err(AssistantError::Invalid(format!(
                    "{m} is not in program {program}"
                )));
            }
        }
        Ok(())
    }

    /// Every program.
    pub fn programs(&self) -> Vec<Program> {
        self.records()
            .programs
            .values()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// A program's resolved policy.
    ///
    /// # Errors
    /// [`AssistantError::UnknownProgram`].
    pub fn policy(&self, program: &ProgramId) -> Result<ProgramPolicy, AssistantError> {
        self.records()
            .programs
            .get(program)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| AssistantError::UnknownProgram(program.clone()))
    }

    /// Every participant with their programs.
    pub fn participants(&self) -> Vec<(Participant, Vec<ProgramId>)> {
        self.records().participants.values().cloned().collect()
    }

    /// One participant.
    ///
    /// # Errors
    /// [`AssistantError::UnknownParticipant`].
    pub fn participant(&self, id: &ParticipantId) -> Result<Participant, AssistantError> {
        self.records()
            .participants
            .get(id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| AssistantError::UnknownParticipant(id.clone()))
    }

    /// Every pair.
    pub fn pairs(&self) -> Vec<Pair> {
        self.records().pairs.values().cloned().collect()
    }

    /// Every group.
    pub fn groups(&self) -> Vec<Group> {
        self.records().groups.values().cloned().collect()
    }

    /// The stored connection of a participant (no secret), if any.
    pub fn connection(&self, id: &ParticipantId) -> Option<Connection> {
        self.records().connections.get(id).cloned()
    }

    // ----- connecting ---------------------------------------------------

    /// Only the participant acts on their own connection.
    fn check_self(actor: &Actor, participant: &ParticipantId) -> Result<(), AssistantError> {
        match actor {
            Actor::Participant(p) if p == participant => Ok(()),
            Actor::Participant(_) => Err(AssistantError::NotAllowed(format!(
                "only {participant} can connect or disconnect their calendar"
            ))),
            Actor::Administrator { .. } => Err(AssistantError::OnBehalfRefused {
                participant: participant.clone(),
            }),
        }
    }

    /// Every program of the participant must allow the provider (their one
    /// calendar serves them all).
    fn check_provider(
        &self,
        participant: &ParticipantId,
        provider: Provider,
    ) -> Result<Participant, AssistantError> {
        let records = self.records();
        let (p, programs) = records
            .participants
            .get(participant)
            .ok_or_else(|| AssistantError::UnknownParticipant(participant.clone()))?;
        for program in programs {
            if let Some((_, policy)) = records.programs.get(program)
                && !policy.providers().contains(provider)
            {
                return Err(AssistantError::ProviderNotAllowed {
                    provider,
                    program: program.clone(),
                });
            }
        }
        if !self.inner.sources.contains_key(&provider) {
            return Err(AssistantError::ProviderNotConfigured(provider));
        }
        Ok(p.clone())
    }

    /// Starts connecting a Google or Microsoft calendar: returns the
    /// provider's authorization URL. The attempt is bound to the
    /// participant and expires (10 minutes by default).
    ///
    /// # Errors
    /// [`AssistantError::OnBehalfRefused`] for an administrator,
    /// [`AssistantError::NotAllowed`] for another participant,
    /// [`AssistantError::ProviderNotAllowed`] /
    /// [`AssistantError::ProviderNotConfigured`]; on a PostgreSQL store,
    /// a storage or vault failure.
    ///
    /// On a PostgreSQL store the attempt is also kept in the database (its
    /// PKCE verifier sealed in the vault), so the provider's callback may
    /// reach any instance sharing it.
    pub async fn begin_connect(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        provider: Provider,
    ) -> Result<ConnectStart, AssistantError> {
        Self::check_self(actor, participant)?;
        self.sync().await;
        self.check_provider(participant, provider)?;
        let connector = self
            .inner
            .oauth
            .get(&provider)
            .ok_or(AssistantError::ProviderNotConfigured(provider))?;
        let start = connector.start();
        let now = self.now_secs();
        let expires_at = now.saturating_add(self.inner.connect_expiry_secs);
        #[cfg(feature = "postgres")]
        if self.inner.store.is_shared()
            && let Some(verifier) = start.pending.pkce_verifier()
        {
            self.store_attempt(
                start.state.secret(),
                verifier,
                participant,
                provider,
                expires_at,
            )
            .await?;
        }
        let mut pending = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, p| p.expires_at > now);
        pending.insert(
            start.state.secret().to_owned(),
            PendingConnect {
                participant: participant.clone(),
                provider,
                expires_at,
                exchange: start.pending,
            },
        );
        Ok(ConnectStart {
            authorization_url: start.url,
            expires_at,
        })
    }

    /// Completes an OAuth connection from the provider's callback: the
    /// `state` identifies the attempt (and so the participant), `code` is
    /// exchanged, the tokens go to the vault, and the previous connection
    /// (and its secrets) is replaced.
    ///
    /// # Errors
    /// [`AssistantError::ConnectExpired`] for an unknown, used or expired
    /// `state`; [`AssistantError::ConnectFailed`] when the provider refuses
    /// the code.
    pub async fn complete_connect(
        &self,
        state: &str,
        code: &str,
    ) -> Result<ConnectionStatus, AssistantError> {
        let local = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(state);
        #[cfg(feature = "postgres")]
        let local = if self.inner.store.is_shared() {
            self.take_attempt(state, local).await?
        } else {
            local
        };
        let pending = local.ok_or(AssistantError::ConnectExpired)?;
        if pending.expires_at <= self.now_secs() {
            return Err(AssistantError::ConnectExpired);
        }
        self.sync().await;
        let participant = self.check_provider(&pending.participant, pending.provider)?;
        let tokens = pending.exchange.exchange(state, code).await?;
        let credential = match pending.provider {
            Provider::Microsoft => Credential::MicrosoftOauth(tokens),
            _ => Credential::GoogleOauth(tokens),
        };
        self.replace_connection(&participant, pending.provider, credential)
            .await
    }

    /// Keeps an OAuth attempt in the database for whichever instance gets
    /// the callback: the participant, provider and expiry under a hash of
    /// `state`, the PKCE verifier sealed in the vault. Attempts that
    /// expired unused are removed on the way.
    #[cfg(feature = "postgres")]
    async fn store_attempt(
        &self,
        state: &str,
        verifier: &SecretString,
        participant: &ParticipantId,
        provider: Provider,
        expires_at: i64,
    ) -> Result<(), AssistantError> {
        let hash = state_hash(state);
        self.inner
            .vault
            .put(
                &attempt_owner(&hash)?,
                &Credential::OauthAttempt(verifier.clone()),
                Expect::Any,
            )
            .await
            .map_err(vault_error)?;
        if let Err(e) = self
            .inner
            .store
            .put_attempt(&hash, participant, provider, expires_at)
            .await
        {
            // No row would ever expire the sealed verifier: remove it.
            self.drop_attempt_verifier(&hash).await;
            return Err(e.into());
        }
        match self
            .inner
            .store
            .take_expired_attempts(self.now_secs())
            .await
        {
            Ok(expired) => {
                for hash in expired {
                    self.drop_attempt_verifier(&hash).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not remove expired connection attempts"),
        }
        Ok(())
    }

    /// Deletes an attempt's sealed PKCE verifier (best effort: a failure
    /// leaves a sealed record nobody can use).
    #[cfg(feature = "postgres")]
    async fn drop_attempt_verifier(&self, hash: &str) {
        if let Ok(owner) = attempt_owner(hash) {
            let _ = self
                .inner
                .vault
                .delete(&owner, SecretKind::OauthAttempt)
                .await;
        }
    }

    /// Takes the attempt for `state` out of the database (once: a second
    /// callback with the same `state`, on any instance, finds nothing) and
    /// rebuilds its exchange when this instance did not start it.
    #[cfg(feature = "postgres")]
    async fn take_attempt(
        &self,
        state: &str,
        local: Option<PendingConnect>,
    ) -> Result<Option<PendingConnect>, AssistantError> {
        let hash = state_hash(state);
        let Some((participant, provider, expires_at)) =
            self.inner.store.take_attempt(&hash).await?
        else {
            // Completed elsewhere already, or never stored (a connector
            // that cannot resume): only a local attempt of the latter kind
            // may go on.
            return Ok(local.filter(|p| p.exchange.pkce_verifier().is_none()));
        };
        let owner = attempt_owner(&hash)?;
        let verifier = self.inner.vault.get(&owner, SecretKind::OauthAttempt).await;
        // The row is gone, so the verifier goes too, even if reading it
        // failed (nothing else would ever remove it).
        self.drop_attempt_verifier(&hash).await;
        let verifier = verifier.map_err(vault_error)?;
        if let Some(local) = local {
            return Ok(Some(local));
        }
        let Some(Credential::OauthAttempt(verifier)) = verifier.map(|v| v.value) else {
            return Ok(None);
        };
        let Some(exchange) = self
            .inner
            .oauth
            .get(&provider)
            .and_then(|c| c.resume(state, verifier))
        else {
            return Err(AssistantError::ProviderNotConfigured(provider));
        };
        Ok(Some(PendingConnect {
            participant,
            provider,
            expires_at,
            exchange,
        }))
    }

    /// Connects an iCloud calendar: the Apple ID and app-specific password
    /// are checked by a real discovery against the CalDAV server before
    /// anything is stored.
    ///
    /// # Errors
    /// As [`begin_connect`](Self::begin_connect), and
    /// [`AssistantError::ConnectFailed`] when the server refuses the login
    /// or has no calendar.
    pub async fn connect_icloud(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
        apple_id: &str,
        app_password: SecretString,
    ) -> Result<ConnectionStatus, AssistantError> {
        Self::check_self(actor, participant)?;
        self.sync().await;
        let p = self.check_provider(participant, Provider::Icloud)?;
        let validator = self
            .inner
            .caldav
            .as_ref()
            .ok_or(AssistantError::ProviderNotConfigured(Provider::Icloud))?;
        let login = caldav_provider::CalDavLogin::new(
            validator.server().to_owned(),
            apple_id.to_owned(),
            caldav_provider::Password::new(app_password.secret()),
        );
        validator
            .validate(&login)
            .await
            .map_err(|e| AssistantError::ConnectFailed(ConnectFailure::Source(e)))?;
        let credential = Credential::AppleAppPassword(AppPassword::new(apple_id, app_password));
        self.replace_connection(&p, Provider::Icloud, credential)
            .await
    }

    async fn replace_connection(
        &self,
        participant: &Participant,
        provider: Provider,
        credential: Credential,
    ) -> Result<ConnectionStatus, AssistantError> {
        let account = participant.email.clone();
        let old = self.connection(&participant.id);
        self.inner
            .vault
            .put(&owner(&account)?, &credential, Expect::Any)
            .await
            .map_err(vault_error)?;
        let connection = Connection {
            participant: participant.id.clone(),
            provider,
            account: account.clone(),
            connected_at: self.now_secs(),
            needs_reconnect: None,
        };
        self.inner.store.put_connection(&connection).await?;
        self.records_mut()
            .connections
            .insert(participant.id.clone(), connection);
        if let Some(old) = old
            && (old.provider != provider || old.account != account)
        {
            self.delete_secret(&old).await?;
        }
        self.inner.cache.forget(&participant.id).await;
        tracing::info!(participant = %participant.id, provider = %provider, "calendar connected");
        Ok(self.status(&participant.id).await)
    }

    async fn delete_secret(&self, c: &Connection) -> Result<(), AssistantError> {
        let owner = owner(&c.account)?;
        let kind = secret_kind(c.provider);
        if let Some(connector) = self.inner.oauth.get(&c.provider)
            && let Ok(Some(stored)) = self.inner.vault.get(&owner, kind).await
            && let Some(tokens) = stored.value.as_oauth()
            && let Err(e) = connector.revoke(tokens).await
        {
            tracing::warn!(participant = %c.participant, error = %e, "revoking at the provider failed; deleting the tokens anyway");
        }
        self.inner
            .vault
            .delete(&owner, kind)
            .await
            .map_err(vault_error)?;
        Ok(())
    }

    /// Disconnects: the tokens or password are deleted from the vault
    /// (revoked at Google first, best effort), the connection and the
    /// cached busy times are forgotten. Returns whether there was one.
    ///
    /// # Errors
    /// [`AssistantError::OnBehalfRefused`] for an administrator,
    /// [`AssistantError::NotAllowed`] for another participant, storage
    /// failures.
    pub async fn disconnect(
        &self,
        actor: &Actor,
        participant: &ParticipantId,
    ) -> Result<bool, AssistantError> {
        Self::check_self(actor, participant)?;
        self.sync().await;
        self.participant(participant)?;
        let Some(old) = self.connection(participant) else {
            self.inner.cache.forget(participant).await;
            return Ok(false);
        };
        self.delete_secret(&old).await?;
        self.inner.store.delete_connection(participant).await?;
        self.records_mut().connections.remove(participant);
        self.inner.cache.forget(participant).await;
        tracing::info!(participant = %participant, provider = %old.provider, "calendar disconnected");
        Ok(true)
    }

    /// Connects every participant an organisation integration covers and
    /// who has no connection of their own (call after enabling one);
    /// returns who, by which integration.
    pub async fn sync_organisation(&self) -> Vec<(ParticipantId, IntegrationKind)> {
        let Some(org) = &self.inner.org else {
            return Vec::new();
        };
        let unconnected: Vec<(ParticipantId, String)> = {
            let records = self.records();
            records
                .participants
                .values()
                .filter(|(p, _)| !records.connections.contains_key(&p.id))
                .map(|(p, _)| (p.id.clone(), p.email.clone()))
                .collect()
        };
        let emails: Vec<String> = unconnected.iter().map(|(_, e)| e.clone()).collect();
        org.connect_automatically(&emails)
            .await
            .into_iter()
            .filter_map(|(email, kind)| {
                unconnected
                    .iter()
                    .find(|(_, e)| *e == email)
                    .map(|(id, _)| (id.clone(), kind))
            })
            .collect()
    }

    fn org(&self) -> Result<&Arc<OrgAuth>, AssistantError> {
        self.inner.org.as_ref().ok_or_else(|| {
            AssistantError::Invalid("the assistant was built without org_auth".to_owned())
        })
    }

    async fn save_integration(&self, kind: IntegrationKind) -> Result<(), AssistantError> {
        let org = self.org()?;
        let name = integration_name(kind);
        let stored = match org.settings().await.into_iter().find(|s| s.kind() == kind) {
            Some(settings) => {
                let mut value = serde_json::to_value(&settings)
                    .map_err(|e| AssistantError::Invalid(e.to_string()))?;
                // A generation, so other instances sharing the database
                // see a re-enabled integration (perhaps with a new secret
                // and the same settings) as changed and restore it.
                if let Some(fields) = value.as_object_mut() {
                    static ENABLES: std::sync::atomic::AtomicU64 =
                        std::sync::atomic::AtomicU64::new(0);
                    let generation = format!(
                        "{}-{}-{}",
                        self.now().as_millisecond(),
                        std::process::id(),
                        ENABLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    );
                    fields.insert("generation".to_owned(), generation.into());
                }
                let json = value.to_string();
                self.inner.store.put_integration(name, json.clone()).await?;
                Some(json)
            }
            None => {
                self.inner.store.delete_integration(name).await?;
                None
            }
        };
        let mut applied = self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match stored {
            Some(json) => applied.insert(kind, json),
            None => applied.remove(&kind),
        };
        Ok(())
    }

    /// Enables Google Workspace for the whole instance (one real call
    /// validates it first; the key goes to the vault, the settings beside
    /// it), then connects every covered participant without a calendar of
    /// their own. Returns who was connected.
    ///
    /// # Errors
    /// [`AssistantError::Organisation`] with the validation's reason
    /// (nothing stored), storage failures.
    pub async fn enable_google_workspace(
        &self,
        config: GoogleWorkspace,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        org.enable_google(config).await?;
        self.save_enabled(org, IntegrationKind::GoogleWorkspace)
            .await?;
        drop(reloading);
        Ok(self.sync_organisation().await)
    }

    /// Stores an integration just enabled here; if that fails, turns it
    /// off here too, so this instance does not cover people the others
    /// (and a restart) do not. Called with `reloading` held.
    async fn save_enabled(
        &self,
        org: &OrgAuth,
        kind: IntegrationKind,
    ) -> Result<(), AssistantError> {
        let saved = self.save_integration(kind).await;
        if saved.is_err() {
            org.forget(kind).await;
        }
        saved
    }

    /// Enables Exchange Online (Graph application permissions) for the
    /// whole instance, as [`enable_google_workspace`](Self::enable_google_workspace).
    ///
    /// # Errors
    /// As there, and [`AssistantError::Organisation`] when Exchange
    /// on-premise is enabled.
    pub async fn enable_exchange_online(
        &self,
        config: ExchangeOnline,
    ) -> Result<Vec<(ParticipantId, IntegrationKind)>, AssistantError> {
        let org = self.org()?;
        // Picks up an on-premise integration another instance enabled,
        // which excludes this one.
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        org.enable_exchange_online(config).await?;
        self.save_enabled(org, IntegrationKind::ExchangeOnline)
            .await?;
        drop(reloading);
        Ok(self.sync_organisation().await)
    }

    /// Records Exchange on-premise (it excludes Exchange Online; its
    /// free/busy client is not built, so it covers nobody yet).
    ///
    /// # Errors
    /// [`AssistantError::Organisation`] when Exchange Online is enabled.
    pub async fn enable_exchange_on_premise(
        &self,
        scheduling_account: &str,
    ) -> Result<(), AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let _reloading = self.inner.reloading.lock().await;
        org.enable_exchange_on_premise(scheduling_account).await?;
        self.save_enabled(org, IntegrationKind::ExchangeOnPremise)
            .await
    }

    /// Disables an integration: its secret, its settings and the automatic
    /// connections it made go; participants' own connections stay.
    /// Returns the participants who were connected through it.
    ///
    /// # Errors
    /// [`AssistantError::Organisation`] (the vault failed), storage
    /// failures.
    pub async fn disable_integration(
        &self,
        kind: IntegrationKind,
    ) -> Result<Vec<ParticipantId>, AssistantError> {
        let org = self.org()?;
        self.sync().await;
        let reloading = self.inner.reloading.lock().await;
        let emails = org.disable(kind).await?;
        self.save_integration(kind).await?;
        drop(reloading);
        let affected = self.forget_automatic(&emails).await;
        tracing::info!(
            integration = integration_name(kind),
            participants = affected.len(),
            "organisation integration disabled"
        );
        Ok(affected)
    }

    /// The participants an integration had connected automatically (by
    /// `emails`), whose cached busy times are forgotten now that it no
    /// longer covers them.
    async fn forget_automatic(&self, emails: &[String]) -> Vec<ParticipantId> {
        let affected: Vec<ParticipantId> = {
            let records = self.records();
            records
                .participants
                .values()
                .filter(|(p, _)| {
                    emails.iter().any(|e| e.eq_ignore_ascii_case(&p.email))
                        && !records.connections.contains_key(&p.id)
                })
                .map(|(p, _)| p.id.clone())
                .collect()
        };
        for p in &affected {
            self.inner.cache.forget(p).await;
        }
        affected
    }

    /// A participant's connection status. Reads nothing from providers:
    /// it reflects the stored connection and the last read.
    pub async fn status(&self, participant: &ParticipantId) -> ConnectionStatus {
        self.sync().await;
        let connection = self.connection(participant);
        if let Some(c) = connection {
            if let Some(reason) = c.needs_reconnect {
                return ConnectionStatus::NeedsReconnecting {
                    provider: c.provider,
                    reason,
                };
            }
            if let Some(e) = self.inner.cache.last_error(participant).await {
                return ConnectionStatus::Unreachable {
                    provider: Some(c.provider),
                    reason: e.to_string(),
                };
            }
            return ConnectionStatus::Connected {
                provider: c.provider,
                since: c.connected_at,
            };
        }
        self.org_status(participant)
            .await
            .unwrap_or(ConnectionStatus::NotConnected)
    }

    async fn org_status(&self, participant: &ParticipantId) -> Option<ConnectionStatus> {
        let org = self.inner.org.as_ref()?;
        let email = self.participant(participant).ok()?.email;
        let kind = org.resolve(&email).await?;
        if let Some(e) = self.inner.cache.last_error(participant).await {
            return Some(ConnectionStatus::Unreachable {
                provider: None,
                reason: e.to_string(),
            });
        }
        Some(ConnectionStatus::ThroughOrganisation {
            integration: integration_name(kind).to_owned(),
        })
    }

    // ----- reading availability ------------------------------------------

    async fn target(&self, participant: &ParticipantId) -> Option<Target> {
        let (connection, email) = {
            let records = self.records();
            let (p, _) = records.participants.get(participant)?;
            (
                records.connections.get(participant).cloned(),
                p.email.clone(),
            )
        };
        if let Some(c) = connection {
            if c.needs_reconnect.is_some() {
                return None;
            }
            let source = self.inner.sources.get(&c.provider)?;
            return Some(Target {
                participant: participant.clone(),
                key: SourceKey::Personal(c.provider),
                account: AccountId::new(c.account),
                source: Arc::clone(source),
            });
        }
        let org = self.inner.org.as_ref()?;
        let kind = org.resolve(&email).await?;
        let source = org.source(kind).await?;
        Some(Target {
            participant: participant.clone(),
            key: SourceKey::Organisation(kind),
            account: AccountId::new(email),
            source,
        })
    }

    /// The window a fetch reads: the request's, widened to the lookahead
    /// from the start of today (UTC) so nearby requests hit the cache.
    fn fetch_window(&self, window: Interval) -> Interval {
        let now = self.now_secs();
        let today = now - now.rem_euclid(86_400);
        let start = window.start().min(today);
        let end = window
            .end()
            .max(today.saturating_add(self.inner.lookahead_secs));
        Interval::new(start, end).unwrap_or(window)
    }

    /// Busy times (unclipped kinds) for participants over a window: from
    /// the cache or one batched fetch per source. `None` for participants
    /// without a usable connection; an error for those whose read failed.
    async fn busy(
        &self,
        participants: &[ParticipantId],
        window: Interval,
        force: bool,
        wait: bool,
    ) -> (
        HashMap<ParticipantId, Option<Result<FreeBusy, SourceError>>>,
        FetchCounts,
    ) {
        let mut out = HashMap::with_capacity(participants.len());
        let mut targets = Vec::with_capacity(participants.len());
        for p in participants {
            match self.target(p).await {
                Some(t) => targets.push(t),
                None => {
                    out.insert(p.clone(), None);
                }
            }
        }
        if targets.is_empty() {
            return (out, FetchCounts::default());
        }
        let fetch_window = self.fetch_window(window);
        let changed = Mutex::new(Vec::new());
        let on_fetched = |t: &Target, result: &Result<FreeBusy, SourceError>| {
            if let Some(c) = self.note_result(t, result) {
                changed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(c);
            }
        };
        let (answers, counts) = self
            .inner
            .cache
            .get(
                &targets,
                window,
                fetch_window,
                self.now_secs(),
                force,
                wait,
                &on_fetched,
            )
            .await;
        let changed = changed.into_inner().unwrap_or_else(PoisonError::into_inner);
        for c in changed {
            if let Err(e) = self.inner.store.put_connection(&c).await {
                tracing::warn!(participant = %c.participant, error = %e, "could not store the connection status");
            }
        }
        for (p, r) in answers {
            out.insert(p, Some(r));
        }
        (out, counts)
    }

    /// Records a fresh answer: a refused credential marks the connection
    /// as needing reconnecting; a success clears that mark. Returns the
    /// connection when its mark changed (to be stored).
    fn note_result(
        &self,
        t: &Target,
        result: &Result<FreeBusy, SourceError>,
    ) -> Option<Connection> {
        let SourceKey::Personal(_) = t.key else {
            if let Err(e) = result {
                tracing::warn!(participant = %t.participant, kind = %e.kind(), error = %e, "organisation source failed");
            }
            return None;
        };
        let mut records = self.records_mut();
        let c = records.connections.get_mut(&t.participant)?;
        let before = c.needs_reconnect.clone();
        match result {
            Err(e) if e.needs_reconnect() => {
                tracing::warn!(participant = %t.participant, provider = %c.provider, error = %e, "calendar needs reconnecting");
                c.needs_reconnect = Some(e.to_string());
            }
            Err(e) => {
                tracing::warn!(participant = %t.participant, provider = %c.provider, kind = %e.kind(), error = %e, "calendar could not be read");
            }
            Ok(_) => c.needs_reconnect = None,
        }
        (before != c.needs_reconnect).then(|| c.clone())
    }

    /// The programs linking viewer and target (pairs and groups both are
    /// in), or `None` when they are not linked.
    fn shared_programs(&self, viewer: &ParticipantId, target: &ParticipantId) -> Vec<ProgramId> {
        let records = self.records();
        let mut out: Vec<ProgramId> = Vec::new();
        for pair in records.pairs.values() {
            let linked = (pair.mentor == *viewer && pair.mentee == *target)
                || (pair.mentee == *viewer && pair.mentor == *target);
            if linked && !out.contains(&pair.program) {
                out.push(pair.program.clone());
            }
        }
        for group in records.groups.values() {
            if group.members.contains(viewer)
                && group.members.contains(target)
                && !out.contains(&group.program)
            {
                out.push(group.program.clone());
            }
        }
        out
    }

    /// The blocking kinds of the given programs, merged.
    fn blocking(&self, programs: &[ProgramId]) -> KindSet {
        let records = self.records();
        let mut kinds = KindSet::EMPTY;
        for program in programs {
            if let Some((_, policy)) = records.programs.get(program) {
                for k in policy.blocking().iter() {
                    kinds.insert(k);
                }
            }
        }
        kinds
    }

    /// A partner's unavailable times in `window`: every interval their
    /// programs' blocking kinds cover, merged into "Unavailable", times
    /// only. A participant sees only their mentoring partners and group
    /// members; an administrator sees anyone.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] for a non-partner, unknown ids.
    pub async fn availability(
        &self,
        actor: &Actor,
        target: &ParticipantId,
        window: Interval,
    ) -> Result<Availability, AssistantError> {
        self.sync().await;
        self.participant(target)?;
        let programs = match actor {
            Actor::Participant(viewer) => {
                self.participant(viewer)?;
                let shared = self.shared_programs(viewer, target);
                if shared.is_empty() && viewer != target {
                    return Err(AssistantError::NotAllowed(format!(
                        "{viewer} may see only their mentoring partners' and group members' \
                         availability"
                    )));
                }
                if viewer == target {
                    self.programs_of(target)
                } else {
                    shared
                }
            }
            Actor::Administrator { .. } => self.programs_of(target),
        };
        let blocking = self.blocking(&programs);
        let (mut busy, _) = self
            .busy(std::slice::from_ref(target), window, false, true)
            .await;
        Ok(match busy.remove(target).flatten() {
            Some(Ok(fb)) => Availability {
                participant: target.clone(),
                window,
                known: true,
                unavailable: fb.unavailable(blocking).clip(window).into_vec(),
                reason: None,
            },
            Some(Err(e)) => Availability {
                participant: target.clone(),
                window,
                known: false,
                unavailable: Vec::new(),
                reason: Some(e.to_string()),
            },
            None => Availability {
                participant: target.clone(),
                window,
                known: false,
                unavailable: Vec::new(),
                reason: Some(self.status(target).await.text()),
            },
        })
    }

    fn programs_of(&self, p: &ParticipantId) -> Vec<ProgramId> {
        self.records()
            .participants
            .get(p)
            .map(|(_, programs)| programs.clone())
            .unwrap_or_default()
    }

    /// The best mutual slots of a pair under its program's policy: slots
    /// where both are free (or, with one calendar unknown, where the other
    /// is), distinct, ranked by start.
    ///
    /// # Errors
    /// [`AssistantError::NotAllowed`] unless the actor is in the pair (or
    /// an administrator); [`AssistantError::SchedulingDisabled`];
    /// [`AssistantError::Invalid`] for a bad duration.
    pub async fn mutual_slots(
        &self,
        actor: &Actor,
        pair: &PairId,
        request: SlotRequest,
    ) -> Result<Proposal, AssistantError> {
        self.sync().await;
        let pair = self
            .records()
            .pairs
            .get(pair)
            .cloned()
            .ok_or_else(|| AssistantError::UnknownPair(pair.clone()))?;
        if let Actor::Participant(p) = actor
            && *p != pair.mentor
            && *p != pair.mentee
        {
            return Err(AssistantError::NotAllowed(format!(
                "{p} is not in pair {}",
                pair.id
            )));
        }
        self.propose(&pair.program, &[pair.mentor, pair.mentee], request, false)
            .await
    }

    /// A group poll: `request.limit` distinct slots ranked by how many
    /// invitees are free, then by start, each with its free, unavailable
    /// and unknown invitees, and how many invitees have connected a
    /// calendar. An invitee without a calendar, or whose calendar could not
    /// be read, is unknown, never free; a provider failure never fails the
    /// poll.
    ///
    /// # Errors
    /// [`AssistantError::GroupPollsDisabled`],
    /// [`AssistantError::NotAllowed`] for a participant outside the group
    /// or program, unknown ids, [`AssistantError::Invalid`].
    pub async fn poll(
        &self,
        actor: &Actor,
        invitees: &Invitees,
        request: SlotRequest,
    ) -> Result<Proposal, AssistantError> {
        self.sync().await;
        let (program, people) = match invitees {
            Invitees::Group(id) => {
                let group = self
                    .records()
                    .groups
                    .get(id)
                    .cloned()
                    .ok_or_else(|| AssistantError::UnknownGroup(id.clone()))?;
                if let Actor::Participant(p) = actor
                    && !group.members.contains(p)
                {
                    return Err(AssistantError::NotAllowed(format!(
                        "{p} is not in group {id}"
                    )));
                }
                (group.program, group.members)
            }
            Invitees::List {
                program,
                participants,
            } => {
                self.check_members(program, participants.iter())?;
                if let Actor::Participant(p) = actor
                    && !self.programs_of(p).contains(program)
                {
                    return Err(AssistantError::NotAllowed(format!(
                        "{p} is not in program {program}"
                    )));
                }
                (program.clone(), participants.clone())
            }
        };
        if !self.policy(&program)?.group_polls_enabled() {
            return Err(AssistantError::GroupPollsDisabled(program));
        }
        self.propose(&program, &people, request, true).await
    }

    async fn propose(
        &self,
        program: &ProgramId,
        people: &[ParticipantId],
        request: SlotRequest,
        rank_by_free: bool,
    ) -> Result<Proposal, AssistantError> {
        let policy = self.policy(program)?;
        if !policy.scheduling_assistant_enabled() {
            return Err(AssistantError::SchedulingDisabled(program.clone()));
        }
        let mut unique: Vec<ParticipantId> = Vec::with_capacity(people.len());
        for p in people {
            self.participant(p)?;
            if !unique.contains(p) {
                unique.push(p.clone());
            }
        }
        let bookable = policy.bookable(request.window, self.inner.clock.now());
        let blocking = policy.blocking();
        let span = bookable.span();
        let (busy, _) = match span {
            Some(span) => self.busy(&unique, span, false, true).await,
            None => (HashMap::new(), FetchCounts::default()),
        };
        let mut problems = Vec::new();
        let mut connected = 0;
        let mut sets: Vec<Option<IntervalSet>> = Vec::with_capacity(unique.len());
        for p in &unique {
            connected += usize::from(self.status(p).await.is_connected());
            sets.push(match busy.get(p) {
                Some(Some(Ok(fb))) => Some(fb.unavailable(blocking)),
                Some(Some(Err(e))) => {
                    problems.push(Problem {
                        participant: p.clone(),
                        reason: e.to_string(),
                    });
                    None
                }
                _ => None,
            });
        }
        let known = u32::try_from(sets.iter().filter(|s| s.is_some()).count()).unwrap_or(u32::MAX);
        let min_free = request.min_free.unwrap_or(known).max(1);
        let query = policy
            .slot_query(request.duration, &bookable)
            .min_free(min_free)
            .limit(request.limit)
            .distinct(true);
        let found = find_slots(&bookable, sets.iter().map(Option::as_ref), query)
            .map_err(|e: SlotError| AssistantError::Invalid(e.to_string()))?;
        let mut slots: Vec<ProposedSlot> = found
            .into_iter()
            .map(|s| ProposedSlot {
                interval: s.interval,
                free: s.free.iter().map(|&i| unique[i].clone()).collect(),
                unavailable: s.unavailable.iter().map(|&i| unique[i].clone()).collect(),
                unknown: s.unknown.iter().map(|&i| unique[i].clone()).collect(),
            })
            .collect();
        if !rank_by_free {
            slots.sort_by_key(|s| s.interval.start());
        }
        Ok(Proposal {
            invitees: unique.len(),
            connected,
            slots,
            problems,
            connected_text: format!(
                "{connected} of {} invitees have connected a calendar",
                unique.len()
            ),
        })
    }

    // ----- refreshing ----------------------------------------------------

    /// Refreshes every connected participant whose cached busy times are
    /// older than the TTL (all of them with `force`), over the lookahead
    /// window, batched per source. Returns how many were fetched and
    /// failed.
    pub async fn refresh(&self, force: bool) -> FetchCounts {
        self.sync().await;
        let now = self.now_secs();
        let ids: Vec<ParticipantId> = self.records().participants.keys().cloned().collect();
        let stale = if force {
            ids
        } else {
            self.inner.cache.stale(ids, now).await
        };
        let today = now - now.rem_euclid(86_400);
        let Ok(window) = Interval::new(today, today.saturating_add(self.inner.lookahead_secs))
        else {
            return FetchCounts::default();
        };
        // Participants another instance is refreshing are left to it.
        self.busy(&stale, window, force, false).await.1
    }

    /// Reloads programs, participants, pairs, groups and connections if
    /// another instance sharing the database changed them since this one
    /// last read them (a one-row read when nothing changed). The reading
    /// methods call it themselves on a PostgreSQL store; call it after
    /// writing to the database yourself.
    ///
    /// # Errors
    /// A storage failure, or a stored program whose policy no longer
    /// resolves (the records loaded before stay in use).
    pub async fn reload(&self) -> Result<bool, AssistantError> {
        use std::sync::atomic::Ordering;
        let revision = self.inner.store.revision().await?;
        if revision == self.inner.revision.load(Ordering::Acquire)
            && !self.inner.integrations_pending.load(Ordering::Acquire)
        {
            return Ok(false);
        }
        // Concurrent callers wait for one reload rather than each loading
        // every record; they then find it done.
        let reloading = self.inner.reloading.lock().await;
        let revision = self.inner.store.revision().await?;
        let changed = revision != self.inner.revision.load(Ordering::Acquire);
        if changed {
            let records = load_records(&self.inner.store, &self.inner.org_policy).await?;
            *self.records_mut() = records;
        }
        let integrations_changed =
            if changed || self.inner.integrations_pending.load(Ordering::Acquire) {
                self.reload_integrations().await
            } else {
                false
            };
        self.inner.revision.store(revision, Ordering::Release);
        drop(reloading);
        if changed || integrations_changed {
            // Covered participants added elsewhere are recorded as
            // connected through their integration here too.
            self.sync_organisation().await;
        }
        Ok(changed)
    }

    /// Applies the organisation integrations another instance enabled,
    /// re-enabled or disabled; whether any changed here. A disabled one
    /// stops covering anyone here at once (its secret is already gone
    /// from the vault). Fails closed: when the stored settings cannot be
    /// read, every integration applied from them is turned off here, and
    /// it (like a restore that failed) is tried again at the next sync.
    /// Called with `reloading` held.
    async fn reload_integrations(&self) -> bool {
        use std::sync::atomic::Ordering;
        let Some(org) = &self.inner.org else {
            return false;
        };
        self.inner
            .integrations_pending
            .store(false, Ordering::Release);
        let applied = self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (stored, unread) = match stored_integrations(&self.inner.store).await {
            Ok(stored) => (stored, false),
            Err(e) => {
                tracing::error!(error = %e, "could not read the organisation integrations: turned off here until they can be read");
                (Vec::new(), true)
            }
        };
        let stored: BTreeMap<_, _> = stored
            .into_iter()
            .map(|(settings, json)| (settings.kind(), (settings, json)))
            .collect();
        let mut now_applied = BTreeMap::new();
        let mut emails = Vec::new();
        let mut changed = false;
        // Removals first: Exchange Online and on-premise exclude each
        // other. Only integrations applied from the store are removed
        // (one an embedder enabled on its `OrgAuth` directly stays).
        for kind in applied.keys() {
            if !stored.contains_key(kind) {
                emails.extend(org.forget(*kind).await);
                changed = true;
                tracing::info!(
                    integration = integration_name(*kind),
                    "organisation integration disabled by another instance"
                );
            }
        }
        for (kind, (settings, json)) in stored {
            if applied.get(&kind) == Some(&json) {
                now_applied.insert(kind, json);
                continue;
            }
            changed = true;
            emails.extend(org.forget(kind).await);
            if restore_integration(org, &settings).await {
                now_applied.insert(kind, json);
            } else {
                self.inner
                    .integrations_pending
                    .store(true, Ordering::Release);
            }
        }
        if unread {
            self.inner
                .integrations_pending
                .store(true, Ordering::Release);
        }
        *self
            .inner
            .integrations
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now_applied;
        self.forget_automatic(&emails).await;
        changed
    }

    /// On a store shared by instances, [`reload`](Self::reload) what
    /// others changed; a failure keeps the loaded records (and is logged).
    pub(crate) async fn sync(&self) {
        if self.inner.store.is_shared()
            && let Err(e) = self.reload().await
        {
            tracing::warn!(error = %e, "could not reload the records another instance changed");
        }
    }

    /// Starts a background refresher on the current tokio runtime: every
    /// `every`, [`refresh`](Self::refresh) of the stale participants.
    /// Dropping the handle stops it.
    pub fn spawn_refresher(&self, every: Duration) -> Refresher {
        let me = self.clone();
        let handle = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let counts = me.refresh(false).await;
                if counts.fetched > 0 {
                    tracing::debug!(
                        fetched = counts.fetched,
                        failed = counts.failed,
                        "refreshed busy times"
                    );
                }
            }
        });
        Refresher(handle)
    }

    /// The store (for its path and schema version).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether the vault holds a secret for the participant's connection
    /// (for checks and tests; never the secret itself).
    pub async fn has_secret(&self, participant: &ParticipantId) -> bool {
        let Some(c) = self.connection(participant) else {
            return false;
        };
        let Ok(owner) = owner(&c.account) else {
            return false;
        };
        matches!(
            self.inner.vault.get(&owner, secret_kind(c.provider)).await,
            Ok(Some(_))
        )
    }
}

/// The background refresher; dropping it stops the task.
#[derive(Debug)]
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}
