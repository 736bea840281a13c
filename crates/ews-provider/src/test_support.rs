//! A GetUserAvailability double for tests (feature `test-support`, from
//! `[dev-dependencies]` only): a wiremock responder that reads the
//! request's mailboxes and window and answers in the documented envelope
//! (`getuseravailability-operation.md`), the way Exchange 2010 and later
//! write it (`m:`/`t:` prefixes, times in the request's zone, UTC here,
//! without an offset; events overlapping the window whole).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use quick_xml::events::Event;
use quick_xml::reader::NsReader;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::wire::{TYPES, instant, utc_wall};

/// What the double holds for one mailbox.
#[derive(Clone, Debug)]
enum Held {
    Events(Vec<(i64, i64, String)>),
    Error(String),
}

/// An EWS endpoint's availability: mailboxes with their events (start and
/// end in Unix seconds, and a `BusyType` such as `Busy`, `OOF`, `NoData`)
/// or a `ResponseCode` error; any other address is
/// `ErrorMailRecipientNotFound`. Clones share what was asked.
///
/// # Example: mount it on wiremock
///
/// ```no_run
/// # async fn f() {
/// use ews_provider::test_support::AvailabilityDouble;
/// use wiremock::{Mock, MockServer, matchers::method};
///
/// let double = AvailabilityDouble::new()
///     .mailbox("ada@example.org", &[(1_740_992_400, 1_740_996_000, "Busy")])
///     .error("eve@example.org", "ErrorNoFreeBusyAccess");
/// let server = MockServer::start().await;
/// Mock::given(method("POST")).respond_with(double.clone()).mount(&server).await;
/// // ... later: double.asked() lists each request's mailboxes.
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct AvailabilityDouble {
    mailboxes: HashMap<String, Held>,
    asked: Arc<Mutex<Vec<Vec<String>>>>,
}

impl AvailabilityDouble {
    /// A double that knows no mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `address` with `events` (`(start, end, BusyType)`).
    #[must_use]
    pub fn mailbox(mut self, address: &str, events: &[(i64, i64, &str)]) -> Self {
        let events = events
            .iter()
            .map(|&(s, e, k)| (s, e, k.to_owned()))
            .collect();
        self.mailboxes
            .insert(address.to_ascii_lowercase(), Held::Events(events));
        self
    }

    /// Answers `address` with `ResponseClass="Error"` and `code` (such as
    /// `ErrorNoFreeBusyAccess`).
    #[must_use]
    pub fn error(mut self, address: &str, code: &str) -> Self {
        self.mailboxes
            .insert(address.to_ascii_lowercase(), Held::Error(code.to_owned()));
        self
    }

    /// Each request's mailboxes, in the order asked.
    pub fn asked(&self) -> Vec<Vec<String>> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The answer to a request body (`None` when it cannot be read).
    pub fn answer(&self, body: &[u8]) -> Option<String> {
        let (addresses, start, end) = read_request(body)?;
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(addresses.clone());
        let mut out = String::from(concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">"#,
            r#"<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" "#,
            r#"xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>"#,
            r#"<s:Body><GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" "#,
            r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">"#,
            "<FreeBusyResponseArray>",
        ));
        for address in &addresses {
            out.push_str("<FreeBusyResponse>");
            match self.mailboxes.get(&address.to_ascii_lowercase()) {
                Some(Held::Events(events)) => {
                    out.push_str(concat!(
                        r#"<ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage>"#,
                        r#"<FreeBusyView><FreeBusyViewType xmlns="http://schemas.microsoft.com/exchange/services/2006/types">FreeBusy</FreeBusyViewType>"#,
                        r#"<CalendarEventArray xmlns="http://schemas.microsoft.com/exchange/services/2006/types">"#,
                    ));
                    for (s, e, kind) in events.iter().filter(|(s, e, _)| *s < end && *e > start) {
                        out.push_str(&format!(
                            "<CalendarEvent><StartTime>{}</StartTime><EndTime>{}</EndTime><BusyType>{}</BusyType></CalendarEvent>",
                            utc_wall(*s),
                            utc_wall(*e),
                            quick_xml::escape::escape(kind)
                        ));
                    }
                    out.push_str("</CalendarEventArray></FreeBusyView>");
                }
                other => {
                    let code = match other {
                        Some(Held::Error(code)) => code.as_str(),
                        _ => "ErrorMailRecipientNotFound",
                    };
                    out.push_str(&format!(
                        concat!(
                            r#"<ResponseMessage ResponseClass="Error"><MessageText>The mailbox {} could not be read.</MessageText>"#,
                            "<ResponseCode>{}</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage>",
                            r#"<FreeBusyView><FreeBusyViewType xmlns="http://schemas.microsoft.com/exchange/services/2006/types">None</FreeBusyViewType></FreeBusyView>"#,
                        ),
                        quick_xml::escape::escape(address),
                        quick_xml::escape::escape(code)
                    ));
                }
            }
            out.push_str("</FreeBusyResponse>");
        }
        out.push_str(
            "</FreeBusyResponseArray></GetUserAvailabilityResponse></s:Body></s:Envelope>",
        );
        Some(out)
    }
}

impl Respond for AvailabilityDouble {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match self.answer(&request.body) {
            Some(body) => ResponseTemplate::new(200)
                .insert_header("content-type", "text/xml; charset=utf-8")
                .set_body_string(body),
            None => ResponseTemplate::new(500).set_body_string("not a GetUserAvailability request"),
        }
    }
}

/// The request's `t:Address`es and `t:TimeWindow`.
fn read_request(body: &[u8]) -> Option<(Vec<String>, i64, i64)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = NsReader::from_str(text);
    let mut addresses = Vec::new();
    let (mut start, mut end) = (None, None);
    let mut current: Option<String> = None;
    let mut buf = String::new();
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let in_types =
            matches!(ns, quick_xml::name::ResolveResult::Bound(n) if n.as_ref() == TYPES);
        match event {
            Event::Start(e) if in_types => {
                let local = e.local_name().as_ref().to_owned();
                if matches!(local.as_str(), "Address" | "StartTime" | "EndTime") {
                    current = Some(local);
                    buf.clear();
                }
            }
            Event::Text(t) if current.is_some() => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if current.is_some() => {
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)?.to_owned(),
                };
                buf.push_str(&c);
            }
            Event::End(_) => match current.take().as_deref() {
                Some("Address") => addresses.push(buf.trim().to_owned()),
                Some("StartTime") => start = instant(&buf),
                Some("EndTime") => end = instant(&buf),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Some((addresses, start?, end?))
}
