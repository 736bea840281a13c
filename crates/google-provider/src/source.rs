//! [`GoogleSource`]: busy time from Google Calendar.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    AccountFreeBusy, AccountId, BusyKind, Capabilities, FreeBusy, FreeBusyRequest,
    FreeBusyResponse, FreeBusySource, Interval, KindSet, SourceError,
};
use futures_util::StreamExt as _;
use jiff::tz::TimeZone;

use availability::RetryConfig;

use provider_http::{BuildError, HttpSettings, Pacer, Pacing, RefreshOnce, by_shared_token};

use crate::http::send_with_retries;
use crate::wire::{EventTimes, EventsPage, FreeBusyAnswer, FreeBusyItem, FreeBusyQuery};
use availability::{AccessToken, TokenSource};

/// What [`GoogleSource`] asks Google.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// `freebusy.query` with the `calendar.freebusy` scope (least
    /// privilege, the default). Google leaves out events shown as "Free",
    /// including all-day events left as "Free", so those do not block.
    #[default]
    FreeBusy,
    /// `events.list` with the `calendar.events.readonly` scope and a field
    /// mask of start, end, transparency, status and event type only (no
    /// title, description, location or attendee is transferred). All-day
    /// events block even when shown as "Free"; `outOfOffice` events are
    /// out of office; tentative events are tentative.
    Events,
}

/// Settings of a [`GoogleSource`], with documented defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GoogleConfig {
    /// The API's base URL. Default `https://www.googleapis.com`; the paths
    /// `/calendar/v3/freeBusy` and `/calendar/v3/calendars/{id}/events`
    /// are appended.
    pub base_url: String,
    /// Default [`Mode::FreeBusy`].
    pub mode: Mode,
    /// Calendars per `freebusy.query`: at most 50 (Google's documented
    /// `calendarExpansionMax`). Default 50.
    pub max_calendars_per_request: usize,
    /// The longest window one request covers. Google answers 400
    /// `timeRangeTooLong` for long ranges without documenting the limit.
    /// Default 60 days.
    pub max_window: Duration,
    /// Requests in flight at once. Default 4.
    pub concurrency: usize,
    /// Retries of the API's requests. Default [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// Timeouts (10 s to connect, 30 s a request), the response cap
    /// (16 MiB) and extra roots (none). The config dereferences to it:
    /// `config.request_timeout` is `config.http.request_timeout`.
    pub http: HttpSettings,
    /// How requests are paced, on by default with Google Calendar's
    /// documented quotas
    /// (<https://developers.google.com/workspace/calendar/api/guides/quota>):
    /// 600 a minute per user (the account whose token authorises the
    /// request: a participant, the scheduling account, or the user a
    /// service account impersonates) and 10,000 a minute across all of
    /// them (the project), with no concurrency cap per user. A 429 or a
    /// rate-limit 403 holds that user's requests until its `Retry-After`
    /// and halves their rate for a while. [`Pacing::off`] turns it off.
    pub pacing: Pacing,
    /// The user every request authenticates as, when the token source
    /// always authenticates the same one (a scheduling account a service
    /// account impersonates for every calendar): the pacer then counts
    /// every request against this user, whatever token it carries, so
    /// the per-user quota stays one across the tokens' hourly refreshes.
    /// Leave it unset when tokens authenticate different users (each
    /// participant's own, or one impersonation per participant). Default
    /// `None`: the account a token names (its ID token's `sub`), else the
    /// token itself (by a keyed hash, kept in memory only), which starts
    /// afresh at each refresh.
    pub pacing_identity: Option<String>,
    /// The zone of all-day events in events mode when the account has none
    /// of its own. Default UTC.
    pub default_zone: TimeZone,
    /// Per-account zones for all-day events (the participant's zone).
    pub account_zones: HashMap<AccountId, TimeZone>,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        Self {
            base_url: "https://www.googleapis.com".to_owned(),
            mode: Mode::FreeBusy,
            max_calendars_per_request: 50,
            max_window: Duration::from_secs(60 * 86_400),
            concurrency: 4,
            retry: RetryConfig::default(),
            http: HttpSettings::default(),
            pacing: crate::http::default_pacing(),
            pacing_identity: None,
            default_zone: TimeZone::UTC,
            account_zones: HashMap::new(),
        }
    }
}

provider_http::config_setters!(GoogleConfig {
    base_url,
    retry,
    request_timeout,
    add_root_certificate,
    max_response_bytes,
    pacing,
});

