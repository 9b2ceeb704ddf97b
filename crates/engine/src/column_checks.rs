//! Checks of whole columns (indices, ratings, sorted rows) that the browser runs on tens of
//! millions of values when it takes a read file from its reading worker.
//!
//! Each check reads every value and folds the answer without stopping early: a loop that
//! may stop at any value runs one value at a time, while a fold compiles to vector code
//! (WebAssembly SIMD included). And it folds a chunk of the column per call (see
//! [`crate::tier_up`]). At 50 million ratings, the short-circuiting checks of the rating
//! columns and of the users' rated items, one call each, took 131 and 117 ms in one task of
//! the page. Bad columns are rare (they would be a bug of the reading worker), so reading
//! them to the end costs nothing that matters.

use crate::tier_up::CHUNK;

/// True when every value is below `bound` (an empty column passes).
pub fn all_below(values: &[u32], bound: usize) -> bool {
    max(values).is_none_or(|m| (m as usize) < bound)
}

/// The largest value; `None` for an empty column.
pub fn max(values: &[u32]) -> Option<u32> {
    values.chunks(CHUNK).map(max_of).max()
}

#[inline(never)]
fn max_of(values: &[u32]) -> u32 {
    values.iter().fold(0, |max, &v| max.max(v))
}

/// True when no value is infinite or not a number.
pub fn all_finite(values: &[f32]) -> bool {
    values.chunks(CHUNK).all(|c| count_not_finite(c) == 0)
}

#[inline(never)]
fn count_not_finite(values: &[f32]) -> u32 {
    // The bits of an infinity or a NaN have every exponent bit set.
    const EXPONENT: u32 = 0x7f80_0000;
    values.iter().fold(0, |bad, v| {
        bad + u32::from(v.to_bits() & EXPONENT == EXPONENT)
    })
}

/// True when each row of `values` (row `r` is `values[offsets[r]..offsets[r + 1]]`) is
/// strictly increasing. `offsets` must start at 0, never decrease and end at
/// `values.len()`.
pub fn rows_increasing(offsets: &[usize], values: &[u32]) -> bool {
    debug_assert!(offsets.first() == Some(&0) && offsets.last() == Some(&values.len()));
    // Every step that does not rise must be where one row ends and the next begins: count
    // the steps that do not rise over the whole column, then those at row boundaries.
    let steps = values.len().saturating_sub(1);
    let falls: usize = (0..steps)
        .step_by(CHUNK)
        .map(|at| count_falls(&values[at..(at + CHUNK + 1).min(values.len())]))
        .sum();
    let mut at_boundaries = 0;
    let mut last = 0;
    for &o in offsets {
        // Empty rows repeat an offset: each boundary counts once.
        if o != last && o < values.len() {
            at_boundaries += usize::from(values[o - 1] >= values[o]);
        }
        last = o;
    }
    falls == at_boundaries
}

/// The steps of `values` that do not rise.
#[inline(never)]
fn count_falls(values: &[u32]) -> usize {
    values
        .iter()
        .zip(&values[1.min(values.len())..])
        .fold(0, |n, (a, b)| n + usize::from(a >= b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_below_compares_the_largest_value() {
        assert!(all_below(&[], 0));
        assert!(all_below(&[0, 4, 2], 5));
        assert!(!all_below(&[0, 5, 2], 5));
        assert!(!all_below(&[u32::MAX], 5));
        assert!(all_below(&[u32::MAX], u32::MAX as usize + 1));
    }

    #[test]
    fn all_finite_refuses_infinities_and_nans() {
        assert!(all_finite(&[]));
        assert!(all_finite(&[0.0, -1.5, f32::MAX, f32::MIN_POSITIVE, 1e-45]));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN] {
            assert!(!all_finite(&[1.0, bad, 2.0]), "{bad}");
        }
    }

    /// The rule as the page checked it before, one row at a time.
    fn rows_increasing_one_by_one(offsets: &[usize], values: &[u32]) -> bool {
        offsets
            .windows(2)
            .all(|w| values[w[0]..w[1]].windows(2).all(|p| p[0] < p[1]))
    }

    #[test]
    fn rows_increasing_agrees_with_checking_row_by_row() {
        let cases: &[(&[usize], &[u32])] = &[
            (&[0], &[]),
            (&[0, 0, 0], &[]),
            (&[0, 1], &[7]),
            (&[0, 3], &[1, 2, 3]),
            (&[0, 3], &[1, 3, 3]),
            (&[0, 3], &[3, 2, 4]),
            (&[0, 2, 3], &[1, 4, 0]),
            (&[0, 2, 3], &[4, 1, 0]),
            (&[0, 1, 2], &[5, 5]),
            (&[0, 2, 2, 4], &[1, 2, 2, 3]),
            (&[0, 2, 2, 4], &[1, 2, 0, 0]),
            (&[0, 0, 2, 2, 4, 4], &[3, 9, 0, 1]),
            (&[0, 1, 1, 3], &[9, 9, 8]),
        ];
        for &(offsets, values) in cases {
            assert_eq!(
                rows_increasing(offsets, values),
                rows_increasing_one_by_one(offsets, values),
                "{offsets:?} {values:?}"
            );
        }
        // Every column of up to 4 values below 3, cut into rows every way.
        for len in 0..=4usize {
            for code in 0..3usize.pow(len as u32) {
                let values: Vec<u32> = (0..len)
                    .map(|k| (code / 3usize.pow(k as u32) % 3) as u32)
                    .collect();
                for cuts in 0..1usize << len.saturating_sub(1) {
                    let mut offsets = vec![0];
                    offsets.extend((1..len).filter(|k| cuts >> (k - 1) & 1 == 1));
                    if len > 0 {
                        offsets.push(len);
                    }
                    assert_eq!(
                        rows_increasing(&offsets, &values),
                        rows_increasing_one_by_one(&offsets, &values),
                        "{offsets:?} {values:?}"
                    );
                }
            }
        }
    }
}
