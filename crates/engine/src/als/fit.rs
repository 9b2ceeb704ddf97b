//! The ALS training loop.

use std::ops::{ControlFlow, Range};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::dense::{dot4_f32, dot_f32};
use super::model::AlsModel;
use super::params::ValidAlsParams;
use super::rows::RatingRows;
use super::solve::{half_step, Feedback, Fixed, HalfStep, Solved, Workspace};
use crate::ratings::Ratings;

/// What happened in one iteration, for progress bars and loss charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// 1-based iteration just finished.
    pub iteration: usize,
    /// Total number of iterations.
    pub max_iter: usize,
    /// RMSE of the model on its own training ratings after this iteration; with implicit
    /// feedback, against the preferences (1 for a positive rating, else 0) of those ratings.
    pub train_rmse: f64,
}

/// Training stopped because the progress callback asked it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("training was cancelled")]
pub struct Cancelled;

/// Fits ALS to `ratings` with the options of `params`.
///
/// Natively the rows of each half-step are solved on one thread per core (one thread on
/// wasm32); the factors are bit-identical whatever the number of threads.
pub fn fit(ratings: &Ratings, params: &ValidAlsParams) -> AlsModel {
    fit_on_threads(ratings, params, default_threads())
}

/// [`fit`] on at most `threads` threads (at least one), for callers that already run fits
/// in parallel. The factors are the same as [`fit`]'s, bit for bit.
pub fn fit_on_threads(ratings: &Ratings, params: &ValidAlsParams, threads: usize) -> AlsModel {
    match fit_inner(ratings, params, threads, None) {
        Ok(model) => model,
        Err(Cancelled) => unreachable!("there is no callback to cancel"),
    }
}

/// Fits ALS, calling `on_iteration` after every iteration; returning `ControlFlow::Break`
/// from it stops the fit.
///
/// As in Spark, both sides start from Gaussian vectors scaled to unit length, and each
/// iteration first solves the items from the users, then the users from the items. With
/// biases, the global mean is the mean training rating and the biases start at 0.
pub fn fit_with_progress(
    ratings: &Ratings,
    params: &ValidAlsParams,
    mut on_iteration: impl FnMut(&IterationReport) -> ControlFlow<()>,
) -> Result<AlsModel, Cancelled> {
    fit_inner(ratings, params, default_threads(), Some(&mut on_iteration))
}

/// [`fit_with_progress`] on at most `threads` threads, for callers that already run several
/// fits at once (one per core), where more threads per fit would only compete.
pub fn fit_with_progress_on_threads(
    ratings: &Ratings,
    params: &ValidAlsParams,
    threads: usize,
    mut on_iteration: impl FnMut(&IterationReport) -> ControlFlow<()>,
) -> Result<AlsModel, Cancelled> {
    fit_inner(ratings, params, threads, Some(&mut on_iteration))
}

/// Threads for the row solves: one per core natively, one on wasm32 (a Web Worker).
fn default_threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
    }
}

/// A progress callback of [`fit_with_progress`].
type OnIteration<'a> = dyn FnMut(&IterationReport) -> ControlFlow<()> + 'a;

/// The training loop; the training RMSE is computed only for a callback.
fn fit_inner(
    ratings: &Ratings,
    params: &ValidAlsParams,
    threads: usize,
    mut on_iteration: Option<&mut OnIteration>,
) -> Result<AlsModel, Cancelled> {
    let rank = params.rank;
    let by_user = RatingRows::by_user(ratings);
    let by_item = RatingRows::by_item(ratings);
    let mut model = initial_model(ratings, params, &by_user, &by_item);
    let step = half_step_options(params);
    let mut ws = vec![Workspace::new(rank + usize::from(params.biases)); threads.max(1)];
    // With explicit feedback the users' half-step sums each user's squared errors as it
    // solves them (see `solve::row_squared_errors`), for the loss after each iteration.
    let mut user_errors = if on_iteration.is_some() && !params.implicit_prefs {
        vec![0.0; by_user.n_rows()]
    } else {
        Vec::new()
    };
    for iteration in 1..=params.max_iter {
        let m = &mut model;
        half_step(
            &step,
            &by_item,
            &Fixed {
                factors: &m.user_factors,
                biases: params.biases.then_some((&m.user_biases[..], m.global_mean)),
            },
            Solved {
                factors: &mut m.item_factors,
                biases: params.biases.then_some(&mut m.item_biases[..]),
                fitted: &mut m.item_fitted,
                errors: None,
            },
            &mut ws,
        );
        half_step(
            &step,
            &by_user,
            &Fixed {
                factors: &m.item_factors,
                biases: params.biases.then_some((&m.item_biases[..], m.global_mean)),
            },
            Solved {
                factors: &mut m.user_factors,
                biases: params.biases.then_some(&mut m.user_biases[..]),
                fitted: &mut m.user_fitted,
                errors: (!user_errors.is_empty()).then_some(&mut user_errors[..]),
            },
            &mut ws,
        );
        if let Some(on_iteration) = on_iteration.as_mut() {
            let all = 0..by_user.n_rows();
            let (sum, n) =
                users_squared_errors(&model, params.implicit_prefs, &by_user, &user_errors, all);
            let report = IterationReport {
                iteration,
                max_iter: params.max_iter,
                train_rmse: rmse(sum, n),
            };
            if on_iteration(&report).is_break() {
                return Err(Cancelled);
            }
        }
    }
    Ok(model)
}

