//! The ALS training loop.

use std::ops::ControlFlow;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::model::AlsModel;
use super::params::ValidAlsParams;
use super::rows::RatingRows;
use super::solve::solve_side;
use crate::ratings::Ratings;

/// What happened in one iteration, for progress bars and loss charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// 1-based iteration just finished.
    pub iteration: usize,
    /// Total number of iterations.
    pub max_iter: usize,
    /// RMSE of the model on its own training ratings after this iteration.
    pub train_rmse: f64,
}

/// Training stopped because the progress callback asked it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("training was cancelled")]
pub struct Cancelled;

/// Fits explicit-feedback ALS to `ratings`.
pub fn fit(ratings: &Ratings, params: &ValidAlsParams) -> AlsModel {
    match fit_with_progress(ratings, params, |_| ControlFlow::Continue(())) {
        Ok(model) => model,
        Err(Cancelled) => unreachable!("the callback never breaks"),
    }
}

/// Fits explicit-feedback ALS, calling `on_iteration` after every iteration; returning
/// `ControlFlow::Break` from it stops the fit.
///
/// As in Spark, both sides start from Gaussian vectors scaled to unit length, and each
/// iteration first solves the items from the users, then the users from the items.
pub fn fit_with_progress(
    ratings: &Ratings,
    params: &ValidAlsParams,
    mut on_iteration: impl FnMut(&IterationReport) -> ControlFlow<()>,
) -> Result<AlsModel, Cancelled> {
    let rank = params.rank;
    let by_user = RatingRows::by_user(ratings);
    let by_item = RatingRows::by_item(ratings);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut model = AlsModel {
        rank,
        user_factors: unit_gaussian_rows(&mut rng, ratings.n_users(), rank),
        item_factors: unit_gaussian_rows(&mut rng, ratings.n_items(), rank),
        user_fitted: (0..ratings.n_users())
            .map(|u| !by_user.row(u).0.is_empty())
            .collect(),
        item_fitted: (0..ratings.n_items())
            .map(|i| !by_item.row(i).0.is_empty())
            .collect(),
    };
    for iteration in 1..=params.max_iter {
        solve_side(
            &by_item,
            &model.user_factors,
            rank,
            params.reg_param,
            &mut model.item_factors,
            &mut model.item_fitted,
        );
        solve_side(
            &by_user,
            &model.item_factors,
            rank,
            params.reg_param,
            &mut model.user_factors,
            &mut model.user_fitted,
        );
        let report = IterationReport {
            iteration,
            max_iter: params.max_iter,
            train_rmse: train_rmse(&model, ratings),
        };
        if on_iteration(&report).is_break() {
            return Err(Cancelled);
        }
    }
    Ok(model)
}

fn unit_gaussian_rows(rng: &mut ChaCha8Rng, n_rows: usize, rank: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n_rows * rank);
    for _ in 0..n_rows {
        let row: Vec<f32> = (0..rank).map(|_| StandardNormal.sample(rng)).collect();
        let norm = row
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        out.extend(row.iter().map(|v| v / norm));
    }
    out
}

fn train_rmse(model: &AlsModel, ratings: &Ratings) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for r in ratings.iter() {
        if let Some(p) = model.predict(r.user, r.item) {
            sum += f64::from(p - r.value).powi(2);
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        (sum / n as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::AlsParams;
    use crate::metrics::{evaluate, ColdStartStrategy};
    use crate::split::random_split;

    /// Ratings from a planted rank-3 matrix, observed at random.
    fn planted(n_users: usize, n_items: usize, density: f64, seed: u64) -> Ratings {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = 3;
        let u: Vec<f64> = (0..n_users * k)
            .map(|_| rng.random_range(0.3..1.3))
            .collect();
        let v: Vec<f64> = (0..n_items * k)
            .map(|_| rng.random_range(0.3..1.3))
            .collect();
        let mut r = Ratings::default();
        for a in 0..n_users {
            for b in 0..n_items {
                if rng.random::<f64>() < density {
                    let y: f64 = (0..k).map(|c| u[a * k + c] * v[b * k + c]).sum();
                    r.push(&a.to_string(), &b.to_string(), y as f32);
                }
            }
        }
        r
    }

    #[test]
    fn recovers_a_planted_low_rank_matrix() {
        let ratings = planted(200, 150, 0.3, 1);
        let (train, test) = random_split(&ratings, 0.8, 3).unwrap();
        let params = AlsParams {
            rank: 3,
            max_iter: 25,
            reg_param: 1e-4,
            seed: 5,
        }
        .check()
        .unwrap();
        let model = fit(&train, &params);
        let eval = evaluate(&model, &test, ColdStartStrategy::Drop);
        let spread = {
            let s = ratings.summary();
            f64::from(s.max_rating - s.min_rating)
        };
        assert!(
            eval.rmse < 0.01 * spread,
            "held-out RMSE {} on a spread of {spread}",
            eval.rmse
        );
        assert!(eval.n_evaluated > test.len() * 9 / 10);
    }

    #[test]
    fn same_seed_same_factors_and_progress_each_iteration() {
        let ratings = planted(40, 30, 0.4, 2);
        let params = AlsParams {
            rank: 4,
            max_iter: 5,
            ..Default::default()
        }
        .check()
        .unwrap();
        let mut losses = vec![];
        let a = fit_with_progress(&ratings, &params, |r| {
            losses.push(r.train_rmse);
            ControlFlow::Continue(())
        })
        .unwrap();
        let b = fit(&ratings, &params);
        assert_eq!(a.user_factors, b.user_factors);
        assert_eq!(losses.len(), 5);
        assert!(losses[4] <= losses[0] + 1e-9, "{losses:?}");
        let c = fit(
            &ratings,
            &AlsParams {
                seed: 7,
                ..(*params).clone()
            }
            .check()
            .unwrap(),
        );
        assert_ne!(a.user_factors, c.user_factors);
    }

    #[test]
    fn a_break_from_the_callback_cancels() {
        let ratings = planted(20, 20, 0.5, 3);
        let params = AlsParams::default().check().unwrap();
        let mut seen = 0;
        let out = fit_with_progress(&ratings, &params, |r| {
            seen = r.iteration;
            if r.iteration == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(out.unwrap_err(), Cancelled);
        assert_eq!(seen, 2);
    }
}
