//! Properties of the ALS solvers, through the public API only: on any small rating set and
//! any valid hyperparameters with a positive regularisation, fitting neither panics nor
//! predicts a non-finite number.

use affinity_engine::als::{self, AlsParams, Solver};
use affinity_engine::Ratings;
use proptest::prelude::*;

/// A small table: users u0.., items i0.., ratings on a few scales, pairs possibly repeated
/// (the public [`Ratings::push`] allows it, so the solvers must cope).
fn ratings() -> impl Strategy<Value = Ratings> {
    (1u32..8, 1u32..8).prop_flat_map(|(n_users, n_items)| {
        proptest::collection::vec(
            (
                0..n_users,
                0..n_items,
                prop_oneof![
                    (1i32..=5).prop_map(|v| v as f32),        // stars
                    (1i32..=10).prop_map(|v| v as f32 / 2.0), // half stars
                    (0i32..=1).prop_map(|v| v as f32),        // thumbs 0/1
                    prop_oneof![Just(-1.0f32), Just(1.0)],    // thumbs -1/1
                    -100.0f32..100.0,                         // anything
                ],
            ),
            1..40,
        )
        .prop_map(|rows| {
            let mut r = Ratings::default();
            for (u, i, v) in rows {
                r.push(&format!("u{u}"), &format!("i{i}"), v);
            }
            r
        })
    })
}

fn params() -> impl Strategy<Value = AlsParams> {
    (
        1usize..=6,
        1usize..=5,
        prop_oneof![1e-4f64..1e-2, 1e-2f64..1.0, 1.0f64..10.0],
        any::<u64>(),
        any::<bool>(),
        0.0f64..40.0,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(Solver::Cholesky),
            (1usize..=4).prop_map(|steps| Solver::Cg { steps })
        ],
    )
        .prop_map(
            |(
                rank,
                max_iter,
                reg_param,
                seed,
                implicit_prefs,
                alpha,
                nonnegative,
                biases,
                solver,
            )| {
                AlsParams {
                    rank,
                    max_iter,
                    reg_param,
                    seed,
                    implicit_prefs,
                    alpha,
                    // Combinations `check` refuses are turned into ones it accepts rather than
                    // thrown away, so every case fits a model.
                    nonnegative: nonnegative && solver == Solver::Cholesky,
                    biases: biases && !implicit_prefs,
                    solver,
                    // Whatever else the parameters hold keeps its default.
                    ..AlsParams::default()
                }
            },
        )
}

/// Fits and checks every prediction and recommendation of every user.
fn check_finite(ratings: &Ratings, params: &AlsParams) -> Result<(), TestCaseError> {
    let valid = params
        .check()
        .expect("the strategy builds valid parameters");
    let model = als::fit(ratings, &valid);
    prop_assert_eq!(model.rank(), params.rank);
    for u in 0..ratings.n_users() as u32 {
        for i in 0..ratings.n_items() as u32 {
            if let Some(p) = model.predict(u, i) {
                prop_assert!(p.is_finite(), "predict({u}, {i}) = {p} with {params:?}");
            }
            if params.nonnegative {
                for f in model
                    .user_factors(u)
                    .into_iter()
                    .chain(model.item_factors(i))
                {
                    prop_assert!(f.iter().all(|&x| x >= 0.0), "negative factor: {f:?}");
                }
            }
        }
        if let Some(recs) = model.recommend(u, 3, |_| false) {
            prop_assert!(recs.iter().all(|(_, s)| s.is_finite()));
        }
    }
    // Every user and item with a rating got factors.
    for r in ratings.iter() {
        prop_assert!(model.user_factors(r.user).is_some());
        prop_assert!(model.item_factors(r.item).is_some());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn solvers_never_panic_and_predict_finite_numbers(r in ratings(), p in params()) {
        check_finite(&r, &p)?;
    }
}

#[test]
fn the_edge_cases_named_in_the_brief() {
    // One rating; one user; one item; all ratings identical; all zero (implicit: no
    // positive preference at all).
    let tables: [&[(u32, u32, f32)]; 5] = [
        &[(0, 0, 4.0)],
        &[(0, 0, 1.0), (0, 1, 5.0), (0, 2, 3.0)],
        &[(0, 0, 1.0), (1, 0, 5.0), (2, 0, 3.0)],
        &[(0, 0, 3.0), (0, 1, 3.0), (1, 0, 3.0), (1, 1, 3.0)],
        &[(0, 0, 0.0), (1, 1, 0.0), (0, 1, 0.0)],
    ];
    for rows in tables {
        let mut r = Ratings::default();
        for &(u, i, v) in rows {
            r.push(&format!("u{u}"), &format!("i{i}"), v);
        }
        for implicit_prefs in [false, true] {
            for solver in [Solver::Cholesky, Solver::cg()] {
                for (nonnegative, biases) in [(false, false), (true, false), (false, true)] {
                    let p = AlsParams {
                        rank: 3,
                        max_iter: 5,
                        reg_param: 0.1,
                        implicit_prefs,
                        nonnegative: nonnegative && solver == Solver::Cholesky,
                        biases: biases && !implicit_prefs,
                        solver,
                        ..AlsParams::default()
                    };
                    check_finite(&r, &p).unwrap_or_else(|e| panic!("{rows:?} {p:?}: {e}"));
                }
            }
        }
    }
}