/// The model before the first iteration: unit-norm Gaussian rows from `params.seed` (users
/// first, then items), zero for rows without ratings, biases zero around the mean rating.
pub(super) fn initial_model(
    ratings: &Ratings,
    params: &ValidAlsParams,
    by_user: &RatingRows,
    by_item: &RatingRows,
) -> AlsModel {
    let rank = params.rank;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let user_fitted: Vec<bool> = (0..ratings.n_users())
        .map(|u| !by_user.row(u).0.is_empty())
        .collect();
    let item_fitted: Vec<bool> = (0..ratings.n_items())
        .map(|i| !by_item.row(i).0.is_empty())
        .collect();
    let mut user_factors = unit_gaussian_rows(&mut rng, ratings.n_users(), rank);
    let mut item_factors = unit_gaussian_rows(&mut rng, ratings.n_items(), rank);
    // Rows without ratings have no factors (Spark has no entry for them); zero them so that
    // they add nothing to implicit feedback's YᵀY.
    zero_unfitted(&mut user_factors, &user_fitted, rank);
    zero_unfitted(&mut item_factors, &item_fitted, rank);
    let (global_mean, user_biases, item_biases) = if params.biases {
        // Over finite ratings only: one NaN must cost its own row, not every prediction.
        let (sum, n) = ratings
            .values()
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0usize), |(s, n), &v| (s + f64::from(v), n + 1));
        let mean = sum / n.max(1) as f64;
        (
            mean as f32,
            vec![0.0; ratings.n_users()],
            vec![0.0; ratings.n_items()],
        )
    } else {
        (0.0, vec![], vec![])
    };
    AlsModel {
        rank,
        user_factors,
        item_factors,
        user_fitted,
        item_fitted,
        global_mean,
        user_biases,
        item_biases,
    }
}

/// The options of every half-step of a fit.
pub(super) fn half_step_options(params: &ValidAlsParams) -> HalfStep {
    HalfStep {
        rank: params.rank,
        reg_param: params.reg_param,
        reg_scaling: params.reg_scaling,
        reg_constant: params.reg_constant,
        bias_reg: params.bias_reg.filter(|_| params.biases),
        feedback: if params.implicit_prefs {
            Feedback::Implicit {
                alpha: params.alpha,
                confidence: params.confidence,
            }
        } else {
            Feedback::Explicit
        },
        nonnegative: params.nonnegative,
        solver: params.solver,
    }
}

