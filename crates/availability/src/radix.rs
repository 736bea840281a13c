//! LSD radix sort on a bit range of an integer key.
//!
//! Interval starts and packed endpoints are integers whose varying bits are
//! few (a year of seconds is 25 bits), so a least-significant-digit radix
//! sort over just those bits, in digits of at most 11 bits (an 8 KiB
//! histogram that stays in L1; 13 bits for large inputs when that saves a
//! pass), needs two or three scatter passes and no comparisons. `radsort` (8-bit digits over the whole key) needs four
//! passes for the same keys and cannot carry a payload in the low bits, which
//! is why this small sort is ours; it is checked against `sort_by_key` by
//! property tests.

/// Below this many elements, comparison sorting is faster than setting up
/// the histograms (measured with `benches/interval_merge.rs`).
pub(crate) const THRESHOLD: usize = 192;

const MAX_DIGIT_BITS: u32 = 11;

use std::cell::RefCell;

/// Scratch buffers larger than this many elements are freed after use
/// rather than kept for the next call.
const RETAIN: usize = 1 << 20;

thread_local! {
    static SCRATCH: RefCell<[Vec<u64>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` with two empty `u64` buffers that are reused across calls on
/// this thread (up to [`RETAIN`] elements each), so repeated builds do not
/// pay for fresh pages every time.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u64>, &mut Vec<u64>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let [a, b] = &mut *bufs;
            a.clear();
            b.clear();
            let out = f(a, b);
            for buf in bufs.iter_mut() {
                buf.clear();
                if buf.capacity() > RETAIN {
                    *buf = Vec::new();
                }
            }
            out
        }
        // Re-entered (never today): fresh buffers.
        Err(_) => f(&mut Vec::new(), &mut Vec::new()),
    })
}

/// Integer types a radix sort can key on.
pub(crate) trait Key: Copy + Ord + Default {
    /// The key as a `u64`.
    fn to_u64(self) -> u64;
}

impl Key for u32 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
}

impl Key for u64 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self
    }
}

/// Finds the coarsest calendar grain (an hour, a quarter hour, five minutes,
/// a minute) dividing every offset pushed, or 1. Calendar times sit on minute
/// or five-minute boundaries; dividing by the grain leaves fewer bits to sort
/// and can make the key range small enough to index directly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GrainCheck {
    /// The coarsest grain every offset so far is a multiple of. Each grain
    /// divides the one before it (3600, 900, 300, 60, 1), so dropping to the
    /// next one keeps every earlier offset a multiple.
    g: i64,
}

impl GrainCheck {
    pub(crate) const fn new() -> Self {
        Self { g: 3600 }
    }

    /// Records one offset; returns `false` once no grain above 1 can hold.
    /// One divisibility test by a constant per offset (a multiply), except
    /// the few times the grain drops.
    #[inline(always)]
    pub(crate) fn push(&mut self, x: i64) -> bool {
        let u = x.unsigned_abs();
        loop {
            let fits = match self.g {
                3600 => u.is_multiple_of(3600),
                900 => u.is_multiple_of(900),
                300 => u.is_multiple_of(300),
                60 => u.is_multiple_of(60),
                _ => return false,
            };
            if fits {
                return true;
            }
            self.g = match self.g {
                3600 => 900,
                900 => 300,
                300 => 60,
                _ => 1,
            };
        }
    }

    pub(crate) const fn grain(&self) -> i64 {
        self.g
    }
}

/// `x / g` for the grains [`GrainCheck`] finds and `x >= 0`, with constant
/// divisors (a multiplication each) instead of a hardware division.
#[inline(always)]
pub(crate) fn div_grain(x: i64, g: i64) -> i64 {
    let u = x as u64;
    (match g {
        3600 => u / 3600,
        900 => u / 900,
        300 => u / 300,
        60 => u / 60,
        _ => u,
    }) as i64
}

/// The number of bits needed to represent `max`.
pub(crate) fn bit_width(max: u64) -> u32 {
    u64::BITS - max.leading_zeros()
}

/// Histogram slots per pass: `2^MAX_DIGIT_BITS`.
const BUCKETS: usize = 1 << MAX_DIGIT_BITS;

/// Sorts `v` stably by `(x >> shift)`, whose values must fit in `bits` bits,
/// using `buf` as scratch. Elements with equal keys keep their input order.
pub(crate) fn sort_by_bits<T: Key>(v: &mut [T], buf: &mut Vec<T>, shift: u32, bits: u32) {
    let n = v.len();
    if n < 2 || bits == 0 {
        return;
    }
    if n < THRESHOLD || n > u32::MAX as usize {
        v.sort_by_key(|x| x.to_u64() >> shift);
        return;
    }
    // One monomorphised body per pass count and histogram size, so the
    // histograms are fixed-size arrays and the digit loops unroll. Large
    // inputs take 13-bit digits when that saves a pass (the 32 KiB
    // histograms then pay for themselves), everything else 11-bit digits.
    if n >= LARGE && bits.div_ceil(LARGE_DIGIT_BITS) < bits.div_ceil(MAX_DIGIT_BITS) {
        match bits.div_ceil(LARGE_DIGIT_BITS) {
            1 => sort_passes::<T, 1, LARGE_BUCKETS>(v, buf, shift, bits),
            2 => sort_passes::<T, 2, LARGE_BUCKETS>(v, buf, shift, bits),
            3 => sort_passes::<T, 3, LARGE_BUCKETS>(v, buf, shift, bits),
            4 => sort_passes::<T, 4, LARGE_BUCKETS>(v, buf, shift, bits),
            _ => sort_passes::<T, 5, LARGE_BUCKETS>(v, buf, shift, bits),
        }
    } else {
        match bits.div_ceil(MAX_DIGIT_BITS) {
            1 => sort_passes::<T, 1, BUCKETS>(v, buf, shift, bits),
            2 => sort_passes::<T, 2, BUCKETS>(v, buf, shift, bits),
            3 => sort_passes::<T, 3, BUCKETS>(v, buf, shift, bits),
            4 => sort_passes::<T, 4, BUCKETS>(v, buf, shift, bits),
            5 => sort_passes::<T, 5, BUCKETS>(v, buf, shift, bits),
            _ => sort_passes::<T, 6, BUCKETS>(v, buf, shift, bits),
        }
    }
}

/// From this many elements on, 13-bit digits (measured: 10-20% faster than
/// 11-bit ones from 10^4 elements, slower below a few thousand).
const LARGE: usize = 4096;
const LARGE_DIGIT_BITS: u32 = 13;
const LARGE_BUCKETS: usize = 1 << LARGE_DIGIT_BITS;

fn sort_passes<T: Key, const P: usize, const B: usize>(
    v: &mut [T],
    buf: &mut Vec<T>,
    shift: u32,
    bits: u32,
) {
    let n = v.len();
    let digit_bits = bits.div_ceil(P as u32);
    let radix = 1usize << digit_bits;
    // `& (B - 1)` lets the compiler drop the bounds checks on the
    // histograms; `mask` never exceeds it.
    let mask = (radix - 1) & (B - 1);

    // One read pass builds every pass's histogram (`n` fits in u32).
    let mut hist = [[0u32; B]; P];
    for &x in v.iter() {
        let k = x.to_u64() >> shift;
        for (p, h) in hist.iter_mut().enumerate() {
            h[(k >> (p as u32 * digit_bits)) as usize & mask] += 1;
        }
    }

    buf.clear();
    buf.resize(n, T::default());
    let mut in_v = true;
    for (p, counts) in hist.iter_mut().enumerate() {
        let counts = &mut counts[..radix];
        // A digit that is the same for every element changes nothing.
        if counts.contains(&(n as u32)) {
            continue;
        }
        let mut sum = 0u32;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        let sh = shift + p as u32 * digit_bits;
        let (src, dst): (&[T], &mut [T]) = if in_v {
            (&*v, &mut buf[..])
        } else {
            (&buf[..], &mut *v)
        };
        for &x in src {
            let d = (x.to_u64() >> sh) as usize & mask;
            let i = counts[d] as usize;
            counts[d] += 1;
            // Always in bounds: the prefix sums count exactly `n` slots.
            if let Some(slot) = dst.get_mut(i) {
                *slot = x;
            }
        }
        in_v = !in_v;
    }
    if !in_v {
        v.copy_from_slice(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_u64_by_high_bits_stably(
            v in prop::collection::vec(any::<u64>(), 0..1500),
            shift in 0u32..40,
        ) {
            let bits = 64 - shift;
            let mut got = v.clone();
            sort_by_bits(&mut got, &mut Vec::new(), shift, bits);
            let mut want = v;
            want.sort_by_key(|x| x >> shift); // stable, like ours
            prop_assert_eq!(got, want);
        }

        #[test]
        fn sorts_large_inputs_with_wide_digits(
            v in prop::collection::vec(any::<u64>(), LARGE..LARGE + 3000),
            shift in 0u32..40,
        ) {
            let mut got = v.clone();
            sort_by_bits(&mut got, &mut Vec::new(), shift, 64 - shift);
            let mut want = v;
            want.sort_by_key(|x| x >> shift);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn sorts_u32_with_few_bits(v in prop::collection::vec(0u32..5000, 0..3000)) {
            let mut got = v.clone();
            sort_by_bits(&mut got, &mut Vec::new(), 0, bit_width(4999));
            let mut want = v;
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
        assert_eq!(bit_width(u64::MAX), 64);
    }
}
