//! GetUserAvailability's SOAP 1.1, and nothing more: the request written
//! as a template, the response read with quick-xml's `NsReader`, matched by
//! namespace URI and local name (never by prefix: servers write `m:`/`t:`
//! prefixes or default namespaces), streaming, keeping only times and busy
//! types.
//!
//! References (Microsoft's EWS reference, `web-service-reference/`):
//! GetUserAvailability operation (`getuseravailability-operation.md`),
//! `FreeBusyViewOptions`, `TimeWindow`, `MergedFreeBusyIntervalInMinutes`,
//! `RequestedView`, `TimeZone (Availability)`, `FreeBusyView`,
//! `FreeBusyViewType`, `MergedFreeBusy`, `CalendarEvent`, `BusyType`,
//! `ResponseMessage`, `ResponseCode`; EWS throttling in Exchange
//! (`ews-throttling-in-exchange.md`: `ErrorServerBusy` and
//! `BackOffMilliseconds`); and the protocol, [MS-OXWAVLS] 2.2 and 3.1.4.1.
//!
//! Privacy: `CalendarEventDetails` (subject, location), `WorkingHours` and
//! `MessageText` (which echoes the address) are skipped unread, never
//! stored. quick-xml reads no DTD: a `<!DOCTYPE` is refused, and an
//! entity other than the five predefined ones and character references
//! is an error, so nothing is ever expanded.

use std::time::Duration;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// SOAP 1.1's envelope namespace.
pub(crate) const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// EWS types (`t:`). The reference pages print `https://` since a link
/// rewrite; the schema (Types.xsd, [MS-OXWAVLS]) and servers use `http://`.
pub(crate) const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS messages (`m:`).
pub(crate) const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS errors (`e:`), in a fault's `detail`.
pub(crate) const ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

const MAX_DEPTH: usize = 64;

/// What a `TimeWindow` asks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC, without an offset: the request's
/// `t:TimeZone` is UTC, and EWS reads the window in that zone.
pub(crate) fn utc_wall(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Text escaped for an XML element or attribute.
fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// The GetUserAvailability request for `addresses` over `window`
/// (`getuseravailability-operation.md`, [MS-OXWAVLS] 3.1.4.1.1.1):
///
/// - `t:RequestServerVersion` (`requestserverversion.md`): `version`.
/// - `t:TimeZone` (`timezone-availability.md`): UTC. `Bias` 0, and
///   `StandardTime`/`DaylightTime` (both required) with `Bias` 0 and the
///   same transition, so no rule ever shifts a time: times come back in
///   UTC.
/// - `m:MailboxDataArray`: each address `Required`, `ExcludeConflicts`
///   false (`mailboxdata.md`).
/// - `t:FreeBusyViewOptions` (`freebusyviewoptions.md`): the `TimeWindow`
///   (`timewindow.md`), `MergedFreeBusyIntervalInMinutes`
///   (`mergedfreebusyintervalinminutes.md`, 5 to 1440) and
///   `RequestedView` `FreeBusy` (`requestedview.md`): times and busy types
///   only, never `Detailed` (which adds subjects and locations).
pub(crate) fn request(
    version: &str,
    addresses: &[&str],
    window: Window,
    merged_minutes: u32,
) -> String {
    let mut body = String::with_capacity(1024 + addresses.len() * 200);
    body.push_str(concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        "\n",
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" "#,
        r#"xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" "#,
        r#"xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">"#,
        "\n  <soap:Header>\n    ",
    ));
    body.push_str(&format!(
        "<t:RequestServerVersion Version=\"{}\"/>",
        escape(version)
    ));
    body.push_str(concat!(
        "\n  </soap:Header>\n  <soap:Body>\n    <m:GetUserAvailabilityRequest>\n",
        "      <t:TimeZone>\n",
        "        <t:Bias>0</t:Bias>\n",
        "        <t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder>",
        "<t:Month>1</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>\n",
        "        <t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder>",
        "<t:Month>1</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>\n",
        "      </t:TimeZone>\n",
        "      <m:MailboxDataArray>\n",
    ));
    for address in addresses {
        body.push_str("        <t:MailboxData><t:Email><t:Address>");
        body.push_str(&escape(address));
        body.push_str(concat!(
            "</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType>",
            "<t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>\n",
        ));
    }
    body.push_str(&format!(
        concat!(
            "      </m:MailboxDataArray>\n",
            "      <t:FreeBusyViewOptions>\n",
            "        <t:TimeWindow><t:StartTime>{}</t:StartTime><t:EndTime>{}</t:EndTime></t:TimeWindow>\n",
            "        <t:MergedFreeBusyIntervalInMinutes>{}</t:MergedFreeBusyIntervalInMinutes>\n",
            "        <t:RequestedView>FreeBusy</t:RequestedView>\n",
            "      </t:FreeBusyViewOptions>\n",
            "    </m:GetUserAvailabilityRequest>\n  </soap:Body>\n</soap:Envelope>\n",
        ),
        utc_wall(window.start),
        utc_wall(window.end),
        merged_minutes,
    ));
    body
}

