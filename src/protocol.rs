//! Messages between the page and the training workers.
//!
//! Each message is a small serde header (sent with `serde-wasm-bindgen`) plus, for the bulky
//! parts (ratings, factors), typed arrays whose buffers are transferred rather than copied
//! value by value: see [`crate::wire`].

use affinity_engine::als::{AlsModel, AlsParams, IterationReport};
use affinity_engine::cv::Metric;
use affinity_engine::metrics::Evaluation;
use affinity_engine::parse::{Format, ParseReport};
use affinity_engine::ranking::RankingEvaluation;
use affinity_engine::ratings::Summary;
use serde::{Deserialize, Serialize};

/// Cut-off of the ranking metrics shown after training.
pub const TOP_K: usize = 10;

/// Which ratings a fit trains on and which it is scored on.
///
/// Every split is recomputed by the worker from the whole dataset and seeds, so the page
/// sends the ratings once per worker, not once per job.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum SplitSpec {
    /// Train on a seeded random `train_fraction` of the ratings, test on the rest.
    Holdout {
        /// Fraction of ratings used for training.
        train_fraction: f64,
        /// Seed of the split.
        seed: u64,
    },
    /// Fold `fold` of a seeded `k`-fold split of the holdout's training part: cross-validation
    /// never sees the test ratings.
    Fold {
        /// Fraction of ratings in the holdout's training part.
        train_fraction: f64,
        /// Seed of the holdout split and of the folds.
        seed: u64,
        /// Number of folds.
        k: usize,
        /// This job's fold.
        fold: usize,
    },
}

/// What the page wants back from a fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Want {
    /// Only the validation metric (a cross-validation job).
    Score(Metric),
    /// The model itself, with RMSE/MAE and ranking metrics at [`TOP_K`] on the test part.
    Model,
}

/// One fit for a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FitJob {
    /// Identifies the job in the replies.
    pub job_id: u64,
    /// The dataset the job is about (the worker must have received it).
    pub data_id: u64,
    /// ALS hyperparameters (checked again by the worker, which trusts nothing it receives).
    pub params: AlsParams,
    /// Train and test parts.
    pub split: SplitSpec,
    /// What to send back.
    pub want: Want,
}

/// Header of a message to a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToWorker {
    /// A dataset, as dense indices; the three columns travel as typed arrays beside this.
    Data {
        /// Identifies the dataset in later jobs.
        data_id: u64,
        /// Number of distinct users (indices are below it).
        n_users: usize,
        /// Number of distinct items.
        n_items: usize,
    },
    /// Run a fit.
    Fit(FitJob),
    /// Take part `part` of `parts` in a fit that several workers run together (a model job on
    /// a pool of more than one). One `MessagePort` to each other worker, in part order, travels
    /// beside this: the workers send each other their rows through them, and the first worker
    /// sends the model back as [`FromWorker::Trained`]; the others send
    /// [`FromWorker::ShareDone`].
    Share {
        /// The model job.
        job: FitJob,
        /// This worker's part.
        part: usize,
        /// Number of parts (workers).
        parts: usize,
    },
    /// Another worker's rows of a half-step of the shared fit `job_id` (through a port from
    /// [`ToWorker::Share`]); the rows travel beside this.
    PartRows {
        /// The shared fit.
        job_id: u64,
        /// Half-steps since the start: items of the first iteration, its users, ...
        half_step: usize,
        /// The sender's part.
        part: usize,
        /// Rows of the side in all.
        n_rows: usize,
        /// First row sent.
        start: usize,
        /// After a users' half-step, the squared training errors of these users' ratings
        /// and how many were predicted.
        squared_errors: Option<(f64, usize)>,
        /// How long the sender took to solve these rows, in milliseconds.
        solve_ms: f64,
    },
    /// Read the ratings file that travels beside this (a `File`), slice by slice, with
    /// `format` or the detected one; reply with [`FromWorker::ReadProgress`] after each
    /// slice and [`FromWorker::Parsed`] at the end.
    Parse {
        /// The format the visitor chose, or `None` to detect it.
        format: Option<Format>,
        /// Bytes read per slice.
        slice_bytes: usize,
    },
    /// Decode the ratings the library stored (the attached `Blob`) and reply with
    /// [`FromWorker::Parsed`], without a report: a reload brings a large dataset back
    /// without stopping the page.
    Decode,
    /// Encode the model and ids that travel beside this as a model file for storage, and
    /// reply with [`FromWorker::Encoded`]: at ten million ratings that takes the page's
    /// thread about half a second.
    Encode {
        /// The model's rank.
        rank: usize,
        /// Its global mean, for a model with biases.
        global_mean: Option<f32>,
    },
}

