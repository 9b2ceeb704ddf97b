//! A fitted ALS model: predictions and recommendations.

use serde::{Deserialize, Serialize};

/// User and item factors learned by ALS, indexed like the ratings they were fitted on.
///
/// A model fitted with biases also holds a global mean and one bias per user and per item,
/// and predicts `mean + b_u + b_i + u·v`; without, the bias fields are empty and it predicts
/// `u·v` as Spark does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlsModel {
    pub(super) rank: usize,
    pub(super) user_factors: Vec<f32>,
    pub(super) item_factors: Vec<f32>,
    pub(super) user_fitted: Vec<bool>,
    pub(super) item_fitted: Vec<bool>,
    /// Mean training rating (0 without biases). Defaulted so that models serialised before
    /// biases existed still load.
    #[serde(default)]
    pub(super) global_mean: f32,
    /// One bias per user, or empty without biases.
    #[serde(default)]
    pub(super) user_biases: Vec<f32>,
    /// One bias per item, or empty without biases.
    #[serde(default)]
    pub(super) item_biases: Vec<f32>,
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

    /// Whether the model was fitted with a global mean and user and item biases.
    pub fn has_biases(&self) -> bool {
        !self.user_biases.is_empty()
    }

    /// The global mean rating of a model with biases; 0 without.
    pub fn global_mean(&self) -> f32 {
        self.global_mean
    }

    /// The bias of `user` (0 in a model without biases), or `None` for a cold user.
    pub fn user_bias(&self, user: u32) -> Option<f32> {
        self.user_factors(user)?;
        Some(self.user_biases.get(user as usize).copied().unwrap_or(0.0))
    }

    /// The bias of `item` (0 in a model without biases), or `None` for a cold item.
    pub fn item_bias(&self, item: u32) -> Option<f32> {
        self.item_factors(item)?;
        Some(self.item_biases.get(item as usize).copied().unwrap_or(0.0))
    }

    /// The predicted rating (`mean + b_u + b_i + u·v` with biases, `u·v` without), or `None`
    /// when the user or the item is cold (unseen in training), where Spark predicts NaN.
    pub fn predict(&self, user: u32, item: u32) -> Option<f32> {
        let latent = dot(self.user_factors(user)?, self.item_factors(item)?);
        if !self.has_biases() {
            return Some(latent);
        }
        Some(
            self.global_mean
                + self.user_biases[user as usize]
                + self.item_biases[item as usize]
                + latent,
        )
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
        // The mean and the user's bias shift every score alike, but are kept so that scores
        // are predicted ratings.
        let offset = self.global_mean + self.user_bias(user)?;
        let item_bias = |i: u32| self.item_biases.get(i as usize).copied().unwrap_or(0.0);
        let mut scored: Vec<(u32, f32)> = (0..self.n_items() as u32)
            .filter(|&i| !exclude(i))
            .filter_map(|i| Some((i, offset + item_bias(i) + dot(uf, self.item_factors(i)?))))
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
            global_mean: 0.0,
            user_biases: vec![],
            item_biases: vec![],
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

    #[test]
    fn biases_enter_predictions_and_recommendations_but_not_the_factors() {
        let m = AlsModel {
            global_mean: 3.0,
            user_biases: vec![0.5, 0.0],
            item_biases: vec![-1.0, 0.25, 2.0, 0.0],
            ..model()
        };
        assert!(m.has_biases());
        assert_eq!(m.user_factors(0), Some(&[1.0f32, 0.0][..]));
        assert_eq!(m.predict(0, 1), Some(3.0 + 0.5 + 0.25 + 3.0));
        assert_eq!(m.predict(1, 1), None);
        assert_eq!(
            (m.user_bias(0), m.item_bias(2), m.item_bias(3)),
            (Some(0.5), Some(2.0), None)
        );
        // Item 2's bias lifts it above item 1 (3.5 + 2 + 2 against 3.5 + 0.25 + 3).
        assert_eq!(
            m.recommend(0, 2, |_| false),
            Some(vec![(2, 7.5), (1, 6.75)])
        );
        assert_eq!(model().user_bias(0), Some(0.0));
    }
}
