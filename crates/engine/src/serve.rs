//! Serving a fitted model: top-N for many users at once, similar items, new users folded
//! in without retraining, and explanations of a score in terms of the user's own ratings.
//!
//! Everything here uses only [`AlsModel`]'s public accessors. Batch scores are
//! [`AlsModel::predict`]'s, accumulated in the same order, so a batch recommendation equals
//! the one-user [`AlsModel::recommend`] bit for bit. Fold-in, explanations, similar items and
//! [`recommend_with_factors`] work on the latent factors alone (`u·v`): for a model fitted
//! with biases they ignore the mean and the biases.

use nalgebra::{DMatrix, DVector};

use crate::als::{dot, AlsModel};
use crate::column_checks;
use crate::ratings::Ratings;
use crate::top_n::{Candidate, TopN};

/// Users scored together: their factors stay in cache while a tile of items streams by.
const USER_BLOCK: usize = 64;
/// Items per tile: `ITEM_TILE × rank` f32 (20 KiB at rank 10) stays in L1/L2.
const ITEM_TILE: usize = 512;

/// The items each user rated and their ratings, as lists sorted by item and stored
/// contiguously (compressed sparse rows): "did `user` rate `item`?" is a binary search in a
/// short slice, and a user's ratings are read without a pass over the whole table.
#[derive(Clone, Debug, Default)]
pub struct RatedItems {
    offsets: Vec<usize>,
    items: Vec<u32>,
    /// The rating of each entry of `items`: the last one given when an item was rated twice.
    values: Vec<f32>,
}

impl RatedItems {
    /// Groups the ratings of `ratings` by user: one counting pass, one placing pass, then
    /// each user's short list is sorted and repeats are dropped, the last rating kept.
    pub fn from_ratings(ratings: &Ratings) -> Self {
        Self::from_ratings_of(ratings, |_| true)
    }

    /// [`RatedItems::from_ratings`] for the users `keep` is true of; the others' lists are
    /// empty. Ranking a sample of users needs only theirs, and at ten million ratings
    /// grouping everyone's took a tenth of the ranking step.
    pub fn from_ratings_of(ratings: &Ratings, keep: impl Fn(u32) -> bool) -> Self {
        let n_users = ratings.n_users();
        let kept: Vec<bool> = (0..n_users as u32).map(keep).collect();
        let mut offsets = vec![0usize; n_users + 1];
        for &u in ratings.user_indices() {
            offsets[u as usize + 1] += usize::from(kept[u as usize]);
        }
        for u in 0..n_users {
            offsets[u + 1] += offsets[u];
        }
        let mut next = offsets.clone();
        let mut items = vec![0u32; offsets[n_users]];
        let mut values = vec![0f32; offsets[n_users]];
        for ((&u, &i), &v) in ratings
            .user_indices()
            .iter()
            .zip(ratings.item_indices())
            .zip(ratings.values())
        {
            if !kept[u as usize] {
                continue;
            }
            let k = next[u as usize];
            (items[k], values[k]) = (i, v);
            next[u as usize] += 1;
        }
        drop(next);
        // Each row is in the order rated; a stable sort (in a buffer the size of one row)
        // keeps repeats in that order, so the last of a run of equal items is the rating
        // that counts. Rows are written back compacted, in place.
        let mut row = Vec::new();
        let mut write = 0;
        let mut new_offsets = Vec::with_capacity(n_users + 1);
        new_offsets.push(0);
        for u in 0..n_users {
            let range = offsets[u]..offsets[u + 1];
            row.clear();
            row.extend(
                items[range.clone()]
                    .iter()
                    .copied()
                    .zip(values[range].iter().copied()),
            );
            row.sort_by_key(|&(i, _)| i);
            for (k, &(i, v)) in row.iter().enumerate() {
                if row.get(k + 1).is_none_or(|&(next, _)| next != i) {
                    (items[write], values[write]) = (i, v);
                    write += 1;
                }
            }
            new_offsets.push(write);
        }
        items.truncate(write);
        values.truncate(write);
        Self {
            offsets: new_offsets,
            items,
            values,
        }
    }

    /// The lists as [`Ratings::duplicates_and_rated`] builds them, sorted and without
    /// repeats already.
    pub(crate) fn from_grouped(offsets: Vec<usize>, items: Vec<u32>, values: Vec<f32>) -> Self {
        debug_assert!(offsets.last() == Some(&items.len()) && values.len() == items.len());
        Self {
            offsets,
            items,
            values,
        }
    }

