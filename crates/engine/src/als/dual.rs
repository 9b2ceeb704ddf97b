//! A row's ridge regression in its dual form, for rows with few ratings against their
//! unknowns.
//!
//! The normal equations `(XᵀX + Λ) z = Xᵀt` of a row (`X` its `n` ratings' columns of the
//! fixed side, `d` unknowns, `t` the targets, `Λ` the diagonal ridge) cost `n·d²/2`
//! multiply-adds to build and `d³/6` to factorise, however few ratings the row has. With
//! `λ` the factors' ridge and `W = λΛ⁻¹` (1 for a factor, `λ/λ_bias` for a bias), the same
//! solution is
//!
//! ```text
//! z = W Xᵀ β,   where   (X W Xᵀ + λ I) β = t,
//! ```
//!
//! since `(XᵀX + Λ) W Xᵀ β = Xᵀ (X W Xᵀ + λ I) β`. That system is `n × n`: `n²·d/2`
//! multiply-adds to build, `n³/6` to factorise. Most items of a catalogue, and many users,
//! have fewer ratings than a model of rank 40 has factors (in a random 80% of MovieLens
//! 100K, about 1,050 of its 1,650 items and 370 of its 943 users have fewer than 40), so rows
//! of up to [`dual_limit`] ratings go this way. It is Spark's solution of Spark's problem,
//! rounded differently.

use super::dense::{
    cholesky_f32, cholesky_solve_f32, dot4_f32, dot_f32, padded, F32_SAFE, GRAM_NR,
};

/// The most ratings a row may have to be solved in the dual form, for `d` unknowns: about
/// three quarters of `d`. The dual system is the smaller one up to `d` ratings, but its
/// dot products are slower per multiply-add than the primal Gram kernel: u.data fits (rank 40,
/// one thread, 128-bit lanes) took 166 ms without the dual form, 144, 141, 144 and 149 ms
/// with it up to a half, three quarters, all and five quarters of `d` ratings (AVX2: 112,
/// 94, 94, 99 and 103 ms).
pub(super) fn dual_limit(d: usize) -> usize {
    (3 * d / 4).saturating_sub(1)
}

/// The ridge of a row solved in the dual form: `lambda` on every factor, and the bias (the
/// unknown at index `index`, when the model has biases) weighted by `weight` = `λ/λ_bias`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct DualRidge {
    /// The factors' ridge `λ`, positive and finite.
    pub lambda: f32,
    /// The bias unknown's index and its weight `λ/λ_bias` (positive and finite).
    pub bias: Option<(usize, f32)>,
}

impl DualRidge {
    /// The ridge for factors' ridge `lambda` and, with biases, the bias (unknown `index`) ridge
    /// `bias_lambda`; `None` unless both are positive and finite in `f32` (without a ridge the
    /// dual system may be singular, and the primal path knows what to do then).
    pub(super) fn new(lambda: f64, bias: Option<(usize, f64)>) -> Option<Self> {
        let lambda32 = lambda as f32;
        let usable = |v: f32| v > 0.0 && v.is_finite();
        if !usable(lambda32) {
            return None;
        }
        let bias = match bias {
            None => None,
            Some((index, bias_lambda)) => {
                let weight = (lambda / bias_lambda) as f32;
                if !(usable(bias_lambda as f32) && usable(weight)) {
                    return None;
                }
                Some((index, weight))
            }
        };
        Some(Self {
            lambda: lambda32,
            bias,
        })
    }
}

/// Buffers of [`solve_dual`] for `d` unknowns and rows of at most [`dual_limit`]`(d)`
/// ratings, allocated once.
#[derive(Clone, Debug)]
pub(super) struct DualScratch {
    /// The system (`np × np`, `np` the row's ratings rounded up to whole Gram tiles) and its
    /// right-hand side (`np`).
    system: Vec<f32>,
    rhs: Vec<f32>,
    /// The solution: `dp` values, `d` unknowns then zeros.
    pub z: Vec<f32>,
}

