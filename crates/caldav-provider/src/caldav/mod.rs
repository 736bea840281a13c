//! The CalDAV client: discovery, busy time from events (`calendar-query`,
//! computed here) or from the server (`free-busy-query`), change detection.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use availability::{
    AccountFreeBusy, AccountId, Capabilities, FreeBusy, FreeBusyRequest, FreeBusyResponse,
    FreeBusySource, Interval, KindSet, SourceError,
};
use jiff::tz::TimeZone;
use provider_http::HttpSettings;
use reqwest::Url;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use self::client::{Auth, Http};
use self::origin::Hop;
use self::xml::{Multistatus, Props};
use crate::ical::{Calendar, ExpandOptions, Problem};

mod bodies;
mod client;
mod origin;
pub(crate) mod xml;

/// An app-specific password (or any CalDAV password): wiped from memory on
/// drop, `[redacted]` in `Debug`, no `Display`.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password itself.
    ///
    /// # Security Warning
    ///
    /// Only for the `Authorization` header: never log, print or store it
    /// outside the credential vault.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How to reach one account's calendars.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CalDavLogin {
    /// Where discovery starts: a server (`https://caldav.icloud.com/`), a
    /// principal, a calendar home, or one calendar collection (needed for
    /// a free/busy-only grant, which may not list the owner's home).
    pub url: String,
    /// The user name (for iCloud, the Apple ID).
    pub username: String,
    /// The password (for iCloud, an app-specific password).
    pub password: Password,
    /// The zone for floating times and all-day dates when a calendar does
    /// not declare a `calendar-timezone` (the participant's zone). UTC if
    /// `None`.
    pub zone: Option<TimeZone>,
}

impl CalDavLogin {
    /// A login with no zone of its own.
    pub fn new(url: impl Into<String>, username: impl Into<String>, password: Password) -> Self {
        Self {
            url: url.into(),
            username: username.into(),
            password,
            zone: None,
        }
    }

    /// Sets [`zone`](Self::zone).
    #[must_use]
    pub fn with_zone(mut self, zone: TimeZone) -> Self {
        self.zone = Some(zone);
        self
    }
}

/// Where [`CalDavSource`] finds each account's login (the assistant reads
/// them from its credential vault).
#[async_trait]
pub trait CalDavLogins: fmt::Debug + Send + Sync + 'static {
    /// The login of `account`.
    ///
    /// # Errors
    ///
    /// [`SourceError::NotFound`] for an unknown account, or whatever the
    /// store reports.
    async fn login(&self, account: &AccountId) -> Result<CalDavLogin, SourceError>;
}

/// Logins held in memory.
#[derive(Clone, Debug, Default)]
pub struct StaticLogins(HashMap<AccountId, CalDavLogin>);

impl StaticLogins {
    /// No logins.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `account`'s login.
    #[must_use]
    pub fn with(mut self, account: impl Into<AccountId>, login: CalDavLogin) -> Self {
        self.0.insert(account.into(), login);
        self
    }
}

#[async_trait]
impl CalDavLogins for StaticLogins {
    async fn login(&self, account: &AccountId) -> Result<CalDavLogin, SourceError> {
        self.0
            .get(account)
            .cloned()
            .ok_or_else(|| SourceError::NotFound {
                message: format!("no CalDAV login for account {account}"),
            })
    }
}

/// Where busy time comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Events (`calendar-query`) computed here, falling back to
    /// `free-busy-query` when the account may not read events (HTTP 403 or
    /// a privilege set without `read`). The only path iCloud supports, and
    /// the one that gives the same answer on every server.
    #[default]
    Auto,
    /// Only the server's `free-busy-query` REPORT (RFC 4791 §7.10).
    FreeBusyQuery,
    /// Only events, never the server's free/busy.
    Events,
}

/// Settings of a [`CalDavSource`], with documented defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CalDavConfig {
    /// Events or the server's free/busy. Default [`Strategy::Auto`].
    pub strategy: Strategy,
    /// Timeouts (10 s to connect, 30 s a whole request), the response cap
    /// (32 MiB: calendars are bigger than JSON answers) and extra roots
    /// (for a server with a private CA; none by default). The config
    /// dereferences to it: `config.request_timeout` reads as before.
    pub http: HttpSettings,
    /// Accounts asked at once. Default 8.
    pub concurrency: usize,
    /// Bounds on recurrence expansion.
    pub expand: ExpandOptions,
}

