//! Degenerate inputs ALS must survive: no panic, and no NaN or infinity in factors, biases
//! or predictions, whatever the options.
//!
//! Each case runs under every combination of feedback, solver, biases and non-negativity
//! that the parameters accept, and also checks what the answer should be where there is a
//! known one (a singular system still fits its one rating; non-negative factors on negative
//! ratings predict 0; huge ratings are still reproduced to a relative precision).

use affinity_engine::als::{self, AlsModel, AlsParams, Confidence, RegScaling, Solver};
use affinity_engine::Ratings;

/// Every option combination worth checking, on top of `base`.
fn variants(base: &AlsParams) -> Vec<AlsParams> {
    let mut out = vec![];
    for solver in [Solver::Cholesky, Solver::cg()] {
        for (implicit_prefs, biases, nonnegative) in [
            (false, false, false),
            (false, true, false),
            (false, false, true),
            (false, true, true),
            (true, false, false),
            (true, false, true),
        ] {
            if nonnegative && solver != Solver::Cholesky {
                continue;
            }
            for (reg_scaling, confidence) in [
                (RegScaling::Count, Confidence::OnePlusAlpha),
                (RegScaling::Constant, Confidence::Alpha),
            ] {
                out.push(AlsParams {
                    implicit_prefs,
                    biases,
                    nonnegative,
                    solver,
                    reg_scaling,
                    confidence,
                    ..base.clone()
                });
            }
        }
    }
    out
}

/// Fits `params` (which must be valid) and checks that everything in the model is finite.
fn fit_finite(ratings: &Ratings, params: &AlsParams) -> AlsModel {
    let valid = params.check().unwrap_or_else(|e| panic!("{params:?}: {e}"));
    let model = als::fit(ratings, &valid);
    assert!(model.global_mean().is_finite(), "{params:?}");
    for u in 0..model.n_users() as u32 {
        if let Some(f) = model.user_factors(u) {
            assert!(
                f.iter().all(|v| v.is_finite()),
                "{params:?} user {u}: {f:?}"
            );
            assert!(model.user_bias(u).unwrap().is_finite(), "{params:?}");
        }
        for i in 0..model.n_items() as u32 {
            if let Some(p) = model.predict(u, i) {
                assert!(p.is_finite(), "{params:?}: predict({u}, {i}) = {p}");
            }
        }
    }
    for i in 0..model.n_items() as u32 {
        if let Some(f) = model.item_factors(i) {
            assert!(
                f.iter().all(|v| v.is_finite()),
                "{params:?} item {i}: {f:?}"
            );
            assert!(model.item_bias(i).unwrap().is_finite(), "{params:?}");
        }
    }
    if params.nonnegative {
        for u in 0..model.n_users() as u32 {
            if let Some(f) = model.user_factors(u) {
                assert!(f.iter().all(|&v| v >= 0.0), "{params:?}: {f:?}");
            }
        }
    }
    model
}

/// Every rated (user, item) of `ratings` has a prediction: no row was given up.
fn all_rows_fitted(model: &AlsModel, ratings: &Ratings, params: &AlsParams) {
    for r in ratings.iter() {
        assert!(
            model.predict(r.user, r.item).is_some(),
            "{params:?}: ({}, {}) unfitted",
            r.user,
            r.item
        );
    }
}

/// `n_users × n_items` ratings `1 + (u·3 + i·5) mod 5` (a full grid unless `skip` says
/// otherwise), scaled by `scale`.
fn grid(
    n_users: usize,
    n_items: usize,
    scale: f32,
    skip: impl Fn(usize, usize) -> bool,
) -> Ratings {
    let mut r = Ratings::default();
    for u in 0..n_users {
        for i in 0..n_items {
            if !skip(u, i) {
                let y = 1.0 + ((u * 3 + i * 5) % 5) as f32;
                r.push(&format!("u{u}"), &format!("i{i}"), y * scale);
            }
        }
    }
    r
}

#[test]
fn rank_larger_than_the_numbers_of_users_and_items() {
    let ratings = grid(3, 4, 1.0, |u, i| (u + i) % 4 == 3);
    for reg_param in [0.1, 0.0] {
        let base = AlsParams {
            rank: 10,
            max_iter: 8,
            reg_param,
            ..AlsParams::default()
        };
        for p in variants(&base) {
            let model = fit_finite(&ratings, &p);
            all_rows_fitted(&model, &ratings, &p);
        }
    }
}

#[test]
fn zero_regularisation_on_an_ordinary_matrix() {
    let ratings = grid(30, 20, 1.0, |u, i| (u * 7 + i * 3) % 3 == 0);
    let base = AlsParams {
        rank: 5,
        max_iter: 10,
        reg_param: 0.0,
        ..AlsParams::default()
    };
    for p in variants(&base) {
        let model = fit_finite(&ratings, &p);
        all_rows_fitted(&model, &ratings, &p);
    }
}

