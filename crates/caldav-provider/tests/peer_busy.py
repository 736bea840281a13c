#!/usr/bin/env python3
"""The Python peer: busy time of an .ics file by icalendar + recurring-ical-events.

Usage: peer_busy.py ICS FROM TO [--tz ZONE] [--repeat N]
       peer_busy.py --batch LIST FROM TO
  --batch: LIST holds one .ics path a line; prints one JSON object mapping
  each path to its result, or to {"error": "..."} where the peer raises.
  Each file is read in a fresh forked process: icalendar keeps the
  VTIMEZONEs it has seen in a process-wide registry, so one file's zones
  would otherwise change the next file's reading.
  FROM/TO: RFC 3339 UTC (2025-03-03T00:00:00Z). --tz: the zone of floating
  times and all-day dates (default UTC). Prints the same JSON as the
  `freebusy` example: {"busy":[{"start","end","kind"}]}, coalesced per kind,
  sorted by start then kind, clipped, UTC. The busy rules are the crate's:
  cancelled -> none; X-MICROSOFT-CDO-BUSYSTATUS overrides; transparent ->
  none; tentative -> tentative; else busy. With --repeat N, parses and
  expands N times and prints the mean seconds per run on stderr as
  `seconds_per_run=X`.
"""
import datetime as dt
import json
import sys
import time
import zoneinfo

import icalendar
import recurring_ical_events

UTC = dt.timezone.utc
KINDS = ["busy", "tentative", "out_of_office", "working_elsewhere", "unknown"]
CDO = {"BUSY": "busy", "TENTATIVE": "tentative", "OOF": "out_of_office",
       "WORKINGELSEWHERE": "working_elsewhere", "FREE": None}


def to_utc(v, tz):
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=tz) if v.tzinfo is None else v
    return dt.datetime(v.year, v.month, v.day, tzinfo=tz)


def kind(ev):
    if str(ev.get("STATUS", "")).upper() == "CANCELLED":
        return None
    cdo = str(ev.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    if cdo in CDO:
        return CDO[cdo]
    if str(ev.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(ev.get("STATUS", "")).upper() == "TENTATIVE":
        return "tentative"
    return "busy"


def busy(data, start, end, tz):
    by_kind = {}
    events = []
    # recurring-ical-events compares floating and all-day events with the
    # bounds' wall clock, ignoring --tz; ask for two days more on each side
    # and clip exactly below.
    margin = dt.timedelta(days=2)
    for cal in icalendar.Calendar.from_ical(data, multiple=True):
        events.extend(recurring_ical_events.of(cal).between(start - margin, end + margin))
    for ev in events:
        k = kind(ev)
        if k is None or "DTSTART" not in ev:
            continue
        s = to_utc(ev["DTSTART"].dt, tz).timestamp()
        e = to_utc(ev["DTEND"].dt, tz).timestamp() if "DTEND" in ev else s
        s, e = max(s, start.timestamp()), min(e, end.timestamp())
        if e > s:
            by_kind.setdefault(k, []).append((int(s), int(e)))
    out = []
    for k, spans in by_kind.items():
        spans.sort()
        cs, ce = spans[0]
        for s, e in spans[1:]:
            if s <= ce:
                ce = max(ce, e)
            else:
                out.append((cs, KINDS.index(k), ce))
                cs, ce = s, e
        out.append((cs, KINDS.index(k), ce))
    out.sort()
    iso = lambda t: dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"busy": [{"start": iso(s), "end": iso(e), "kind": KINDS[k]} for s, k, e in out]}


def one(job):
    path, start, end = job
    try:
        return path, busy(open(path, "rb").read(), start, end, UTC)
    except Exception as e:  # the peer's own failures are data here
        return path, {"error": "%s: %s" % (type(e).__name__, str(e)[:200])}


def batch(list_path, start, end):
    import multiprocessing
    import warnings
    warnings.simplefilter("ignore")
    paths = [l.strip() for l in open(list_path) if l.strip()]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, maxtasksperchild=1) as pool:
        results = dict(pool.map(one, [(p, start, end) for p in paths], chunksize=1))
    print(json.dumps(results, separators=(",", ":"), sort_keys=True))


def main(argv):
    parse = lambda s: dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if argv[0] == "--batch":
        return batch(argv[1], parse(argv[2]), parse(argv[3]))
    path, start, end = argv[0], argv[1], argv[2]
    tz, repeat = UTC, 0
    rest = argv[3:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--tz":
            tz = zoneinfo.ZoneInfo(value)
        elif flag == "--repeat":
            repeat = int(value)
    parse = lambda s: dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    start, end = parse(start), parse(end)
    data = open(path, "rb").read()
    result = busy(data, start, end, tz)
    if repeat:
        t0 = time.perf_counter()
        for _ in range(repeat):
            busy(data, start, end, tz)
        print("seconds_per_run=%.6f" % ((time.perf_counter() - t0) / repeat), file=sys.stderr)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1:])