    /// The lists as stored: `offsets` (one per user and one past the last: user `u`'s items
    /// are `items[offsets[u]..offsets[u + 1]]`), the items and their ratings, for sending
    /// them elsewhere.
    pub fn parts(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.offsets, &self.items, &self.values)
    }

    /// The lists from [`RatedItems::parts`], checked: offsets that start at 0, never
    /// decrease and end at the number of items, rows that are strictly increasing indices
    /// below `n_items`, and one finite rating per item. `None` when they are not.
    pub fn from_parts(
        offsets: Vec<usize>,
        items: Vec<u32>,
        values: Vec<f32>,
        n_items: usize,
    ) -> Option<Self> {
        let framed = offsets.first() == Some(&0)
            && offsets.last() == Some(&items.len())
            && offsets.windows(2).all(|w| w[0] <= w[1]);
        let rows_ok = framed
            && column_checks::rows_increasing(&offsets, &items)
            && column_checks::all_below(&items, n_items);
        let values_ok = values.len() == items.len() && column_checks::all_finite(&values);
        (rows_ok && values_ok).then_some(Self {
            offsets,
            items,
            values,
        })
    }

    /// Number of users covered (users beyond it have rated nothing).
    pub fn n_users(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The items `user` rated, sorted and without repeats; empty for an unknown user.
    pub fn items_of(&self, user: u32) -> &[u32] {
        &self.items[self.row(user)]
    }

    /// `user`'s ratings of [`RatedItems::items_of`], in the same order: the last one given
    /// when an item was rated twice.
    pub fn values_of(&self, user: u32) -> &[f32] {
        &self.values[self.row(user)]
    }

    fn row(&self, user: u32) -> std::ops::Range<usize> {
        let u = user as usize;
        if u < self.n_users() {
            self.offsets[u]..self.offsets[u + 1]
        } else {
            0..0
        }
    }

    /// Whether `user` rated `item`.
    pub fn contains(&self, user: u32, item: u32) -> bool {
        self.items_of(user).binary_search(&item).is_ok()
    }
}

/// The items that may be recommended (warm, and allowed), with their factors packed tile by
/// tile and transposed inside a tile, so that scoring a tile is `rank` passes of
/// `score[j] += u[k] · x[k][j]`: contiguous, vectorisable, and the same accumulation order
/// as a plain dot product.
struct PackedItems {
    rank: usize,
    ids: Vec<u32>,
    /// Item biases by position in `ids`; empty for a model without biases.
    biases: Vec<f32>,
    /// Tile `t` starts at `t * ITEM_TILE * rank`; inside it, factor `k` of the tile's item
    /// `j` is at `k * tile_len + j`.
    factors: Vec<f32>,
}

impl PackedItems {
    fn new(model: &AlsModel, allowed: Option<&[bool]>) -> Self {
        let rank = model.rank();
        let ids: Vec<u32> = (0..model.n_items() as u32)
            .filter(|&i| allowed.is_none_or(|a| a.get(i as usize).copied().unwrap_or(false)))
            .filter(|&i| model.item_factors(i).is_some())
            .collect();
        let mut factors = vec![0f32; ids.len() * rank];
        for (t, tile) in ids.chunks(ITEM_TILE).enumerate() {
            let base = t * ITEM_TILE * rank;
            let len = tile.len();
            for (j, &i) in tile.iter().enumerate() {
                let x = model.item_factors(i).unwrap_or(&[]);
                for (k, &v) in x.iter().enumerate() {
                    factors[base + k * len + j] = v;
                }
            }
        }
        let biases = if model.has_biases() {
            ids.iter()
                .map(|&i| model.item_bias(i).unwrap_or(0.0))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            rank,
            ids,
            biases,
            factors,
        }
    }

    fn n_tiles(&self) -> usize {
        self.ids.len().div_ceil(ITEM_TILE)
    }

    /// Item ids, transposed factors and biases (empty without biases) of tile `t`.
    fn tile(&self, t: usize) -> (&[u32], &[f32], &[f32]) {
        let start = t * ITEM_TILE;
        let end = (start + ITEM_TILE).min(self.ids.len());
        (
            &self.ids[start..end],
            &self.factors[start * self.rank..end * self.rank],
            self.biases.get(start..end).unwrap_or(&[]),
        )
    }
}

/// Users scored against a tile at once, and items per step: each step keeps
/// `USER_GROUP × ITEM_LANES` sums in registers and reuses every factor it loads, where one
/// user at a time loaded and stored each sum once per factor.
const USER_GROUP: usize = 4;
const ITEM_LANES: usize = 8;

