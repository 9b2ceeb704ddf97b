//! Model selection: folds, a parameter grid with Spark's `ParamGridBuilder` semantics, and
//! k-fold cross-validation as independent jobs.
//!
//! Every (grid point, fold) fit is an independent [`CvJob`]: [`plan`] lists them and
//! [`run_job`] runs one, so a caller with workers (the web app, a thread pool) can spread
//! them; [`cross_validate`] runs them one after the other and picks the best point.

use std::ops::ControlFlow;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::als::{self, AlsParams, Cancelled, ParamError};
use crate::metrics::{self, ColdStartStrategy};
use crate::ranking;
use crate::ratings::Ratings;
use crate::split::{self, SplitError};

/// Why a cross-validation could not run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CvError {
    /// k-fold needs at least two folds.
    #[error("the number of folds must be at least 2, got {0}")]
    TooFewFolds(usize),
    /// There are fewer ratings than folds, so some fold would be empty.
    #[error("{n_ratings} ratings cannot be split into {folds} folds")]
    TooFewRatings {
        /// The number of ratings.
        n_ratings: usize,
        /// The number of folds asked for.
        folds: usize,
    },
    /// A grid point's parameters are invalid.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// A split fraction is invalid.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// The grid has alphas but no way to set them (see [`ParamGrid::points_with`]).
    #[error("alpha is not supported by this engine's ALS parameters yet")]
    AlphaUnsupported,
    /// More folds than a fold number can count (`u32`).
    #[error("{0} folds are more than can be counted")]
    TooManyFolds(usize),
    /// Folds dealt for one table were asked for the pairs of another.
    #[error("folds dealt for {dealt} ratings were asked to split {given}")]
    NotDealtFor {
        /// Ratings the folds were dealt for.
        dealt: usize,
        /// Ratings of the table given.
        given: usize,
    },
    /// A job names a fold that does not exist.
    #[error("job for fold {fold} but there are only {n_folds} folds")]
    NoSuchFold {
        /// The fold asked for.
        fold: usize,
        /// The number of folds available.
        n_folds: usize,
    },
    /// NDCG@k needs k ≥ 1.
    #[error("the ranking cut-off k must be at least 1")]
    ZeroK,
    /// The progress callback asked to stop.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// Splits `ratings` into `k` (train, test) pairs: each rating is assigned to one fold at
/// random (seeded), the test part of pair `f` is fold `f` and its training part the other
/// folds. Folds are balanced: a seeded shuffle dealt round-robin, so their sizes differ by
/// at most one (Spark's `kFold` draws each rating independently instead).
///
/// The pairs together hold `k` copies of the ratings; [`FoldAssignment`] gives one pair at a
/// time, the same pairs.
pub fn k_fold(ratings: &Ratings, k: usize, seed: u64) -> Result<Vec<(Ratings, Ratings)>, CvError> {
    let folds = FoldAssignment::new(ratings, k, seed)?;
    (0..k).map(|f| folds.parts(ratings, f)).collect()
}

/// Which of `k` folds each rating of a table falls in, as [`k_fold`] deals them: four bytes
/// a rating, against the `k` copies of the ratings that all of [`k_fold`]'s pairs hold, for
/// a caller that works on one fold at a time (a browser worker with a large file).
#[derive(Clone, Debug)]
pub struct FoldAssignment {
    k: usize,
    fold_of: Vec<u32>,
}

