//! Accuracy of a model on held-out ratings.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::als::AlsModel;
use crate::ratings::Ratings;

/// What to do with test ratings of users or items unseen in training (Spark's
/// `coldStartStrategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColdStartStrategy {
    /// Predict NaN, so RMSE and MAE are NaN when any test rating is cold (Spark's default).
    Nan,
    /// Leave cold ratings out of the metrics and count them in `n_dropped`.
    #[default]
    Drop,
}

impl FromStr for ColdStartStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nan" => Ok(Self::Nan),
            "drop" => Ok(Self::Drop),
            other => Err(format!(
                "coldStartStrategy must be nan or drop, got {other:?}"
            )),
        }
    }
}

/// Error measures of a model on a test set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Test ratings that entered the metrics.
    pub n_evaluated: usize,
    /// Test ratings left out as cold (with [`ColdStartStrategy::Drop`]).
    pub n_dropped: usize,
}

/// Scores `model` on `test`, whose indices must share the training ratings' maps.
pub fn evaluate(model: &AlsModel, test: &Ratings, cold_start: ColdStartStrategy) -> Evaluation {
    let (mut se, mut ae, mut n, mut cold) = (0.0f64, 0.0f64, 0usize, 0usize);
    for r in test.iter() {
        match model.predict(r.user, r.item) {
            Some(p) => {
                let e = f64::from(p) - f64::from(r.value);
                se += e * e;
                ae += e.abs();
                n += 1;
            }
            None => cold += 1,
        }
    }
    let (rmse, mae) = if n == 0 || (cold > 0 && cold_start == ColdStartStrategy::Nan) {
        (f64::NAN, f64::NAN)
    } else {
        ((se / n as f64).sqrt(), ae / n as f64)
    };
    match cold_start {
        ColdStartStrategy::Drop => Evaluation {
            rmse,
            mae,
            n_evaluated: n,
            n_dropped: cold,
        },
        ColdStartStrategy::Nan => Evaluation {
            rmse,
            mae,
            n_evaluated: n + cold,
            n_dropped: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{fit, AlsParams};

    #[test]
    fn errors_are_measured_on_warm_ratings_and_cold_ones_follow_the_strategy() {
        let mut train = Ratings::default();
        train.push("a", "x", 4.0);
        train.push("b", "y", 2.0);
        train.push("a", "y", 3.0);
        let params = AlsParams {
            rank: 2,
            max_iter: 15,
            reg_param: 0.01,
            seed: 1,
            ..AlsParams::default()
        }
        .check()
        .unwrap();
        let model = fit(&train, &params);
        let mut test = Ratings::with_maps(train.users().clone(), train.items().clone());
        test.push("a", "x", 5.0);
        test.push("new", "x", 5.0);
        let dropped = evaluate(&model, &test, ColdStartStrategy::Drop);
        assert_eq!((dropped.n_evaluated, dropped.n_dropped), (1, 1));
        let p = f64::from(model.predict(0, 0).unwrap());
        assert!((dropped.rmse - (p - 5.0).abs()).abs() < 1e-9);
        assert!((dropped.mae - dropped.rmse).abs() < 1e-9);
        let nan = evaluate(&model, &test, ColdStartStrategy::Nan);
        assert!(nan.rmse.is_nan() && nan.mae.is_nan());
        assert_eq!(nan.n_dropped, 0);
    }

    #[test]
    fn cold_start_strategy_parses_spark_names() {
        assert_eq!("drop".parse(), Ok(ColdStartStrategy::Drop));
        assert_eq!("NaN".parse(), Ok(ColdStartStrategy::Nan));
        assert!("zero".parse::<ColdStartStrategy>().is_err());
    }
}
