//! WebDAV `multistatus` (RFC 4918 §14.16) with the CalDAV (RFC 4791) and
//! CalendarServer properties busy time needs, matched by namespace URI and
//! local name, never by prefix (servers use `D:`, `ns0:` or a default
//! namespace), with quick-xml's `NsReader`.
//!
//! quick-xml does not read DTDs, so external entities and entity-expansion
//! bombs are never expanded: an unknown `&name;` is an error.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// `DAV:`
pub(crate) const DAV: &str = "DAV:";
/// `urn:ietf:params:xml:ns:caldav`
pub(crate) const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// `http://calendarserver.org/ns/`
pub(crate) const CS: &str = "http://calendarserver.org/ns/";

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 2_000_000;

/// Which namespace an element is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    Dav,
    CalDav,
    CalendarServer,
    Other,
}

/// A parsed element: namespace, local name, text, the `name` attribute
/// (for `C:comp`), children.
#[derive(Clone, Debug)]
pub(crate) struct Element {
    pub(crate) ns: Ns,
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) name_attr: Option<String>,
    pub(crate) children: Vec<Self>,
}

impl Element {
    pub(crate) fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub(crate) fn child(&self, ns: Ns, name: &str) -> Option<&Self> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        ns: Ns,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Self> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }
}

/// XML that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub(crate) struct XmlError(pub(crate) String);

fn ns_of(resolved: &ResolveResult<'_>) -> Ns {
    match resolved {
        ResolveResult::Bound(ns) if ns.as_ref() == DAV => Ns::Dav,
        ResolveResult::Bound(ns) if ns.as_ref() == CALDAV => Ns::CalDav,
        ResolveResult::Bound(ns) if ns.as_ref() == CS => Ns::CalendarServer,
        _ => Ns::Other,
    }
}

fn element(ns: Ns, e: &quick_xml::events::BytesStart<'_>) -> Element {
    let name_attr = e.try_get_attribute("name").ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    });
    Element {
        ns,
        name: e.local_name().as_ref().to_owned(),
        text: String::new(),
        name_attr,
        children: Vec::new(),
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    let err = |e: quick_xml::Error| XmlError(e.to_string());
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(err)?;
        let ns = ns_of(&resolved);
        match event {
            Event::Start(e) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError("document too large or too deep".to_owned()));
                }
                stack.push(element(ns, &e));
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError("document too large".to_owned()));
                }
                let done = element(ns, &e);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError("unexpected end tag".to_owned()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => {
                        root = Some(done);
                    }
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(err)? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| XmlError(format!("unknown entity &{};", &*r)))?
                        .to_owned(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("unclosed element".to_owned()));
    }
    root.ok_or_else(|| XmlError("no root element".to_owned()))
}

/// The properties busy time needs, from a response's 2xx `propstat`s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Props {
    /// `resourcetype` has `C:calendar`.
    pub(crate) is_calendar: bool,
    /// `resourcetype` has `D:collection`.
    pub(crate) is_collection: bool,
    /// `D:current-user-principal/D:href`.
    pub(crate) current_user_principal: Option<String>,
    /// `C:calendar-home-set/D:href`.
    pub(crate) calendar_home_set: Vec<String>,
    /// `C:supported-calendar-component-set`, if reported.
    pub(crate) components: Option<Vec<String>>,
    /// `CS:getctag` (opaque).
    pub(crate) ctag: Option<String>,
    /// `D:sync-token` (opaque).
    pub(crate) sync_token: Option<String>,
    /// `C:schedule-calendar-transp` is `transparent` (RFC 6638 §9.1).
    pub(crate) transparent: bool,
    /// `C:calendar-timezone`: a VCALENDAR with one VTIMEZONE.
    pub(crate) calendar_timezone: Option<String>,
    /// Privilege names from `D:current-user-privilege-set` (`read`,
    /// `read-free-busy`, `all`, ...), if reported.
    pub(crate) privileges: Option<Vec<String>>,
    /// `C:calendar-data`.
    pub(crate) calendar_data: Option<String>,
    /// `D:getetag`.
    pub(crate) etag: Option<String>,
}

/// One `D:response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) href: String,
    /// The response-level status (a missing resource), if any.
    pub(crate) status: Option<u16>,
    pub(crate) props: Props,
}

/// A `D:multistatus`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Multistatus {
    pub(crate) responses: Vec<Response>,
    /// The collection's new `D:sync-token` (sync-collection reports).
    pub(crate) sync_token: Option<String>,
}

/// The code of an HTTP status line (`HTTP/1.1 404 Not Found` gives 404).
pub(crate) fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

fn text(e: &Element) -> String {
    e.text.trim().to_owned()
}

