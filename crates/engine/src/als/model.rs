//! A fitted ALS model: predictions and recommendations.

use serde::{Deserialize, Serialize};

/// User and item factors learned by ALS, indexed like the ratings they were fitted on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlsModel {
    pub(super) rank: usize,
    pub(super) user_factors: Vec<f32>,
    pub(super) item_factors: Vec<f32>,
    pub(super) user_fitted: Vec<bool>,
    pub(super) item_fitted: Vec<bool>,
}

impl AlsModel {
    /// Number of latent factors.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Size of the user index space the model covers.
    pub fn n_users(&self) -> usize {
        self.user_fitted.len()
    }

    /// Size of the item index space the model covers.
    pub fn n_items(&self) -> usize {
        self.item_fitted.len()
    }

    /// The factors of `user`, or `None` for a user the model never saw rate anything.
    pub fn user_factors(&self, user: u32) -> Option<&[f32]> {
        let u = user as usize;
        (u < self.n_users() && self.user_fitted[u])
            .then(|| &self.user_factors[u * self.rank..(u + 1) * self.rank])
    }

    /// The factors of `item`, or `None` for an item nobody rated in training.
    pub fn item_factors(&self, item: u32) -> Option<&[f32]> {
        let i = item as usize;
        (i < self.n_items() && self.item_fitted[i])
            .then(|| &self.item_factors[i * self.rank..(i + 1) * self.rank])
    }

    /// The predicted rating, or `None` when the user or the item is cold (unseen in
    /// training), where Spark predicts NaN.
    pub fn predict(&self, user: u32, item: u32) -> Option<f32> {
        Some(dot(self.user_factors(user)?, self.item_factors(item)?))
    }

    /// The `n` items with the highest predicted score for `user`, best first, skipping items
    /// for which `exclude` is true (typically those the user already rated). `None` for a
    /// cold user.
    pub fn recommend(
        &self,
        user: u32,
        n: usize,
        exclude: impl Fn(u32) -> bool,
    ) -> Option<Vec<(u32, f32)>> {
        let uf = self.user_factors(user)?;
        let mut scored: Vec<(u32, f32)> = (0..self.n_items() as u32)
            .filter(|&i| !exclude(i))
            .filter_map(|i| Some((i, dot(uf, self.item_factors(i)?))))
            .collect();
        let by_score_desc =
            |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > n && n > 0 {
            scored.select_nth_unstable_by(n - 1, by_score_desc);
        }
        scored.truncate(n);
        scored.sort_unstable_by(by_score_desc);
        Some(scored)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> AlsModel {
        AlsModel {
            rank: 2,
            user_factors: vec![1.0, 0.0, 0.0, 0.0],
            item_factors: vec![1.0, 5.0, 3.0, 0.0, 2.0, 9.0, 0.0, 0.0],
            user_fitted: vec![true, false],
            item_fitted: vec![true, true, true, false],
        }
    }

    #[test]
    fn predictions_are_dot_products_and_cold_rows_have_none() {
        let m = model();
        assert_eq!(m.predict(0, 1), Some(3.0));
        assert_eq!(m.predict(1, 1), None);
        assert_eq!(m.predict(0, 3), None);
        assert_eq!(m.predict(0, 99), None);
    }

    #[test]
    fn recommendations_are_best_first_and_skip_excluded_and_cold_items() {
        let m = model();
        assert_eq!(m.recommend(0, 2, |_| false), Some(vec![(1, 3.0), (2, 2.0)]));
        assert_eq!(
            m.recommend(0, 10, |i| i == 1),
            Some(vec![(2, 2.0), (0, 1.0)])
        );
        assert_eq!(m.recommend(1, 2, |_| false), None);
    }
}
