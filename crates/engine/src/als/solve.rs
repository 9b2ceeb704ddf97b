//! One half-step of ALS: new factors for every row given the other side's factors.

use super::dense::{
    add_gram_gathered, add_outer, axpy, cholesky_f32, cholesky_solve_f32, dot, fits_f32, nnls,
    padded, solve_spd, sym_mul, NnlsScratch, F32_SAFE, GRAM_KC,
};
use super::dual::{dual_limit, solve_dual, DualRidge, DualScratch};
use super::madd::{Fused, Madd, Unfused};
use super::params::{Confidence, RegScaling, Solver};
use super::rows::RatingRows;
use std::ops::Range;

/// How ratings enter the least-squares problem.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Feedback {
    /// Ratings are targets (Spark's default).
    Explicit,
    /// Ratings are implicit feedback (Spark's `implicitPrefs`) with confidence `1 + alpha·|r|`
    /// (Spark's) or `alpha·|r|` (the `implicit` library's).
    Implicit {
        /// Confidence slope.
        alpha: f64,
        /// How the slope makes a confidence.
        confidence: Confidence,
    },
}

impl Feedback {
    /// For implicit feedback, the weight a rating `y` adds to the system matrix on top of
    /// `YᵀY` (its confidence less the 1 that `YᵀY` already counts) and the weight of its
    /// column in the right-hand side (its confidence if `y > 0`, else 0).
    #[inline(always)]
    fn implicit_weights(alpha: f64, confidence: Confidence, y: f32) -> (f64, f64) {
        let a = alpha * f64::from(y).abs();
        let (extra, full) = match confidence {
            Confidence::OnePlusAlpha => (a, 1.0 + a),
            Confidence::Alpha => (a - 1.0, a),
        };
        (extra, if y > 0.0 { full } else { 0.0 })
    }
}

/// The options of a half-step, taken from validated parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct HalfStep {
    pub rank: usize,
    pub reg_param: f64,
    /// Whether `reg_param` is multiplied by the row's number of (positive) ratings.
    pub reg_scaling: RegScaling,
    /// Ridge added to every row's, not scaled.
    pub reg_constant: f64,
    /// The bias' own regularisation, not scaled; `None`: as a factor.
    pub bias_reg: Option<f64>,
    pub feedback: Feedback,
    pub nonnegative: bool,
    pub solver: Solver,
}

impl HalfStep {
    /// Explicit feedback solved by Cholesky, regularised by `reg_param` times the row's
    /// ratings: Spark's defaults.
    fn explicit(rank: usize, reg_param: f64) -> Self {
        HalfStep {
            rank,
            reg_param,
            reg_scaling: RegScaling::Count,
            reg_constant: 0.0,
            bias_reg: None,
            feedback: Feedback::Explicit,
            nonnegative: false,
            solver: Solver::Cholesky,
        }
    }

    /// The ridge on a row's factors, given its number of ratings that scale `reg_param`.
    #[inline(always)]
    fn lambda(&self, n_reg: usize) -> f64 {
        (match self.reg_scaling {
            RegScaling::Count => self.reg_param * n_reg as f64,
            RegScaling::Constant => self.reg_param,
        }) + self.reg_constant
    }

    /// The ridge on a row's bias.
    #[inline(always)]
    fn bias_lambda(&self, n_reg: usize) -> f64 {
        self.bias_reg.unwrap_or_else(|| self.lambda(n_reg))
    }
}

/// The side held fixed. Its rows without ratings must have zero factors (they then add
/// nothing to implicit feedback's `YᵀY`).
pub(super) struct Fixed<'a> {
    /// `rank` factors per row.
    pub factors: &'a [f32],
    /// With biases: the fixed side's biases and the global mean. The other side's bias is
    /// then learned as one more unknown whose column in the fixed side is the constant 1, on
    /// targets `r − mean − b_fixed`.
    pub biases: Option<(&'a [f32], f32)>,
}

/// The side being solved.
pub(super) struct Solved<'a> {
    /// `rank` factors per row; read as the warm start of [`Solver::Cg`].
    pub factors: &'a mut [f32],
    /// One bias per row, present exactly when [`Fixed::biases`] is.
    pub biases: Option<&'a mut [f32]>,
    /// Whether each row could be fitted.
    pub fitted: &'a mut [bool],
    /// If given (explicit feedback only), each row's sum of squared training errors with its
    /// new factors: the part of the training loss the half-step knows without another pass
    /// over the ratings (0 for a row not fitted). See [`row_squared_errors`].
    pub errors: Option<&'a mut [f64]>,
}

/// Buffers of one solving thread, allocated once so that the per-row loop never allocates.
#[derive(Clone, Debug)]
pub(super) struct Workspace {
    d: usize,
    /// `d` rounded up to whole Gram tiles: the row stride of `gram` and `weighted`.
    dp: usize,
    /// The row's system in `f32`, `dp × dp` with the `d × d` system in its upper-left
    /// corner; factorised in place.
    gram: Vec<f32>,
    /// The row's right-hand side in `f32` (`dp` values), solved in place.
    rhs32: Vec<f32>,
    /// The first `d` values of `rhs32` before the solve, and the system's ridge per
    /// unknown, for [`row_squared_errors`].
    rhs_before: Vec<f32>,
    ridge: Vec<f32>,
    /// The sum of the squared targets of the row (explicit feedback).
    targets_squared: f64,
    /// Whether the row was solved exactly on the `f32` Cholesky path (so that
    /// [`row_squared_errors`] may take its shortcut).
    solved_exactly: bool,
    /// Buffers of the dual form (see [`solve_dual_row`]).
    dual: DualScratch,
    /// Each rating's weight in the right-hand side (its target, or implicit confidence).
    rhs_weights: Vec<f32>,
    /// The row's system in `f64`, `d × d` (the fallback, and NNLS).
    gram64: Vec<f64>,
    yty: Vec<f64>,
    chol: Vec<f64>,
    rhs: Vec<f64>,
    sol: Vec<f64>,
    xa: Vec<f64>,
    /// A row's column vectors scaled by their ratings' weights (implicit feedback), `f32`
    /// rows of `dp` values.
    weighted: Vec<f32>,
    /// The rows of a chunk of ratings, side by side (see [`add_gram_gathered`]).
    panel: Vec<f32>,
    residual: Vec<f64>,
    direction: Vec<f64>,
    a_dir: Vec<f64>,
    nnls: NnlsScratch,
}

impl Workspace {
    /// Buffers for systems of `d` unknowns (the rank, plus one with biases).
    pub(super) fn new(d: usize) -> Self {
        let dp = padded(d);
        Self {
            d,
            dp,
            gram: vec![0.0; dp * dp],
            rhs32: vec![0.0; dp],
            rhs_before: vec![0.0; d],
            ridge: vec![0.0; d],
            targets_squared: 0.0,
            solved_exactly: false,
            dual: DualScratch::new(d, dp),
            rhs_weights: vec![],
            gram64: vec![0.0; d * d],
            yty: vec![0.0; d * d],
            chol: vec![0.0; d * d],
            rhs: vec![0.0; d],
            sol: vec![0.0; d],
            xa: vec![0.0; d],
            weighted: vec![],
            panel: vec![0.0; GRAM_KC * dp],
            residual: vec![0.0; d],
            direction: vec![0.0; d],
            a_dir: vec![0.0; d],
            nnls: NnlsScratch::new(d),
        }
    }
}

/// Recomputes the factors of every row of `rows` from the fixed factors `src` of the
/// columns, writing them to `dst` (`rank` values per row) and whether each row could be
/// fitted to `fitted`.
///
/// Row `r` with ratings `y_j` of columns with factors `x_j` gets the solution of Spark's
/// explicit normal equations `(Σ x_j x_jᵀ + λ n_r I) f = Σ y_j x_j`, where `n_r` is the
/// row's number of ratings (ALS-WR's scaling, which Spark applies). A row with no rating
/// has no factors (Spark has no entry for it): it is zeroed and marked unfitted.
pub fn solve_side(
    rows: &RatingRows,
    src: &[f32],
    rank: usize,
    reg_param: f64,
    dst: &mut [f32],
    fitted: &mut [bool],
) {
    let step = HalfStep::explicit(rank, reg_param);
    let fixed = Fixed {
        factors: src,
        biases: None,
    };
    let solved = Solved {
        factors: dst,
        biases: None,
        fitted,
        errors: None,
    };
    half_step(&step, rows, &fixed, solved, &mut [Workspace::new(rank)]);
}

