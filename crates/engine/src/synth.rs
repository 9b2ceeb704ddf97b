//! Synthetic ratings at any size, for benchmarks and tests: a planted low-rank taste
//! structure, a long-tail item popularity, heavy-tailed user activity and a chosen rating
//! scale, all from a seed.
//!
//! Rows are streamed to a writer user by user, so ten million ratings need memory only for
//! the item factors, a popularity tree and one user's items at a time.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, StandardNormal};
use thiserror::Error;

use crate::ratings::Ratings;

/// A rating scale: the values `min, min + step, ..., max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Lowest rating.
    pub min: f32,
    /// Highest rating.
    pub max: f32,
    /// Distance between neighbouring ratings.
    pub step: f32,
}

impl Scale {
    /// One to five stars (MovieLens 100K and 1M).
    pub const STARS: Scale = Scale {
        min: 1.0,
        max: 5.0,
        step: 1.0,
    };
    /// Half stars from 0.5 to 5 (MovieLens 10M and later).
    pub const HALF_STARS: Scale = Scale {
        min: 0.5,
        max: 5.0,
        step: 0.5,
    };
    /// One to ten.
    pub const TEN: Scale = Scale {
        min: 1.0,
        max: 10.0,
        step: 1.0,
    };

    /// Number of distinct values, or an error naming what is wrong with the scale.
    pub fn levels(&self) -> Result<usize, SynthError> {
        let Scale { min, max, step } = *self;
        if !(min.is_finite() && max.is_finite() && step.is_finite() && step > 0.0 && min < max) {
            return Err(SynthError::Scale(*self));
        }
        let gaps = f64::from(max - min) / f64::from(step);
        // The top of the scale must be reachable in whole steps.
        if (gaps - gaps.round()).abs() > 1e-4 || gaps.round() > MAX_LEVELS as f64 {
            return Err(SynthError::Scale(*self));
        }
        Ok(gaps.round() as usize + 1)
    }

    /// The `k`-th value of the scale (0-based).
    fn value(&self, k: usize) -> f32 {
        (f64::from(self.min) + k as f64 * f64::from(self.step)) as f32
    }
}

/// Most distinct values a scale may have.
const MAX_LEVELS: usize = 10_000;

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}:{}", self.min, self.max, self.step)
    }
}

impl FromStr for Scale {
    type Err = SynthError;

