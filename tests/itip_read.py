"""Reads an email invitation as a calendar client would, with the peer
`icalendar` package (and the standard `email` parser): prints JSON with the
MIME structure and what the .ics says.

Usage: itip_read.py FILE.eml
"""

import json
import sys
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

import icalendar


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        message = BytesParser(policy=policy.default).parse(f)
    parts = [
        {"type": p.get_content_type(), "method": p.get_param("method"), "charset": p.get_param("charset")}
        for p in message.walk()
    ]
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    cal = icalendar.Calendar.from_ical(calendar_part.get_content())
    events = list(cal.walk("VEVENT"))
    event = events[0]
    london = ZoneInfo("Europe/London")
    start = event.decoded("DTSTART")
    end = event.decoded("DTEND")
    out = {
        "subject": message["subject"],
        "from": message["from"],
        "to": message["to"],
        "top": message.get_content_type(),
        "parts": parts,
        "method": str(cal.get("METHOD")),
        "version": str(cal.get("VERSION")),
        "events": len(events),
        "uid": str(event.get("UID")),
        "sequence": int(event.get("SEQUENCE")),
        "status": str(event.get("STATUS")),
        "summary": str(event.get("SUMMARY")),
        "description": str(event.get("DESCRIPTION", "")),
        "organizer": str(event.get("ORGANIZER")),
        "attendees": sorted(str(a) for a in event.get("ATTENDEE", [])),
        "rsvp": sorted(a.params.get("RSVP", "") for a in event.get("ATTENDEE", [])),
        "dtstamp_utc": event.decoded("DTSTAMP").utcoffset().total_seconds() == 0,
        "start_utc": start.isoformat(),
        "end_utc": end.isoformat(),
        "start_london": start.astimezone(london).isoformat(),
        "end_london": end.astimezone(london).isoformat(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
