//! [`Coverage`]: how many of n participants are free at each instant.

use crate::set::RADIX_THRESHOLD;
use crate::{Interval, IntervalSet};

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
    /// Segment `i` covers `[starts[i], starts[i + 1])`, the last one up to
    /// the window's end; `starts[0]` is the window's start.
    starts: Vec<i64>,
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
        let mut known = 0u32;
        let mut unknown = 0u32;
        let mut keys: Vec<i64> = Vec::new();
        for participant in participants {
            let Some(set) = participant else {
                unknown += 1;
                continue;
            };
            known += 1;
            let ivs = set.as_slice();
            let lo = ivs.partition_point(|iv| iv.end <= window.start);
            let hi = ivs.partition_point(|iv| iv.start < window.end);
            if lo >= hi {
                continue;
            }
            keys.reserve(2 * (hi - lo));
            for iv in &ivs[lo..hi] {
                // Packed endpoint: time << 1, low bit 1 for a start, 0 for an
                // end. Times fit in 40 bits, so the shift cannot overflow.
                keys.push((iv.start.max(window.start) << 1) | 1);
                keys.push(iv.end.min(window.end) << 1);
            }
        }
        sort_keys(&mut keys);

        let mut starts = vec![window.start];
        let mut unavailable = vec![0u32];
        let mut count: u32 = 0;
        let mut i = 0;
        while i < keys.len() {
            let t = keys[i] >> 1;
            if t >= window.end {
                break;
            }
            // Apply every endpoint at `t` before looking at the count, so
            // that touching intervals leave no zero-length segment.
            while i < keys.len() && keys[i] >> 1 == t {
                if keys[i] & 1 == 1 {
                    count += 1;
                } else {
                    count -= 1;
                }
                i += 1;
            }
            let last = unavailable.len() - 1;
            if t == window.start {
                unavailable[0] = count;
            } else if unavailable[last] != count {
                starts.push(t);
                unavailable.push(count);
            }
        }
        Self {
            window,
            known,
            unknown,
            starts,
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
        self.starts.len()
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
        (0..self.starts.len()).map(move |i| {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.window.end);
            CoverageSegment {
                interval: Interval {
                    start: self.starts[i],
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
        let i = self.starts.partition_point(|&s| s <= second) - 1;
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

/// Sorts packed endpoint keys: radix for large inputs, comparison below.
pub(crate) fn sort_keys(keys: &mut [i64]) {
    if keys.len() < RADIX_THRESHOLD {
        keys.sort_unstable();
    } else {
        radsort::sort(keys);
    }
}