impl Default for CalDavConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Auto,
            http: HttpSettings::with_max_response_bytes(32 * 1024 * 1024),
            concurrency: 8,
            expand: ExpandOptions::default(),
        }
    }
}

impl CalDavConfig {
    /// Sets [`strategy`](Self::strategy).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }
}

provider_http::config_setters!(CalDavConfig {
    request_timeout,
    add_root_certificate,
    max_response_bytes,
});

/// The client could not be built (the TLS setup failed): provider-http's.
pub use provider_http::BuildError;

/// A calendar collection found by discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CalendarInfo {
    /// Its URL.
    pub url: String,
    /// Its `getctag`, if the server reports one.
    pub ctag: Option<String>,
    /// Its `sync-token`, if the server reports one.
    pub sync_token: Option<String>,
    /// Whether the account may read events (`false`: free/busy only).
    pub can_read_events: bool,
}

/// A resource that could not be read, by href; the rest still counts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceProblem {
    /// The resource's URL.
    pub href: String,
    /// What was wrong.
    pub problem: ResourceProblemKind,
}

/// What was wrong with a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceProblemKind {
    /// Not iCalendar at all.
    NotICalendar,
    /// Part of it could not be used.
    Ical(Problem),
}

/// One account's busy time with what was skipped and what it cost.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CalDavReport {
    /// Busy time inside the window.
    pub busy: FreeBusy,
    /// Resources (or parts) skipped.
    pub problems: Vec<ResourceProblem>,
    /// Whether expansion was cut by a limit.
    pub truncated: bool,
    /// HTTP requests made for this answer (1 when nothing changed since the
    /// last answer over the same or a wider window).
    pub requests: u32,
}

/// What was fetched from one calendar, kept for change detection: only
/// times and statuses (parsed calendars), never event text.
#[derive(Clone, Debug)]
struct Fetched {
    window: Interval,
    ctag: Option<String>,
    sync_token: Option<String>,
    /// Parsed resources by href (a free-busy-query answer has the
    /// calendar's URL).
    calendars: Vec<(String, Calendar)>,
    /// Resources that were not iCalendar at all.
    problems: Vec<ResourceProblem>,
}

#[derive(Clone, Debug, Default)]
struct AccountState {
    login_url: String,
    /// The calendar home, when discovery found one (then one Depth 1
    /// PROPFIND lists every calendar's ctag).
    home: Option<Url>,
    calendars: Vec<Listed>,
    fetched: HashMap<String, Fetched>,
}

#[derive(Clone, Debug)]
struct Listed {
    url: Url,
    props: Props,
}

/// A [`FreeBusySource`] over CalDAV servers: Apple iCloud (app-specific
/// password), Radicale, Xandikos, Nextcloud, Fastmail and others.
///
/// Each account is a [`CalDavLogin`]. The source discovers the account's
/// calendars (`/.well-known/caldav`, `current-user-principal`,
/// `calendar-home-set`), skips
/// calendars marked transparent for scheduling (RFC 6638) or without
/// VEVENTs, and computes busy time by [`Strategy`]. It remembers each
/// calendar's ctag / sync-token: a refresh that finds nothing changed costs
/// one request.
///
/// The login's credentials go only to the origin of its URL (scheme, host,
/// port) and, for an iCloud login, to Apple's hosts over HTTPS: a redirect
/// or an href elsewhere, or from HTTPS to plain HTTP, is refused before
/// anything is sent, as [`SourceError::InvalidResponse`] (see the crate
/// docs, "Where credentials go").
#[derive(Debug)]
pub struct CalDavSource {
    http: Http,
    logins: Arc<dyn CalDavLogins>,
    config: CalDavConfig,
    state: Mutex<HashMap<AccountId, Arc<Mutex<AccountState>>>>,
}

impl CalDavSource {
    /// A source with the default [`CalDavConfig`].
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn new(logins: Arc<dyn CalDavLogins>) -> Result<Self, BuildError> {
        Self::with_config(logins, CalDavConfig::default())
    }