/// Scores the users whose factors `group` holds (factor `k` of user `g` at `group[k][g]`)
/// against one packed tile of `len` items: user `g`'s scores go to
/// `scores[g * ITEM_TILE..][..len]`. Every score is summed factor by factor from 0, the
/// order of `AlsModel::predict`, so the results are the same to the bit.
///
/// Never inlined: browsers first run a WebAssembly function as quickly compiled baseline
/// code and switch to optimised code only for its later calls, so a loop inlined into a
/// function that is called once (a batch of users) would run unoptimised to the end.
#[inline(never)]
fn score_tile(group: &[[f32; USER_GROUP]], tile: &[f32], len: usize, scores: &mut [f32]) {
    let full = len - len % ITEM_LANES;
    for j0 in (0..full).step_by(ITEM_LANES) {
        let mut sums = [[0f32; ITEM_LANES]; USER_GROUP];
        for (column, u) in tile.chunks_exact(len).zip(group) {
            let Ok(x) = <&[f32; ITEM_LANES]>::try_from(&column[j0..j0 + ITEM_LANES]) else {
                continue;
            };
            for (row, &ug) in sums.iter_mut().zip(u) {
                for (s, &xj) in row.iter_mut().zip(x) {
                    *s += ug * xj;
                }
            }
        }
        for (g, row) in sums.iter().enumerate() {
            scores[g * ITEM_TILE + j0..][..ITEM_LANES].copy_from_slice(row);
        }
    }
    for j in full..len {
        let mut sums = [0f32; USER_GROUP];
        for (column, u) in tile.chunks_exact(len).zip(group) {
            for (s, &ug) in sums.iter_mut().zip(u) {
                *s += ug * column[j];
            }
        }
        for (g, &s) in sums.iter().enumerate() {
            scores[g * ITEM_TILE + j] = s;
        }
    }
}

/// Offers `top` the items `ids` with their `scores`, leaving out those in `seen` (sorted).
/// Never inlined, for the reason given at [`score_tile`].
#[inline(never)]
fn keep_best(top: &mut TopN, ids: &[u32], scores: &[f32], seen: &[u32]) {
    let mut floor = top.floor();
    for (&item, &score) in ids.iter().zip(scores) {
        // A plain comparison with the worst kept score rejects most items; what passes it
        // (NaN included) gets the exact test.
        if score < floor {
            continue;
        }
        let c = Candidate { score, item };
        // Only candidates good enough to enter pay for the rated-items lookup.
        if top.admits(&c) && seen.binary_search(&item).is_err() {
            top.push(c);
            floor = top.floor();
        }
    }
}

/// The top `n` unrated items of each of `users`, best first, in the order of `users`:
/// `None` for a user the model has no factors for (cold, or out of range).
///
/// Scores are [`AlsModel::predict`]'s, biases included when the model has them. Items
/// `rated` for the user are skipped, and so are cold items and, when `allowed` is
/// given, every item `i` with `allowed[i]` false or out of its range (a category filter).
/// Users are processed in blocks against tiles of items, so the cost is one pass over the
/// item factors per block of users rather than per user.
pub fn recommend_for_users(
    model: &AlsModel,
    users: &[u32],
    n: usize,
    rated: &RatedItems,
    allowed: Option<&[bool]>,
) -> Vec<Option<Vec<(u32, f32)>>> {
    let packed = PackedItems::new(model, allowed);
    let rank = model.rank();
    let mut out = Vec::with_capacity(users.len());
    let mut scores = vec![0f32; USER_GROUP * ITEM_TILE];
    for block in users.chunks(USER_BLOCK) {
        let factors: Vec<Option<&[f32]>> = block.iter().map(|&u| model.user_factors(u)).collect();
        // Positions in the block of the users with factors: the others get `None`.
        let warm: Vec<usize> = (0..block.len()).filter(|&p| factors[p].is_some()).collect();
        // Each group's factors, transposed for `score_tile` once for every tile. A short last
        // group repeats its first user; those scores are not read.
        let groups: Vec<Vec<[f32; USER_GROUP]>> = warm
            .chunks(USER_GROUP)
            .map(|members| {
                (0..rank)
                    .map(|k| {
                        std::array::from_fn(|g| {
                            let p = members.get(g).unwrap_or(&members[0]);
                            factors[*p].map_or(0.0, |f| f[k])
                        })
                    })
                    .collect()
            })
            .collect();
        let mut tops: Vec<TopN> = block.iter().map(|_| TopN::new(n)).collect();
        for t in 0..packed.n_tiles() {
            let (ids, tile, biases) = packed.tile(t);
            let len = ids.len();
            for (members, group) in warm.chunks(USER_GROUP).zip(&groups) {
                score_tile(group, tile, len, &mut scores);
                for (g, &p) in members.iter().enumerate() {
                    let user = block[p];
                    let top = &mut tops[p];
                    let scores = &mut scores[g * ITEM_TILE..][..len];
                    if !biases.is_empty() {
                        // Summed in AlsModel::recommend's order, (mean + b_u + b_i) + u·v, so
                        // that the scores agree to the last bit.
                        let offset = model.global_mean() + model.user_bias(user).unwrap_or(0.0);
                        for (s, &b) in scores.iter_mut().zip(biases) {
                            *s += offset + b;
                        }
                    }
                    keep_best(top, ids, scores, rated.items_of(user));
                }
            }
        }
        for (uf, top) in factors.iter().zip(tops) {
            out.push(uf.map(|_| top.into_sorted()));
        }
    }
    out
}

