//! [`GraphEvents`]: booking meetings in the scheduling account's Exchange
//! Online calendar through Microsoft Graph, Exchange sending the
//! invitations.
//! <https://learn.microsoft.com/en-us/graph/api/resources/event>

use std::sync::Arc;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountId, Delivered, Meeting, MeetingChange, MeetingSender, SourceError,
    TokenSource,
};
use provider_http::{BuildError, Pacer, RefreshOnce};

use crate::GraphConfig;
use crate::http::{send, send_done_on};
use crate::source::utc;
use crate::wire::{Attendee, CancelBody, EmailAddress, EventId, EventWrite, ItemBody};

/// Which way [`GraphEvents`] sends ([`Delivered::via`]).
const VIA: &str = "graph";

/// The default comment of a cancellation, sent to the attendees.
const CANCEL_COMMENT: &str = "This meeting has been cancelled.";

/// A [`MeetingSender`] that books in the scheduling account's own
/// calendar, so the invitations come from its mailbox and Exchange sends
/// them (and the updates and cancellations) itself.
///
/// - [`MeetingChange::Create`]: `POST /users/{account}/events`
///   ([user-post-events](https://learn.microsoft.com/en-us/graph/api/user-post-events))
///   with `subject`, a text `body`, `start`/`end` as UTC wall time with
///   `timeZone: UTC`, the attendees (`required`), `showAs: busy` and
///   `transactionId` = the meeting's `UID`, Graph's idempotency key for a
///   create: a retried POST never makes two events, so it is retried like
///   any request. The answer's `id` is [`Delivered::event`].
/// - [`MeetingChange::Update`]: `PATCH /users/{account}/events/{id}`
///   ([event-update](https://learn.microsoft.com/en-us/graph/api/event-update))
///   with the new subject, body, times and attendees.
/// - [`MeetingChange::Cancel`]: `POST /users/{account}/events/{id}/cancel`
///   ([event-cancel](https://learn.microsoft.com/en-us/graph/api/event-cancel))
///   with a comment (202 Accepted): the organiser's cancellation, which
///   notifies the attendees. 404 (already gone) is done.
///
/// Tokens come from the [`TokenSource`] (app-only [`AppTokens`](crate::AppTokens)
/// with the application permission `Calendars.ReadWrite`), refreshed once
/// on a 401. 429 and 5xx are retried with [`GraphConfig::retry`],
/// honouring `Retry-After`. Errors never carry the scheduling account's,
/// the organiser's or an attendee's address: they are replaced by
/// `[address]`.
#[derive(Debug)]
pub struct GraphEvents {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    account: AccountId,
    config: GraphConfig,
    cancel_comment: String,
    pacer: Pacer,
    mailbox: String,
}

