use std::cmp::Reverse;
use std::time::Duration;

use availability::{Coverage, Interval, IntervalSet, SlotQuery, find_slots};
use proptest::prelude::*;

/// The model's domain: seconds `LO..HI`.
const LO: i64 = -16;
const HI: i64 = 80;
const N: usize = (HI - LO) as usize;

type Model = [bool; N];

fn model_of(ivs: &[Interval]) -> Model {
    let mut m = [false; N];
    for iv in ivs {
        for t in iv.start()..iv.end() {
            m[(t - LO) as usize] = true;
        }
    }
    m
}

fn model_of_set(set: &IntervalSet) -> Model {
    model_of(set.as_slice())
}

fn zip(a: &Model, b: &Model, f: impl Fn(bool, bool) -> bool) -> Model {
    std::array::from_fn(|i| f(a[i], b[i]))
}

fn window_model(w: Interval) -> Model {
    model_of(&[w])
}

fn assert_invariants(set: &IntervalSet) {
    for pair in set.as_slice().windows(2) {
        assert!(pair[0].end() < pair[1].start(), "not coalesced: {set:?}");
    }
    for iv in set {
        assert!(iv.start() < iv.end());
    }
}

fn interval() -> impl Strategy<Value = Interval> {
    (LO..HI - 1, 1i64..24).prop_map(|(s, len)| Interval::new(s, (s + len).min(HI)).unwrap())
}

fn intervals() -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec(interval(), 0..12)
}

fn set() -> impl Strategy<Value = IntervalSet> {
    intervals().prop_map(IntervalSet::from_unsorted)
}

