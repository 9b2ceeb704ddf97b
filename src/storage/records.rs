//! What the library stores about each dataset, model and run, and how it is encoded.
//!
//! An entry (the part the library lists) is a small header; the bulk (ratings, factors,
//! item metadata) lives in separate blobs, so listing the library reads no ratings. Headers
//! are encoded with postcard behind a one-byte record version: compact, and unlike JSON it
//! keeps the NaN a metric can be (no test user, a failed fold).

use affinity_engine::als::AlsParams;
use affinity_engine::cv::CvResult;
use affinity_engine::metrics::Evaluation;
use affinity_engine::ranking::RankingEvaluation;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Version byte in front of every encoded entry; a later build migrates older versions on
/// read (there is only one so far).
pub const RECORD_VERSION: u8 = 1;

/// A stored ratings table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// File name, or "Demo catalog".
    pub name: String,
    /// Blob holding the encoded ratings ([`super::codec`]).
    pub blob: String,
    /// Blob holding the item metadata (JSON of the engine's catalog), if any.
    pub catalog_blob: Option<String>,
    /// Bytes of the ratings blob.
    pub ratings_bytes: u64,
    /// Bytes of the catalog blob (0 without one).
    pub catalog_bytes: u64,
    /// Counts shown in the list.
    pub n_ratings: u64,
    /// Distinct users.
    pub n_users: u64,
    /// Distinct items.
    pub n_items: u64,
}

/// A trained model's scores, as the results section shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelScores {
    /// The parameters of the fit.
    pub params: AlsParams,
    /// Test RMSE and MAE.
    pub evaluation: Evaluation,
    /// Ranking metrics on the test part.
    pub ranking: RankingEvaluation,
    /// Ratings in the training part.
    pub n_train: u64,
    /// Ratings in the test part.
    pub n_test: u64,
    /// Wall time of the final fit.
    pub fit_ms: f64,
    /// Training RMSE after each iteration.
    pub loss: Vec<f64>,
}

/// A stored model: the engine's binary model file plus its scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Shown in the list.
    pub name: String,
    /// The dataset it was fitted on.
    pub dataset_id: String,
    /// Blob holding the model file (`affinity_engine::model_io`, binary).
    pub blob: String,
    /// Bytes of the blob.
    pub bytes: u64,
    /// Scores and parameters.
    pub scores: ModelScores,
    /// The cross-validation table of its run, if it cross-validated.
    pub cv: Option<CvResult>,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Still running (as far as the page that started it knew).
    Running,
    /// Finished with a model.
    Done,
    /// Stopped by the visitor.
    Cancelled,
    /// A fit failed.
    Failed,
    /// The page was reloaded or closed while it ran.
    Interrupted,
}

impl RunStatus {
    /// The word the library shows.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A training run: when, how long, how it ended and what it found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    /// Shown in the list.
    pub name: String,
    /// The dataset it ran on, when that was stored.
    pub dataset_id: Option<String>,
    /// `Date.now()` at the start, ms.
    pub started_ms: f64,
    /// Wall time, once it ended.
    pub duration_ms: Option<f64>,
    /// How it ended.
    pub status: RunStatus,
    /// The fits it planned (cross-validation fits plus the final one).
    pub fits_total: u64,
    /// What it was doing last (the status line), or why it failed.
    pub detail: String,
    /// The final model's scores, once done.
    pub scores: Option<ModelScores>,
    /// The cross-validation table, once known.
    pub cv: Option<CvResult>,
    /// The stored model it produced.
    pub model_id: Option<String>,
}

impl RunEntry {
    /// The detail, when it still says something true: why the run failed, or what it was
    /// doing when it was cancelled (both written as it ended). A running run's record is
    /// written once, about a second after its start, with the progress of that moment; it is
    /// not rewritten during the fit (the page's progress bar is live), so that text, and an
    /// interrupted run's, is stale and not shown.
    pub fn shown_detail(&self) -> Option<&str> {
        match self.status {
            RunStatus::Failed | RunStatus::Cancelled if !self.detail.is_empty() => {
                Some(&self.detail)
            }
            _ => None,
        }
    }
}

