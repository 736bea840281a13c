//! [`Clock`]: the current time, injected so tests never sleep.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;

/// Where "now" comes from: minimum notice, cache age and token expiry all
/// ask a `Clock`, so tests can fix or advance time.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stays where it is set, in whole seconds; for tests.
///
/// # Example: advancing time
///
/// ```
/// use availability::{Clock, FixedClock};
///
/// let clock = FixedClock::new("2026-01-05T09:00:00Z".parse()?);
/// clock.advance(600);
/// assert_eq!(clock.now().to_string(), "2026-01-05T09:10:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock at `now` (sub-second parts are dropped).
    pub fn new(now: Timestamp) -> Self {
        Self(AtomicI64::new(now.as_second()))
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.as_second(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds` (backward if negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl fmt::Debug for FixedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FixedClock").field(&self.now()).finish()
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        let s = self.0.load(Ordering::SeqCst);
        Timestamp::from_second(s).unwrap_or(if s < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
    }
}
