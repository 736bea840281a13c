//! [`MemorySource`]: an in-memory [`FreeBusySource`] for tests and examples.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;

use crate::{
    AccountFreeBusy, AccountId, Capabilities, FreeBusy, FreeBusyRequest, FreeBusyResponse,
    FreeBusySource, SourceError,
};

/// An in-memory [`FreeBusySource`]: each account holds busy time or an error
/// to answer with. Unknown accounts are answered with
/// [`SourceError::NotFound`]. It counts the requests it serves, so tests can
/// check batching and caching.
///
/// It honours its own [`Capabilities`]: accounts beyond
/// `max_accounts_per_request` in one request are answered with an
/// [`SourceError::InvalidResponse`] explaining the limit, as a strict server
/// would refuse them, so callers' batching is tested for real.
#[derive(Debug)]
pub struct MemorySource {
    accounts: RwLock<HashMap<AccountId, Result<FreeBusy, SourceError>>>,
    capabilities: Capabilities,
    requests: AtomicUsize,
}

impl Default for MemorySource {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySource {
    /// An empty source answering up to 1000 accounts per request.
    pub fn new() -> Self {
        Self::with_capabilities(Capabilities::new(1000))
    }

    /// An empty source with the given capabilities.
    pub fn with_capabilities(capabilities: Capabilities) -> Self {
        Self {
            accounts: RwLock::new(HashMap::new()),
            capabilities,
            requests: AtomicUsize::new(0),
        }
    }

    /// Sets an account's busy time, replacing what it had.
    pub fn insert(&self, account: impl Into<AccountId>, busy: FreeBusy) {
        self.accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.into(), Ok(busy));
    }

    /// Makes an account answer with `error`.
    pub fn fail(&self, account: impl Into<AccountId>, error: SourceError) {
        self.accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.into(), Err(error));
    }

    /// Forgets an account (it then answers not found).
    pub fn remove(&self, account: &AccountId) {
        self.accounts
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(account);
    }

    /// How many requests were served.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl FreeBusySource for MemorySource {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let max = self.capabilities.max_accounts_per_request;
        let accounts = self.accounts.read().unwrap_or_else(PoisonError::into_inner);
        let answers = request
            .accounts
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let result = if i >= max {
                    Err(SourceError::InvalidResponse {
                        message: format!("at most {max} accounts per request"),
                    })
                } else {
                    match accounts.get(id) {
                        Some(Ok(fb)) => Ok(fb.clip(request.window)),
                        Some(Err(e)) => Err(e.clone()),
                        None => Err(SourceError::NotFound {
                            message: format!("no account {id}"),
                        }),
                    }
                };
                AccountFreeBusy {
                    account: id.clone(),
                    result,
                }
            })
            .collect();
        Ok(FreeBusyResponse { accounts: answers })
    }
}