impl FoldAssignment {
    /// Deals the ratings of `ratings` into `k` folds with `seed`.
    pub fn new(ratings: &Ratings, k: usize, seed: u64) -> Result<Self, CvError> {
        if k < 2 {
            return Err(CvError::TooFewFolds(k));
        }
        if ratings.len() < k {
            return Err(CvError::TooFewRatings {
                n_ratings: ratings.len(),
                folds: k,
            });
        }
        let k32 = u32::try_from(k).map_err(|_| CvError::TooManyFolds(k))?;
        let mut order: Vec<usize> = (0..ratings.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut fold_of = vec![0u32; ratings.len()];
        // Round-robin: position `pos` of the shuffle goes to fold `pos % k`.
        for (&row, fold) in order.iter().zip((0..k32).cycle()) {
            fold_of[row] = fold;
        }
        Ok(Self { k, fold_of })
    }

    /// The number of folds.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Pair `fold` of `ratings`, the table the folds were dealt for: its training part (the
    /// other folds) and its test part (this fold), each in the table's order.
    pub fn parts(&self, ratings: &Ratings, fold: usize) -> Result<(Ratings, Ratings), CvError> {
        if fold >= self.k {
            return Err(CvError::NoSuchFold {
                fold,
                n_folds: self.k,
            });
        }
        if ratings.len() != self.fold_of.len() {
            return Err(CvError::NotDealtFor {
                dealt: self.fold_of.len(),
                given: ratings.len(),
            });
        }
        Ok(ratings.partition(|r| self.fold_of[r] as usize != fold))
    }
}

/// One (train, validation) pair from [`split::random_split`], as a one-fold list that
/// [`plan`] and [`run_job`] accept (Spark's `TrainValidationSplit`).
pub fn train_validation_split(
    ratings: &Ratings,
    train_fraction: f64,
    seed: u64,
) -> Result<Vec<(Ratings, Ratings)>, CvError> {
    Ok(vec![split::random_split(ratings, train_fraction, seed)?])
}

/// Splits each user's ratings separately: a user's ratings are shuffled (seeded) and the
/// first `train_fraction` of them (rounded, at least one) go to training, the rest to test.
/// A user with a single rating keeps it in training, so every test user is warm.
pub fn per_user_split(
    ratings: &Ratings,
    train_fraction: f64,
    seed: u64,
) -> Result<(Ratings, Ratings), CvError> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(SplitError::BadFraction(train_fraction).into());
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); ratings.n_users()];
    for (row, &u) in ratings.user_indices().iter().enumerate() {
        rows_of[u as usize].push(row);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut in_train = vec![false; ratings.len()];
    for rows in &mut rows_of {
        rows.shuffle(&mut rng);
        let keep = ((rows.len() as f64 * train_fraction).round() as usize).max(1);
        for &row in rows.iter().take(keep) {
            in_train[row] = true;
        }
    }
    let train = ratings.select((0..ratings.len()).filter(|&r| in_train[r]));
    let test = ratings.select((0..ratings.len()).filter(|&r| !in_train[r]));
    Ok((train, test))
}

/// Values to try for each hyperparameter, combined as Spark's `ParamGridBuilder` does:
/// every combination is one grid point. An empty axis keeps the base parameters' value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamGrid {
    /// Ranks to try.
    pub ranks: Vec<usize>,
    /// Iteration counts to try.
    pub max_iters: Vec<usize>,
    /// Regularisations to try.
    pub reg_params: Vec<f64>,
    /// Implicit-feedback confidences to try; needs [`ParamGrid::points_with`].
    pub alphas: Vec<f64>,
}

impl ParamGrid {
    /// Number of grid points (each empty axis counts as one value).
    pub fn len(&self) -> usize {
        [
            self.ranks.len(),
            self.max_iters.len(),
            self.reg_params.len(),
            self.alphas.len(),
        ]
        .iter()
        .map(|&n| n.max(1))
        .product()
    }

    /// Whether the grid has no point; never true, since an empty axis keeps the base value.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every combination, built from `base` with the grid's values set; ranks vary slowest,
    /// then iterations, regularisations and alphas. Fails if the grid has alphas, which
    /// need [`ParamGrid::points_with`].
    pub fn points(&self, base: &AlsParams) -> Result<Vec<AlsParams>, CvError> {
        if !self.alphas.is_empty() {
            return Err(CvError::AlphaUnsupported);
        }
        self.points_with(base, |_, _| Err(CvError::AlphaUnsupported))
    }