/// A `BusyType` (`busytype.md`; `LegacyFreeBusyType` in [MS-OXWSCDATA]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BusyType {
    Free,
    Tentative,
    Busy,
    Oof,
    /// Exchange 2013 and later.
    WorkingElsewhere,
    NoData,
    /// A value the schema does not name.
    Other,
}

impl BusyType {
    fn parse(s: &str) -> Self {
        match s.trim() {
            "Free" => Self::Free,
            "Tentative" => Self::Tentative,
            "Busy" => Self::Busy,
            "OOF" => Self::Oof,
            "WorkingElsewhere" => Self::WorkingElsewhere,
            "NoData" => Self::NoData,
            _ => Self::Other,
        }
    }
}

/// One `t:CalendarEvent`: its times (seconds) and busy type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CalendarEvent {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) busy: BusyType,
}

/// `ResponseMessage`'s `ResponseClass`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Class {
    #[default]
    Success,
    Warning,
    Error,
}

/// One `m:FreeBusyResponse`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mailbox {
    pub(crate) class: Class,
    /// `m:ResponseCode` (`responsecode.md`), such as
    /// `ErrorMailRecipientNotFound`.
    pub(crate) code: Option<String>,
    /// `MessageXml`'s `Value Name="BackOffMilliseconds"`.
    pub(crate) back_off: Option<Duration>,
    /// Whether `m:FreeBusyView` was there.
    pub(crate) has_view: bool,
    /// `t:FreeBusyViewType` (`freebusyviewtype.md`): `None`, `MergedOnly`,
    /// `FreeBusy`, `FreeBusyMerged`, `Detailed`, `DetailedMerged`.
    pub(crate) view_type: Option<String>,
    /// `t:MergedFreeBusy` digits (`mergedfreebusy.md`).
    pub(crate) merged: Option<String>,
    pub(crate) events: Vec<CalendarEvent>,
    /// A `CalendarEvent` whose times or type could not be read.
    pub(crate) bad_event: bool,
}

/// A SOAP fault (`soap:Fault`): its EWS code and back-off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fault {
    /// `detail/e:ResponseCode`, or `faultcode`'s local part.
    pub(crate) code: Option<String>,
    pub(crate) back_off: Option<Duration>,
}

/// A SOAP body read.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Fault(Fault),
    /// `m:GetUserAvailabilityResponse`'s mailboxes, in order.
    Availability(Vec<Mailbox>),
}

/// Why a body could not be read. Messages name no address or value from
/// the body beyond an EWS code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// Not a SOAP 1.1 envelope at all: HTML (a sign-in page of a proxy in
    /// front of Exchange), JSON, text.
    #[error("EWS answered with something that is not a SOAP envelope (an HTML sign-in page?)")]
    NotSoap,
    /// A `<!DOCTYPE`: refused, never read.
    #[error("EWS's answer has a DOCTYPE, which is refused")]
    DocType,
    /// Malformed XML, an unknown entity, too deep.
    #[error("EWS's answer is not well-formed XML: {0}")]
    Malformed(String),
    /// A SOAP envelope without a fault or a GetUserAvailabilityResponse.
    #[error("EWS's answer has no GetUserAvailabilityResponse")]
    NoResponse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    Soap,
    Types,
    Messages,
    Errors,
    /// No namespace (SOAP 1.1's `faultcode`, `faultstring`, `detail`).
    Unbound,
    Other,
}

