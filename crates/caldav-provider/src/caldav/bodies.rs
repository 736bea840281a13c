//! Request bodies (RFC 4918 PROPFIND, RFC 4791 REPORTs).

use availability::Interval;

/// What a first PROPFIND on an unknown URL asks: who the user is, where
/// the calendars live, and whether the URL is itself a calendar.
pub(crate) const PROBE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop>
    <D:current-user-principal/>
    <C:calendar-home-set/>
    <D:resourcetype/>
    <C:supported-calendar-component-set/>
    <CS:getctag/>
    <D:sync-token/>
    <C:calendar-timezone/>
    <C:schedule-calendar-transp/>
    <D:current-user-privilege-set/>
  </D:prop>
</D:propfind>"#;

/// RFC 4791 §6.2.1 calendar-home-set of a principal.
pub(crate) const HOME_SET: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-home-set/></D:prop>
</D:propfind>"#;

/// The properties that decide whether a collection counts and whether it
/// changed (RFC 4791 §5.2, RFC 6638 §9.1, CalendarServer ctag, RFC 6578).
pub(crate) const CALENDAR_PROPS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
  <D:prop>
    <D:resourcetype/>
    <C:supported-calendar-component-set/>
    <CS:getctag/>
    <D:sync-token/>
    <C:calendar-timezone/>
    <C:schedule-calendar-transp/>
    <D:current-user-privilege-set/>
  </D:prop>
</D:propfind>"#;

fn utc(second: i64) -> String {
    jiff::Timestamp::from_second(second)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// RFC 4791 §7.8 calendar-query for VEVENTs overlapping `window` (or all,
/// without a window), asking through §9.6 partial retrieval for only the
/// properties busy time needs: no SUMMARY, DESCRIPTION, LOCATION or
/// ATTENDEE leaves a server that honours it.
pub(crate) fn calendar_query(window: Option<Interval>) -> String {
    let range = window.map_or_else(String::new, |w| {
        format!(
            r#"<C:time-range start="{}" end="{}"/>"#,
            utc(w.start()),
            utc(w.end())
        )
    });
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <D:getetag/>
    <C:calendar-data>
      <C:comp name="VCALENDAR">
        <C:prop name="VERSION"/>
        <C:comp name="VEVENT">
          <C:prop name="UID"/>
          <C:prop name="DTSTART"/>
          <C:prop name="DTEND"/>
          <C:prop name="DURATION"/>
          <C:prop name="RRULE"/>
          <C:prop name="RDATE"/>
          <C:prop name="EXDATE"/>
          <C:prop name="RECURRENCE-ID"/>
          <C:prop name="SEQUENCE"/>
          <C:prop name="DTSTAMP"/>
          <C:prop name="LAST-MODIFIED"/>
          <C:prop name="STATUS"/>
          <C:prop name="TRANSP"/>
          <C:prop name="X-MICROSOFT-CDO-BUSYSTATUS"/>
        </C:comp>
        <C:comp name="VTIMEZONE"><C:allprop/><C:allcomp/></C:comp>
      </C:comp>
    </C:calendar-data>
  </D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">{range}</C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#
    )
}

/// RFC 4791 §7.9 calendar-multiget of whole resources by href.
pub(crate) fn calendar_multiget(hrefs: &[String]) -> String {
    let hrefs: String = hrefs
        .iter()
        .map(|h| format!("<D:href>{}</D:href>", quick_xml::escape::escape(h.as_str())))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  {hrefs}
</C:calendar-multiget>"#
    )
}

/// RFC 4791 §7.10 free-busy-query over `window` (UTC, as both measured
/// servers require).
pub(crate) fn free_busy_query(window: Interval) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="{}" end="{}"/>
</C:free-busy-query>"#,
        utc(window.start()),
        utc(window.end())
    )
}
