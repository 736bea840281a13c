use std::sync::Arc;
use std::time::Duration;

use availability::conformance::{Fixture, check_source};
use availability::{
    AccountId, BusyKind, Capabilities, FreeBusy, FreeBusyRequest, FreeBusySource,
    FreeBusySourceExt, Interval, KindSet, MemorySource, SourceError, SourceErrorKind,
};

fn iv(s: i64, e: i64) -> Interval {
    Interval::new(s, e).unwrap()
}

fn ana() -> FreeBusy {
    FreeBusy::from_entries([
        (BusyKind::Busy, iv(100, 200)),
        (BusyKind::Tentative, iv(150, 400)),
        (BusyKind::OutOfOffice, iv(900, 1_000)),
    ])
}

#[tokio::test]
async fn memory_source_passes_conformance() {
    let source = MemorySource::with_capabilities(Capabilities::new(2));
    source.insert("ana", ana());
    let fixture = Fixture {
        window: iv(0, 1_200),
        known: AccountId::new("ana"),
        expected: ana(),
        missing: AccountId::new("nobody"),
    };
    // A strict two-account source answers the excess accounts of a request
    // with errors, as the contract allows.
    let strict = check_source(&source, &fixture).await.unwrap();
    assert!(strict.ran("over_batch_limit"), "{strict:?}");
    assert!(strict.ran("per_account_errors"), "{strict:?}");
    let roomy = MemorySource::new();
    roomy.insert("ana", ana());
    let report = check_source(&roomy, &fixture).await.unwrap();
    assert!(
        report.ran("kinds") && report.ran("sub_window"),
        "{report:?}"
    );
    // Unlimited: nothing to split, and too wide a batch to overflow.
    let not_run: Vec<&str> = report.not_run.iter().map(|(c, _)| *c).collect();
    assert_eq!(not_run, ["window_pieces", "over_batch_limit"]);
}

#[tokio::test]
async fn conformance_catches_a_source_that_forgets_to_clip() {
    #[derive(Debug)]
    struct Unclipped(MemorySource);
    #[async_trait::async_trait]
    impl FreeBusySource for Unclipped {
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        async fn free_busy(
            &self,
            request: &FreeBusyRequest,
        ) -> Result<availability::FreeBusyResponse, SourceError> {
            let wide = FreeBusyRequest {
                window: iv(-10_000, 10_000),
                accounts: request.accounts.clone(),
            };
            self.0.free_busy(&wide).await
        }
    }
    let inner = MemorySource::new();
    inner.insert("ana", ana());
    let fixture = Fixture {
        window: iv(0, 1_200),
        known: AccountId::new("ana"),
        expected: ana(),
        missing: AccountId::new("nobody"),
    };
    let err = check_source(&Unclipped(inner), &fixture).await.unwrap_err();
    assert_eq!(err.check, "sub_window", "{err}");
}

/// A source wrapping memory with other capabilities, and optionally only
/// the first `max_window` of each request answered.
#[derive(Debug)]
struct Claims {
    inner: MemorySource,
    caps: Capabilities,
    first_piece_only: bool,
}

#[async_trait::async_trait]
impl FreeBusySource for Claims {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn free_busy(
        &self,
        request: &FreeBusyRequest,
    ) -> Result<availability::FreeBusyResponse, SourceError> {
        let mut request = request.clone();
        if let (true, Some(d)) = (self.first_piece_only, self.caps.max_window) {
            let end = request.window.start() + i64::try_from(d.as_secs()).unwrap();
            request.window = iv(request.window.start(), end.min(request.window.end()));
        }
        self.inner.free_busy(&request).await
    }
}

fn claims(caps: Capabilities, first_piece_only: bool) -> Claims {
    let inner = MemorySource::new();
    inner.insert("ana", ana());
    Claims {
        inner,
        caps,
        first_piece_only,
    }
}

fn ana_fixture() -> Fixture {
    Fixture {
        window: iv(0, 1_200),
        known: AccountId::new("ana"),
        expected: ana(),
        missing: AccountId::new("nobody"),
    }
}

#[tokio::test]
async fn conformance_catches_kinds_the_source_does_not_claim() {
    let busy_only = Capabilities::new(10).with_reported_kinds(KindSet::EMPTY.with(BusyKind::Busy));
    let err = check_source(&claims(busy_only, false), &ana_fixture())
        .await
        .unwrap_err();
    assert_eq!(err.check, "kinds", "{err}");
}

#[tokio::test]
async fn conformance_catches_a_source_that_answers_only_the_first_piece() {
    let pieces = Capabilities::new(10).with_max_window(Duration::from_secs(500));
    let honest = check_source(&claims(pieces, false), &ana_fixture())
        .await
        .unwrap();
    assert!(honest.ran("window_pieces"), "{honest:?}");
    let err = check_source(&claims(pieces, true), &ana_fixture())
        .await
        .unwrap_err();
    // The out-of-office time at 900..1000 lies after the first piece, so
    // the first whole-window answer already differs.
    assert_eq!(err.check, "per_account_errors", "{err}");
}

#[tokio::test]
async fn query_splits_by_capabilities_and_keeps_order() {
    let caps = Capabilities::new(3).with_max_window(Duration::from_secs(250));
    let source = Arc::new(MemorySource::with_capabilities(caps));
    let ids: Vec<AccountId> = (0..8).map(|i| AccountId::new(format!("p{i}"))).collect();
    for id in &ids[..7] {
        source.insert(id.clone(), ana());
    }
    source.fail(
        "p3",
        SourceError::Unauthorized {
            message: "revoked".into(),
        },
    );
    let dyn_source: Arc<dyn FreeBusySource> = source.clone();
    let answer = dyn_source.query(iv(0, 1_000), &ids).await;
    // ceil(8 / 3) = 3 batches per window piece, ceil(1000 / 250) = 4 pieces.
    assert_eq!(source.requests(), 12);
    let got: Vec<&AccountId> = answer.accounts.iter().map(|a| &a.account).collect();
    assert_eq!(got, ids.iter().collect::<Vec<_>>());
    for (i, a) in answer.accounts.iter().enumerate() {
        match i {
            3 => assert_eq!(
                a.result.as_ref().unwrap_err().kind(),
                SourceErrorKind::Unauthorized
            ),
            7 => assert_eq!(
                a.result.as_ref().unwrap_err().kind(),
                SourceErrorKind::NotFound
            ),
            // Pieces joined back: [150, 400) crossed the 250 boundary.
            _ => assert_eq!(a.result.as_ref().unwrap(), &ana().clip(iv(0, 1_000))),
        }
    }
    let one = dyn_source
        .free_busy_one(AccountId::new("p0"), iv(0, 160))
        .await
        .unwrap();
    assert_eq!(
        one.unavailable(KindSet::default()).as_slice(),
        &[iv(100, 160)]
    );
}

#[tokio::test]
async fn batch_limit_is_enforced_per_account() {
    let source = MemorySource::with_capabilities(Capabilities::new(1));
    source.insert("a", ana());
    source.insert("b", ana());
    let answer = source
        .free_busy(&FreeBusyRequest::new(iv(0, 100), ["a", "b"]))
        .await
        .unwrap();
    assert!(answer.accounts[0].result.is_ok());
    assert_eq!(
        answer.accounts[1].result.as_ref().unwrap_err().kind(),
        SourceErrorKind::InvalidResponse
    );
    assert!(answer.get(&AccountId::new("b")).is_some());
}
