//! The retry loop: backoff with jitter, `Retry-After` honoured up to a
//! limit, and the last error returned when the retries run out.

use availability::{RetryConfig, SourceError};

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
        let mut attempt = 0;
        loop {
            let outcome = match build().send().await {
                Ok(response) => self.read(response, max_body).await,
                Err(e) => Err(self.transport(e)),
            };
            let error = match outcome {
                Ok(reply) => match classify(&reply) {
                    None => return Ok(reply),
                    Some(failure) if !failure.retry => return Ok(reply),
                    Some(failure) => failure.error,
                },
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            if attempt >= retry.max_retries {
                return Err(error);
            }
            let wait = match error.retry_after() {
                Some(asked) if asked > retry.max_retry_after => return Err(error),
                Some(asked) => asked.max(retry.backoff_for(attempt)),
                None => retry.backoff_for(attempt),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