    /// Like [`ParamGrid::points`], setting each alpha with `set_alpha(params, alpha)`.
    ///
    /// The setter is a parameter because `AlsParams` may not have an `alpha` field in this
    /// build: a caller that has one passes `|p, a| Ok(AlsParams { alpha: a, ..p })`.
    pub fn points_with<E>(
        &self,
        base: &AlsParams,
        mut set_alpha: impl FnMut(AlsParams, f64) -> Result<AlsParams, E>,
    ) -> Result<Vec<AlsParams>, E> {
        let ranks = axis(&self.ranks, base.rank);
        let max_iters = axis(&self.max_iters, base.max_iter);
        let reg_params = axis(&self.reg_params, base.reg_param);
        let mut out = Vec::with_capacity(self.len());
        for &rank in &ranks {
            for &max_iter in &max_iters {
                for &reg_param in &reg_params {
                    let p = AlsParams {
                        rank,
                        max_iter,
                        reg_param,
                        ..base.clone()
                    };
                    if self.alphas.is_empty() {
                        out.push(p);
                    } else {
                        for &alpha in &self.alphas {
                            out.push(set_alpha(p.clone(), alpha)?);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The axis' values, or the base value alone when the axis is empty.
fn axis<T: Copy>(values: &[T], base: T) -> Vec<T> {
    if values.is_empty() {
        vec![base]
    } else {
        values.to_vec()
    }
}

/// What cross-validation scores a fit by.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    /// RMSE on the validation ratings of warm users and items (cold ones dropped, Spark's
    /// `coldStartStrategy = "drop"`); lower is better.
    Rmse,
    /// NDCG at this cut-off ([`ranking::evaluate_ranking`]); higher is better.
    NdcgAtK(usize),
}

impl Metric {
    /// Whether a larger value is a better model (Spark's `isLargerBetter`).
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::Rmse => false,
            Metric::NdcgAtK(_) => true,
        }
    }

    /// Whether `a` is strictly better than `b`; NaN is worse than any number.
    pub fn better(self, a: f64, b: f64) -> bool {
        match (a.is_nan(), b.is_nan()) {
            (true, _) => false,
            (false, true) => true,
            _ if self.higher_is_better() => a > b,
            _ => a < b,
        }
    }
}

/// One fit to run: the parameters of grid point `point`, trained on fold `fold`'s training
/// part and scored on its test part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvJob {
    /// Index of the grid point.
    pub point: usize,
    /// Index of the fold.
    pub fold: usize,
    /// The grid point's parameters.
    pub params: AlsParams,
}

/// Every (grid point, fold) job, point by point.
pub fn plan(points: &[AlsParams], n_folds: usize) -> Vec<CvJob> {
    points
        .iter()
        .enumerate()
        .flat_map(|(point, params)| {
            (0..n_folds).map(move |fold| CvJob {
                point,
                fold,
                params: params.clone(),
            })
        })
        .collect()
}

/// Fits `job`'s parameters on its fold's training part and returns the metric on its test
/// part.
pub fn run_job(job: &CvJob, folds: &[(Ratings, Ratings)], metric: Metric) -> Result<f64, CvError> {
    run_job_with_progress(job, folds, metric, |_| ControlFlow::Continue(()))
}

/// [`run_job`] on one thread, for callers that run one job per core themselves.
pub fn run_job_single_threaded(
    job: &CvJob,
    folds: &[(Ratings, Ratings)],
    metric: Metric,
) -> Result<f64, CvError> {
    run_job_on_threads(job, folds, metric, 1, |_| ControlFlow::Continue(()))
}

/// [`run_job`] with a callback after every ALS iteration; `ControlFlow::Break` stops it
/// with [`CvError::Cancelled`].
pub fn run_job_with_progress(
    job: &CvJob,
    folds: &[(Ratings, Ratings)],
    metric: Metric,
    on_iteration: impl FnMut(&als::IterationReport) -> ControlFlow<()>,
) -> Result<f64, CvError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    run_job_on_threads(job, folds, metric, threads, on_iteration)
}

fn run_job_on_threads(
    job: &CvJob,
    folds: &[(Ratings, Ratings)],
    metric: Metric,
    threads: usize,
    on_iteration: impl FnMut(&als::IterationReport) -> ControlFlow<()>,
) -> Result<f64, CvError> {
    let (train, test) = folds.get(job.fold).ok_or(CvError::NoSuchFold {
        fold: job.fold,
        n_folds: folds.len(),
    })?;
    if metric == Metric::NdcgAtK(0) {
        return Err(CvError::ZeroK);
    }
    let params = job.params.check()?;
    let model = als::fit_with_progress_on_threads(train, &params, threads, on_iteration)?;
    Ok(score(&model, train, test, metric))
}

/// `metric` of `model` (fitted on `train`) on `test`.
pub fn score(model: &als::AlsModel, train: &Ratings, test: &Ratings, metric: Metric) -> f64 {
    match metric {
        Metric::Rmse => metrics::evaluate(model, test, ColdStartStrategy::Drop).rmse,
        Metric::NdcgAtK(k) => ranking::evaluate_ranking(model, train, test, k).ndcg_at_k,
    }
}

/// The scores of one grid point across the folds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The point's parameters.
    pub params: AlsParams,
    /// The metric on each fold, in fold order.
    pub scores: Vec<f64>,
    /// Mean of `scores` (Spark's `avgMetrics`).
    pub mean: f64,
    /// Population standard deviation of `scores` (divided by the number of folds).
    pub std: f64,
}

/// The outcome of a cross-validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvResult {
    /// The metric the points were scored by.
    pub metric: Metric,
    /// One entry per grid point, in grid order.
    pub points: Vec<PointResult>,
    /// Index in `points` of the best mean (the first one on ties, as Spark).
    pub best: usize,
}

