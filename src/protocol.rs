//! Messages between the page and the training worker.

use affinity_engine::als::{AlsModel, AlsParams, IterationReport};
use affinity_engine::metrics::Evaluation;
use affinity_engine::Ratings;
use serde::{Deserialize, Serialize};

/// Split, fit and test: what the Train button asks of the worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainJob {
    /// Identifies the job in the replies, so a stale reply is never taken for a newer job's.
    pub job_id: u64,
    /// All ratings of the dataset; the worker splits them.
    pub ratings: Ratings,
    /// ALS hyperparameters (checked again by the worker, which trusts nothing it receives).
    pub params: AlsParams,
    /// Fraction of ratings used for training; the rest measures the test RMSE.
    pub train_fraction: f64,
}

/// What the worker sends back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum WorkerOutput {
    /// One ALS iteration finished.
    Progress {
        /// The job it belongs to.
        job_id: u64,
        /// Iteration number and training loss.
        report: IterationReport,
    },
    /// The job finished.
    Trained {
        /// The job it belongs to.
        job_id: u64,
        /// The model and its scores.
        outcome: Box<TrainOutcome>,
    },
    /// The job could not run; the message is meant for the visitor.
    Failed {
        /// The job it belongs to.
        job_id: u64,
        /// What went wrong.
        message: String,
    },
}

/// A trained model and how well it does on the held-out ratings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The fitted model, indexed like the job's ratings.
    pub model: AlsModel,
    /// Test RMSE and MAE (cold test ratings dropped, as Spark's `drop` strategy does).
    pub evaluation: Evaluation,
    /// Ratings in the training part.
    pub n_train: usize,
    /// Ratings in the test part.
    pub n_test: usize,
    /// Wall time of the fit alone, in milliseconds.
    pub fit_ms: f64,
}
