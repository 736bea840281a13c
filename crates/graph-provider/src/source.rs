//! [`GraphSource`]: busy time from Microsoft Graph.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use availability::{
    AccessToken, AccountFreeBusy, AccountId, BusyKind, Capabilities, FreeBusy, FreeBusyRequest,
    FreeBusyResponse, FreeBusySource, Interval, KindSet, SourceError, TokenSource,
};
use futures_util::StreamExt as _;

use availability::RetryConfig;

use provider_http::{BuildError, HttpSettings, Pacer, Pacing, RefreshOnce, by_shared_token};

use crate::http::send;
use crate::wire::{
    DateTimeTimeZone, EventTimes, EventsPage, ScheduleAnswer, ScheduleInformation, ScheduleQuery,
};
use crate::working_hours::WorkingHours;

/// What [`GraphSource`] asks Graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Each account as its token says (the default): a participant's own
    /// token whose ID token names a personal account (tenant
    /// [`CONSUMER_TENANT`](crate::CONSUMER_TENANT)) is read through
    /// calendarView, every other account through getSchedule. One source
    /// then serves work, school and personal accounts alike.
    #[default]
    Auto,
    /// Work and school accounts: `POST /users/{id}/calendar/getSchedule`,
    /// up to 20 schedules a request.
    GetSchedule,
    /// Personal Microsoft accounts (outlook.com), which getSchedule does
    /// not support: `GET /me/calendarView` with
    /// `$select=start,end,showAs,isAllDay,isCancelled`, paged through
    /// `@odata.nextLink`, with the account's own delegated token.
    CalendarView,
}

/// Settings of a [`GraphSource`], with documented defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GraphConfig {
    /// The API's base URL. Default `https://graph.microsoft.com/v1.0`; the
    /// path `/users/{first schedule}/calendar/getSchedule` (or
    /// `/me/calendarView`) is appended.
    pub base_url: String,
    /// Default [`Mode::Auto`].
    pub mode: Mode,
    /// Schedules per getSchedule request: the documented maximum, 20.
    pub max_schedules_per_request: usize,
    /// The longest window of one request. Graph refuses 62 days or more
    /// (`ErrorTimeIntervalTooBig`). Default 60 days.
    pub max_window: Duration,
    /// Requests in flight at once overall. Default 8.
    pub concurrency: usize,
    /// Retries of throttled and failed requests. Default
    /// [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// Timeouts, the response cap and extra roots, at
    /// [`HttpSettings`]' defaults. Read and written through the config too
    /// (it dereferences to them): `config.max_response_bytes`.
    pub http: HttpSettings,
    /// How requests are paced by mailbox (the one in the request's URL,
    /// `/users/{id}/...`, or for `/me` the signed-in user), on by default
    /// with Graph's documented Outlook limits
    /// (<https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits>):
    /// 10,000 requests per 10 minutes and 4 in flight at once per mailbox.
    /// A 429 (or a 503 with `Retry-After`) holds that mailbox's requests
    /// until its `Retry-After` and halves their rate for a while.
    /// [`Pacing::off`] turns it off, the concurrency cap with it.
    pub pacing: Pacing,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            base_url: "https://graph.microsoft.com/v1.0".to_owned(),
            mode: Mode::Auto,
            max_schedules_per_request: 20,
            max_window: Duration::from_secs(60 * 86_400),
            concurrency: 8,
            retry: RetryConfig::default(),
            http: HttpSettings::default(),
            pacing: crate::http::default_pacing(),
        }
    }
}

impl GraphConfig {
    /// Sets [`mode`](Self::mode).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

provider_http::config_setters!(GraphConfig {
    base_url,
    retry,
    request_timeout,
    add_root_certificate,
    max_response_bytes,
    pacing,
});

/// One account's answer with its working hours, when Graph sent them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScheduleReport {
    /// Busy time inside the window.
    pub busy: FreeBusy,
    /// The mailbox's working hours.
    pub working_hours: Option<WorkingHours>,
}

type Results = HashMap<AccountId, Result<ScheduleReport, SourceError>>;

/// A [`FreeBusySource`] over Microsoft Graph. Each account is a mailbox's
/// SMTP address.
///
/// Accounts sharing a token (an app-only token for a tenant, or one
/// delegated user asking about colleagues) go 20 to a getSchedule request;
/// windows are split into pieces under 62 days; a schedule's `error` (an
/// unknown address) fails only that account. At most
/// [`GraphConfig::pacing`]'s concurrency (4) requests are in flight per
/// mailbox, at its rate. A 401 makes the token source refresh once.
#[derive(Debug)]
pub struct GraphSource {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    config: GraphConfig,
    pacer: Pacer,
}