/// Gathers per-job scores (`scores[j]` for `jobs[j]`) into per-point results and the best
/// point. A caller that ran [`plan`]'s jobs itself, in any order, finishes with this.
pub fn summarize(points: &[AlsParams], jobs: &[CvJob], scores: &[f64], metric: Metric) -> CvResult {
    let mut per_point: Vec<Vec<f64>> = vec![Vec::new(); points.len()];
    let mut by_fold: Vec<(usize, usize, f64)> = jobs
        .iter()
        .zip(scores)
        .map(|(j, &s)| (j.point, j.fold, s))
        .collect();
    by_fold.sort_by_key(|&(p, f, _)| (p, f));
    for (p, _, s) in by_fold {
        if let Some(v) = per_point.get_mut(p) {
            v.push(s);
        }
    }
    let results: Vec<PointResult> = points
        .iter()
        .zip(per_point)
        .map(|(params, scores)| {
            let n = scores.len() as f64;
            let mean = scores.iter().sum::<f64>() / n;
            let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
            PointResult {
                params: params.clone(),
                scores,
                mean,
                std,
            }
        })
        .collect();
    let mut best = 0;
    for (i, r) in results.iter().enumerate() {
        if metric.better(r.mean, results[best].mean) {
            best = i;
        }
    }
    CvResult {
        metric,
        points: results,
        best,
    }
}

