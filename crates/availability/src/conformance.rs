//! Checks every [`FreeBusySource`] must pass (feature `conformance`).
//!
//! Provider crates call [`check_source`] from their integration tests
//! against their real peer (wiremock speaking the documented JSON, Radicale,
//! Xandikos), with a [`Fixture`] describing what the peer holds.

use crate::{AccountId, FreeBusy, FreeBusyRequest, FreeBusySource, Interval, SourceErrorKind};

/// What the peer under test holds.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// A window the peer can answer.
    pub window: Interval,
    /// An account with busy time in `window`.
    pub known: AccountId,
    /// What `known` holds within `window`, exactly.
    pub expected: FreeBusy,
    /// An account the peer does not have.
    pub missing: AccountId,
}

/// A failed conformance check: which one, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("conformance check `{check}` failed: {detail}")]
pub struct Failure {
    /// The check's name.
    pub check: &'static str,
    /// What was seen instead.
    pub detail: String,
}

fn fail(check: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        check,
        detail: detail.into(),
    }
}

/// Runs every check: request order, duplicates, per-account errors,
/// clipping to the window and to a sub-window, and batches larger than the
/// advertised limit.
///
/// # Errors
///
/// The first [`Failure`].
pub async fn check_source<S: FreeBusySource + ?Sized>(
    source: &S,
    fixture: &Fixture,
) -> Result<(), Failure> {
    let order = vec![
        fixture.missing.clone(),
        fixture.known.clone(),
        fixture.known.clone(),
    ];
    // Within the advertised batch size (the limit itself is checked below).
    let max = source.capabilities().max_accounts_per_request.max(1);
    let mut response = crate::FreeBusyResponse::default();
    for ids in order.chunks(max) {
        let part = source
            .free_busy(&FreeBusyRequest {
                window: fixture.window,
                accounts: ids.to_vec(),
            })
            .await
            .map_err(|e| fail("answers", e.to_string()))?;
        response.accounts.extend(part.accounts);
    }
    let got: Vec<&AccountId> = response.accounts.iter().map(|a| &a.account).collect();
    if got != order.iter().collect::<Vec<_>>() {
        return Err(fail(
            "request_order",
            format!("asked {order:?}, answered {got:?}"),
        ));
    }
    match &response.accounts[0].result {
        Err(e) if e.kind() == SourceErrorKind::NotFound => {}
        other => return Err(fail("missing_account_not_found", format!("{other:?}"))),
    }
    for answer in &response.accounts[1..] {
        let fb = answer
            .result
            .as_ref()
            .map_err(|e| fail("known_account", e.to_string()))?;
        if fb != &fixture.expected {
            return Err(fail(
                "known_account",
                format!("expected {:?}, got {fb:?}", fixture.expected),
            ));
        }
    }

    // A sub-window cutting through the middle: answers are clipped.
    let w = fixture.window;
    let third = (w.len_secs() / 3).max(1);
    if let Ok(sub) = Interval::new(w.start() + third, w.end() - third) {
        let response = source
            .free_busy(&FreeBusyRequest::new(sub, [fixture.known.clone()]))
            .await
            .map_err(|e| fail("sub_window", e.to_string()))?;
        let fb = response
            .accounts
            .first()
            .ok_or_else(|| fail("sub_window", "no answer"))?
            .result
            .as_ref()
            .map_err(|e| fail("sub_window", e.to_string()))?;
        if fb != &fixture.expected.clip(sub) {
            return Err(fail(
                "sub_window",
                format!("expected {:?}, got {fb:?}", fixture.expected.clip(sub)),
            ));
        }
    }

    // More accounts than one request may carry: every one is still answered
    // (with busy time, or with an error for the excess), none dropped.
    if max < 64 {
        let many: Vec<AccountId> = (0..=max).map(|_| fixture.known.clone()).collect();
        let response = source
            .free_busy(&FreeBusyRequest {
                window: fixture.window,
                accounts: many.clone(),
            })
            .await
            .map_err(|e| fail("over_batch_limit", e.to_string()))?;
        if response.accounts.len() != many.len() {
            return Err(fail(
                "over_batch_limit",
                format!("asked {}, answered {}", many.len(), response.accounts.len()),
            ));
        }
    }
    Ok(())
}
