//! One half-step of ALS: new factors for every row given the other side's factors.

use nalgebra::{DMatrix, DVector};

use super::rows::RatingRows;

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
    debug_assert_eq!(dst.len(), rows.n_rows() * rank);
    let mut gram = DMatrix::<f64>::zeros(rank, rank);
    let mut rhs = DVector::<f64>::zeros(rank);
    for r in 0..rows.n_rows() {
        let (cols, values) = rows.row(r);
        let out = &mut dst[r * rank..(r + 1) * rank];
        if cols.is_empty() {
            out.fill(0.0);
            fitted[r] = false;
            continue;
        }
        gram.fill(0.0);
        rhs.fill(0.0);
        for (&c, &y) in cols.iter().zip(values) {
            let x = &src[c as usize * rank..(c as usize + 1) * rank];
            // Upper triangle only (column-major: element (a, b) with a ≤ b); mirrored below.
            for b in 0..rank {
                let xb = f64::from(x[b]);
                let column = &mut gram.as_mut_slice()[b * rank..b * rank + b + 1];
                for (g, &xa) in column.iter_mut().zip(x) {
                    *g += f64::from(xa) * xb;
                }
                rhs[b] += f64::from(y) * xb;
            }
        }
        let lambda = reg_param * cols.len() as f64;
        for a in 0..rank {
            gram[(a, a)] += lambda;
            for b in a + 1..rank {
                gram[(b, a)] = gram[(a, b)];
            }
        }
        match solve_spd(&gram, &rhs) {
            Some(f) => {
                for (o, v) in out.iter_mut().zip(f.iter()) {
                    *o = *v as f32;
                }
                fitted[r] = true;
            }
            None => {
                out.fill(0.0);
                fitted[r] = false;
            }
        }
    }
}

/// Solves a symmetric positive (semi)definite system by Cholesky. A singular system (possible
/// only with regParam 0) gets a tiny ridge rather than failing outright.
fn solve_spd(gram: &DMatrix<f64>, rhs: &DVector<f64>) -> Option<DVector<f64>> {
    if let Some(chol) = gram.clone().cholesky() {
        return Some(chol.solve(rhs));
    }
    let n = gram.nrows();
    let scale = (0..n).map(|a| gram[(a, a)].abs()).sum::<f64>() / n as f64;
    let ridged = gram + DMatrix::<f64>::identity(n, n) * (1e-9 * scale.max(1e-12));
    let solution = ridged.cholesky()?.solve(rhs);
    solution.iter().all(|v| v.is_finite()).then_some(solution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdMap;
    use crate::ratings::Ratings;

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
}