/// k-fold cross-validation of every point of `grid` (built on `base`) on `ratings`, job by
/// job. `on_progress(done, total)` is called with the number of finished jobs after every
/// ALS iteration and every finished job; returning `ControlFlow::Break` stops the run with
/// [`CvError::Cancelled`].
pub fn cross_validate(
    ratings: &Ratings,
    grid: &ParamGrid,
    base: &AlsParams,
    k: usize,
    metric: Metric,
    seed: u64,
    mut on_progress: impl FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<CvResult, CvError> {
    let points = grid.points(base)?;
    for p in &points {
        p.check()?;
    }
    let folds = k_fold(ratings, k, seed)?;
    let jobs = plan(&points, folds.len());
    let total = jobs.len();
    let mut scores = Vec::with_capacity(total);
    for (done, job) in jobs.iter().enumerate() {
        let s = run_job_with_progress(job, &folds, metric, |_| on_progress(done, total))?;
        scores.push(s);
        if on_progress(done + 1, total).is_break() {
            return Err(Cancelled.into());
        }
    }
    Ok(summarize(&points, &jobs, &scores, metric))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Ratings from a planted rank-`k` matrix, observed at random.
    fn planted(n_users: usize, n_items: usize, k: usize, density: f64, seed: u64) -> Ratings {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
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

    fn key(r: crate::ratings::Rating) -> (u32, u32, u32) {
        (r.user, r.item, r.value.to_bits())
    }

    #[test]
    fn k_fold_tests_every_rating_exactly_once() {
        let ratings = planted(30, 20, 2, 0.5, 1);
        let folds = k_fold(&ratings, 4, 9).unwrap();
        assert_eq!(folds.len(), 4);
        let mut tested: Vec<_> = folds.iter().flat_map(|(_, t)| t.iter().map(key)).collect();
        let mut all: Vec<_> = ratings.iter().map(key).collect();
        tested.sort_unstable();
        all.sort_unstable();
        assert_eq!(tested, all);
        for (train, test) in &folds {
            assert_eq!(train.len() + test.len(), ratings.len());
            assert!(
                test.len().abs_diff(ratings.len() / 4) <= 1,
                "{}",
                test.len()
            );
        }
        let again = k_fold(&ratings, 4, 9).unwrap();
        assert_eq!(again[0].1.user_indices(), folds[0].1.user_indices());
        assert!(matches!(
            k_fold(&ratings, 1, 9),
            Err(CvError::TooFewFolds(1))
        ));
        assert!(matches!(
            k_fold(&ratings.select([0]), 2, 9),
            Err(CvError::TooFewRatings { .. })
        ));
    }

    #[test]
    fn one_fold_at_a_time_gives_k_folds_pairs() {
        let ratings = planted(30, 20, 2, 0.5, 1);
        let folds = k_fold(&ratings, 3, 5).unwrap();
        let dealt = FoldAssignment::new(&ratings, 3, 5).unwrap();
        assert_eq!(dealt.k(), 3);
        for (f, (train, test)) in folds.iter().enumerate() {
            let (t, v) = dealt.parts(&ratings, f).unwrap();
            assert_eq!(t.user_indices(), train.user_indices());
            assert_eq!(t.item_indices(), train.item_indices());
            assert_eq!(v.values(), test.values());
            assert_eq!(v.item_indices(), test.item_indices());
        }
        // Another seed deals other folds.
        let other = FoldAssignment::new(&ratings, 3, 6).unwrap();
        assert_ne!(
            other.parts(&ratings, 0).unwrap().1.item_indices(),
            folds[0].1.item_indices()
        );
        assert!(matches!(
            dealt.parts(&ratings, 3),
            Err(CvError::NoSuchFold {
                fold: 3,
                n_folds: 3
            })
        ));
        assert!(matches!(
            dealt.parts(&ratings.select([0, 1, 2]), 0),
            Err(CvError::NotDealtFor { given: 3, .. })
        ));
    }

    #[test]
    fn per_user_split_keeps_the_fraction_per_user_and_singletons_in_training() {
        let mut r = Ratings::default();
        for i in 0..10 {
            r.push("many", &i.to_string(), 1.0);
        }
        r.push("one", "0", 2.0);
        let (train, test) = per_user_split(&r, 0.8, 3).unwrap();
        assert_eq!(train.items_of_user(0).len(), 8);
        assert_eq!(test.items_of_user(0).len(), 2);
        assert_eq!(train.items_of_user(1), vec![0]);
        assert!(test.items_of_user(1).is_empty());
        assert!(per_user_split(&r, 1.0, 3).is_err());
        let tv = train_validation_split(&r, 0.5, 3).unwrap();
        assert_eq!(tv.len(), 1);
        assert_eq!(tv[0].0.len() + tv[0].1.len(), r.len());
    }

    #[test]
    fn grid_has_every_combination_and_keeps_base_values() {
        let base = AlsParams {
            seed: 77,
            ..Default::default()
        };
        let grid = ParamGrid {
            ranks: vec![2, 5],
            max_iters: vec![3, 4, 6],
            reg_params: vec![0.01, 0.1],
            alphas: vec![],
        };
        let points = grid.points(&base).unwrap();
        assert_eq!(points.len(), 2 * 3 * 2);
        assert_eq!(grid.len(), 12);
        let mut combos: Vec<_> = points
            .iter()
            .map(|p| (p.rank, p.max_iter, p.reg_param.to_bits()))
            .collect();
        combos.sort_unstable();
        combos.dedup();
        assert_eq!(combos.len(), 12, "all distinct");
        assert!(points.iter().all(|p| p.seed == 77));
        assert_eq!((points[0].rank, points[0].max_iter), (2, 3));
        assert_eq!(points[11].rank, 5);

        let only_rank = ParamGrid {
            ranks: vec![4],
            ..Default::default()
        };
        let p = only_rank.points(&base).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].rank, p[0].max_iter), (4, base.max_iter));

        let with_alpha = ParamGrid {
            alphas: vec![1.0, 10.0],
            ..grid.clone()
        };
        assert_eq!(with_alpha.points(&base), Err(CvError::AlphaUnsupported));
        // With a setter (here one that records the alpha in the seed), alphas multiply the grid.
        let set = with_alpha
            .points_with(&base, |p, a| {
                Ok::<_, CvError>(AlsParams {
                    seed: a as u64,
                    ..p
                })
            })
            .unwrap();
        assert_eq!(set.len(), 24);
        assert_eq!((set[0].seed, set[1].seed), (1, 10));
    }

    #[test]
    fn plan_and_summarize_give_mean_population_std_and_best() {
        let points = ParamGrid {
            ranks: vec![1, 2],
            ..Default::default()
        }
        .points(&AlsParams::default())
        .unwrap();
        let jobs = plan(&points, 2);
        assert_eq!(jobs.len(), 4);
        assert_eq!((jobs[3].point, jobs[3].fold), (1, 1));
        // Point 0 scores 1 and 3 (mean 2, population std 1); point 1 scores 2 and 2.
        // Jobs arrive out of order, as from parallel workers.
        let order = [3, 0, 2, 1];
        let js: Vec<CvJob> = order.iter().map(|&j| jobs[j].clone()).collect();
        let all = [1.0, 3.0, 2.0, 2.0];
        let scores: Vec<f64> = order.iter().map(|&j| all[j]).collect();
        let rmse = summarize(&points, &js, &scores, Metric::Rmse);
        assert_eq!(rmse.points[0].scores, vec![1.0, 3.0]);
        assert!((rmse.points[0].mean - 2.0).abs() < 1e-12);
        assert!((rmse.points[0].std - 1.0).abs() < 1e-12);
        assert_eq!(rmse.points[1].std, 0.0);
        assert_eq!(rmse.best, 0, "ties keep the first point");
        // In `js` order the jobs are (p1, f1), (p0, f0), (p1, f0), (p0, f1): point 1 scores
        // 4 and 4, point 0 scores 1 and 1, so the best point flips with the direction.
        let flip = [4.0, 1.0, 4.0, 1.0];
        assert_eq!(summarize(&points, &js, &flip, Metric::NdcgAtK(5)).best, 1);
        assert_eq!(summarize(&points, &js, &flip, Metric::Rmse).best, 0);
        assert!(Metric::Rmse.better(1.0, f64::NAN) && !Metric::Rmse.better(f64::NAN, 1.0));
    }

    #[test]
    fn cross_validation_picks_the_planted_rank() {
        let ratings = planted(120, 90, 3, 0.35, 4);
        let base = AlsParams {
            max_iter: 15,
            seed: 2,
            ..Default::default()
        };
        let grid = ParamGrid {
            ranks: vec![1, 3],
            reg_params: vec![1e-4],
            ..Default::default()
        };
        let mut calls = vec![];
        let result = cross_validate(&ratings, &grid, &base, 3, Metric::Rmse, 7, |d, t| {
            calls.push((d, t));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(result.points.len(), 2);
        assert_eq!(result.points[result.best].params.rank, 3, "{result:?}");
        assert!(
            result.points[1].mean < 0.5 * result.points[0].mean,
            "{result:?}"
        );
        assert_eq!(result.points[0].scores.len(), 3);
        assert_eq!(calls.last(), Some(&(6, 6)));
    }

    #[test]
    fn cancelling_stops_before_the_remaining_jobs() {
        let ratings = planted(40, 30, 2, 0.4, 5);
        let grid = ParamGrid {
            ranks: vec![1, 2, 3],
            ..Default::default()
        };
        let mut max_done = 0;
        let mut calls = 0;
        let out = cross_validate(
            &ratings,
            &grid,
            &AlsParams::default(),
            3,
            Metric::NdcgAtK(5),
            1,
            |done, total| {
                assert_eq!(total, 9);
                calls += 1;
                max_done = max_done.max(done);
                if done >= 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(out, Err(CvError::Cancelled(Cancelled)));
        assert_eq!(max_done, 2, "stopped right after the second job");
        // 2 jobs × 10 iterations + 2 job ends.
        assert_eq!(calls, 22);
    }

    #[test]
    fn ndcg_jobs_score_between_zero_and_one_and_bad_jobs_are_errors() {
        let ratings = planted(40, 30, 2, 0.4, 6);
        let folds = k_fold(&ratings, 2, 3).unwrap();
        let points = ParamGrid::default().points(&AlsParams::default()).unwrap();
        let jobs = plan(&points, folds.len());
        let s = run_job(&jobs[0], &folds, Metric::NdcgAtK(5)).unwrap();
        assert!((0.0..=1.0).contains(&s), "{s}");
        let bad_fold = CvJob {
            fold: 5,
            ..jobs[0].clone()
        };
        assert!(matches!(
            run_job(&bad_fold, &folds, Metric::Rmse),
            Err(CvError::NoSuchFold { .. })
        ));
        let bad_rank = CvJob {
            params: AlsParams {
                rank: 0,
                ..Default::default()
            },
            ..jobs[0].clone()
        };
        assert!(matches!(
            run_job(&bad_rank, &folds, Metric::Rmse),
            Err(CvError::Params(_))
        ));
        assert_eq!(
            run_job(&jobs[0], &folds, Metric::NdcgAtK(0)),
            Err(CvError::ZeroK)
        );
    }
}
