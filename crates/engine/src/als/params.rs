//! ALS hyperparameters and their validation.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How each row's normal equations are solved.
///
/// The default is [`Solver::Cholesky`]: it is exact, it is what Spark does (so the explicit
/// results stay comparable with Spark's), and at the ranks this product uses (≤ ~100) the
/// `O(k³)` factorisation costs less than building the `k × k` system from the ratings.
/// [`Solver::Cg`] trades exactness for speed at large ranks, as the `implicit` library does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Solver {
    /// Exact solve by Cholesky factorisation (Spark's `CholeskySolver`).
    #[default]
    Cholesky,
    /// A few conjugate-gradient steps warm-started from the current factors, without
    /// forming the system matrix (as Ben Frederickson's `implicit` library does).
    Cg {
        /// Conjugate-gradient steps per row and half-step (at least 1).
        steps: usize,
    },
}

/// Conjugate-gradient steps per row when none are given (the `implicit` library's default).
pub const DEFAULT_CG_STEPS: usize = 3;

impl Solver {
    /// Conjugate gradient with [`DEFAULT_CG_STEPS`] steps.
    pub fn cg() -> Self {
        Solver::Cg {
            steps: DEFAULT_CG_STEPS,
        }
    }
}

impl FromStr for Solver {
    type Err = String;
    /// Parses `cholesky` or `cg` (the latter with [`DEFAULT_CG_STEPS`] steps).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cholesky" => Ok(Solver::Cholesky),
            "cg" => Ok(Solver::cg()),
            other => Err(format!("solver must be cholesky or cg, got {other:?}")),
        }
    }
}

/// How a row's regularisation grows with its number of ratings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegScaling {
    /// `reg_param` times the row's number of ratings (ALS-WR, Zhou et al. 2008), as Spark
    /// does; with implicit feedback only positive ratings count.
    #[default]
    Count,
    /// `reg_param` alone, whatever the row's number of ratings, as in Hu, Koren & Volinsky's
    /// paper and the `implicit` library.
    Constant,
}

impl FromStr for RegScaling {
    type Err = String;
    /// Parses `count` or `constant`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "count" => Ok(RegScaling::Count),
            "constant" => Ok(RegScaling::Constant),
            other => Err(format!(
                "regularisation scaling must be count or constant, got {other:?}"
            )),
        }
    }
}

/// The confidence of an implicit rating `r`: how strongly the fit is pulled towards its
/// preference (1 if `r > 0`, else 0). Items a user has no rating for have confidence 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// `1 + alpha·|r|`, as in Hu, Koren & Volinsky's paper and Spark.
    #[default]
    OnePlusAlpha,
    /// `alpha·|r|`, as the `implicit` library does (it takes the matrix it is given as the
    /// confidences, scaled by its `alpha`).
    Alpha,
}

impl FromStr for Confidence {
    type Err = String;
    /// Parses `one_plus_alpha` (or `spark`) or `alpha` (or `implicit`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "one_plus_alpha" | "spark" => Ok(Confidence::OnePlusAlpha),
            "alpha" | "implicit" => Ok(Confidence::Alpha),
            other => Err(format!(
                "confidence must be one_plus_alpha or alpha, got {other:?}"
            )),
        }
    }
}