    /// Reads `MIN-MAX` or `MIN-MAX:STEP`, such as `1-5`, `0.5-5` or `1-10:0.5`. Without a
    /// step, it is 0.5 when either end is fractional and 1 otherwise.
    fn from_str(s: &str) -> Result<Self, SynthError> {
        let bad = || SynthError::ScaleText(s.to_owned());
        let (range, step) = match s.split_once(':') {
            Some((range, step)) => (range, Some(step.trim().parse::<f32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let (min, max) = range.split_once('-').ok_or_else(bad)?;
        let min: f32 = min.trim().parse().map_err(|_| bad())?;
        let max: f32 = max.trim().parse().map_err(|_| bad())?;
        let step = step.unwrap_or(if min.fract() != 0.0 || max.fract() != 0.0 {
            0.5
        } else {
            1.0
        });
        let scale = Scale { min, max, step };
        scale.levels()?;
        Ok(scale)
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthSpec {
    /// Size of the user population (users drawing no rating do not appear).
    pub n_users: usize,
    /// Size of the item catalogue (items drawing no rating do not appear).
    pub n_items: usize,
    /// Exact number of ratings, all on distinct (user, item) pairs.
    pub n_ratings: usize,
    /// Rank of the planted taste structure.
    pub rank: usize,
    /// The rating scale.
    pub scale: Scale,
    /// Seed of everything random: the same spec always gives the same rows.
    pub seed: u64,
}

/// Why a spec was refused.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum SynthError {
    /// There must be at least one user and one item.
    #[error("need at least one user and one item, got {n_users} users and {n_items} items")]
    Empty {
        /// Users asked for.
        n_users: usize,
        /// Items asked for.
        n_items: usize,
    },
    /// Ids are 32-bit indices.
    #[error("at most 4294967295 users and items, got {0}")]
    TooMany(usize),
    /// Distinct pairs cannot outnumber users × items.
    #[error("{n_ratings} distinct ratings do not fit in {n_users} users × {n_items} items")]
    TooDense {
        /// Ratings asked for.
        n_ratings: usize,
        /// Users asked for.
        n_users: usize,
        /// Items asked for.
        n_items: usize,
    },
    /// The planted rank must be between 1 and 1000.
    #[error("the planted rank must be between 1 and 1000, got {0}")]
    Rank(usize),
    /// A scale needs finite ends, min < max, and max - min a whole number of positive steps.
    #[error("invalid rating scale {0}: need min < max and max - min a whole number of steps")]
    Scale(Scale),
    /// The text of a scale could not be read.
    #[error("cannot read rating scale {0:?}: expected MIN-MAX or MIN-MAX:STEP, e.g. 1-5 or 0.5-5")]
    ScaleText(String),
}

/// What was generated.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthStats {
    /// Ratings written.
    pub n_ratings: usize,
    /// Users with at least one rating.
    pub n_users: usize,
    /// Items with at least one rating.
    pub n_items: usize,
    /// Mean rating.
    pub mean_rating: f64,
}

impl SynthSpec {
    /// Checks that the spec can be generated.
    pub fn check(&self) -> Result<(), SynthError> {
        if self.n_users == 0 || self.n_items == 0 {
            return Err(SynthError::Empty {
                n_users: self.n_users,
                n_items: self.n_items,
            });
        }
        for n in [self.n_users, self.n_items] {
            if n > u32::MAX as usize {
                return Err(SynthError::TooMany(n));
            }
        }
        if (self.n_ratings as u128) > (self.n_users as u128) * (self.n_items as u128) {
            return Err(SynthError::TooDense {
                n_ratings: self.n_ratings,
                n_users: self.n_users,
                n_items: self.n_items,
            });
        }
        if !(1..=1000).contains(&self.rank) {
            return Err(SynthError::Rank(self.rank));
        }
        self.scale.levels()?;
        Ok(())
    }
}

/// Writes the ratings of `spec` as CSV (`user,item,rating`, ids `1..=n`), user by user and,
/// within a user, by increasing item. An invalid spec is an `InvalidInput` error wrapping
/// the [`SynthError`] (call [`SynthSpec::check`] first for the typed error).
pub fn write_csv(spec: &SynthSpec, writer: impl Write) -> io::Result<SynthStats> {
    spec.check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut writer = writer;
    writer.write_all(b"user,item,rating\n")?;
    let levels = spec
        .scale
        .levels()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // Each level's text once; f32's Display is the shortest text that parses back exactly.
    let labels: Vec<String> = (0..levels)
        .map(|k| spec.scale.value(k).to_string())
        .collect();
    let mut line = Vec::with_capacity(1 << 16);
    let stats = stream(spec, |user, items, rating_levels| {
        line.clear();
        for (&item, &level) in items.iter().zip(rating_levels) {
            push_decimal(&mut line, user + 1);
            line.push(b',');
            push_decimal(&mut line, item + 1);
            line.push(b',');
            line.extend_from_slice(labels[level as usize].as_bytes());
            line.push(b'\n');
        }
        writer.write_all(&line)
    })?;
    writer.flush()?;
    Ok(stats)
}

/// The ratings of `spec` as a table, exactly as [`crate::parse::parse_ratings`] would read
/// the output of [`write_csv`] (same ids, same index order).
pub fn generate(spec: &SynthSpec) -> Result<Ratings, SynthError> {
    spec.check()?;
    let mut ratings = Ratings::default();
    let mut user_id = String::new();
    let result = stream(spec, |user, items, levels| {
        user_id.clear();
        user_id.push_str(&(user + 1).to_string());
        for (&item, &level) in items.iter().zip(levels) {
            ratings.push(
                &user_id,
                &(item + 1).to_string(),
                spec.scale.value(level as usize),
            );
        }
        Ok(())
    });
    match result {
        Ok(_) => Ok(ratings),
        Err(_) => unreachable!("the sink above never fails"),
    }
}

/// Appends the decimal digits of `n`, without the formatting machinery (this is the hot
/// loop of a ten-million-row file).
fn push_decimal(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
}

/// Standard deviation, in units of half the scale's range, of the taste signal beyond the
/// first factor, of the first factor's item part (quality) and of the rating noise.
const TASTE_SD: f64 = 0.35;
const QUALITY_SD: f64 = 0.3;
const NOISE_SD: f64 = 0.2;
/// Mean rating, at 0.25 of the half-range above the middle (3.5 on a 1-5 scale).
const MEAN_SHIFT: f64 = 0.25;

/// Generates the ratings of a checked `spec`, handing each user's sorted items and rating
/// levels to `sink`.
fn stream(
    spec: &SynthSpec,
    mut sink: impl FnMut(u32, &[u32], &[u32]) -> io::Result<()>,
) -> io::Result<SynthStats> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let rank = spec.rank;
    let levels = spec
        .scale
        .levels()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

    // The planted structure is exactly rank `rank` before noise and rounding: factor 0 holds
    // the mean, a per-item quality and a per-user leniency (1 + ε times them), the other
    // factors are zero-mean tastes whose products have a total spread of TASTE_SD.
    let taste_sd = if rank > 1 {
        (TASTE_SD * TASTE_SD / (rank - 1) as f64).powf(0.25)
    } else {
        0.0
    };
    let gauss = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
    let mut item_factors = vec![0f64; spec.n_items * rank];
    for x in item_factors.chunks_mut(rank) {
        x[0] = MEAN_SHIFT + QUALITY_SD * gauss(&mut rng);
        for v in &mut x[1..] {
            *v = taste_sd * gauss(&mut rng);
        }
    }

    // Zipf-like popularity: weight 1 / (r + 10) by popularity rank r, ranks shuffled over
    // item ids so that ids do not give popularity away.
    let mut by_rank: Vec<u32> = (0..spec.n_items as u32).collect();
    for k in (1..by_rank.len()).rev() {
        by_rank.swap(k, rng.random_range(0..=k));
    }
    let mut weights = vec![0f64; spec.n_items];
    for (r, &item) in by_rank.iter().enumerate() {
        weights[item as usize] = 1.0 / (r as f64 + 10.0);
    }
    drop(by_rank);
    let mut tree = SumTree::new(&weights);

    let counts = user_counts(spec, &mut rng);
    let mut item_seen = vec![false; spec.n_items];
    let (mut n_users, mut sum) = (0usize, 0f64);
    let mut items: Vec<u32> = Vec::new();
    let mut rating_levels: Vec<u32> = Vec::new();
    let mut user = vec![0f64; rank];
    let half_range = f64::from(spec.scale.max - spec.scale.min) / 2.0;
    let middle = f64::from(spec.scale.min) + half_range;
    let step = f64::from(spec.scale.step);
    for (u, &count) in counts.iter().enumerate() {
        user[0] = 1.0 + 0.2 * gauss(&mut rng);
        for v in &mut user[1..] {
            *v = taste_sd * gauss(&mut rng);
        }
        if count == 0 {
            continue;
        }
        n_users += 1;
        // Items without replacement, each draw in proportion to popularity among the items
        // not drawn yet: O(log items) per draw, weights restored afterwards.
        items.clear();
        for _ in 0..count {
            let item = tree.sample(rng.random::<f64>() * tree.total());
            tree.set(item, 0.0);
            items.push(item as u32);
        }
        for &item in &items {
            tree.set(item as usize, weights[item as usize]);
        }
        items.sort_unstable();
        rating_levels.clear();
        for &item in &items {
            let x = &item_factors[item as usize * rank..(item as usize + 1) * rank];
            let t: f64 =
                user.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + NOISE_SD * gauss(&mut rng);
            let level = ((middle + half_range * t - f64::from(spec.scale.min)) / step)
                .round()
                .clamp(0.0, (levels - 1) as f64) as u32;
            rating_levels.push(level);
            item_seen[item as usize] = true;
            sum += f64::from(spec.scale.value(level as usize));
        }
        sink(u as u32, &items, &rating_levels)?;
    }
    Ok(SynthStats {
        n_ratings: spec.n_ratings,
        n_users,
        n_items: item_seen.iter().filter(|&&s| s).count(),
        mean_rating: if spec.n_ratings == 0 {
            0.0
        } else {
            sum / spec.n_ratings as f64
        },
    })
}

/// How many ratings each user gives: a floor for everyone (up to 20, when there are
/// ratings enough), the rest shared in proportion to log-normal activity weights (a few
/// heavy raters, many light ones), no user above the number of items, summing exactly to
/// `spec.n_ratings`.
fn user_counts(spec: &SynthSpec, rng: &mut ChaCha8Rng) -> Vec<u64> {
    let (n_users, n_items) = (spec.n_users as u64, spec.n_items as u64);
    let n_ratings = spec.n_ratings as u64;
    let floor = if n_ratings >= n_users {
        (n_ratings / n_users / 5).clamp(1, 20)
    } else {
        0
    };
    let cap = (n_items - floor) as f64;
    let mut remaining = (n_ratings - floor * n_users) as f64;
    let activity = LogNormal::new(0.0, 1.1).expect("valid log-normal");
    let weights: Vec<f64> = (0..n_users).map(|_| activity.sample(rng)).collect();

    // Water-filling: the heaviest users are capped at the catalogue size and their excess
    // shared among the others, heaviest first, so one sorted pass settles it.
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_unstable_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut weight_left: f64 = weights.iter().sum();
    let mut share = vec![0f64; weights.len()];
    for &u in &order {
        let s = if weight_left > 0.0 {
            remaining * weights[u] / weight_left
        } else {
            0.0
        };
        share[u] = s.min(cap);
        remaining -= share[u];
        weight_left -= weights[u];
    }

    // Whole numbers: floors first, then the leftover to the largest fractions, then (only
    // to absorb rounding error) to anyone below the cap.
    let mut counts: Vec<u64> = share.iter().map(|s| floor + s.floor() as u64).collect();
    let mut left = n_ratings - counts.iter().sum::<u64>().min(n_ratings);
    order.sort_unstable_by(|&a, &b| {
        (share[b] - share[b].floor())
            .total_cmp(&(share[a] - share[a].floor()))
            .then(a.cmp(&b))
    });
    for pass in 0..2 {
        for &u in &order {
            if left == 0 {
                break;
            }
            let fractional = share[u] - share[u].floor() > 0.0;
            if counts[u] < n_items && (pass == 1 || fractional) {
                counts[u] += 1;
                left -= 1;
            }
        }
    }
    // Rounding can never leave the sum above n_ratings by more than float error; trim it.
    let mut excess = counts.iter().sum::<u64>().saturating_sub(n_ratings);
    for c in counts.iter_mut() {
        if excess == 0 {
            break;
        }
        let cut = excess.min(c.saturating_sub(floor));
        *c -= cut;
        excess -= cut;
    }
    while left > 0 {
        // Only reachable through float error; every pass adds at least one rating because
        // n_ratings ≤ users × items.
        for c in counts.iter_mut() {
            if left > 0 && *c < n_items {
                *c += 1;
                left -= 1;
            }
        }
    }
    counts
}

/// A complete binary tree of weight sums over the items, for drawing without replacement:
/// drawing descends from the root in O(log n), and setting a weight recomputes its
/// ancestors from their children (not by subtracting), so removed items sum to exactly 0.
struct SumTree {
    leaves: usize,
    sums: Vec<f64>,
}

impl SumTree {
    fn new(weights: &[f64]) -> Self {
        let leaves = weights.len().next_power_of_two();
        let mut sums = vec![0f64; 2 * leaves];
        sums[leaves..leaves + weights.len()].copy_from_slice(weights);
        for p in (1..leaves).rev() {
            sums[p] = sums[2 * p] + sums[2 * p + 1];
        }
        Self { leaves, sums }
    }

    fn total(&self) -> f64 {
        self.sums[1]
    }

    fn set(&mut self, item: usize, weight: f64) {
        let mut p = self.leaves + item;
        self.sums[p] = weight;
        while p > 1 {
            p /= 2;
            self.sums[p] = self.sums[2 * p] + self.sums[2 * p + 1];
        }
    }

    /// The item where the running sum passes `x` (0 ≤ x < total). Empty subtrees are never
    /// entered, so rounding cannot land on a removed item while the total is positive.
    fn sample(&self, mut x: f64) -> usize {
        let mut p = 1;
        while p < self.leaves {
            let (left, right) = (self.sums[2 * p], self.sums[2 * p + 1]);
            if right <= 0.0 || (left > 0.0 && x < left) {
                p *= 2;
            } else {
                x -= left;
                p = 2 * p + 1;
            }
        }
        p - self.leaves
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::als::{self, AlsParams};
    use crate::metrics::{self, ColdStartStrategy};
    use crate::split;

    fn spec() -> SynthSpec {
        SynthSpec {
            n_users: 500,
            n_items: 300,
            n_ratings: 30_000,
            rank: 4,
            scale: Scale::STARS,
            seed: 7,
        }
    }

    #[test]
    fn exact_count_distinct_pairs_and_values_on_the_scale() {
        for (scale, n_ratings) in [
            (Scale::STARS, 30_000),
            (Scale::HALF_STARS, 7_777),
            (Scale::TEN, 1),
        ] {
            let s = SynthSpec {
                scale,
                n_ratings,
                ..spec()
            };
            let r = generate(&s).unwrap();
            assert_eq!(r.len(), n_ratings);
            let pairs: HashSet<(u32, u32)> = r.iter().map(|x| (x.user, x.item)).collect();
            assert_eq!(pairs.len(), n_ratings, "no (user, item) pair twice");
            let levels = scale.levels().unwrap();
            let allowed: Vec<f32> = (0..levels).map(|k| scale.value(k)).collect();
            assert!(r.values().iter().all(|v| allowed.contains(v)));
        }
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let stats = write_csv(&spec(), &mut a).unwrap();
        write_csv(&spec(), &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_csv(&SynthSpec { seed: 8, ..spec() }, &mut c).unwrap();
        assert_ne!(a, c);
        assert_eq!(stats.n_ratings, 30_000);
        let text = String::from_utf8(a).unwrap();
        assert!(text.starts_with("user,item,rating\n"));
        assert_eq!(text.lines().count(), 30_001);
    }

    #[test]
    fn csv_parses_back_to_the_generated_table() {
        let s = SynthSpec {
            scale: Scale::HALF_STARS,
            ..spec()
        };
        let mut csv = Vec::new();
        let stats = write_csv(&s, &mut csv).unwrap();
        let parsed = crate::parse::parse_ratings(std::str::from_utf8(&csv).unwrap()).unwrap();
        let direct = generate(&s).unwrap();
        assert_eq!(parsed.user_indices(), direct.user_indices());
        assert_eq!(parsed.item_indices(), direct.item_indices());
        assert_eq!(parsed.values(), direct.values());
        let summary = parsed.summary();
        assert_eq!(
            (summary.n_users, summary.n_items),
            (stats.n_users, stats.n_items)
        );
        assert!((summary.mean_rating - stats.mean_rating).abs() < 1e-9);
    }

    #[test]
    fn popularity_is_long_tailed_and_activity_heavy_tailed() {
        let r = generate(&spec()).unwrap();
        let share_of_top_tenth = |idx: &[u32], n: usize| {
            let mut counts = vec![0usize; n];
            for &k in idx {
                counts[k as usize] += 1;
            }
            counts.sort_unstable_by(|a, b| b.cmp(a));
            counts[..n / 10].iter().sum::<usize>() as f64 / idx.len() as f64
        };
        let items = share_of_top_tenth(r.item_indices(), r.n_items());
        let users = share_of_top_tenth(r.user_indices(), r.n_users());
        assert!(items > 0.25, "top 10% of items hold {items}");
        assert!(users > 0.25, "top 10% of users hold {users}");
    }

    #[test]
    fn als_at_the_planted_rank_beats_the_global_mean() {
        let s = spec();
        let r = generate(&s).unwrap();
        let (train, test) = split::random_split(&r, 0.8, 1).unwrap();
        let params = AlsParams {
            rank: s.rank,
            max_iter: 10,
            reg_param: 0.05,
            ..AlsParams::default()
        };
        let model = als::fit(&train, &params.check().unwrap());
        let als_rmse = metrics::evaluate(&model, &test, ColdStartStrategy::Drop).rmse;
        let mean = train.values().iter().map(|&v| f64::from(v)).sum::<f64>() / train.len() as f64;
        let baseline = (test
            .values()
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / test.len() as f64)
            .sqrt();
        assert!(
            als_rmse < 0.75 * baseline,
            "ALS {als_rmse} vs mean {baseline}"
        );
    }

    #[test]
    fn dense_extremes_are_exact() {
        // Every cell rated, and a single heavy user forced to the catalogue size.
        let full = SynthSpec {
            n_users: 30,
            n_items: 20,
            n_ratings: 600,
            ..spec()
        };
        assert_eq!(generate(&full).unwrap().len(), 600);
        let one = SynthSpec {
            n_users: 1,
            n_items: 50,
            n_ratings: 50,
            ..spec()
        };
        assert_eq!(generate(&one).unwrap().len(), 50);
        let empty = SynthSpec {
            n_ratings: 0,
            ..spec()
        };
        assert_eq!(generate(&empty).unwrap().len(), 0);
    }

    #[test]
    fn bad_specs_and_scales_are_refused() {
        let too_dense = SynthSpec {
            n_users: 3,
            n_items: 3,
            n_ratings: 10,
            ..spec()
        };
        assert!(matches!(
            generate(&too_dense),
            Err(SynthError::TooDense { .. })
        ));
        assert!(matches!(
            generate(&SynthSpec { rank: 0, ..spec() }),
            Err(SynthError::Rank(0))
        ));
        assert!(matches!(
            generate(&SynthSpec {
                n_items: 0,
                ..spec()
            }),
            Err(SynthError::Empty { .. })
        ));
        let err = write_csv(&too_dense, Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        assert_eq!("1-5".parse::<Scale>().unwrap(), Scale::STARS);
        assert_eq!("0.5-5".parse::<Scale>().unwrap(), Scale::HALF_STARS);
        assert_eq!("1-10".parse::<Scale>().unwrap(), Scale::TEN);
        assert_eq!(
            "1-10:0.5".parse::<Scale>().unwrap(),
            Scale {
                min: 1.0,
                max: 10.0,
                step: 0.5
            }
        );
        assert_eq!("1-10".parse::<Scale>().unwrap().levels(), Ok(10));
        for bad in ["", "5", "5-1", "1-5:0", "1-5:3", "a-b", "1-5:x", "1-NaN"] {
            assert!(bad.parse::<Scale>().is_err(), "{bad:?}");
        }
    }
}