    /// A source with `config`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the HTTP client cannot be built.
    pub fn with_config(
        logins: Arc<dyn CalDavLogins>,
        config: CalDavConfig,
    ) -> Result<Self, BuildError> {
        let http = Http::new(&config.http)?;
        Ok(Self {
            http,
            logins,
            config,
            state: Mutex::new(HashMap::new()),
        })
    }

    /// Discovers the calendars of a login without storing anything: the
    /// check to make before keeping an Apple ID and app-specific password.
    ///
    /// # Errors
    ///
    /// [`SourceError::Unauthorized`] for a wrong password,
    /// [`SourceError::InvalidResponse`] for a redirect or href to where the
    /// credentials may not go (another origin, or plain HTTP after HTTPS),
    /// and the other kinds for what the server answers.
    pub async fn discover(&self, login: &CalDavLogin) -> Result<Vec<CalendarInfo>, SourceError> {
        let mut state = AccountState::default();
        let mut requests = 0;
        self.list(login, &mut state, &mut requests).await?;
        Ok(state
            .calendars
            .iter()
            .map(|c| CalendarInfo {
                url: c.url.to_string(),
                ctag: c.props.ctag.clone(),
                sync_token: c.props.sync_token.clone(),
                can_read_events: can_read_events(&c.props),
            })
            .collect())
    }

    /// The busy time of `account` inside `window`, with the resources
    /// skipped and the number of requests made.
    ///
    /// # Errors
    ///
    /// A [`SourceError`] when the account cannot be answered at all.
    pub async fn report(
        &self,
        account: &AccountId,
        window: Interval,
    ) -> Result<CalDavReport, SourceError> {
        let login = self.logins.login(account).await?;
        let slot = {
            let mut all = self.state.lock().await;
            all.entry(account.clone()).or_default().clone()
        };
        let mut state = slot.lock().await;
        if state.login_url != login.url {
            *state = AccountState {
                login_url: login.url.clone(),
                ..AccountState::default()
            };
        }
        let mut requests = 0;
        let result = self.answer(&login, &mut state, window, &mut requests).await;
        if result.is_err() {
            // Start from discovery next time.
            *state = AccountState::default();
        }
        let (busy, problems, truncated) = result?;
        Ok(CalDavReport {
            busy,
            problems,
            truncated,
            requests,
        })
    }

    async fn answer(
        &self,
        login: &CalDavLogin,
        state: &mut AccountState,
        window: Interval,
        requests: &mut u32,
    ) -> Result<(FreeBusy, Vec<ResourceProblem>, bool), SourceError> {
        self.list(login, state, requests).await?;
        let auth = auth(login)?;
        let mut busy = FreeBusy::new();
        let mut problems = Vec::new();
        let mut truncated = false;
        let calendars = state.calendars.clone();
        state
            .fetched
            .retain(|url, _| calendars.iter().any(|c| c.url.as_str() == url));
        for cal in &calendars {
            let key = cal.url.to_string();
            let unchanged = state.fetched.get(&key).is_some_and(|f| {
                f.window.contains_interval(&window)
                    && (f.ctag.is_some() || f.sync_token.is_some())
                    && f.ctag == cal.props.ctag
                    && f.sync_token == cal.props.sync_token
            });
            if !unchanged {
                let fetched = self.fetch(&auth, cal, window, requests).await?;
                state.fetched.insert(key.clone(), fetched);
            }
            let Some(fetched) = state.fetched.get(&key) else {
                continue;
            };
            let mut options = self.config.expand.clone();
            options.default_zone = cal
                .props
                .calendar_timezone
                .as_deref()
                .and_then(crate::ical::declared_zone)
                .or_else(|| login.zone.clone())
                .unwrap_or(TimeZone::UTC);
            for (href, calendar) in &fetched.calendars {
                let report = calendar.busy_time(window, &options);
                busy.merge(&report.busy);
                truncated |= report.truncated;
                problems.extend(report.problems.into_iter().map(|p| ResourceProblem {
                    href: href.clone(),
                    problem: ResourceProblemKind::Ical(p),
                }));
            }
            problems.extend(fetched.problems.iter().cloned());
        }
        Ok((busy, problems, truncated))
    }

