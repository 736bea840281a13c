//! Pacing: each identity's requests kept within a provider's quotas.
//!
//! A [`Pacer`] spaces the requests of one identity (a string the provider
//! chooses: the account a token authenticates, the mailbox in a URL, the
//! login of a service) at a [`Rate`], caps how many are in flight at once,
//! and optionally spaces every request of the source at an overall rate (a
//! project-wide quota). When the service throttles one request of an
//! identity (429, or a wait it asks for), every request of that identity
//! waits until the `Retry-After` instant and the identity's rate is slowed
//! down for a while. Pacing never drops or fails a request: it only waits.
//!
//! The rates are [`governor`]'s (GCRA, keyed by identity, with its own
//! clock: real time, not tokio's paused time); concurrency is a
//! [`tokio::sync::Semaphore`] per identity; the waits for `Retry-After` are
//! tokio's.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use availability::{SourceError, SourceErrorKind};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The most a throttled identity's rate is divided by (four halvings).
pub const MAX_SLOWDOWN: u32 = 16;

/// Identities' state is pruned every this many requests.
const PRUNE_EVERY: u64 = 1024;

/// A quota: at most `requests` requests in any window of `per`.
///
/// The pacer sends an identity's requests evenly spaced, one every
/// `per / (requests - 1)` (every `per` when `requests` is 1), with no
/// burst: any window of `per` then holds at most `requests - 1` requests
/// as they leave, and the one request of slack absorbs the network's
/// varying delay between us and the server, whose window is the one that
/// counts. The sustained rate is `requests - 1` per `per`, a hair under
/// the quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    requests: NonZeroU32,
    per: Duration,
}

impl Rate {
    /// At most `requests` in any window of `per`. `requests` 0 counts as
    /// 1, and a `per` under a millisecond as a millisecond.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
            per: per.max(Duration::from_millis(1)),
        }
    }

    /// At most `requests` a second.
    pub fn per_second(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(1))
    }

    /// At most `requests` a minute.
    pub fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    /// The requests allowed in a window.
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    /// The window.
    pub fn per(&self) -> Duration {
        self.per
    }

    /// The spacing of requests: `per / (requests - 1)`, or `per`.
    pub fn interval(&self) -> Duration {
        let slots = self.requests.get().saturating_sub(1).max(1);
        (self.per / slots).max(Duration::from_nanos(1))
    }

    fn quota(&self) -> Quota {
        // `interval` is never zero, so `with_period` always gives a quota.
        Quota::with_period(self.interval()).unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
    }
}

/// How a provider's requests are paced, with each provider's documented
/// quotas as its config's default (see `GoogleConfig::pacing`,
/// `GraphConfig::pacing`, `EwsConfig::pacing`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pacing {
    /// Whether requests are paced at all. [`Pacing::off`] turns it off:
    /// no rate, no concurrency cap, and a throttled request holds back no
    /// other.
    pub enabled: bool,
    /// Each identity's rate; `None`: not limited.
    pub per_identity: Option<Rate>,
    /// Each identity's requests in flight at once; `None`: not limited.
    pub concurrency: Option<usize>,
    /// The rate of all the source's requests together, across identities
    /// (Google's per-project quota); `None`: not limited.
    pub overall: Option<Rate>,
    /// The longest a throttled identity is held back by one `Retry-After`
    /// (a server asking for an hour holds it this long; the request that
    /// asked fails by its retry rules). Default 60 s, as
    /// `RetryConfig::max_retry_after`.
    pub max_hold: Duration,
    /// How fast a throttled identity's rate comes back: each throttle
    /// halves it (down to 1/[`MAX_SLOWDOWN`]), and each `recovery` without
    /// one doubles it back, up to the configured rate. Default 60 s.
    pub recovery: Duration,
}

impl Default for Pacing {
    /// On, with no rate and no concurrency cap: only a throttle holds an
    /// identity back.
    fn default() -> Self {
        Self {
            enabled: true,
            per_identity: None,
            concurrency: None,
            overall: None,
            max_hold: Duration::from_secs(60),
            recovery: Duration::from_secs(60),
        }
    }
}

impl Pacing {
    /// No pacing at all.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`per_identity`](Self::per_identity).
    #[must_use]
    pub fn per_identity(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.per_identity = rate.into();
        self
    }

    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: impl Into<Option<usize>>) -> Self {
        self.concurrency = n.into().map(|n| n.max(1));
        self
    }

    /// Sets [`overall`](Self::overall).
    #[must_use]
    pub fn overall(mut self, rate: impl Into<Option<Rate>>) -> Self {
        self.overall = rate.into();
        self
    }

    /// Sets [`max_hold`](Self::max_hold).
    #[must_use]
    pub fn max_hold(mut self, max: Duration) -> Self {
        self.max_hold = max;
        self
    }

    /// Sets [`recovery`](Self::recovery).
    #[must_use]
    pub fn recovery(mut self, recovery: Duration) -> Self {
        self.recovery = recovery;
        self
    }
}