fn read_props(prop: &Element, out: &mut Props) {
    for p in &prop.children {
        match (p.ns, p.name.as_str()) {
            (Ns::Dav, "resourcetype") => {
                out.is_calendar |= p.child(Ns::CalDav, "calendar").is_some();
                out.is_collection |= p.child(Ns::Dav, "collection").is_some();
            }
            (Ns::Dav, "current-user-principal") => {
                out.current_user_principal = p.child(Ns::Dav, "href").map(text);
            }
            (Ns::CalDav, "calendar-home-set") => {
                out.calendar_home_set = p.children_named(Ns::Dav, "href").map(text).collect();
            }
            (Ns::CalDav, "supported-calendar-component-set") => {
                out.components = Some(
                    p.children_named(Ns::CalDav, "comp")
                        .filter_map(|c| c.name_attr.clone())
                        .collect(),
                );
            }
            (Ns::CalendarServer, "getctag") => out.ctag = Some(text(p)),
            (Ns::Dav, "sync-token") => out.sync_token = Some(text(p)),
            (Ns::CalDav, "schedule-calendar-transp") => {
                out.transparent = p.child(Ns::CalDav, "transparent").is_some();
            }
            (Ns::CalDav, "calendar-timezone") => out.calendar_timezone = Some(p.text.clone()),
            (Ns::Dav, "current-user-privilege-set") => {
                out.privileges = Some(
                    p.children_named(Ns::Dav, "privilege")
                        .flat_map(|priv_| priv_.children.iter().map(|c| c.name.clone()))
                        .collect(),
                );
            }
            (Ns::CalDav, "calendar-data") => out.calendar_data = Some(p.text.clone()),
            (Ns::Dav, "getetag") => out.etag = Some(text(p)),
            _ => {}
        }
    }
}

/// Reads a `D:multistatus` body.
pub(crate) fn multistatus(body: &str) -> Result<Multistatus, XmlError> {
    let root = parse(body)?;
    if !root.is(Ns::Dav, "multistatus") {
        return Err(XmlError(format!(
            "expected DAV: multistatus, found {}",
            root.name
        )));
    }
    let mut out = Multistatus {
        responses: Vec::new(),
        sync_token: root.child(Ns::Dav, "sync-token").map(text),
    };
    for r in root.children_named(Ns::Dav, "response") {
        let Some(href) = r.child(Ns::Dav, "href").map(text) else {
            continue;
        };
        let mut props = Props::default();
        for ps in r.children_named(Ns::Dav, "propstat") {
            let ok = ps
                .child(Ns::Dav, "status")
                .and_then(|s| status_code(&s.text))
                .is_some_and(|c| (200..300).contains(&c));
            if let (true, Some(prop)) = (ok, ps.child(Ns::Dav, "prop")) {
                read_props(prop, &mut props);
            }
        }
        out.responses.push(Response {
            href,
            status: r
                .child(Ns::Dav, "status")
                .and_then(|s| status_code(&s.text)),
            props,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RADICALE_HOME: &str =
        include_str!("../../tests/fixtures/recorded/radicale-propfind-home-depth1.body");
    const XANDIKOS_HOME: &str =
        include_str!("../../tests/fixtures/recorded/xandikos-propfind-home-depth1.body");

    fn calendar<'a>(ms: &'a Multistatus, href: &str) -> &'a Props {
        &ms.responses.iter().find(|r| r.href == href).unwrap().props
    }

    #[test]
    fn radicale_and_xandikos_homes_read_alike_whatever_the_prefixes() {
        let r = multistatus(RADICALE_HOME).unwrap();
        let x = multistatus(XANDIKOS_HOME).unwrap();
        let rc = calendar(&r, "/alice/fb/");
        let xc = calendar(&x, "/user/calendars/fb/");
        for c in [rc, xc] {
            assert!(c.is_calendar && c.is_collection);
            assert_eq!(c.components.as_deref(), Some(&["VEVENT".to_owned()][..]));
            assert!(c.ctag.is_some() && c.sync_token.is_some());
            assert!(!c.transparent);
        }
        assert!(rc.ctag.as_deref().unwrap().starts_with('"'));
        let home = calendar(&r, "/alice/");
        assert!(!home.is_calendar && home.is_collection);
        // Properties reported under a 404 propstat are not taken.
        assert_eq!(home.ctag, None);
    }

    #[test]
    fn entities_char_refs_and_cdata_are_read_and_unknown_entities_refused() {
        let body = r#"<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:response><d:href>/a/1.ics</d:href><d:propstat><d:prop>
  <c:calendar-data>BEGIN:VCALENDAR&#13;
X:a&amp;b<![CDATA[<raw>]]></c:calendar-data>
  <x:calendar-data xmlns:x="urn:other">ignored</x:calendar-data>
 </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"#;
        let ms = multistatus(body).unwrap();
        assert_eq!(
            ms.responses[0].props.calendar_data.as_deref(),
            Some("BEGIN:VCALENDAR\r\nX:a&b<raw>")
        );
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>&x;</d:href></d:response></d:multistatus>"#;
        assert!(multistatus(xxe).is_err());
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>&b;</d:href></d:response></d:multistatus>"#;
        assert!(multistatus(laughs).is_err());
        assert!(multistatus("<html><body>oops</body></html>").is_err());
        assert!(multistatus("<d:multistatus xmlns:d=\"DAV:\"><d:response>").is_err());
        assert!(multistatus("").is_err());
    }
}