impl GraphSource {
    /// A source with `tokens` and `config`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn new(tokens: Arc<dyn TokenSource>, config: GraphConfig) -> Result<Self, BuildError> {
        Ok(Self {
            http: config
                .http
                .source_client("Graph", crate::http::USER_AGENT)?,
            tokens,
            pacer: Pacer::new(&config.pacing),
            config,
        })
    }

    /// The pacer of this source's requests, to share with a
    /// [`GraphEvents`](crate::GraphEvents) of the same app
    /// ([`GraphEvents::with_pacer`](crate::GraphEvents::with_pacer)), so
    /// that a mailbox's reads and writes count against one limit.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Busy time and working hours of many accounts, in request order.
    pub async fn schedules(
        &self,
        accounts: &[AccountId],
        window: Interval,
    ) -> Vec<(AccountId, Result<ScheduleReport, SourceError>)> {
        let results = match self.config.mode {
            Mode::Auto | Mode::GetSchedule => self.get_schedule_mode(accounts, window).await,
            Mode::CalendarView => {
                futures_util::stream::iter(accounts.to_vec())
                    .map(|id| async move {
                        let r = self.calendar_view(&id, window).await;
                        (id, r)
                    })
                    .buffered(self.config.concurrency.max(1))
                    .collect::<HashMap<_, _>>()
                    .await
            }
        };
        accounts
            .iter()
            .map(|id| {
                let r = results.get(id).cloned().unwrap_or_else(|| {
                    Err(SourceError::InvalidResponse {
                        message: format!("no answer for {id}"),
                    })
                });
                (id.clone(), r)
            })
            .collect()
    }

    fn pieces(&self, window: Interval) -> Vec<Interval> {
        window.pieces(
            i64::try_from(self.config.max_window.as_secs())
                .unwrap_or(i64::MAX)
                .clamp(3600, 61 * 86_400),
        )
    }

    /// One getSchedule for the addresses `schedules`, asked at the
    /// mailbox `user` (the first schedule, or the consenting user's `oid`).
    async fn get_schedule(
        &self,
        token: &AccessToken,
        user: &str,
        schedules: &[String],
        piece: Interval,
    ) -> Result<ScheduleAnswer, SourceError> {
        let first = user;
        let mut url = self.url()?;
        url.path_segments_mut()
            .map_err(|()| bad_base())?
            .pop_if_empty()
            .extend(["users", first, "calendar", "getSchedule"]);
        let body = ScheduleQuery {
            schedules: schedules.iter().map(String::as_str).collect(),
            start_time: utc(piece.start()),
            end_time: utc(piece.end()),
            availability_view_interval: 30,
        };
        // Graph's per-mailbox limits: paced by the mailbox in the URL.
        let mailbox = first.to_ascii_lowercase();
        let reply = send(
            self.pacer.identity(&mailbox),
            || {
                self.http
                    .post(url.clone())
                    .bearer_auth(token.secret())
                    .header("Prefer", "outlook.timezone=\"UTC\"")
                    .json(&body)
            },
            &self.config.retry,
            self.config.http.max_response_bytes,
        )
        .await?;
        serde_json::from_slice(&reply).map_err(|e| SourceError::InvalidResponse {
            message: format!("Graph's getSchedule answer is not the documented JSON: {e}"),
        })
    }

    fn url(&self) -> Result<reqwest::Url, SourceError> {
        reqwest::Url::parse(&self.config.base_url).map_err(|_| bad_base())
    }

    async fn batch(&self, ids: Vec<AccountId>, window: Interval) -> Results {
        let mut results: Results = ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    Ok(ScheduleReport {
                        busy: FreeBusy::new(),
                        working_hours: None,
                    }),
                )
            })
            .collect();
        let Some(first) = ids.first() else {
            return results;
        };
        let mut token = match RefreshOnce::new(&*self.tokens, first).await {
            Ok(t) => t,
            Err(e) => return ids.iter().map(|id| (id.clone(), Err(e.clone()))).collect(),
        };
        // A participant's own token reads the account that consented to it
        // (alone in its batch: `batch_by_token`), at that user's own id.
        let own = token.token().account().cloned();
        if self.config.mode == Mode::Auto
            && let Some(account) = &own
            && account.tenant.as_deref() == Some(crate::CONSUMER_TENANT)
        {
            let first = first.clone();
            let r = self.calendar_view(&first, window).await;
            return [(first, r)].into_iter().collect();
        }
        let schedules: Vec<String> = ids
            .iter()
            .map(|id| token.token().reads(id).to_owned())
            .collect();
        let user = own
            .map(|a| a.subject)
            .or_else(|| schedules.first().cloned())
            .unwrap_or_default();
        let (schedules, user) = (schedules.as_slice(), user.as_str());
        for piece in self.pieces(window) {
            // A 401 refreshes the token once a piece.
            token.allow_refresh();
            let answer = token
                .send(|t| async move { self.get_schedule(&t, user, schedules, piece).await })
                .await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    return ids.into_iter().map(|id| (id, Err(e.clone()))).collect();
                }
            };
            for (id, outcome) in ids.iter().zip(answer_reports(&answer, schedules, piece)) {
                if let Some(slot) = results.get_mut(id) {
                    match (slot.as_mut(), outcome) {
                        (Ok(report), Ok(part)) => {
                            report.busy.merge(&part.busy);
                            report.working_hours =
                                report.working_hours.take().or(part.working_hours);
                        }
                        (Ok(_), Err(e)) => *slot = Err(e),
                        (Err(_), _) => {}
                    }
                }
            }
        }
        results
    }

    async fn get_schedule_mode(&self, accounts: &[AccountId], window: Interval) -> Results {
        // Mailboxes sharing a token go 20 to a getSchedule request.
        by_shared_token(
            &*self.tokens,
            accounts,
            self.config.concurrency,
            self.config.max_schedules_per_request.clamp(1, 20),
            |ids| self.batch(ids, window),
        )
        .await
    }

    /// Personal accounts: every page of `/me/calendarView`.
    async fn calendar_view(
        &self,
        id: &AccountId,
        window: Interval,
    ) -> Result<ScheduleReport, SourceError> {
        // One refresh on 401 for all the pages.
        let mut token = RefreshOnce::new(&*self.tokens, id).await?;
        let mut url = self.url()?;
        url.path_segments_mut()
            .map_err(|()| bad_base())?
            .pop_if_empty()
            .extend(["me", "calendarView"]);
        url.query_pairs_mut()
            .append_pair("startDateTime", &rfc3339(window.start()))
            .append_pair("endDateTime", &rfc3339(window.end()))
            .append_pair("$select", "start,end,showAs,isAllDay,isCancelled")
            .append_pair("$top", "999");
        let mut next = Some(url);
        let mut busy = FreeBusy::new();
        // `/me`: the signed-in user's mailbox.
        let mailbox = token
            .token()
            .account()
            .map_or_else(|| id.as_str().to_ascii_lowercase(), |a| a.subject.clone());
        let mailbox = mailbox.as_str();
        while let Some(page_url) = next.take() {
            let page_url = &page_url;
            let body = token
                .send(|token| async move {
                    send(
                        self.pacer.identity(mailbox),
                        || {
                            self.http
                                .get(page_url.clone())
                                .bearer_auth(token.secret())
                                .header("Prefer", "outlook.timezone=\"UTC\"")
                        },
                        &self.config.retry,
                        self.config.http.max_response_bytes,
                    )
                    .await
                })
                .await?;
            let page: EventsPage =
                serde_json::from_slice(&body).map_err(|e| SourceError::InvalidResponse {
                    message: format!("Graph's calendarView answer is not the documented JSON: {e}"),
                })?;
            for event in &page.value {
                if let Some((kind, iv)) = event_busy(event, window)? {
                    busy.add(kind, iv);
                }
            }
            next =
                match page.next_link {
                    Some(link) => Some(reqwest::Url::parse(&link).map_err(|_| {
                        SourceError::InvalidResponse {
                            message: "Graph sent an @odata.nextLink that is not a URL".to_owned(),
                        }
                    })?),
                    None => None,
                };
        }
        Ok(ScheduleReport {
            busy,
            working_hours: None,
        })
    }
}

