//! [`GoogleEvents`]: booking meetings on the scheduling account's Google
//! calendar (`events.insert`, `events.patch`, `events.delete`), Google
//! sending the invitations.
//! <https://developers.google.com/workspace/calendar/api/v3/reference/events>

use std::sync::Arc;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountId, Delivered, Meeting, MeetingChange, MeetingSender, SourceError,
    TokenSource,
};
use provider_http::{BuildError, Pacer, RefreshOnce, Reply};

use crate::GoogleConfig;
use crate::http::{send_done_on, send_unrepeated, send_with_retries};
use crate::wire::{Attendee, EventDateTime, EventId, EventWrite, Reminders};

/// `https://www.googleapis.com/auth/calendar.events`: create, change and
/// delete events, asked for the scheduling account only when booking is
/// on ([`GoogleEvents`]). Free/busy reads never ask for it.
pub const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";

/// Which way [`GoogleEvents`] sends ([`Delivered::via`]).
const VIA: &str = "google";

/// A [`MeetingSender`] that books on the scheduling account's own Google
/// calendar, so the invitations come from it and Google sends them
/// (`sendUpdates=all`).
///
/// - [`MeetingChange::Create`]: `POST /calendar/v3/calendars/{account}/events`
///   ([`events.insert`](https://developers.google.com/workspace/calendar/api/v3/reference/events/insert))
///   with the title, description, start and end (RFC 3339 in UTC, shown in
///   [`Meeting::time_zone`]), the attendees, the meeting's `iCalUID` and
///   `sequence`, `transparency: opaque` and the default reminders. The
///   answer's `id` is [`Delivered::event`].
/// - [`MeetingChange::Update`]: `PATCH .../events/{id}`
///   ([`events.patch`](https://developers.google.com/workspace/calendar/api/v3/reference/events/patch))
///   with the new title, description, times, attendees and sequence.
/// - [`MeetingChange::Cancel`]: `DELETE .../events/{id}`
///   ([`events.delete`](https://developers.google.com/workspace/calendar/api/v3/reference/events/delete));
///   204, or 410 Gone (already deleted), is done.
///
/// The token is asked of the [`TokenSource`] for the scheduling account
/// (a service account impersonating it with [`SCOPE_EVENTS`]); a 401 makes
/// it refresh once.
///
/// **Retries.** Patch and delete are idempotent and retried like reads
/// (429, 403 `rateLimitExceeded`, 5xx, honouring `Retry-After`, at most
/// [`RetryConfig::max_retries`](crate::RetryConfig::max_retries) times).
/// Insert is not: it is sent again only when it cannot have been acted on
/// (the connection could not be made, or Google refused it as throttling).
/// A timeout or a 5xx is returned at once, since the event may exist; the
/// `iCalUID` then makes Google refuse a second insert of the same meeting
/// (409 `duplicate`) rather than create two events.
///
/// Errors never carry the scheduling account's, the organiser's or an
/// attendee's address: they are replaced by `[address]`.
#[derive(Debug)]
pub struct GoogleEvents {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    account: AccountId,
    config: GoogleConfig,
    pacer: Pacer,
}