/// Below this estimated number of multiply-adds a half-step runs on one thread: a thread
/// costs tens of microseconds to start and join.
const MIN_WORK_PER_THREAD: f64 = 2e6;

/// One half-step with every option: for each row, the least-squares problem of Spark's
/// `ALS.computeFactors` (explicit or implicit, regularised by `reg_param` times the row's
/// number of explicit ratings), solved by Cholesky, NNLS or conjugate gradient. The
/// options beyond Spark change the ridge (unscaled, plus a constant, a bias' own) and the
/// implicit confidences.
///
/// A row whose system has no finite solution on the fast path (singular without
/// regularisation, or too large for the `f32` Gram kernel) is solved again in `f64` with a
/// rising ridge; only if that fails too is it given up (zeroed and marked unfitted).
///
/// Rows are independent, so they are split into contiguous runs of about equal work, one per
/// workspace, solved on scoped threads (one thread when `workspaces` has one entry, or the
/// half-step is small). Each row's result does not depend on the split: the factors are
/// bit-identical whatever the number of workspaces.
pub(super) fn half_step(
    step: &HalfStep,
    rows: &RatingRows,
    fixed: &Fixed,
    solved: Solved,
    workspaces: &mut [Workspace],
) {
    let rank = step.rank;
    debug_assert_eq!(fixed.biases.is_some(), solved.biases.is_some());
    debug_assert_eq!(solved.factors.len(), rows.n_rows() * rank);
    let Some((first, others)) = workspaces.split_first_mut() else {
        panic!("half_step needs at least one workspace");
    };
    let rows_dp = prepare(step, fixed, first);
    let cols_of = columns(step, fixed, &rows_dp);
    for ws in others.iter_mut() {
        ws.yty.copy_from_slice(&first.yty);
    }
    let n_threads = (1 + others.len())
        .min((total_work(step, fixed, rows) / MIN_WORK_PER_THREAD) as usize)
        .max(1);
    if n_threads == 1 {
        solve_rows(step, &cols_of, rows, 0, solved, first);
        return;
    }
    let ends = split_by_work(step, fixed.biases.is_some(), rows, n_threads);
    let cols_of = &cols_of;
    std::thread::scope(|scope| {
        let mut rest = solved;
        let mut start = 0;
        let mut jobs = Vec::with_capacity(n_threads);
        for &end in &ends {
            let (head, tail) = rest.split_at(end - start, rank);
            jobs.push((start, head));
            rest = tail;
            start = end;
        }
        let mut jobs = jobs.into_iter().zip(workspaces.iter_mut());
        let (mine, my_ws) = jobs.next().expect("at least two runs");
        for ((start, part), ws) in jobs {
            scope.spawn(move || solve_rows(step, cols_of, rows, start, part, ws));
        }
        solve_rows(step, cols_of, rows, mine.0, mine.1, my_ws);
    });
}

/// The rows `range` of a half-step on one workspace: the share of one of several processes
/// that split a half-step between them (web workers, which share no memory). Each row's
/// result is the one [`half_step`] gives it, bit for bit. `solved` covers exactly `range`.
pub(super) fn half_step_rows(
    step: &HalfStep,
    rows: &RatingRows,
    fixed: &Fixed,
    range: Range<usize>,
    solved: Solved,
    ws: &mut Workspace,
) {
    debug_assert_eq!(solved.factors.len(), range.len() * step.rank);
    let rows_dp = prepare(step, fixed, ws);
    let cols_of = columns(step, fixed, &rows_dp);
    solve_rows(step, &cols_of, rows, range.start, solved, ws);
}

/// What every row of a half-step shares, computed once: the fixed side as `f32` rows of
/// `dp` values (bias column 1, then zeros) for the Gram kernel, which reads them in place
/// (returned; empty for the conjugate-gradient solver), and for implicit feedback `YᵀY` over
/// every fixed row (into `ws.yty`; rows without ratings are zero).
fn prepare(step: &HalfStep, fixed: &Fixed, ws: &mut Workspace) -> Vec<f32> {
    let rank = step.rank;
    let d = rank + usize::from(fixed.biases.is_some());
    debug_assert_eq!(ws.d, d);
    let dp = padded(d);
    let mut rows_dp = vec![];
    if step.solver == Solver::Cholesky {
        rows_dp = vec![0f32; fixed.factors.len() / rank * dp];
        for (x, f) in rows_dp
            .chunks_exact_mut(dp)
            .zip(fixed.factors.chunks_exact(rank))
        {
            x[..rank].copy_from_slice(f);
            if d > rank {
                x[rank] = 1.0;
            }
        }
    }
    if let Feedback::Implicit { .. } = step.feedback {
        let cols_of = columns(step, fixed, &rows_dp);
        ws.yty.fill(0.0);
        for c in 0..fixed.factors.len() / rank {
            cols_of.load(c, &mut ws.xa);
            add_outer(&mut ws.yty, d, &ws.xa, 1.0);
        }
    }
    rows_dp
}

fn columns<'a>(step: &HalfStep, fixed: &Fixed<'a>, rows_dp: &'a [f32]) -> Columns<'a> {
    let d = step.rank + usize::from(fixed.biases.is_some());
    Columns {
        rank: step.rank,
        d,
        dp: padded(d),
        factors: fixed.factors,
        padded: rows_dp,
        biases: fixed.biases,
    }
}

/// What a row costs beyond its ratings, in ratings: clearing, regularising, factorising and
/// solving its system. Timed on MovieLens 100K's two halves of each side (one with the
/// popular items, one with many rarely rated ones), a row cost as much as 45 to 75 ratings at
/// ranks 10 to 40 natively (AVX2 or 128-bit lanes), and 51 in Chromium's WebAssembly at rank
/// 40; counting its factorisation alone (13 ratings' worth at rank 40), a two-part split of
/// the items gave one part 1.7 times the other's time.
const ROW_COST_IN_RATINGS: usize = 48;

/// What a row solved in the dual form costs beyond its system's arithmetic, in ratings'
/// columns (`dp` multiply-adds each).
const DUAL_ROW_COST_IN_RATINGS: usize = 16;

/// What a multiply-add of the dual form costs in the Gram kernel's: on u.data (80%, rank 40,
/// one thread) the dual form took 15% off a fit where, counted at the kernel's rate, it
/// would have taken 24% (its rows' dot products and small factorisations are slower per
/// multiply-add than the register-blocked kernel).
const DUAL_COST_FACTOR: usize = 4;

/// Estimated cost of row `r`, in multiply-adds of the Gram kernel: its ratings' updates, the
/// fixed cost of a row ([`ROW_COST_IN_RATINGS`]) and the factorisation's cubic term; for a
/// row solved in the dual form, its small system's.
fn row_cost(step: &HalfStep, d: usize, rows: &RatingRows, r: usize) -> f64 {
    let dp = padded(d);
    let n = rows.row(r).0.len();
    if dual_ridge(step, d, n).is_some() {
        // The dual form: its `n × n` system's dot products, factorisation and the solution's
        // sum over the ratings, and what a row costs beyond them.
        return (DUAL_COST_FACTOR
            * ((n * n / 2 + n + DUAL_ROW_COST_IN_RATINGS) * dp + n * n * n / 6))
            as f64;
    }
    ((n + ROW_COST_IN_RATINGS) * dp * dp / 2 + d * d * d / 6) as f64
}

fn total_work(step: &HalfStep, fixed: &Fixed, rows: &RatingRows) -> f64 {
    let d = step.rank + usize::from(fixed.biases.is_some());
    (0..rows.n_rows()).map(|r| row_cost(step, d, rows, r)).sum()
}

/// The ends of `parts` contiguous runs of rows of about equal work (the last is
/// `rows.n_rows()`; a run may be empty when a few rows hold most of the work).
pub(super) fn split_by_work(
    step: &HalfStep,
    biases: bool,
    rows: &RatingRows,
    parts: usize,
) -> Vec<usize> {
    split_by_shares(step, biases, rows, &vec![1.0; parts.max(1)])
}

