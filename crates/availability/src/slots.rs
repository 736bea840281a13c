//! Slot search: the find-time semantics of DESIGN.md.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Duration;

use crate::{Coverage, Interval, IntervalSet};

/// Which instants may start a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Grid {
    /// Every `origin + k * step` seconds.
    Every { step: Duration, origin: i64 },
    /// Exactly these instants (sorted, deduplicated).
    Starts(Vec<i64>),
}

/// What [`find_slots`] looks for: a slot length plus options, each with a
/// documented default. A bare [`Duration`] converts into a query with every
/// default.
///
/// # Example: an hour, at least two free, three proposals that do not overlap
///
/// ```
/// use std::time::Duration;
/// use availability::SlotQuery;
///
/// let query = SlotQuery::new(Duration::from_secs(3600))
///     .step(Duration::from_secs(15 * 60))
///     .min_free(2)
///     .limit(3)
///     .distinct(true);
/// # let _ = query;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotQuery {
    duration: Duration,
    grid: Grid,
    min_free: Option<u32>,
    limit: usize,
    distinct: bool,
    max_candidates: usize,
}

impl SlotQuery {
    /// The default step: 30 minutes, as in the default program policy.
    pub const DEFAULT_STEP: Duration = Duration::from_secs(30 * 60);
    /// The default number of slots returned.
    pub const DEFAULT_LIMIT: usize = 10;
    /// The default bound on candidate starts examined.
    pub const DEFAULT_MAX_CANDIDATES: usize = 1_000_000;

    /// Slots of `duration` (whole seconds, more than zero; checked by
    /// [`find_slots`]), with every default.
    pub fn new(duration: Duration) -> Self {
        Self {
            duration,
            grid: Grid::Every {
                step: Self::DEFAULT_STEP,
                origin: 0,
            },
            min_free: None,
            limit: Self::DEFAULT_LIMIT,
            distinct: false,
            max_candidates: Self::DEFAULT_MAX_CANDIDATES,
        }
    }

    /// Candidate starts every `step`, aligned to the Unix epoch (so a step of
    /// 30 minutes gives :00 and :30 UTC). Default: [`Self::DEFAULT_STEP`].
    /// For a grid aligned to local midnight in a zone with DST, pass the
    /// starts explicitly with [`starts`](Self::starts) (policy-rules does).
    #[must_use]
    pub fn step(self, step: Duration) -> Self {
        self.step_from(step, 0)
    }

    /// Candidate starts every `step`, at `origin + k * step` seconds since
    /// the Unix epoch for any integer `k`.
    #[must_use]
    pub fn step_from(mut self, step: Duration, origin: i64) -> Self {
        self.grid = Grid::Every { step, origin };
        self
    }

    /// Exactly these candidate starts, in seconds since the Unix epoch, in
    /// any order (duplicates ignored). Replaces any step.
    #[must_use]
    pub fn starts<I: IntoIterator<Item = i64>>(mut self, starts: I) -> Self {
        let mut v: Vec<i64> = starts.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        self.grid = Grid::Starts(v);
        self
    }

    /// Keep only slots at which at least `k` participants are free.
    /// Default: every participant with a calendar.
    #[must_use]
    pub fn min_free(mut self, k: u32) -> Self {
        self.min_free = Some(k);
        self
    }

    /// Return at most `n` slots. Default: [`Self::DEFAULT_LIMIT`].
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// When `true`, skip every slot that overlaps a better-ranked slot
    /// already chosen, which is what a poll proposes. Default: `false`.
    #[must_use]
    pub fn distinct(mut self, distinct: bool) -> Self {
        self.distinct = distinct;
        self
    }

    /// Fail with [`SlotError::TooManyCandidates`] rather than examine more
    /// than `n` candidate starts (a one-second step over a year would be 31
    /// million). Default: [`Self::DEFAULT_MAX_CANDIDATES`].
    #[must_use]
    pub fn max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n;
        self
    }
}

impl From<Duration> for SlotQuery {
    fn from(duration: Duration) -> Self {
        Self::new(duration)
    }
}