impl GraphEvents {
    /// Books in `scheduling_account`'s calendar (its SMTP address or
    /// object id) with tokens from `tokens`. Of `config`, the base URL,
    /// retries and HTTP settings apply.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn new(
        tokens: Arc<dyn TokenSource>,
        scheduling_account: impl Into<AccountId>,
        config: GraphConfig,
    ) -> Result<Self, BuildError> {
        let account: AccountId = scheduling_account.into();
        Ok(Self {
            mailbox: account.as_str().to_ascii_lowercase(),
            http: config
                .http
                .source_client("Graph", crate::http::USER_AGENT)?,
            tokens,
            account,
            pacer: Pacer::new(&config.pacing),
            config,
            cancel_comment: CANCEL_COMMENT.to_owned(),
        })
    }

    /// Paces the writes with `pacer` instead of one of their own (built
    /// from [`GraphConfig::pacing`]): [`GraphSource::pacer`](crate::GraphSource::pacer)'s,
    /// so that the scheduling mailbox's reads and writes count against
    /// one per-mailbox limit.
    #[must_use]
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    /// Sends `comment` with cancellations. Default "This meeting has been
    /// cancelled."
    #[must_use]
    pub fn with_cancel_comment(mut self, comment: impl Into<String>) -> Self {
        self.cancel_comment = comment.into();
        self
    }

    /// The mailbox booked in: the scheduling account.
    pub fn scheduling_account(&self) -> &str {
        self.account.as_str()
    }

    /// `{base}/users/{account}/events[/{tail}...]`, each segment
    /// percent-encoded.
    fn url(&self, tail: &[&str]) -> Result<reqwest::Url, SourceError> {
        let bad = || SourceError::InvalidResponse {
            message: "the Graph base URL is not a URL".to_owned(),
        };
        let mut url = reqwest::Url::parse(&self.config.base_url).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|()| bad())?
            .pop_if_empty()
            .extend(["users", self.account.as_str(), "events"])
            .extend(tail);
        Ok(url)
    }

    /// Sends `request` with the token, refreshed once on a 401.
    async fn authorised<F, Fut>(&self, request: F) -> Result<Vec<u8>, SourceError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<Vec<u8>, SourceError>>,
    {
        let mut token = RefreshOnce::new(&*self.tokens, &self.account).await?;
        token.send(request).await
    }

    async fn create(&self, meeting: &Meeting) -> Result<String, SourceError> {
        let url = &self.url(&[])?;
        let body = &event_body(meeting, true);
        let answer = self
            .authorised(|token| async move {
                send(
                    self.pacer.identity(&self.mailbox),
                    || {
                        self.http
                            .post(url.clone())
                            .bearer_auth(token.secret())
                            .json(body)
                    },
                    &self.config.retry,
                    self.config.http.max_response_bytes,
                )
                .await
            })
            .await?;
        let created: EventId =
            serde_json::from_slice(&answer).map_err(|e| SourceError::InvalidResponse {
                message: format!(
                    "Graph's created event is not an event with an id (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        if created.id.is_empty() {
            return Err(SourceError::InvalidResponse {
                message: "Graph's created event has an empty id".to_owned(),
            });
        }
        Ok(created.id)
    }

    async fn update(&self, meeting: &Meeting, event: &str) -> Result<(), SourceError> {
        let url = &self.url(&[event])?;
        let body = &event_body(meeting, false);
        self.authorised(|token| async move {
            send(
                self.pacer.identity(&self.mailbox),
                || {
                    self.http
                        .patch(url.clone())
                        .bearer_auth(token.secret())
                        .json(body)
                },
                &self.config.retry,
                self.config.http.max_response_bytes,
            )
            .await
        })
        .await?;
        Ok(())
    }

    async fn cancel(&self, event: &str) -> Result<(), SourceError> {
        let url = &self.url(&[event, "cancel"])?;
        let body = &CancelBody {
            comment: &self.cancel_comment,
        };
        self.authorised(|token| async move {
            send_done_on(
                self.pacer.identity(&self.mailbox),
                || {
                    self.http
                        .post(url.clone())
                        .bearer_auth(token.secret())
                        .json(body)
                },
                &self.config.retry,
                self.config.http.max_response_bytes,
                404,
            )
            .await
        })
        .await?;
        Ok(())
    }
}

/// The event resource of `meeting`; `create` adds what only a create sets
/// (`transactionId`, `showAs`).
fn event_body(meeting: &Meeting, create: bool) -> EventWrite<'_> {
    EventWrite {
        subject: &meeting.title,
        body: ItemBody {
            content_type: "text",
            content: &meeting.description,
        },
        start: utc(meeting.interval.start()),
        end: utc(meeting.interval.end()),
        attendees: meeting
            .attendees
            .iter()
            .map(|p| Attendee {
                email_address: EmailAddress {
                    address: &p.email,
                    name: p.name.as_deref(),
                },
                kind: "required",
            })
            .collect(),
        transaction_id: create.then_some(meeting.uid.as_str()),
        show_as: create.then_some("busy"),
    }
}

/// The event id an update or cancellation needs.
fn event_id(event: Option<&String>, what: &str) -> Result<String, SourceError> {
    match event {
        Some(id) if !id.is_empty() => Ok(id.clone()),
        _ => Err(SourceError::NotFound {
            message: format!("the meeting has no Graph event id to {what}"),
        }),
    }
}

#[async_trait]
impl MeetingSender for GraphEvents {
    fn via(&self) -> &'static str {
        VIA
    }

    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError> {
        let outcome = match change {
            MeetingChange::Create => self.create(meeting).await,
            MeetingChange::Update { event } => {
                let id = event_id(event.as_ref(), "update")?;
                self.update(meeting, &id).await.map(|()| id)
            }
            MeetingChange::Cancel { event } => {
                let id = event_id(event.as_ref(), "cancel")?;
                self.cancel(&id).await.map(|()| id)
            }
        };
        outcome
            .map(|id| Delivered {
                via: VIA,
                event: Some(id),
            })
            .map_err(|e| meeting.without_addresses(e, self.account.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use availability::{Interval, Person, SourceErrorKind, StaticToken};

    use super::*;

    #[test]
    fn addresses_are_replaced_whatever_their_case() {
        let meeting = Meeting {
            uid: "u1".into(),
            sequence: 0,
            interval: Interval::new(0, 60).unwrap(),
            time_zone: "UTC".into(),
            title: "t".into(),
            description: "d".into(),
            organiser: Person::new("Org@Example.org"),
            attendees: vec![Person::new("ada@example.org")],
        };
        let error = SourceError::Forbidden {
            message: "ORG@example.org may not write to ada@EXAMPLE.org".to_owned(),
        };
        let redacted = meeting.without_addresses(error, "sched@example.org");
        assert_eq!(redacted.kind(), SourceErrorKind::Forbidden);
        assert_eq!(redacted.message(), "[address] may not write to [address]");
    }

    #[test]
    fn the_mailbox_and_event_id_are_percent_encoded_segments() {
        let events = GraphEvents::new(
            Arc::new(StaticToken::new("t")),
            "mentoring@example.org",
            GraphConfig::default(),
        )
        .unwrap();
        assert_eq!(
            events.url(&["AAMk/AG=", "cancel"]).unwrap().as_str(),
            "https://graph.microsoft.com/v1.0/users/mentoring@example.org/events/AAMk%2FAG=/cancel"
        );
    }
}
