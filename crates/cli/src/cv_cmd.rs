//! `affinity cv`: k-fold cross-validation of ALS over a parameter grid.
//!
//! Every comma-separated flag is a grid axis; every combination is cross-validated on
//! `--folds` folds, the jobs spread over the machine's cores. With `--split`, the data is
//! first split at random, cross-validation runs on the training part only, and the best
//! parameters are refitted on that whole part and scored on the held-out part.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use affinity_engine::als::{self, AlsParams};
use affinity_engine::cv::{self, CvError, CvJob, Metric, ParamGrid};
use affinity_engine::metrics::{self, ColdStartStrategy};
use affinity_engine::parse::{self, ParseError};
use affinity_engine::ranking;
use affinity_engine::split::{self, SplitError};
use affinity_engine::Ratings;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;

/// Flags of `affinity cv`.
#[derive(Args)]
pub struct CvArgs {
    /// Ratings file.
    #[arg(long)]
    ratings: PathBuf,
    /// Number of cross-validation folds.
    #[arg(long, default_value_t = 3)]
    folds: usize,
    /// Ranks to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    rank: Vec<usize>,
    /// Regularisations to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1")]
    reg_param: Vec<f64>,
    /// Iteration counts to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    max_iter: Vec<usize>,
    /// Implicit-feedback confidences to try, comma-separated.
    #[arg(long, value_delimiter = ',')]
    alpha: Vec<f64>,
    /// Constant ridges (added to every row's regularisation, not scaled by its number of
    /// ratings) to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    reg_constant: Vec<f64>,
    /// With --biases, bias regularisations (not scaled by the number of ratings) to try,
    /// comma-separated; without this flag, biases are regularised like factors.
    #[arg(long, value_delimiter = ',', requires = "biases")]
    bias_reg: Vec<f64>,
    /// How --reg-param scales: count (times each row's number of ratings, Spark's) or
    /// constant.
    #[arg(long, default_value = "count")]
    reg_scaling: als::RegScaling,
    /// Implicit confidence: one_plus_alpha (1 + alpha·|r|, Spark's) or alpha (alpha·|r|, as
    /// the `implicit` library).
    #[arg(long, default_value = "one_plus_alpha")]
    confidence: als::Confidence,
    /// Treat ratings as implicit feedback (Spark's implicitPrefs).
    #[arg(long)]
    implicit: bool,
    /// Fit user and item biases.
    #[arg(long)]
    biases: bool,
    /// What to select by: rmse (lower is better) or ndcg_at_k (higher is better).
    #[arg(long, value_enum, default_value = "rmse")]
    metric: MetricArg,
    /// Cut-off k of ndcg_at_k and of the held-out ranking metrics.
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// Seed of the folds, the split and the factor initialisation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Hold out 1 − this fraction first; cross-validate on the rest and score the best
    /// parameters on the held-out part.
    #[arg(long)]
    split: Option<f64>,
    /// With --split, rank only an even sample of at most N held-out users for the test
    /// ranking metrics (default: every one). Ranking every user takes most of the final
    /// scoring's time on big files; 3000 is the web page's sample.
    #[arg(long, value_name = "N", requires = "split", value_parser = crate::parse_ranking_users)]
    ranking_users: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// The selection metric as written on the command line.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MetricArg {
    /// Root mean squared error on warm validation ratings.
    Rmse,
    /// NDCG of the top k recommendations against the validation items.
    #[value(name = "ndcg_at_k", alias = "ndcg")]
    NdcgAtK,
}

/// Why `affinity cv` failed, each with the file, flag or value at fault.
#[derive(Debug, thiserror::Error)]
enum CvCmdError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error(transparent)]
    Cv(#[from] CvError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Params(#[from] als::ParamError),
    /// The engine's `AlsParams` has no field for this flag yet.
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    #[error("--top-k must be at least 1")]
    ZeroTopK,
}

/// One grid point's cross-validated metric.
#[derive(Serialize)]
struct PointReport {
    rank: usize,
    max_iter: usize,
    reg_param: f64,
    /// `null` when the engine has no alpha.
    alpha: Value,
    /// The constant ridge added to every row's regularisation.
    reg_constant: f64,
    /// The biases' own regularisation; `null` when they are regularised like factors.
    bias_reg: Option<f64>,
    /// `count` or `constant`.
    reg_scaling: als::RegScaling,
    /// `one_plus_alpha` or `alpha`.
    confidence: als::Confidence,
    mean: f64,
    std: f64,
    scores: Vec<f64>,
}