/// Header of a message from a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's wasm is instantiated and it listens; messages sent earlier could be lost.
    Ready,
    /// One ALS iteration of a job finished.
    Progress {
        /// The job.
        job_id: u64,
        /// Iteration number and training loss.
        report: IterationReport,
    },
    /// A cross-validation job finished.
    Scored {
        /// The job.
        job_id: u64,
        /// The validation metric.
        score: f64,
        /// Training RMSE after each iteration.
        loss: Vec<f64>,
    },
    /// A model job finished; the factors travel as typed arrays beside this.
    Trained {
        /// The job.
        job_id: u64,
        /// Scores and sizes.
        report: TrainReport,
    },
    /// This worker's part of the shared fit `job_id` is over (the first worker sends the
    /// model instead); it is free.
    ShareDone {
        /// The shared fit.
        job_id: u64,
    },
    /// A slice of a ratings file was read.
    ReadProgress {
        /// Bytes read so far.
        bytes_read: f64,
        /// Bytes in the file.
        total_bytes: f64,
        /// Rating lines read so far.
        lines_read: usize,
    },
    /// A ratings file was read; its id lists and index columns, its users' rated items, its
    /// ratings per item and its encoding for storage travel beside this.
    Parsed {
        /// What reading it found (format, header, duplicates dropped, blank lines); none for
        /// stored ratings.
        report: Option<ParseReport>,
        /// Its counts.
        summary: Summary,
        /// Its rating histogram's bins.
        rating_bins: Vec<(f32, usize)>,
    },
    /// A model sent to be encoded ([`ToWorker::Encode`]) is; the file travels beside this as a
    /// `Blob`.
    Encoded,
    /// Stored ratings sent to be decoded ([`ToWorker::Decode`]) are damaged: why.
    Damaged {
        /// What the decoder found wrong.
        message: String,
    },
    /// The job could not run; the message is meant for the visitor.
    Failed {
        /// The job.
        job_id: u64,
        /// What went wrong.
        message: String,
    },
}

/// Scores of a final model on its test part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainReport {
    /// Test RMSE and MAE (cold test ratings dropped, as Spark's `drop` strategy does).
    pub evaluation: Evaluation,
    /// Precision, recall, NDCG and MAP at [`TOP_K`] (held-out items relevant, training
    /// items excluded).
    pub ranking: RankingEvaluation,
    /// Ratings in the training part.
    pub n_train: usize,
    /// Ratings in the test part.
    pub n_test: usize,
    /// Wall time of the fit alone, in milliseconds.
    pub fit_ms: f64,
    /// Training RMSE after each iteration.
    pub loss: Vec<f64>,
    /// Model rank, to rebuild the factors.
    pub rank: usize,
    /// Global mean, when the model has biases.
    pub global_mean: Option<f32>,
}

/// A trained model and how well it does on the held-out ratings.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The fitted model, indexed like the dataset's ratings.
    pub model: AlsModel,
    /// The parameters it was fitted with (the cross-validation winner, if any).
    pub params: AlsParams,
    /// Test RMSE and MAE (cold test ratings dropped, as Spark's `drop` strategy does).
    pub evaluation: Evaluation,
    /// Ranking metrics at [`TOP_K`] on the test part.
    pub ranking: RankingEvaluation,
    /// Ratings in the training part.
    pub n_train: usize,
    /// Ratings in the test part.
    pub n_test: usize,
    /// Wall time of the final fit alone, in milliseconds.
    pub fit_ms: f64,
    /// Training RMSE after each iteration of the final fit.
    pub loss: Vec<f64>,
    /// Where the arrays the model came in from its worker are kept until it is saved (see
    /// [`crate::encoding::keep_arrays`]); none for a model that did not come from a worker.
    pub arrays: Option<u64>,
}
