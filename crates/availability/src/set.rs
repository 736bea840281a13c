//! [`IntervalSet`]: sorted, disjoint, coalesced half-open intervals.

use std::fmt;
use std::ops::{BitAnd, BitOr, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Interval, radix};

/// A set of instants, stored as sorted, disjoint, coalesced [`Interval`]s.
///
/// The invariant: for consecutive intervals `a`, `b`, `a.end() < b.start()`.
/// Overlapping *and touching* intervals merge (`[9, 10)` and `[10, 11)` become
/// `[9, 11)`), so every set of instants has exactly one representation, and
/// `==` compares sets of instants. Every constructor establishes the
/// invariant; there is no way to build a set that breaks it.
///
/// # Building
///
/// [`from_unsorted`](Self::from_unsorted), [`FromIterator`], [`From<Vec<Interval>>`]
/// and [`Extend`] accept intervals in any order, overlapping or not. Input
/// already sorted by start is detected and merged in one streaming pass;
/// otherwise each interval is packed into one `u64` (start relative to the
/// earliest, and length), radix-sorted on the start bits only (integer keys,
/// so no comparison sort is needed), and merged back into the input's
/// allocation without data-dependent branches.
///
/// # Algebra
///
/// [`union`](Self::union) (`|`), [`intersection`](Self::intersection) (`&`),
/// [`difference`](Self::difference) (`-`) and [`gaps`](Self::gaps) (the
/// complement within a window: free time) are single linear merges.
/// [`union_all`](Self::union_all) combines many sets at once.
///
/// # Example: a participant's free time
///
/// ```
/// use availability::{Interval, IntervalSet};
///
/// let busy: IntervalSet = [
///     Interval::new(13, 15)?,
///     Interval::new(9, 10)?,
///     Interval::new(10, 11)?, // touches [9, 10): they merge
/// ]
/// .into_iter()
/// .collect();
/// assert_eq!(busy.as_slice(), &[Interval::new(9, 11)?, Interval::new(13, 15)?]);
///
/// let day = Interval::new(8, 18)?;
/// let free = busy.gaps(day);
/// assert_eq!(free.as_slice(), &[
///     Interval::new(8, 9)?,
///     Interval::new(11, 13)?,
///     Interval::new(15, 18)?,
/// ]);
/// assert_eq!(free.total_secs() + busy.total_secs(), day.len_secs());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct IntervalSet {
    ivs: Vec<Interval>,
}

impl IntervalSet {
    /// The empty set.
    pub const fn new() -> Self {
        Self { ivs: Vec::new() }
    }

    /// Builds a set from intervals in any order.
    ///
    /// Linear for input sorted by start; otherwise a radix sort by start
    /// followed by one merging pass.
    pub fn from_unsorted<I: IntoIterator<Item = Interval>>(intervals: I) -> Self {
        Self::from(intervals.into_iter().collect::<Vec<_>>())
    }

    /// The union of many sets, computed at once (concatenate, sort, sweep),
    /// which stays linearithmic in the total size however many sets there
    /// are, unlike a fold of pairwise unions.
    pub fn union_all<'a, I: IntoIterator<Item = &'a Self>>(sets: I) -> Self {
        let sets: Vec<&Self> = sets.into_iter().collect();
        match sets.as_slice() {
            [] => Self::new(),
            [one] => (*one).clone(),
            [a, b] => a.union(b),
            _ => {
                let total = sets.iter().map(|s| s.len()).sum();
                let mut all = Vec::with_capacity(total);
                for set in sets {
                    all.extend_from_slice(&set.ivs);
                }
                Self::from(all)
            }
        }
    }

    /// The number of disjoint intervals.
    pub fn len(&self) -> usize {
        self.ivs.len()
    }

    /// Whether the set has no instant.
    pub fn is_empty(&self) -> bool {
        self.ivs.is_empty()
    }

    /// The intervals, sorted, disjoint and not touching.
    pub fn as_slice(&self) -> &[Interval] {
        &self.ivs
    }

