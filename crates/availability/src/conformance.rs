//! Checks every [`FreeBusySource`] must pass (feature `conformance`), and
//! the one place that writes down what that is.
//!
//! Provider crates call [`check_source`] from their integration tests
//! against their real peer (wiremock speaking the documented JSON, Radicale,
//! Xandikos, `.ics` files), with a [`Fixture`] describing what the peer
//! holds.
//!
//! # What every `FreeBusySource` must do
//!
//! Each point names the check that tests it, and what that check needs of
//! the source and the fixture. A check whose needs are not met is not run,
//! and the [`Report`] says so and why, so a test can assert which checks
//! ran against its peer.
//!
//! | check | the source must | needs |
//! |---|---|---|
//! | `empty_request` | answer a request naming no account with no answers, not an error | nothing |
//! | `request_order` | answer every asked account exactly once, in request order, an account asked twice twice | nothing |
//! | `missing_account_not_found` | answer an account the peer does not have with [`SourceErrorKind::NotFound`] in that account's entry | nothing |
//! | `per_account_errors` | answer the other accounts of that request as if it were not there | a batch of at least 2 accounts ([`Capabilities::max_accounts_per_request`](crate::Capabilities)) |
//! | `known_account` | give exactly the busy time the peer holds in the window, coalesced per kind | busy time in [`Fixture::expected`] |
//! | `kinds` | report only kinds its [`Capabilities::reported_kinds`](crate::Capabilities) names, each as the peer has it | busy time in [`Fixture::expected`], of reported kinds only |
//! | `sub_window` | clip busy time to the asked window | a window of at least 3 seconds |
//! | `window_pieces` | answer a window longer than its [`Capabilities::max_window`](crate::Capabilities) whole, splitting it itself | a `max_window` shorter than the fixture's window, and busy time after the first piece |
//! | `over_batch_limit` | answer every account of a request larger than its batch limit (with busy time, or an error for the excess), none dropped | a batch limit under 64 |
//!
//! Besides, `Err` from [`FreeBusySource::free_busy`] means nothing could be
//! answered (every account failed the same way, the transport say): the
//! checks above treat it as a failure, since the peer is up. No source
//! returns an event's title, description, location or attendees, which the
//! types cannot hold.

use std::time::Duration;

use crate::{
    AccountId, BusyKind, FreeBusy, FreeBusyRequest, FreeBusyResponse, FreeBusySource, Interval,
    SourceErrorKind,
};

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

/// Which checks ran, and which were not run and why (their needs, in the
/// [module docs](self), were not met).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The checks that ran and passed, in order.
    pub ran: Vec<&'static str>,
    /// The checks not run, each with the need that was not met.
    pub not_run: Vec<(&'static str, String)>,
}

impl Report {
    /// Whether `check` ran (and passed).
    pub fn ran(&self, check: &str) -> bool {
        self.ran.contains(&check)
    }
}

fn fail(check: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        check,
        detail: detail.into(),
    }
}

/// Asks `accounts` over `window` in requests of at most the advertised
/// batch size; `check` names the failure if the source returns `Err`.
async fn ask<S: FreeBusySource + ?Sized>(
    source: &S,
    check: &'static str,
    window: Interval,
    accounts: &[AccountId],
) -> Result<FreeBusyResponse, Failure> {
    let max = source.capabilities().max_accounts_per_request.max(1);
    let mut response = FreeBusyResponse::default();
    for ids in accounts.chunks(max) {
        let part = source
            .free_busy(&FreeBusyRequest {
                window,
                accounts: ids.to_vec(),
            })
            .await
            .map_err(|e| fail(check, e.to_string()))?;
        response.accounts.extend(part.accounts);
    }
    Ok(response)
}

/// `known`'s answer in a one-account request over `window`.
async fn known_in<S: FreeBusySource + ?Sized>(
    source: &S,
    check: &'static str,
    fixture: &Fixture,
    window: Interval,
) -> Result<FreeBusy, Failure> {
    let response = ask(source, check, window, std::slice::from_ref(&fixture.known)).await?;
    let [answer] = response.accounts.as_slice() else {
        return Err(fail(
            check,
            format!("asked 1 account, answered {}", response.accounts.len()),
        ));
    };
    answer
        .result
        .clone()
        .map_err(|e| fail(check, e.to_string()))
}

fn same(check: &'static str, expected: &FreeBusy, got: &FreeBusy) -> Result<(), Failure> {
    if got == expected {
        Ok(())
    } else {
        Err(fail(check, format!("expected {expected:?}, got {got:?}")))
    }
}

