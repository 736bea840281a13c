//! Random sequences of `IntervalSet` operations against a naive model (one
//! boolean per second over a small domain); coverage and slot search against
//! brute force on the final sets.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use availability::{Coverage, Interval, IntervalSet, SlotQuery, find_slots};
use libfuzzer_sys::fuzz_target;

const LO: i64 = -64;
const HI: i64 = 192;
const N: usize = (HI - LO) as usize;

type Model = Vec<bool>;

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Span {
    start: u8,
    len: u8,
}

impl Span {
    fn interval(self) -> Option<Interval> {
        let start = LO + i64::from(self.start);
        let end = (start + i64::from(self.len % 64) + 1).min(HI);
        Interval::new(start, end).ok()
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u8, Span),
    Remove(u8, Span),
    Build(u8, Vec<Span>),
    Union(u8, u8),
    Intersect(u8, u8),
    Difference(u8, u8),
    Gaps(u8, Span),
    Clip(u8, Span),
    Swap(u8, u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
    duration: u8,
    step: u8,
    min_free: Option<u8>,
    distinct: bool,
}

fn model_of(set: &IntervalSet) -> Model {
    let mut m = vec![false; N];
    for iv in set {
        for t in iv.start()..iv.end() {
            m[(t - LO) as usize] = true;
        }
    }
    m
}

fn check(set: &IntervalSet, model: &Model) {
    for pair in set.as_slice().windows(2) {
        assert!(pair[0].end() < pair[1].start(), "not coalesced: {set:?}");
    }
    assert_eq!(
        &model_of(set),
        model,
        "set {set:?} disagrees with the model"
    );
}

fuzz_target!(|input: Input| {
    let mut sets: [IntervalSet; 3] = Default::default();
    let mut models: [Model; 3] = [vec![false; N], vec![false; N], vec![false; N]];
    let r = |i: u8| usize::from(i % 3);
    for op in input.ops.iter().take(64) {
        match *op {
            Op::Insert(i, span) => {
                if let Some(iv) = span.interval() {
                    sets[r(i)].insert(iv);
                    for t in iv.start()..iv.end() {
                        models[r(i)][(t - LO) as usize] = true;
                    }
                }
            }
            Op::Remove(i, span) => {
                if let Some(iv) = span.interval() {
                    sets[r(i)].remove(iv);
                    for t in iv.start()..iv.end() {
                        models[r(i)][(t - LO) as usize] = false;
                    }
                }
            }
            Op::Build(i, ref spans) => {
                let ivs: Vec<Interval> = spans.iter().filter_map(|s| s.interval()).collect();
                let mut m = vec![false; N];
                for iv in &ivs {
                    for t in iv.start()..iv.end() {
                        m[(t - LO) as usize] = true;
                    }
                }
                sets[r(i)] = IntervalSet::from_unsorted(ivs);
                models[r(i)] = m;
            }
            Op::Union(i, j) => {
                sets[r(i)] = sets[r(i)].union(&sets[r(j)]);
                models[r(i)] = (0..N).map(|t| models[r(i)][t] || models[r(j)][t]).collect();
            }
            Op::Intersect(i, j) => {
                sets[r(i)] = sets[r(i)].intersection(&sets[r(j)]);
                models[r(i)] = (0..N).map(|t| models[r(i)][t] && models[r(j)][t]).collect();
            }
            Op::Difference(i, j) => {
                sets[r(i)] = sets[r(i)].difference(&sets[r(j)]);
                models[r(i)] = (0..N)
                    .map(|t| models[r(i)][t] && !models[r(j)][t])
                    .collect();
            }
            Op::Gaps(i, span) => {
                if let Some(w) = span.interval() {
                    let gaps = sets[r(i)].gaps(w);
                    let clip = sets[r(i)].clip(w);
                    // Busy plus gaps tiles the window.
                    assert!(gaps.intersection(&clip).is_empty());
                    assert_eq!(gaps.union(&clip), IntervalSet::from(w));
                    sets[r(i)] = gaps;
                    models[r(i)] = (0..N)
                        .map(|t| w.contains(t as i64 + LO) && !models[r(i)][t])
                        .collect();
                }
            }
            Op::Clip(i, span) => {
                if let Some(w) = span.interval() {
                    sets[r(i)] = sets[r(i)].clip(w);
                    models[r(i)] = (0..N)
                        .map(|t| w.contains(t as i64 + LO) && models[r(i)][t])
                        .collect();
                }
            }
            Op::Swap(i, j) => {
                sets.swap(r(i), r(j));
                models.swap(r(i), r(j));
            }
        }
        for k in 0..3 {
            check(&sets[k], &models[k]);
        }
    }

    // Coverage against brute force over the whole domain.
    let window = Interval::new(LO, HI).expect("the domain is a valid interval");
    let people = [Some(&sets[0]), Some(&sets[1]), None, Some(&sets[2])];
    let coverage = Coverage::new(window, people);
    for t in LO..HI {
        let busy = models.iter().filter(|m| m[(t - LO) as usize]).count() as u32;
        let counts = coverage.counts_at(t).expect("inside the window");
        assert_eq!(
            (counts.unavailable, counts.free, counts.unknown),
            (busy, 3 - busy, 1)
        );
    }

    // Slot search: every returned slot is bookable, on the grid, with the
    // right free count, ranked, and at least `min_free` free.
    let duration = i64::from(input.duration % 32) + 1;
    let step = i64::from(input.step % 16) + 1;
    let bookable = sets[0].union(&IntervalSet::from(Interval::new(0, 100).expect("valid")));
    let mut query = SlotQuery::new(Duration::from_secs(duration as u64))
        .step(Duration::from_secs(step as u64))
        .distinct(input.distinct)
        .limit(usize::MAX);
    if let Some(k) = input.min_free {
        query = query.min_free(u32::from(k % 5));
    }
    let slots = find_slots(&bookable, people, query).expect("valid query");
    let min_free = input.min_free.map_or(3, |k| u32::from(k % 5));
    let mut last: Option<(u32, i64)> = None;
    for slot in &slots {
        let s = slot.interval.start();
        assert_eq!(s.rem_euclid(step), 0);
        assert_eq!(slot.interval.len_secs(), duration);
        assert!(bookable.covers(&slot.interval));
        let free = models
            .iter()
            .filter(|m| (s..s + duration).all(|t| !m[(t - LO) as usize]))
            .count();
        assert_eq!(slot.free.len(), free);
        assert!(free as u32 >= min_free);
        let key = (free as u32, s);
        if let Some(prev) = last {
            assert!(
                prev.0 > key.0 || (prev.0 == key.0 && prev.1 < key.1),
                "ranking"
            );
        }
        last = Some(key);
    }
    if input.distinct {
        for (i, a) in slots.iter().enumerate() {
            for b in &slots[i + 1..] {
                assert!(!a.interval.overlaps(&b.interval));
            }
        }
    } else {
        // Without `distinct` and without a limit, every qualifying grid start is returned.
        let expected = (LO..HI)
            .filter(|s| s.rem_euclid(step) == 0)
            .filter(|&s| {
                Interval::new(s, s + duration).is_ok_and(|iv| bookable.covers(&iv))
                    && models
                        .iter()
                        .filter(|m| (s..s + duration).all(|t| !m[(t - LO) as usize]))
                        .count() as u32
                        >= min_free
            })
            .count();
        assert_eq!(slots.len(), expected);
    }
});