    /// Iterates over the intervals in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Interval> {
        self.ivs.iter()
    }

    /// The smallest interval containing the whole set, if it is not empty.
    pub fn span(&self) -> Option<Interval> {
        match (self.ivs.first(), self.ivs.last()) {
            (Some(first), Some(last)) => Some(Interval {
                start: first.start,
                end: last.end,
            }),
            _ => None,
        }
    }

    /// The number of seconds in the set.
    pub fn total_secs(&self) -> i64 {
        self.ivs.iter().map(Interval::len_secs).sum()
    }

    /// Whether the instant `second` is in the set. `O(log n)`.
    pub fn contains(&self, second: i64) -> bool {
        let i = self.ivs.partition_point(|iv| iv.end <= second);
        self.ivs.get(i).is_some_and(|iv| iv.start <= second)
    }

    /// Whether every instant of `interval` is in the set. `O(log n)`.
    pub fn covers(&self, interval: &Interval) -> bool {
        let i = self.ivs.partition_point(|iv| iv.end <= interval.start);
        self.ivs
            .get(i)
            .is_some_and(|iv| iv.contains_interval(interval))
    }

    /// Whether some instant of `interval` is in the set. `O(log n)`.
    pub fn overlaps(&self, interval: &Interval) -> bool {
        let i = self.ivs.partition_point(|iv| iv.end <= interval.start);
        self.ivs.get(i).is_some_and(|iv| iv.start < interval.end)
    }

    /// Adds the instants of `interval`, merging with its neighbours.
    /// `O(log n)` to find the place plus the cost of shifting the tail.
    pub fn insert(&mut self, interval: Interval) {
        let lo = self.ivs.partition_point(|iv| iv.end < interval.start);
        let hi = self.ivs.partition_point(|iv| iv.start <= interval.end);
        let mut merged = interval;
        if lo < hi {
            merged.start = merged.start.min(self.ivs[lo].start);
            merged.end = merged.end.max(self.ivs[hi - 1].end);
        }
        self.ivs.splice(lo..hi, [merged]);
    }

    /// Removes the instants of `interval`.
    pub fn remove(&mut self, interval: Interval) {
        *self = self.difference(&Self::from(interval));
    }

    /// The instants in either set.
    pub fn union(&self, other: &Self) -> Self {
        let (a, b) = (&self.ivs, &other.ivs);
        let mut out: Vec<Interval> = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let next = if a[i].start <= b[j].start {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            push_merging(&mut out, next);
        }
        for &rest in a[i..].iter().chain(&b[j..]) {
            push_merging(&mut out, rest);
        }
        Self { ivs: out }
    }

    /// The instants in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.ivs, &other.ivs);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let start = a[i].start.max(b[j].start);
            let end = a[i].end.min(b[j].end);
            if start < end {
                // Pieces of two coalesced sets never touch: a piece ending at
                // `t` ends one of the operands at `t`, and neither operand
                // starts again at `t`.
                out.push(Interval { start, end });
            }
            if a[i].end < b[j].end {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { ivs: out }
    }

    /// The instants in `self` but not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let b = &other.ivs;
        let mut out = Vec::with_capacity(self.ivs.len());
        let mut j = 0;
        for &x in &self.ivs {
            while j < b.len() && b[j].end <= x.start {
                j += 1;
            }
            let mut start = x.start;
            let mut k = j;
            while k < b.len() && b[k].start < x.end {
                if b[k].start > start {
                    out.push(Interval {
                        start,
                        end: b[k].start,
                    });
                }
                start = start.max(b[k].end);
                if start >= x.end {
                    break;
                }
                k += 1;
            }
            if start < x.end {
                out.push(Interval { start, end: x.end });
            }
        }
        Self { ivs: out }
    }

    /// The instants in exactly one of the sets.
    pub fn symmetric_difference(&self, other: &Self) -> Self {
        self.difference(other).union(&other.difference(self))
    }

    /// The complement of the set within `window`: the free time when the set
    /// is busy time.
    pub fn gaps(&self, window: Interval) -> Self {
        Self::from(window).difference(self)
    }

    /// The part of the set inside `window`.
    pub fn clip(&self, window: Interval) -> Self {
        let lo = self.ivs.partition_point(|iv| iv.end <= window.start);
        let ivs = self.ivs[lo..]
            .iter()
            .take_while(|iv| iv.start < window.end)
            .filter_map(|iv| iv.intersection(&window))
            .collect();
        Self { ivs }
    }

    /// Moves every interval by `seconds`, saturating at the supported range;
    /// intervals that would fall entirely outside it are dropped.
    pub fn shift(&self, seconds: i64) -> Self {
        let ivs = self
            .ivs
            .iter()
            .filter_map(|iv| {
                let start = iv.start.saturating_add(seconds).max(Interval::MIN_SECOND);
                let end = iv.end.saturating_add(seconds).min(Interval::MAX_SECOND);
                Interval::new(start, end).ok()
            })
            .collect();
        Self { ivs }
    }

    /// Every interval widened by `before` seconds at its start and `after`
    /// at its end (negative values count as zero), saturating at the
    /// supported range; intervals that now touch or overlap merge. A busy
    /// set widened this way keeps a margin around every meeting (a
    /// policy's `buffer_before` / `buffer_after`).
    ///
    /// # Example
    ///
    /// ```
    /// use availability::{Interval, IntervalSet};
    ///
    /// let busy = IntervalSet::from_unsorted([Interval::new(100, 200)?, Interval::new(260, 300)?]);
    /// let kept = busy.widen(30, 30);
    /// assert_eq!(kept.as_slice(), &[Interval::new(70, 330)?]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn widen(&self, before: i64, after: i64) -> Self {
        let (before, after) = (before.max(0), after.max(0));
        if before == 0 && after == 0 {
            return self.clone();
        }
        // Widening keeps the starts in order, so one coalescing pass over
        // the sorted intervals suffices.
        let mut ivs: Vec<Interval> = Vec::with_capacity(self.ivs.len());
        for iv in &self.ivs {
            let widened = Interval {
                start: iv.start.saturating_sub(before).max(Interval::MIN_SECOND),
                end: iv.end.saturating_add(after).min(Interval::MAX_SECOND),
            };
            match ivs.last_mut() {
                Some(last) if widened.start <= last.end => last.end = last.end.max(widened.end),
                _ => ivs.push(widened),
            }
        }
        Self { ivs }
    }

    /// Consumes the set, returning its sorted, disjoint, coalesced intervals.
    pub fn into_vec(self) -> Vec<Interval> {
        self.ivs
    }
}

