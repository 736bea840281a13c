//! [`Coverage`]: how many of n participants are free at each instant.

use crate::{Interval, IntervalSet, radix};

/// How many participants are free, unavailable, or unknown (no connected
/// calendar) at some instant. `free + unavailable + unknown` is the number
/// of participants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Participants with a calendar and nothing blocking.
    pub free: u32,
    /// Participants with a calendar that shows blocking time.
    pub unavailable: u32,
    /// Participants without a calendar: never counted as free.
    pub unknown: u32,
}

/// One piece of a [`Coverage`] profile: constant counts over `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoverageSegment {
    /// Where the counts hold.
    pub interval: Interval,
    /// The counts.
    pub counts: Counts,
}

/// The free/unavailable/unknown counts of n participants over a window, as
/// a step function: maximal segments of constant counts that tile the window.
///
/// Built by one sweep over the sorted endpoints of every participant's
/// unavailable intervals: `O(m log m)` for `m` intervals in total, with a
/// radix sort on integer keys, whatever the number of participants (never
/// a fold over participants, which is quadratic in n when the union does
/// not saturate).
///
/// # Example: three participants, one without a calendar
///
/// ```
/// use availability::{Counts, Coverage, Interval, IntervalSet};
///
/// let ana = IntervalSet::from(Interval::new(10, 20)?);
/// let ben = IntervalSet::from(Interval::new(15, 30)?);
/// let window = Interval::new(0, 40)?;
/// let cov = Coverage::new(window, [Some(&ana), Some(&ben), None]);
/// assert_eq!(cov.counts_at(17), Some(Counts { free: 0, unavailable: 2, unknown: 1 }));
/// assert_eq!(cov.counts_at(35), Some(Counts { free: 2, unavailable: 0, unknown: 1 }));
/// let both_free = cov.at_least_free(2);
/// assert_eq!(both_free.as_slice(), &[Interval::new(0, 10)?, Interval::new(30, 40)?]);
/// assert_eq!(cov.segments().count(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    window: Interval,
    known: u32,
    unknown: u32,
    /// Segment `i` covers `[start + offsets[i], start + offsets[i + 1])`, the
    /// last one up to the window's end; `offsets[0]` is 0.
    offsets: Vec<u64>,
    /// Known participants unavailable in segment `i`.
    unavailable: Vec<u32>,
}

impl Coverage {
    /// Computes the profile of `participants` over `window`: `Some(set)` is
    /// a participant's unavailable time, `None` a participant without a
    /// calendar (counted as unknown throughout).
    pub fn new<'a, I>(window: Interval, participants: I) -> Self
    where
        I: IntoIterator<Item = Option<&'a IntervalSet>>,
    {
        let participants: Vec<Option<&IntervalSet>> = participants.into_iter().collect();
        let known = participants.iter().flatten().count() as u32;
        let unknown = participants.len() as u32 - known;
        let (offsets, unavailable) = profile(window, &participants);
        Self {
            window,
            known,
            unknown,
            offsets,
            unavailable,
        }
    }

    /// The window the profile covers.
    pub fn window(&self) -> Interval {
        self.window
    }

    /// Participants with a calendar.
    pub fn known(&self) -> u32 {
        self.known
    }

    /// Participants without a calendar.
    pub fn unknown(&self) -> u32 {
        self.unknown
    }

    /// All participants.
    pub fn participants(&self) -> u32 {
        self.known + self.unknown
    }

    /// The number of segments (at least one).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Always `false`: a profile has at least one segment.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn counts(&self, unavailable: u32) -> Counts {
        Counts {
            free: self.known - unavailable,
            unavailable,
            unknown: self.unknown,
        }
    }

    /// The segments in order; they tile the window, and consecutive
    /// segments have different counts.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = CoverageSegment> + '_ {
        let at = |offset: u64| self.window.start + offset as i64;
        (0..self.offsets.len()).map(move |i| {
            let end = self.offsets.get(i + 1).map_or(self.window.end, |&o| at(o));
            CoverageSegment {
                interval: Interval {
                    start: at(self.offsets[i]),
                    end,
                },
                counts: self.counts(self.unavailable[i]),
            }
        })
    }

    /// The counts at the instant `second`, or `None` outside the window.
    /// `O(log segments)`.
    pub fn counts_at(&self, second: i64) -> Option<Counts> {
        if !self.window.contains(second) {
            return None;
        }
        let offset = (second - self.window.start) as u64;
        let i = self.offsets.partition_point(|&o| o <= offset) - 1;
        Some(self.counts(self.unavailable[i]))
    }

    /// The instants at which at least `k` participants are free.
    pub fn at_least_free(&self, k: u32) -> IntervalSet {
        let ivs: Vec<Interval> = self
            .segments()
            .filter(|seg| seg.counts.free >= k)
            .map(|seg| seg.interval)
            .collect();
        // Already sorted: this is the linear path, which also merges
        // neighbouring qualifying segments.
        IntervalSet::from(ivs)
    }

    /// For each `c` in `0..=known`, the seconds of the window at which exactly
    /// `c` participants are free. "At least m free" is a suffix sum.
    pub fn seconds_by_free_count(&self) -> Vec<i64> {
        let mut hist = vec![0i64; self.known as usize + 1];
        for seg in self.segments() {
            hist[seg.counts.free as usize] += seg.interval.len_secs();
        }
        hist
    }
}