impl GoogleConfig {
    /// Sets [`mode`](Self::mode).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`concurrency`](Self::concurrency).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`pacing_identity`](Self::pacing_identity): the one user every
    /// request authenticates as.
    #[must_use]
    pub fn pacing_identity(mut self, user: impl Into<String>) -> Self {
        self.pacing_identity = Some(user.into());
        self
    }

    /// Reads `account`'s all-day events in `zone`.
    #[must_use]
    pub fn account_zone(mut self, account: impl Into<AccountId>, zone: TimeZone) -> Self {
        self.account_zones.insert(account.into(), zone);
        self
    }
}

/// A [`FreeBusySource`] over Google Calendar. Each account is a calendar id
/// (a participant's email, their primary calendar).
///
/// Accounts that share a token (a scheduling account that may see
/// colleagues' free/busy, or the `freebusy` example's one token) go out 50
/// to a `freebusy.query`; accounts with tokens of their own (each
/// participant's OAuth, or a service account impersonating each) go one
/// per request. Windows are split into pieces of at most
/// [`GoogleConfig::max_window`]; requests run at most
/// [`GoogleConfig::concurrency`] at a time; a per-calendar error (`notFound`,
/// `internalError`, ...) fails only that account. A 401 makes the token
/// source refresh once, then the request is tried again. Every request is
/// paced by [`GoogleConfig::pacing`].
#[derive(Debug)]
pub struct GoogleSource {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    config: GoogleConfig,
    pacer: Pacer,
}

type Results = HashMap<AccountId, Result<FreeBusy, SourceError>>;