    /// Brings `state.calendars` up to date: one PROPFIND when the home is
    /// known, discovery otherwise.
    async fn list(
        &self,
        login: &CalDavLogin,
        state: &mut AccountState,
        requests: &mut u32,
    ) -> Result<(), SourceError> {
        let auth = auth(login)?;
        if let Some(home) = state.home.clone() {
            state.calendars = self.list_home(&auth, home, requests).await?;
            return Ok(());
        }
        if !state.calendars.is_empty() {
            // Calendars given directly: one PROPFIND each for their ctags.
            let mut fresh = Vec::new();
            for cal in &state.calendars {
                let ms = self
                    .propfind(
                        &auth,
                        cal.url.clone(),
                        "0",
                        bodies::CALENDAR_PROPS,
                        requests,
                    )
                    .await?;
                if let Some(listed) = calendars_in(&auth, &ms, &cal.url)?.into_iter().next() {
                    fresh.push(listed);
                }
            }
            state.calendars = fresh;
            return Ok(());
        }
        let start = auth.origin.clone();
        // The URL itself may be a calendar, a principal, a home or a server.
        let mut found = self.probe(&auth, start.clone(), requests).await;
        let path_is_root = start.path() == "/" || start.path().is_empty();
        let nothing =
            |p: &(Option<Url>, Vec<Url>, bool, Url, Props)| p.0.is_none() && p.1.is_empty() && !p.2;
        let needs_well_known = path_is_root
            && match &found {
                Ok(p) => nothing(p),
                Err(e) => !e.needs_reconnect(),
            };
        if needs_well_known && let Ok(well_known) = start.join("/.well-known/caldav") {
            let answer = self.probe(&auth, well_known, requests).await;
            // No well-known URL at all (404) after a root answer that was
            // refused (a redirect to another origin) or unreadable: that
            // first error is the one that says what is wrong.
            let keep_first = matches!(
                (&found, &answer),
                (
                    Err(SourceError::InvalidResponse { .. }),
                    Err(SourceError::NotFound { .. })
                )
            );
            if !keep_first {
                found = answer;
            }
        }
        if found.as_ref().is_ok_and(nothing) {
            return Err(SourceError::NotFound {
                message: "no CalDAV principal, calendar home or calendar at this address"
                    .to_owned(),
            });
        }
        let (principal, homes, is_calendar, base, props) = found?;
        if is_calendar {
            state.calendars = vec![Listed { url: base, props }];
            return Ok(());
        }
        let homes = if homes.is_empty() {
            let principal = principal.ok_or_else(|| SourceError::NotFound {
                message: "no CalDAV principal or calendar home at this address".to_owned(),
            })?;
            let ms = self
                .propfind(&auth, principal.clone(), "0", bodies::HOME_SET, requests)
                .await?;
            ms.responses
                .iter()
                .flat_map(|r| r.props.calendar_home_set.iter())
                .filter_map(|h| principal.join(h).ok())
                .collect::<Vec<_>>()
        } else {
            homes
        };
        let home = homes
            .into_iter()
            .next()
            .ok_or_else(|| SourceError::NotFound {
                message: "the principal has no calendar-home-set".to_owned(),
            })?;
        state.calendars = self.list_home(&auth, home.clone(), requests).await?;
        state.home = Some(home);
        Ok(())
    }

    /// PROPFIND Depth 0 on `url`: (principal, homes, is a calendar, the URL
    /// that answered, its props).
    async fn probe(
        &self,
        auth: &Auth<'_>,
        url: Url,
        requests: &mut u32,
    ) -> Result<(Option<Url>, Vec<Url>, bool, Url, Props), SourceError> {
        *requests += 1;
        let reply = self
            .http
            .send(auth, "PROPFIND", url, Some("0"), Some(bodies::PROBE))
            .await?
            .ok()?;
        let ms = parse_multistatus(&reply.body)?;
        let base = reply.url.clone();
        let mut principal = None;
        let mut homes = Vec::new();
        let mut is_calendar = false;
        let mut props = Props::default();
        for r in &ms.responses {
            if let Some(p) = &r.props.current_user_principal {
                principal = base.join(p).ok();
            }
            homes.extend(
                r.props
                    .calendar_home_set
                    .iter()
                    .filter_map(|h| base.join(h).ok()),
            );
            if r.props.is_calendar {
                is_calendar = true;
                props = r.props.clone();
            }
        }
        Ok((principal, homes, is_calendar, base, props))
    }