fn ns_of(resolved: &ResolveResult<'_>) -> Ns {
    match resolved {
        ResolveResult::Bound(ns) => match ns.as_ref() {
            SOAP => Ns::Soap,
            TYPES => Ns::Types,
            MESSAGES => Ns::Messages,
            ERRORS => Ns::Errors,
            _ => Ns::Other,
        },
        ResolveResult::Unbound => Ns::Unbound,
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

/// The elements read; anything else is skipped with its subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum El {
    Envelope,
    Body,
    Fault,
    FaultCode,
    Detail,
    DetailCode,
    MessageXml,
    BackOff,
    Response,
    ResponseArray,
    FreeBusyResponse,
    ResponseMessage,
    ResponseCode,
    View,
    ViewType,
    Merged,
    EventArray,
    Event,
    Start,
    End,
    Busy,
}

impl El {
    /// Whether the element's text is read.
    fn has_text(self) -> bool {
        matches!(
            self,
            Self::FaultCode
                | Self::DetailCode
                | Self::BackOff
                | Self::ResponseCode
                | Self::ViewType
                | Self::Merged
                | Self::Start
                | Self::End
                | Self::Busy
        )
    }
}

/// What `(ns, local)` is under `parent`, or `None` to skip it.
fn child(parent: Option<El>, ns: Ns, local: &str, e: &BytesStart<'_>) -> Option<El> {
    Some(match (parent?, ns, local) {
        (El::Envelope, Ns::Soap, "Body") => El::Body,
        (El::Body, Ns::Soap, "Fault") => El::Fault,
        (El::Body, Ns::Messages, "GetUserAvailabilityResponse") => El::Response,
        (El::Fault, Ns::Unbound, "faultcode") => El::FaultCode,
        (El::Fault, Ns::Unbound, "detail") => El::Detail,
        (El::Detail, Ns::Errors, "ResponseCode") => El::DetailCode,
        (El::Detail, Ns::Types | Ns::Errors, "MessageXml") => El::MessageXml,
        (El::ResponseMessage, Ns::Messages, "MessageXml") => El::MessageXml,
        (El::MessageXml, Ns::Types | Ns::Errors, "Value") if is_back_off(e) => El::BackOff,
        (El::Response, Ns::Messages, "FreeBusyResponseArray") => El::ResponseArray,
        (El::ResponseArray, Ns::Messages, "FreeBusyResponse") => El::FreeBusyResponse,
        (El::FreeBusyResponse, Ns::Messages, "ResponseMessage") => El::ResponseMessage,
        (El::FreeBusyResponse, Ns::Messages, "FreeBusyView") => El::View,
        (El::ResponseMessage, Ns::Messages, "ResponseCode") => El::ResponseCode,
        (El::View, Ns::Types, "FreeBusyViewType") => El::ViewType,
        (El::View, Ns::Types, "MergedFreeBusy") => El::Merged,
        (El::View, Ns::Types, "CalendarEventArray") => El::EventArray,
        (El::EventArray, Ns::Types, "CalendarEvent") => El::Event,
        (El::Event, Ns::Types, "StartTime") => El::Start,
        (El::Event, Ns::Types, "EndTime") => El::End,
        (El::Event, Ns::Types, "BusyType") => El::Busy,
        // CalendarEventDetails, WorkingHours, MessageText, Header,
        // SuggestionsResponse, foreign namespaces: skipped unread.
        _ => return None,
    })
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

fn is_back_off(e: &BytesStart<'_>) -> bool {
    attribute(e, "Name").as_deref() == Some("BackOffMilliseconds")
}

/// An instant EWS wrote: with an offset or `Z` (Exchange 2007), or
/// without (Exchange 2010 and later), which is the request's zone: UTC.
pub(crate) fn instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let civil: jiff::civil::DateTime = s.parse().ok()?;
    jiff::tz::TimeZone::UTC
        .to_ambiguous_timestamp(civil)
        .compatible()
        .ok()
        .map(|t| t.as_second())
}

/// Reads a response body: a fault, or the mailboxes in order.
///
/// # Errors
///
/// [`WireError`] when it is not a SOAP envelope, has a DOCTYPE, is
/// malformed, or has neither a fault nor a response.
pub(crate) fn read(body: &[u8]) -> Result<Body, WireError> {
    let text = std::str::from_utf8(body).map_err(|_| WireError::NotSoap)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let malformed = |e: quick_xml::Error| WireError::Malformed(e.to_string());
    // Elements read, innermost last; `None` for the root's parent.
    let mut path: Vec<El> = Vec::new();
    // Depth inside a skipped subtree (0: not skipping).
    let mut skip = 0usize;
    let mut text_buf = String::new();
    let mut seen_root = false;
    let mut fault: Option<Fault> = None;
    let mut mailboxes: Option<Vec<Mailbox>> = None;
    let mut mailbox = Mailbox::default();
    let mut event: (Option<i64>, Option<i64>, Option<BusyType>, bool) = (None, None, None, false);
    loop {
        let (resolved, ev) = reader.read_resolved_event().map_err(malformed)?;
        let ns = ns_of(&resolved);
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            if skip > 0 {
                if !empty {
                    skip += 1;
                }
                continue;
            }
            if path.len() + 1 > MAX_DEPTH {
                return Err(WireError::Malformed("nested too deep".to_owned()));
            }
            let local = e.local_name();
            let local = local.as_ref();
            let el = if !seen_root {
                seen_root = true;
                if (ns, local) != (Ns::Soap, "Envelope") {
                    return Err(WireError::NotSoap);
                }
                Some(El::Envelope)
            } else if path.last().is_some_and(|p| p.has_text()) {
                None
            } else {
                child(path.last().copied(), ns, local, &e)
            };
            let Some(el) = el else {
                if !empty {
                    skip = 1;
                }
                continue;
            };
            match el {
                El::Fault => fault = Some(Fault::default()),
                El::Response => mailboxes = Some(Vec::new()),
                El::FreeBusyResponse => mailbox = Mailbox::default(),
                El::ResponseMessage => {
                    mailbox.class = match attribute(&e, "ResponseClass").as_deref() {
                        Some("Error") => Class::Error,
                        Some("Warning") => Class::Warning,
                        _ => Class::Success,
                    };
                }
                El::View => mailbox.has_view = true,
                El::Event => event = (None, None, None, false),
                _ => {}
            }
            text_buf.clear();
            path.push(el);
            if !empty {
                continue;
            }
        }
        match ev {
            Event::Start(_) => {}
            Event::Empty(_) | Event::End(_) => {
                if skip > 0 {
                    // An empty element inside a skipped subtree changes
                    // nothing; an end closes one level.
                    if matches!(ev, Event::End(_)) {
                        skip -= 1;
                    }
                    continue;
                }
                let Some(el) = path.pop() else {
                    return Err(WireError::Malformed("unexpected end tag".to_owned()));
                };
                let text = std::mem::take(&mut text_buf);
                let text = text.trim();
                match el {
                    El::FaultCode => {
                        if let Some(f) = fault.as_mut()
                            && f.code.is_none()
                        {
                            let local = text.rsplit(':').next().unwrap_or(text);
                            f.code = Some(local.to_owned());
                        }
                    }
                    El::DetailCode => {
                        if let Some(f) = fault.as_mut() {
                            f.code = Some(text.to_owned());
                        }
                    }
                    El::BackOff => {
                        let back_off = text.parse::<u64>().ok().map(Duration::from_millis);
                        if path.contains(&El::Fault) {
                            if let Some(f) = fault.as_mut() {
                                f.back_off = back_off;
                            }
                        } else {
                            mailbox.back_off = back_off;
                        }
                    }
                    El::ResponseCode => mailbox.code = Some(text.to_owned()),
                    El::ViewType => mailbox.view_type = Some(text.to_owned()),
                    El::Merged => mailbox.merged = Some(text.to_owned()),
                    El::Start => event.0 = instant(text),
                    El::End => event.1 = instant(text),
                    El::Busy => event.2 = Some(BusyType::parse(text)),
                    El::Event => match event {
                        (Some(start), Some(end), Some(busy), _) => {
                            mailbox.events.push(CalendarEvent { start, end, busy });
                        }
                        _ => mailbox.bad_event = true,
                    },
                    El::FreeBusyResponse => {
                        if let Some(list) = mailboxes.as_mut() {
                            list.push(std::mem::take(&mut mailbox));
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if skip == 0 && path.last().is_some_and(|p| p.has_text()) {
                    text_buf.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if skip == 0 && path.last().is_some_and(|p| p.has_text()) {
                    text_buf.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                // Checked everywhere, even in skipped subtrees: only
                // character references and the predefined entities.
                let c = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| WireError::Malformed("an unknown entity".to_owned()))?
                        .to_owned(),
                };
                if skip == 0 && path.last().is_some_and(|p| p.has_text()) {
                    text_buf.push_str(&c);
                }
            }
            Event::DocType(_) => return Err(WireError::DocType),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !seen_root {
        return Err(WireError::NotSoap);
    }
    if !path.is_empty() || skip > 0 {
        return Err(WireError::Malformed("unclosed element".to_owned()));
    }
    if let Some(f) = fault {
        return Ok(Body::Fault(f));
    }
    mailboxes
        .map(Body::Availability)
        .ok_or(WireError::NoResponse)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Window = Window {
        start: 1_740_960_000,
        end: 1_741_564_800,
    };

    #[test]
    fn the_request_escapes_addresses_and_asks_free_busy_in_utc() {
        let body = request("Exchange2013", &["a&b@example.org", "<x>"], WEEK, 30);
        assert!(body.contains("<t:Address>a&amp;b@example.org</t:Address>"));
        assert!(body.contains("<t:Address>&lt;x&gt;</t:Address>"));
        assert!(body.contains("<t:RequestedView>FreeBusy</t:RequestedView>"));
        assert!(!body.contains("Detailed"));
        assert!(body.contains("<t:StartTime>2025-03-03T00:00:00</t:StartTime>"));
        assert!(body.contains("<t:EndTime>2025-03-10T00:00:00</t:EndTime>"));
        assert!(body.contains(r#"<t:RequestServerVersion Version="Exchange2013"/>"#));
    }

    #[test]
    fn instants_with_and_without_offsets() {
        assert_eq!(instant("2025-03-03T09:00:00"), Some(1_740_992_400));
        assert_eq!(instant("2025-03-03T09:00:00Z"), Some(1_740_992_400));
        assert_eq!(instant("2025-03-03T10:00:00+01:00"), Some(1_740_992_400));
        assert_eq!(instant("2025-03-03T09:00:00.0000000"), Some(1_740_992_400));
        assert_eq!(instant("yesterday"), None);
    }

    #[test]
    fn a_fault_with_back_off() {
        let body = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
            <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
            <faultstring xml:lang="en-US">The server cannot service this request right now.</faultstring>
            <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
            <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">297749</t:Value></t:MessageXml>
            </detail></s:Fault></s:Body></s:Envelope>"#;
        let Ok(Body::Fault(f)) = read(body) else {
            panic!("a fault");
        };
        assert_eq!(f.code.as_deref(), Some("ErrorServerBusy"));
        assert_eq!(f.back_off, Some(Duration::from_millis(297_749)));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            read(b"<html><body>Sign in</body></html>").unwrap_err(),
            WireError::NotSoap
        );
        assert_eq!(read(b"").unwrap_err(), WireError::NotSoap);
        assert_eq!(read(b"\xff\xfe").unwrap_err(), WireError::NotSoap);
        let doctype = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#;
        assert_eq!(read(doctype).unwrap_err(), WireError::DocType);
        let entity = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&a;</s:Body></s:Envelope>"#;
        assert!(matches!(read(entity), Err(WireError::Malformed(_))));
        let nothing = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#;
        assert_eq!(read(nothing).unwrap_err(), WireError::NoResponse);
        let unclosed =
            br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#;
        assert!(matches!(read(unclosed), Err(WireError::Malformed(_))));
        let deep = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}</s:Body></s:Envelope>"#,
            "<a>".repeat(100)
        );
        assert!(read(deep.as_bytes()).is_err());
    }
}
