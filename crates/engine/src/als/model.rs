//! A fitted ALS model: predictions and recommendations.

use serde::{Deserialize, Serialize};

use crate::top_n::{Candidate, TopN};

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
        Some(self.predict_from_latent(user, item, latent))
    }

    /// [`AlsModel::predict`] for a warm `user` and `item` whose factors' dot product,
    /// summed in order from 0, is `latent`: callers that sum several at once use it so that
    /// their predictions are `predict`'s to the bit.
    pub(crate) fn predict_from_latent(&self, user: u32, item: u32, latent: f32) -> f32 {
        if !self.has_biases() {
            return latent;
        }
        self.global_mean
            + self.user_biases[user as usize]
            + self.item_biases[item as usize]
            + latent
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
        // A model has a rank of at least 1 (`from_parts` refuses 0); max(1) keeps the chunking
        // below from panicking all the same.
        let rank = self.rank.max(1);
        let mut top = TopN::new(n);
        let mut scores = [0f32; SCORE_CHUNK];
        for (c, factors) in self.item_factors.chunks(SCORE_CHUNK * rank).enumerate() {
            let first = c * SCORE_CHUNK;
            let scores = &mut scores[..factors.len() / rank];
            score_rows(uf, factors, scores);
            let end = first + scores.len();
            let biases = self.item_biases.get(first..end).unwrap_or(&[]);
            offer(
                &mut top,
                first as u32,
                scores,
                offset,
                biases,
                &self.item_fitted[first..end],
                &exclude,
            );
        }
        Some(top.into_sorted())
    }
}

/// Items scored per call of [`score_rows`] by [`AlsModel::recommend`].
const SCORE_CHUNK: usize = 512;
/// Items [`score_rows`] sums at once.
const LANES: usize = 8;

/// `scores[j] = u·x_j` for the rows `x_j` of `factors` (each `u.len()` long), each summed
/// factor by factor from 0 like [`dot`], so to the bit the same; LANES items at a time, so
/// that their independent sums overlap instead of each addition waiting on the one before.
///
/// Never inlined, like [`offer`]: browsers first run a WebAssembly function as quickly
/// compiled baseline code and switch to optimised code only for its later calls, so loops
/// inlined into `recommend`, called once per list, would run unoptimised.
#[inline(never)]
fn score_rows(u: &[f32], factors: &[f32], scores: &mut [f32]) {
    let rank = u.len().max(1);
    let blocks = factors.chunks_exact(LANES * rank);
    let rest = blocks.remainder();
    let (full, tail) = scores.split_at_mut(scores.len() - rest.len() / rank);
    for (block, out) in blocks.zip(full.chunks_exact_mut(LANES)) {
        let mut sums = [0f32; LANES];
        for (k, &uk) in u.iter().enumerate() {
            for (j, s) in sums.iter_mut().enumerate() {
                *s += uk * block[j * rank + k];
            }
        }
        out.copy_from_slice(&sums);
    }
    for (x, out) in rest.chunks_exact(rank).zip(tail) {
        *out = dot(u, x);
    }
}

/// Offers `top` the items `first..` with latent scores `scores`: cold items (`fitted`
/// false) and those `exclude` names are left out, and a model with biases adds
/// `offset + biases[j]` (summed in [`AlsModel::predict`]'s order).
#[inline(never)]
fn offer(
    top: &mut TopN,
    first: u32,
    scores: &[f32],
    offset: f32,
    biases: &[f32],
    fitted: &[bool],
    exclude: &impl Fn(u32) -> bool,
) {
    for (j, (&latent, &warm)) in scores.iter().zip(fitted).enumerate() {
        if !warm {
            continue;
        }
        let c = Candidate {
            score: offset + biases.get(j).copied().unwrap_or(0.0) + latent,
            item: first + j as u32,
        };
        // Only candidates good enough to enter pay for the exclusion test.
        if top.admits(&c) && !exclude(c.item) {
            top.push(c);
        }
    }
}

/// The global mean and per-row biases of a model fitted with biases, as passed to
/// [`AlsModel::from_parts`] and returned by [`AlsModel::biases`].
#[derive(Clone, Debug, PartialEq)]
pub struct Biases {
    /// Mean training rating.
    pub global_mean: f32,
    /// One bias per user index (0 for users the model has no factors for).
    pub user: Vec<f32>,
    /// One bias per item index (0 for items the model has no factors for).
    pub item: Vec<f32>,
}