impl GoogleEvents {
    /// Books on `scheduling_account`'s primary calendar with its tokens
    /// from `tokens`. Of `config`, the base URL, retries, HTTP settings,
    /// pacing and [`pacing_identity`](GoogleConfig::pacing_identity)
    /// (set it to the scheduling account, whose per-user quota the writes
    /// count against) apply.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn new(
        tokens: Arc<dyn TokenSource>,
        scheduling_account: impl Into<AccountId>,
        config: GoogleConfig,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            http: config
                .http
                .source_client("Google", crate::http::USER_AGENT)?,
            tokens,
            account: scheduling_account.into(),
            pacer: Pacer::new(&config.pacing),
            config,
        })
    }

    /// Paces the writes with `pacer` instead of one of their own (built
    /// from [`GoogleConfig::pacing`]): [`GoogleSource::pacer`](crate::GoogleSource::pacer)'s,
    /// so that reads and writes of the same project count against one
    /// per-project quota, and the scheduling account's reads and writes
    /// against one per-user quota.
    #[must_use]
    pub fn with_pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    /// The calendar booked on: the scheduling account's address.
    pub fn scheduling_account(&self) -> &str {
        self.account.as_str()
    }

    /// `{base}/calendar/v3/calendars/{account}/events[/{event}]?sendUpdates=all`,
    /// each segment percent-encoded.
    fn url(&self, event: Option<&str>) -> Result<reqwest::Url, SourceError> {
        let bad = || SourceError::InvalidResponse {
            message: "the Google base URL is not a URL".to_owned(),
        };
        let mut url = reqwest::Url::parse(&self.config.base_url).map_err(|_| bad())?;
        {
            let mut segments = url.path_segments_mut().map_err(|()| bad())?;
            segments.pop_if_empty().extend([
                "calendar",
                "v3",
                "calendars",
                self.account.as_str(),
                "events",
            ]);
            if let Some(event) = event {
                segments.push(event);
            }
        }
        url.query_pairs_mut().append_pair("sendUpdates", "all");
        Ok(url)
    }

    /// Sends `request` with the scheduling account's token, refreshed once
    /// on a 401.
    async fn authorised<F, Fut>(&self, request: F) -> Result<Reply, SourceError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<Reply, SourceError>>,
    {
        let mut token = RefreshOnce::new(&*self.tokens, &self.account).await?;
        token.send(request).await
    }

    async fn insert(&self, meeting: &Meeting) -> Result<String, SourceError> {
        let url = &self.url(None)?;
        let body = &event_body(meeting, true);
        let reply = self
            .authorised(|token| async move {
                let identity = crate::http::identity(&self.config, &token);
                send_unrepeated(
                    self.pacer.identity(&identity),
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
            serde_json::from_slice(&reply.body).map_err(|e| SourceError::InvalidResponse {
                message: format!(
                    "Google's events.insert answer is not an Event with an id (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        if created.id.is_empty() {
            return Err(SourceError::InvalidResponse {
                message: "Google's events.insert answer has an empty id".to_owned(),
            });
        }
        Ok(created.id)
    }

    async fn patch(&self, meeting: &Meeting, event: &str) -> Result<(), SourceError> {
        let url = &self.url(Some(event))?;
        let body = &event_body(meeting, false);
        self.authorised(|token| async move {
            let identity = crate::http::identity(&self.config, &token);
            send_with_retries(
                self.pacer.identity(&identity),
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

    async fn delete(&self, event: &str) -> Result<(), SourceError> {
        let url = &self.url(Some(event))?;
        self.authorised(|token| async move {
            let identity = crate::http::identity(&self.config, &token);
            send_done_on(
                self.pacer.identity(&identity),
                || self.http.delete(url.clone()).bearer_auth(token.secret()),
                &self.config.retry,
                self.config.http.max_response_bytes,
                410,
            )
            .await
        })
        .await?;
        Ok(())
    }
}

/// The Event resource of `meeting`; `create` adds what only insert sets
/// (`iCalUID`, transparency, reminders).
fn event_body(meeting: &Meeting, create: bool) -> EventWrite<'_> {
    let at = |second| EventDateTime {
        date_time: rfc3339(second),
        time_zone: &meeting.time_zone,
    };
    EventWrite {
        summary: &meeting.title,
        description: &meeting.description,
        start: at(meeting.interval.start()),
        end: at(meeting.interval.end()),
        attendees: meeting
            .attendees
            .iter()
            .map(|p| Attendee {
                email: &p.email,
                display_name: p.name.as_deref(),
            })
            .collect(),
        sequence: meeting.sequence,
        ical_uid: create.then_some(meeting.uid.as_str()),
        transparency: create.then_some("opaque"),
        reminders: create.then_some(Reminders { use_default: true }),
    }
}

fn rfc3339(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The id an update or cancellation needs.
fn event_id(event: Option<&String>, what: &str) -> Result<String, SourceError> {
    match event {
        Some(id) if !id.is_empty() => Ok(id.clone()),
        _ => Err(SourceError::NotFound {
            message: format!("the meeting has no Google event id to {what}"),
        }),
    }
}

#[async_trait]
impl MeetingSender for GoogleEvents {
    fn via(&self) -> &'static str {
        VIA
    }

    async fn send(
        &self,
        meeting: &Meeting,
        change: &MeetingChange,
    ) -> Result<Delivered, SourceError> {
        let outcome = match change {
            MeetingChange::Create => self.insert(meeting).await,
            MeetingChange::Update { event } => {
                let id = event_id(event.as_ref(), "update")?;
                self.patch(meeting, &id).await.map(|()| id)
            }
            MeetingChange::Cancel { event } => {
                let id = event_id(event.as_ref(), "cancel")?;
                self.delete(&id).await.map(|()| id)
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
    use availability::{Interval, Person, SourceErrorKind};

    use super::*;

    fn meeting() -> Meeting {
        Meeting {
            uid: "u1".into(),
            sequence: 0,
            interval: Interval::new(0, 60).unwrap(),
            time_zone: "UTC".into(),
            title: "t".into(),
            description: "d".into(),
            organiser: Person::new("Org@Example.org"),
            attendees: vec![Person::new("ada@example.org")],
        }
    }

    #[test]
    fn addresses_are_replaced_whatever_their_case() {
        let error = SourceError::NotFound {
            message: "refused ORG@example.org and ada@example.org, ada@EXAMPLE.org".to_owned(),
        };
        let redacted = meeting().without_addresses(error, "sched@example.org");
        assert_eq!(redacted.kind(), SourceErrorKind::NotFound);
        assert_eq!(
            redacted.message(),
            "refused [address] and [address], [address]"
        );
    }

    #[test]
    fn the_calendar_id_is_one_percent_encoded_segment() {
        let events = GoogleEvents::new(
            Arc::new(availability::StaticToken::new("t")),
            "team#1/a@group.calendar.google.com",
            GoogleConfig::default(),
        )
        .unwrap();
        assert_eq!(
            events.url(Some("ev 1")).unwrap().as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/team%231%2Fa@group.calendar.google.com/events/ev%201?sendUpdates=all"
        );
    }
}
