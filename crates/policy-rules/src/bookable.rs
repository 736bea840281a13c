//! Bookable windows and the slot grid, DST-correct in the program's zone.

use std::time::Duration;

use availability::{Interval, IntervalSet, SlotQuery};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::AmbiguousOffset;

use crate::values::TimeOfDay;
use crate::{ProgramPolicy, Zone};

/// The widest shift of local time any zone has had (Antarctica/Troll: 2 h),
/// with a margin: how far a grid scan must reach beyond a window.
const MAX_SHIFT_SECS: i64 = 3 * 3600;

impl ProgramPolicy {
    /// The instants in `window` at which a meeting may take place: on an
    /// allowed weekday in the program's zone, between `day_start` and
    /// `day_end` local time, not before `now + min_notice` and not after
    /// `now + horizon`. In UTC, as an [`IntervalSet`].
    ///
    /// Exactly the instants whose local date (in the program's zone) is an
    /// allowed weekday and whose local wall-clock time lies in
    /// `[day_start, day_end)`. Each day is computed from the zone's own
    /// rules (the UTC offset in force at each instant, never a fixed offset
    /// added to midnight), so a day containing a DST transition has the real
    /// length its wall clock implies. The one rule for wall-clock times that
    /// do not exist or exist twice follows from that definition: a
    /// `day_start` or `day_end` inside a spring-forward gap takes effect at
    /// the transition (the first instant whose local time is past it), and
    /// hours that repeat in a fall-back fold are bookable both times they
    /// occur. A `day_end` of `24:00` is the end of the local day.
    ///
    /// # Example: a spring-forward Sunday in New York
    ///
    /// ```
    /// use availability::Interval;
    /// use policy_rules::ProgramPolicy;
    ///
    /// let policy = ProgramPolicy::from_toml(r#"
    ///     time_zone = "America/New_York"
    ///     days = ["sun"]
    ///     day_start = "00:00"
    ///     day_end = "12:00"
    /// "#)?;
    /// let at = |s: &str| -> Result<i64, jiff::Error> { Ok(s.parse::<jiff::Timestamp>()?.as_second()) };
    /// let window = Interval::new(at("2026-03-07T00:00:00Z")?, at("2026-03-10T00:00:00Z")?)?;
    /// let bookable = policy.bookable(window, "2026-03-01T00:00:00Z".parse()?);
    /// // 00:00 EST to 12:00 EDT: eleven hours, not twelve.
    /// assert_eq!(bookable.as_slice(), &[Interval::new(
    ///     at("2026-03-08T05:00:00Z")?, at("2026-03-08T16:00:00Z")?)?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bookable(&self, window: Interval, now: Timestamp) -> IntervalSet {
        self.bookable_in(window, now, self.time_zone())
    }

    /// As [`bookable`](Self::bookable), with the days and hours read in
    /// `zone` (a participant's own) instead of the program's: the instants
    /// in `window` whose local date in `zone` is an allowed weekday and
    /// whose local time there lies in `[day_start, day_end)`, within the
    /// notice and horizon. With `hours_in = "participant"` the assistant
    /// proposes only slots inside every invitee's `bookable_in` their zone.
    ///
    /// # Example: a London program and a New York participant
    ///
    /// ```
    /// use availability::Interval;
    /// use policy_rules::{ProgramPolicy, Zone};
    ///
    /// let policy = ProgramPolicy::from_toml(r#"time_zone = "Europe/London""#)?;
    /// let at = |s: &str| -> Result<i64, jiff::Error> { Ok(s.parse::<jiff::Timestamp>()?.as_second()) };
    /// // Monday 9 March 2026: New York is on EDT (-4), London on GMT.
    /// let monday = Interval::new(at("2026-03-09T00:00:00Z")?, at("2026-03-10T00:00:00Z")?)?;
    /// let new_york = Zone::new("America/New_York")?;
    /// let hers = policy.bookable_in(monday, "2026-03-01T00:00:00Z".parse()?, &new_york);
    /// // 08:00-18:00 in New York is 12:00-22:00 UTC.
    /// assert_eq!(hers.as_slice(), &[Interval::new(at("2026-03-09T12:00:00Z")?, at("2026-03-09T22:00:00Z")?)?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bookable_in(&self, window: Interval, now: Timestamp, zone: &Zone) -> IntervalSet {
        let now = now.as_second();
        let lo = window
            .start()
            .max(now.saturating_add(self.min_notice().as_secs() as i64));
        let hi = window
            .end()
            .min(now.saturating_add(self.horizon().as_secs() as i64));
        let Ok(limits) = Interval::new(lo, hi) else {
            return IntervalSet::new();
        };
        let tz = zone.tz();
        // The local dates that can reach into the limits, with a day of
        // margin on each side for zones far from UTC.
        let (Some(first), Some(last)) = (local_date(tz, lo), local_date(tz, hi)) else {
            return IntervalSet::new();
        };
        let mut windows = Vec::new();
        let mut date = first.yesterday().unwrap_or(first);
        let last = last.tomorrow().unwrap_or(last);
        while date <= last {
            if self.days().contains(date.weekday()) {
                local_range(tz, date, self.day_start(), self.day_end(), &mut windows);
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        IntervalSet::from(windows).clip(limits)
    }

    /// The candidate slot starts inside `within`: every instant whose local
    /// time of day in the program's zone is a whole multiple of `slot_step`
    /// after local midnight (DESIGN.md "find-time"). A wall-clock time in a
    /// DST gap names no instant and gives no candidate; one in a fold names
    /// two instants and gives both. Sorted, without duplicates.
    pub fn slot_starts(&self, within: &IntervalSet) -> Vec<i64> {
        let tz = self.time_zone().tz();
        let step = self.slot_step().as_secs().max(1) as i64;
        let mut out = Vec::new();
        for iv in within {
            let (Some(first), Some(last)) = (
                local_date(tz, iv.start() - MAX_SHIFT_SECS),
                local_date(tz, iv.end() + MAX_SHIFT_SECS),
            ) else {
                continue;
            };
            let mut date = first;
            while date <= last {
                // Local seconds after midnight that could fall inside `iv`.
                let (lo, hi) = local_bounds(tz, date, iv);
                let mut k = lo.div_euclid(step).max(0);
                while k * step < 86_400 && k * step <= hi {
                    let secs = k * step;
                    let dt = date
                        .to_datetime(jiff::civil::Time::midnight())
                        .checked_add(jiff::SignedDuration::from_secs(secs));
                    if let Ok(dt) = dt {
                        for t in instants(tz, dt) {
                            if iv.contains(t) {
                                out.push(t);
                            }
                        }
                    }
                    k += 1;
                }
                match date.tomorrow() {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A [`SlotQuery`] for slots of `duration` on this policy's grid inside
    /// `bookable` (usually [`bookable`](Self::bookable)'s result); add
    /// `min_free`, `limit` and `distinct` as needed and pass it to
    /// [`availability::find_slots`] with the same `bookable`.
    ///
    /// # Example: proposals for a poll
    ///
    /// ```
    /// use std::time::Duration;
    /// use availability::{find_slots, Interval, IntervalSet};
    /// use policy_rules::ProgramPolicy;
    ///
    /// let policy = ProgramPolicy::from_toml(r#"time_zone = "Asia/Kolkata""#)?;
    /// let window = Interval::new(1_767_571_200, 1_767_571_200 + 7 * 86_400)?; // Mon 5 Jan 2026, 00:00Z
    /// let bookable = policy.bookable(window, jiff::Timestamp::from_second(1_767_571_200)?);
    /// let query = policy.slot_query(Duration::from_secs(3600), &bookable).distinct(true).limit(3);
    /// let ana = IntervalSet::new();
    /// let slots = find_slots(&bookable, [Some(&ana)], query)?;
    /// // 08:00 in Kolkata (+05:30) is 02:30Z.
    /// assert_eq!(slots[0].interval.to_string(), "2026-01-05T02:30:00Z/2026-01-05T03:30:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn slot_query(&self, duration: Duration, bookable: &IntervalSet) -> SlotQuery {
        SlotQuery::new(duration).starts(self.slot_starts(bookable))
    }
}

/// The local date at `second`, if it is representable.
pub(crate) fn local_date(tz: &jiff::tz::TimeZone, second: i64) -> Option<Date> {
    let second = second.clamp(Interval::MIN_SECOND, Interval::MAX_SECOND);
    Timestamp::from_second(second)
        .ok()
        .map(|t| tz.to_datetime(t).date())
}

/// Pushes the instants of `date` whose local time lies in `[start, end)`:
/// for each stretch of constant UTC offset around the date, the civil range
/// shifted by that offset and cut to the stretch.
pub(crate) fn local_range(
    tz: &jiff::tz::TimeZone,
    date: Date,
    start: TimeOfDay,
    end: TimeOfDay,
    out: &mut Vec<Interval>,
) {
    // The civil range as if it were UTC: seconds of "local time".
    let civil = |time: TimeOfDay| -> Option<i64> {
        let midnight = date.to_datetime(jiff::civil::Time::midnight());
        let ts = jiff::tz::TimeZone::UTC
            .to_ambiguous_timestamp(midnight)
            .compatible()
            .ok()?;
        Some(ts.as_second() + i64::from(time.minutes()) * 60)
    };
    let (Some(lo), Some(hi)) = (civil(start), civil(end)) else {
        return;
    };
    // Offsets are within ±26 hours, so every instant of the range lies in
    // `[lo - 26h, hi + 26h)`; split that span at the zone's transitions.
    let span_lo = (lo - 26 * 3600).max(Interval::MIN_SECOND);
    let span_hi = (hi + 26 * 3600).min(Interval::MAX_SECOND);
    let Ok(from) = Timestamp::from_second(span_lo) else {
        return;
    };
    let mut cuts: Vec<i64> = vec![span_lo];
    cuts.extend(
        tz.following(from)
            .map(|tr| tr.timestamp().as_second())
            .take_while(|&t| t < span_hi),
    );
    cuts.push(span_hi);
    for pair in cuts.windows(2) {
        let Ok(at) = Timestamp::from_second(pair[0]) else {
            continue;
        };
        let offset = i64::from(tz.to_offset(at).seconds());
        let piece_start = (lo - offset).max(pair[0]);
        let piece_end = (hi - offset).min(pair[1]);
        if let Ok(iv) = Interval::new(piece_start, piece_end) {
            out.push(iv);
        }
    }
}

/// Every instant whose local time in `tz` is `dt`: none in a gap, two in a
/// fold.
fn instants(tz: &jiff::tz::TimeZone, dt: DateTime) -> impl Iterator<Item = i64> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    let (a, b) = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => (ambiguous.compatible().ok(), None),
        AmbiguousOffset::Gap { .. } => (None, None),
        AmbiguousOffset::Fold { .. } => (ambiguous.earlier().ok(), ambiguous.later().ok()),
    };
    a.into_iter().chain(b).map(|t| t.as_second())
}

/// Local seconds after `date`'s midnight that could correspond to instants
/// of `iv`, widened by the largest possible DST shift.
fn local_bounds(tz: &jiff::tz::TimeZone, date: Date, iv: &Interval) -> (i64, i64) {
    let local_secs = |second: i64| -> Option<i64> {
        let t = Timestamp::from_second(second).ok()?;
        let dt = tz.to_datetime(t);
        let days = (dt.date() - date).get_days() as i64;
        let tod = dt.time();
        Some(
            days * 86_400
                + i64::from(tod.hour()) * 3600
                + i64::from(tod.minute()) * 60
                + i64::from(tod.second()),
        )
    };
    let lo = local_secs(iv.start()).map_or(0, |s| s - MAX_SHIFT_SECS);
    let hi = local_secs(iv.end()).map_or(86_400, |s| s + MAX_SHIFT_SECS);
    (lo, hi)
}
