//! One fit shared between processes that share no memory.
//!
//! A browser without cross-origin isolation has no shared-memory threads, only workers that
//! exchange messages. To use every core for one fit, each worker holds a [`FitShare`] (the
//! same ratings, parameters and starting model) and solves its own run of rows in each
//! half-step; the runs are gathered into the whole side (by each worker, from the others'
//! messages, in the web app) and applied to every share before the next half-step. Rows are solved independently, so the factors are the
//! ones [`super::fit`] computes, bit for bit, whatever the number of shares.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::fit::{half_step_options, initial_model, users_squared_errors};
use super::model::AlsModel;
use super::params::ValidAlsParams;
use super::rows::RatingRows;
use super::solve::{
    half_step_rows, split_by_shares, split_by_work, work_of, Fixed, HalfStep, Solved, Workspace,
};
use crate::ratings::Ratings;

/// Which side of the model a half-step solves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// The user factors (the items are held fixed).
    Users,
    /// The item factors (the users are held fixed).
    Items,
}

/// A run of consecutive rows of one side: factors, biases (empty without biases) and
/// whether each row could be fitted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideRows {
    /// The first row.
    pub start: usize,
    /// `rank` factors per row.
    pub factors: Vec<f32>,
    /// One bias per row, or none when the model has no biases.
    pub biases: Vec<f32>,
    /// Whether each row was fitted.
    pub fitted: Vec<bool>,
}

/// Why rows sent by a coordinator or another share do not fit this share.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The rows fall outside the side, or their arrays disagree in length.
    #[error("{what}: rows {start}..{end} with {factors} factors and {biases} biases do not fit a side of {n_rows} rows of rank {rank}")]
    Shape {
        /// Which message or side.
        what: &'static str,
        /// First row.
        start: usize,
        /// One past the last row.
        end: usize,
        /// Factors received.
        factors: usize,
        /// Biases received.
        biases: usize,
        /// Rows of the side.
        n_rows: usize,
        /// The model's rank.
        rank: usize,
    },
    /// A part number at or above the number of parts.
    #[error("part {part} of {parts} does not exist")]
    Part {
        /// The part asked for.
        part: usize,
        /// The number of parts.
        parts: usize,
    },
}

/// One process's copy of a shared fit: the training ratings by row, the parameters and a
/// whole model that it updates with its own rows and with the others' rows.
#[derive(Debug)]
pub struct FitShare {
    by_user: RatingRows,
    by_item: RatingRows,
    step: HalfStep,
    biases: bool,
    implicit: bool,
    model: AlsModel,
    ws: Workspace,
    /// With explicit feedback, each user's squared training errors from the last users'
    /// half-step this share solved (its own users only).
    user_errors: Vec<f64>,
}

impl FitShare {
    /// Starts a share of the fit of `params` to `ratings`, from the starting model
    /// [`super::fit`] uses (so every share starts from the same one).
    pub fn new(ratings: &Ratings, params: &ValidAlsParams) -> Self {
        let by_user = RatingRows::by_user(ratings);
        let by_item = RatingRows::by_item(ratings);
        let model = initial_model(ratings, params, &by_user, &by_item);
        let user_errors = if params.implicit_prefs {
            Vec::new()
        } else {
            vec![0.0; by_user.n_rows()]
        };
        Self {
            user_errors,
            by_user,
            by_item,
            step: half_step_options(params),
            biases: params.biases,
            implicit: params.implicit_prefs,
            model,
            ws: Workspace::new(params.rank + usize::from(params.biases)),
        }
    }

    fn rows(&self, side: Side) -> &RatingRows {
        match side {
            Side::Users => &self.by_user,
            Side::Items => &self.by_item,
        }
    }

    /// Rows of `side`.
    pub fn n_rows(&self, side: Side) -> usize {
        self.rows(side).n_rows()
    }

    /// The run of rows of `side` that part `part` of `parts` solves: consecutive runs of
    /// about equal work, the same in every share.
    pub fn part(&self, side: Side, part: usize, parts: usize) -> Result<Range<usize>, ShareError> {
        if part >= parts {
            return Err(ShareError::Part { part, parts });
        }
        let ends = split_by_work(&self.step, self.biases, self.rows(side), parts);
        let start = if part == 0 { 0 } else { ends[part - 1] };
        Ok(start..ends[part])
    }