#[derive(Serialize)]
struct CvReport {
    metric: &'static str,
    top_k: usize,
    folds: usize,
    seed: u64,
    /// The std in `results` is the population one (divided by the number of folds).
    std_kind: &'static str,
    best: PointReport,
    best_index: usize,
    results: Vec<PointReport>,
    n_ratings: usize,
    n_cv: usize,
    n_test: Option<usize>,
    test_rmse: Option<f64>,
    test_mae: Option<f64>,
    test_n_dropped: Option<usize>,
    test_precision_at_k: Option<f64>,
    test_recall_at_k: Option<f64>,
    test_ndcg_at_k: Option<f64>,
    test_map_at_k: Option<f64>,
    /// Held-out users the test ranking metrics are averaged over.
    test_ranked_users: Option<usize>,
    /// Held-out users that could have been ranked.
    test_ranking_candidates: Option<usize>,
    seconds: f64,
}

/// Runs `affinity cv` and reports its errors itself, like `main` does for the others.
pub fn main(args: &CvArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &CvArgs) -> Result<(), CvCmdError> {
    let started = Instant::now();
    if args.top_k == 0 {
        return Err(CvCmdError::ZeroTopK);
    }
    let metric = match args.metric {
        MetricArg::Rmse => Metric::Rmse,
        MetricArg::NdcgAtK => Metric::NdcgAtK(args.top_k),
    };
    let base = base_params(args)?;
    let grid = ParamGrid {
        ranks: args.rank.clone(),
        max_iters: args.max_iter.clone(),
        reg_params: args.reg_param.clone(),
        alphas: args.alpha.clone(),
    };
    let points = grid.points_with(&base, |p, a| {
        set_field(&p, "alpha", Value::from(a), "--alpha")
    })?;
    let points = extra_axes(points, &args.reg_constant, &args.bias_reg);
    for p in &points {
        p.check()?;
    }

    let all = parse_file(&args.ratings)?;
    let (cv_part, test_part) = match args.split {
        Some(f) => {
            let (train, test) = split::random_split(&all, f, args.seed)?;
            (train, Some(test))
        }
        None => (all.clone(), None),
    };
    let folds = cv::k_fold(&cv_part, args.folds, args.seed)?;
    let jobs = cv::plan(&points, folds.len());
    let scores = run_parallel(&jobs, &folds, metric)?;
    let result = cv::summarize(&points, &jobs, &scores, metric);
    let best_params = &result.points[result.best].params;

    let mut report = CvReport {
        metric: match args.metric {
            MetricArg::Rmse => "rmse",
            MetricArg::NdcgAtK => "ndcg_at_k",
        },
        top_k: args.top_k,
        folds: folds.len(),
        seed: args.seed,
        std_kind: "population",
        best: point_report(&result.points[result.best]),
        best_index: result.best,
        results: result.points.iter().map(point_report).collect(),
        n_ratings: all.len(),
        n_cv: cv_part.len(),
        n_test: None,
        test_rmse: None,
        test_mae: None,
        test_n_dropped: None,
        test_precision_at_k: None,
        test_recall_at_k: None,
        test_ndcg_at_k: None,
        test_map_at_k: None,
        test_ranked_users: None,
        test_ranking_candidates: None,
        seconds: 0.0,
    };
    if let Some(test) = &test_part {
        let model = als::fit(&cv_part, &best_params.check()?);
        let eval = metrics::evaluate(&model, test, ColdStartStrategy::Drop);
        // Without --ranking-users this is `evaluate_ranking`: every held-out user.
        let ranks = ranking::evaluate_ranking_sampled(
            &model,
            &cv_part,
            test,
            args.top_k,
            args.ranking_users.unwrap_or(usize::MAX),
        );
        report.n_test = Some(test.len());
        report.test_rmse = Some(eval.rmse);
        report.test_mae = Some(eval.mae);
        report.test_n_dropped = Some(eval.n_dropped);
        report.test_precision_at_k = Some(ranks.precision_at_k);
        report.test_recall_at_k = Some(ranks.recall_at_k);
        report.test_ndcg_at_k = Some(ranks.ndcg_at_k);
        report.test_map_at_k = Some(ranks.map_at_k);
        report.test_ranked_users = Some(ranks.n_users);
        report.test_ranking_candidates = Some(ranks.n_candidates);
    }
    report.seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Every point combined with every constant ridge and then every bias regularisation (an
/// empty axis keeps the point's value), so these vary fastest, after the alphas.
fn extra_axes(points: Vec<AlsParams>, reg_constants: &[f64], bias_regs: &[f64]) -> Vec<AlsParams> {
    let with_constant: Vec<AlsParams> = if reg_constants.is_empty() {
        points
    } else {
        points
            .iter()
            .flat_map(|p| {
                reg_constants.iter().map(|&c| AlsParams {
                    reg_constant: c,
                    ..p.clone()
                })
            })
            .collect()
    };
    if bias_regs.is_empty() {
        return with_constant;
    }
    with_constant
        .iter()
        .flat_map(|p| {
            bias_regs.iter().map(|&b| AlsParams {
                bias_reg: Some(b),
                ..p.clone()
            })
        })
        .collect()
}

/// Spark's defaults with the flags that are not grid axes applied.
fn base_params(args: &CvArgs) -> Result<AlsParams, CvCmdError> {
    let mut base = AlsParams {
        seed: args.seed,
        reg_scaling: args.reg_scaling,
        confidence: args.confidence,
        ..Default::default()
    };
    if args.implicit {
        base = set_field(&base, "implicit_prefs", Value::Bool(true), "--implicit")?;
    }
    if args.biases {
        base = set_field(&base, "biases", Value::Bool(true), "--biases")?;
    }
    Ok(base)
}

/// `params` with `field` set to `value`, through its serde form: the engine's `AlsParams`
/// is gaining fields (implicit_prefs, alpha, biases) and this compiles with or without
/// them, answering [`CvCmdError::Unsupported`] for `flag` while the field is missing.
fn set_field(
    params: &AlsParams,
    field: &str,
    value: Value,
    flag: &'static str,
) -> Result<AlsParams, CvCmdError> {
    let mut v = serde_json::to_value(params).map_err(|_| CvCmdError::Unsupported(flag))?;
    let obj = v.as_object_mut().ok_or(CvCmdError::Unsupported(flag))?;
    if !obj.contains_key(field) {
        return Err(CvCmdError::Unsupported(flag));
    }
    obj.insert(field.to_owned(), value);
    serde_json::from_value(v).map_err(|_| CvCmdError::Unsupported(flag))
}

/// The value of `field` in `params`' serde form, or `null`.
fn field_of(params: &AlsParams, field: &str) -> Value {
    serde_json::to_value(params)
        .ok()
        .and_then(|v| v.get(field).cloned())
        .unwrap_or(Value::Null)
}

fn point_report(p: &cv::PointResult) -> PointReport {
    PointReport {
        rank: p.params.rank,
        max_iter: p.params.max_iter,
        reg_param: p.params.reg_param,
        alpha: field_of(&p.params, "alpha"),
        reg_constant: p.params.reg_constant,
        bias_reg: p.params.bias_reg,
        reg_scaling: p.params.reg_scaling,
        confidence: p.params.confidence,
        mean: p.mean,
        std: p.std,
        scores: p.scores.clone(),
    }
}

/// Runs the jobs on one thread per core; each worker takes the next job not yet taken.
fn run_parallel(
    jobs: &[CvJob],
    folds: &[(Ratings, Ratings)],
    metric: Metric,
) -> Result<Vec<f64>, CvError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<f64, CvError>>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(j) else { break };
                let r = cv::run_job_single_threaded(job, folds, metric);
                // A poisoned lock means another worker panicked; its panic ends the scope.
                if let Ok(mut out) = results.lock() {
                    out[j] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(Err(CvError::Cancelled(als::Cancelled))))
        .collect()
}

fn parse_file(path: &Path) -> Result<Ratings, CvCmdError> {
    let bytes = std::fs::read(path).map_err(|source| CvCmdError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse::parse_ratings(&String::from_utf8_lossy(&bytes)).map_err(|source| CvCmdError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn print_table(r: &CvReport) {
    println!(
        "{}-fold CV on {} ratings by {} (mean ± population std):",
        r.folds, r.n_cv, r.metric
    );
    for (i, p) in r.results.iter().enumerate() {
        let mark = if i == r.best_index { "*" } else { " " };
        let alpha = match &p.alpha {
            Value::Null => String::new(),
            a => format!("  alpha {a:<6}"),
        };
        let constant = if p.reg_constant != 0.0 {
            format!("  regConstant {:<6}", p.reg_constant)
        } else {
            String::new()
        };
        let bias = match p.bias_reg {
            Some(b) => format!("  biasReg {b:<6}"),
            None => String::new(),
        };
        println!(
            "{mark} rank {:>4}  maxIter {:>3}  regParam {:<8}{constant}{bias}{alpha}  {:.4} ± {:.4}",
            p.rank, p.max_iter, p.reg_param, p.mean, p.std
        );
    }
    if let (Some(rmse), Some(mae)) = (r.test_rmse, r.test_mae) {
        println!(
            "best refitted: test RMSE {rmse:.4}  MAE {mae:.4}  NDCG@{} {:.4}",
            r.top_k,
            r.test_ndcg_at_k.unwrap_or(f64::NAN)
        );
    }
    println!("{:.2} s", r.seconds);
}