fn window() -> impl Strategy<Value = Interval> {
    (LO..HI - 1, 1i64..(HI - LO)).prop_map(|(s, len)| Interval::new(s, (s + len).min(HI)).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn build_matches_model(ivs in intervals()) {
        let set = IntervalSet::from_unsorted(ivs.clone());
        assert_invariants(&set);
        prop_assert_eq!(model_of_set(&set), model_of(&ivs));
        // Every way of building agrees.
        let collected: IntervalSet = ivs.iter().copied().collect();
        prop_assert_eq!(&collected, &set);
        let mut extended = IntervalSet::new();
        let half = ivs.len() / 2;
        extended.extend(ivs[..half].iter().copied());
        extended.extend(ivs[half..].iter().copied());
        prop_assert_eq!(&extended, &set);
        let mut inserted = IntervalSet::new();
        for iv in &ivs {
            inserted.insert(*iv);
            assert_invariants(&inserted);
        }
        prop_assert_eq!(&inserted, &set);
        let mut sorted = ivs.clone();
        sorted.sort();
        prop_assert_eq!(&IntervalSet::from(sorted), &set);
        prop_assert_eq!(set.total_secs(), model_of(&ivs).iter().filter(|b| **b).count() as i64);
    }

    #[test]
    fn binary_operations_match_model(a in set(), b in set()) {
        let (ma, mb) = (model_of_set(&a), model_of_set(&b));
        let u = a.union(&b);
        let i = a.intersection(&b);
        let d = a.difference(&b);
        let x = a.symmetric_difference(&b);
        for s in [&u, &i, &d, &x] {
            assert_invariants(s);
        }
        prop_assert_eq!(model_of_set(&u), zip(&ma, &mb, |p, q| p || q));
        prop_assert_eq!(model_of_set(&i), zip(&ma, &mb, |p, q| p && q));
        prop_assert_eq!(model_of_set(&d), zip(&ma, &mb, |p, q| p && !q));
        prop_assert_eq!(model_of_set(&x), zip(&ma, &mb, |p, q| p != q));
        prop_assert_eq!(&(&a | &b), &u);
        prop_assert_eq!(&(&a & &b), &i);
        prop_assert_eq!(&(&a - &b), &d);
        prop_assert_eq!(&IntervalSet::union_all([&a, &b, &a]), &u);
        let mut removed = a.clone();
        for iv in &b {
            removed.remove(*iv);
        }
        prop_assert_eq!(&removed, &d);
    }

    #[test]
    fn window_operations_match_model(a in set(), w in window()) {
        let (ma, mw) = (model_of_set(&a), window_model(w));
        let gaps = a.gaps(w);
        let clip = a.clip(w);
        assert_invariants(&gaps);
        assert_invariants(&clip);
        prop_assert_eq!(model_of_set(&gaps), zip(&ma, &mw, |p, q| !p && q));
        prop_assert_eq!(model_of_set(&clip), zip(&ma, &mw, |p, q| p && q));
        // gaps and the clipped set tile the window.
        prop_assert!(gaps.intersection(&clip).is_empty());
        prop_assert_eq!(gaps.union(&clip), IntervalSet::from(w));
        prop_assert_eq!(gaps.total_secs() + clip.total_secs(), w.len_secs());
        // Queries.
        let covered = (w.start()..w.end()).all(|t| ma[(t - LO) as usize]);
        let touched = (w.start()..w.end()).any(|t| ma[(t - LO) as usize]);
        prop_assert_eq!(a.covers(&w), covered);
        prop_assert_eq!(a.overlaps(&w), touched);
        for t in LO..HI {
            prop_assert_eq!(a.contains(t), ma[(t - LO) as usize]);
        }
        prop_assert_eq!(a.contains(HI + 5), false);
        prop_assert_eq!(a.contains(LO - 5), false);
    }

    #[test]
    fn algebra_laws(a in set(), b in set(), c in set(), w in window()) {
        // De Morgan within a window.
        prop_assert_eq!(a.union(&b).gaps(w), a.gaps(w).intersection(&b.gaps(w)));
        prop_assert_eq!(a.intersection(&b).gaps(w), a.gaps(w).union(&b.gaps(w)));
        // Idempotence.
        prop_assert_eq!(&a.union(&a), &a);
        prop_assert_eq!(&a.intersection(&a), &a);
        // Absorption.
        prop_assert_eq!(&a.union(&a.intersection(&b)), &a);
        prop_assert_eq!(&a.intersection(&a.union(&b)), &a);
        // Commutativity, associativity, distributivity.
        prop_assert_eq!(a.union(&b), b.union(&a));
        prop_assert_eq!(a.intersection(&b), b.intersection(&a));
        prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
        prop_assert_eq!(
            a.intersection(&b.union(&c)),
            a.intersection(&b).union(&a.intersection(&c))
        );
        // Double complement within the window is the clip.
        prop_assert_eq!(a.gaps(w).gaps(w), a.clip(w));
        // Difference is intersection with the complement.
        let span = Interval::new(LO - 1, HI + 1).unwrap();
        prop_assert_eq!(a.difference(&b), a.intersection(&b.gaps(span)));
    }

    #[test]
    fn serde_round_trips(a in set()) {
        let json = serde_json::to_string(&a).unwrap();
        let back: IntervalSet = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, a);
    }

    #[test]
    fn radix_path_matches_sort(starts in prop::collection::vec((-2_000_000i64..2_000_000, 1i64..5000), 0..2000)) {
        let ivs: Vec<Interval> = starts.iter().map(|&(s, l)| Interval::new(s, s + l).unwrap()).collect();
        let set = IntervalSet::from_unsorted(ivs.clone());
        assert_invariants(&set);
        // Reference: comparison sort, then a naive merge.
        let mut sorted = ivs;
        sorted.sort();
        let mut naive: Vec<(i64, i64)> = Vec::new();
        for iv in sorted {
            match naive.last_mut() {
                Some(last) if iv.start() <= last.1 => last.1 = last.1.max(iv.end()),
                _ => naive.push((iv.start(), iv.end())),
            }
        }
        let got: Vec<(i64, i64)> = set.iter().map(|iv| (iv.start(), iv.end())).collect();
        prop_assert_eq!(got, naive);
    }

    #[test]
    fn coverage_matches_brute_force(
        people in prop::collection::vec(prop::option::weighted(0.8, set()), 0..8),
        w in window(),
    ) {
        let refs: Vec<Option<&IntervalSet>> = people.iter().map(Option::as_ref).collect();
        let cov = Coverage::new(w, refs.iter().copied());
        let known = people.iter().filter(|p| p.is_some()).count() as u32;
        let unknown = people.len() as u32 - known;
        prop_assert_eq!((cov.known(), cov.unknown()), (known, unknown));
        // Segments tile the window, with distinct neighbouring counts.
        let segs: Vec<_> = cov.segments().collect();
        prop_assert_eq!(segs[0].interval.start(), w.start());
        prop_assert_eq!(segs.last().unwrap().interval.end(), w.end());
        for pair in segs.windows(2) {
            prop_assert_eq!(pair[0].interval.end(), pair[1].interval.start());
            prop_assert_ne!(pair[0].counts, pair[1].counts);
        }
        let mut hist = vec![0i64; known as usize + 1];
        for t in w.start()..w.end() {
            let busy = people.iter().flatten().filter(|s| s.contains(t)).count() as u32;
            let c = cov.counts_at(t).unwrap();
            prop_assert_eq!(c.unavailable, busy);
            prop_assert_eq!(c.free, known - busy);
            prop_assert_eq!(c.unknown, unknown);
            hist[c.free as usize] += 1;
        }
        prop_assert_eq!(cov.counts_at(w.end()), None);
        prop_assert_eq!(cov.counts_at(w.start() - 1), None);
        prop_assert_eq!(cov.seconds_by_free_count(), hist);
        for k in 0..=known + 1 {
            let brute: Vec<Interval> = (w.start()..w.end())
                .filter(|&t| people.iter().flatten().filter(|s| !s.contains(t)).count() as u32 >= k)
                .map(|t| Interval::new(t, t + 1).unwrap())
                .collect();
            prop_assert_eq!(cov.at_least_free(k), IntervalSet::from_unsorted(brute));
        }
    }

    #[test]
    fn slot_search_matches_brute_force(
        people in prop::collection::vec(prop::option::weighted(0.8, set()), 0..6),
        bookable in set(),
        duration in 1i64..12,
        step in 1i64..7,
        origin in -5i64..5,
        min_free in prop::option::of(0u32..5),
        limit in 0usize..8,
        distinct in any::<bool>(),
    ) {
        let refs: Vec<Option<&IntervalSet>> = people.iter().map(Option::as_ref).collect();
        let mut query = SlotQuery::new(Duration::from_secs(duration as u64))
            .step_from(Duration::from_secs(step as u64), origin)
            .limit(limit)
            .distinct(distinct);
        if let Some(k) = min_free {
            query = query.min_free(k);
        }
        let got = find_slots(&bookable, refs.iter().copied(), query).unwrap();

        let known = people.iter().filter(|p| p.is_some()).count() as u32;
        let k = min_free.unwrap_or(known);
        let mut scored = Vec::new();
        for s in LO - 30..HI {
            if (s - origin).rem_euclid(step) != 0 {
                continue;
            }
            let slot = Interval::new(s, s + duration).unwrap();
            if !bookable.covers(&slot) {
                continue;
            }
            let free = people
                .iter()
                .flatten()
                .filter(|p| (s..s + duration).all(|t| !p.contains(t)))
                .count() as u32;
            if free >= k {
                scored.push((free, s));
            }
        }
        scored.sort_by_key(|&(f, s)| (Reverse(f), s));
        let mut want: Vec<Interval> = Vec::new();
        for (_, s) in scored {
            if want.len() >= limit {
                break;
            }
            let slot = Interval::new(s, s + duration).unwrap();
            if distinct && want.iter().any(|o| o.overlaps(&slot)) {
                continue;
            }
            want.push(slot);
        }
        prop_assert_eq!(got.iter().map(|s| s.interval).collect::<Vec<_>>(), want);
        for slot in &got {
            for (i, p) in people.iter().enumerate() {
                match p {
                    None => prop_assert!(slot.unknown.contains(&i)),
                    Some(set) if set.overlaps(&slot.interval) => prop_assert!(slot.unavailable.contains(&i)),
                    Some(_) => prop_assert!(slot.free.contains(&i)),
                }
            }
            prop_assert_eq!(slot.free.len() + slot.unavailable.len() + slot.unknown.len(), people.len());
        }
    }

    #[test]
    fn explicit_starts_match_step_grid(
        people in prop::collection::vec(prop::option::weighted(0.8, set()), 0..5),
        bookable in set(),
        duration in 1i64..12,
        step in 1i64..7,
    ) {
        let refs: Vec<Option<&IntervalSet>> = people.iter().map(Option::as_ref).collect();
        let base = SlotQuery::new(Duration::from_secs(duration as u64)).limit(usize::MAX).min_free(0);
        let by_step = find_slots(&bookable, refs.iter().copied(), base.clone().step(Duration::from_secs(step as u64))).unwrap();
        let starts = (LO - 40..HI + 40).filter(|s| s.rem_euclid(step) == 0).rev();
        let by_list = find_slots(&bookable, refs.iter().copied(), base.starts(starts)).unwrap();
        prop_assert_eq!(by_step, by_list);
    }
}