impl GoogleSource {
    /// A source with `tokens` and `config`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn new(tokens: Arc<dyn TokenSource>, config: GoogleConfig) -> Result<Self, BuildError> {
        Ok(Self {
            http: config
                .http
                .source_client("Google", crate::http::USER_AGENT)?,
            tokens,
            pacer: Pacer::new(&config.pacing),
            config,
        })
    }

    /// The pacer of this source's requests, to share with a
    /// [`GoogleEvents`](crate::GoogleEvents) of the same project
    /// ([`GoogleEvents::with_pacer`](crate::GoogleEvents::with_pacer)), so
    /// that the per-project quota counts both.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    fn pieces(&self, window: Interval) -> Vec<Interval> {
        window.pieces(
            i64::try_from(self.config.max_window.as_secs())
                .unwrap_or(i64::MAX)
                .max(3600),
        )
    }

    /// One `freebusy.query` for the calendars `ids` over `piece` with
    /// `token`.
    async fn query(
        &self,
        token: &AccessToken,
        ids: &[String],
        piece: Interval,
    ) -> Result<FreeBusyAnswer, SourceError> {
        let body = FreeBusyQuery {
            time_min: rfc3339(piece.start()),
            time_max: rfc3339(piece.end()),
            time_zone: "UTC",
            calendar_expansion_max: self.config.max_calendars_per_request.min(50),
            items: ids.iter().map(|id| FreeBusyItem { id }).collect(),
        };
        let url = format!("{}/calendar/v3/freeBusy", self.config.base_url);
        let identity = crate::http::identity(&self.config, token);
        let reply = send_with_retries(
            self.pacer.identity(&identity),
            || self.http.post(&url).bearer_auth(token.secret()).json(&body),
            &self.config.retry,
            self.config.http.max_response_bytes,
        )
        .await?;
        serde_json::from_slice(&reply.body).map_err(|e| SourceError::InvalidResponse {
            message: format!("Google's freeBusy answer is not the documented JSON: {e}"),
        })
    }

    /// A batch over every piece, with one token refresh on 401.
    async fn batch(&self, ids: Vec<AccountId>, window: Interval) -> Results {
        let mut results: Results = ids
            .iter()
            .map(|id| (id.clone(), Ok(FreeBusy::new())))
            .collect();
        let Some(first) = ids.first() else {
            return results;
        };
        let mut token = match RefreshOnce::new(&*self.tokens, first).await {
            Ok(t) => t,
            Err(e) => {
                return ids.iter().map(|id| (id.clone(), Err(e.clone()))).collect();
            }
        };
        // The calendar each account is read at: a participant's own token
        // reads the account that consented to it (its ID token's verified
        // address), whatever address they were enrolled with.
        let calendars: Vec<String> = ids
            .iter()
            .map(|id| token.token().reads(id).to_owned())
            .collect();
        let batch = calendars.as_slice();
        for piece in self.pieces(window) {
            // Each piece may refresh the token once.
            token.allow_refresh();
            let answer = token
                .send(|t| async move { self.query(&t, batch, piece).await })
                .await;
            match answer {
                Err(e) => {
                    for id in &ids {
                        results.insert(id.clone(), Err(e.clone()));
                    }
                    return results;
                }
                Ok(answer) => {
                    for (id, outcome) in ids.iter().zip(answer_busy(&answer, &calendars, piece)) {
                        if let Some(slot) = results.get_mut(id) {
                            match (slot.as_mut(), outcome) {
                                (Ok(fb), Ok(part)) => fb.merge(&part),
                                (Ok(_), Err(e)) => *slot = Err(e),
                                (Err(_), _) => {}
                            }
                        }
                    }
                }
            }
        }
        results
    }

    /// Events mode: `events.list` for one calendar, every page.
    async fn events(&self, id: &AccountId, window: Interval) -> Result<FreeBusy, SourceError> {
        let zone = self
            .config
            .account_zones
            .get(id)
            .unwrap_or(&self.config.default_zone)
            .clone();
        // One refresh on 401 for all the pages.
        let mut token = RefreshOnce::new(&*self.tokens, id).await?;
        let calendar = token.token().reads(id).to_owned();
        let mut busy = FreeBusy::new();
        let mut url = reqwest::Url::parse(&self.config.base_url).map_err(|e| {
            SourceError::InvalidResponse {
                message: format!("bad base URL: {e}"),
            }
        })?;
        url.path_segments_mut()
            .map_err(|()| SourceError::InvalidResponse {
                message: "bad base URL".to_owned(),
            })?
            .pop_if_empty()
            .extend(["calendar", "v3", "calendars", &calendar, "events"]);
        let mut page_token: Option<String> = None;
        let url = &url;
        loop {
            let mut query: Vec<(&str, String)> = vec![
                ("timeMin", rfc3339(window.start())),
                ("timeMax", rfc3339(window.end())),
                ("singleEvents", "true".to_owned()),
                ("showDeleted", "false".to_owned()),
                ("maxResults", "2500".to_owned()),
                (
                    "fields",
                    "items(start,end,transparency,status,eventType),nextPageToken".to_owned(),
                ),
            ];
            if let Some(p) = &page_token {
                query.push(("pageToken", p.clone()));
            }
            let query = &query;
            let reply = token
                .send(|token| async move {
                    let identity = crate::http::identity(&self.config, &token);
                    send_with_retries(
                        self.pacer.identity(&identity),
                        || {
                            self.http
                                .get(url.clone())
                                .bearer_auth(token.secret())
                                .query(query)
                        },
                        &self.config.retry,
                        self.config.http.max_response_bytes,
                    )
                    .await
                })
                .await?;
            let page: EventsPage =
                serde_json::from_slice(&reply.body).map_err(|e| SourceError::InvalidResponse {
                    message: format!("Google's events answer is not the documented JSON: {e}"),
                })?;
            for event in &page.items {
                if let Some((kind, iv)) = event_busy(event, &zone, window)? {
                    busy.add(kind, iv);
                }
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => page_token = Some(next),
                _ => break,
            }
        }
        Ok(busy)
    }

    async fn free_busy_mode(&self, request: &FreeBusyRequest) -> Results {
        // Group accounts by the token they use: one shared token batches 50
        // calendars to a request; tokens of their own go one by one.
        by_shared_token(
            &*self.tokens,
            &request.accounts,
            self.config.concurrency,
            self.config.max_calendars_per_request.clamp(1, 50),
            |ids| self.batch(ids, request.window),
        )
        .await
    }
}

/// Each of `calendars`' answer in one `freebusy.query` answer over
/// `piece`, in order: its busy time clipped to `piece`, its first
/// per-calendar error, or an error when the answer has no entry for it.
pub(crate) fn answer_busy(
    answer: &FreeBusyAnswer,
    calendars: &[String],
    piece: Interval,
) -> Vec<Result<FreeBusy, SourceError>> {
    calendars
        .iter()
        .map(|calendar| match answer.calendars.get(calendar.as_str()) {
            None => Err(SourceError::InvalidResponse {
                message: format!("Google's answer has no entry for {calendar}"),
            }),
            Some(cal) => match cal.errors.first() {
                Some(error) => Err(calendar_error(&error.reason)),
                None => {
                    let mut busy = FreeBusy::new();
                    for p in &cal.busy {
                        if let Some(iv) = interval(&p.start, &p.end, piece)? {
                            busy.add(BusyKind::Busy, iv);
                        }
                    }
                    Ok(busy)
                }
            },
        })
        .collect()
}