/// The ends of contiguous runs of rows, one per entry of `shares`, whose work is about in
/// proportion to the shares (the last end is `rows.n_rows()`). Shares that are not finite and
/// positive count as none; with no positive share at all the work is split equally.
pub(super) fn split_by_shares(
    step: &HalfStep,
    biases: bool,
    rows: &RatingRows,
    shares: &[f64],
) -> Vec<usize> {
    let d = step.rank + usize::from(biases);
    let parts = shares.len().max(1);
    let valid = |s: f64| if s.is_finite() && s > 0.0 { s } else { 0.0 };
    let mut bounds: Vec<f64> = shares
        .iter()
        .scan(0.0, |acc, &s| {
            *acc += valid(s);
            Some(*acc)
        })
        .collect();
    let sum = bounds.last().copied().unwrap_or(0.0);
    if sum <= 0.0 {
        bounds = (1..=parts).map(|k| k as f64).collect();
    }
    let sum = bounds[parts - 1];
    let total: f64 = (0..rows.n_rows()).map(|r| row_cost(step, d, rows, r)).sum();
    let mut ends = Vec::with_capacity(parts);
    let mut acc = 0.0;
    for r in 0..rows.n_rows() {
        acc += row_cost(step, d, rows, r);
        // `while`: a row may close several runs (a large row, or parts with no share).
        while ends.len() + 1 < parts && acc >= total * bounds[ends.len()] / sum {
            ends.push(r + 1);
        }
    }
    while ends.len() < parts {
        ends.push(rows.n_rows());
    }
    ends
}

/// Estimated work of the rows `range`, in [`row_cost`]'s units.
pub(super) fn work_of(
    step: &HalfStep,
    biases: bool,
    rows: &RatingRows,
    range: Range<usize>,
) -> f64 {
    let d = step.rank + usize::from(biases);
    range.map(|r| row_cost(step, d, rows, r)).sum()
}

impl<'a> Solved<'a> {
    /// The first `n` rows and the rest.
    fn split_at(self, n: usize, rank: usize) -> (Solved<'a>, Solved<'a>) {
        let (f0, f1) = self.factors.split_at_mut(n * rank);
        let (b0, b1) = match self.biases {
            Some(b) => {
                let (b0, b1) = b.split_at_mut(n);
                (Some(b0), Some(b1))
            }
            None => (None, None),
        };
        let (ok0, ok1) = self.fitted.split_at_mut(n);
        let (e0, e1) = match self.errors {
            Some(e) => {
                let (e0, e1) = e.split_at_mut(n);
                (Some(e0), Some(e1))
            }
            None => (None, None),
        };
        (
            Solved {
                factors: f0,
                biases: b0,
                fitted: ok0,
                errors: e0,
            },
            Solved {
                factors: f1,
                biases: b1,
                fitted: ok1,
                errors: e1,
            },
        )
    }
}

/// Solves the rows `first_row..` of `rows` that `solved` covers, with AVX2 and fused
/// multiply-adds when the processor has them (see [`Madd`] for what fusing changes).
fn solve_rows(
    step: &HalfStep,
    cols_of: &Columns,
    rows: &RatingRows,
    first_row: usize,
    solved: Solved,
    ws: &mut Workspace,
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(fused) = avx2_fma() {
        // SAFETY: the processor supports AVX2 and FMA, checked by `avx2_fma`.
        unsafe { solve_rows_avx2_fma(fused, step, cols_of, rows, first_row, solved, ws) };
        return;
    }
    #[cfg(target_arch = "wasm32")]
    if let Some(fused) = Fused::detect() {
        solve_rows_with::<4, _>(fused, step, cols_of, rows, first_row, solved, ws);
        return;
    }
    solve_rows_with::<4, _>(Unfused, step, cols_of, rows, first_row, solved, ws);
}

/// Fused multiply-adds, when the row solves use AVX2 and FMA: when the processor has both,
/// unless the environment variable `AFFINITY_LANES` is `128`. With `128` they use 128-bit
/// lanes (SSE2 here) and no fused multiply-add, which the browser benchmark uses to tell
/// how much of the browser's time is the narrower lanes and how much the WebAssembly
/// engine's own.
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> Option<Fused> {
    static USE: std::sync::OnceLock<Option<Fused>> = std::sync::OnceLock::new();
    *USE.get_or_init(|| {
        let wide = std::env::var_os("AFFINITY_LANES").is_none_or(|lanes| lanes != "128")
            && std::is_x86_feature_detected!("avx2");
        Fused::detect().filter(|_| wide)
    })
}

/// [`solve_rows_with`] compiled for AVX2 and FMA, whose sixteen 256-bit registers hold 8 × 8
/// tiles.
///
/// # Safety
///
/// The processor must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn solve_rows_avx2_fma(
    fused: Fused,
    step: &HalfStep,
    cols_of: &Columns,
    rows: &RatingRows,
    first_row: usize,
    solved: Solved,
    ws: &mut Workspace,
) {
    solve_rows_with::<8, _>(fused, step, cols_of, rows, first_row, solved, ws);
}

/// The per-row loop of [`half_step`], with Gram tiles of `MR` rows.
#[inline(always)]
fn solve_rows_with<const MR: usize, M: Madd>(
    madd: M,
    step: &HalfStep,
    cols_of: &Columns,
    rows: &RatingRows,
    first_row: usize,
    mut solved: Solved,
    ws: &mut Workspace,
) {
    let rank = step.rank;
    for (k, out) in solved.factors.chunks_exact_mut(rank).enumerate() {
        let r = first_row + k;
        let (cols, values) = rows.row(r);
        ws.solved_exactly = false;
        let ok = !cols.is_empty()
            && match step.solver {
                Solver::Cholesky => match dual_ridge(step, cols_of.d, cols.len()) {
                    Some(ridge) => {
                        solve_dual_row(cols_of, cols, values, ridge, ws)
                            || solve_safely(step, cols_of, cols, values, ws)
                    }
                    None => {
                        let n_reg = build_system::<MR, M>(madd, step, cols_of, cols, values, ws);
                        solve_system(step, n_reg, ws)
                            || solve_safely(step, cols_of, cols, values, ws)
                    }
                },
                Solver::Cg { steps } => {
                    for (s, &v) in ws.sol.iter_mut().zip(out.iter()) {
                        *s = f64::from(v);
                    }
                    if let Some(b) = &solved.biases {
                        ws.sol[rank] = f64::from(b[k]);
                    }
                    conjugate_gradient(step, cols_of, cols, values, steps, ws)
                        || solve_safely(step, cols_of, cols, values, ws)
                }
            };
        if ok {
            for (o, &v) in out.iter_mut().zip(&ws.sol) {
                *o = v as f32;
            }
        } else {
            out.fill(0.0);
        }
        if let Some(b) = &mut solved.biases {
            b[k] = if ok { ws.sol[rank] as f32 } else { 0.0 };
        }
        solved.fitted[k] = ok;
        if let Some(errors) = &mut solved.errors {
            errors[k] = if ok {
                row_squared_errors(step, cols_of, cols, values, ws)
            } else {
                0.0
            };
        }
    }
}

/// The sum of a row's squared training errors `Σ (t − zᵀx)²` over its ratings (targets `t`,
/// the fixed side's columns `x`), for the solution `z` in `ws.sol` as stored (in `f32`);
/// explicit feedback only.
///
/// When the row was solved exactly (`(G + Λ) z = b` with `G = Σ x xᵀ`, `b = Σ t x` and the
/// diagonal ridge `Λ`), `zᵀGz = zᵀb − zᵀΛz`, so the sum is `Σt² − zᵀb − zᵀΛz`: a few
/// multiply-adds per unknown instead of a prediction per rating. Otherwise (NNLS, conjugate
/// gradient, the `f64` fallback) the ratings are predicted one by one.
// The shortcut is why the training loss costs the page next to nothing: predicting every
// rating after each iteration took 0.7 to 1.6 ms of each worker's users' half-step of 4 to
// 8 ms in two-worker fits of MovieLens 100K in Chromium (rank 40). Its rounding: the `f32`
// solve leaves `z` off in the last bits, which moves `zᵀb`, of the size of `Σt²`. On u.data
// (80%), ranks 10 to 80, the training RMSE so computed after each of 10 iterations was within
// 1.3e-6 (relative) of predicting every rating; see also
// `the_shortcut_loss_is_the_predicted_loss`.
fn row_squared_errors(
    step: &HalfStep,
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    ws: &mut Workspace,
) -> f64 {
    debug_assert_eq!(step.feedback, Feedback::Explicit);
    let d = cols_of.d;
    if ws.solved_exactly {
        let mut fit = 0.0;
        for ((&z, &b), &l) in ws.rhs32[..d].iter().zip(&ws.rhs_before).zip(&ws.ridge) {
            let z = f64::from(z);
            fit += z * f64::from(b) + f64::from(l) * z * z;
        }
        return (ws.targets_squared - fit).max(0.0);
    }
    for s in &mut ws.sol[..d] {
        *s = f64::from(*s as f32);
    }
    let mut sum = 0.0;
    for (&c, &y) in cols.iter().zip(values) {
        cols_of.load(c as usize, &mut ws.xa);
        let e = cols_of.target(c as usize, y) - dot(&ws.xa, &ws.sol);
        sum += e * e;
    }
    sum
}

