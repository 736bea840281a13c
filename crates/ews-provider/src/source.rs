//! [`EwsSource`]: busy time from EWS GetUserAvailability.

use std::fmt;

use async_trait::async_trait;
use availability::{
    AccountFreeBusy, AccountId, BusyKind, Capabilities, FreeBusy, FreeBusyRequest,
    FreeBusyResponse, FreeBusySource, Interval, KindSet, SourceError,
};
use bytes::Bytes;
use futures_util::StreamExt as _;
use provider_http::{BuildError, Pacer, RefreshOnce};

use crate::http::{Credentials, USER_AGENT, fault_error, send_pooled};
use crate::ntlm::NtlmClient;
use crate::wire::{self, Body, BusyType, Class, Mailbox, Window};
use crate::{EwsAuth, EwsConfig};

/// How requests travel.
enum Transport {
    /// Basic and bearer: provider-http's pooled reqwest client.
    Pooled(reqwest::Client),
    /// NTLM: a connection of its own per handshake.
    Ntlm(NtlmClient),
}

/// A [`FreeBusySource`] over Exchange Web Services (on-premise Exchange
/// 2010 and later). Each account is a mailbox's SMTP address.
///
/// Accounts go up to [`EwsConfig::max_mailboxes_per_request`] to a
/// GetUserAvailability request; windows are cut into pieces of at most
/// [`EwsConfig::max_window`]; at most [`EwsConfig::concurrency`] requests
/// are in flight. A mailbox's own error (`ResponseClass="Error"`) fails
/// only that account. Busy time is clipped to the window asked.
pub struct EwsSource {
    config: EwsConfig,
    auth: EwsAuth,
    url: reqwest::Url,
    transport: Transport,
    pacer: Pacer,
}