/// [`recommend_for_users`] for every user of the model, indexed by user.
pub fn recommend_all(
    model: &AlsModel,
    n: usize,
    rated: &RatedItems,
    allowed: Option<&[bool]>,
) -> Vec<Option<Vec<(u32, f32)>>> {
    let users: Vec<u32> = (0..model.n_users() as u32).collect();
    recommend_for_users(model, &users, n, rated, allowed)
}

/// The `n` items whose factors are closest in direction (cosine similarity) to `item`'s,
/// most similar first. The item itself, cold items and items with all-zero factors (whose
/// direction is undefined) are left out; a cold or unknown `item` has no neighbours.
pub fn similar_items(model: &AlsModel, item: u32, n: usize) -> Vec<(u32, f32)> {
    let Some(x) = model.item_factors(item) else {
        return Vec::new();
    };
    let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
    let nx = norm(x);
    if nx == 0.0 || !nx.is_finite() {
        return Vec::new();
    }
    let mut top = TopN::new(n);
    for j in 0..model.n_items() as u32 {
        if j == item {
            continue;
        }
        let Some(y) = model.item_factors(j) else {
            continue;
        };
        let ny = norm(y);
        if ny == 0.0 || !ny.is_finite() {
            continue;
        }
        let c = Candidate {
            score: dot(x, y) / (nx * ny),
            item: j,
        };
        if top.admits(&c) {
            top.push(c);
        }
    }
    top.into_sorted()
}

/// The top `n` items for a user given by their factors (for instance from [`fold_in`]),
/// best first, skipping cold items and those for which `exclude` is true. `None` when
/// `user_factors` does not have the model's rank.
pub fn recommend_with_factors(
    model: &AlsModel,
    user_factors: &[f32],
    n: usize,
    exclude: impl Fn(u32) -> bool,
) -> Option<Vec<(u32, f32)>> {
    if user_factors.len() != model.rank() {
        return None;
    }
    let mut top = TopN::new(n);
    for i in 0..model.n_items() as u32 {
        let Some(x) = model.item_factors(i) else {
            continue;
        };
        let c = Candidate {
            score: dot(user_factors, x),
            item: i,
        };
        if top.admits(&c) && !exclude(i) {
            top.push(c);
        }
    }
    Some(top.into_sorted())
}

/// The normal equations of one user, `A = YᵀY + λ n I` and `b = Yᵀ r`, over the rated items
/// the model has factors for, plus those items' factors and ratings.
struct UserSystem {
    gram: DMatrix<f64>,
    rhs: DVector<f64>,
    used: Vec<(u32, f32, Vec<f64>)>,
}

/// Builds [`UserSystem`]; `None` when nothing usable was rated or the input is not finite.
fn user_system(
    model: &AlsModel,
    ratings_of_user: &[(u32, f32)],
    reg_param: f64,
) -> Option<UserSystem> {
    if !(reg_param.is_finite() && reg_param >= 0.0) {
        return None;
    }
    let rank = model.rank();
    let mut gram = DMatrix::<f64>::zeros(rank, rank);
    let mut rhs = DVector::<f64>::zeros(rank);
    let mut used = Vec::new();
    for &(item, r) in ratings_of_user {
        // Items the model never saw carry no information about the user: Spark's solve
        // would not see them either, since they cannot be in the training data.
        let Some(x) = model.item_factors(item) else {
            continue;
        };
        if !r.is_finite() {
            return None;
        }
        let y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        for b in 0..rank {
            for a in 0..rank {
                gram[(a, b)] += y[a] * y[b];
            }
            rhs[b] += f64::from(r) * y[b];
        }
        used.push((item, r, y));
    }
    if used.is_empty() {
        return None;
    }
    // ALS-WR's scaling, as in Spark and in the engine's own solver: λ times the count.
    let lambda = reg_param * used.len() as f64;
    for a in 0..rank {
        gram[(a, a)] += lambda;
    }
    Some(UserSystem { gram, rhs, used })
}

/// Solves a symmetric positive (semi)definite system by Cholesky; a singular one (possible
/// only with regParam 0) gets a tiny ridge, as the engine's ALS solver does.
fn solve_spd(gram: &DMatrix<f64>, rhs: &DVector<f64>) -> Option<DVector<f64>> {
    let solution = match gram.clone().cholesky() {
        Some(chol) => chol.solve(rhs),
        None => {
            let n = gram.nrows();
            let scale = (0..n).map(|a| gram[(a, a)].abs()).sum::<f64>() / n as f64;
            let ridged = gram + DMatrix::<f64>::identity(n, n) * (1e-9 * scale.max(1e-12));
            ridged.cholesky()?.solve(rhs)
        }
    };
    solution.iter().all(|v| v.is_finite()).then_some(solution)
}