/// Adds the regularisation to the `f32` system built in `ws.gram` (its row having `n_reg`
/// ratings that scale it) and solves it into `ws.sol`: by NNLS (in `f64`) for non-negative
/// factors, else by an `f32` Cholesky factorisation in place. False if that found no
/// finite solution (the caller then falls back to [`solve_safely`]).
#[inline(always)]
fn solve_system(step: &HalfStep, n_reg: usize, ws: &mut Workspace) -> bool {
    let (rank, d, dp) = (step.rank, ws.d, ws.dp);
    if step.nonnegative {
        // Biases are not constrained: only the latent factors are. NNLS takes the system
        // unpadded, in f64.
        for (a, g) in ws.gram64.chunks_exact_mut(d).zip(ws.gram.chunks_exact(dp)) {
            for (a, &g) in a.iter_mut().zip(&g[..d]) {
                *a = f64::from(g);
            }
        }
        for (b, &r) in ws.rhs.iter_mut().zip(&ws.rhs32[..d]) {
            *b = f64::from(r);
        }
        return solve_system_f64(step, n_reg, ws);
    }
    // Systems of extreme scale (huge ratings or factors) go to the f64 path: in f32 their
    // solution, or products of it, could overflow where f64 would not.
    let in_range = |v: f32| v.abs() <= F32_SAFE;
    if !(ws.rhs32[..d].iter().all(|&v| in_range(v))
        && (0..d).all(|i| in_range(ws.gram[i * dp + i])))
    {
        return false;
    }
    ws.ridge[..rank].fill(step.lambda(n_reg) as f32);
    if d > rank {
        ws.ridge[rank] = step.bias_lambda(n_reg) as f32;
    }
    for (a, &l) in ws.ridge.iter().enumerate() {
        ws.gram[a * dp + a] += l;
    }
    if !cholesky_f32(&mut ws.gram, d, dp) {
        return false;
    }
    ws.rhs_before.copy_from_slice(&ws.rhs32[..d]);
    cholesky_solve_f32(&ws.gram, d, dp, &mut ws.rhs32);
    if !ws.rhs32[..d].iter().all(|v| v.is_finite()) {
        return false;
    }
    for (s, &x) in ws.sol.iter_mut().zip(&ws.rhs32[..d]) {
        *s = f64::from(x);
    }
    ws.solved_exactly = step.feedback == Feedback::Explicit;
    true
}

/// The ridge with which a row of `n` ratings and `d` unknowns is solved in its dual form
/// ([`solve_dual`]), or `None` when it is solved in the primal form: explicit feedback
/// without the non-negativity constraint, the Cholesky solver, at most [`dual_limit`]
/// ratings (about three quarters of `d`) and a positive ridge.
#[inline(always)]
fn dual_ridge(step: &HalfStep, d: usize, n: usize) -> Option<DualRidge> {
    if step.feedback != Feedback::Explicit
        || step.nonnegative
        || step.solver != Solver::Cholesky
        || n == 0
        || n > dual_limit(d)
    {
        return None;
    }
    DualRidge::new(
        step.lambda(n),
        (d > step.rank).then(|| (step.rank, step.bias_lambda(n))),
    )
}

/// Solves a row of few ratings in its dual form into `ws.sol`; false if that found no finite
/// solution (the caller then falls back to [`solve_safely`]). The training loss of such a row
/// is then predicted rating by rating ([`row_squared_errors`]).
#[inline(always)]
fn solve_dual_row(
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    ridge: DualRidge,
    ws: &mut Workspace,
) -> bool {
    let n = cols.len();
    if ws.rhs_weights.len() < n {
        ws.rhs_weights.resize(n, 0.0);
    }
    for ((w, &c), &y) in ws.rhs_weights.iter_mut().zip(cols).zip(values) {
        *w = cols_of.target(c as usize, y) as f32;
    }
    if !solve_dual(
        cols_of.padded,
        ws.dp,
        cols,
        &ws.rhs_weights[..n],
        ridge,
        &mut ws.dual,
    ) {
        return false;
    }
    for (s, &z) in ws.sol.iter_mut().zip(&ws.dual.z) {
        *s = f64::from(z);
    }
    true
}

/// [`solve_system`] for the `f64` system in `ws.gram64` (`d × d`) and `ws.rhs`: NNLS, or
/// Cholesky with a rising ridge if the system is singular.
fn solve_system_f64(step: &HalfStep, n_reg: usize, ws: &mut Workspace) -> bool {
    let (rank, d) = (step.rank, ws.d);
    let lambda = step.lambda(n_reg);
    for a in 0..rank {
        ws.gram64[a * d + a] += lambda;
    }
    if d > rank {
        ws.gram64[rank * d + rank] += step.bias_lambda(n_reg);
    }
    if step.nonnegative {
        nnls(&ws.gram64, d, &ws.rhs, rank, &mut ws.sol, &mut ws.nnls)
    } else {
        solve_spd(&ws.gram64, d, &ws.rhs, &mut ws.chol, &mut ws.sol)
    }
}

/// The fallback when the fast path found no finite solution for a row: the system rebuilt
/// entirely in `f64` (the `f32` Gram kernel overflows once factors pass ~1e19, as huge
/// ratings make them) and solved exactly, with a rising ridge if needed. Rare, so simple.
#[cold]
#[inline(never)]
fn solve_safely(
    step: &HalfStep,
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    ws: &mut Workspace,
) -> bool {
    let n_reg = build_system_f64(step, cols_of, cols, values, ws);
    solve_system_f64(step, n_reg, ws)
}

/// [`build_system`] in `f64` throughout, one rating at a time.
fn build_system_f64(
    step: &HalfStep,
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    ws: &mut Workspace,
) -> usize {
    let d = cols_of.d;
    ws.rhs.fill(0.0);
    ws.gram64.fill(0.0);
    let add = |gram: &mut [f64], x: &[f64], w: f64| {
        for i in 0..d {
            axpy(&mut gram[i * d + i..(i + 1) * d], w * x[i], &x[i..d]);
        }
    };
    match step.feedback {
        Feedback::Explicit => {
            for (&c, &y) in cols.iter().zip(values) {
                cols_of.load(c as usize, &mut ws.xa);
                add(&mut ws.gram64, &ws.xa, 1.0);
                axpy(&mut ws.rhs, cols_of.target(c as usize, y), &ws.xa);
            }
            cols.len()
        }
        Feedback::Implicit { alpha, confidence } => {
            ws.gram64.copy_from_slice(&ws.yty);
            let mut n_explicit = 0;
            for (&c, &y) in cols.iter().zip(values) {
                let (extra, full) = Feedback::implicit_weights(alpha, confidence, y);
                cols_of.load(c as usize, &mut ws.xa);
                add(&mut ws.gram64, &ws.xa, extra);
                if y > 0.0 {
                    n_explicit += 1;
                    axpy(&mut ws.rhs, full, &ws.xa);
                }
            }
            n_explicit
        }
    }
}

/// The fixed side's columns as the (possibly bias-augmented) vectors of the unknowns.
struct Columns<'a> {
    rank: usize,
    d: usize,
    /// [`padded`]`(d)`.
    dp: usize,
    factors: &'a [f32],
    /// With the Cholesky solver, the vectors as `f32` rows of `dp` values, zero-padded.
    padded: &'a [f32],
    biases: Option<(&'a [f32], f32)>,
}

