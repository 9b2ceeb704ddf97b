//! `affinity bench`: a fixed suite of timings on MovieLens 100K (or a synthetic stand-in),
//! printed as a table or as one JSON object.
//!
//! The suite: ALS fits at rank 10 and 40 (maxIter 10, regParam 0.1, seed 42), 3-fold
//! cross-validation over rank {10, 40} × regParam {0.05, 0.1, 0.2} (maxIter 10, one fit
//! after the other with `affinity_engine::cv::cross_validate`), the top 10 unrated items
//! of every user from the rank-10 model (`affinity_engine::serve::recommend_all`), and the
//! process's peak resident memory (`VmHWM` in `/proc/self/status`, Linux only).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use affinity_engine::als::{self, AlsModel, AlsParams, ParamError};
use affinity_engine::cv::{self, CvError, Metric, ParamGrid};
use affinity_engine::parse::{self, ParseError};
use affinity_engine::serve::{self, RatedItems};
use affinity_engine::synth::{self, Scale, SynthError, SynthSpec};
use affinity_engine::Ratings;
use clap::Args;
use serde::Serialize;

/// Ranks of the timed fits and of the CV grid.
const RANKS: [usize; 2] = [10, 40];
/// Regularisations of the CV grid.
const REG_PARAMS: [f64; 3] = [0.05, 0.1, 0.2];
/// Iterations of every fit.
const MAX_ITER: usize = 10;
/// Regularisation of the timed fits (Spark's default).
const FIT_REG_PARAM: f64 = 0.1;
/// Cross-validation folds.
const FOLDS: usize = 3;
/// Recommendations per user.
const TOP_N: usize = 10;
/// Seed of the fits, the folds and the synthetic data.
const SEED: u64 = 42;
/// Size of the synthetic stand-in for MovieLens 100K.
const DEFAULT_SYNTHETIC_RATINGS: usize = 100_000;
/// Largest synthetic dataset: the suite's 18 cross-validation fits must stay affordable.
const MAX_SYNTHETIC_RATINGS: usize = 10_000_000;

/// Flags of `affinity bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Directory holding MovieLens 100K's `u.data`; when it is absent, a synthetic dataset
    /// of 100,000 ratings is used instead (and the output says so).
    #[arg(long, default_value = "../shared/data/ml-100k")]
    data: PathBuf,
    /// Use a synthetic dataset of this many ratings (3 to 10,000,000) instead of MovieLens.
    #[arg(long)]
    synthetic_ratings: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Why `affinity bench` failed, with the file or value at fault.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error("--synthetic-ratings: {0}")]
    Synth(#[from] SynthError),
    #[error("--synthetic-ratings must be between {FOLDS} and {MAX_SYNTHETIC_RATINGS}, got {0}")]
    SyntheticSize(usize),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error("cross-validation: {0}")]
    Cv(#[from] CvError),
}

#[derive(Serialize)]
struct DatasetReport {
    /// `"movielens-100k"` or `"synthetic"`.
    source: &'static str,
    /// The `u.data` read, for MovieLens.
    path: Option<PathBuf>,
    n_ratings: usize,
    n_users: usize,
    n_items: usize,
    /// Why the synthetic data stands in, when MovieLens was looked for and not found.
    note: Option<String>,
}

#[derive(Serialize)]
struct FitReport {
    rank: usize,
    max_iter: usize,
    reg_param: f64,
    total_seconds: f64,
    seconds_per_iteration: f64,
    /// Wall time of each iteration (the first includes the setup).
    iteration_seconds: Vec<f64>,
}

#[derive(Serialize)]
struct CvReport {
    folds: usize,
    ranks: Vec<usize>,
    reg_params: Vec<f64>,
    max_iter: usize,
    n_fits: usize,
    seconds: f64,
    best_rank: usize,
    best_reg_param: f64,
    best_rmse: f64,
}

#[derive(Serialize)]
struct TopNReport {
    n: usize,
    rank: usize,
    n_users: usize,
    seconds: f64,
}

#[derive(Serialize)]
struct BenchReport {
    dataset: DatasetReport,
    fits: Vec<FitReport>,
    cv: CvReport,
    top_n: TopNReport,
    /// Peak resident set size in KiB; `null` where it cannot be read (not Linux).
    peak_memory_kib: Option<u64>,
    total_seconds: f64,
}