    /// The run of rows of `side` that part `part` of `shares.len()` solves when each part's
    /// work is about in proportion to its share: parts that solve at different speeds then
    /// take about as long. Every share given the same `shares` gives the same runs.
    pub fn part_of_shares(
        &self,
        side: Side,
        part: usize,
        shares: &[f64],
    ) -> Result<Range<usize>, ShareError> {
        let parts = shares.len();
        if part >= parts {
            return Err(ShareError::Part { part, parts });
        }
        let ends = split_by_shares(&self.step, self.biases, self.rows(side), shares);
        let start = if part == 0 { 0 } else { ends[part - 1] };
        Ok(start..ends[part])
    }

    /// The estimated work of the rows `range` of `side`, in the units [`FitShare::part`]
    /// balances (rows past the side's end count as none).
    pub fn work(&self, side: Side, range: Range<usize>) -> f64 {
        let rows = self.rows(side);
        let range = range.start.min(rows.n_rows())..range.end.min(rows.n_rows());
        work_of(&self.step, self.biases, rows, range)
    }

    /// Solves the rows `range` of `side` from this share's copy of the other side, keeps
    /// them in its model and returns them for the coordinator.
    pub fn solve(&mut self, side: Side, range: Range<usize>) -> Result<SideRows, ShareError> {
        let rank = self.model.rank;
        let n_rows = self.n_rows(side);
        if range.start > range.end || range.end > n_rows {
            return Err(ShareError::Shape {
                what: "rows to solve",
                start: range.start,
                end: range.end,
                factors: 0,
                biases: 0,
                n_rows,
                rank,
            });
        }
        let m = &mut self.model;
        let (fixed, solved_factors, solved_biases, solved_fitted, rows) = match side {
            Side::Users => (
                Fixed {
                    factors: &m.item_factors,
                    biases: self.biases.then_some((&m.item_biases[..], m.global_mean)),
                },
                &mut m.user_factors,
                &mut m.user_biases,
                &mut m.user_fitted,
                &self.by_user,
            ),
            Side::Items => (
                Fixed {
                    factors: &m.user_factors,
                    biases: self.biases.then_some((&m.user_biases[..], m.global_mean)),
                },
                &mut m.item_factors,
                &mut m.item_biases,
                &mut m.item_fitted,
                &self.by_item,
            ),
        };
        let factors = &mut solved_factors[range.start * rank..range.end * rank];
        let fitted = &mut solved_fitted[range.clone()];
        let biases = self.biases.then(|| &mut solved_biases[range.clone()]);
        let errors =
            (side == Side::Users && !self.implicit).then(|| &mut self.user_errors[range.clone()]);
        half_step_rows(
            &self.step,
            rows,
            &fixed,
            range.clone(),
            Solved {
                factors,
                biases,
                fitted,
                errors,
            },
            &mut self.ws,
        );
        Ok(self.rows_of(side, range))
    }

    /// A copy of the rows `range` of `side`.
    fn rows_of(&self, side: Side, range: Range<usize>) -> SideRows {
        let rank = self.model.rank;
        let m = &self.model;
        let (factors, biases, fitted) = match side {
            Side::Users => (&m.user_factors, &m.user_biases, &m.user_fitted),
            Side::Items => (&m.item_factors, &m.item_biases, &m.item_fitted),
        };
        SideRows {
            start: range.start,
            factors: factors[range.start * rank..range.end * rank].to_vec(),
            biases: if self.biases {
                biases[range.clone()].to_vec()
            } else {
                Vec::new()
            },
            fitted: fitted[range].to_vec(),
        }
    }

    /// Writes rows solved elsewhere into this share's model.
    pub fn apply(&mut self, side: Side, rows: &SideRows) -> Result<(), ShareError> {
        let rank = self.model.rank;
        let n_rows = self.n_rows(side);
        let n = rows.fitted.len();
        let end = rows.start.saturating_add(n);
        if end > n_rows
            || rows.factors.len() != n * rank
            || rows.biases.len() != if self.biases { n } else { 0 }
        {
            return Err(ShareError::Shape {
                what: "rows received",
                start: rows.start,
                end,
                factors: rows.factors.len(),
                biases: rows.biases.len(),
                n_rows,
                rank,
            });
        }
        let m = &mut self.model;
        let (factors, biases, fitted) = match side {
            Side::Users => (&mut m.user_factors, &mut m.user_biases, &mut m.user_fitted),
            Side::Items => (&mut m.item_factors, &mut m.item_biases, &mut m.item_fitted),
        };
        factors[rows.start * rank..end * rank].copy_from_slice(&rows.factors);
        if self.biases {
            biases[rows.start..end].copy_from_slice(&rows.biases);
        }
        fitted[rows.start..end].copy_from_slice(&rows.fitted);
        Ok(())
    }

