//! Ratings grouped by user or by item (compressed sparse rows).

use crate::ratings::Ratings;

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
        let mut offsets = vec![0usize; n_rows + 1];
        for &r in rows {
            offsets[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next = offsets.clone();
        let mut out_cols = vec![0u32; rows.len()];
        let mut out_values = vec![0f32; rows.len()];
        for k in 0..rows.len() {
            let slot = &mut next[rows[k] as usize];
            out_cols[*slot] = cols[k];
            out_values[*slot] = values[k];
            *slot += 1;
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
}