/// Runs `affinity bench`, reporting errors on stderr.
pub fn main(args: &BenchArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &BenchArgs) -> Result<(), BenchError> {
    let started = Instant::now();
    let (ratings, dataset) = load(args)?;
    if let Some(note) = &dataset.note {
        eprintln!("affinity bench: {note}");
    }

    let mut fits = Vec::with_capacity(RANKS.len());
    let mut top_model = None;
    for rank in RANKS {
        let (model, report) = timed_fit(&ratings, rank)?;
        if rank == RANKS[0] {
            top_model = Some(model);
        }
        fits.push(report);
    }

    let cv_started = Instant::now();
    let grid = ParamGrid {
        ranks: RANKS.to_vec(),
        max_iters: vec![MAX_ITER],
        reg_params: REG_PARAMS.to_vec(),
        alphas: vec![],
    };
    let base = AlsParams {
        seed: SEED,
        ..AlsParams::default()
    };
    let result = cv::cross_validate(&ratings, &grid, &base, FOLDS, Metric::Rmse, SEED, |_, _| {
        ControlFlow::Continue(())
    })?;
    let best = &result.points[result.best];
    let cv = CvReport {
        folds: FOLDS,
        ranks: RANKS.to_vec(),
        reg_params: REG_PARAMS.to_vec(),
        max_iter: MAX_ITER,
        n_fits: result.points.len() * FOLDS,
        seconds: cv_started.elapsed().as_secs_f64(),
        best_rank: best.params.rank,
        best_reg_param: best.params.reg_param,
        best_rmse: best.mean,
    };

    let model = top_model.expect("RANKS is not empty");
    let rated = RatedItems::from_ratings(&ratings);
    let top_started = Instant::now();
    let tops = serve::recommend_all(&model, TOP_N, &rated, None);
    let top_n = TopNReport {
        n: TOP_N,
        rank: model.rank(),
        n_users: tops.iter().filter(|t| t.is_some()).count(),
        seconds: top_started.elapsed().as_secs_f64(),
    };

    let report = BenchReport {
        dataset,
        fits,
        cv,
        top_n,
        peak_memory_kib: peak_memory_kib(),
        total_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

/// The ratings to bench on and their description.
fn load(args: &BenchArgs) -> Result<(Ratings, DatasetReport), BenchError> {
    let synthetic = |n: usize, note: Option<String>| -> Result<_, BenchError> {
        if !(FOLDS..=MAX_SYNTHETIC_RATINGS).contains(&n) {
            return Err(BenchError::SyntheticSize(n));
        }
        // MovieLens 100K's shape, grown for larger sizes so the density stays plausible.
        let spec = SynthSpec {
            n_users: 943.max(n / 106),
            n_items: 1682.max(n / 60),
            n_ratings: n,
            rank: 10,
            scale: Scale::STARS,
            seed: SEED,
        };
        let ratings = synth::generate(&spec)?;
        let report = DatasetReport {
            source: "synthetic",
            path: None,
            n_ratings: ratings.len(),
            n_users: ratings.n_users(),
            n_items: ratings.n_items(),
            note,
        };
        Ok((ratings, report))
    };
    if let Some(n) = args.synthetic_ratings {
        return synthetic(n, None);
    }
    let path = args.data.join("u.data");
    if !path.is_file() {
        let note = format!(
            "MovieLens 100K not found at {}; using a synthetic dataset of {DEFAULT_SYNTHETIC_RATINGS} ratings instead",
            path.display()
        );
        return synthetic(DEFAULT_SYNTHETIC_RATINGS, Some(note));
    }
    let ratings = read_ratings(&path)?;
    let report = DatasetReport {
        source: "movielens-100k",
        path: Some(path),
        n_ratings: ratings.len(),
        n_users: ratings.n_users(),
        n_items: ratings.n_items(),
        note: None,
    };
    Ok((ratings, report))
}

fn read_ratings(path: &Path) -> Result<Ratings, BenchError> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse::parse_ratings(&String::from_utf8_lossy(&bytes)).map_err(|source| BenchError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Fits at `rank`, timing the whole fit and each iteration.
fn timed_fit(ratings: &Ratings, rank: usize) -> Result<(AlsModel, FitReport), BenchError> {
    let params = AlsParams {
        rank,
        max_iter: MAX_ITER,
        reg_param: FIT_REG_PARAM,
        seed: SEED,
        ..AlsParams::default()
    }
    .check()?;
    let started = Instant::now();
    let mut last = started;
    let mut iteration_seconds = Vec::with_capacity(MAX_ITER);
    let fitted = als::fit_with_progress(ratings, &params, |_| {
        let now = Instant::now();
        iteration_seconds.push(now.duration_since(last).as_secs_f64());
        last = now;
        ControlFlow::Continue(())
    });
    let total_seconds = started.elapsed().as_secs_f64();
    let model = match fitted {
        Ok(model) => model,
        Err(als::Cancelled) => unreachable!("the callback never breaks"),
    };
    let report = FitReport {
        rank,
        max_iter: MAX_ITER,
        reg_param: FIT_REG_PARAM,
        total_seconds,
        seconds_per_iteration: total_seconds / MAX_ITER as f64,
        iteration_seconds,
    };
    Ok((model, report))
}

/// The process's peak resident set size in KiB (`VmHWM`), where the OS reports it.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM` value of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

/// The report as a plain-text table.
fn table(r: &BenchReport) -> String {
    let d = &r.dataset;
    let mut out = match &d.path {
        Some(path) => format!("MovieLens 100K ({})", path.display()),
        None => "synthetic data".to_owned(),
    };
    out.push_str(&format!(
        ": {} ratings, {} users, {} items\n",
        d.n_ratings, d.n_users, d.n_items
    ));
    if let Some(note) = &d.note {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push('\n');
    let rows: Vec<(String, String, String)> = r
        .fits
        .iter()
        .map(|f| {
            (
                format!(
                    "fit rank {}, maxIter {}, regParam {}",
                    f.rank, f.max_iter, f.reg_param
                ),
                seconds(f.total_seconds),
                seconds(f.seconds_per_iteration),
            )
        })
        .chain([
            (
                format!(
                    "{}-fold CV, rank {{{}}} x regParam {{{}}} ({} fits)",
                    r.cv.folds,
                    join(&r.cv.ranks),
                    join(&r.cv.reg_params),
                    r.cv.n_fits
                ),
                seconds(r.cv.seconds),
                String::new(),
            ),
            (
                format!(
                    "top-{} for all {} users (rank {})",
                    r.top_n.n, r.top_n.n_users, r.top_n.rank
                ),
                seconds(r.top_n.seconds),
                String::new(),
            ),
            (
                "peak memory (VmHWM)".to_owned(),
                r.peak_memory_kib.map_or_else(
                    || "n/a".to_owned(),
                    |k| format!("{:.1} MiB", k as f64 / 1024.0),
                ),
                String::new(),
            ),
        ])
        .collect();
    let header = ("job", "total", "per iteration");
    let w0 = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max(header.0.len());
    let w1 = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .max(header.1.len());
    out.push_str(&format!(
        "{:<w0$}  {:>w1$}  {}\n",
        header.0, header.1, header.2
    ));
    for (job, total, per) in &rows {
        out.push_str(format!("{job:<w0$}  {total:>w1$}  {per}").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nCV best: rank {}, regParam {} (mean RMSE {:.4}); whole run {}\n",
        r.cv.best_rank,
        r.cv.best_reg_param,
        r.cv.best_rmse,
        seconds(r.total_seconds)
    ));
    out
}

fn seconds(s: f64) -> String {
    if s < 0.1 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

fn join<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib_and_anything_else_is_none() {
        let status = "Name:\taffinity\nVmPeak:\t  300 kB\nVmHWM:\t   81234 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(81234));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t12 MB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn durations_print_in_a_readable_unit() {
        assert_eq!(seconds(0.0123), "12.30 ms");
        assert_eq!(seconds(2.5), "2.500 s");
        assert_eq!(join(&[0.05, 0.1]), "0.05,0.1");
    }
}
