//! Seeded train/test splits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::ratings::Ratings;

/// Why a split was refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SplitError {
    /// The training fraction must lie strictly between 0 and 1.
    #[error("the training fraction must be between 0 and 1 (exclusive), got {0}")]
    BadFraction(f64),
}

/// Splits ratings at random into a training part holding about `train_fraction` of them and a
/// test part with the rest, as Spark's `randomSplit` does: each rating draws independently.
/// The same seed always gives the same split.
pub fn random_split(
    ratings: &Ratings,
    train_fraction: f64,
    seed: u64,
) -> Result<(Ratings, Ratings), SplitError> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(SplitError::BadFraction(train_fraction));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let in_train: Vec<bool> = (0..ratings.len())
        .map(|_| rng.random::<f64>() < train_fraction)
        .collect();
    let train = ratings.select((0..ratings.len()).filter(|&r| in_train[r]));
    let test = ratings.select((0..ratings.len()).filter(|&r| !in_train[r]));
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Ratings {
        let mut r = Ratings::default();
        for k in 0..n {
            r.push(
                &(k % 37).to_string(),
                &(k % 101).to_string(),
                (k % 5) as f32,
            );
        }
        r
    }

    #[test]
    fn split_is_a_seeded_partition_near_the_fraction() {
        let r = table(10_000);
        let (train, test) = random_split(&r, 0.8, 7).unwrap();
        assert_eq!(train.len() + test.len(), r.len());
        let frac = train.len() as f64 / r.len() as f64;
        assert!((frac - 0.8).abs() < 0.02, "fraction {frac}");
        let (again, _) = random_split(&r, 0.8, 7).unwrap();
        assert_eq!(again.user_indices(), train.user_indices());
        let (other, _) = random_split(&r, 0.8, 8).unwrap();
        assert_ne!(other.user_indices(), train.user_indices());
    }

    #[test]
    fn fractions_outside_zero_one_are_refused() {
        let r = table(10);
        for f in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(random_split(&r, f, 1).is_err(), "{f}");
        }
    }
}