/// Why [`find_slots`] could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// The slot duration is zero, not whole seconds, or longer than the
    /// supported range.
    #[error("slot duration must be a positive whole number of seconds, got {0:?}")]
    InvalidDuration(Duration),
    /// The step is zero, not whole seconds, or longer than the supported range.
    #[error("slot step must be a positive whole number of seconds, got {0:?}")]
    InvalidStep(Duration),
    /// More candidate starts than [`SlotQuery::max_candidates`] allows.
    #[error("more than {limit} candidate slot starts; use a larger step or a shorter window")]
    TooManyCandidates {
        /// The bound that was exceeded.
        limit: usize,
    },
}

/// A proposed slot and who can make it. Participants are given by their
/// index in the slice passed to [`find_slots`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// When.
    pub interval: Interval,
    /// Participants with a calendar and nothing blocking during the slot.
    pub free: Vec<usize>,
    /// Participants whose blocking time overlaps the slot.
    pub unavailable: Vec<usize>,
    /// Participants without a calendar: never shown as free.
    pub unknown: Vec<usize>,
}

fn whole_seconds(d: Duration) -> Option<i64> {
    if d.is_zero() || d.subsec_nanos() != 0 {
        return None;
    }
    let secs = i64::try_from(d.as_secs()).ok()?;
    (secs <= Interval::MAX_SECOND - Interval::MIN_SECOND).then_some(secs)
}

/// Finds the best slots of `query`'s duration for `participants`.
///
/// Semantics (DESIGN.md "find-time"):
/// - a candidate start lies on the query's grid, and the slot
///   `[start, start + duration)` lies inside one interval of `bookable`
///   (the caller intersects policy windows and the search window);
/// - participant `i` is free when `participants[i]` is `Some(set)` and `set`
///   (their *unavailable* time, already filtered by the blocking kinds)
///   does not overlap the slot; unavailable when it does; unknown when it is
///   `None`;
/// - slots with at least `min_free` free are ranked by free count,
///   descending, then start, ascending; with `distinct`, a slot overlapping
///   an already chosen one is skipped; at most `limit` are returned.
///
/// It runs in `O(m log m + c log c)` for `m` busy intervals and `c`
/// candidate starts: each busy interval `[b, e)` blocks exactly the starts in
/// `[b - duration + 1, e)`, so one [`Coverage`] sweep over those dilated
/// intervals counts the free participants at every candidate at once.
///
/// # Errors
///
/// [`SlotError::InvalidDuration`] or [`SlotError::InvalidStep`] for zero or
/// fractional durations, and [`SlotError::TooManyCandidates`] past the
/// query's bound.
///
/// # Example: the first hour both are free
///
/// ```
/// use std::time::Duration;
/// use availability::{find_slots, Interval, IntervalSet, SlotQuery};
///
/// let h = 3600;
/// let ana = IntervalSet::from(Interval::new(9 * h, 10 * h)?);
/// let ben = IntervalSet::from(Interval::new(10 * h, 11 * h)?);
/// let bookable = IntervalSet::from(Interval::new(8 * h, 18 * h)?);
/// let slots = find_slots(&bookable, [Some(&ana), Some(&ben), None],
///     SlotQuery::new(Duration::from_secs(3600)).limit(2))?;
/// // Ranked by free count, then start: 08:00 and 11:00 suit both.
/// assert_eq!(slots[0].interval, Interval::new(8 * h, 9 * h)?);
/// assert_eq!(slots[1].interval, Interval::new(11 * h, 12 * h)?);
/// assert_eq!(slots[0].free, vec![0, 1]);
/// assert_eq!(slots[0].unknown, vec![2]); // no calendar: never "free"
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_slots<'a, I>(
    bookable: &IntervalSet,
    participants: I,
    query: impl Into<SlotQuery>,
) -> Result<Vec<Slot>, SlotError>
where
    I: IntoIterator<Item = Option<&'a IntervalSet>>,
{
    let query = query.into();
    let duration =
        whole_seconds(query.duration).ok_or(SlotError::InvalidDuration(query.duration))?;
    let participants: Vec<Option<&IntervalSet>> = participants.into_iter().collect();
    let candidates = candidate_starts(bookable, duration, &query)?;
    let (Some(&first), Some(&last)) = (candidates.first(), candidates.last()) else {
        return Ok(Vec::new());
    };

    // Each busy [b, e) blocks the starts in [b - duration + 1, e).
    let dilated: Vec<Option<IntervalSet>> = participants
        .iter()
        .map(|p| {
            p.map(|set| {
                let ivs: Vec<Interval> = set
                    .iter()
                    .map(|iv| Interval {
                        start: (iv.start - duration + 1).max(Interval::MIN_SECOND),
                        end: iv.end,
                    })
                    .collect();
                IntervalSet::from(ivs)
            })
        })
        .collect();
    let scan = Interval {
        start: first,
        end: last + 1,
    };
    let coverage = Coverage::new(scan, dilated.iter().map(Option::as_ref));
    let min_free = query.min_free.unwrap_or(coverage.known());

    let mut scored: Vec<(u32, i64)> = Vec::new();
    let mut segments = coverage.segments().peekable();
    for &start in &candidates {
        while segments.peek().is_some_and(|seg| seg.interval.end <= start) {
            segments.next();
        }
        if let Some(seg) = segments.peek()
            && seg.counts.free >= min_free
        {
            scored.push((seg.counts.free, start));
        }
    }
    scored.sort_unstable_by_key(|&(free, start)| (Reverse(free), start));

    let mut chosen: Vec<i64> = Vec::new();
    let mut taken = BTreeSet::new();
    for (_, start) in scored {
        if chosen.len() >= query.limit {
            break;
        }
        if query.distinct {
            // Every slot has the same length, so two overlap exactly when
            // their starts are less than `duration` apart.
            if taken
                .range(start.saturating_sub(duration - 1)..=start.saturating_add(duration - 1))
                .next()
                .is_some()
            {
                continue;
            }
            taken.insert(start);
        }
        chosen.push(start);
    }

    Ok(chosen
        .into_iter()
        .map(|start| {
            let interval = Interval {
                start,
                end: start + duration,
            };
            let mut slot = Slot {
                interval,
                free: Vec::new(),
                unavailable: Vec::new(),
                unknown: Vec::new(),
            };
            for (i, p) in participants.iter().enumerate() {
                match p {
                    None => slot.unknown.push(i),
                    Some(set) if set.overlaps(&interval) => slot.unavailable.push(i),
                    Some(_) => slot.free.push(i),
                }
            }
            slot
        })
        .collect())
}