/// Why [`AlsModel::from_parts`] refused its parts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelPartsError {
    /// A model needs at least one latent factor.
    #[error("the rank must be at least 1, got 0")]
    ZeroRank,
    /// A side's factor vector does not hold `rank` values per fitted flag.
    #[error("{side} factors: {rows} {side}s at rank {rank} need {expected} values, got {found}")]
    FactorCount {
        /// `"user"` or `"item"`.
        side: &'static str,
        /// Number of fitted flags, i.e. of rows.
        rows: usize,
        /// The rank.
        rank: usize,
        /// `rows × rank` (saturated at `usize::MAX`).
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A side's bias vector does not hold one value per row.
    #[error("{side} biases: {expected} {side}s need {expected} biases, got {found}")]
    BiasCount {
        /// `"user"` or `"item"`.
        side: &'static str,
        /// Number of rows.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A factor or bias is NaN or infinite.
    #[error("{side} {index} has a non-finite {what}: {value}")]
    NonFinite {
        /// `"user"` or `"item"`.
        side: &'static str,
        /// The row index.
        index: usize,
        /// `"factor"` or `"bias"`.
        what: &'static str,
        /// The offending value.
        value: f32,
    },
    /// The global mean is NaN or infinite.
    #[error("the global mean is not finite: {0}")]
    NonFiniteMean(f32),
}

impl AlsModel {
    /// A model from its parts, as a model file or another trainer holds them: `rank` factors
    /// per user and per item, row by row, and one fitted flag per row (rows without the flag
    /// are cold: they have no predictions, whatever their factors). With `biases`, the model
    /// predicts `mean + b_u + b_i + u·v`, otherwise `u·v`.
    ///
    /// Refused: rank 0, factor or bias vectors of the wrong length, non-finite values.
    pub fn from_parts(
        rank: usize,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
        user_fitted: Vec<bool>,
        item_fitted: Vec<bool>,
        biases: Option<Biases>,
    ) -> Result<AlsModel, ModelPartsError> {
        if rank == 0 {
            return Err(ModelPartsError::ZeroRank);
        }
        for (side, factors, fitted) in [
            ("user", &user_factors, &user_fitted),
            ("item", &item_factors, &item_fitted),
        ] {
            let expected = fitted.len().checked_mul(rank);
            if expected != Some(factors.len()) {
                return Err(ModelPartsError::FactorCount {
                    side,
                    rows: fitted.len(),
                    rank,
                    expected: expected.unwrap_or(usize::MAX),
                    found: factors.len(),
                });
            }
            if let Some(k) = factors.iter().position(|v| !v.is_finite()) {
                return Err(ModelPartsError::NonFinite {
                    side,
                    index: k / rank,
                    what: "factor",
                    value: factors[k],
                });
            }
        }
        let (global_mean, user_biases, item_biases) = match biases {
            None => (0.0, Vec::new(), Vec::new()),
            Some(Biases {
                global_mean,
                user,
                item,
            }) => {
                if !global_mean.is_finite() {
                    return Err(ModelPartsError::NonFiniteMean(global_mean));
                }
                for (side, values, rows) in [
                    ("user", &user, user_fitted.len()),
                    ("item", &item, item_fitted.len()),
                ] {
                    if values.len() != rows {
                        return Err(ModelPartsError::BiasCount {
                            side,
                            expected: rows,
                            found: values.len(),
                        });
                    }
                    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
                        return Err(ModelPartsError::NonFinite {
                            side,
                            index: k,
                            what: "bias",
                            value: values[k],
                        });
                    }
                }
                (global_mean, user, item)
            }
        };
        Ok(AlsModel {
            rank,
            user_factors,
            item_factors,
            user_fitted,
            item_fitted,
            global_mean,
            user_biases,
            item_biases,
        })
    }

    /// The global mean and every user's and item's bias (cold rows included), or `None` for
    /// a model fitted without biases.
    pub fn biases(&self) -> Option<Biases> {
        self.has_biases().then(|| Biases {
            global_mean: self.global_mean,
            user: self.user_biases.clone(),
            item: self.item_biases.clone(),
        })
    }
}

#[cfg(test)]
mod from_parts_tests {
    use super::*;

    fn parts() -> (Vec<f32>, Vec<f32>, Vec<bool>, Vec<bool>) {
        (
            vec![1.0, 2.0, 0.0, 0.0],
            vec![0.5, -1.0, 3.0, 1.0, 0.0, 0.0],
            vec![true, false],
            vec![true, true, false],
        )
    }