/// ALS hyperparameters, named and defaulted as in Spark MLlib's `ALS`.
///
/// Fields missing from serialised parameters take their default, so parameters saved before
/// a field existed still load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlsParams {
    /// Number of latent factors (Spark's `rank`, default 10).
    pub rank: usize,
    /// Number of alternating sweeps, items then users (Spark's `maxIter`, default 10).
    pub max_iter: usize,
    /// Regularisation; each user's (item's) penalty is `reg_param` times its number of
    /// ratings, as in ALS-WR and Spark (Spark's `regParam`, default 0.1). With implicit
    /// feedback only positive ratings count, as in Spark. [`AlsParams::reg_scaling`] can
    /// drop the scaling.
    pub reg_param: f64,
    /// Whether `reg_param` is multiplied by each row's number of ratings (default
    /// [`RegScaling::Count`], Spark's).
    pub reg_scaling: RegScaling,
    /// A ridge added to every user's and item's regularisation whatever its number of
    /// ratings (default 0, Spark's). With [`RegScaling::Count`] the penalty is then
    /// `reg_param·n + reg_constant`: rows with few ratings are shrunk relatively more than
    /// ALS-WR alone shrinks them, which helps on sparse data such as MovieLens.
    pub reg_constant: f64,
    /// Seed of the factor initialisation.
    pub seed: u64,
    /// Treat ratings as implicit feedback (Hu, Koren & Volinsky 2008) rather than explicit
    /// ratings (Spark's `implicitPrefs`, default false).
    pub implicit_prefs: bool,
    /// Confidence slope of implicit feedback: a rating `r` has confidence `1 + alpha·|r|`
    /// (Spark's `alpha`, default 1.0; finite and ≥ 0). Ignored for explicit feedback.
    pub alpha: f64,
    /// How `alpha` makes a confidence (default [`Confidence::OnePlusAlpha`], Spark's).
    /// Ignored for explicit feedback.
    pub confidence: Confidence,
    /// Constrain all latent factors to be ≥ 0 (Spark's `nonnegative`, default false).
    pub nonnegative: bool,
    /// Also learn a global mean and a bias per user and per item, predicting
    /// `mean + b_u + b_i + u·v` (not in Spark; default false). Explicit feedback only.
    pub biases: bool,
    /// With biases, the regularisation of each bias: `Some(b)` penalises a user's (item's)
    /// bias by `b·bias²` whatever its number of ratings, the classical shrinkage of baseline
    /// predictors (a bias is its mean residual shrunk by `n / (n + b)`). `None` (the
    /// default) treats the bias like a factor, with `reg_param` and [`AlsParams::reg_scaling`].
    pub bias_reg: Option<f64>,
    /// How each row's least-squares system is solved (default [`Solver::Cholesky`]).
    pub solver: Solver,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self {
            rank: 10,
            max_iter: 10,
            reg_param: 0.1,
            reg_scaling: RegScaling::Count,
            reg_constant: 0.0,
            seed: 42,
            implicit_prefs: false,
            alpha: 1.0,
            confidence: Confidence::OnePlusAlpha,
            nonnegative: false,
            biases: false,
            bias_reg: None,
            solver: Solver::Cholesky,
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
    /// The constant ridge must be a finite number ≥ 0.
    #[error("the constant regularisation must be a finite number ≥ 0, got {0}")]
    RegConstant(f64),
    /// alpha must be a finite number ≥ 0 (a negative one would make confidences below 1).
    #[error("alpha must be a finite number ≥ 0, got {0}")]
    Alpha(f64),
    /// The conjugate-gradient solver needs at least one step.
    #[error("the conjugate-gradient solver needs at least 1 step, got {0}")]
    CgSteps(usize),
    /// Non-negative factors are solved exactly by NNLS; a few CG steps cannot honour the
    /// constraint.
    #[error("nonnegative factors need the cholesky solver (NNLS), not cg")]
    NonnegativeWithCg,
    /// Biases are defined against a mean rating, which implicit feedback does not have.
    #[error("biases are for explicit ratings only, not implicit feedback")]
    BiasesWithImplicit,
    /// The bias regularisation must be a finite number ≥ 0.
    #[error("the bias regularisation must be a finite number ≥ 0, got {0}")]
    BiasReg(f64),
    /// A bias regularisation without biases would be silently ignored.
    #[error("a bias regularisation needs biases")]
    BiasRegWithoutBiases,
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
        if !(self.reg_constant.is_finite() && self.reg_constant >= 0.0) {
            return Err(ParamError::RegConstant(self.reg_constant));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(ParamError::Alpha(self.alpha));
        }
        if let Solver::Cg { steps } = self.solver {
            if steps == 0 {
                return Err(ParamError::CgSteps(steps));
            }
            if self.nonnegative {
                return Err(ParamError::NonnegativeWithCg);
            }
        }
        if self.biases && self.implicit_prefs {
            return Err(ParamError::BiasesWithImplicit);
        }
        if let Some(b) = self.bias_reg {
            if !(b.is_finite() && b >= 0.0) {
                return Err(ParamError::BiasReg(b));
            }
            if !self.biases {
                return Err(ParamError::BiasRegWithoutBiases);
            }
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
        assert_eq!(
            (p.implicit_prefs, p.alpha, p.nonnegative),
            (false, 1.0, false)
        );
        assert!(!p.biases);
        assert_eq!(p.bias_reg, None);
        assert_eq!(p.reg_scaling, RegScaling::Count);
        assert_eq!(p.reg_constant, 0.0);
        assert_eq!(p.confidence, Confidence::OnePlusAlpha);
        assert_eq!(p.solver, Solver::Cholesky);
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
        assert_eq!(bad(|p| p.alpha = -0.5), ParamError::Alpha(-0.5));
        assert_eq!(
            bad(|p| p.reg_constant = -2.0),
            ParamError::RegConstant(-2.0)
        );
        assert!(matches!(
            bad(|p| p.alpha = f64::INFINITY),
            ParamError::Alpha(_)
        ));
        assert_eq!(
            bad(|p| p.solver = Solver::Cg { steps: 0 }),
            ParamError::CgSteps(0)
        );
        assert_eq!(
            bad(|p| {
                p.nonnegative = true;
                p.solver = Solver::cg();
            }),
            ParamError::NonnegativeWithCg
        );
        assert_eq!(
            bad(|p| {
                p.implicit_prefs = true;
                p.biases = true;
            }),
            ParamError::BiasesWithImplicit
        );
        assert_eq!(
            bad(|p| {
                p.biases = true;
                p.bias_reg = Some(-1.0);
            }),
            ParamError::BiasReg(-1.0)
        );
        assert_eq!(
            bad(|p| p.bias_reg = Some(5.0)),
            ParamError::BiasRegWithoutBiases
        );
    }

    #[test]
    fn every_option_alone_is_accepted() {
        let ok = |f: fn(&mut AlsParams)| {
            let mut p = AlsParams::default();
            f(&mut p);
            p.check().is_ok()
        };
        assert!(ok(|p| p.implicit_prefs = true));
        assert!(ok(|p| p.alpha = 0.0));
        assert!(ok(|p| p.nonnegative = true));
        assert!(ok(|p| p.biases = true));
        assert!(ok(|p| p.solver = Solver::cg()));
        assert!(ok(|p| {
            p.biases = true;
            p.nonnegative = true;
        }));
    }

    #[test]
    fn solver_names_parse() {
        assert_eq!("Cholesky".parse(), Ok(Solver::Cholesky));
        assert_eq!("cg".parse(), Ok(Solver::Cg { steps: 3 }));
        assert!("lu".parse::<Solver>().is_err());
        assert_eq!("constant".parse(), Ok(RegScaling::Constant));
        assert_eq!("Count".parse(), Ok(RegScaling::Count));
        assert!("rows".parse::<RegScaling>().is_err());
        assert_eq!("alpha".parse(), Ok(Confidence::Alpha));
        assert_eq!("one-plus-alpha".parse(), Ok(Confidence::OnePlusAlpha));
        assert!("two".parse::<Confidence>().is_err());
    }
}