impl fmt::Debug for EwsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EwsSource")
            .field("config", &self.config)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl EwsSource {
    /// A source with `config` signing in with `auth`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when a setting is out of range
    /// (`merged_interval_minutes` 5 to 1440, `max_mailboxes_per_request` 1
    /// to 100, `max_window` under an hour, `concurrency` 0, a
    /// `server_version` that is not a version name), the endpoint is not
    /// an `https` URL (plain `http` is allowed to loopback only: no
    /// credentials in clear text) or carries credentials, or the HTTP
    /// client (TLS, an extra root) cannot be built.
    ///
    /// # Example: NTLM against an on-premise server
    ///
    /// ```
    /// use ews_provider::{EwsAuth, EwsConfig, EwsLogin, EwsSource};
    ///
    /// let config = EwsConfig::new("https://mail.example.org/EWS/Exchange.asmx")
    ///     .merged_interval_minutes(15);
    /// let source = EwsSource::new(config, EwsAuth::Ntlm(EwsLogin::new("CORP\\scheduler", "secret")))?;
    /// # let _ = source;
    /// let plain = EwsConfig::new("http://mail.example.org/EWS/Exchange.asmx");
    /// assert!(EwsSource::new(plain, EwsAuth::Basic(EwsLogin::new("CORP\\scheduler", "secret"))).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: EwsConfig, auth: EwsAuth) -> Result<Self, BuildError> {
        let url = config.check(auth.method())?;
        let transport = match &auth {
            EwsAuth::Ntlm(_) => Transport::Ntlm(NtlmClient::new(&url, &config.http)?),
            EwsAuth::Basic(_) | EwsAuth::Bearer(_) => {
                Transport::Pooled(config.http.source_client("EWS", USER_AGENT)?)
            }
        };
        Ok(Self {
            pacer: Pacer::new(&config.pacing),
            config,
            auth,
            url,
            transport,
        })
    }

    /// The settings.
    pub fn config(&self) -> &EwsConfig {
        &self.config
    }

    fn pieces(&self, window: Interval) -> Vec<Interval> {
        window.pieces(i64::try_from(self.config.max_window.as_secs()).unwrap_or(i64::MAX))
    }

    /// Every account's busy time over `window`, in request order.
    async fn answer(
        &self,
        accounts: &[AccountId],
        window: Interval,
    ) -> Vec<Result<FreeBusy, SourceError>> {
        let per = self.config.max_mailboxes_per_request.clamp(1, 100);
        let batches: Vec<&[AccountId]> = accounts.chunks(per).collect();
        let pieces = self.pieces(window);
        let jobs: Vec<(usize, usize)> = (0..batches.len())
            .flat_map(|b| (0..pieces.len()).map(move |p| (b, p)))
            .collect();
        let (batches_ref, pieces_ref) = (&batches, &pieces);
        let mut done: Vec<(usize, usize, Result<_, SourceError>)> =
            futures_util::stream::iter(jobs)
                .map(|(b, p)| async move {
                    let outcome = self.request(batches_ref[b], pieces_ref[p]).await;
                    (b, p, outcome)
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
        // The earliest piece's error wins, whatever order they finished in.
        done.sort_by_key(|(b, p, _)| (*b, *p));
        let mut results: Vec<Result<FreeBusy, SourceError>> =
            accounts.iter().map(|_| Ok(FreeBusy::new())).collect();
        for (b, _, outcome) in done {
            let start = b * per;
            let slots = results.iter_mut().skip(start).take(batches[b].len());
            match outcome {
                Err(e) => {
                    for slot in slots {
                        if slot.is_ok() {
                            *slot = Err(e.clone());
                        }
                    }
                }
                Ok(answers) => {
                    for (slot, answer) in slots.zip(answers) {
                        match (slot.as_mut(), answer) {
                            (Ok(busy), Ok(part)) => busy.merge(&part),
                            (Ok(_), Err(e)) => *slot = Err(e),
                            (Err(_), _) => {}
                        }
                    }
                }
            }
        }
        results
    }

    /// One GetUserAvailability request: `ids` over `piece`.
    async fn request(
        &self,
        ids: &[AccountId],
        piece: Interval,
    ) -> Result<Vec<Result<FreeBusy, SourceError>>, SourceError> {
        let addresses: Vec<&str> = ids.iter().map(AccountId::as_str).collect();
        let window = Window {
            start: piece.start(),
            end: piece.end(),
        };
        let body = Bytes::from(wire::request(
            &self.config.server_version,
            &addresses,
            window,
            self.config.merged_interval_minutes,
        ));
        let retry = &self.config.retry;
        let max = self.config.http.max_response_bytes;
        // Paced by the account the service logs in as.
        let login_identity = match &self.auth {
            EwsAuth::Ntlm(login) | EwsAuth::Basic(login) => login.user().to_ascii_lowercase(),
            EwsAuth::Bearer(_) => "application".to_owned(),
        };
        let paced = self.pacer.identity(&login_identity);
        let reply = match (&self.auth, &self.transport) {
            (EwsAuth::Ntlm(login), Transport::Ntlm(client)) => {
                client.send(paced, login, &body, retry, max).await?
            }
            (EwsAuth::Basic(login), Transport::Pooled(http)) => {
                let credentials = Credentials::Basic {
                    user: login.user(),
                    password: login.password(),
                };
                send_pooled(paced, http, &self.url, credentials, &body, retry, max).await?
            }
            (EwsAuth::Bearer(tokens), Transport::Pooled(http)) => {
                let Some(first) = ids.first() else {
                    return Ok(Vec::new());
                };
                let mut token = RefreshOnce::new(&**tokens, first).await?;
                let body = &body;
                token
                    .send(|t| async move {
                        let credentials = Credentials::Bearer(t.secret());
                        send_pooled(paced, http, &self.url, credentials, body, retry, max).await
                    })
                    .await?
            }
            _ => {
                return Err(SourceError::Transport {
                    message: "the EWS transport does not match its authentication".to_owned(),
                    source: None,
                });
            }
        };
        read_answer(
            &reply,
            ids.len(),
            piece,
            self.config.merged_interval_minutes,
        )
    }
}

/// A 2xx body read as one request's answer for `asked` mailboxes over
/// `piece`: each mailbox's busy time clipped to `piece`, or its error, in
/// request order.
///
/// # Errors
///
/// The whole request's error: not SOAP, a DOCTYPE, malformed, a fault.
pub(crate) fn read_answer(
    body: &[u8],
    asked: usize,
    piece: Interval,
    merged_minutes: u32,
) -> Result<Vec<Result<FreeBusy, SourceError>>, SourceError> {
    let mailboxes = match wire::read(body) {
        Ok(Body::Availability(m)) => m,
        Ok(Body::Fault(fault)) => return Err(fault_error(&fault, 200, None).error),
        Err(e) => {
            return Err(SourceError::InvalidResponse {
                message: e.to_string(),
            });
        }
    };
    if mailboxes.len() != asked {
        // Answers are matched by position: a count that differs could
        // give one mailbox another's time, so none is taken.
        let e = SourceError::InvalidResponse {
            message: format!(
                "EWS answered {} mailboxes for {asked} asked",
                mailboxes.len()
            ),
        };
        return Ok((0..asked).map(|_| Err(e.clone())).collect());
    }
    Ok(mailboxes
        .iter()
        .map(|m| mailbox_busy(m, piece, merged_minutes))
        .collect())
}

/// `BusyType` to [`BusyKind`] (`busytype.md`): `Free` is no busy time;
/// `NoData` (the server has no data for that time) and any value the
/// schema does not name are [`BusyKind::Unknown`], never free.
fn kind_of(busy: BusyType) -> Option<BusyKind> {
    match busy {
        BusyType::Free => None,
        BusyType::Tentative => Some(BusyKind::Tentative),
        BusyType::Busy => Some(BusyKind::Busy),
        BusyType::Oof => Some(BusyKind::OutOfOffice),
        BusyType::WorkingElsewhere => Some(BusyKind::WorkingElsewhere),
        BusyType::NoData | BusyType::Other => Some(BusyKind::Unknown),
    }
}

/// A `MergedFreeBusy` digit (`mergedfreebusy.md`): 0 free, 1 tentative,
/// 2 busy, 3 OOF, 4 no data (unknown, as any other digit).
fn merged_kind(digit: char) -> Option<BusyKind> {
    match digit {
        '0' => None,
        '1' => Some(BusyKind::Tentative),
        '2' => Some(BusyKind::Busy),
        '3' => Some(BusyKind::OutOfOffice),
        _ => Some(BusyKind::Unknown),
    }
}

fn clipped(start: i64, end: i64, window: Interval) -> Option<Interval> {
    let (s, e) = (start.max(window.start()), end.min(window.end()));
    if s < e {
        Interval::new(s, e).ok()
    } else {
        None
    }
}

/// One mailbox's busy time over `piece`, or its error.
fn mailbox_busy(
    m: &Mailbox,
    piece: Interval,
    merged_minutes: u32,
) -> Result<FreeBusy, SourceError> {
    if m.class == Class::Error {
        return Err(mailbox_error(m.code.as_deref().unwrap_or(""), m));
    }
    let view = m.view_type.as_deref().unwrap_or("None");
    if !m.has_view || view.split_whitespace().any(|v| v == "None") {
        // No data at all: an empty answer would read as free, so the
        // account is an error (unknown), never free.
        return Err(SourceError::Unavailable {
            message: "Exchange has no free/busy data for this mailbox (FreeBusyViewType None)"
                .to_owned(),
            retry_after: None,
        });
    }
    if m.bad_event {
        return Err(SourceError::InvalidResponse {
            message: "EWS sent a CalendarEvent whose times or BusyType cannot be read".to_owned(),
        });
    }
    let mut busy = FreeBusy::new();
    for event in &m.events {
        if let Some(kind) = kind_of(event.busy)
            && let Some(iv) = clipped(event.start, event.end, piece)
        {
            busy.add(kind, iv);
        }
    }
    if view == "MergedOnly" {
        // Only the merged stream (cross-forest, public-folder free/busy):
        // one digit per interval from the window's start.
        let step = i64::from(merged_minutes) * 60;
        let digits = m.merged.as_deref().unwrap_or("");
        for (i, digit) in digits.chars().enumerate() {
            let Some(start) = i64::try_from(i)
                .ok()
                .and_then(|i| i.checked_mul(step))
                .and_then(|o| o.checked_add(piece.start()))
            else {
                break;
            };
            if start >= piece.end() {
                break;
            }
            if let Some(kind) = merged_kind(digit)
                && let Some(iv) = clipped(start, start.saturating_add(step), piece)
            {
                busy.add(kind, iv);
            }
        }
    }
    Ok(busy)
}

/// A mailbox's `ResponseCode` (`responsecode.md`) as its account's error.
/// The code is shown, never `MessageText` (it echoes the address).
fn mailbox_error(code: &str, m: &Mailbox) -> SourceError {
    let code = if code.is_empty() {
        "no ResponseCode"
    } else {
        code
    };
    match code {
        // The address resolves to no mailbox; an address EWS cannot read as
        // SMTP names no mailbox either (what the conformance checks call a
        // missing account).
        "ErrorMailRecipientNotFound" | "ErrorInvalidSmtpAddress" | "ErrorNonExistentMailbox" => {
            SourceError::NotFound {
                message: format!("Exchange does not know this mailbox ({code})"),
            }
        }
        "ErrorNoFreeBusyAccess" | "ErrorAccessDenied" | "ErrorProxyRequestNotAllowed" => {
            SourceError::Forbidden {
                message: format!("Exchange may not show this mailbox's free/busy ({code})"),
            }
        }
        "ErrorServerBusy" => SourceError::RateLimited {
            retry_after: m.back_off,
        },
        _ => SourceError::Unavailable {
            message: format!("Exchange could not read this mailbox ({code})"),
            retry_after: m.back_off,
        },
    }
}

#[async_trait]
impl FreeBusySource for EwsSource {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(self.config.max_mailboxes_per_request.clamp(1, 100))
            .with_max_window(self.config.max_window)
            .with_reported_kinds(KindSet::ALL)
            .with_native_free_busy(true)
    }

    async fn free_busy(&self, request: &FreeBusyRequest) -> Result<FreeBusyResponse, SourceError> {
        let results = self.answer(&request.accounts, request.window).await;
        Ok(FreeBusyResponse {
            accounts: request
                .accounts
                .iter()
                .cloned()
                .zip(results)
                .map(|(account, result)| AccountFreeBusy { account, result })
                .collect(),
        })
    }
}