/// The factors of a new user from a handful of `(item, rating)` pairs, without retraining:
/// the solution of the explicit normal equations Spark's ALS solves for a user,
/// `(YᵀY + λ n I) u = Yᵀ r`, with `Y` the rated items' factors and `λ = reg_param`
/// scaled by the number `n` of those ratings.
///
/// Ratings of items the model has no factors for are ignored. `None` when no rating is
/// usable, a rating is not finite, or `reg_param` is negative or not finite.
pub fn fold_in(
    model: &AlsModel,
    ratings_of_user: &[(u32, f32)],
    reg_param: f64,
) -> Option<Vec<f32>> {
    let system = user_system(model, ratings_of_user, reg_param)?;
    let u = solve_spd(&system.gram, &system.rhs)?;
    Some(u.iter().map(|&v| v as f32).collect())
}

/// One rated item's share of an explained score.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// The rated item.
    pub item: u32,
    /// The user's rating of it.
    pub rating: f32,
    /// Its additive share of the score: `r_j · x_iᵀ A⁻¹ y_j`.
    pub contribution: f32,
}

/// Why a folded-in user gets the score they get for an item.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The explained item.
    pub item: u32,
    /// The score `x_iᵀ u` of the folded-in user; equals the sum of the contributions.
    pub score: f32,
    /// Per rated item, largest contribution first (the most negative come last).
    pub contributions: Vec<Contribution>,
    /// The folded-in user's factors `u` (what [`fold_in`] returns).
    pub user_factors: Vec<f32>,
}

