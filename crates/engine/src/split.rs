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
    /// Parts given to [`rejoin`] do not have the sizes this split gives their total.
    #[error(
        "{train} training and {test} test ratings are not the parts this split makes of {} ratings",
        train + test
    )]
    NotTheseParts {
        /// Ratings in the training part given.
        train: usize,
        /// Ratings in the test part given.
        test: usize,
    },
}

/// Splits ratings at random into a training part holding about `train_fraction` of them and a
/// test part with the rest, as Spark's `randomSplit` does: each rating draws independently.
/// The same seed always gives the same split.
pub fn random_split(
    ratings: &Ratings,
    train_fraction: f64,
    seed: u64,
) -> Result<(Ratings, Ratings), SplitError> {
    let in_train = draws(ratings.len(), train_fraction, seed)?;
    Ok(ratings.partition(|r| in_train[r]))
}

/// The table that [`random_split`] with `train_fraction` and `seed` cut into `train` and
/// `test`, every rating back in its place: so a holder of the parts need not also keep the
/// whole (a browser worker holding a 10M-rating file keeps one copy, not two), yet can split
/// it again with another seed. Only the parts' sizes can be checked: parts of another split
/// that happen to have the sizes of this one's give a table in another order.
pub fn rejoin(
    train: &Ratings,
    test: &Ratings,
    train_fraction: f64,
    seed: u64,
) -> Result<Ratings, SplitError> {
    let n = train.len() + test.len();
    Ratings::interleave(train, test, &draws(n, train_fraction, seed)?).ok_or(
        SplitError::NotTheseParts {
            train: train.len(),
            test: test.len(),
        },
    )
}

/// Each of `n` ratings' draw: `true` for the training part.
fn draws(n: usize, train_fraction: f64, seed: u64) -> Result<Vec<bool>, SplitError> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(SplitError::BadFraction(train_fraction));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..n)
        .map(|_| rng.random::<f64>() < train_fraction)
        .collect())
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
    fn rejoining_the_parts_gives_the_table_back() {
        let r = table(5_000);
        for seed in [1, 7, 42] {
            let (train, test) = random_split(&r, 0.8, seed).unwrap();
            let back = rejoin(&train, &test, 0.8, seed).unwrap();
            assert_eq!(back.user_indices(), r.user_indices());
            assert_eq!(back.item_indices(), r.item_indices());
            assert_eq!(back.values(), r.values());
        }
        // Parts of another split (another seed, or fraction) do not fit these draws.
        let (train, test) = random_split(&r, 0.8, 7).unwrap();
        assert_eq!(
            rejoin(&train, &test, 0.8, 8).unwrap_err(),
            SplitError::NotTheseParts {
                train: train.len(),
                test: test.len()
            }
        );
        assert!(rejoin(&train, &test, 0.7, 7).is_err());
        assert!(rejoin(&train, &test, 1.0, 7).is_err());
    }

    #[test]
    fn fractions_outside_zero_one_are_refused() {
        let r = table(10);
        for f in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(random_split(&r, f, 1).is_err(), "{f}");
        }
    }
}