impl DualScratch {
    /// Buffers for `d` unknowns, `dp` of them with the padding.
    pub(super) fn new(d: usize, dp: usize) -> Self {
        let np = padded(dual_limit(d));
        Self {
            system: vec![0.0; np * np],
            rhs: vec![0.0; np],
            z: vec![0.0; dp],
        }
    }
}

/// Solves one row in the dual form into `scratch.z`: its ratings' columns are rows `cols` of
/// `fixed` (rows of `dp` values: the unknowns' columns, then zeros, as the Gram kernel reads
/// them), its targets `targets`; at most [`dual_limit`] ratings. False when the system is not
/// numerically positive definite or the solution not finite (the caller then solves the row
/// another way).
///
/// Every operation is element-wise or a sum in fixed lanes, multiplies and adds unfused: the
/// same bits natively and in WebAssembly, whatever the vector width.
// The system's entries are dot products in 128-bit lanes even where AVX2 is at hand: summed
// as the primal system is (the Gram kernel over the columns transposed), u.data fits
// (rank 40, one thread) took 93 ms with AVX2 either way, but 150 ms against 141 ms with
// 128-bit lanes, the WebAssembly worker's width.
#[inline(always)]
pub(super) fn solve_dual(
    fixed: &[f32],
    dp: usize,
    cols: &[u32],
    targets: &[f32],
    ridge: DualRidge,
    scratch: &mut DualScratch,
) -> bool {
    let n = cols.len();
    debug_assert_eq!(targets.len(), n);
    let np = padded(n);
    let system = &mut scratch.system[..np * np];
    let x = |i: usize| {
        let c = cols[i] as usize;
        &fixed[c * dp..(c + 1) * dp]
    };
    for i in 0..n {
        let xi = x(i);
        let row = &mut system[i * np..(i + 1) * np];
        // Left of the diagonal's block is never read; right of column `n` must be finite.
        row[i / GRAM_NR * GRAM_NR..].fill(0.0);
        let mut j = i;
        while j + 4 <= n {
            let s = dot4_f32(xi, [x(j), x(j + 1), x(j + 2), x(j + 3)]);
            row[j..j + 4].copy_from_slice(&s);
            j += 4;
        }
        for (v, j) in row[j..n].iter_mut().zip(j..) {
            *v = dot_f32(xi, x(j));
        }
        if let Some((b, w)) = ridge.bias {
            // The dot products weighed the bias' column by 1; it weighs `w`.
            for (v, j) in row[i..n].iter_mut().zip(i..) {
                *v += (w - 1.0) * (xi[b] * x(j)[b]);
            }
        }
        row[i] += ridge.lambda;
        if !row[i].is_finite() || row[i].abs() > F32_SAFE {
            return false;
        }
    }
    let rhs = &mut scratch.rhs[..np];
    rhs[..n].copy_from_slice(targets);
    rhs[n..].fill(0.0);
    if !rhs.iter().all(|v| v.abs() <= F32_SAFE) || !cholesky_f32(system, n, np) {
        return false;
    }
    cholesky_solve_f32(system, n, np, rhs);
    let z = &mut scratch.z[..dp];
    z.fill(0.0);
    for (i, &beta) in rhs[..n].iter().enumerate() {
        for (z, &v) in z.iter_mut().zip(x(i)) {
            *z += beta * v;
        }
    }
    if let Some((b, w)) = ridge.bias {
        z[b] *= w;
    }
    z.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The primal solution `(XᵀX + Λ)⁻¹ Xᵀ t` in `f64`.
    fn primal(x: &[Vec<f64>], t: &[f64], ridge: &[f64]) -> Vec<f64> {
        let d = ridge.len();
        let x = DMatrix::<f64>::from_fn(x.len(), d, |r, c| x[r][c]);
        let lhs = x.transpose() * &x + DMatrix::from_diagonal(&DVector::from_column_slice(ridge));
        let rhs = x.transpose() * DVector::from_column_slice(t);
        lhs.lu().solve(&rhs).unwrap().iter().copied().collect()
    }

    /// `n` random columns of `d` unknowns (the last a bias column of ones when `bias`), as
    /// rows of `dp` values, and random targets: `solve_dual`'s solution (with `scratch`, as
    /// another row left it) against the primal one in `f64`.
    fn case(
        scratch: &mut DualScratch,
        n: usize,
        d: usize,
        bias: bool,
        lambda: f64,
        bias_lambda: f64,
        seed: u64,
    ) {
        let dp = padded(d);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // More fixed rows than ratings, and the row's columns in no particular order.
        let n_fixed = n + 7;
        let mut fixed = vec![0f32; n_fixed * dp];
        for row in fixed.chunks_exact_mut(dp) {
            for v in &mut row[..d] {
                *v = rng.random_range(-1.5f32..1.5);
            }
            if bias {
                row[d - 1] = 1.0;
            }
        }
        let cols: Vec<u32> = (0..n).map(|i| ((i * 5 + 3) % n_fixed) as u32).collect();
        let targets: Vec<f32> = (0..n).map(|_| rng.random_range(1f32..5.0)).collect();
        let ridge = DualRidge::new(lambda, bias.then_some((d - 1, bias_lambda))).unwrap();
        assert!(solve_dual(&fixed, dp, &cols, &targets, ridge, scratch));
        let x: Vec<Vec<f64>> = cols
            .iter()
            .map(|&c| {
                let c = c as usize;
                fixed[c * dp..c * dp + d]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            })
            .collect();
        let t: Vec<f64> = targets.iter().map(|&v| f64::from(v)).collect();
        let mut ridges = vec![lambda; d];
        if bias {
            ridges[d - 1] = bias_lambda;
        }
        let want = primal(&x, &t, &ridges);
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        assert!(
            scratch.z[d..].iter().all(|&v| v == 0.0),
            "padding stays zero"
        );
        for (j, (&got, &want)) in scratch.z.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(got) - want).abs() <= 2e-5 * scale.max(1.0),
                "n {n} d {d} bias {bias}: unknown {j} is {got}, the primal solution {want}"
            );
        }
    }

    #[test]
    fn the_dual_solution_is_the_primal_one() {
        for d in [40, 10] {
            // Larger rows first: each later row finds the scratch as a larger one left it.
            let mut scratch = DualScratch::new(d, padded(d));
            for (seed, n) in [dual_limit(d), 17, 9, 8, 5, 1].into_iter().enumerate() {
                if n <= dual_limit(d) {
                    case(&mut scratch, n, d, false, 0.1 * n as f64, 0.0, seed as u64);
                }
            }
        }
    }

    #[test]
    fn a_bias_with_its_own_ridge_is_weighted_in_the_dual_form() {
        let mut scratch = DualScratch::new(41, 48);
        case(&mut scratch, 20, 41, true, 2.0, 2.0, 13);
        case(&mut scratch, 12, 41, true, 1.2, 0.3, 11);
        let mut scratch = DualScratch::new(11, 16);
        case(&mut scratch, 3, 11, true, 0.3, 5.0, 12);
    }

    #[test]
    fn no_dual_form_without_a_positive_ridge() {
        assert_eq!(DualRidge::new(0.0, None), None);
        assert_eq!(DualRidge::new(f64::NAN, None), None);
        assert_eq!(DualRidge::new(1e300, None), None);
        assert_eq!(DualRidge::new(1.0, Some((3, 0.0))), None);
        assert_eq!(DualRidge::new(1.0, Some((3, -1.0))), None);
        assert_eq!(
            DualRidge::new(1.0, Some((3, 4.0))),
            Some(DualRidge {
                lambda: 1.0,
                bias: Some((3, 0.25))
            })
        );
    }

    #[test]
    fn huge_targets_leave_the_row_to_the_f64_path() {
        let (d, dp) = (8usize, 8);
        let fixed = vec![0.5f32; 2 * dp];
        let ridge = DualRidge::new(1.0, None).unwrap();
        let mut scratch = DualScratch::new(d, dp);
        let mut solve =
            |targets: &[f32]| solve_dual(&fixed, dp, &[0, 1], targets, ridge, &mut scratch);
        assert!(!solve(&[1.0, 1e20]));
        assert!(solve(&[1.0, 2.0]));
    }
}