    async fn list_home(
        &self,
        auth: &Auth<'_>,
        home: Url,
        requests: &mut u32,
    ) -> Result<Vec<Listed>, SourceError> {
        let ms = self
            .propfind(auth, home.clone(), "1", bodies::CALENDAR_PROPS, requests)
            .await?;
        calendars_in(auth, &ms, &home)
    }

    async fn propfind(
        &self,
        auth: &Auth<'_>,
        url: Url,
        depth: &str,
        body: &str,
        requests: &mut u32,
    ) -> Result<Multistatus, SourceError> {
        *requests += 1;
        let reply = self
            .http
            .send(auth, "PROPFIND", url, Some(depth), Some(body))
            .await?
            .ok()?;
        parse_multistatus(&reply.body)
    }

    /// Fetches one calendar's data for `window` by the strategy.
    async fn fetch(
        &self,
        auth: &Auth<'_>,
        cal: &Listed,
        window: Interval,
        requests: &mut u32,
    ) -> Result<Fetched, SourceError> {
        let (calendars, problems) = match self.config.strategy {
            Strategy::FreeBusyQuery => (
                self.free_busy_query(auth, cal, window, requests).await?,
                Vec::new(),
            ),
            Strategy::Events => self.events(auth, cal, window, requests).await?,
            Strategy::Auto if !can_read_events(&cal.props) => (
                self.free_busy_query(auth, cal, window, requests).await?,
                Vec::new(),
            ),
            Strategy::Auto => match self.events(auth, cal, window, requests).await {
                Err(SourceError::Forbidden { .. }) => (
                    self.free_busy_query(auth, cal, window, requests).await?,
                    Vec::new(),
                ),
                other => other?,
            },
        };
        Ok(Fetched {
            window,
            ctag: cal.props.ctag.clone(),
            sync_token: cal.props.sync_token.clone(),
            calendars,
            problems,
        })
    }

    /// RFC 4791 §7.8 calendar-query with a time-range filter and §9.6
    /// partial retrieval; without the filter if the server rejects it.
    async fn events(
        &self,
        auth: &Auth<'_>,
        cal: &Listed,
        window: Interval,
        requests: &mut u32,
    ) -> Result<(Vec<(String, Calendar)>, Vec<ResourceProblem>), SourceError> {
        *requests += 1;
        let body = bodies::calendar_query(Some(window));
        let reply = self
            .http
            .send(auth, "REPORT", cal.url.clone(), Some("1"), Some(&body))
            .await?;
        let reply = match reply.status {
            400 | 422 | 500 | 501 => {
                *requests += 1;
                let body = bodies::calendar_query(None);
                self.http
                    .send(auth, "REPORT", cal.url.clone(), Some("1"), Some(&body))
                    .await?
                    .ok()?
            }
            _ => reply.ok()?,
        };
        let mut ms = parse_multistatus(&reply.body)?;
        // Xandikos 0.4 answers calendar-data 404 for a resource that lacks
        // one of the properties asked for by partial retrieval: fetch those
        // whole, in one calendar-multiget (RFC 4791 §7.9).
        let missing: Vec<String> = ms
            .responses
            .iter()
            .filter(|r| r.props.calendar_data.is_none() && r.status.is_none_or(|s| s < 300))
            .map(|r| r.href.clone())
            .collect();
        if !missing.is_empty() {
            *requests += 1;
            let body = bodies::calendar_multiget(&missing);
            let whole = self
                .http
                .send(auth, "REPORT", cal.url.clone(), Some("1"), Some(&body))
                .await?
                .ok()?;
            let whole = parse_multistatus(&whole.body)?;
            ms.responses.retain(|r| r.props.calendar_data.is_some());
            ms.responses.extend(whole.responses);
        }
        let mut calendars = Vec::new();
        let mut problems = Vec::new();
        for r in ms.responses {
            let Some(data) = r.props.calendar_data else {
                continue;
            };
            let href = reply
                .url
                .join(&r.href)
                .map_or(r.href.clone(), |u| u.to_string());
            match Calendar::parse(&data) {
                Ok(calendar) => calendars.push((href, calendar)),
                Err(_) => problems.push(ResourceProblem {
                    href,
                    problem: ResourceProblemKind::NotICalendar,
                }),
            }
        }
        Ok((calendars, problems))
    }

