//! `affinity fit`: fit ALS on a ratings file and save the model; and `affinity recommend
//! --model`: serve a saved model without refitting.
//!
//! Model files are binary by default and JSON when the name ends in `.json` (see
//! `affinity_engine::model_io`); reading accepts either, whatever the name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use affinity_engine::als::{self, ParamError};
use affinity_engine::model_io::{ModelFile, ModelIoError};
use affinity_engine::parse::{self, ParseError};
use affinity_engine::serve::RatedItems;
use clap::Args;
use serde::Serialize;

use affinity_engine::split::{self, SplitError};

use crate::{AlsArgs, RecommendArgs, Recommendation, RegArgs};

/// Flags of `affinity fit`.
#[derive(Args)]
pub struct FitArgs {
    /// Ratings to fit on.
    #[arg(long)]
    ratings: PathBuf,
    #[command(flatten)]
    als: AlsArgs,
    #[command(flatten)]
    reg: RegArgs,
    /// Fit on this fraction of the ratings only, split at random with --seed exactly as
    /// `eval --ratings` and the web app's holdout do (the model keeps every id).
    #[arg(long)]
    split: Option<f64>,
    /// The model file to write: JSON when the name ends in .json, binary otherwise.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Why `affinity fit` or `affinity recommend --model` failed, with the file or value at
/// fault.
#[derive(Debug, thiserror::Error)]
enum FitCmdError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error("--split: {0}")]
    Split(#[from] SplitError),
    #[error("{path}: {source}")]
    Model { path: PathBuf, source: ModelIoError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("user {user:?} is not in the model {path}")]
    UnknownUser { user: String, path: PathBuf },
    #[error("user {user:?} has no factors in the model {path} (no ratings in its training data)")]
    ColdUser { user: String, path: PathBuf },
}

#[derive(Serialize)]
struct FitReport {
    out: PathBuf,
    format: &'static str,
    format_version: u64,
    bytes: usize,
    n_ratings: usize,
    n_users: usize,
    n_items: usize,
    rank: usize,
    max_iter: usize,
    reg_param: f64,
    reg_constant: f64,
    bias_reg: Option<f64>,
    /// The training fraction with --split (`n_ratings` is then the training part's).
    split: Option<f64>,
    seed: u64,
    biases: bool,
    fit_seconds: f64,
}

/// Runs `affinity fit`, reporting errors on stderr.
pub fn main(args: &FitArgs) -> ExitCode {
    report(fit(args))
}

/// Runs `affinity recommend --model`, reporting errors on stderr.
pub fn recommend_main(args: &RecommendArgs, model: &Path) -> ExitCode {
    report(recommend(args, model))
}

fn report(result: Result<(), FitCmdError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether `path` names a JSON model file (its name ends in `.json`, in any case).
pub fn is_json_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, FitCmdError> {
    std::fs::read(path).map_err(|source| FitCmdError::Read {
        path: path.to_owned(),
        source,
    })
}

fn fit(args: &FitArgs) -> Result<(), FitCmdError> {
    // Check the parameters before reading a possibly large file.
    let params = args.reg.apply(args.als.params()).check()?;
    let text = String::from_utf8_lossy(&read_bytes(&args.ratings)?).into_owned();
    let ratings = parse::parse_ratings(&text).map_err(|source| FitCmdError::Parse {
        path: args.ratings.clone(),
        source,
    })?;
    // The training part keeps the whole file's id maps, as the web app's does, so that the
    // two write the same model file.
    let ratings = match args.split {
        Some(fraction) => split::random_split(&ratings, fraction, params.seed)?.0,
        None => ratings,
    };
    let started = Instant::now();
    let model = als::fit(&ratings, &params);
    let fit_seconds = started.elapsed().as_secs_f64();
    let model_err = |source| FitCmdError::Model {
        path: args.out.clone(),
        source,
    };
    let file = ModelFile::from_model(&model, ratings.users().ids(), ratings.items().ids())
        .map_err(model_err)?;
    let json = is_json_path(&args.out);
    let bytes = if json {
        file.to_json().map_err(model_err)?.into_bytes()
    } else {
        file.to_bytes().map_err(model_err)?
    };
    std::fs::write(&args.out, &bytes).map_err(|source| {
        // A half-written model would fail to load later with a confusing error.
        let _ = std::fs::remove_file(&args.out);
        FitCmdError::Write {
            path: args.out.clone(),
            source,
        }
    })?;
    let report = FitReport {
        out: args.out.clone(),
        format: if json { "json" } else { "binary" },
        format_version: if json {
            affinity_engine::model_io::JSON_VERSION
        } else {
            affinity_engine::model_io::BINARY_VERSION.into()
        },
        bytes: bytes.len(),
        n_ratings: ratings.len(),
        n_users: ratings.n_users(),
        n_items: ratings.n_items(),
        rank: params.rank,
        max_iter: params.max_iter,
        reg_param: params.reg_param,
        reg_constant: params.reg_constant,
        bias_reg: params.bias_reg,
        split: args.split,
        seed: params.seed,
        biases: model.has_biases(),
        fit_seconds,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        println!(
            "fitted rank {} on {} ratings ({} users, {} items) in {:.2} s; wrote {} ({} bytes, {} format version {})",
            report.rank,
            report.n_ratings,
            report.n_users,
            report.n_items,
            report.fit_seconds,
            report.out.display(),
            report.bytes,
            report.format,
            report.format_version
        );
    }
    Ok(())
}

fn recommend(args: &RecommendArgs, path: &Path) -> Result<(), FitCmdError> {
    let model_err = |source| FitCmdError::Model {
        path: path.to_owned(),
        source,
    };
    let file = ModelFile::from_any(&read_bytes(path)?).map_err(model_err)?;
    let (model, users, items) = file.into_model().map_err(model_err)?;
    let user = users
        .get(&args.user)
        .ok_or_else(|| FitCmdError::UnknownUser {
            user: args.user.clone(),
            path: path.to_owned(),
        })?;
    // Read the ratings with the model's id maps, so that their indices are the model's;
    // ids the model does not know get new indices past its range and are never scored.
    let rated = match &args.ratings {
        Some(ratings_path) => {
            let text = String::from_utf8_lossy(&read_bytes(ratings_path)?).into_owned();
            let ratings = parse::parse_ratings_with_maps(&text, users.clone(), items.clone())
                .map_err(|source| FitCmdError::Parse {
                    path: ratings_path.clone(),
                    source,
                })?;
            RatedItems::from_ratings(&ratings)
        }
        None => RatedItems::default(),
    };
    let top = model
        .recommend(user, args.top, |i| rated.contains(user, i))
        .ok_or_else(|| FitCmdError::ColdUser {
            user: args.user.clone(),
            path: path.to_owned(),
        })?;
    let recs: Vec<Recommendation> = top
        .into_iter()
        .map(|(item, score)| Recommendation {
            item: items.id(item).to_owned(),
            score,
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string(&recs).expect("serialisable"));
    } else {
        for (k, r) in recs.iter().enumerate() {
            println!("{:>3}. {}  {:.4}", k + 1, r.item, r.score);
        }
    }
    Ok(())
}
