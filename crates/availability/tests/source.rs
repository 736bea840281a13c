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
    check_source(&source, &fixture).await.unwrap();
    let roomy = MemorySource::new();
    roomy.insert("ana", ana());
    check_source(&roomy, &fixture).await.unwrap();
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