fn zero_unfitted(factors: &mut [f32], fitted: &[bool], rank: usize) {
    for (row, &ok) in factors.chunks_exact_mut(rank).zip(fitted) {
        if !ok {
            row.fill(0.0);
        }
    }
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

/// The sum of the squared training errors of the users `users` and how many ratings the
/// model predicts, after an iteration: from `user_errors` (one per user), when the users'
/// half-step summed them as it solved them (explicit feedback), else by predicting each
/// rating ([`squared_errors`], which an implicit fit needs: its half-step solves against
/// every item, not the user's ratings).
pub(super) fn users_squared_errors(
    model: &AlsModel,
    implicit: bool,
    by_user: &RatingRows,
    user_errors: &[f64],
    users: Range<usize>,
) -> (f64, usize) {
    if user_errors.is_empty() {
        squared_errors(model, implicit, by_user, users)
    } else {
        solved_errors(by_user, &model.user_fitted, user_errors, users)
    }
}

/// The sum of squared training errors over the ratings of the users `users` (rows of
/// `by_user`, in order) and how many ratings the model predicts (users and items it fitted);
/// with implicit feedback the targets are the preferences (1 for a positive rating, else 0).
///
/// Each prediction's dot product is summed in eight lanes along the factors
/// ([`super::dense::dot_f32`]), which compiles to vector code, rather than in
/// [`AlsModel::predict`]'s order: so a prediction here can differ from `predict`'s in the
/// last bits, but it is the same on every target and in every worker. A user's ratings are
/// predicted four at a time ([`super::dense::dot4_f32`], the same sums), the user's factors
/// loaded once for the four.
// With implicit feedback this pass runs after every iteration, for the loss curve (explicit
// fits sum their errors as they solve, see `solve::row_squared_errors`). Over the 80K ratings
// of MovieLens 100K's 80% share, rank 40, best of 30: 0.52 ms one prediction at a time,
// 0.38 ms four at a time in explicit 128-bit lanes (wasm in Node 20); natively 0.20 and
// 0.17 ms. The explicit lanes matter: LLVM had compiled `dot_f32`'s eight lanes into
// pairs of lanes and scalar code.
fn squared_errors(
    model: &AlsModel,
    implicit: bool,
    by_user: &RatingRows,
    users: Range<usize>,
) -> (f64, usize) {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for u in users {
        let user = u as u32;
        let Some(x) = model.user_factors(user) else {
            continue;
        };
        let mut add = |item: u32, value: f32, latent: f32| {
            let target = match (implicit, value > 0.0) {
                (false, _) => value,
                (true, true) => 1.0,
                (true, false) => 0.0,
            };
            let predicted = model.predict_from_latent(user, item, latent);
            sum += f64::from(predicted - target).powi(2);
            n += 1;
        };
        let (items, values) = by_user.row(u);
        let whole = items.len() / 4 * 4;
        for (i4, v4) in items[..whole]
            .chunks_exact(4)
            .zip(values[..whole].chunks_exact(4))
        {
            let ys = [0, 1, 2, 3].map(|l| model.item_factors(i4[l]));
            if let [Some(y0), Some(y1), Some(y2), Some(y3)] = ys {
                let latent = dot4_f32(x, [y0, y1, y2, y3]);
                for l in 0..4 {
                    add(i4[l], v4[l], latent[l]);
                }
            } else {
                for l in 0..4 {
                    if let Some(y) = ys[l] {
                        add(i4[l], v4[l], dot_f32(x, y));
                    }
                }
            }
        }
        for (&item, &value) in items[whole..].iter().zip(&values[whole..]) {
            if let Some(y) = model.item_factors(item) {
                add(item, value, dot_f32(x, y));
            }
        }
    }
    (sum, n)
}

/// The sum of the squared training errors of the users `users` as their half-step gave them
/// (`errors`, one per row of `by_user`), and how many ratings the fitted ones among them have.
fn solved_errors(
    by_user: &RatingRows,
    fitted: &[bool],
    errors: &[f64],
    users: Range<usize>,
) -> (f64, usize) {
    users.filter(|&u| fitted[u]).fold((0.0, 0), |(sum, n), u| {
        (sum + errors[u], n + by_user.row(u).0.len())
    })
}

/// The root mean of `n` squared errors summing to `sum`; NaN for none.
pub fn rmse(sum: f64, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        (sum / n as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{AlsParams, Solver};
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
    fn squared_errors_are_those_of_exact_predictions() {
        let ratings = planted(37, 29, 0.4, 5);
        let by_user = RatingRows::by_user(&ratings);
        for (biases, implicit) in [(false, false), (true, false), (false, true)] {
            let params = AlsParams {
                rank: 5,
                max_iter: 2,
                biases,
                implicit_prefs: implicit,
                ..AlsParams::default()
            };
            let mut model = fit(&ratings, &params.check().unwrap());
            // Users and items the model did not fit are left out: every seventh item (some
            // in the groups of four, some in a user's last few), and user 3.
            for i in (0..model.n_items()).step_by(7) {
                model.item_fitted[i] = false;
            }
            model.user_fitted[3] = false;
            // The errors of predictions computed in f64 from the same factors.
            let (mut sum, mut n) = (0.0f64, 0usize);
            for r in ratings.iter() {
                let (u, i) = (r.user, r.item);
                let (Some(x), Some(y)) = (model.user_factors(u), model.item_factors(i)) else {
                    continue;
                };
                let latent: f64 = x
                    .iter()
                    .zip(y)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                let p = if biases {
                    f64::from(model.global_mean)
                        + f64::from(model.user_bias(u).unwrap())
                        + f64::from(model.item_bias(i).unwrap())
                        + latent
                } else {
                    latent
                };
                let target = if implicit {
                    f64::from(r.value > 0.0)
                } else {
                    f64::from(r.value)
                };
                sum += (p - target).powi(2);
                n += 1;
            }
            let what = format!("biases {biases}, implicit {implicit}");
            let (got_sum, got_n) = squared_errors(&model, implicit, &by_user, 0..37);
            assert_eq!(got_n, n, "{what}");
            assert!(n > 0 && n < ratings.len(), "{what}");
            assert!(sum > 1.0, "{what}: the errors are not all tiny ({sum})");
            assert!(
                (got_sum - sum).abs() <= 1e-5 * sum,
                "{what}: {got_sum} against {sum}"
            );
            // Ranges of users add up.
            let (a, na) = squared_errors(&model, implicit, &by_user, 0..20);
            let (b, nb) = squared_errors(&model, implicit, &by_user, 20..37);
            assert_eq!(na + nb, n, "{what}");
            assert!((a + b - got_sum).abs() <= 1e-9 * sum, "{what}");
        }
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
            ..AlsParams::default()
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

    /// Rows are split between threads by work, and each row's solve is independent of the
    /// split: any number of threads gives the same bits, with every option.
    #[test]
    fn the_factors_do_not_depend_on_the_number_of_threads() {
        let ratings = planted(300, 200, 0.3, 4);
        for params in [
            AlsParams {
                rank: 12,
                max_iter: 3,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 9,
                max_iter: 3,
                biases: true,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 8,
                max_iter: 3,
                implicit_prefs: true,
                ..AlsParams::default()
            },
        ] {
            let params = params.check().unwrap();
            let one = fit_on_threads(&ratings, &params, 1);
            for threads in [2, 3, 8] {
                let many = fit_on_threads(&ratings, &params, threads);
                assert_eq!(one.user_factors, many.user_factors, "{threads} threads");
                assert_eq!(one.item_factors, many.item_factors, "{threads} threads");
                assert_eq!(one.user_biases, many.user_biases, "{threads} threads");
                assert_eq!(one.user_fitted, many.user_fitted, "{threads} threads");
            }
        }
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

    fn fit_with(ratings: &Ratings, params: AlsParams) -> AlsModel {
        fit(ratings, &params.check().unwrap())
    }

    fn held_out_rmse(train: &Ratings, test: &Ratings, params: AlsParams) -> f64 {
        let model = fit_with(train, params);
        let eval = evaluate(&model, test, ColdStartStrategy::Drop);
        assert!(eval.n_evaluated > test.len() * 9 / 10);
        eval.rmse
    }

    #[test]
    fn nonnegative_fit_has_nonnegative_factors_and_recovers_a_positive_matrix() {
        let ratings = planted(200, 150, 0.3, 1);
        let (train, test) = random_split(&ratings, 0.8, 3).unwrap();
        let params = AlsParams {
            rank: 3,
            max_iter: 25,
            reg_param: 1e-4,
            seed: 5,
            nonnegative: true,
            ..AlsParams::default()
        };
        let model = fit_with(&train, params.clone());
        let all = model.user_factors.iter().chain(&model.item_factors);
        assert!(all.clone().all(|&v| v >= 0.0));
        assert!(all.clone().any(|&v| v > 0.0));
        let rmse = held_out_rmse(&train, &test, params);
        assert!(rmse < 0.05, "held-out RMSE {rmse}");
    }

    /// Ratings `3.5 + b_u + b_i + 0.3·a_u·c_i` with large biases: a rank-1 model fits them
    /// with biases, and cannot without.
    #[test]
    fn biases_recover_a_planted_mean_plus_biases_matrix() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n_users, n_items) = (150, 120);
        let bu: Vec<f32> = (0..n_users).map(|_| rng.random_range(-1.0..1.0)).collect();
        let bi: Vec<f32> = (0..n_items).map(|_| rng.random_range(-1.0..1.0)).collect();
        let au: Vec<f32> = (0..n_users).map(|_| rng.random_range(-1.0..1.0)).collect();
        let ci: Vec<f32> = (0..n_items).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut ratings = Ratings::default();
        for u in 0..n_users {
            for i in 0..n_items {
                if rng.random::<f64>() < 0.3 {
                    let y = 3.5 + bu[u] + bi[i] + 0.3 * au[u] * ci[i];
                    ratings.push(&u.to_string(), &i.to_string(), y);
                }
            }
        }
        let (train, test) = random_split(&ratings, 0.8, 4).unwrap();
        let params = AlsParams {
            rank: 1,
            max_iter: 30,
            reg_param: 1e-4,
            seed: 2,
            biases: true,
            ..AlsParams::default()
        };
        let with = held_out_rmse(&train, &test, params.clone());
        let without = held_out_rmse(
            &train,
            &test,
            AlsParams {
                biases: false,
                ..params.clone()
            },
        );
        assert!(with < 0.02, "held-out RMSE with biases {with}");
        assert!(without > 10.0 * with, "without {without}, with {with}");
        let model = fit_with(&train, params);
        let mean = train.values().iter().map(|&v| f64::from(v)).sum::<f64>() / train.len() as f64;
        assert!((f64::from(model.global_mean()) - mean).abs() < 1e-5);
        // Biases are identified up to a shift between the user and item sides (and the
        // mean): their differences match the planted ones.
        let (u0, u1) = (
            train.users().get("0").unwrap(),
            train.users().get("1").unwrap(),
        );
        let got = model.user_bias(u0).unwrap() - model.user_bias(u1).unwrap();
        assert!(
            (got - (bu[0] - bu[1])).abs() < 0.05,
            "{got} vs {}",
            bu[0] - bu[1]
        );
    }

    /// Two communities that each consume only their own half of the catalogue: implicit
    /// ALS ranks a user's unseen own-community items above every other-community item.
    #[test]
    fn implicit_fit_ranks_a_users_own_community_first() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut ratings = Ratings::default();
        let (n_users, n_items) = (60, 40);
        for u in 0..n_users {
            for i in 0..n_items {
                if u % 2 == i % 2 && rng.random::<f64>() < 0.5 {
                    let clicks = rng.random_range(1..6) as f32;
                    ratings.push(&format!("u{u}"), &format!("i{i}"), clicks);
                }
            }
        }
        let params = AlsParams {
            rank: 2,
            implicit_prefs: true,
            alpha: 10.0,
            reg_param: 0.1,
            ..AlsParams::default()
        };
        let model = fit_with(&ratings, params);
        for u in 0..n_users as u32 {
            let rated = ratings.items_of_user(u);
            let own = |i: u32| ratings.items().id(i)[1..].parse::<u32>().unwrap() % 2;
            let user_side = ratings.users().id(u)[1..].parse::<u32>().unwrap() % 2;
            let top = model.recommend(u, 40, |i| rated.contains(&i)).unwrap();
            let n_own_unseen = (0..n_items as u32)
                .filter(|&i| own(i) == user_side && !rated.contains(&i))
                .count();
            assert!(
                top[..n_own_unseen]
                    .iter()
                    .all(|&(i, _)| own(i) == user_side),
                "user {u}: {top:?}"
            );
        }
        // Scores approximate preferences: about 1 on consumed items.
        let p = model.predict(0, ratings.items_of_user(0)[0]).unwrap();
        assert!((0.5..1.2).contains(&p), "{p}");
    }

    #[test]
    fn cg_fit_matches_the_cholesky_fit() {
        let ratings = planted(200, 150, 0.3, 1);
        let (train, test) = random_split(&ratings, 0.8, 3).unwrap();
        let params = AlsParams {
            rank: 3,
            max_iter: 25,
            reg_param: 1e-4,
            seed: 5,
            ..AlsParams::default()
        };
        let exact = held_out_rmse(&train, &test, params.clone());
        let cg = held_out_rmse(
            &train,
            &test,
            AlsParams {
                solver: Solver::cg(),
                ..params
            },
        );
        assert!(
            cg < 0.05 && (cg - exact).abs() < 0.01,
            "cg {cg}, cholesky {exact}"
        );
    }

    #[test]
    fn every_option_is_deterministic_for_a_seed() {
        let ratings = planted(40, 30, 0.4, 2);
        for params in [
            AlsParams {
                implicit_prefs: true,
                ..AlsParams::default()
            },
            AlsParams {
                nonnegative: true,
                biases: true,
                ..AlsParams::default()
            },
            AlsParams {
                solver: Solver::cg(),
                biases: true,
                ..AlsParams::default()
            },
        ] {
            let (a, b) = (
                fit_with(&ratings, params.clone()),
                fit_with(&ratings, params),
            );
            assert_eq!(a.user_factors, b.user_factors);
            assert_eq!(a.item_factors, b.item_factors);
            assert_eq!(a.user_biases, b.user_biases);
        }
    }
}