#[test]
fn invalid_queries_are_typed_errors() {
    let bookable = IntervalSet::from(Interval::new(0, 100).unwrap());
    let none: [Option<&IntervalSet>; 0] = [];
    assert!(matches!(
        find_slots(&bookable, none, Duration::ZERO),
        Err(availability::SlotError::InvalidDuration(_))
    ));
    assert!(matches!(
        find_slots(&bookable, none, Duration::from_millis(1500)),
        Err(availability::SlotError::InvalidDuration(_))
    ));
    assert!(matches!(
        find_slots(
            &bookable,
            none,
            SlotQuery::new(Duration::from_secs(1)).step(Duration::ZERO)
        ),
        Err(availability::SlotError::InvalidStep(_))
    ));
    let year = IntervalSet::from(Interval::new(0, 366 * 86_400).unwrap());
    let err = find_slots(
        &year,
        none,
        SlotQuery::new(Duration::from_secs(60)).step(Duration::from_secs(1)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("1000000"), "{err}");
    // No participants with a calendar: every candidate qualifies (0 of 0 free).
    let slots = find_slots(
        &bookable,
        [None],
        SlotQuery::new(Duration::from_secs(50)).step(Duration::from_secs(25)),
    )
    .unwrap();
    assert_eq!(slots.len(), 3);
    assert_eq!(slots[0].unknown, vec![0]);
}

fn wide_set(max_len: i64) -> impl Strategy<Value = IntervalSet> {
    prop::collection::vec((-1_000_000i64..1_000_000, 1..max_len), 0..400).prop_map(move |v| {
        v.into_iter()
            .map(|(s, l)| Interval::new(s, s + l).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Enough endpoints for the radix path, in both key widths (a window
    /// longer than 2^31 seconds needs 64-bit keys).
    #[test]
    fn coverage_matches_brute_force_at_scale(
        people in prop::collection::vec(prop::option::weighted(0.9, wide_set(20_000)), 1..6),
        probes in prop::collection::vec(-1_100_000i64..1_100_000, 50),
        huge in any::<bool>(),
    ) {
        let window = if huge {
            Interval::new(-5_000_000_000, 5_000_000_000).unwrap()
        } else {
            Interval::new(-900_000, 900_000).unwrap()
        };
        let cov = Coverage::new(window, people.iter().map(Option::as_ref));
        let segs: Vec<_> = cov.segments().collect();
        for pair in segs.windows(2) {
            prop_assert_eq!(pair[0].interval.end(), pair[1].interval.start());
            prop_assert_ne!(pair[0].counts, pair[1].counts);
        }
        let mut probes = probes;
        // Probe every segment boundary and its neighbours too.
        probes.extend(segs.iter().flat_map(|s| [s.interval.start() - 1, s.interval.start(), s.interval.end() - 1]));
        for t in probes {
            let got = cov.counts_at(t);
            if !window.contains(t) {
                prop_assert_eq!(got, None);
                continue;
            }
            let busy = people.iter().flatten().filter(|s| s.contains(t)).count() as u32;
            prop_assert_eq!(got.unwrap().unavailable, busy, "at {}", t);
        }
    }

    /// Slot search on the radix path agrees with a per-candidate count.
    #[test]
    fn slot_counts_at_scale(
        people in prop::collection::vec(prop::option::weighted(0.9, wide_set(5_000)), 1..5),
        duration in 1i64..4_000,
    ) {
        let bookable = IntervalSet::from(Interval::new(-200_000, 200_000).unwrap());
        let refs: Vec<Option<&IntervalSet>> = people.iter().map(Option::as_ref).collect();
        let query = SlotQuery::new(Duration::from_secs(duration as u64))
            .step(Duration::from_secs(997))
            .min_free(0)
            .limit(usize::MAX);
        let slots = find_slots(&bookable, refs.iter().copied(), query).unwrap();
        let expected = (-200_000i64..=200_000 - duration).filter(|s| s.rem_euclid(997) == 0).count();
        prop_assert_eq!(slots.len(), expected);
        for slot in &slots {
            let free = people.iter().flatten().filter(|p| !p.overlaps(&slot.interval)).count();
            prop_assert_eq!(slot.free.len(), free);
        }
        for pair in slots.windows(2) {
            prop_assert!(
                pair[0].free.len() > pair[1].free.len()
                    || (pair[0].free.len() == pair[1].free.len()
                        && pair[0].interval.start() < pair[1].interval.start())
            );
        }
    }
}

fn naive_merge(mut ivs: Vec<Interval>) -> Vec<(i64, i64)> {
    ivs.sort();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for iv in ivs {
        match out.last_mut() {
            Some(last) if iv.start() <= last.1 => last.1 = last.1.max(iv.end()),
            _ => out.push((iv.start(), iv.end())),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Calendar-grained starts (multiples of a minute, five minutes, ...),
    /// dense enough for the slot table or sparse enough for the radix sort.
    #[test]
    fn grained_starts_match_sort(
        grain in prop::sample::select(vec![1i64, 7, 60, 300, 900, 3600]),
        offset in -100_000i64..100_000,
        dense in any::<bool>(),
        raw in prop::collection::vec((0i64..1_000_000, 1i64..20_000), 200..1200),
    ) {
        let spread = if dense { 150 } else { 1_000_000 };
        let ivs: Vec<Interval> = raw
            .iter()
            .map(|&(k, len)| {
                let start = offset + (k % spread) * grain;
                Interval::new(start, start + len).unwrap()
            })
            .collect();
        let set = IntervalSet::from_unsorted(ivs.clone());
        let got: Vec<(i64, i64)> = set.iter().map(|iv| (iv.start(), iv.end())).collect();
        prop_assert_eq!(got, naive_merge(ivs));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Coverage on grained endpoints: the difference array (dense) and the
    /// scaled radix sort (sparse) agree with counting at probes.
    #[test]
    fn grained_coverage_matches_brute_force(
        grain in prop::sample::select(vec![60i64, 300, 900, 3600]),
        dense in any::<bool>(),
        raw in prop::collection::vec(prop::collection::vec((0i64..1_000_000, 1i64..50), 1..150), 1..5),
        probes in prop::collection::vec(0i64..2_000, 40),
        ragged_window in any::<bool>(),
    ) {
        let spread = if dense { 300 } else { 1_000_000 };
        let people: Vec<IntervalSet> = raw
            .iter()
            .map(|ivs| {
                ivs.iter()
                    .map(|&(k, len)| {
                        let s = (k % spread) * grain;
                        Interval::new(s, s + len * grain).unwrap()
                    })
                    .collect()
            })
            .collect();
        // A window that starts or ends off the grain forces grain 1.
        let end = if ragged_window { spread * grain / 2 + 7 } else { spread * grain / 2 };
        let window = Interval::new(grain * 3, end).unwrap();
        let cov = Coverage::new(window, people.iter().map(Some));
        let segs: Vec<_> = cov.segments().collect();
        for pair in segs.windows(2) {
            prop_assert_eq!(pair[0].interval.end(), pair[1].interval.start());
            prop_assert_ne!(pair[0].counts, pair[1].counts);
        }
        prop_assert_eq!(segs.last().unwrap().interval.end(), window.end());
        let mut ts: Vec<i64> = probes.iter().map(|p| window.start() + p * (window.len_secs() / 2_000).max(1)).collect();
        ts.extend(segs.iter().flat_map(|s| [s.interval.start() - 1, s.interval.start()]));
        ts.push(window.end() - 1);
        for t in ts {
            if !window.contains(t) {
                continue;
            }
            let busy = people.iter().filter(|s| s.contains(t)).count() as u32;
            prop_assert_eq!(cov.counts_at(t).unwrap().unavailable, busy, "at {}", t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The first participants' endpoints are coarser than a later one's:
    /// the grain guessed from them is wrong and must be corrected.
    #[test]
    fn coverage_with_a_wrong_grain_guess(
        coarse in prop::collection::vec((0i64..200, 1i64..10), 10..40),
        fine in prop::collection::vec((0i64..720_000, 1i64..5_000), 1..40),
        fine_grain in prop::sample::select(vec![1i64, 7, 60, 300]),
        probes in prop::collection::vec(0i64..720_000, 60),
    ) {
        let hourly: IntervalSet = coarse
            .iter()
            .map(|&(h, len)| Interval::new(h * 3600, (h + len) * 3600).unwrap())
            .collect();
        let other: IntervalSet = fine
            .iter()
            .map(|&(s, len)| Interval::new(s * fine_grain / 60, s * fine_grain / 60 + len * fine_grain).unwrap())
            .collect();
        let window = Interval::new(0, 200 * 3600).unwrap();
        let people = [Some(&hourly), None, Some(&other)];
        let cov = Coverage::new(window, people);
        let mut ts = probes;
        ts.extend(cov.segments().map(|s| s.interval.start()));
        for t in ts {
            if !window.contains(t) {
                continue;
            }
            let busy = u32::from(hourly.contains(t)) + u32::from(other.contains(t));
            prop_assert_eq!(cov.counts_at(t).unwrap().unavailable, busy, "at {}", t);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The first starts sit on whole hours, later ones on a finer grain: the
    /// grain guessed from the first is wrong and the merge must retry.
    #[test]
    fn merge_with_a_wrong_grain_guess(
        hours in prop::collection::vec((0i64..500, 1i64..7_200), 20..40),
        rest in prop::collection::vec((0i64..2_000_000, 1i64..7_200), 200..600),
        fine_grain in prop::sample::select(vec![1i64, 7, 60, 300, 900]),
    ) {
        let mut ivs: Vec<Interval> = hours
            .iter()
            .map(|&(h, len)| Interval::new(h * 3600, h * 3600 + len).unwrap())
            .collect();
        ivs.extend(rest.iter().map(|&(k, len)| {
            let s = (k % 2_000) * fine_grain;
            Interval::new(s, s + len).unwrap()
        }));
        let set = IntervalSet::from_unsorted(ivs.clone());
        let got: Vec<(i64, i64)> = set.iter().map(|iv| (iv.start(), iv.end())).collect();
        prop_assert_eq!(got, naive_merge(ivs));
    }
}

proptest! {
    /// `widen` against the model: a second is in the widened set exactly
    /// when some interval, grown by `before` and `after`, holds it
    /// (checked inside a domain shrunk by the widest margin, so the
    /// model's edges cannot hide a second).
    #[test]
    fn widen_matches_the_model(ivs in intervals(), before in 0i64..6, after in 0i64..6) {
        let set = IntervalSet::from_unsorted(ivs.clone());
        let widened = set.widen(before, after);
        assert_invariants(&widened);
        for t in LO + 6..HI - 6 {
            let expected = ivs.iter().any(|iv| iv.start() - before <= t && t < iv.end() + after);
            prop_assert_eq!(widened.contains(t), expected, "t = {}", t);
        }
        // Nothing is lost: the widened set covers the original.
        prop_assert!(set.difference(&widened).is_empty());
    }
}
