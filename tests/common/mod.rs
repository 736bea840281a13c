//! Shared set-up for the assistant's tests: a SQLite file holding both the
//! vault and the assistant's tables, an injected clock, counting sources.
#![allow(dead_code, clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    Capabilities, FixedClock, FreeBusy, FreeBusyRequest, FreeBusyResponse, FreeBusySource,
    Interval, MemorySource, SourceError,
};
use caldav_provider::CalDavLogin;
use credential_vault::{KeyId, KeyRing, MasterKey, SqliteStore, Vault};
use scheduling_assistant::connect::CalDavValidator;
use scheduling_assistant::{Assistant, AssistantBuilder, Store};

pub const H: i64 = 3600;
/// Monday 2 March 2026, 00:00 UTC.
pub const MONDAY: i64 = 1_772_409_600;

pub fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

pub fn iv(a: i64, b: i64) -> Interval {
    Interval::new(a, b).unwrap()
}

pub fn week() -> Interval {
    iv(MONDAY, MONDAY + 5 * 86_400)
}

/// A memory source that counts, per account, how often it was asked, and
/// can take a while to answer (so concurrent requests overlap).
#[derive(Debug)]
pub struct Counting {
    pub inner: MemorySource,
    asked: Mutex<HashMap<String, usize>>,
    pub delay: Duration,
    caps: Capabilities,
}

impl Counting {
    pub fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: MemorySource::new(),
            asked: Mutex::new(HashMap::new()),
            delay,
            caps: Capabilities::new(50),
        })
    }

    pub fn asked(&self, account: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .get(account)
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.asked.lock().unwrap().values().sum()
    }

    pub fn set(&self, account: &str, busy: FreeBusy) {
        self.inner.insert(account, busy);
    }
}

#[async_trait]
impl FreeBusySource for Counting {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        {
            let mut asked = self.asked.lock().unwrap();
            for a in &request.accounts {
                *asked.entry(a.to_string()).or_default() += 1;
            }
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.free_busy(request).await
    }
}

/// An iCloud validator that accepts or refuses every login.
#[derive(Debug)]
pub struct Validator(pub Option<SourceError>);

#[async_trait]
impl CalDavValidator for Validator {
    async fn validate(&self, _login: &CalDavLogin) -> Result<(), SourceError> {
        match &self.0 {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub clock: Arc<FixedClock>,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assistant.sqlite3");
        Self {
            dir,
            path,
            clock: Arc::new(FixedClock::new(
                jiff::Timestamp::from_second(MONDAY + 7 * H).unwrap(),
            )),
        }
    }

    /// A vault over the same SQLite file.
    pub fn vault(&self) -> Arc<Vault> {
        Arc::new(Vault::new(
            Arc::new(SqliteStore::open(&self.path).unwrap()),
            KeyRing::new(MasterKey::from_bytes(KeyId(1), [7; 32])),
        ))
    }

    /// A builder with the store, a vault and the clock; add sources.
    pub async fn builder(&self) -> AssistantBuilder {
        Assistant::builder()
            .store(Store::open_sqlite(&self.path).await.unwrap())
            .vault(self.vault())
            .clock(self.clock.clone())
    }
}
