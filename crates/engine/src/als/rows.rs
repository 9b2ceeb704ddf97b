//! Ratings grouped by user or by item (compressed sparse rows).

use crate::ratings::Ratings;
use crate::tier_up::CHUNK;

/// The ratings of each row (user, or item) stored contiguously: row `r` holds
/// `cols[offsets[r]..offsets[r + 1]]` with values at the same positions.
#[derive(Clone, Debug)]
pub struct RatingRows {
    offsets: Vec<usize>,
    cols: Vec<u32>,
    values: Vec<f32>,
}

impl RatingRows {
    /// Groups ratings by user (columns are items).
    pub fn by_user(ratings: &Ratings) -> Self {
        Self::build(
            ratings.n_users(),
            ratings.user_indices(),
            ratings.item_indices(),
            ratings.values(),
        )
    }

    /// Groups ratings by item (columns are users).
    pub fn by_item(ratings: &Ratings) -> Self {
        Self::build(
            ratings.n_items(),
            ratings.item_indices(),
            ratings.user_indices(),
            ratings.values(),
        )
    }

    fn build(n_rows: usize, rows: &[u32], cols: &[u32], values: &[f32]) -> Self {
        // A chunk of ratings per call of the two passes over them (see `crate::tier_up`):
        // a browser's first fit builds these in one call each.
        let mut offsets = vec![0usize; n_rows + 1];
        for chunk in rows.chunks(CHUNK) {
            count_each(chunk, &mut offsets[1..]);
        }
        for r in 0..n_rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next = offsets.clone();
        let mut out_cols = vec![0u32; rows.len()];
        let mut out_values = vec![0f32; rows.len()];
        for start in (0..rows.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(rows.len());
            place(
                &rows[start..end],
                &cols[start..end],
                &values[start..end],
                &mut next,
                &mut out_cols,
                &mut out_values,
            );
        }
        Self {
            offsets,
            cols: out_cols,
            values: out_values,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The columns and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let span = self.offsets[r]..self.offsets[r + 1];
        (&self.cols[span.clone()], &self.values[span])
    }
}

/// Adds one to `counts[i]` for each index `i` of `indices` (a call per chunk of a column:
/// see `crate::tier_up`).
#[inline(never)]
pub(crate) fn count_each(indices: &[u32], counts: &mut [usize]) {
    for &i in indices {
        counts[i as usize] += 1;
    }
}

/// Puts each rating at its row's next free position (`next[row]`), advancing it.
#[inline(never)]
fn place(
    rows: &[u32],
    cols: &[u32],
    values: &[f32],
    next: &mut [usize],
    out_cols: &mut [u32],
    out_values: &mut [f32],
) {
    for ((&r, &c), &v) in rows.iter().zip(cols).zip(values) {
        let slot = &mut next[r as usize];
        out_cols[*slot] = c;
        out_values[*slot] = v;
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_ratings_by_row_in_input_order() {
        let mut r = Ratings::default();
        r.push("a", "x", 1.0);
        r.push("b", "x", 2.0);
        r.push("a", "y", 3.0);
        let by_user = RatingRows::by_user(&r);
        assert_eq!(by_user.n_rows(), 2);
        assert_eq!(by_user.row(0), (&[0u32, 1][..], &[1.0f32, 3.0][..]));
        assert_eq!(by_user.row(1), (&[0u32][..], &[2.0f32][..]));
        let by_item = RatingRows::by_item(&r);
        assert_eq!(by_item.row(0), (&[0u32, 1][..], &[1.0f32, 2.0][..]));
    }

    #[test]
    fn rows_built_over_several_chunks_keep_every_rating_in_input_order() {
        let n = 2 * CHUNK + 777;
        let (n_rows, n_cols) = (301, 1000);
        let rows: Vec<u32> = (0..n as u32)
            .map(|k| k.wrapping_mul(2_654_435_761) % n_rows)
            .collect();
        let cols: Vec<u32> = (0..n as u32).map(|k| k * 7 % n_cols).collect();
        let values: Vec<f32> = (0..n).map(|k| k as f32).collect();
        let grouped = RatingRows::build(n_rows as usize, &rows, &cols, &values);
        assert_eq!(grouped.n_rows(), n_rows as usize);
        for r in 0..n_rows {
            let expected: (Vec<u32>, Vec<f32>) = (0..n)
                .filter(|&k| rows[k] == r)
                .map(|k| (cols[k], values[k]))
                .unzip();
            let (c, v) = grouped.row(r as usize);
            assert_eq!((c.to_vec(), v.to_vec()), expected, "row {r}");
        }
    }
}