impl Columns<'_> {
    /// Writes column `c`'s vector into `xa`: its factors, then 1 for the solved side's bias.
    #[inline]
    fn load(&self, c: usize, xa: &mut [f64]) {
        let f = &self.factors[c * self.rank..(c + 1) * self.rank];
        for (x, &v) in xa.iter_mut().zip(f) {
            *x = f64::from(v);
        }
        if self.d > self.rank {
            xa[self.rank] = 1.0;
        }
    }

    /// Column `c`'s vector as `dp` values in `f32`, zero-padded.
    #[inline(always)]
    fn padded(&self, c: usize) -> &[f32] {
        &self.padded[c * self.dp..(c + 1) * self.dp]
    }

    /// The target of a rating of column `c`: the rating less the mean and `c`'s bias.
    #[inline]
    fn target(&self, c: usize, y: f32) -> f64 {
        match self.biases {
            None => f64::from(y),
            Some((b, mean)) => f64::from(y) - f64::from(mean) - f64::from(b[c]),
        }
    }
}

/// Builds one row's normal equations without the regularisation into `ws.gram` (upper
/// triangle of the leading `d × d` block) and `ws.rhs32`, in `f32`, returning the number of
/// ratings that scale `reg_param`.
///
/// As Spark's `ALS.computeFactors`: explicit ratings add `x xᵀ` and `y x`; implicit ones
/// start from `YᵀY` and add `c1 x xᵀ` with `c1 = alpha·|r|`, plus `(1 + c1) x` to the
/// right-hand side only when `r > 0` (preference 1), and only those count in `numExplicits`.
///
/// The system is one register-blocked rank-k update over the row's columns
/// ([`add_gram_gathered`]) in `f32`, the precision of the factors.
#[inline(always)]
fn build_system<const MR: usize, M: Madd>(
    madd: M,
    step: &HalfStep,
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    ws: &mut Workspace,
) -> usize {
    let (d, dp, n) = (cols_of.d, ws.dp, cols.len());
    ws.rhs32.fill(0.0);
    ws.gram.fill(0.0);
    // The buffers only grow, to the longest row, so this does not allocate per row.
    if ws.rhs_weights.len() < n {
        ws.rhs_weights.resize(n, 0.0);
    }
    match step.feedback {
        Feedback::Explicit => {
            let mut squared = 0.0;
            for ((w, &c), &y) in ws.rhs_weights.iter_mut().zip(cols).zip(values) {
                *w = cols_of.target(c as usize, y) as f32;
                squared += f64::from(*w) * f64::from(*w);
            }
            ws.targets_squared = squared;
            add_gram_gathered::<MR, false, M>(
                madd,
                &mut ws.gram,
                &mut ws.rhs32,
                d,
                dp,
                cols_of.padded,
                cols,
                &[],
                &ws.rhs_weights,
                &mut ws.panel,
            );
            n
        }
        Feedback::Implicit { alpha, confidence } => {
            // A = YᵀY + Xᵀ diag(c − 1) X, b = Xᵀ (c·[r > 0]) for confidences c.
            for (g, y) in ws.gram.chunks_exact_mut(dp).zip(ws.yty.chunks_exact(d)) {
                for (g, &y) in g.iter_mut().zip(y) {
                    *g = y as f32;
                }
            }
            if ws.weighted.len() < dp * n {
                ws.weighted.resize(dp * n, 0.0);
            }
            let mut n_explicit = 0;
            for (((wx, rw), &c), &y) in ws
                .weighted
                .chunks_exact_mut(dp)
                .zip(&mut ws.rhs_weights)
                .zip(cols)
                .zip(values)
            {
                let x = cols_of.padded(c as usize);
                let (extra, full) = Feedback::implicit_weights(alpha, confidence, y);
                for (w, &v) in wx.iter_mut().zip(x) {
                    *w = (extra * f64::from(v)) as f32;
                }
                // `full` is 0 unless y > 0: such a rating adds nothing to b.
                *rw = full as f32;
                n_explicit += usize::from(y > 0.0);
            }
            add_gram_gathered::<MR, true, M>(
                madd,
                &mut ws.gram,
                &mut ws.rhs32,
                d,
                dp,
                cols_of.padded,
                cols,
                &ws.weighted,
                &ws.rhs_weights,
                &mut ws.panel,
            );
            n_explicit
        }
    }
}

/// One row's regularised system `A f = b`, applied without forming `A` (for CG).
struct RowSystem<'a> {
    step: &'a HalfStep,
    cols_of: &'a Columns<'a>,
    cols: &'a [u32],
    values: &'a [f32],
    yty: &'a [f64],
}

impl RowSystem<'_> {
    /// `out = A v`: `Σ (x·v) x` over the ratings (weighted by `c1`, on top of `YᵀY v`, for
    /// implicit feedback) plus `λ n_r v`. `rhs`, if given, receives `b` in the same pass.
    fn apply(&self, v: &[f64], out: &mut [f64], mut rhs: Option<&mut [f64]>, xa: &mut [f64]) {
        let (cols_of, d) = (self.cols_of, self.cols_of.d);
        if let Some(b) = rhs.as_deref_mut() {
            b.fill(0.0);
        }
        let pairs = self.cols.iter().zip(self.values);
        let n_reg = match self.step.feedback {
            Feedback::Explicit => {
                out.fill(0.0);
                for (&c, &y) in pairs {
                    cols_of.load(c as usize, xa);
                    axpy(out, dot(xa, v), xa);
                    if let Some(b) = rhs.as_deref_mut() {
                        axpy(b, cols_of.target(c as usize, y), xa);
                    }
                }
                self.cols.len()
            }
            Feedback::Implicit { alpha, confidence } => {
                sym_mul(self.yty, d, v, out);
                let mut n_explicit = 0;
                for (&c, &y) in pairs {
                    let (extra, full) = Feedback::implicit_weights(alpha, confidence, y);
                    cols_of.load(c as usize, xa);
                    if extra != 0.0 {
                        axpy(out, extra * dot(xa, v), xa);
                    }
                    if y > 0.0 {
                        n_explicit += 1;
                        if let Some(b) = rhs.as_deref_mut() {
                            axpy(b, full, xa);
                        }
                    }
                }
                n_explicit
            }
        };
        let rank = self.step.rank;
        let lambda = self.step.lambda(n_reg);
        for (o, &x) in out[..rank].iter_mut().zip(&v[..rank]) {
            *o += lambda * x;
        }
        if d > rank {
            out[rank] += self.step.bias_lambda(n_reg) * v[rank];
        }
    }
}