/// Appends `iv` (whose start is not before the last start in `out`) to `out`,
/// merging it into the last interval when they overlap or touch.
#[inline]
fn push_merging(out: &mut Vec<Interval>, iv: Interval) {
    if let Some(last) = out.last_mut()
        && iv.start <= last.end
    {
        if iv.end > last.end {
            last.end = iv.end;
        }
        return;
    }
    out.push(iv);
}

/// Sorts `v` by start unless it already is, then merges it in place.
fn normalize(v: &mut Vec<Interval>) {
    if v.len() < 2 || merge_sorted_prefix(v) {
        return;
    }
    if v.len() < radix::THRESHOLD {
        v.sort_unstable_by_key(|iv| iv.start);
        coalesce_sorted(v);
        return;
    }
    // Guess the grain of the starts from the first few, then merge with that
    // grain as a constant divisor, verifying every start on the way; a wrong
    // guess retries at the next finer grain.
    let first = v[0].start;
    let mut guess = radix::GrainCheck::new();
    for iv in v.iter().take(16) {
        guess.push(iv.start - first);
    }
    let mut g = guess.grain();
    loop {
        let done = match g {
            3600 => merge_grained::<3600>(v),
            900 => merge_grained::<900>(v),
            300 => merge_grained::<300>(v),
            60 => merge_grained::<60>(v),
            _ => merge_grained::<1>(v),
        };
        if done {
            return;
        }
        g = match g {
            3600 => 900,
            900 => 300,
            300 => 60,
            _ => 1,
        };
    }
}