/// Per-calendar error reasons of `freebusy.query`.
fn calendar_error(reason: &str) -> SourceError {
    match reason {
        "notFound" => SourceError::NotFound {
            message: "Google has no such calendar, or it is not shared (notFound)".to_owned(),
        },
        "internalError" | "backendError" => SourceError::Unavailable {
            message: format!("Google could not read this calendar ({reason})"),
            retry_after: None,
        },
        other => SourceError::InvalidResponse {
            message: format!("Google refused this calendar ({other})"),
        },
    }
}

fn rfc3339(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A busy period clipped to `window` (`None` if nothing is left).
fn interval(start: &str, end: &str, window: Interval) -> Result<Option<Interval>, SourceError> {
    let parse = |s: &str| {
        s.parse::<jiff::Timestamp>()
            .map_err(|_| SourceError::InvalidResponse {
                message: format!("Google sent a time that is not RFC 3339: {s:?}"),
            })
    };
    let (s, e) = (parse(start)?.as_second(), parse(end)?.as_second());
    let (s, e) = (s.max(window.start()), e.min(window.end()));
    Ok(if s < e {
        Interval::new(s, e).ok()
    } else {
        None
    })
}

/// Events mode's busy rules.
fn event_busy(
    event: &EventTimes,
    zone: &TimeZone,
    window: Interval,
) -> Result<Option<(BusyKind, Interval)>, SourceError> {
    if event.status.as_deref() == Some("cancelled") {
        return Ok(None);
    }
    let (Some(start), Some(end)) = (&event.start, &event.end) else {
        return Ok(None);
    };
    let all_day = start.date.is_some();
    let kind = match event.event_type.as_deref() {
        Some("outOfOffice") => BusyKind::OutOfOffice,
        // A working location is where, not whether, someone works.
        Some("workingLocation") => return Ok(None),
        _ if all_day => BusyKind::Busy,
        _ if event.transparency.as_deref() == Some("transparent") => return Ok(None),
        _ if event.status.as_deref() == Some("tentative") => BusyKind::Tentative,
        _ => BusyKind::Busy,
    };
    let instant = |t: &crate::wire::EventTime| -> Result<i64, SourceError> {
        let bad = || SourceError::InvalidResponse {
            message: "Google sent an event time that is neither a date nor RFC 3339".to_owned(),
        };
        if let Some(dt) = &t.date_time {
            return Ok(dt
                .parse::<jiff::Timestamp>()
                .map_err(|_| bad())?
                .as_second());
        }
        let date: jiff::civil::Date = t
            .date
            .as_deref()
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        Ok(zone
            .to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .map_err(|_| bad())?
            .as_second())
    };
    let (s, e) = (instant(start)?, instant(end)?);
    let (s, e) = (s.max(window.start()), e.min(window.end()));
    Ok(if s < e {
        Interval::new(s, e).ok().map(|iv| (kind, iv))
    } else {
        None
    })
}

#[async_trait]
impl FreeBusySource for GoogleSource {
    fn capabilities(&self) -> Capabilities {
        let kinds = match self.config.mode {
            Mode::FreeBusy => KindSet::EMPTY.with(BusyKind::Busy),
            Mode::Events => KindSet::EMPTY
                .with(BusyKind::Busy)
                .with(BusyKind::Tentative)
                .with(BusyKind::OutOfOffice),
        };
        Capabilities::new(self.config.max_calendars_per_request.clamp(1, 50))
            .with_max_window(self.config.max_window)
            .with_reported_kinds(kinds)
            .with_native_free_busy(self.config.mode == Mode::FreeBusy)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        let results = match self.config.mode {
            Mode::FreeBusy => self.free_busy_mode(request).await,
            Mode::Events => {
                futures_util::stream::iter(request.accounts.clone())
                    .map(|id| async move {
                        let busy = self.events(&id, request.window).await;
                        (id, busy)
                    })
                    .buffered(self.config.concurrency.max(1))
                    .collect::<HashMap<_, _>>()
                    .await
            }
        };
        let accounts = request
            .accounts
            .iter()
            .map(|id| AccountFreeBusy {
                account: id.clone(),
                result: results.get(id).cloned().unwrap_or_else(|| {
                    Err(SourceError::InvalidResponse {
                        message: format!("no answer for {id}"),
                    })
                }),
            })
            .collect();
        Ok(FreeBusyResponse { accounts })
    }
}