/// Whether `error` says the service is throttling: [`SourceError::RateLimited`]
/// (429, Google's rate-limit 403s, EWS's `ErrorServerBusy`), or any error
/// that came with a wait to honour (a 503 with `Retry-After`).
pub fn is_throttling(error: &SourceError) -> bool {
    error.kind() == SourceErrorKind::RateLimited || error.retry_after().is_some()
}

/// Paces a source's requests by identity ([`Pacing`]). Cheap to clone:
/// clones share their state, so a provider's free/busy source and its
/// booking writes may share one.
///
/// Memory stays small however many identities there are: an identity's
/// state is kept while a request of it is waiting or in flight, while it
/// is held back or slowed down after a throttle, and while its rate has
/// not yet recovered (governor's `retain_recent`); the rest is dropped
/// every 1,024 requests.
#[derive(Clone)]
pub struct Pacer {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    pacing: Pacing,
    rates: Option<DefaultKeyedRateLimiter<String>>,
    overall: Option<DefaultDirectRateLimiter>,
    identities: Mutex<HashMap<String, Arc<Identity>>>,
    acquired: AtomicU64,
}

/// One identity's state besides its governor cell.
struct Identity {
    slots: Option<Arc<Semaphore>>,
    /// Serialises the identity's waits for its rate, so its requests leave
    /// in the order their cells were taken.
    gate: tokio::sync::Mutex<()>,
    throttle: Mutex<Throttle>,
}

#[derive(Clone, Copy)]
struct Throttle {
    hold_until: Option<Instant>,
    slowdown: u32,
    since: Instant,
}

impl Throttle {
    /// The rate's divisor at `now`: halved for each `recovery` since the
    /// last throttle.
    fn slowdown(&self, now: Instant, recovery: Duration) -> u32 {
        if self.slowdown <= 1 {
            return 1;
        }
        if recovery.is_zero() {
            return 1;
        }
        let periods = now.saturating_duration_since(self.since).as_nanos() / recovery.as_nanos();
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        self.slowdown.checked_shr(periods).unwrap_or(0).max(1)
    }

