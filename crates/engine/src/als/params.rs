//! ALS hyperparameters and their validation.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// ALS hyperparameters, named and defaulted as in Spark MLlib's `ALS`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    /// Number of latent factors (Spark's `rank`, default 10).
    pub rank: usize,
    /// Number of alternating sweeps, items then users (Spark's `maxIter`, default 10).
    pub max_iter: usize,
    /// Regularisation; each user's (item's) penalty is `reg_param` times its number of
    /// ratings, as in ALS-WR and Spark (Spark's `regParam`, default 0.1).
    pub reg_param: f64,
    /// Seed of the factor initialisation.
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            rank: 10,
            max_iter: 10,
            reg_param: 0.1,
            seed: 42,
        }
    }
}

/// Why hyperparameters were refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParamError {
    /// The rank must be at least 1.
    #[error("rank must be at least 1, got {0}")]
    Rank(usize),
    /// Ranks above this would need more memory per factor than makes sense here.
    #[error("rank must be at most {max}, got {got}")]
    RankTooLarge {
        /// The largest accepted rank.
        max: usize,
        /// The rank asked for.
        got: usize,
    },
    /// regParam must be a finite number ≥ 0.
    #[error("regParam must be a finite number ≥ 0, got {0}")]
    RegParam(f64),
}

/// Hyperparameters that passed [`AlsParams::check`]; the fitting code relies on them.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidAlsParams(AlsParams);

/// Largest rank accepted.
pub const MAX_RANK: usize = 1000;

impl AlsParams {
    /// Validates the parameters once, so that fitting never has to.
    pub fn check(&self) -> Result<ValidAlsParams, ParamError> {
        if self.rank == 0 {
            return Err(ParamError::Rank(self.rank));
        }
        if self.rank > MAX_RANK {
            return Err(ParamError::RankTooLarge {
                max: MAX_RANK,
                got: self.rank,
            });
        }
        if !(self.reg_param.is_finite() && self.reg_param >= 0.0) {
            return Err(ParamError::RegParam(self.reg_param));
        }
        Ok(ValidAlsParams(self.clone()))
    }
}

impl std::ops::Deref for ValidAlsParams {
    type Target = AlsParams;
    fn deref(&self) -> &AlsParams {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sparks_and_valid() {
        let p = AlsParams::default();
        assert_eq!((p.rank, p.max_iter, p.reg_param), (10, 10, 0.1));
        assert!(p.check().is_ok());
    }

    #[test]
    fn bad_values_are_refused_with_the_value() {
        let bad = |f: fn(&mut AlsParams)| {
            let mut p = AlsParams::default();
            f(&mut p);
            p.check().unwrap_err()
        };
        assert_eq!(bad(|p| p.rank = 0), ParamError::Rank(0));
        assert_eq!(bad(|p| p.reg_param = -1.0), ParamError::RegParam(-1.0));
        assert!(matches!(
            bad(|p| p.reg_param = f64::NAN),
            ParamError::RegParam(_)
        ));
        assert!(matches!(
            bad(|p| p.rank = 5000),
            ParamError::RankTooLarge { .. }
        ));
    }
}