/// The intervals of `set` that overlap `window` (not yet clipped).
#[inline(always)]
fn overlapping(set: &IntervalSet, window: Interval) -> &[Interval] {
    let ivs = set.as_slice();
    match (ivs.first(), ivs.last()) {
        // The usual case: the whole set lies in the window, no search.
        (Some(first), Some(last)) if window.start <= first.start && last.end <= window.end => ivs,
        _ => {
            let lo = ivs.partition_point(|iv| iv.end <= window.start);
            let hi = ivs.partition_point(|iv| iv.start < window.end).max(lo);
            &ivs[lo..hi]
        }
    }
}

/// Calls `f(start, end)` for every participant's interval inside `window`,
/// clipped, as offsets from the window's start.
#[inline(always)]
fn for_each_clipped(
    participants: &[Option<&IntervalSet>],
    window: Interval,
    mut f: impl FnMut(i64, i64),
) {
    for set in participants.iter().flatten() {
        for iv in overlapping(set, window) {
            f(
                iv.start.max(window.start) - window.start,
                iv.end.min(window.end) - window.start,
            );
        }
    }
}

/// The segment offsets (from the window's start) and unavailable counts.
fn profile(window: Interval, participants: &[Option<&IntervalSet>]) -> (Vec<u64>, Vec<u32>) {
    let len = window.len_secs();
    // Guess the grain from the first endpoints, build the keys already
    // divided by it (a constant divisor), and verify every endpoint on the
    // way; a wrong guess (rare: the first endpoints were coarser than the
    // rest) rebuilds the keys at the grain found.
    let mut guess = radix::GrainCheck::new();
    guess.push(len);
    let mut seen = 0;
    'sample: for set in participants.iter().flatten() {
        for iv in overlapping(set, window).iter().take(8) {
            guess.push(iv.start.max(window.start) - window.start);
            guess.push(iv.end.min(window.end) - window.start);
            seen += 1;
        }
        if seen >= 8 {
            break 'sample;
        }
    }
    radix::with_scratch(|keys, buf| {
        let mut g = guess.grain();
        while !build_keys(participants, window, g, keys) {
            keys.clear();
            g = match g {
                3600 => 900,
                900 => 300,
                300 => 60,
                _ => 1,
            };
        }
        let units = radix::div_grain(len, g) as u64;
        if units < keys.len() as u64 {
            return diff_profile(keys, g, units);
        }
        radix::sort_by_bits(keys, buf, 0, radix::bit_width((units << 1) | 1));
        sweep(keys, g, units)
    })
}

/// Pushes every clipped endpoint as `(offset / g) << 1`, plus 1 for a
/// start; returns whether every offset was a multiple of `g`.
fn build_keys(
    participants: &[Option<&IntervalSet>],
    window: Interval,
    g: i64,
    keys: &mut Vec<u64>,
) -> bool {
    fn build<const G: u64>(
        participants: &[Option<&IntervalSet>],
        window: Interval,
        keys: &mut Vec<u64>,
    ) -> bool {
        let mut exact = true;
        for_each_clipped(participants, window, |s, e| {
            let (s, e) = (s as u64, e as u64);
            exact &= s.is_multiple_of(G) & e.is_multiple_of(G);
            keys.push(((s / G) << 1) | 1);
            keys.push((e / G) << 1);
        });
        exact
    }
    match g {
        3600 => build::<3600>(participants, window, keys),
        900 => build::<900>(participants, window, keys),
        300 => build::<300>(participants, window, keys),
        60 => build::<60>(participants, window, keys),
        _ => build::<1>(participants, window, keys),
    }
}

/// Dense endpoints on a coarse grid: a difference array over the grid, then
/// one prefix scan. No sort at all.
fn diff_profile(keys: &[u64], g: i64, units: u64) -> (Vec<u64>, Vec<u32>) {
    let mut diff = vec![0i32; units as usize + 1];
    for &k in keys {
        let t = (k >> 1) as usize;
        // +1 for a start, -1 for an end.
        diff[t] += ((k & 1) as i32) * 2 - 1;
    }
    let mut offsets = vec![0u64];
    let mut counts = vec![diff[0] as u32];
    let mut count = diff[0];
    let mut last = diff[0];
    for (i, &d) in diff.iter().enumerate().take(units as usize).skip(1) {
        count += d;
        if count != last {
            offsets.push(i as u64 * g as u64);
            counts.push(count as u32);
            last = count;
        }
    }
    (offsets, counts)
}

/// Sweeps sorted endpoint keys (offsets in grain units, ends at most
/// `units`); returns segment offsets in seconds and their unavailable
/// counts.
fn sweep(keys: &[u64], g: i64, units: u64) -> (Vec<u64>, Vec<u32>) {
    // First pass, without data-dependent branches: one segment per distinct
    // endpoint time, holding the count after every endpoint at that time.
    let mut offsets = vec![0u64; keys.len() + 1];
    let mut counts = vec![0u32; keys.len() + 1];
    let mut w = 0;
    let mut count = 0u32;
    for &key in keys {
        let t = key >> 1;
        if t >= units {
            // Only ends at the window's end remain; they start nothing.
            break;
        }
        w += usize::from(t != offsets[w]);
        offsets[w] = t;
        // +1 for a start, -1 for an end.
        count = count.wrapping_add(((key & 1) as u32) << 1).wrapping_sub(1);
        counts[w] = count;
    }
    // Second pass: drop segments whose count equals the one before (one
    // participant's meeting ending as another's starts), and scale the
    // offsets back to seconds.
    let mut kept = 0;
    for i in 1..=w {
        if counts[i] != counts[kept] {
            kept += 1;
            offsets[kept] = offsets[i];
            counts[kept] = counts[i];
        }
    }
    offsets.truncate(kept + 1);
    counts.truncate(kept + 1);
    for o in &mut offsets {
        *o *= g as u64;
    }
    (offsets, counts)
}