/// `steps` conjugate-gradient steps on one row's regularised system, from the warm start in
/// `ws.sol` (the row's current factors), as the `implicit` library's `_least_squares_cg`.
/// False if the result is not finite.
fn conjugate_gradient(
    step: &HalfStep,
    cols_of: &Columns,
    cols: &[u32],
    values: &[f32],
    steps: usize,
    ws: &mut Workspace,
) -> bool {
    let d = cols_of.d;
    let system = RowSystem {
        step,
        cols_of,
        cols,
        values,
        yty: &ws.yty,
    };
    // residual = b − A x, direction = residual.
    system.apply(&ws.sol, &mut ws.a_dir, Some(&mut ws.rhs), &mut ws.xa);
    if ws.rhs.iter().all(|&v| v == 0.0) {
        // 0 solves A x = 0 exactly, and is the smallest solution when A is singular (as for
        // implicit rows whose every confidence is 0), where CG would keep the warm start.
        ws.sol.fill(0.0);
        return true;
    }
    for k in 0..d {
        ws.residual[k] = ws.rhs[k] - ws.a_dir[k];
    }
    ws.direction.copy_from_slice(&ws.residual);
    let mut rs = dot(&ws.residual, &ws.residual);
    // Stop once the residual is at rounding level relative to b: further steps divide noise.
    let floor = 1e-28 * dot(&ws.rhs, &ws.rhs);
    for _ in 0..steps {
        // Also stops on NaN, hence not `rs <= floor`.
        if rs.partial_cmp(&floor) != Some(std::cmp::Ordering::Greater) {
            break;
        }
        system.apply(&ws.direction, &mut ws.a_dir, None, &mut ws.xa);
        let curvature = dot(&ws.direction, &ws.a_dir);
        if curvature.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            break;
        }
        let alpha = rs / curvature;
        axpy(&mut ws.sol, alpha, &ws.direction);
        axpy(&mut ws.residual, -alpha, &ws.a_dir);
        let rs_new = dot(&ws.residual, &ws.residual);
        let beta = rs_new / rs;
        for k in 0..d {
            ws.direction[k] = ws.residual[k] + beta * ws.direction[k];
        }
        rs = rs_new;
    }
    ws.sol.iter().all(|&v| fits_f32(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdMap;
    use crate::ratings::Ratings;
    use nalgebra::{DMatrix, DVector};

    /// One half-step against a direct solve of the same normal equations built densely:
    /// f_u = (Xᵤᵀ Xᵤ + λ nᵤ I)⁻¹ Xᵤᵀ yᵤ, inverted by LU rather than Cholesky.
    #[test]
    fn half_step_matches_a_direct_solve_of_the_normal_equations() {
        let rank = 3;
        let item_factors: Vec<f32> = (0..5 * rank)
            .map(|k| ((k * 7 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let data = [
            ("u0", [0, 1, 2, 4], [4.0, 2.0, 5.0, 1.0]),
            ("u1", [1, 3, 4, 0], [3.0, 3.5, 1.0, 2.0]),
        ];
        let item_ids: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let mut ratings = Ratings::with_maps(IdMap::new(), IdMap::from(item_ids));
        for (u, items, ys) in data {
            for (i, y) in items.iter().zip(ys) {
                ratings.push(u, &format!("i{i}"), y);
            }
        }
        let rows = RatingRows::by_user(&ratings);
        let reg = 0.3;
        let mut got = vec![0f32; 2 * rank];
        let mut fitted = vec![false; 2];
        solve_side(&rows, &item_factors, rank, reg, &mut got, &mut fitted);
        assert_eq!(fitted, vec![true, true]);

        for (u, (_, items, ys)) in data.iter().enumerate() {
            let x = DMatrix::<f64>::from_fn(items.len(), rank, |r, c| {
                f64::from(item_factors[items[r] * rank + c])
            });
            let y = DVector::<f64>::from_iterator(ys.len(), ys.iter().map(|&v| f64::from(v)));
            let lhs = x.transpose() * &x
                + DMatrix::<f64>::identity(rank, rank) * (reg * items.len() as f64);
            let want = lhs.lu().solve(&(x.transpose() * y)).unwrap();
            for c in 0..rank {
                let g = f64::from(got[u * rank + c]);
                assert!(
                    (g - want[c]).abs() < 1e-5,
                    "user {u} factor {c}: {g} vs {}",
                    want[c]
                );
            }
        }
    }

    /// One user with 100 ratings, then 100 users with one rating each.
    fn one_heavy_user_then_light_ones() -> RatingRows {
        let mut ratings = Ratings::default();
        for i in 0..100 {
            ratings.push("heavy", &format!("i{i}"), 1.0);
        }
        for u in 0..100 {
            ratings.push(&format!("light{u}"), "i0", 1.0);
        }
        let rows = RatingRows::by_user(&ratings);
        assert_eq!(rows.row(0).0.len(), 100);
        rows
    }

    /// A row costs its ratings plus [`ROW_COST_IN_RATINGS`] (and a small cubic term): one
    /// user with 100 ratings followed by 100 users with one each splits after the 49th light
    /// user (148 + 49 × 49 rating-equivalents before the split, 51 × 49 after), where
    /// counting ratings alone would give the heavy user's part only 36 light users. (Non-
    /// negative factors, so that the light users are not solved in the dual form.)
    #[test]
    fn a_split_counts_each_row_as_well_as_its_ratings() {
        let rows = one_heavy_user_then_light_ones();
        let step = HalfStep {
            nonnegative: true,
            ..HalfStep::explicit(8, 0.1)
        };
        assert_eq!(split_by_work(&step, false, &rows, 2), vec![50, 101]);
        assert_eq!(split_by_work(&step, false, &rows, 1), vec![101]);
        // The first of three parts ends where its share of the work is reached.
        assert_eq!(split_by_work(&step, false, &rows, 3)[0], 33);
    }

    /// Rows solved in the dual form cost their small systems: at rank 8 a light user costs
    /// 4 × (1 + 16) × 8 = 544 multiply-adds against the heavy user's (100 + 48) × 64 / 2 +
    /// 8³ / 6 = 4,821, so the heavy user's part takes 46 light users, where as primal rows
    /// it took 49.
    #[test]
    fn a_row_solved_in_the_dual_form_costs_its_small_system() {
        let rows = one_heavy_user_then_light_ones();
        let step = HalfStep::explicit(8, 0.1);
        assert!(dual_ridge(&step, 8, 1).is_some() && dual_ridge(&step, 8, 100).is_none());
        assert_eq!(split_by_work(&step, false, &rows, 2), vec![47, 101]);
    }

    #[test]
    fn rows_without_ratings_are_left_unfitted() {
        let mut ratings = Ratings::default();
        ratings.push("a", "x", 1.0);
        ratings.push("b", "y", 1.0);
        let ratings = ratings.select([0]);
        let rows = RatingRows::by_user(&ratings);
        let mut dst = vec![9f32; 4];
        let mut fitted = vec![true; 2];
        solve_side(&rows, &[1.0, 0.0, 0.0, 1.0], 2, 0.1, &mut dst, &mut fitted);
        assert_eq!(fitted, vec![true, false]);
        assert_eq!(&dst[2..], &[0.0, 0.0]);
        assert!(dst[0] > 0.0);
    }

    #[test]
    fn zero_regularisation_with_a_singular_system_stays_finite() {
        let mut ratings = Ratings::default();
        ratings.push("a", "x", 3.0);
        let rows = RatingRows::by_user(&ratings);
        let mut dst = vec![0f32; 2];
        let mut fitted = vec![false; 1];
        // One rating, rank 2, no regularisation: x xᵀ is singular.
        solve_side(&rows, &[1.0, 1.0], 2, 0.0, &mut dst, &mut fitted);
        assert!(dst.iter().all(|v| v.is_finite()), "{dst:?}");
    }

    /// Ratings of two users over five items, with a negative and a zero rating, and fixed
    /// item factors of rank 3.
    fn small_problem() -> (Ratings, Vec<f32>, usize) {
        let rank = 3;
        let item_factors: Vec<f32> = (0..5 * rank)
            .map(|k| ((k * 7 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let data: [(&str, &[usize], &[f32]); 2] = [
            ("u0", &[0, 1, 2, 4], &[4.0, 2.0, 5.0, 1.0]),
            ("u1", &[1, 3, 4, 0], &[3.0, -2.0, 0.0, 2.0]),
        ];
        let item_ids: Vec<String> = (0..5).map(|i| format!("i{i}")).collect();
        let mut ratings = Ratings::with_maps(IdMap::new(), IdMap::from(item_ids));
        for (u, items, ys) in data {
            for (i, &y) in items.iter().zip(ys) {
                ratings.push(u, &format!("i{i}"), y);
            }
        }
        (ratings, item_factors, rank)
    }

    fn params(rank: usize, reg_param: f64, feedback: Feedback, solver: Solver) -> HalfStep {
        HalfStep {
            feedback,
            solver,
            ..HalfStep::explicit(rank, reg_param)
        }
    }

    /// Runs one half-step over users from the factors `start` (and biases 0), returning
    /// factors, biases and fitted flags.
    fn run(
        step: &HalfStep,
        ratings: &Ratings,
        item_factors: &[f32],
        item_biases: Option<(&[f32], f32)>,
        start: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<bool>) {
        let rows = RatingRows::by_user(ratings);
        let n = rows.n_rows();
        let mut factors = start.to_vec();
        let mut biases = vec![0f32; n];
        let mut fitted = vec![false; n];
        let d = step.rank + usize::from(item_biases.is_some());
        half_step(
            step,
            &rows,
            &Fixed {
                factors: item_factors,
                biases: item_biases,
            },
            Solved {
                factors: &mut factors,
                biases: item_biases.is_some().then_some(&mut biases[..]),
                fitted: &mut fitted,
                errors: None,
            },
            &mut [Workspace::new(d)],
        );
        (factors, biases, fitted)
    }

    /// Implicit feedback against Hu, Koren & Volinsky's dense form of Spark's equations:
    /// f_u = (Yᵀ Cᵤ Y + λ nᵤ⁺ I)⁻¹ Yᵀ Cᵤ pᵤ over *all* items, with cᵤᵢ = 1 + α|rᵤᵢ| (1 when
    /// unrated), pᵤᵢ = [rᵤᵢ > 0], and nᵤ⁺ the user's number of positive ratings.
    #[test]
    fn implicit_half_step_matches_a_dense_solve_of_the_confidence_weighted_equations() {
        let (ratings, item_factors, rank) = small_problem();
        let (alpha, reg) = (2.5, 0.3);
        let step = params(
            rank,
            reg,
            Feedback::Implicit {
                alpha,
                confidence: Confidence::OnePlusAlpha,
            },
            Solver::Cholesky,
        );
        let (got, _, fitted) = run(&step, &ratings, &item_factors, None, &[0.0; 6]);
        assert_eq!(fitted, vec![true, true]);

        let y = DMatrix::<f64>::from_fn(5, rank, |r, c| f64::from(item_factors[r * rank + c]));
        let rows = RatingRows::by_user(&ratings);
        for u in 0..2 {
            let (cols, values) = rows.row(u);
            let mut conf = DVector::<f64>::from_element(5, 1.0);
            let mut pref = DVector::<f64>::zeros(5);
            for (&i, &r) in cols.iter().zip(values) {
                conf[i as usize] = 1.0 + alpha * f64::from(r).abs();
                pref[i as usize] = if r > 0.0 { 1.0 } else { 0.0 };
            }
            let n_pos = values.iter().filter(|&&r| r > 0.0).count() as f64;
            let cu = DMatrix::from_diagonal(&conf);
            let lhs = y.transpose() * &cu * &y + DMatrix::identity(rank, rank) * (reg * n_pos);
            let want = lhs.lu().solve(&(y.transpose() * &cu * &pref)).unwrap();
            for c in 0..rank {
                let g = f64::from(got[u * rank + c]);
                assert!(
                    (g - want[c]).abs() < 1e-5,
                    "user {u} factor {c}: {g} vs {}",
                    want[c]
                );
            }
        }
    }

    /// The `implicit` library's equations: f_u = (Yᵀ Cᵤ Y + λ I)⁻¹ Yᵀ Cᵤ pᵤ with
    /// cᵤᵢ = α|rᵤᵢ| on rated items (1 on the others) and λ not scaled, by Cholesky and by
    /// enough CG steps alike.
    #[test]
    fn implicit_libraries_semantics_match_a_dense_solve() {
        let (ratings, item_factors, rank) = small_problem();
        let (alpha, reg) = (2.5, 0.7);
        let feedback = Feedback::Implicit {
            alpha,
            confidence: Confidence::Alpha,
        };
        let y = DMatrix::<f64>::from_fn(5, rank, |r, c| f64::from(item_factors[r * rank + c]));
        let rows = RatingRows::by_user(&ratings);
        for solver in [Solver::Cholesky, Solver::Cg { steps: 50 }] {
            let step = HalfStep {
                reg_scaling: RegScaling::Constant,
                ..params(rank, reg, feedback, solver)
            };
            let (got, _, fitted) = run(&step, &ratings, &item_factors, None, &[0.1; 6]);
            assert_eq!(fitted, vec![true, true]);
            for u in 0..2 {
                let (cols, values) = rows.row(u);
                let mut conf = DVector::<f64>::from_element(5, 1.0);
                let mut pref = DVector::<f64>::zeros(5);
                for (&i, &r) in cols.iter().zip(values) {
                    conf[i as usize] = alpha * f64::from(r).abs();
                    pref[i as usize] = if r > 0.0 { 1.0 } else { 0.0 };
                }
                let cu = DMatrix::from_diagonal(&conf);
                let lhs = y.transpose() * &cu * &y + DMatrix::identity(rank, rank) * reg;
                let want = lhs.lu().solve(&(y.transpose() * &cu * &pref)).unwrap();
                for c in 0..rank {
                    let g = f64::from(got[u * rank + c]);
                    assert!(
                        (g - want[c]).abs() < 1e-4,
                        "{solver:?} user {u} factor {c}: {g} vs {}",
                        want[c]
                    );
                }
            }
        }
    }

    /// A constant ridge adds to the factors' λ nᵤ, and a bias regularisation replaces it
    /// for the bias alone: the diagonal is (λ nᵤ + c, …, λ nᵤ + c, β).
    #[test]
    fn constant_ridge_and_bias_regularisation_set_the_diagonal() {
        let (ratings, item_factors, rank) = small_problem();
        let item_biases = [0.5f32, -0.25, 0.0, 1.0, -1.0];
        let (mean, reg, constant, bias_reg) = (2.5f32, 0.2, 0.9, 0.05);
        let rows = RatingRows::by_user(&ratings);
        for solver in [Solver::Cholesky, Solver::Cg { steps: 50 }] {
            let step = HalfStep {
                reg_constant: constant,
                bias_reg: Some(bias_reg),
                ..params(rank, reg, Feedback::Explicit, solver)
            };
            let (got, biases, _) = run(
                &step,
                &ratings,
                &item_factors,
                Some((&item_biases, mean)),
                &[0.0; 6],
            );
            for u in 0..2 {
                let (cols, values) = rows.row(u);
                let n = cols.len();
                let x = DMatrix::<f64>::from_fn(n, rank + 1, |r, c| {
                    if c == rank {
                        1.0
                    } else {
                        f64::from(item_factors[cols[r] as usize * rank + c])
                    }
                });
                let t = DVector::<f64>::from_fn(n, |r, _| {
                    f64::from(values[r])
                        - f64::from(mean)
                        - f64::from(item_biases[cols[r] as usize])
                });
                let mut diag = DVector::<f64>::from_element(rank + 1, reg * n as f64 + constant);
                diag[rank] = bias_reg;
                let lhs = x.transpose() * &x + DMatrix::from_diagonal(&diag);
                let want = lhs.lu().solve(&(x.transpose() * t)).unwrap();
                for c in 0..rank {
                    let g = f64::from(got[u * rank + c]);
                    assert!((g - want[c]).abs() < 1e-4, "{solver:?}: {g} vs {}", want[c]);
                }
                let b = f64::from(biases[u]);
                assert!(
                    (b - want[rank]).abs() < 1e-4,
                    "{solver:?}: {b} vs {}",
                    want[rank]
                );
            }
        }
    }

    /// A Gram matrix the `f32` kernel cannot hold (factors of 1e20, squares beyond
    /// `f32::MAX`) is rebuilt in `f64`: the row is still solved, to the right answer.
    #[test]
    fn factors_too_large_for_the_f32_gram_kernel_are_solved_in_f64() {
        let (ratings, item_factors, rank) = small_problem();
        let big: Vec<f32> = item_factors.iter().map(|v| v * 1e20).collect();
        let step = params(rank, 0.1, Feedback::Explicit, Solver::Cholesky);
        let (want, _, _) = run(&step, &ratings, &item_factors, None, &[0.0; 6]);
        let (got, _, fitted) = run(
            &HalfStep {
                reg_param: 0.1 * 1e40,
                ..step
            },
            &ratings,
            &big,
            None,
            &[0.0; 6],
        );
        assert_eq!(fitted, vec![true, true]);
        for (g, w) in got.iter().zip(&want) {
            assert!((g * 1e20 - w).abs() < 1e-4, "{g:e} vs {w}");
        }
    }

    /// With biases, a user's unknowns are its factors and its bias, fitted to
    /// `r − mean − b_i` on the item vectors `[v_i, 1]`, all regularised by λ nᵤ.
    #[test]
    fn biased_half_step_solves_the_augmented_equations() {
        let (ratings, item_factors, rank) = small_problem();
        let item_biases = [0.5f32, -0.25, 0.0, 1.0, -1.0];
        let (mean, reg) = (2.5f32, 0.2);
        let step = params(rank, reg, Feedback::Explicit, Solver::Cholesky);
        let (got, biases, _) = run(
            &step,
            &ratings,
            &item_factors,
            Some((&item_biases, mean)),
            &[0.0; 6],
        );
        let rows = RatingRows::by_user(&ratings);
        for u in 0..2 {
            let (cols, values) = rows.row(u);
            let n = cols.len();
            let x = DMatrix::<f64>::from_fn(n, rank + 1, |r, c| {
                if c == rank {
                    1.0
                } else {
                    f64::from(item_factors[cols[r] as usize * rank + c])
                }
            });
            let t = DVector::<f64>::from_fn(n, |r, _| {
                f64::from(values[r]) - f64::from(mean) - f64::from(item_biases[cols[r] as usize])
            });
            let lhs = x.transpose() * &x + DMatrix::identity(rank + 1, rank + 1) * (reg * n as f64);
            let want = lhs.lu().solve(&(x.transpose() * t)).unwrap();
            for c in 0..rank {
                assert!((f64::from(got[u * rank + c]) - want[c]).abs() < 1e-5);
            }
            assert!((f64::from(biases[u]) - want[rank]).abs() < 1e-5);
        }
    }

    /// Enough CG steps from an arbitrary warm start reach the Cholesky solution, explicit,
    /// implicit and with biases alike; three steps from that solution stay there.
    #[test]
    fn conjugate_gradient_with_many_steps_matches_cholesky() {
        let (ratings, item_factors, rank) = small_problem();
        let item_biases = [0.5f32, -0.25, 0.0, 1.0, -1.0];
        let start = [0.3f32, -0.7, 0.2, 1.1, 0.0, -0.4];
        for (feedback, biases) in [
            (Feedback::Explicit, None),
            (
                Feedback::Implicit {
                    alpha: 4.0,
                    confidence: Confidence::OnePlusAlpha,
                },
                None,
            ),
            (Feedback::Explicit, Some((&item_biases[..], 3.0f32))),
        ] {
            let exact = params(rank, 0.1, feedback, Solver::Cholesky);
            let (want, want_b, _) = run(&exact, &ratings, &item_factors, biases, &start);
            let cg = params(rank, 0.1, feedback, Solver::Cg { steps: 50 });
            let (got, got_b, fitted) = run(&cg, &ratings, &item_factors, biases, &start);
            assert_eq!(fitted, vec![true, true]);
            for (g, w) in got.iter().zip(&want).chain(got_b.iter().zip(&want_b)) {
                assert!((g - w).abs() < 1e-4, "{feedback:?}: {got:?} vs {want:?}");
            }
            if biases.is_some() {
                continue; // `run` restarts biases at 0, so this would not be a warm start.
            }
            let few = params(rank, 0.1, feedback, Solver::Cg { steps: 3 });
            let (again, _, _) = run(&few, &ratings, &item_factors, biases, &want);
            for (g, w) in again.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "{feedback:?} warm start: {again:?}");
            }
        }
    }

    /// Non-negative rows are the NNLS solution: ≥ 0, and equal to Cholesky's where that
    /// solution happens to be non-negative already.
    #[test]
    fn nonnegative_half_step_is_nonnegative_and_exact_when_unconstrained() {
        let (ratings, item_factors, rank) = small_problem();
        let exact = params(rank, 0.3, Feedback::Explicit, Solver::Cholesky);
        let nn = HalfStep {
            nonnegative: true,
            ..exact
        };
        let (free, _, _) = run(&exact, &ratings, &item_factors, None, &[0.0; 6]);
        let (got, _, fitted) = run(&nn, &ratings, &item_factors, None, &[0.0; 6]);
        assert_eq!(fitted, vec![true, true]);
        assert!(got.iter().all(|&v| v >= 0.0), "{got:?}");
        assert!(
            free.iter().any(|&v| v < 0.0),
            "the test needs an active bound"
        );
        for u in 0..2 {
            let row = &free[u * rank..(u + 1) * rank];
            if row.iter().all(|&v| v >= 0.0) {
                for c in 0..rank {
                    assert!((got[u * rank + c] - row[c]).abs() < 1e-5);
                }
            }
        }
    }

    /// Ratings from 1 to 5 of 60 users over 80 items around a planted rank-6 matrix, and
    /// fixed item factors of rank 16 and biases: the squared targets sum to over ten times the
    /// squared errors, so the shortcut's cancellation is of a real fit's size.
    fn rated_problem() -> (Ratings, Vec<f32>, Vec<f32>, usize) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (rank, planted) = (16, 6);
        let mut normal = || -> f32 { (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>() };
        let users: Vec<f32> = (0..60 * planted).map(|_| normal()).collect();
        let items: Vec<f32> = (0..80 * planted).map(|_| normal()).collect();
        // The planted items' factors, a constant for the mean, then noise.
        let item_factors: Vec<f32> = (0..80 * rank)
            .map(|k| match k % rank {
                f if f < planted => items[k / rank * planted + f],
                f if f == planted => 3.0,
                _ => 0.2 * normal(),
            })
            .collect();
        let item_biases: Vec<f32> = (0..80).map(|_| 0.3 * normal()).collect();
        let mut ratings = Ratings::default();
        for u in 0..60 {
            for i in 0..80 {
                if (u * 7 + i * 3) % 5 < 3 {
                    let dot: f32 = (0..planted)
                        .map(|k| users[u * planted + k] * items[i * planted + k])
                        .sum();
                    let y = (3.0 + dot + 0.3 * normal()).round().clamp(1.0, 5.0);
                    ratings.push(&format!("u{u}"), &format!("i{i}"), y);
                }
            }
        }
        (ratings, item_factors, item_biases, rank)
    }

    /// The squared errors a half-step sums as it solves each row (by the shortcut
    /// `Σt² − zᵀb − zᵀΛz` on the Cholesky path, by prediction on the others) are those of
    /// the factors it stores, predicted rating by rating in `f64`.
    #[test]
    fn the_shortcut_loss_is_the_predicted_loss() {
        let (ratings, item_factors, item_biases, rank) = rated_problem();
        let rows = RatingRows::by_user(&ratings);
        let n = rows.n_rows();
        let mean = 3.4f32;
        let cholesky = params(rank, 0.02, Feedback::Explicit, Solver::Cholesky);
        let setups = [
            ("Cholesky", cholesky, false),
            ("Cholesky with biases", cholesky, true),
            (
                "NNLS",
                HalfStep {
                    nonnegative: true,
                    ..cholesky
                },
                false,
            ),
            (
                "CG",
                params(rank, 0.02, Feedback::Explicit, Solver::Cg { steps: 3 }),
                true,
            ),
        ];
        for (what, step, with_biases) in setups {
            let d = rank + usize::from(with_biases);
            let mut factors = vec![0.1f32; n * rank];
            let mut biases = vec![0f32; n];
            let mut fitted = vec![false; n];
            let mut errors = vec![f64::NAN; n];
            half_step(
                &step,
                &rows,
                &Fixed {
                    factors: &item_factors,
                    biases: with_biases.then_some((&item_biases[..], mean)),
                },
                Solved {
                    factors: &mut factors,
                    biases: with_biases.then_some(&mut biases[..]),
                    fitted: &mut fitted,
                    errors: Some(&mut errors),
                },
                &mut [Workspace::new(d)],
            );
            assert!(fitted.iter().all(|&f| f), "{what}");
            let (mut got_sum, mut want_sum, mut all_targets) = (0.0, 0.0, 0.0);
            for u in 0..n {
                let (cols, values) = rows.row(u);
                let (mut want, mut targets) = (0.0, 0.0);
                for (&c, &y) in cols.iter().zip(values) {
                    let c = c as usize;
                    let mut t = f64::from(y);
                    if with_biases {
                        t -= f64::from(mean) + f64::from(item_biases[c]) + f64::from(biases[u]);
                    }
                    let p: f64 = (0..rank)
                        .map(|k| {
                            f64::from(factors[u * rank + k]) * f64::from(item_factors[c * rank + k])
                        })
                        .sum();
                    want += (t - p) * (t - p);
                    targets += t * t;
                }
                all_targets += targets;
                assert!(
                    (errors[u] - want).abs() <= 1e-5 * targets,
                    "{what}, user {u}: {} against {want}",
                    errors[u]
                );
                got_sum += errors[u];
                want_sum += want;
            }
            // With biases the targets are centred, so there is less to cancel.
            assert!(
                with_biases || all_targets > 10.0 * want_sum,
                "{what}: a weak test"
            );
            assert!(
                (got_sum - want_sum).abs() <= 1e-5 * want_sum,
                "{what}: {got_sum} against {want_sum}"
            );
        }
    }
}