/// The kinds of things stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// A ratings table.
    Dataset(DatasetEntry),
    /// A trained model.
    Model(ModelEntry),
    /// A training run.
    Run(RunEntry),
}

/// One row of the library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Key in the entries store.
    pub id: String,
    /// `Date.now()` when stored, ms.
    pub created_ms: f64,
    /// What it is.
    pub body: Body,
}

/// The dataset and model to bring back after a reload. Switched only after the records it
/// points to are written, in the same transaction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    /// The last loaded dataset.
    pub dataset_id: Option<String>,
    /// The last trained or opened model (of that dataset).
    pub model_id: Option<String>,
}

/// Why a stored header could not be read.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum RecordError {
    /// Empty record.
    #[error("the record is empty")]
    Empty,
    /// Written by a newer build.
    #[error("record version {0} is newer than this build reads ({RECORD_VERSION})")]
    Version(u8),
    /// The bytes do not decode.
    #[error("the record is damaged: {0}")]
    Damaged(String),
}

/// Encodes a header behind [`RECORD_VERSION`].
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Serializing plain structs into a Vec cannot fail.
    out.extend(postcard::to_stdvec(value).expect("postcard encodes plain structs"));
    out
}

/// Decodes a header written by [`encode`].
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, RecordError> {
    match bytes.split_first() {
        None => Err(RecordError::Empty),
        Some((&RECORD_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| RecordError::Damaged(e.to_string()))
        }
        Some((&v, _)) => Err(RecordError::Version(v)),
    }
}

impl Entry {
    /// The name shown.
    pub fn name(&self) -> &str {
        match &self.body {
            Body::Dataset(d) => &d.name,
            Body::Model(m) => &m.name,
            Body::Run(r) => &r.name,
        }
    }

    /// Renames it.
    pub fn set_name(&mut self, name: String) {
        match &mut self.body {
            Body::Dataset(d) => d.name = name,
            Body::Model(m) => m.name = name,
            Body::Run(r) => r.name = name,
        }
    }

    /// "dataset", "model" or "run".
    pub fn kind(&self) -> &'static str {
        match &self.body {
            Body::Dataset(_) => "dataset",
            Body::Model(_) => "model",
            Body::Run(_) => "run",
        }
    }

    /// Bytes it takes: its blobs plus its header.
    pub fn size(&self) -> u64 {
        let blobs = match &self.body {
            Body::Dataset(d) => d.ratings_bytes + d.catalog_bytes,
            Body::Model(m) => m.bytes,
            Body::Run(_) => 0,
        };
        blobs + encode(self).len() as u64
    }

    /// The blob keys it owns (deleted with it).
    pub fn blobs(&self) -> Vec<String> {
        match &self.body {
            Body::Dataset(d) => std::iter::once(d.blob.clone())
                .chain(d.catalog_blob.clone())
                .collect(),
            Body::Model(m) => vec![m.blob.clone()],
            Body::Run(_) => Vec::new(),
        }
    }
}