/// Merges unsorted `v` (at least [`radix::THRESHOLD`] long) when every start
/// is `v[0].start` plus a multiple of `G` seconds; returns `false`, with `v`
/// untouched, when one is not.
fn merge_grained<const G: i64>(v: &mut Vec<Interval>) -> bool {
    let n = v.len();
    let first = v[0].start;
    let mut min = i64::MAX;
    let mut max = i64::MIN;
    let mut max_len = 0;
    let mut exact = true;
    for iv in v.iter() {
        min = min.min(iv.start);
        max = max.max(iv.start);
        max_len = max_len.max(iv.end - iv.start);
        exact &= (iv.start - first).unsigned_abs().is_multiple_of(G as u64);
    }
    if !exact {
        return false;
    }
    // Non-negative and below 2^40 (the supported range).
    let slot_of = |start: i64| (start - min) as u64 / G as u64;
    let slots = slot_of(max) + 1;
    if slots <= n as u64 {
        // Dense starts (calendar data saturating its grid): keep the latest
        // end per start slot, then sweep the slots in order. No sort at all.
        merge_by_slot::<G>(v, min, slots as usize);
        return true;
    }
    let start_bits = radix::bit_width(slots - 1);
    let len_bits = radix::bit_width(max_len as u64);
    if start_bits + len_bits > u64::BITS {
        // Spans of tens of thousands of years with year-long intervals:
        // never calendar data, so a comparison sort is fine here.
        v.sort_unstable_by_key(|iv| iv.start);
        coalesce_sorted(v);
        return true;
    }
    // Pack (start slot, length) into one u64 and radix-sort on the start
    // bits only: half the bytes of an `Interval` to move on every pass.
    radix::with_scratch(|packed, buf| {
        packed.extend(
            v.iter()
                .map(|iv| (slot_of(iv.start) << len_bits) | (iv.end - iv.start) as u64),
        );
        radix::sort_by_bits(packed, buf, len_bits, start_bits);
        let len_mask = (1u64 << len_bits) - 1;
        let unpack = |p: u64| {
            let start = min + (p >> len_bits) as i64 * G;
            Interval {
                start,
                end: start + (p & len_mask) as i64,
            }
        };
        // The same branchless merge as `merge_sorted_prefix`, reading the
        // packed keys and writing into `v` (`w` never passes the number read).
        let mut cur = unpack(packed[0]);
        let mut w = 0;
        for &p in &packed[1..] {
            let next = unpack(p);
            let disjoint = next.start > cur.end;
            v[w] = cur;
            w += usize::from(disjoint);
            cur.start = if disjoint { next.start } else { cur.start };
            // A disjoint interval's end is above `cur.end` too (see
            // `merge_sorted_prefix`): one `max` chain.
            cur.end = cur.end.max(next.end);
        }
        v[w] = cur;
        v.truncate(w + 1);
    });
    true
}

/// Merges `v` (whose starts lie on `min + k * G` for `k < slots`, with
/// `slots <= v.len()`) through a table of the latest end per slot.
fn merge_by_slot<const G: i64>(v: &mut Vec<Interval>, min: i64, slots: usize) {
    const EMPTY: i64 = i64::MIN;
    let mut ends = vec![EMPTY; slots];
    for iv in v.iter() {
        let slot = &mut ends[((iv.start - min) as u64 / G as u64) as usize];
        *slot = (*slot).max(iv.end);
    }
    // Slot 0 holds `min`, so it is never empty.
    let mut cur = Interval {
        start: min,
        end: ends[0],
    };
    let mut w = 0;
    let mut start = min;
    for &end in &ends[1..] {
        start += G;
        let disjoint = end != EMPTY && start > cur.end;
        // `w` counts finished intervals, at most one per slot read so far.
        v[w] = cur;
        w += usize::from(disjoint);
        cur.start = if disjoint { start } else { cur.start };
        // `EMPTY` never raises the maximum.
        cur.end = cur.end.max(end);
    }
    v[w] = cur;
    v.truncate(w + 1);
}

/// Merges `v` in place while it is sorted by start. Returns `true` when the
/// whole vector was sorted (and is now coalesced). Otherwise `v` holds the
/// merged sorted prefix followed by the unread rest, which together cover
/// exactly the input's instants, and `false` is returned.
fn merge_sorted_prefix(v: &mut Vec<Interval>) -> bool {
    let n = v.len();
    let mut start = v[0].start;
    // While the input is sorted by start, the current run's end is the
    // maximum end read so far (a disjoint interval's end is above it too),
    // so the only loop-carried chain is one `max`.
    let mut end = v[0].end;
    let mut prev_start = start;
    let mut w = 0;
    let s = v.as_mut_slice();
    for r in 1..n {
        let next = s[r];
        if next.start < prev_start {
            s[w] = Interval { start, end };
            if w + 1 < r {
                v.copy_within(r.., w + 1);
                v.truncate(w + 1 + (n - r));
            }
            return false;
        }
        prev_start = next.start;
        let disjoint = next.start > end;
        // `w < r`, so this never overwrites an unread element.
        s[w] = Interval { start, end };
        w += usize::from(disjoint);
        start = if disjoint { next.start } else { start };
        end = end.max(next.end);
    }
    v[w] = Interval { start, end };
    v.truncate(w + 1);
    true
}