    #[test]
    fn parts_make_a_model_that_predicts_from_them() {
        let (uf, itf, uz, iz) = parts();
        let m = AlsModel::from_parts(2, uf, itf, uz, iz, None).unwrap();
        assert_eq!((m.rank(), m.n_users(), m.n_items()), (2, 2, 3));
        assert_eq!(m.predict(0, 0), Some(0.5 - 2.0));
        assert_eq!(m.predict(0, 1), Some(3.0 + 2.0));
        assert_eq!(m.predict(1, 0), None, "user 1 is not fitted");
        assert_eq!(m.predict(0, 2), None, "item 2 is not fitted");
        assert_eq!(m.biases(), None);
        let (uf, itf, uz, iz) = parts();
        let b = Biases {
            global_mean: 3.5,
            user: vec![0.25, 0.0],
            item: vec![-0.5, 1.0, 0.0],
        };
        let m = AlsModel::from_parts(2, uf, itf, uz, iz, Some(b.clone())).unwrap();
        assert_eq!(m.predict(0, 1), Some(3.5 + 0.25 + 1.0 + 5.0));
        assert_eq!(m.biases(), Some(b));
    }

    #[test]
    fn bad_parts_are_refused_with_what_and_where() {
        let (uf, itf, uz, iz) = parts();
        assert_eq!(
            AlsModel::from_parts(0, uf.clone(), itf.clone(), uz.clone(), iz.clone(), None)
                .unwrap_err(),
            ModelPartsError::ZeroRank
        );
        let err = AlsModel::from_parts(
            2,
            uf.clone(),
            itf[..5].to_vec(),
            uz.clone(),
            iz.clone(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ModelPartsError::FactorCount {
                side: "item",
                rows: 3,
                rank: 2,
                expected: 6,
                found: 5
            }
        );
        assert_eq!(
            err.to_string(),
            "item factors: 3 items at rank 2 need 6 values, got 5"
        );
        let mut nan = itf.clone();
        nan[3] = f32::NAN;
        assert!(matches!(
            AlsModel::from_parts(2, uf.clone(), nan, uz.clone(), iz.clone(), None),
            Err(ModelPartsError::NonFinite {
                side: "item",
                index: 1,
                what: "factor",
                ..
            })
        ));
        let biases = |global_mean: f32, user: Vec<f32>, item: Vec<f32>| {
            Some(Biases {
                global_mean,
                user,
                item,
            })
        };
        let with = |b| AlsModel::from_parts(2, uf.clone(), itf.clone(), uz.clone(), iz.clone(), b);
        assert_eq!(
            with(biases(3.0, vec![0.0], vec![0.0; 3])).unwrap_err(),
            ModelPartsError::BiasCount {
                side: "user",
                expected: 2,
                found: 1
            }
        );
        assert_eq!(
            with(biases(f32::INFINITY, vec![0.0; 2], vec![0.0; 3])).unwrap_err(),
            ModelPartsError::NonFiniteMean(f32::INFINITY)
        );
        assert!(matches!(
            with(biases(3.0, vec![0.0; 2], vec![0.0, 0.0, f32::NAN])),
            Err(ModelPartsError::NonFinite {
                side: "item",
                index: 2,
                what: "bias",
                ..
            })
        ));
    }
}

/// `a·b`, summed in order from 0 like the scoring loops of [`AlsModel::recommend`] and
/// `serve`, so that every path gives a score the same bits.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
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
    fn recommendations_are_the_best_predictions_to_the_bit() {
        // 3 users × 1,203 items at rank 5 (two chunks of 512 and one of 179: 22 blocks of 8
        // items and 3 left over), every 7th item cold, with repeated factor rows so that some
        // scores tie.
        let rank = 5;
        let n_items = 1203;
        let value = |a: usize, b: usize| ((a * 37 + b * 11) % 23) as f32 / 7.0 - 1.5;
        let m = AlsModel {
            rank,
            user_factors: (0..3 * rank).map(|k| value(k, 3)).collect(),
            item_factors: (0..n_items * rank).map(|k| value(k % 40, 1)).collect(),
            user_fitted: vec![true; 3],
            item_fitted: (0..n_items).map(|i| i % 7 != 3).collect(),
            global_mean: 0.0,
            user_biases: vec![],
            item_biases: vec![],
        };
        let excluded = |i: u32| i.is_multiple_of(5);
        for user in 0..3 {
            let mut all: Vec<(u32, f32)> = (0..n_items as u32)
                .filter(|&i| !excluded(i))
                .filter_map(|i| Some((i, m.predict(user, i)?)))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for n in [1, 10, 150, 2000] {
                let got = m.recommend(user, n, excluded).unwrap();
                let want = &all[..n.min(all.len())];
                assert_eq!(got.len(), want.len(), "user {user}, n {n}");
                for (g, w) in got.iter().zip(want) {
                    assert_eq!((g.0, g.1.to_bits()), (w.0, w.1.to_bits()), "user {user}");
                }
            }
        }
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