    fn held(&self, now: Instant) -> Option<Instant> {
        self.hold_until.filter(|until| *until > now)
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Identity {
    fn throttle(&self) -> Throttle {
        *locked(&self.throttle)
    }
}

impl Pacer {
    /// A pacer for `pacing`.
    pub fn new(pacing: &Pacing) -> Self {
        if !pacing.enabled {
            return Self::off();
        }
        Self {
            inner: Some(Arc::new(Inner {
                pacing: pacing.clone(),
                rates: pacing.per_identity.map(|r| RateLimiter::keyed(r.quota())),
                overall: pacing.overall.map(|r| RateLimiter::direct(r.quota())),
                identities: Mutex::new(HashMap::new()),
                acquired: AtomicU64::new(0),
            })),
        }
    }

    /// A pacer that lets every request through at once.
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// Whether this pacer paces at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// `identity`'s requests, for [`Service::send_paced`](crate::Service::send_paced).
    pub fn identity<'a>(&'a self, identity: &'a str) -> Paced<'a> {
        Paced {
            pacer: self,
            identity,
        }
    }

    /// How many identities' state is kept now (for tests and metrics).
    pub fn tracked_identities(&self) -> usize {
        self.inner
            .as_ref()
            .map_or(0, |inner| locked(&inner.identities).len())
    }

    /// Waits until a request of `identity` may be sent: its concurrency
    /// slot, the end of any hold a throttle asked for, its rate (slowed
    /// down after a throttle) and the overall rate. Keep the permit until
    /// the reply has been read.
    ///
    /// Cancel-safe: dropping the future gives back the slot it held, and
    /// no rate cell is spent for a request not sent.
    pub async fn acquire(&self, identity: &str) -> PacePermit {
        let Some(inner) = &self.inner else {
            return PacePermit {
                _slot: None,
                _identity: None,
            };
        };
        let state = inner.identity(identity);
        let slot = match &state.slots {
            // The semaphore is never closed.
            Some(slots) => Arc::clone(slots).acquire_owned().await.ok(),
            None => None,
        };
        {
            let _gate = state.gate.lock().await;
            let key = identity.to_owned();
            loop {
                if let Some(until) = state.throttle().held(Instant::now()) {
                    tokio::time::sleep_until(until).await;
                }
                let cells = state
                    .throttle()
                    .slowdown(Instant::now(), inner.pacing.recovery);
                if let Some(rates) = &inner.rates {
                    // A slowed-down identity spends several cells a request.
                    for _ in 0..cells {
                        rates.until_key_ready(&key).await;
                    }
                }
                if let Some(overall) = &inner.overall {
                    overall.until_ready().await;
                }
                // Throttled while waiting: wait for the hold, and the rate
                // again after it.
                if state.throttle().held(Instant::now()).is_none() {
                    break;
                }
            }
        }
        if inner.acquired.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            inner.prune();
        }
        PacePermit {
            _slot: slot,
            _identity: Some(state),
        }
    }

    /// A request of `identity` was throttled: every request of it waits
    /// until `retry_after` from now (at most [`Pacing::max_hold`]), and its
    /// rate is halved (down to 1/[`MAX_SLOWDOWN`]), recovering by
    /// [`Pacing::recovery`].
    pub fn throttled(&self, identity: &str, retry_after: Option<Duration>) {
        let Some(inner) = &self.inner else {
            return;
        };
        let state = inner.identity(identity);
        let now = Instant::now();
        let mut throttle = locked(&state.throttle);
        if let Some(wait) = retry_after {
            let until = now + wait.min(inner.pacing.max_hold);
            throttle.hold_until = Some(throttle.hold_until.map_or(until, |u| u.max(until)));
        }
        let current = throttle.slowdown(now, inner.pacing.recovery);
        throttle.slowdown = current.saturating_mul(2).min(MAX_SLOWDOWN);
        throttle.since = now;
    }

    /// [`throttled`](Self::throttled) when `error` is throttling
    /// ([`is_throttling`]), with its `retry_after`.
    pub fn observe(&self, identity: &str, error: &SourceError) {
        if is_throttling(error) {
            self.throttled(identity, error.retry_after());
        }
    }
}

impl Inner {
    fn identity(&self, identity: &str) -> Arc<Identity> {
        let mut identities = locked(&self.identities);
        if let Some(state) = identities.get(identity) {
            return Arc::clone(state);
        }
        let state = Arc::new(Identity {
            slots: self
                .pacing
                .concurrency
                .map(|n| Arc::new(Semaphore::new(n.max(1)))),
            gate: tokio::sync::Mutex::new(()),
            throttle: Mutex::new(Throttle {
                hold_until: None,
                slowdown: 1,
                since: Instant::now(),
            }),
        });
        identities.insert(identity.to_owned(), Arc::clone(&state));
        state
    }

    /// Drops the state of identities with nothing to remember.
    fn prune(&self) {
        let now = Instant::now();
        let recovery = self.pacing.recovery;
        {
            let mut identities = locked(&self.identities);
            identities.retain(|_, state| {
                let throttle = state.throttle();
                Arc::strong_count(state) > 1
                    || throttle.held(now).is_some()
                    || throttle.slowdown(now, recovery) > 1
            });
            let kept = identities.len();
            identities.shrink_to(kept.saturating_mul(2));
        }
        if let Some(rates) = &self.rates {
            rates.retain_recent();
            rates.shrink_to_fit();
        }
    }
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Pacer(off)"),
            Some(inner) => f
                .debug_struct("Pacer")
                .field("pacing", &inner.pacing)
                .field("identities", &self.tracked_identities())
                .finish(),
        }
    }
}

/// A request's turn ([`Pacer::acquire`]): its concurrency slot, given back
/// when dropped.
#[must_use = "the slot is given back when the permit is dropped"]
pub struct PacePermit {
    _slot: Option<OwnedSemaphorePermit>,
    _identity: Option<Arc<Identity>>,
}

impl fmt::Debug for PacePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacePermit").finish_non_exhaustive()
    }
}

/// One identity of a [`Pacer`] ([`Pacer::identity`]): what
/// [`Service::send_paced`](crate::Service::send_paced) paces a request by.
#[derive(Clone, Copy, Debug)]
pub struct Paced<'a> {
    pacer: &'a Pacer,
    identity: &'a str,
}