/// Explains the score of `item` for a user with `ratings_of_user`, as the `implicit`
/// library's `explain` does for ALS: with `A = YᵀY + λ n I` the user's normal-equation
/// matrix, the folded-in factors are `u = A⁻¹ Yᵀ r`, so the score
/// `x_iᵀ u = Σ_j r_j · (x_iᵀ A⁻¹ y_j)` splits exactly into one term per rated item.
///
/// `None` when `item` is cold or unknown, or [`fold_in`] would give `None`.
pub fn explain(
    model: &AlsModel,
    ratings_of_user: &[(u32, f32)],
    item: u32,
    reg_param: f64,
) -> Option<Explanation> {
    let x = model.item_factors(item)?;
    let system = user_system(model, ratings_of_user, reg_param)?;
    let x = DVector::<f64>::from_iterator(x.len(), x.iter().map(|&v| f64::from(v)));
    // One solve serves every contribution: A is symmetric, so x_iᵀ A⁻¹ y_j = (A⁻¹ x_i)ᵀ y_j.
    let w = solve_spd(&system.gram, &x)?;
    let u = solve_spd(&system.gram, &system.rhs)?;
    let mut total = 0.0f64;
    let mut contributions: Vec<Contribution> = system
        .used
        .iter()
        .map(|(j, r, y)| {
            let c = f64::from(*r) * w.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
            total += c;
            Contribution {
                item: *j,
                rating: *r,
                contribution: c as f32,
            }
        })
        .collect();
    contributions.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then(a.item.cmp(&b.item))
    });
    Some(Explanation {
        item,
        score: total as f32,
        contributions,
        user_factors: u.iter().map(|&v| v as f32).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{self, AlsParams};

    /// 90 users × 70 items with a planted rank-3 structure, about half the cells observed.
    fn planted() -> Ratings {
        let mut r = Ratings::default();
        for u in 0..90u32 {
            for i in 0..70u32 {
                if (u * 7 + i * 3) % 5 < 3 {
                    let a = [1.0, (u % 4) as f32 * 0.3, (u % 7) as f32 * 0.15];
                    let b = [
                        2.5 + (i % 3) as f32 * 0.3,
                        (i % 5) as f32 * 0.2,
                        (i % 6) as f32 * 0.1,
                    ];
                    let v = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
                    r.push(&format!("u{u}"), &format!("i{i}"), v);
                }
            }
        }
        r
    }

    fn fitted(ratings: &Ratings, reg_param: f64) -> AlsModel {
        let params = AlsParams {
            rank: 3,
            max_iter: 12,
            reg_param,
            ..AlsParams::default()
        };
        als::fit(ratings, &params.check().unwrap())
    }

    #[test]
    fn rated_items_are_sorted_deduplicated_and_searchable() {
        let mut r = Ratings::default();
        r.push("a", "z", 1.0);
        r.push("b", "y", 1.0);
        r.push("a", "x", 1.0);
        r.push("a", "z", 2.0);
        let rated = RatedItems::from_ratings(&r);
        // Items: z = 0, y = 1, x = 2. User a rated z twice: the second rating counts.
        assert_eq!(rated.items_of(0), &[0, 2]);
        assert_eq!(rated.values_of(0), &[2.0, 1.0]);
        assert_eq!(rated.items_of(1), &[1]);
        assert_eq!(rated.values_of(1), &[1.0]);
        assert!(rated.items_of(9).is_empty() && rated.values_of(9).is_empty());
        assert!(rated.contains(0, 2) && !rated.contains(0, 1) && !rated.contains(9, 0));
        assert_eq!(rated.n_users(), 2);
    }

    #[test]
    fn rated_items_of_some_users_are_theirs_and_the_others_are_empty() {
        let ratings = planted();
        let all = RatedItems::from_ratings(&ratings);
        let some = RatedItems::from_ratings_of(&ratings, |u| u % 3 == 1);
        assert_eq!(some.n_users(), ratings.n_users());
        for u in 0..ratings.n_users() as u32 {
            if u % 3 == 1 {
                assert!(!all.items_of(u).is_empty());
                assert_eq!(some.items_of(u), all.items_of(u), "user {u}");
                assert_eq!(some.values_of(u), all.values_of(u), "user {u}");
            } else {
                assert!(some.items_of(u).is_empty() && some.values_of(u).is_empty());
            }
        }
    }

    #[test]
    fn rated_items_rebuilt_from_their_parts_are_the_same_and_bad_parts_are_refused() {
        let ratings = planted();
        let rated = RatedItems::from_ratings(&ratings);
        let (offsets, items, values) = rated.parts();
        let again = RatedItems::from_parts(
            offsets.to_vec(),
            items.to_vec(),
            values.to_vec(),
            ratings.n_items(),
        )
        .unwrap();
        for u in 0..ratings.n_users() as u32 {
            assert_eq!(again.items_of(u), rated.items_of(u), "user {u}");
            assert_eq!(again.values_of(u), rated.values_of(u), "user {u}");
        }
        let ok = |o: &[usize], i: &[u32]| {
            RatedItems::from_parts(o.to_vec(), i.to_vec(), vec![1.0; i.len()], 5)
        };
        assert!(ok(&[0, 2, 3], &[1, 4, 0]).is_some());
        let with = |v: &[f32]| RatedItems::from_parts(vec![0, 2, 3], vec![1, 4, 0], v.to_vec(), 5);
        assert!(with(&[1.0, 2.0]).is_none(), "a rating missing");
        assert!(
            with(&[1.0, f32::NAN, 2.0]).is_none(),
            "a rating not a number"
        );
        assert!(ok(&[], &[]).is_none(), "no offsets at all");
        assert!(ok(&[1, 3], &[1, 4, 0]).is_none(), "not starting at 0");
        assert!(ok(&[0, 2], &[1, 4, 0]).is_none(), "not ending at the items");
        assert!(ok(&[0, 3, 2, 3], &[1, 4, 0]).is_none(), "decreasing");
        assert!(ok(&[0, 2, 3], &[4, 1, 0]).is_none(), "a row out of order");
        assert!(ok(&[0, 2, 3], &[1, 1, 0]).is_none(), "a repeat");
        assert!(ok(&[0, 2, 3], &[1, 5, 0]).is_none(), "an item out of range");
    }

    #[test]
    fn batch_recommendations_equal_one_user_recommendations() {
        let ratings = planted();
        let model = fitted(&ratings, 0.05);
        let rated = RatedItems::from_ratings(&ratings);
        let all = recommend_all(&model, 7, &rated, None);
        assert_eq!(all.len(), model.n_users());
        for (u, got) in all.iter().enumerate() {
            let want = model.recommend(u as u32, 7, |i| rated.contains(u as u32, i));
            assert_eq!(got, &want, "user {u}");
            let got = got.as_ref().unwrap();
            assert_eq!(got.len(), 7);
            assert!(got.iter().all(|&(i, _)| !rated.contains(u as u32, i)));
        }
        // More than the unrated items: all of them; and n = 0: nothing.
        let long = recommend_for_users(&model, &[3], 1000, &rated, None);
        assert_eq!(
            long[0].as_ref().unwrap().len(),
            70 - rated.items_of(3).len()
        );
        let none = recommend_for_users(&model, &[3], 0, &rated, None);
        assert_eq!(none, vec![Some(vec![])]);
    }

    #[test]
    fn batch_recommendations_over_many_tiles_and_groups_equal_the_model_to_the_bit() {
        // 1,100 items (two full tiles and a short one of 76, not a multiple of the lanes),
        // 11 users with every third one cold (groups of four with a short last one), biases,
        // rated items and a filter.
        let (rank, n_users, n_items) = (3, 11, 1100);
        let value = |a: usize| ((a * 7919) % 1013) as f32 / 300.0 - 1.7;
        let user_fitted: Vec<bool> = (0..n_users).map(|u| u % 3 != 1).collect();
        let item_fitted: Vec<bool> = (0..n_items).map(|i| i % 13 != 5).collect();
        let factors = |n: usize, fitted: &[bool], salt: usize| -> Vec<f32> {
            (0..n * rank)
                .map(|k| {
                    if fitted[k / rank] {
                        value(k + salt)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let model = AlsModel::from_parts(
            rank,
            factors(n_users, &user_fitted, 1),
            factors(n_items, &item_fitted, 5000),
            user_fitted.clone(),
            item_fitted,
            Some(crate::als::Biases {
                global_mean: 3.25,
                user: (0..n_users).map(|u| value(u + 99) / 4.0).collect(),
                item: (0..n_items).map(|i| value(i + 7) / 4.0).collect(),
            }),
        )
        .unwrap();
        let mut rated_ratings = Ratings::default();
        for u in 0..n_users {
            for i in (0..n_items).filter(|i| (i * 31 + u * 17) % 9 == 0) {
                rated_ratings.push(&format!("u{u}"), &format!("i{i}"), 1.0);
            }
        }
        // Every item is rated by someone. The table's indices are not the numbers in the ids,
        // but the batch and the model read the same lists.
        assert_eq!(rated_ratings.n_items(), n_items);
        let rated = RatedItems::from_ratings(&rated_ratings);
        let allowed: Vec<bool> = (0..n_items).map(|i| i % 4 != 2).collect();
        let users: Vec<u32> = (0..n_users as u32).collect();
        for (n, filter) in [(10, None), (600, Some(&allowed[..])), (1, None)] {
            let batch = recommend_for_users(&model, &users, n, &rated, filter);
            for (&u, got) in users.iter().zip(&batch) {
                let want = model.recommend(u, n, |i| {
                    rated.contains(u, i) || filter.is_some_and(|a| !a[i as usize])
                });
                assert_eq!(got.is_some(), user_fitted[u as usize], "user {u}");
                let (Some(got), Some(want)) = (got, want) else {
                    continue;
                };
                assert_eq!(got.len(), n.min(want.len()), "user {u}, n {n}");
                let bits =
                    |l: &[(u32, f32)]| l.iter().map(|&(i, s)| (i, s.to_bits())).collect::<Vec<_>>();
                assert_eq!(bits(got), bits(&want), "user {u}, n {n}");
            }
        }
    }

    #[test]
    fn batch_recommendations_include_biases_like_the_model() {
        let ratings = planted();
        let params = AlsParams {
            rank: 3,
            max_iter: 6,
            reg_param: 0.05,
            biases: true,
            ..AlsParams::default()
        };
        let model = als::fit(&ratings, &params.check().unwrap());
        assert!(model.has_biases());
        let rated = RatedItems::from_ratings(&ratings);
        let all = recommend_all(&model, 5, &rated, None);
        for (u, got) in all.iter().enumerate() {
            let want = model.recommend(u as u32, 5, |i| rated.contains(u as u32, i));
            assert_eq!(got, &want, "user {u}");
        }
    }

    #[test]
    fn allowed_items_restrict_and_cold_users_get_none() {
        let ratings = planted();
        let model = fitted(&ratings, 0.05);
        let rated = RatedItems::from_ratings(&ratings);
        let allowed: Vec<bool> = (0..70).map(|i| i % 4 == 1).collect();
        let got = recommend_for_users(&model, &[5, 999, 6], 5, &rated, Some(&allowed[..40]));
        assert_eq!(got[1], None, "an unknown user has no recommendations");
        for (k, u) in [(0usize, 5u32), (2, 6)] {
            let want = model.recommend(u, 5, |i| {
                rated.contains(u, i) || i >= 40 || !allowed[i as usize]
            });
            assert_eq!(got[k], want);
        }
    }

    #[test]
    fn top_n_breaks_ties_by_lower_item_like_the_model() {
        let mut top = TopN::new(2);
        for (item, score) in [(5, 1.0), (2, 1.0), (9, 3.0), (1, 1.0)] {
            let c = Candidate { score, item };
            if top.admits(&c) {
                top.push(c);
            }
        }
        assert_eq!(top.into_sorted(), vec![(9, 3.0), (1, 1.0)]);
    }

    #[test]
    fn similar_items_are_by_cosine_without_self_or_cold_items() {
        let ratings = planted();
        let model = fitted(&ratings, 0.05);
        let sims = similar_items(&model, 4, 5);
        assert_eq!(sims.len(), 5);
        assert!(sims.iter().all(|&(j, s)| j != 4 && s <= 1.0 + 1e-5));
        assert!(sims.windows(2).all(|w| w[0].1 >= w[1].1));
        // Brute force over all other items.
        let x = model.item_factors(4).unwrap();
        let cos = |y: &[f32]| dot(x, y) / (dot(x, x).sqrt() * dot(y, y).sqrt());
        let best = (0..70u32)
            .filter(|&j| j != 4)
            .map(|j| cos(model.item_factors(j).unwrap()))
            .fold(f32::NEG_INFINITY, f32::max);
        assert!((sims[0].1 - best).abs() < 1e-6);
        assert!(similar_items(&model, 1000, 5).is_empty());
    }

    #[test]
    fn folding_in_a_training_user_reproduces_their_factors() {
        let ratings = planted();
        let reg = 0.08;
        let model = fitted(&ratings, reg);
        for u in [0u32, 17, 89] {
            let theirs: Vec<(u32, f32)> = ratings
                .iter()
                .filter(|r| r.user == u)
                .map(|r| (r.item, r.value))
                .collect();
            let got = fold_in(&model, &theirs, reg).unwrap();
            let want = model.user_factors(u).unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() < 1e-4 * w.abs().max(1.0),
                    "user {u}: {got:?} vs {want:?}"
                );
            }
            let recs =
                recommend_with_factors(&model, &got, 5, |i| theirs.iter().any(|&(j, _)| j == i))
                    .unwrap();
            let want_recs = model
                .recommend(u, 5, |i| theirs.iter().any(|&(j, _)| j == i))
                .unwrap();
            let items = |v: &[(u32, f32)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
            assert_eq!(items(&recs), items(&want_recs));
        }
    }

    #[test]
    fn fold_in_refuses_what_it_cannot_solve() {
        let ratings = planted();
        let model = fitted(&ratings, 0.05);
        assert_eq!(fold_in(&model, &[], 0.1), None);
        assert_eq!(
            fold_in(&model, &[(5000, 4.0)], 0.1),
            None,
            "only unknown items"
        );
        assert_eq!(fold_in(&model, &[(1, f32::NAN)], 0.1), None);
        assert_eq!(fold_in(&model, &[(1, 4.0)], -1.0), None);
        assert!(
            fold_in(&model, &[(1, 4.0)], 0.0).is_some(),
            "singular, ridged"
        );
        assert_eq!(recommend_with_factors(&model, &[1.0], 3, |_| false), None);
    }

    /// At rank 1 everything is a scalar: A = Σ y_j² + λ n and the share of rated item j in
    /// the score of item i is r_j · x_i · y_j / A, a closed form to check against.
    #[test]
    fn rank_one_explanation_matches_the_closed_form() {
        let ratings = planted();
        let reg = 0.2;
        let params = AlsParams {
            rank: 1,
            max_iter: 5,
            reg_param: reg,
            ..AlsParams::default()
        };
        let model = als::fit(&ratings, &params.check().unwrap());
        let mine = [(2u32, 4.0f32), (8, 1.5), (30, 5.0)];
        let f = |i: u32| f64::from(model.item_factors(i).unwrap()[0]);
        let a: f64 = mine.iter().map(|&(j, _)| f(j) * f(j)).sum::<f64>() + reg * 3.0;
        let item = 11;
        let e = explain(&model, &mine, item, reg).unwrap();
        for c in &e.contributions {
            let want = f64::from(c.rating) * f(item) * f(c.item) / a;
            assert!(
                (f64::from(c.contribution) - want).abs() < 1e-5,
                "{c:?} vs {want}"
            );
        }
        let u: f64 = mine.iter().map(|&(j, r)| f64::from(r) * f(j)).sum::<f64>() / a;
        assert!((f64::from(e.score) - u * f(item)).abs() < 1e-5);
    }

    #[test]
    fn contributions_sum_to_the_fold_in_score() {
        let ratings = planted();
        let reg = 0.1;
        let model = fitted(&ratings, reg);
        let mine = [(0u32, 5.0f32), (3, 1.0), (10, 4.0), (22, 2.5), (41, 3.0)];
        let u = fold_in(&model, &mine, reg).unwrap();
        for item in [1u32, 7, 50] {
            let e = explain(&model, &mine, item, reg).unwrap();
            let folded_score = dot(&u, model.item_factors(item).unwrap());
            let sum: f32 = e.contributions.iter().map(|c| c.contribution).sum();
            assert!(
                (e.score - folded_score).abs() < 1e-4,
                "{} vs {folded_score}",
                e.score
            );
            assert!((sum - e.score).abs() < 1e-4, "{sum} vs {}", e.score);
            assert_eq!(e.user_factors, u);
            assert_eq!(e.contributions.len(), mine.len());
            assert!(e
                .contributions
                .windows(2)
                .all(|w| w[0].contribution >= w[1].contribution));
        }
        assert_eq!(explain(&model, &mine, 9999, reg), None);
    }
}