    /// RFC 4791 §7.10 free-busy-query, Depth 1 (Xandikos answers an empty
    /// VFREEBUSY to Depth 0), in pieces of at most a year (Radicale refuses
    /// more than 10,000 occurrences of one event).
    async fn free_busy_query(
        &self,
        auth: &Auth<'_>,
        cal: &Listed,
        window: Interval,
        requests: &mut u32,
    ) -> Result<Vec<(String, Calendar)>, SourceError> {
        const YEAR: i64 = 366 * 86_400;
        let mut out = Vec::new();
        for piece in window.pieces(YEAR) {
            *requests += 1;
            let body = bodies::free_busy_query(piece);
            let reply = self
                .http
                .send(auth, "REPORT", cal.url.clone(), Some("1"), Some(&body))
                .await?
                .ok()?;
            let calendar =
                Calendar::parse(&reply.body).map_err(|_| SourceError::InvalidResponse {
                    message: "the free-busy-query answer is not iCalendar".to_owned(),
                })?;
            out.push((cal.url.to_string(), calendar));
        }
        Ok(out)
    }
}

fn auth(login: &CalDavLogin) -> Result<Auth<'_>, SourceError> {
    Ok(Auth {
        origin: Url::parse(&login.url).map_err(|e| SourceError::NotFound {
            message: format!("not a URL: {e}"),
        })?,
        username: &login.username,
        password: &login.password,
    })
}

fn parse_multistatus(body: &str) -> Result<Multistatus, SourceError> {
    xml::multistatus(body).map_err(|e| SourceError::InvalidResponse {
        message: e.to_string(),
    })
}

/// Whether the privileges allow reading events (unknown counts as yes).
fn can_read_events(props: &Props) -> bool {
    props
        .privileges
        .as_ref()
        .is_none_or(|p| p.iter().any(|n| n == "read" || n == "all"))
}

/// The calendars of a PROPFIND answer that hold events and count for
/// scheduling.
///
/// # Errors
///
/// [`SourceError::InvalidResponse`] if one is where the credentials may not
/// go ([`origin::check`]): refused here, so a login check fails on it
/// rather than a later read (and busy time is never silently dropped).
fn calendars_in(auth: &Auth<'_>, ms: &Multistatus, base: &Url) -> Result<Vec<Listed>, SourceError> {
    let listed: Vec<Listed> =
        ms.responses
            .iter()
            .filter(|r| r.props.is_calendar && r.status.is_none_or(|s| (200..300).contains(&s)))
            .filter(|r| {
                r.props.components.as_ref().is_none_or(|c| {
                    c.is_empty() || c.iter().any(|n| n.eq_ignore_ascii_case("VEVENT"))
                })
            })
            .filter(|r| !r.props.transparent)
            .filter_map(|r| {
                Some(Listed {
                    url: base.join(&r.href).ok()?,
                    props: r.props.clone(),
                })
            })
            .collect();
    for cal in &listed {
        origin::check(&auth.origin, &cal.url)
            .map_err(|why| origin::refused(&auth.origin, &cal.url, Hop::Href, why))?;
    }
    Ok(listed)
}

#[async_trait]
impl FreeBusySource for CalDavSource {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(usize::MAX)
            .with_native_free_busy(self.config.strategy == Strategy::FreeBusyQuery)
            .with_reported_kinds(KindSet::ALL)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        let mut accounts = Vec::with_capacity(request.accounts.len());
        let limit = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = Vec::with_capacity(request.accounts.len());
        for account in &request.accounts {
            let limit = limit.clone();
            tasks.push(async move {
                let _permit = limit.acquire().await;
                self.report(account, request.window).await
            });
        }
        let results = futures_util::future::join_all(tasks).await;
        for (account, result) in request.accounts.iter().zip(results) {
            accounts.push(AccountFreeBusy {
                account: account.clone(),
                result: result.map(|r| r.busy),
            });
        }
        Ok(FreeBusyResponse { accounts })
    }
}