    /// The sum of squared training errors of the users `users` and how many of their
    /// ratings the model predicts: this share's part of the training RMSE after an
    /// iteration, once its users are solved (see [`super::rmse`]).
    pub fn squared_errors(&self, users: Range<usize>) -> (f64, usize) {
        users_squared_errors(
            &self.model,
            self.implicit,
            &self.by_user,
            &self.user_errors,
            users,
        )
    }

    /// The model as this share holds it.
    pub fn model(&self) -> &AlsModel {
        &self.model
    }

    /// The model, once the last half-step's rows are all applied.
    pub fn into_model(self) -> AlsModel {
        self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{fit_on_threads, AlsParams, Solver};
    use crate::ids::IdMap;

    fn planted(n_users: usize, n_items: usize, seed: u64) -> Ratings {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut ratings = Ratings::with_maps(IdMap::new(), IdMap::new());
        for u in 0..n_users {
            for i in 0..n_items {
                // Skewed: some users rate a lot, many a little, so parts differ in rows.
                let p = if u % 7 == 0 { 0.6 } else { 0.08 };
                if rng.random::<f64>() < p {
                    let v = 1.0 + ((u * 3 + i * 5) % 5) as f32 + rng.random::<f32>() * 0.1;
                    ratings.push(&format!("u{u}"), &format!("i{i}"), v);
                }
            }
        }
        ratings
    }

    /// Runs a shared fit the way the page's coordinator does, with `parts` shares that see
    /// only what the coordinator sends; returns the model and each iteration's RMSE.
    fn shared_fit(
        ratings: &Ratings,
        params: &ValidAlsParams,
        parts: usize,
    ) -> (AlsModel, Vec<f64>) {
        let mut shares: Vec<FitShare> =
            (0..parts).map(|_| FitShare::new(ratings, params)).collect();
        let mut loss = vec![];
        for _ in 0..params.max_iter {
            for side in [Side::Items, Side::Users] {
                let runs: Vec<SideRows> = shares
                    .iter_mut()
                    .enumerate()
                    .map(|(k, s)| {
                        let range = s.part(side, k, parts).unwrap();
                        s.solve(side, range).unwrap()
                    })
                    .collect();
                if side == Side::Users {
                    let (sum, n) = shares
                        .iter()
                        .enumerate()
                        .map(|(k, s)| s.squared_errors(s.part(side, k, parts).unwrap()))
                        .fold((0.0, 0), |(a, b), (c, d)| (a + c, b + d));
                    loss.push(crate::als::rmse(sum, n));
                }
                for share in &mut shares {
                    for run in &runs {
                        share.apply(side, run).unwrap();
                    }
                }
            }
        }
        let model = shares.swap_remove(0).into_model();
        (model, loss)
    }

    #[test]
    fn a_shared_fit_gives_the_factors_of_a_fit_bit_for_bit() {
        let ratings = planted(60, 45, 3);
        for params in [
            AlsParams {
                rank: 5,
                max_iter: 4,
                reg_param: 0.1,
                seed: 9,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 4,
                max_iter: 3,
                biases: true,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 4,
                max_iter: 3,
                implicit_prefs: true,
                alpha: 2.0,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 3,
                max_iter: 3,
                nonnegative: true,
                ..AlsParams::default()
            },
            AlsParams {
                rank: 4,
                max_iter: 3,
                solver: Solver::Cg { steps: 3 },
                ..AlsParams::default()
            },
        ] {
            let params = params.check().unwrap();
            let whole = fit_on_threads(&ratings, &params, 1);
            for parts in [1, 2, 3, 7] {
                let (shared, loss) = shared_fit(&ratings, &params, parts);
                assert_eq!(shared.user_factors, whole.user_factors, "{parts} parts");
                assert_eq!(shared.item_factors, whole.item_factors, "{parts} parts");
                assert_eq!(shared.user_biases, whole.user_biases, "{parts} parts");
                assert_eq!(shared.item_biases, whole.item_biases, "{parts} parts");
                assert_eq!(shared.user_fitted, whole.user_fitted, "{parts} parts");
                assert_eq!(shared.item_fitted, whole.item_fitted, "{parts} parts");
                assert_eq!(loss.len(), params.max_iter);
                assert!(loss.iter().all(|l| l.is_finite() && *l >= 0.0), "{loss:?}");
            }
        }
    }

    #[test]
    fn the_shared_loss_is_the_training_rmse() {
        let ratings = planted(40, 30, 5);
        let params = AlsParams {
            rank: 4,
            max_iter: 3,
            ..AlsParams::default()
        }
        .check()
        .unwrap();
        let mut want = vec![];
        crate::als::fit_with_progress_on_threads(&ratings, &params, 1, |r| {
            want.push(r.train_rmse);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        let (_, got) = shared_fit(&ratings, &params, 3);
        for (g, w) in got.iter().zip(&want) {
            // Summed in another order: equal to rounding.
            assert!((g - w).abs() < 1e-9 * w.max(1.0), "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn parts_cover_every_row_once_in_order() {
        let ratings = planted(50, 20, 1);
        let params = AlsParams::default().check().unwrap();
        let share = FitShare::new(&ratings, &params);
        for side in [Side::Users, Side::Items] {
            for parts in [1, 2, 5, 64] {
                let mut next = 0;
                for k in 0..parts {
                    let r = share.part(side, k, parts).unwrap();
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, share.n_rows(side));
            }
        }
        assert_eq!(
            share.part(Side::Users, 2, 2),
            Err(ShareError::Part { part: 2, parts: 2 })
        );
    }

    #[test]
    fn parts_of_shares_take_work_in_proportion() {
        let ratings = planted(300, 40, 4);
        let params = AlsParams {
            rank: 8,
            ..AlsParams::default()
        }
        .check()
        .unwrap();
        let share = FitShare::new(&ratings, &params);
        let side = Side::Users;
        let whole = share.work(side, 0..share.n_rows(side));
        // The costliest single row: a part can miss its share by at most that much.
        let row = (0..share.n_rows(side))
            .map(|r| share.work(side, r..r + 1))
            .fold(0.0, f64::max);
        assert!(row < whole / 20.0, "rows small enough for the test");
        for shares in [vec![3.0, 1.0], vec![1.0, 2.0, 1.0], vec![1.0, 1.0]] {
            let sum: f64 = shares.iter().sum();
            let mut next = 0;
            for (k, s) in shares.iter().enumerate() {
                let r = share.part_of_shares(side, k, &shares).unwrap();
                assert_eq!(r.start, next, "{shares:?}");
                next = r.end;
                let got = share.work(side, r);
                let want = whole * s / sum;
                assert!(
                    (got - want).abs() <= row,
                    "{shares:?}, part {k}: {got} against {want}"
                );
            }
            assert_eq!(next, share.n_rows(side));
        }
        // Equal shares are `part`'s split; shares that are not positive count as none, and
        // none at all is an equal split.
        for k in 0..3 {
            let equal = share.part(side, k, 3).unwrap();
            assert_eq!(
                share.part_of_shares(side, k, &[2.0, 2.0, 2.0]).unwrap(),
                equal
            );
            let none = [f64::NAN, 0.0, -1.0];
            assert_eq!(share.part_of_shares(side, k, &none).unwrap(), equal);
        }
        let r = share
            .part_of_shares(side, 1, &[1.0, f64::NAN, 1.0])
            .unwrap();
        assert!(r.is_empty(), "a part with no share solves no rows: {r:?}");
        assert_eq!(
            share.part_of_shares(side, 2, &[1.0, 1.0]),
            Err(ShareError::Part { part: 2, parts: 2 })
        );
        assert_eq!(
            share.work(side, share.n_rows(side)..share.n_rows(side) + 5),
            0.0
        );
    }

    #[test]
    // A reversed range is one of the bad requests checked.
    #[allow(clippy::reversed_empty_ranges)]
    fn rows_that_do_not_fit_are_refused() {
        let ratings = planted(10, 8, 2);
        let params = AlsParams {
            rank: 3,
            ..AlsParams::default()
        }
        .check()
        .unwrap();
        let mut share = FitShare::new(&ratings, &params);
        let n = share.n_rows(Side::Items);
        let bad = [
            SideRows {
                start: n,
                factors: vec![0.0; 3],
                biases: vec![],
                fitted: vec![true],
            },
            SideRows {
                start: 0,
                factors: vec![0.0; 4],
                biases: vec![],
                fitted: vec![true],
            },
            SideRows {
                start: 0,
                factors: vec![0.0; 3],
                biases: vec![1.0],
                fitted: vec![true],
            },
        ];
        for rows in &bad {
            assert!(matches!(
                share.apply(Side::Items, rows),
                Err(ShareError::Shape { .. })
            ));
        }
        assert!(share
            .solve(Side::Users, 0..share.n_rows(Side::Users) + 1)
            .is_err());
        assert!(share.solve(Side::Users, 3..2).is_err());
    }
}