/// A user with one rating, rank 10 and no regularisation: its system `x xᵀ` has rank 1.
/// The fit still exists (any factor along `x` with the right length), and the explicit,
/// Cholesky-solved model reproduces the rating.
#[test]
fn a_user_with_one_rating_and_no_regularisation() {
    let mut ratings = grid(12, 15, 1.0, |u, i| (u + 2 * i) % 3 == 0);
    ratings.push("lonely", "i4", 4.0);
    let lonely = ratings.users().get("lonely").unwrap();
    let item = ratings.items().get("i4").unwrap();
    let base = AlsParams {
        rank: 10,
        max_iter: 10,
        reg_param: 0.0,
        ..AlsParams::default()
    };
    for p in variants(&base) {
        let model = fit_finite(&ratings, &p);
        all_rows_fitted(&model, &ratings, &p);
        if !p.implicit_prefs && !p.nonnegative && p.solver == Solver::Cholesky {
            let got = model.predict(lonely, item).unwrap();
            assert!((got - 4.0).abs() < 0.05, "{p:?}: {got}");
        }
    }
}

#[test]
fn implicit_feedback_with_all_zero_rows_and_all_zero_ratings() {
    // One user whose every rating is 0 among ordinary users.
    let mut some_zero = grid(10, 8, 1.0, |u, i| (u + i) % 2 == 0);
    for i in 0..8 {
        some_zero.push("zero", &format!("i{i}"), 0.0);
    }
    // Every rating 0.
    let all_zero = grid(6, 5, 0.0, |_, _| false);
    for reg_param in [0.1, 0.0] {
        let base = AlsParams {
            rank: 4,
            max_iter: 6,
            reg_param,
            implicit_prefs: true,
            alpha: 2.0,
            ..AlsParams::default()
        };
        for ratings in [&some_zero, &all_zero] {
            for p in variants(&base).into_iter().filter(|p| p.implicit_prefs) {
                let model = fit_finite(ratings, &p);
                if ratings.len() == all_zero.len() {
                    // No preference anywhere: the best scores are all 0.
                    for r in ratings.iter() {
                        let s = model.predict(r.user, r.item).unwrap_or(0.0);
                        assert!(s.abs() < 1e-3, "{p:?}: {s}");
                    }
                }
            }
        }
    }
}

/// Non-negative factors cannot make a negative prediction: the best they can do for
/// all-negative ratings is 0 everywhere.
#[test]
fn nonnegative_factors_with_all_negative_ratings() {
    let ratings = grid(8, 6, -1.0, |u, i| (u * i) % 5 == 1);
    for reg_param in [0.1, 0.0] {
        let base = AlsParams {
            rank: 3,
            max_iter: 6,
            reg_param,
            nonnegative: true,
            ..AlsParams::default()
        };
        for p in variants(&base)
            .into_iter()
            .filter(|p| p.nonnegative && !p.biases && !p.implicit_prefs)
        {
            let model = fit_finite(&ratings, &p);
            for r in ratings.iter() {
                let s = model.predict(r.user, r.item).unwrap_or(0.0);
                assert!(s.abs() < 1e-6, "{p:?}: {s}");
            }
        }
    }
}

/// Ratings of 1e30 (finite in `f32`, but their squares are not): the factors stay finite
/// and the predictions still match the ratings to a relative precision, as they do for
/// the same ratings at scale 1.
#[test]
fn huge_ratings() {
    let skip = |u: usize, i: usize| (u + 2 * i).is_multiple_of(3);
    let small = grid(12, 10, 1.0, skip);
    let huge = grid(12, 10, 1e30, skip);
    let base = AlsParams {
        rank: 4,
        max_iter: 10,
        reg_param: 0.01,
        ..AlsParams::default()
    };
    for p in variants(&base) {
        let model = fit_finite(&huge, &p);
        if p.implicit_prefs {
            continue; // Preferences are 0 or 1 whatever the scale.
        }
        all_rows_fitted(&model, &huge, &p);
        let rel_rmse = |m: &AlsModel, r: &Ratings, scale: f64| {
            let sum: f64 = r
                .iter()
                .map(|x| f64::from(m.predict(x.user, x.item).unwrap()) - f64::from(x.value))
                .map(|e| (e / scale).powi(2))
                .sum();
            (sum / r.len() as f64).sqrt()
        };
        let at_scale_one = fit_finite(
            &small,
            &AlsParams {
                reg_param: 1e-32,
                ..p.clone()
            },
        );
        let want = rel_rmse(&at_scale_one, &small, 1.0);
        let got = rel_rmse(&model, &huge, 1e30);
        assert!(
            got < want + 0.3,
            "{p:?}: relative RMSE {got} vs {want} at scale 1"
        );
    }
}

/// NaN or infinite ratings cannot come from the parser, but `Ratings::push` takes any
/// `f32`: the rows they touch are given up (unfitted), and nothing else is poisoned.
#[test]
fn non_finite_ratings_leave_no_nan_behind() {
    let mut ratings = grid(6, 5, 1.0, |_, _| false);
    ratings.push("bad", "i0", f32::NAN);
    ratings.push("worse", "i1", f32::INFINITY);
    let base = AlsParams {
        rank: 3,
        max_iter: 5,
        ..AlsParams::default()
    };
    for p in variants(&base) {
        fit_finite(&ratings, &p);
    }
}