/// Merges a vector sorted by start into coalesced form, in place, without
/// data-dependent branches (overlap rates near 50% would otherwise make
/// every other branch a misprediction).
fn coalesce_sorted(v: &mut Vec<Interval>) {
    let sorted = merge_sorted_prefix(v);
    debug_assert!(sorted, "coalesce_sorted needs sorted input");
}

impl From<Vec<Interval>> for IntervalSet {
    /// Builds a set from intervals in any order, reusing the vector.
    fn from(mut intervals: Vec<Interval>) -> Self {
        normalize(&mut intervals);
        Self { ivs: intervals }
    }
}

impl From<Interval> for IntervalSet {
    fn from(interval: Interval) -> Self {
        Self {
            ivs: vec![interval],
        }
    }
}

impl FromIterator<Interval> for IntervalSet {
    fn from_iter<I: IntoIterator<Item = Interval>>(iter: I) -> Self {
        Self::from_unsorted(iter)
    }
}

impl Extend<Interval> for IntervalSet {
    fn extend<I: IntoIterator<Item = Interval>>(&mut self, iter: I) {
        let more = Self::from_unsorted(iter);
        if more.is_empty() {
            return;
        }
        *self = self.union(&more);
    }
}

impl IntoIterator for IntervalSet {
    type Item = Interval;
    type IntoIter = std::vec::IntoIter<Interval>;

    fn into_iter(self) -> Self::IntoIter {
        self.ivs.into_iter()
    }
}

impl<'a> IntoIterator for &'a IntervalSet {
    type Item = &'a Interval;
    type IntoIter = std::slice::Iter<'a, Interval>;

    fn into_iter(self) -> Self::IntoIter {
        self.ivs.iter()
    }
}

impl BitOr for &IntervalSet {
    type Output = IntervalSet;

    /// [`IntervalSet::union`].
    fn bitor(self, rhs: Self) -> IntervalSet {
        self.union(rhs)
    }
}

impl BitAnd for &IntervalSet {
    type Output = IntervalSet;

    /// [`IntervalSet::intersection`].
    fn bitand(self, rhs: Self) -> IntervalSet {
        self.intersection(rhs)
    }
}

impl Sub for &IntervalSet {
    type Output = IntervalSet;

    /// [`IntervalSet::difference`].
    fn sub(self, rhs: Self) -> IntervalSet {
        self.difference(rhs)
    }
}

impl fmt::Debug for IntervalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.ivs).finish()
    }
}

impl Serialize for IntervalSet {
    /// A sequence of `{"start": "…Z", "end": "…Z"}` objects, in order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.ivs.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IntervalSet {
    /// Accepts intervals in any order, overlapping or not, and coalesces them.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Interval>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: i64, e: i64) -> Interval {
        Interval::new(s, e).unwrap()
    }

    #[test]
    fn radix_path_agrees_with_comparison_sort() {
        // Large enough to take the radix path, with negative starts.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut input = Vec::new();
        for _ in 0..(radix::THRESHOLD * 8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let start = (state % 1_000_000) as i64 - 500_000;
            let len = (state >> 40) as i64 % 500 + 1;
            input.push(iv(start, start + len));
        }
        let fast = IntervalSet::from(input.clone());
        let mut slow: Vec<Interval> = Vec::new();
        input.sort();
        for x in input {
            push_merging(&mut slow, x);
        }
        assert_eq!(fast.as_slice(), slow.as_slice());
    }

    #[test]
    fn insert_merges_neighbours() {
        let mut s = IntervalSet::from_unsorted([iv(0, 2), iv(4, 6), iv(8, 10)]);
        s.insert(iv(2, 4));
        assert_eq!(s.as_slice(), &[iv(0, 6), iv(8, 10)]);
        s.insert(iv(11, 12));
        assert_eq!(s.as_slice(), &[iv(0, 6), iv(8, 10), iv(11, 12)]);
        s.insert(iv(-5, -4));
        assert_eq!(s.len(), 4);
        s.remove(iv(5, 9));
        assert_eq!(s.as_slice(), &[iv(-5, -4), iv(0, 5), iv(9, 10), iv(11, 12)]);
    }

    #[test]
    fn shift_saturates_and_drops() {
        let s = IntervalSet::from_unsorted([
            iv(0, 10),
            iv(Interval::MAX_SECOND - 5, Interval::MAX_SECOND),
        ]);
        let moved = s.shift(10);
        assert_eq!(moved.as_slice(), &[iv(10, 20)]);
    }
}
