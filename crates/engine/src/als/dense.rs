//! Small dense symmetric linear algebra on flat `f64` buffers, for the per-row solves.
//!
//! A symmetric `d × d` matrix is a row-major buffer of `d * d` values of which only the upper
//! triangle (`a[i * d + j]` with `j ≥ i`) is read or written: every row of ALS builds one, so
//! halving the work of the rank-one updates matters, and none of these functions allocates.

use super::lanes::F32x4;
use super::madd::Madd;

/// Dot product, with four accumulators so that the compiler can vectorise it (a single
/// floating-point accumulator forbids reordering the additions).
#[inline(always)]
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let (a4, a_rest) = a.split_at(n - n % 4);
    let (b4, b_rest) = b.split_at(n - n % 4);
    for (x, y) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let tail: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += w · x`.
#[inline(always)]
pub(super) fn axpy(y: &mut [f64], w: f64, x: &[f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += w * xi;
    }
}

/// `a += w · x xᵀ` on the upper triangle.
#[inline]
pub(super) fn add_outer(a: &mut [f64], d: usize, x: &[f64], w: f64) {
    for i in 0..d {
        let wxi = w * x[i];
        axpy(&mut a[i * d + i..(i + 1) * d], wxi, &x[i..d]);
    }
}

/// `out = A x` for the symmetric `A` stored in the upper triangle of `a`.
pub(super) fn sym_mul(a: &[f64], d: usize, x: &[f64], out: &mut [f64]) {
    out[..d].fill(0.0);
    for i in 0..d {
        let row = &a[i * d + i + 1..(i + 1) * d];
        let xi = x[i];
        out[i] += a[i * d + i] * xi + dot(row, &x[i + 1..d]);
        axpy(&mut out[i + 1..d], xi, row);
    }
}

/// Replaces the upper triangle of `u` (row-major, `u[k * d + j]` with `j ≥ k`) by the
/// Cholesky factor `U` with `A = UᵀU`; false when `A` is not numerically positive definite
/// (then `u` is garbage).
///
/// Right-looking (outer-product) form on the upper triangle: every inner loop is an `axpy`
/// along a contiguous row, which vectorises, unlike the short dependent dot products of the
/// row-by-row form (that one took as long as building the Gram matrix at rank 40).
#[inline(always)]
pub(super) fn cholesky_in_place(u: &mut [f64], d: usize) -> bool {
    for k in 0..d {
        let (head, tail) = u.split_at_mut((k + 1) * d);
        let row_k = &mut head[k * d..];
        let pivot = row_k[k];
        if !(pivot > 0.0 && pivot.is_finite()) {
            return false;
        }
        let p = pivot.sqrt();
        row_k[k] = p;
        let inv = 1.0 / p;
        for v in &mut row_k[k + 1..] {
            *v *= inv;
        }
        for (i, row_i) in (k + 1..d).zip(tail.chunks_exact_mut(d)) {
            axpy(&mut row_i[i..], -row_k[i], &row_k[i..]);
        }
    }
    true
}

/// Solves `UᵀU x = b` in place (`b` becomes `x`) given the factor from
/// [`cholesky_in_place`].
#[inline(always)]
pub(super) fn cholesky_solve(u: &[f64], d: usize, b: &mut [f64]) {
    // Uᵀ y = b, column by column so that rows of U are read contiguously.
    for k in 0..d {
        let row = &u[k * d..(k + 1) * d];
        b[k] /= row[k];
        let yk = b[k];
        axpy(&mut b[k + 1..d], -yk, &row[k + 1..]);
    }
    // U x = y.
    for k in (0..d).rev() {
        let row = &u[k * d..(k + 1) * d];
        let s = dot(&row[k + 1..], &b[k + 1..d]);
        b[k] = (b[k] - s) / row[k];
    }
}

/// Copies the upper triangle of `a` into `u`, adding `ridge` to the diagonal.
#[inline(always)]
fn copy_upper(a: &[f64], d: usize, u: &mut [f64], ridge: f64) {
    u[..d * d].copy_from_slice(&a[..d * d]);
    for i in 0..d {
        u[i * d + i] += ridge;
    }
}

/// Solves the symmetric positive (semi)definite system `A x = b` (upper triangle of `a`)
/// into `x`, using `scratch` (`d * d` values) for the factor. A singular system (possible
/// only with regParam 0) gets a tiny ridge rather than failing outright; false if even that
/// fails or `x` is not finite.
#[inline(always)]
pub(super) fn solve_spd(
    a: &[f64],
    d: usize,
    b: &[f64],
    scratch: &mut [f64],
    x: &mut [f64],
) -> bool {
    let scale = diagonal_scale(a, d, d);
    for ridge in RIDGES.map(|r| r * scale) {
        x[..d].copy_from_slice(&b[..d]);
        copy_upper(a, d, scratch, ridge);
        if cholesky_in_place(scratch, d) {
            cholesky_solve(scratch, d, x);
            if x[..d].iter().all(|&v| fits_f32(v)) {
                return true;
            }
        }
    }
    false
}

/// Ridges tried in turn, relative to the system's scale, until its Cholesky factorisation
/// succeeds and the solution fits in `f32`. A system is singular only without
/// regularisation (regParam 0) or, with implicit feedback, for a row whose ratings are all
/// ≤ 0; `f32` rounding in its Gram matrix can then make it slightly indefinite, and a
/// nearly singular one can have a solution too large to store. The first ridge is 0, so
/// a well-posed system is solved exactly as before.
const RIDGES: [f64; 5] = [0.0, 1e-9, 1e-6, 1e-3, 1.0];

/// The mean absolute diagonal entry of the `d × d` system stored with row stride `stride`,
/// at least 1e-12 (so that a zero system still gets a ridge); NaN if an entry is not finite.
fn diagonal_scale(a: &[f64], d: usize, stride: usize) -> f64 {
    let scale = (0..d).map(|i| a[i * stride + i].abs()).sum::<f64>() / d as f64;
    if scale.is_finite() {
        scale.max(1e-12)
    } else {
        f64::NAN
    }
}

/// Whether `v` is finite and small enough to be stored as a finite `f32` factor.
#[inline(always)]
pub(super) fn fits_f32(v: f64) -> bool {
    v.abs() <= f64::from(f32::MAX)
}

/// Columns of a Gram tile: one 256-bit vector of `f32`, or two 128-bit ones. Padded
/// matrices have a multiple of this many columns.
pub(super) const GRAM_NR: usize = 8;

/// `n` rounded up to whole Gram tiles: the row length of padded matrices.
pub(super) fn padded(n: usize) -> usize {
    n.div_ceil(GRAM_NR) * GRAM_NR
}

/// The largest right-hand side entry or diagonal entry of a system solved in `f32`; beyond
/// it (far beyond any rating scale in practice) the row is solved in `f64`.
pub(super) const F32_SAFE: f32 = 1e15;

/// Columns of the narrower tiles at the diagonal and at the last column: one 128-bit
/// vector of `f32`.
const GRAM_NR_MIN: usize = 4;

/// Ratings summed in a tile's registers before the tile is added to the Gram matrix (the
/// partial sums of a chunk are then summed, which loses less than one long running sum),
/// and whose rows [`add_gram_gathered`] copies side by side first.
pub(super) const GRAM_KC: usize = 64;

/// `gram += Σ_k a_k x_kᵀ` over the upper triangle of `gram` and `rhs += Σ_k w_k x_k`, where
/// `gram` is a `dp × dp` row-major `f32` matrix of which the leading `d × d` block is the
/// system (`dp` a multiple of [`GRAM_NR`]) and `rhs` has `dp` entries.
///
/// `x_k` is row `cols[k]` of `fixed`, a matrix of `dp` columns whose columns `d..` are
/// zero; `a_k` is `x_k` itself or, when `WEIGHTED`, row `k` of `weighted` (`x_k` scaled by
/// the rating's weight, same layout); `w_k` is `rhs_weights[k]`. `panel` is scratch of at
/// least `GRAM_KC × dp` values.
///
/// A rank-k update blocked for registers: the rows of up to [`GRAM_KC`] ratings are copied
/// side by side into `panel` (so the tiles read them in order, with no index to look up or
/// bound to check per rating), then an `MR × GRAM_NR` tile of the Gram matrix stays in
/// accumulators while they stream past it (one vector load and `MR` broadcasts per rating),
/// and is added to `gram`. Every operation is element-wise on fixed-width `[f32; GRAM_NR]`
/// lanes (no horizontal sum), the tiles' multiply-adds done as `madd` says (fused or not, see
/// [`Madd`]), so each entry is summed in the same order whatever `MR` and whatever vector
/// width the compiler picks (AVX2, SSE2, wasm simd128 or scalar): for one `madd`, the result
/// is bit-identical across them. The right-hand side is never fused.
/// Tiles that straddle the diagonal also add to a few entries below it, which are never
/// read.
// In WebAssembly this kernel stays a function of its own (with `cholesky_f32` and
// `cholesky_solve_f32`): V8 optimises a big function worse than several small ones, and
// merged into the per-row loop the three made a fit twice as slow in Node 20's V8 (in
// Chromium 156 the difference is within noise). Natively they are inlined, into the AVX2
// copy of the loop among others.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
#[cfg_attr(target_arch = "wasm32", inline(never))]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "relaxed-simd")
)]
#[allow(clippy::too_many_arguments)]
pub(super) fn add_gram_gathered<const MR: usize, const WEIGHTED: bool, M: Madd>(
    madd: M,
    gram: &mut [f32],
    rhs: &mut [f32],
    d: usize,
    dp: usize,
    fixed: &[f32],
    cols: &[u32],
    weighted: &[f32],
    rhs_weights: &[f32],
    panel: &mut [f32],
) {
    debug_assert!(dp.is_multiple_of(GRAM_NR) && GRAM_NR.is_multiple_of(MR) && dp >= d);
    debug_assert!(!WEIGHTED || weighted.len() >= cols.len() * dp);
    debug_assert!(rhs_weights.len() >= cols.len() && rhs.len() >= dp);
    for (chunk, kc) in cols.chunks(GRAM_KC).enumerate() {
        let first = chunk * GRAM_KC;
        let wc = &rhs_weights[first..first + kc.len()];
        let panel = &mut panel[..kc.len() * dp];
        for (row, &c) in panel.chunks_exact_mut(dp).zip(kc) {
            row.copy_from_slice(&fixed[c as usize * dp..(c as usize + 1) * dp]);
        }
        let panel = &*panel;
        let ac = if WEIGHTED {
            &weighted[first * dp..(first + kc.len()) * dp]
        } else {
            panel
        };
        // The right-hand side, in four interleaved accumulators (rating k in lane k % 4)
        // so that the additions of successive ratings do not wait on each other.
        for j0 in (0..d).step_by(GRAM_NR) {
            let mut acc = [[0f32; GRAM_NR]; 4];
            let x_of = |k: usize| -> &[f32; GRAM_NR] {
                panel[k * dp + j0..k * dp + j0 + GRAM_NR]
                    .try_into()
                    .unwrap()
            };
            let n4 = kc.len() / 4 * 4;
            for (k0, ws) in (0..n4).step_by(4).zip(wc.chunks_exact(4)) {
                for l in 0..4 {
                    let x = x_of(k0 + l);
                    for (s, &v) in acc[l].iter_mut().zip(x) {
                        *s += ws[l] * v;
                    }
                }
            }
            for (l, (k, &w)) in (n4..kc.len()).zip(&wc[n4..]).enumerate() {
                for (s, &v) in acc[l].iter_mut().zip(x_of(k)) {
                    *s += w * v;
                }
            }
            let r: &mut [f32; GRAM_NR] = (&mut rhs[j0..j0 + GRAM_NR]).try_into().unwrap();
            for (j, r) in r.iter_mut().enumerate() {
                *r += (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
            }
        }
        for i0 in (0..d).step_by(MR) {
            // Tiles start at the diagonal's block of four columns and end at column `d`
            // with a four-column tile when four are left: fewer entries below the diagonal
            // or right of `d` are summed for nothing (at rank 40 with four-row tiles, 880
            // entries per rating where eight-column tiles from a multiple of eight sum 960;
            // at rank 10, 96 where they sum 160).
            let mut j0 = i0 / GRAM_NR_MIN * GRAM_NR_MIN;
            while j0 < d {
                if d - j0 > GRAM_NR_MIN {
                    gram_tile::<MR, GRAM_NR, M>(madd, gram, dp, panel, ac, i0, j0);
                    j0 += GRAM_NR;
                } else {
                    gram_tile::<MR, GRAM_NR_MIN, M>(madd, gram, dp, panel, ac, i0, j0);
                    j0 += GRAM_NR_MIN;
                }
            }
        }
    }
}

/// One `MR × NR` tile of [`add_gram_gathered`] at row `i0`, column `j0`: the sum over the
/// chunk's ratings of `a_k[i0..i0 + MR] x_k[j0..j0 + NR]ᵀ`, where `x_k` and `a_k` are the
/// `k`-th rows (of `dp` values) of `panel` and `a`.
#[inline(always)]
fn gram_tile<const MR: usize, const NR: usize, M: Madd>(
    madd: M,
    gram: &mut [f32],
    dp: usize,
    panel: &[f32],
    a: &[f32],
    i0: usize,
    j0: usize,
) {
    let mut acc = [[0f32; NR]; MR];
    for (x, a) in panel.chunks_exact(dp).zip(a.chunks_exact(dp)) {
        let ai: &[f32; MR] = a[i0..i0 + MR].try_into().unwrap();
        let xj: &[f32; NR] = x[j0..j0 + NR].try_into().unwrap();
        for (row, &v) in acc.iter_mut().zip(ai) {
            madd.madd(row, v, xj);
        }
    }
    for (i, row) in (i0..i0 + MR).zip(&acc) {
        let g: &mut [f32; NR] = (&mut gram[i * dp + j0..i * dp + j0 + NR])
            .try_into()
            .unwrap();
        for (g, &s) in g.iter_mut().zip(row) {
            *g += s;
        }
    }
}

/// Columns `jb..jb + W` of row `k` of the factor being built by [`cholesky_f32`], before
/// scaling: `a_kj − Σ_{m<k} u_mk u_mj`, summed in that order in registers.
#[inline(always)]
fn up_looking_block_f32<const W: usize>(u: &mut [f32], k: usize, jb: usize, dp: usize) {
    let mut acc: [f32; W] = u[k * dp + jb..k * dp + jb + W].try_into().unwrap();
    for m in 0..k {
        let f = u[m * dp + k];
        let um: &[f32; W] = u[m * dp + jb..m * dp + jb + W].try_into().unwrap();
        for (s, &v) in acc.iter_mut().zip(um) {
            *s -= f * v;
        }
    }
    u[k * dp + jb..k * dp + jb + W].copy_from_slice(&acc);
}

/// Replaces the leading `d × d` block of the `dp × dp` row-major `f32` matrix `u` (`dp` a
/// multiple of [`GRAM_NR`], at least `d`; upper triangle read, entries right of column `d`
/// finite) by its Cholesky factor `U` with `A = UᵀU`, in place; false when `A` is not
/// numerically positive definite (then `u` is garbage).
///
/// Up-looking (row by row of `U`): each row's entries are accumulated in registers over the
/// rows above, so the inner loop loads but never stores. A row starts at the multiple of
/// [`GRAM_NR`] at or before the diagonal, so that it is whole vectors; the few entries
/// computed left of the diagonal are zeroed. Element-wise operations only, in a fixed order
/// per entry: the same bits whatever the vector width.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(super) fn cholesky_f32(u: &mut [f32], d: usize, dp: usize) -> bool {
    debug_assert!(dp.is_multiple_of(GRAM_NR) && dp >= d && u.len() >= dp * dp);
    for k in 0..d {
        let mut jb = k / GRAM_NR * GRAM_NR;
        while dp - jb >= 32 {
            up_looking_block_f32::<32>(u, k, jb, dp);
            jb += 32;
        }
        if dp - jb >= 16 {
            up_looking_block_f32::<16>(u, k, jb, dp);
            jb += 16;
        }
        if dp - jb >= 8 {
            up_looking_block_f32::<8>(u, k, jb, dp);
        }
        let row_k = &mut u[k * dp..(k + 1) * dp];
        let pivot = row_k[k];
        if !(pivot > 0.0 && pivot.is_finite()) {
            return false;
        }
        let p = pivot.sqrt();
        row_k[k] = p;
        let inv = 1.0 / p;
        for v in &mut row_k[k + 1..] {
            *v *= inv;
        }
        row_k[k / GRAM_NR * GRAM_NR..k].fill(0.0);
    }
    true
}

/// Dot product of equally long `f32` slices in eight fixed lanes, combined pairwise in a
/// fixed order: the same bits on every target, vectorised or not.
#[inline(always)]
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let split = n - n % 8;
    let (mut lo, mut hi) = (F32x4::zero(), F32x4::zero());
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        lo = lo.add_mul(F32x4::load(x), F32x4::load(y));
        hi = hi.add_mul(F32x4::load(&x[4..]), F32x4::load(&y[4..]));
    }
    sum_lanes(lo, hi, &a[split..n], &b[split..n])
}

/// Adds the products of the last `x.len()` (fewer than eight) pairs to lanes `lo` (0 to 3)
/// and `hi` (4 to 7), one each from lane 0, and sums the eight lanes in [`dot_f32`]'s order.
#[inline(always)]
fn sum_lanes(lo: F32x4, hi: F32x4, x: &[f32], y: &[f32]) -> f32 {
    let (lo, hi) = (lo.to_array(), hi.to_array());
    let mut acc = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
    for (l, (x, y)) in x.iter().zip(y).enumerate() {
        acc[l] += x * y;
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// Four dot products of `a` with `b[0]` to `b[3]` (each at least as long as `a`), each summed
/// exactly as [`dot_f32`] sums it, side by side: the four sums do not wait on each other, and
/// each block of `a` is loaded once for all four.
#[inline(always)]
pub(super) fn dot4_f32(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    let n = a.len();
    let split = n - n % 8;
    let b = b.map(|y| &y[..n]);
    let mut acc = [(F32x4::zero(), F32x4::zero()); 4];
    for c in (0..split).step_by(8) {
        let (x_lo, x_hi) = (F32x4::load(&a[c..]), F32x4::load(&a[c + 4..]));
        for ((lo, hi), y) in acc.iter_mut().zip(b) {
            *lo = lo.add_mul(x_lo, F32x4::load(&y[c..]));
            *hi = hi.add_mul(x_hi, F32x4::load(&y[c + 4..]));
        }
    }
    let mut out = [0f32; 4];
    for ((o, (lo, hi)), y) in out.iter_mut().zip(acc).zip(b) {
        *o = sum_lanes(lo, hi, &a[split..], &y[split..]);
    }
    out
}

/// Solves `UᵀU x = b` in place (`b` becomes `x` in its first `d` entries) for the factor
/// from [`cholesky_f32`] (row stride `dp`); `b` has `dp` entries, those from `d` on zero,
/// and the factor's columns from `d` on are zero (as [`cholesky_f32`] leaves them when the
/// system's are: both callers clear them).
///
/// The forward sweep takes each unknown's multiples off the entries still to come, over
/// whole [`GRAM_NR`]-lane blocks from the one holding the diagonal (the factor's entries
/// left of the diagonal are zero there): an unknown waits only on a multiply and a
/// subtract, not on a dot product summed across lanes. The backward sweep goes a block of
/// [`GRAM_NR`] unknowns at a time from the last: the block's own triangle the same way,
/// then the block's columns off every row above it, the rows independent of each other.
/// Unknowns are multiplied by the diagonal's reciprocal, which does not wait on the
/// right-hand side. Element-wise lanes and a fixed order: the same bits on every target.
// The sweeps in dot-product form (each unknown after the dot product of its row with the
// unknowns found) took 12 to 18% of a u.data fit at rank 40, natively and in V8: that chain of
// dependent sums and divisions, not the arithmetic, set their pace.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(super) fn cholesky_solve_f32(u: &[f32], d: usize, dp: usize, b: &mut [f32]) {
    // Uᵀ y = b: row k of U is column k of Uᵀ, read contiguously.
    for k in 0..d {
        let jb = k / GRAM_NR * GRAM_NR;
        let row = &u[k * dp + jb..(k + 1) * dp];
        let yk = b[k] * (1.0 / u[k * dp + k]);
        for (bi, &r) in b[jb..dp].iter_mut().zip(row) {
            *bi -= yk * r;
        }
        b[k] = yk;
    }
    // U x = y. The last block's entries from `d` on are zero in `b` and in the factor.
    let mut end = d;
    while end > 0 {
        let k0 = (end - 1) / GRAM_NR * GRAM_NR;
        for k in (k0..end).rev() {
            let xk = b[k] * (1.0 / u[k * dp + k]);
            b[k] = xk;
            for i in k0..k {
                b[i] -= u[i * dp + k] * xk;
            }
        }
        let (above, block) = b.split_at_mut(k0);
        let (x_lo, x_hi) = (F32x4::load(block), F32x4::load(&block[4..]));
        for (bi, row) in above.iter_mut().zip(u.chunks_exact(dp)) {
            let r = &row[k0..k0 + GRAM_NR];
            let s = F32x4::zero()
                .add_mul(F32x4::load(r), x_lo)
                .add_mul(F32x4::load(&r[4..]), x_hi)
                .to_array();
            *bi -= (s[0] + s[2]) + (s[1] + s[3]);
        }
        end = k0;
    }
}

/// Buffers for [`nnls`], sized once for systems of up to `d` unknowns.
#[derive(Clone, Debug)]
pub(super) struct NnlsScratch {
    passive: Vec<bool>,
    index: Vec<usize>,
    sub: Vec<f64>,
    sub_scratch: Vec<f64>,
    sub_rhs: Vec<f64>,
    sub_x: Vec<f64>,
    s: Vec<f64>,
    w: Vec<f64>,
}

impl NnlsScratch {
    /// Buffers for systems of up to `d` unknowns.
    pub(super) fn new(d: usize) -> Self {
        Self {
            passive: vec![false; d],
            index: vec![0; d],
            sub: vec![0.0; d * d],
            sub_scratch: vec![0.0; d * d],
            sub_rhs: vec![0.0; d],
            sub_x: vec![0.0; d],
            s: vec![0.0; d],
            w: vec![0.0; d],
        }
    }
}

/// Minimises `½ xᵀ A x − bᵀ x` subject to `x_j ≥ 0` for `j < n_constrained` (the remaining
/// unknowns are free), for a symmetric positive definite `A` (upper triangle of `a`), by
/// Lawson and Hanson's active-set method (1974, ch. 23) applied to the normal equations.
///
/// This is the problem Spark's `NNLSSolver` solves for `nonnegative`; the active-set method
/// ends with the exact solution after finitely many steps, so its answer can be checked
/// against the KKT conditions. False (and `x` zero) if a subsystem cannot be solved.
pub(super) fn nnls(
    a: &[f64],
    d: usize,
    b: &[f64],
    n_constrained: usize,
    x: &mut [f64],
    ws: &mut NnlsScratch,
) -> bool {
    let x = &mut x[..d];
    x.fill(0.0);
    if !(a[..d * d].iter().chain(&b[..d]).all(|v| v.is_finite())) {
        return false;
    }
    ws.passive[..d].fill(false);
    ws.passive[n_constrained..d].fill(true);
    if n_constrained < d {
        // The free unknowns start at their unconstrained optimum with the others at 0.
        if !solve_passive(a, d, b, ws) {
            return false;
        }
        x.copy_from_slice(&ws.s[..d]);
    }
    let b_scale = b[..d].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = 1e-11 * b_scale.max(f64::MIN_POSITIVE);
    // Lawson and Hanson's bound on outer iterations; each adds one unknown to the passive set.
    for _ in 0..3 * d + 10 {
        // Gradient of the negated objective: positive entries would improve if raised.
        sym_mul(a, d, x, &mut ws.w);
        for (wj, &bj) in ws.w[..d].iter_mut().zip(b) {
            *wj = bj - *wj;
        }
        let entering = (0..n_constrained)
            .filter(|&j| !ws.passive[j] && ws.w[j] > tol)
            .max_by(|&p, &q| ws.w[p].total_cmp(&ws.w[q]));
        let Some(t) = entering else { break };
        ws.passive[t] = true;
        // Inner loop: each pass drops at least one unknown from the passive set.
        for _ in 0..=d {
            if !solve_passive(a, d, b, ws) {
                x.fill(0.0);
                return false;
            }
            let mut step = 1.0f64;
            let mut blocking = None;
            for (j, (&xj, &sj)) in x.iter().zip(&ws.s).enumerate().take(n_constrained) {
                if ws.passive[j] && sj <= 0.0 {
                    // x_j ≥ 0 ≥ s_j, so the ratio is in [0, 1] (0 when both are 0).
                    let gap = xj - sj;
                    let ratio = if gap > 0.0 { xj / gap } else { 0.0 };
                    if blocking.is_none() || ratio < step {
                        step = ratio;
                        blocking = Some(j);
                    }
                }
            }
            let Some(blocking) = blocking else {
                x.copy_from_slice(&ws.s[..d]);
                break;
            };
            let step = step.clamp(0.0, 1.0);
            for (xj, &sj) in x.iter_mut().zip(&ws.s) {
                *xj += step * (sj - *xj);
            }
            x[blocking] = 0.0;
            ws.passive[blocking] = false;
            for (xj, passive) in x.iter_mut().zip(&mut ws.passive).take(n_constrained) {
                if *passive && *xj <= 0.0 {
                    *xj = 0.0;
                    *passive = false;
                }
            }
        }
    }
    x.iter().all(|&v| fits_f32(v))
}

/// Solves `A_PP s_P = b_P` on the passive set `P`, writing `s` with zeros off `P`.
fn solve_passive(a: &[f64], d: usize, b: &[f64], ws: &mut NnlsScratch) -> bool {
    let mut m = 0;
    for j in 0..d {
        if ws.passive[j] {
            ws.index[m] = j;
            m += 1;
        }
    }
    for p in 0..m {
        let i = ws.index[p];
        for q in p..m {
            // index is increasing, so (i, index[q]) is in the upper triangle.
            ws.sub[p * m + q] = a[i * d + ws.index[q]];
        }
        ws.sub_rhs[p] = b[i];
    }
    ws.s[..d].fill(0.0);
    if m == 0 {
        return true;
    }
    if !solve_spd(&ws.sub, m, &ws.sub_rhs, &mut ws.sub_scratch, &mut ws.sub_x) {
        return false;
    }
    for p in 0..m {
        ws.s[ws.index[p]] = ws.sub_x[p];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::madd::{Fused, Unfused};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn four_dot_products_side_by_side_are_each_dot_f32_bit_for_bit() {
        // Lengths with and without a partial block of eight, values of mixed signs and
        // magnitudes, so that a different order of the additions shows in the last bits.
        let mut state = 0x2545_f491_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32 - 0.5) * if state.is_multiple_of(3) { 1e3 } else { 1.0 }
        };
        for n in [1, 7, 8, 9, 16, 23, 40, 41] {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            // The others are longer than `a`: only their first `n` values count.
            let b: Vec<Vec<f32>> = (0..4)
                .map(|_| (0..n + 3).map(|_| next()).collect())
                .collect();
            let got = dot4_f32(&a, [&b[0], &b[1], &b[2], &b[3]]);
            for (j, g) in got.iter().enumerate() {
                let want = dot_f32(&a, &b[j][..n]);
                assert_eq!(g.to_bits(), want.to_bits(), "length {n}, product {j}");
            }
        }
    }

    /// `add_gram_gathered` with `MR`-row tiles and `madd`'s multiply-adds on `n` ratings of
    /// random rows (repeats included), weighted or not: the upper triangle of the Gram matrix
    /// and the right-hand side. Checks every entry of the triangle, to the bit, against the
    /// kernel's definition summed one scalar at a time.
    fn gram_of<const MR: usize, const WEIGHTED: bool, M: Madd>(
        madd: M,
        n: usize,
        d: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let dp = d.div_ceil(GRAM_NR) * GRAM_NR;
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64 * 31 + d as u64);
        let n_rows = 50;
        let mut fixed = vec![0f32; n_rows * dp];
        for row in fixed.chunks_exact_mut(dp) {
            for v in &mut row[..d] {
                *v = rng.random_range(-1.0..1.0);
            }
        }
        let cols: Vec<u32> = (0..n).map(|_| rng.random_range(0..n_rows as u32)).collect();
        let rhs_weights: Vec<f32> = (0..n).map(|_| rng.random_range(0.5..5.0)).collect();
        let weighted: Vec<f32> = if WEIGHTED {
            cols.iter()
                .zip(&rhs_weights)
                .flat_map(|(&c, &w)| {
                    fixed[c as usize * dp..(c as usize + 1) * dp]
                        .iter()
                        .map(move |&v| v * w)
                })
                .collect()
        } else {
            vec![]
        };
        let mut gram = vec![0f32; dp * dp];
        let mut rhs = vec![0f32; dp];
        let mut panel = vec![f32::NAN; GRAM_KC * dp];
        add_gram_gathered::<MR, WEIGHTED, M>(
            madd,
            &mut gram,
            &mut rhs,
            d,
            dp,
            &fixed,
            &cols,
            &weighted,
            &rhs_weights,
            &mut panel,
        );
        // The upper triangle of the system only: tiles also write a few entries below.
        let upper = (0..d)
            .flat_map(|i| (i..d).map(move |j| (i, j)))
            .map(|(i, j)| gram[i * dp + j])
            .collect();
        // The exact sums, to check the kernel adds what it should.
        for i in 0..d {
            let want_rhs: f64 = cols
                .iter()
                .zip(&rhs_weights)
                .map(|(&c, &w)| f64::from(w) * f64::from(fixed[c as usize * dp + i]))
                .sum();
            assert!((f64::from(rhs[i]) - want_rhs).abs() < 1e-3 * (1.0 + want_rhs.abs()));
            for j in i..d {
                let want: f64 = cols
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| {
                        let x = &fixed[c as usize * dp..];
                        let a = if WEIGHTED { &weighted[k * dp..] } else { x };
                        f64::from(a[i]) * f64::from(x[j])
                    })
                    .sum();
                let got = f64::from(gram[i * dp + j]);
                assert!(
                    (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                    "({i}, {j}): {got} against {want}"
                );
                // Each chunk's products summed in rating order, then the chunks' sums.
                let mut exact = 0f32;
                for (chunk, kc) in cols.chunks(GRAM_KC).enumerate() {
                    let mut acc = 0f32;
                    for (k, &c) in (chunk * GRAM_KC..).zip(kc) {
                        let x = &fixed[c as usize * dp..];
                        let a = if WEIGHTED { weighted[k * dp + i] } else { x[i] };
                        acc = if M::FUSED {
                            a.mul_add(x[j], acc)
                        } else {
                            acc + a * x[j]
                        };
                    }
                    exact += acc;
                }
                assert_eq!(
                    gram[i * dp + j].to_bits(),
                    exact.to_bits(),
                    "({i}, {j}), fused {}",
                    M::FUSED
                );
            }
        }
        (upper, rhs[..d].to_vec())
    }

    /// Asserts that tiles of 1, 2, 4 and 8 rows give `madd`'s Gram matrix and right-hand side
    /// the same bits (each also checked against the definition by [`gram_of`]), weighted and
    /// not, on rows whose chunk boundaries (64 ratings) fall inside and at their end. Returns
    /// the unweighted results, in order.
    fn same_bits_whatever_the_tile_height<M: Madd>(madd: M) -> Vec<(Vec<f32>, Vec<f32>)> {
        let mut unweighted = Vec::new();
        for n in [1, 7, 64, 65, 150] {
            for d in [3, 8, 10, 13, 36, 40] {
                let want = gram_of::<1, false, _>(madd, n, d);
                for got in [
                    gram_of::<2, false, _>(madd, n, d),
                    gram_of::<4, false, _>(madd, n, d),
                    gram_of::<8, false, _>(madd, n, d),
                ] {
                    assert_eq!(got, want, "{n} ratings, d {d}");
                }
                let weighted = gram_of::<1, true, _>(madd, n, d);
                for got in [
                    gram_of::<4, true, _>(madd, n, d),
                    gram_of::<8, true, _>(madd, n, d),
                ] {
                    assert_eq!(got, weighted, "weighted, {n} ratings, d {d}");
                }
                unweighted.push(want);
            }
        }
        unweighted
    }

    #[test]
    fn the_gram_kernel_gives_the_same_bits_whatever_its_tile_height() {
        same_bits_whatever_the_tile_height(Unfused);
    }

    #[test]
    fn the_fused_gram_kernel_rounds_each_multiply_add_once_whatever_its_tile_height() {
        let Some(fused) = Fused::detect() else {
            eprintln!("SKIPPED: this processor has no fused multiply-add");
            return;
        };
        // Fused and unfused sums of these random values must part somewhere.
        assert_ne!(
            same_bits_whatever_the_tile_height(fused),
            same_bits_whatever_the_tile_height(Unfused),
            "the fused kernel gave the unfused kernel's bits everywhere"
        );
    }

    /// A random SPD matrix `M Mᵀ + εI` (full storage, so tests can read any entry) and `b`.
    fn random_system(rng: &mut ChaCha8Rng, d: usize) -> (Vec<f64>, Vec<f64>) {
        let m: Vec<f64> = (0..d * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| m[i * d + k] * m[j * d + k]).sum::<f64>();
            }
            a[i * d + i] += 0.05;
        }
        let b = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
        (a, b)
    }

    fn objective(a: &[f64], d: usize, b: &[f64], x: &[f64]) -> f64 {
        let mut ax = vec![0.0; d];
        sym_mul(a, d, x, &mut ax);
        0.5 * dot(x, &ax) - dot(b, x)
    }

    #[test]
    fn the_f32_cholesky_and_its_solve_solve_random_systems() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for d in [1usize, 3, 7, 8, 9, 16, 17, 40, 41] {
            let dp = padded(d);
            let (a, b) = random_system(&mut rng, d);
            // The system in `f32`, upper triangle, padded with zeros to `dp` columns.
            let mut u = vec![0f32; dp * dp];
            for i in 0..d {
                for j in i..d {
                    u[i * dp + j] = a[i * d + j] as f32;
                }
            }
            let a32: Vec<f64> = (0..d * d)
                .map(|k| {
                    let (i, j) = (k / d, k % d);
                    f64::from(u[i.min(j) * dp + i.max(j)])
                })
                .collect();
            let mut x = vec![0f32; dp];
            for (x, &v) in x.iter_mut().zip(&b) {
                *x = v as f32;
            }
            assert!(cholesky_f32(&mut u, d, dp), "d = {d}");
            cholesky_solve_f32(&u, d, dp, &mut x);
            // The exact solution of the `f32` system, in `f64`.
            let mut scratch = vec![0.0; d * d];
            let mut want = vec![0.0; d];
            let b32: Vec<f64> = b.iter().map(|&v| f64::from(v as f32)).collect();
            assert!(solve_spd(&a32, d, &b32, &mut scratch, &mut want));
            let norm = want.iter().map(|v| v * v).sum::<f64>().sqrt();
            let err = x[..d]
                .iter()
                .zip(&want)
                .map(|(&g, w)| (f64::from(g) - w).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                err <= 1e-3 * norm.max(1.0),
                "d = {d}: error {err}, |x| {norm}"
            );
            assert!(
                x[d..].iter().all(|&v| v == 0.0),
                "padding left alone, d = {d}"
            );
        }
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]], b = [2, 1] → x = [0.5, 0].
        let a = [4.0, 2.0, 0.0, 3.0];
        let mut scratch = [0.0; 4];
        let mut x = [0.0; 2];
        assert!(solve_spd(&a, 2, &[2.0, 1.0], &mut scratch, &mut x));
        assert!((x[0] - 0.5).abs() < 1e-14 && x[1].abs() < 1e-14, "{x:?}");
        assert!(
            !cholesky_in_place(&mut [1.0, 2.0, 0.0, 1.0], 2),
            "indefinite"
        );
    }

    #[test]
    fn nnls_meets_the_kkt_conditions_and_beats_every_active_set_by_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut hit_bound = 0;
        for trial in 0..200 {
            let d: usize = 1 + trial % 6;
            let n_constrained = if trial % 3 == 0 {
                d.saturating_sub(1)
            } else {
                d
            };
            let (a, b) = random_system(&mut rng, d);
            let mut ws = NnlsScratch::new(d);
            let mut x = vec![0.0; d];
            assert!(nnls(&a, d, &b, n_constrained, &mut x, &mut ws));
            // KKT: feasible; gradient zero on positive (or free) unknowns, ≤ 0 at the bound.
            let mut ax = vec![0.0; d];
            sym_mul(&a, d, &x, &mut ax);
            for j in 0..d {
                let g = b[j] - ax[j];
                if j < n_constrained {
                    assert!(x[j] >= 0.0, "trial {trial}: x = {x:?}");
                }
                if j >= n_constrained || x[j] > 0.0 {
                    assert!(g.abs() < 1e-9, "trial {trial}: stationarity {g} at {j}");
                } else {
                    hit_bound += 1;
                    assert!(g <= 1e-9, "trial {trial}: multiplier {g} at {j}");
                }
            }
            // Brute force: the best feasible unconstrained solve over every subset of the
            // constrained unknowns allowed to be nonzero.
            let mut best = f64::INFINITY;
            for mask in 0u32..1 << n_constrained {
                let idx: Vec<usize> = (0..d)
                    .filter(|&j| j >= n_constrained || mask & (1 << j) != 0)
                    .collect();
                let m = idx.len();
                let sub: Vec<f64> = (0..m * m).map(|k| a[idx[k / m] * d + idx[k % m]]).collect();
                let rhs: Vec<f64> = idx.iter().map(|&j| b[j]).collect();
                let (mut scratch, mut s) = (vec![0.0; m * m], vec![0.0; m]);
                if m > 0 && !solve_spd(&sub, m, &rhs, &mut scratch, &mut s) {
                    continue;
                }
                let mut full = vec![0.0; d];
                for (p, &j) in idx.iter().enumerate() {
                    full[j] = s[p];
                }
                if full[..n_constrained].iter().all(|&v| v >= 0.0) {
                    best = best.min(objective(&a, d, &b, &full));
                }
            }
            let got = objective(&a, d, &b, &x);
            assert!(
                got <= best + 1e-9,
                "trial {trial}: {got} vs brute force {best}"
            );
        }
        assert!(
            hit_bound > 50,
            "the trials must exercise the bound, {hit_bound}"
        );
    }
}