/// `12345` → `"12.1 KB"`.
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n.max(0.0);
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Marks every run still `Running` as `Interrupted`: the page that ran it is gone. Returns
/// the indices of the entries changed, to write back.
pub fn interrupt_running(entries: &mut [Entry]) -> Vec<usize> {
    let mut changed = Vec::new();
    for (k, e) in entries.iter_mut().enumerate() {
        if let Body::Run(r) = &mut e.body {
            if r.status == RunStatus::Running {
                r.status = RunStatus::Interrupted;
                changed.push(k);
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::cv::{Metric, PointResult};

    fn scores() -> ModelScores {
        ModelScores {
            params: AlsParams {
                seed: u64::MAX,
                ..AlsParams::default()
            },
            evaluation: Evaluation {
                rmse: 0.91,
                mae: 0.72,
                n_evaluated: 10,
                n_dropped: 1,
            },
            ranking: RankingEvaluation {
                precision_at_k: f64::NAN,
                recall_at_k: 0.5,
                ndcg_at_k: 0.25,
                map_at_k: 0.125,
                n_users: 0,
                n_candidates: 3,
            },
            n_train: 80,
            n_test: 20,
            fit_ms: 12.5,
            loss: vec![1.5, 1.0],
        }
    }

    fn run(status: RunStatus) -> Entry {
        Entry {
            id: "run-1".into(),
            created_ms: 1.0,
            body: Body::Run(RunEntry {
                name: "Run".into(),
                dataset_id: None,
                started_ms: 1.0,
                duration_ms: None,
                status,
                fits_total: 7,
                detail: "fold 1 of 3".into(),
                scores: None,
                cv: None,
                model_id: None,
            }),
        }
    }

    #[test]
    fn only_an_ended_runs_detail_is_shown() {
        let detail = |status| match run(status).body {
            Body::Run(r) => r.shown_detail().map(str::to_owned),
            _ => unreachable!(),
        };
        assert_eq!(detail(RunStatus::Running), None);
        assert_eq!(detail(RunStatus::Interrupted), None);
        assert_eq!(detail(RunStatus::Done), None);
        assert_eq!(detail(RunStatus::Cancelled).as_deref(), Some("fold 1 of 3"));
        assert_eq!(detail(RunStatus::Failed).as_deref(), Some("fold 1 of 3"));
    }

    #[test]
    fn model_entry_round_trips_with_nan_and_a_huge_seed() {
        let e = Entry {
            id: "model-1".into(),
            created_ms: 1_700_000_000_000.0,
            body: Body::Model(ModelEntry {
                name: "m".into(),
                dataset_id: "dataset-1".into(),
                blob: "blob-model-1".into(),
                bytes: 4096,
                scores: scores(),
                cv: Some(CvResult {
                    metric: Metric::NdcgAtK(10),
                    points: vec![PointResult {
                        params: AlsParams::default(),
                        scores: vec![0.1, f64::NAN],
                        mean: f64::NAN,
                        std: 0.0,
                    }],
                    best: 0,
                }),
            }),
        };
        let bytes = encode(&e);
        assert_eq!(bytes[0], RECORD_VERSION);
        let back: Entry = decode(&bytes).unwrap();
        let Body::Model(m) = &back.body else {
            panic!("not a model")
        };
        assert!(m.scores.ranking.precision_at_k.is_nan());
        assert_eq!(m.scores.params.seed, u64::MAX);
        assert_eq!(m.scores.loss, vec![1.5, 1.0]);
        assert!(m.cv.as_ref().unwrap().points[0].mean.is_nan());
        assert_eq!(back.size(), 4096 + bytes.len() as u64);
        assert_eq!(back.blobs(), vec!["blob-model-1".to_string()]);
    }

    #[test]
    fn damaged_and_newer_records_are_errors() {
        let bytes = encode(&run(RunStatus::Done));
        assert_eq!(decode::<Entry>(&[]).unwrap_err(), RecordError::Empty);
        assert_eq!(
            decode::<Entry>(&[9, 1, 2]).unwrap_err(),
            RecordError::Version(9)
        );
        for len in 1..bytes.len() {
            assert!(decode::<Entry>(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn only_running_runs_become_interrupted() {
        let mut entries = vec![run(RunStatus::Running), run(RunStatus::Done)];
        let changed = interrupt_running(&mut entries);
        assert_eq!(changed, vec![0]);
        assert!(matches!(&entries[0].body, Body::Run(r) if r.status == RunStatus::Interrupted));
        assert!(matches!(&entries[1].body, Body::Run(r) if r.status == RunStatus::Done));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(12345.0), "12.1 KB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.0 MB");
    }
}