/// The sorted grid instants `s` with `[s, s + duration)` inside one bookable
/// interval.
fn candidate_starts(
    bookable: &IntervalSet,
    duration: i64,
    query: &SlotQuery,
) -> Result<Vec<i64>, SlotError> {
    let too_many = SlotError::TooManyCandidates {
        limit: query.max_candidates,
    };
    let mut out = Vec::new();
    match &query.grid {
        Grid::Every { step, origin } => {
            let step = whole_seconds(*step).ok_or(SlotError::InvalidStep(*step))?;
            for w in bookable {
                let latest = w.end - duration;
                if latest < w.start {
                    continue;
                }
                // The first grid point at or after the window's start.
                let offset = (w.start - origin).rem_euclid(step);
                let mut s = if offset == 0 {
                    w.start
                } else {
                    w.start + (step - offset)
                };
                while s <= latest {
                    if out.len() >= query.max_candidates {
                        return Err(too_many);
                    }
                    out.push(s);
                    s += step;
                }
            }
        }
        Grid::Starts(starts) => {
            let windows = bookable.as_slice();
            let mut w = 0;
            for &s in starts {
                while w < windows.len() && windows[w].end <= s {
                    w += 1;
                }
                let Some(win) = windows.get(w) else { break };
                if win.start <= s && s.saturating_add(duration) <= win.end {
                    if out.len() >= query.max_candidates {
                        return Err(too_many);
                    }
                    out.push(s);
                }
            }
        }
    }
    Ok(out)
}
