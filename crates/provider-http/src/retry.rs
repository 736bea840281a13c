//! The retry loop: backoff with jitter, `Retry-After` honoured up to a
//! limit, and the last error returned when the retries run out; paced by
//! identity when the provider gives a [`Paced`].

use std::time::Duration;

use availability::{RetryConfig, SourceError};

use crate::pacer::Paced;
use crate::reply::{Reply, Service};
use crate::status::StatusError;

impl Service {
    /// Sends what `build` makes until it succeeds, fails for good, or the
    /// retries run out; `classify` says what a reply's status stands for
    /// (usually [`map_status`](crate::map_status) with the provider's
    /// rules). A final non-2xx reply becomes its error.
    ///
    /// # Errors
    ///
    /// The last error: a non-2xx status's, a transport failure, or the
    /// size cap. A `Retry-After` longer than
    /// [`RetryConfig::max_retry_after`] ends the retries at once.
    pub async fn send<F, C>(
        &self,
        build: F,
        retry: &RetryConfig,
        max_body: usize,
        classify: C,
    ) -> Result<Reply, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        C: Fn(&Reply) -> Option<StatusError>,
    {
        let reply = self.send_raw(build, retry, max_body, &classify).await?;
        match classify(&reply) {
            None => Ok(reply),
            Some(failure) => Err(failure.error),
        }
    }

    /// Like [`send`](Self::send), but a final non-2xx reply that is not
    /// retried is returned as is, for callers that read its body (an
    /// OAuth error code, say).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), except for non-2xx replies not retried.
    pub async fn send_raw<F, C>(
        &self,
        build: F,
        retry: &RetryConfig,
        max_body: usize,
        classify: C,
    ) -> Result<Reply, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        C: Fn(&Reply) -> Option<StatusError>,
    {
        self.run(None, build, retry, max_body, classify).await
    }

    /// [`send`](Self::send), each attempt paced as `paced`'s identity: it
    /// waits for its turn ([`Pacer::acquire`](crate::Pacer::acquire)),
    /// holds its concurrency slot until the reply is read (not while
    /// waiting to retry), and a throttled reply holds back the identity's
    /// other requests ([`Pacer::observe`](crate::Pacer::observe)).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); pacing itself never fails a request.
    pub async fn send_paced<F, C>(
        &self,
        paced: Paced<'_>,
        build: F,
        retry: &RetryConfig,
        max_body: usize,
        classify: C,
    ) -> Result<Reply, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        C: Fn(&Reply) -> Option<StatusError>,
    {
        let reply = self
            .run(Some(paced), build, retry, max_body, &classify)
            .await?;
        match classify(&reply) {
            None => Ok(reply),
            Some(failure) => Err(failure.error),
        }
    }

    /// [`send_raw`](Self::send_raw), paced as [`send_paced`](Self::send_paced).
    ///
    /// # Errors
    ///
    /// As [`send_raw`](Self::send_raw).
    pub async fn send_raw_paced<F, C>(
        &self,
        paced: Paced<'_>,
        build: F,
        retry: &RetryConfig,
        max_body: usize,
        classify: C,
    ) -> Result<Reply, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        C: Fn(&Reply) -> Option<StatusError>,
    {
        self.run(Some(paced), build, retry, max_body, classify)
            .await
    }