/// Runs every check the source and fixture allow (see the
/// [module docs](self) for what each asks of a source and needs).
///
/// # Errors
///
/// The first [`Failure`]; a fixture that contradicts itself (no busy time
/// for `known`, busy time outside the window) fails as `fixture`.
pub async fn check_source<S: FreeBusySource + ?Sized>(
    source: &S,
    fixture: &Fixture,
) -> Result<Report, Failure> {
    let caps = source.capabilities();
    let mut report = Report::default();
    let w = fixture.window;
    if fixture.expected.is_empty() || fixture.expected.clip(w) != fixture.expected {
        return Err(fail(
            "fixture",
            "`expected` must hold busy time, all of it inside `window`",
        ));
    }

    let empty = source
        .free_busy(&FreeBusyRequest {
            window: w,
            accounts: Vec::new(),
        })
        .await
        .map_err(|e| fail("empty_request", e.to_string()))?;
    if !empty.accounts.is_empty() {
        return Err(fail(
            "empty_request",
            format!("asked none, answered {:?}", empty.accounts),
        ));
    }
    report.ran.push("empty_request");

    // Within the advertised batch size (the limit itself is checked below).
    let order = vec![
        fixture.missing.clone(),
        fixture.known.clone(),
        fixture.known.clone(),
    ];
    let response = ask(source, "request_order", w, &order).await?;
    let got: Vec<&AccountId> = response.accounts.iter().map(|a| &a.account).collect();
    if got != order.iter().collect::<Vec<_>>() {
        return Err(fail(
            "request_order",
            format!("asked {order:?}, answered {got:?}"),
        ));
    }
    report.ran.push("request_order");
    match &response.accounts[0].result {
        Err(e) if e.kind() == SourceErrorKind::NotFound => {}
        other => return Err(fail("missing_account_not_found", format!("{other:?}"))),
    }
    report.ran.push("missing_account_not_found");
    let batched = caps.max_accounts_per_request >= 2;
    let check = if batched {
        "per_account_errors"
    } else {
        "known_account"
    };
    for answer in &response.accounts[1..] {
        let fb = answer
            .result
            .as_ref()
            .map_err(|e| fail(check, e.to_string()))?;
        same(check, &fixture.expected, fb)?;
    }
    if batched {
        report.ran.push("per_account_errors");
    } else {
        report.not_run.push((
            "per_account_errors",
            "the source takes one account a request".to_owned(),
        ));
    }
    let alone = known_in(source, "known_account", fixture, w).await?;
    same("known_account", &fixture.expected, &alone)?;
    report.ran.push("known_account");

    // Kinds: only the reported ones, each as the peer has it (checked
    // exactly by `known_account`).
    let unreported: Vec<BusyKind> = BusyKind::ALL
        .into_iter()
        .filter(|k| !caps.reported_kinds.contains(*k) && !alone.get(*k).is_empty())
        .collect();
    if !unreported.is_empty() {
        return Err(fail(
            "kinds",
            format!(
                "answered {unreported:?}, not among the reported {:?}",
                caps.reported_kinds
            ),
        ));
    }
    report.ran.push("kinds");

    // A sub-window cutting through the middle: answers are clipped.
    let third = (w.len_secs() / 3).max(1);
    match Interval::new(w.start() + third, w.end() - third) {
        Ok(sub) => {
            let fb = known_in(source, "sub_window", fixture, sub).await?;
            same("sub_window", &fixture.expected.clip(sub), &fb)?;
            report.ran.push("sub_window");
        }
        Err(_) => report
            .not_run
            .push(("sub_window", "the window is under 3 seconds".to_owned())),
    }

    // A window longer than one request may cover: the source splits it,
    // and busy time after the first piece is still there.
    let piece = caps
        .max_window
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .filter(|&d| d < w.len_secs());
    match piece {
        None => report.not_run.push((
            "window_pieces",
            format!(
                "max_window ({:?}) is not shorter than the window ({:?})",
                caps.max_window,
                Duration::from_secs(w.len_secs().unsigned_abs())
            ),
        )),
        Some(d) => match Interval::new(w.start() + d, w.end()) {
            Ok(rest) if !fixture.expected.clip(rest).is_empty() => {
                same("window_pieces", &fixture.expected, &alone)?;
                report.ran.push("window_pieces");
            }
            _ => report.not_run.push((
                "window_pieces",
                "the fixture has no busy time after the first piece".to_owned(),
            )),
        },
    }

    // More accounts than one request may carry: every one is still answered
    // (with busy time, or with an error for the excess), none dropped.
    let max = caps.max_accounts_per_request.max(1);
    if max < 64 {
        let many: Vec<AccountId> = (0..=max).map(|_| fixture.known.clone()).collect();
        let response = source
            .free_busy(&FreeBusyRequest {
                window: w,
                accounts: many.clone(),
            })
            .await
            .map_err(|e| fail("over_batch_limit", e.to_string()))?;
        let got: Vec<&AccountId> = response.accounts.iter().map(|a| &a.account).collect();
        if got != many.iter().collect::<Vec<_>>() {
            return Err(fail(
                "over_batch_limit",
                format!("asked {}, answered {got:?}", many.len()),
            ));
        }
        for answer in &response.accounts {
            if let Ok(fb) = &answer.result {
                same("over_batch_limit", &fixture.expected, fb)?;
            }
        }
        report.ran.push("over_batch_limit");
    } else {
        report.not_run.push((
            "over_batch_limit",
            format!("the batch limit ({max}) is 64 or more"),
        ));
    }
    Ok(report)
}