impl Paced<'_> {
    /// [`Pacer::acquire`] for this identity.
    pub async fn acquire(&self) -> PacePermit {
        self.pacer.acquire(self.identity).await
    }

    /// [`Pacer::observe`] for this identity.
    pub fn observe(&self, error: &SourceError) {
        self.pacer.observe(self.identity, error);
    }

    /// The identity.
    pub fn name(&self) -> &str {
        self.identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_space_requests_with_one_of_slack() {
        let rate = Rate::per_second(20);
        assert_eq!(rate.interval(), Duration::from_secs(1) / 19);
        assert_eq!(
            Rate::new(1, Duration::from_secs(3)).interval(),
            Duration::from_secs(3)
        );
        assert_eq!(Rate::new(0, Duration::ZERO).requests(), 1);
        assert_eq!(Rate::new(0, Duration::ZERO).per(), Duration::from_millis(1));
        assert_eq!(
            Rate::per_minute(600).interval(),
            Duration::from_secs(60) / 599
        );
    }

    #[test]
    fn a_slowdown_halves_back_each_recovery_period() {
        let start = Instant::now();
        let throttle = Throttle {
            hold_until: None,
            slowdown: 8,
            since: start,
        };
        let r = Duration::from_secs(10);
        assert_eq!(throttle.slowdown(start, r), 8);
        assert_eq!(throttle.slowdown(start + Duration::from_secs(10), r), 4);
        assert_eq!(throttle.slowdown(start + Duration::from_secs(25), r), 2);
        assert_eq!(throttle.slowdown(start + Duration::from_secs(30), r), 1);
        assert_eq!(throttle.slowdown(start + Duration::from_secs(3000), r), 1);
        assert_eq!(throttle.slowdown(start, Duration::ZERO), 1);
    }

    #[tokio::test]
    async fn throttles_double_the_slowdown_up_to_the_maximum_and_hold() {
        let pacer = Pacer::new(&Pacing::default().per_identity(Rate::per_second(100)));
        for _ in 0..10 {
            pacer.throttled("a", None);
        }
        let inner = pacer.inner.as_ref().unwrap();
        let state = inner.identity("a");
        assert_eq!(state.throttle().slowdown, MAX_SLOWDOWN);
        assert!(state.throttle().held(Instant::now()).is_none());
        pacer.observe(
            "a",
            &SourceError::RateLimited {
                retry_after: Some(Duration::from_secs(3600)),
            },
        );
        let until = state.throttle().held(Instant::now()).unwrap();
        assert!(
            until <= Instant::now() + Duration::from_secs(60),
            "capped by max_hold"
        );
        // Not throttling: nothing changes for "b".
        pacer.observe(
            "b",
            &SourceError::Forbidden {
                message: String::new(),
            },
        );
        assert_eq!(inner.identity("b").throttle().slowdown, 1);
    }

    #[tokio::test]
    async fn a_dropped_wait_gives_its_slot_back() {
        let pacer = Pacer::new(&Pacing::default().concurrency(1));
        let first = pacer.acquire("a").await;
        // The second waits for the slot; dropping it while it waits, then
        // the first permit, leaves the slot free.
        let waiting = tokio::time::timeout(Duration::from_millis(20), pacer.acquire("a")).await;
        assert!(waiting.is_err(), "the cap of 1 holds the second back");
        drop(first);
        let again = tokio::time::timeout(Duration::from_secs(5), pacer.acquire("a")).await;
        assert!(again.is_ok(), "the slot came back");
        // Another identity has a slot of its own meanwhile.
        let other = tokio::time::timeout(Duration::from_secs(5), pacer.acquire("b")).await;
        assert!(other.is_ok());
    }

    #[tokio::test]
    async fn off_lets_everything_through_and_keeps_nothing() {
        let pacer = Pacer::new(
            &Pacing::off()
                .per_identity(Rate::per_second(1))
                .concurrency(1),
        );
        assert!(!pacer.is_enabled());
        let _a = pacer.acquire("a").await;
        let _b = pacer.acquire("a").await;
        pacer.throttled("a", Some(Duration::from_secs(60)));
        let _c = pacer.acquire("a").await;
        assert_eq!(pacer.tracked_identities(), 0);
    }

    #[tokio::test]
    async fn the_state_of_100_000_mailboxes_stays_small() {
        let pacer = Pacer::new(
            &Pacing::default()
                .per_identity(Rate::new(10_000, Duration::from_secs(600)))
                .concurrency(4),
        );
        for n in 0..100_000 {
            let _permit = pacer.acquire(&format!("user{n}@example.org")).await;
        }
        let inner = pacer.inner.as_ref().unwrap();
        assert!(
            pacer.tracked_identities() <= PRUNE_EVERY as usize,
            "{}",
            pacer.tracked_identities()
        );
        // Governor keeps only keys whose rate has not recovered (used in
        // the last 60 ms here).
        assert!(inner.rates.as_ref().unwrap().len() < 100_000);
        // A throttled identity is remembered through the prunes.
        pacer.throttled("held@example.org", Some(Duration::from_secs(30)));
        for n in 0..2 * PRUNE_EVERY {
            let _permit = pacer.acquire(&format!("other{n}@example.org")).await;
        }
        assert!(
            inner
                .identities
                .lock()
                .unwrap()
                .contains_key("held@example.org")
        );
    }
}