fn bad_base() -> SourceError {
    SourceError::InvalidResponse {
        message: "the Graph base URL is not a URL".to_owned(),
    }
}

fn rfc3339(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A `dateTimeTimeZone` in UTC: `2025-03-03T00:00:00` + `UTC`.
pub(crate) fn utc(second: i64) -> DateTimeTimeZone {
    let date_time = jiff::Timestamp::from_second(second)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    DateTimeTimeZone {
        date_time,
        time_zone: Some("UTC".to_owned()),
    }
}

/// Reads a `dateTimeTimeZone` Graph sent: `2025-03-03T09:00:00.0000000`
/// in `UTC` (asked with `Prefer: outlook.timezone="UTC"`), or in another
/// IANA or Windows zone name if a server ignores the header.
fn instant(t: &DateTimeTimeZone) -> Result<i64, SourceError> {
    let bad = || SourceError::InvalidResponse {
        message: format!("Graph sent a time that cannot be read: {:?}", t.date_time),
    };
    let civil: jiff::civil::DateTime = t
        .date_time
        .trim_end_matches('Z')
        .parse()
        .map_err(|_| bad())?;
    let zone = match t.time_zone.as_deref() {
        None | Some("UTC" | "utc" | "Etc/UTC" | "tzone://Microsoft/Utc") => jiff::tz::TimeZone::UTC,
        Some(name) => crate::working_hours::zone(name).ok_or_else(bad)?,
    };
    Ok(zone
        .to_ambiguous_timestamp(civil)
        .compatible()
        .map_err(|_| bad())?
        .as_second())
}

fn clipped(start: i64, end: i64, window: Interval) -> Option<Interval> {
    let (s, e) = (start.max(window.start()), end.min(window.end()));
    if s < e {
        Interval::new(s, e).ok()
    } else {
        None
    }
}

/// Each of `schedules`' report in one getSchedule answer over `piece`, in
/// order: the schedule Graph answered for that address
/// (case-insensitively), its busy time clipped to `piece`, or its error.
pub(crate) fn answer_reports(
    answer: &ScheduleAnswer,
    schedules: &[String],
    piece: Interval,
) -> Vec<Result<ScheduleReport, SourceError>> {
    schedules
        .iter()
        .map(|address| {
            answer
                .value
                .iter()
                .find(|s| s.schedule_id.eq_ignore_ascii_case(address))
                .map_or_else(
                    || {
                        Err(SourceError::InvalidResponse {
                            message: format!("Graph's answer has no schedule for {address}"),
                        })
                    },
                    |info| schedule(info, piece),
                )
        })
        .collect()
}

/// One schedule's busy time and working hours, or its error.
fn schedule(info: &ScheduleInformation, window: Interval) -> Result<ScheduleReport, SourceError> {
    if let Some(error) = &info.error {
        return Err(schedule_error(&error.response_code, &error.message));
    }
    let mut busy = FreeBusy::new();
    for item in &info.schedule_items {
        // Graph's `freeBusyStatus`, case-insensitively (examples show
        // "Busy" and "busy").
        let Some(kind) = BusyKind::from_free_busy_status(&item.status) else {
            continue;
        };
        if let Some(iv) = clipped(instant(&item.start)?, instant(&item.end)?, window) {
            busy.add(kind, iv);
        }
    }
    Ok(ScheduleReport {
        busy,
        working_hours: info
            .working_hours
            .as_ref()
            .and_then(WorkingHours::from_wire),
    })
}

/// A schedule's `error.responseCode`.
fn schedule_error(code: &str, message: &str) -> SourceError {
    let _ = message; // Graph's message can echo the address; the code says enough.
    if code.contains("NotFound")
        || code.contains("InvalidSmtpAddress")
        || code.contains("Unresolved")
    {
        SourceError::NotFound {
            message: format!("Graph does not know this mailbox ({code})"),
        }
    } else if code.contains("AccessDenied") || code.contains("Permission") {
        SourceError::Forbidden {
            message: format!("Graph may not read this mailbox ({code})"),
        }
    } else {
        SourceError::Unavailable {
            message: format!("Graph could not read this mailbox ({code})"),
            retry_after: None,
        }
    }
}

/// calendarView busy rules: cancelled events give nothing; all-day events
/// block even when shown as free; otherwise `showAs` as in getSchedule.
fn event_busy(
    event: &EventTimes,
    window: Interval,
) -> Result<Option<(BusyKind, Interval)>, SourceError> {
    if event.is_cancelled {
        return Ok(None);
    }
    let show_as = event.show_as.as_deref().unwrap_or("busy");
    let kind = match BusyKind::from_free_busy_status(show_as) {
        Some(kind) => kind,
        None if event.is_all_day => BusyKind::Busy,
        None => return Ok(None),
    };
    Ok(clipped(instant(&event.start)?, instant(&event.end)?, window).map(|iv| (kind, iv)))
}

#[async_trait]
impl FreeBusySource for GraphSource {
    fn capabilities(&self) -> Capabilities {
        let kinds = KindSet::ALL;
        let batch = match self.config.mode {
            Mode::Auto | Mode::GetSchedule => self.config.max_schedules_per_request.clamp(1, 20),
            Mode::CalendarView => 1,
        };
        Capabilities::new(batch)
            .with_max_window(self.config.max_window)
            .with_reported_kinds(kinds)
            .with_native_free_busy(self.config.mode != Mode::CalendarView)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        let accounts = self
            .schedules(&request.accounts, request.window)
            .await
            .into_iter()
            .map(|(account, result)| AccountFreeBusy {
                account,
                result: result.map(|r| r.busy),
            })
            .collect();
        Ok(FreeBusyResponse { accounts })
    }
}