    async fn run<F, C>(
        &self,
        paced: Option<Paced<'_>>,
        build: F,
        retry: &RetryConfig,
        max_body: usize,
        classify: C,
    ) -> Result<Reply, SourceError>
    where
        F: Fn() -> reqwest::RequestBuilder,
        C: Fn(&Reply) -> Option<StatusError>,
    {
        let mut attempt = 0;
        loop {
            let permit = match &paced {
                Some(paced) => Some(paced.acquire().await),
                None => None,
            };
            let outcome = match build().send().await {
                Ok(response) => self.read(response, max_body).await,
                Err(e) => Err(self.transport(e)),
            };
            drop(permit);
            let failure = match outcome {
                Ok(reply) => match classify(&reply) {
                    None => return Ok(reply),
                    Some(failure) => Err((reply, failure)),
                },
                Err(e) => Ok(e),
            };
            let error = match failure {
                Err((reply, failure)) => {
                    if let Some(paced) = &paced {
                        paced.observe(&failure.error);
                    }
                    if !failure.retry {
                        return Ok(reply);
                    }
                    failure.error
                }
                Ok(e) => {
                    if let Some(paced) = &paced {
                        paced.observe(&e);
                    }
                    if !e.is_transient() {
                        return Err(e);
                    }
                    e
                }
            };
            let Some(wait) = wait_for(attempt, error.retry_after(), retry) else {
                return Err(error);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The wait before retry number `attempt` (0-based) after a failure whose
/// `Retry-After` was `retry_after`, or `None` when the retries end: they
/// have run out, or `Retry-After` asks longer than
/// [`RetryConfig::max_retry_after`]. A `Retry-After` honoured is waited
/// in full, or the backoff if that is longer.
fn wait_for(attempt: u32, retry_after: Option<Duration>, retry: &RetryConfig) -> Option<Duration> {
    if attempt >= retry.max_retries {
        return None;
    }
    match retry_after {
        Some(asked) if asked > retry.max_retry_after => None,
        Some(asked) => Some(asked.max(retry.backoff_for(attempt))),
        None => Some(retry.backoff_for(attempt)),
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::{ClientOptions, StatusCode, map_status};

    fn classify(reply: &Reply) -> Option<StatusError> {
        map_status(reply.status, reply.retry_after, &StatusCode(""))
    }

    fn quick() -> RetryConfig {
        RetryConfig::default().backoff(Duration::from_millis(1), Duration::from_millis(2))
    }

    #[tokio::test]
    async fn retries_5xx_then_returns_the_success() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let http = ClientOptions::new("test/0").build().unwrap();
        let service = Service::new("Test");
        let reply = service
            .send(|| http.get(server.uri()), &quick(), 1024, classify)
            .await
            .unwrap();
        assert_eq!(reply.body, b"ok");
    }

    #[tokio::test]
    async fn a_4xx_is_not_retried_and_a_long_retry_after_ends_the_retries() {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
            .expect(1)
            .mount(&server)
            .await;
        let http = ClientOptions::new("test/0").build().unwrap();
        let service = Service::new("Test");
        let err = service
            .send(|| http.get(server.uri()), &quick(), 1024, classify)
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        server.reset().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(400).set_body_string("why"))
            .expect(1)
            .mount(&server)
            .await;
        let raw = service
            .send_raw(|| http.get(server.uri()), &quick(), 1024, classify)
            .await
            .unwrap();
        assert_eq!((raw.status, raw.body.as_slice()), (400, b"why".as_slice()));
    }
    #[test]
    fn a_retry_after_within_the_maximum_is_waited_in_full() {
        let retry = quick();
        for attempt in 0..retry.max_retries {
            let asked = Some(Duration::from_secs(1));
            assert_eq!(
                wait_for(attempt, asked, &retry),
                Some(Duration::from_secs(1))
            );
        }
        // At the maximum exactly it is still honoured.
        let at_most = Some(retry.max_retry_after);
        assert_eq!(wait_for(0, at_most, &retry), at_most);
    }

    #[test]
    fn a_backoff_longer_than_retry_after_wins() {
        let retry = RetryConfig::default()
            .backoff(Duration::from_secs(10), Duration::from_secs(10))
            .max_retries(1);
        // Full jitter: the backoff is up to 10 s, and the wait is at
        // least the 1 ms asked and at most the ceiling.
        for _ in 0..20 {
            let wait = wait_for(0, Some(Duration::from_millis(1)), &retry).unwrap();
            assert!(wait >= Duration::from_millis(1), "{wait:?}");
            assert!(wait <= Duration::from_secs(10), "{wait:?}");
        }
    }

    #[test]
    fn without_retry_after_the_wait_is_the_backoff() {
        let retry = quick();
        for attempt in 0..retry.max_retries {
            let wait = wait_for(attempt, None, &retry).unwrap();
            assert!(wait <= Duration::from_millis(2), "{wait:?}");
        }
    }

    #[test]
    fn the_retries_end_when_they_run_out_or_retry_after_is_too_long() {
        let retry = quick();
        let asked = Some(Duration::from_secs(1));
        assert_eq!(wait_for(retry.max_retries, asked, &retry), None);
        assert_eq!(wait_for(retry.max_retries, None, &retry), None);
        assert_eq!(wait_for(0, None, &RetryConfig::none()), None);
        let too_long = retry.max_retry_after + Duration::from_secs(1);
        assert_eq!(wait_for(0, Some(too_long), &retry), None);
    }
}
