//! `affinity`: Affinity's engine on the command line, for benchmarks and big files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use affinity_engine::als::{self, AlsParams};
use affinity_engine::metrics::{self, ColdStartStrategy};
use affinity_engine::parse::{self, ParseError};
use affinity_engine::split::{self, SplitError};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

mod bench_cmd;
mod cv_cmd;
mod fit_cmd;
mod gen_cmd;
mod spark_cmd;

#[derive(Parser)]
#[command(
    name = "affinity",
    version,
    about = "ALS recommendations with Spark MLlib's semantics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit on training ratings and report test RMSE and MAE.
    Eval(EvalArgs),
    /// Print a user's top-N unrated items: fitted on --ratings, or served from a --model file.
    Recommend(RecommendArgs),
    /// Fit on a ratings file and save the model (binary, or JSON when the name ends in .json).
    Fit(fit_cmd::FitArgs),
    /// Time a fixed suite (fits, cross-validation, top-10 for all users) and peak memory.
    Bench(bench_cmd::BenchArgs),
    /// Cross-validate ALS over a grid of comma-separated parameter values.
    Cv(cv_cmd::CvArgs),
    /// Write a synthetic ratings file with a planted structure, of any size.
    Gen(gen_cmd::GenArgs),
    /// Write a PySpark job that fits Spark's ALS (or cross-validates a grid) with these flags.
    SparkScript(spark_cmd::SparkScriptArgs),
    /// Make an Affinity model file of the factors a Spark ALS model wrote.
    ImportSpark(spark_cmd::ImportSparkArgs),
    /// Write an Affinity model's factors as Spark writes them (JSON lines directories).
    ExportSpark(spark_cmd::ExportSparkArgs),
}

/// ALS hyperparameters; defaults are Spark's.
#[derive(Args)]
struct AlsArgs {
    /// Number of latent factors.
    #[arg(long, default_value_t = 10)]
    rank: usize,
    /// Number of ALS iterations.
    #[arg(long, default_value_t = 10)]
    max_iter: usize,
    /// Regularisation, scaled by each user's and item's number of ratings.
    #[arg(long, default_value_t = 0.1)]
    reg_param: f64,
    /// Seed of the initialisation (and of the split).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Treat ratings as implicit feedback (Spark's implicitPrefs).
    #[arg(long)]
    implicit: bool,
    /// Confidence slope of implicit feedback: confidence is 1 + alpha·|rating|.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Constrain the latent factors to be non-negative (NNLS).
    #[arg(long)]
    nonnegative: bool,
    /// Learn a global mean and user and item biases (explicit feedback only).
    #[arg(long)]
    biases: bool,
    /// Per-row solver: cholesky (exact) or cg (a few warm-started conjugate-gradient steps).
    #[arg(long, default_value = "cholesky")]
    solver: als::Solver,
    /// Conjugate-gradient steps per row with --solver cg.
    #[arg(long, default_value_t = als::DEFAULT_CG_STEPS)]
    cg_steps: usize,
}

impl AlsArgs {
    fn params(&self) -> AlsParams {
        AlsParams {
            rank: self.rank,
            max_iter: self.max_iter,
            reg_param: self.reg_param,
            seed: self.seed,
            implicit_prefs: self.implicit,
            alpha: self.alpha,
            nonnegative: self.nonnegative,
            biases: self.biases,
            solver: match self.solver {
                als::Solver::Cholesky => als::Solver::Cholesky,
                als::Solver::Cg { .. } => als::Solver::Cg {
                    steps: self.cg_steps,
                },
            },
            ..AlsParams::default()
        }
    }
}

/// Regularisation and confidence options beyond Spark's, shared by `eval`, `fit` and
/// `recommend` (`cv` takes lists of them as grid axes).
#[derive(Args)]
struct RegArgs {
    /// A ridge added to every user's and item's regularisation, not scaled (default 0).
    #[arg(long, default_value_t = 0.0)]
    reg_constant: f64,
    /// With --biases, regularise each bias by this, not scaled by its number of ratings
    /// (default: like a factor, with --reg-param).
    #[arg(long)]
    bias_reg: Option<f64>,
    /// Regularisation scaling: count (reg-param × the row's ratings, Spark's) or constant.
    #[arg(long, default_value = "count")]
    reg_scaling: als::RegScaling,
    /// Implicit confidence: one_plus_alpha (1 + alpha·|r|, Spark's) or alpha (alpha·|r|, as
    /// the `implicit` library).
    #[arg(long, default_value = "one_plus_alpha")]
    confidence: als::Confidence,
}

impl RegArgs {
    /// `base` with these options.
    fn apply(&self, base: AlsParams) -> AlsParams {
        AlsParams {
            bias_reg: self.bias_reg,
            reg_scaling: self.reg_scaling,
            reg_constant: self.reg_constant,
            confidence: self.confidence,
            ..base
        }
    }
}

#[derive(Args)]
struct EvalArgs {
    /// Training ratings (with --test).
    #[arg(long, requires = "test", conflicts_with = "ratings")]
    train: Option<PathBuf>,
    /// Test ratings (with --train).
    #[arg(long, requires = "train")]
    test: Option<PathBuf>,
    /// One ratings file, split at random into training and test parts.
    #[arg(long, required_unless_present = "train")]
    ratings: Option<PathBuf>,
    /// Fraction of --ratings used for training.
    #[arg(long, default_value_t = 0.8)]
    split: f64,
    /// What to do with test ratings of unseen users or items: drop or nan.
    #[arg(long, default_value = "drop")]
    cold_start: ColdStartStrategy,
    /// Cut-off of the ranking metrics (precision, recall, NDCG and MAP at k).
    #[arg(long, default_value_t = 10)]
    top_k: usize,
    /// Rank only an even sample of at most N test users for the ranking metrics (default:
    /// every test user). Scoring every item for every user takes most of the time on big
    /// files; 3000 is the web page's sample and pins the metrics to about a hundredth.
    #[arg(long, value_name = "N", value_parser = parse_ranking_users)]
    ranking_users: Option<usize>,
    #[command(flatten)]
    als: AlsArgs,
    #[command(flatten)]
    reg: RegArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `--ranking-users`: a positive count, since ranking no user would leave every ranking
/// metric undefined.
pub(crate) fn parse_ranking_users(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (leave the flag out to rank every test user)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a count of users: {e}")),
    }
}

#[derive(Args)]
struct RecommendArgs {
    /// Ratings to train on; with --model, the ratings whose items the user rated are left
    /// out (optional).
    #[arg(long, required_unless_present = "model")]
    ratings: Option<PathBuf>,
    /// A model saved by `affinity fit` to serve instead of training (the model flags are
    /// then ignored).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The user's id as written in the file.
    #[arg(long)]
    user: String,
    /// How many items.
    #[arg(long, default_value_t = 10)]
    top: usize,
    #[command(flatten)]
    als: AlsArgs,
    #[command(flatten)]
    reg: RegArgs,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

/// Everything that can go wrong, each with the file or value at fault.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error(transparent)]
    Params(#[from] als::ParamError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("user {0:?} has no ratings in the training data")]
    UnknownUser(String),
}

#[derive(Serialize)]
struct EvalReport {
    rmse: f64,
    mae: f64,
    fit_seconds: f64,
    n_train: usize,
    n_test: usize,
    n_dropped: usize,
    n_users: usize,
    n_items: usize,
    rank: usize,
    max_iter: usize,
    reg_param: f64,
    seed: u64,
    cold_start: ColdStartStrategy,
    top_k: usize,
    precision_at_k: f64,
    recall_at_k: f64,
    ndcg_at_k: f64,
    map_at_k: f64,
    /// Users the ranking metrics are averaged over (the sample with --ranking-users).
    ranked_users: usize,
    /// Test users with a held-out item: more than `ranked_users` when sampled or some are cold.
    ranking_candidates: usize,
}

#[derive(Serialize)]
struct Recommendation {
    item: String,
    score: f32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => eval(&args),
        Command::Recommend(args) => match &args.model {
            Some(model) => return fit_cmd::recommend_main(&args, model),
            None => recommend(&args),
        },
        Command::Fit(args) => return fit_cmd::main(&args),
        Command::Bench(args) => return bench_cmd::main(&args),
        Command::Cv(args) => return cv_cmd::main(&args),
        Command::Gen(args) => return gen_cmd::main(&args),
        Command::SparkScript(args) => return spark_cmd::script_main(&args),
        Command::ImportSpark(args) => return spark_cmd::import_main(&args),
        Command::ExportSpark(args) => return spark_cmd::export_main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_file(
    path: &Path,
    maps: Option<&affinity_engine::Ratings>,
) -> Result<affinity_engine::Ratings, CliError> {
    let text = read(path)?;
    let parsed = match maps {
        None => parse::parse_ratings(&text),
        Some(r) => parse::parse_ratings_with_maps(&text, r.users().clone(), r.items().clone()),
    };
    parsed.map_err(|source| CliError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn eval(args: &EvalArgs) -> Result<(), CliError> {
    let params = args.reg.apply(args.als.params()).check()?;
    let (train, test) = match (&args.train, &args.test, &args.ratings) {
        (Some(train), Some(test), _) => {
            let train = parse_file(train, None)?;
            let test = parse_file(test, Some(&train))?;
            (train, test)
        }
        (_, _, Some(ratings)) => {
            let all = parse_file(ratings, None)?;
            split::random_split(&all, args.split, args.als.seed)?
        }
        _ => unreachable!("clap requires --train/--test or --ratings"),
    };
    let started = Instant::now();
    let model = als::fit(&train, &params);
    let fit_seconds = started.elapsed().as_secs_f64();
    let eval = metrics::evaluate(&model, &test, args.cold_start);
    // Every held-out item counts as relevant; items rated in training are never recommended.
    // Without --ranking-users every test user is ranked (`evaluate_ranking` is this call
    // with no limit).
    let ranking = affinity_engine::ranking::evaluate_ranking_sampled(
        &model,
        &train,
        &test,
        args.top_k,
        args.ranking_users.unwrap_or(usize::MAX),
    );
    let summary = train.summary();
    let report = EvalReport {
        rmse: eval.rmse,
        mae: eval.mae,
        fit_seconds,
        n_train: train.len(),
        n_test: test.len(),
        n_dropped: eval.n_dropped,
        n_users: summary.n_users,
        n_items: summary.n_items,
        rank: params.rank,
        max_iter: params.max_iter,
        reg_param: params.reg_param,
        seed: params.seed,
        cold_start: args.cold_start,
        top_k: args.top_k,
        precision_at_k: ranking.precision_at_k,
        recall_at_k: ranking.recall_at_k,
        ndcg_at_k: ranking.ndcg_at_k,
        map_at_k: ranking.map_at_k,
        ranked_users: ranking.n_users,
        ranking_candidates: ranking.n_candidates,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        println!(
            "RMSE {:.4}  MAE {:.4}  ({} train, {} test, {} dropped; fit {:.2} s)",
            report.rmse, report.mae, report.n_train, report.n_test, report.n_dropped, fit_seconds
        );
    }
    Ok(())
}

fn recommend(args: &RecommendArgs) -> Result<(), CliError> {
    let params = args.reg.apply(args.als.params()).check()?;
    let Some(ratings_path) = &args.ratings else {
        unreachable!("clap requires --ratings without --model, and main serves --model")
    };
    let ratings = parse_file(ratings_path, None)?;
    let user = ratings
        .users()
        .get(&args.user)
        .ok_or_else(|| CliError::UnknownUser(args.user.clone()))?;
    let model = als::fit(&ratings, &params);
    let rated = affinity_engine::serve::RatedItems::from_ratings(&ratings);
    let top = model
        .recommend(user, args.top, |i| rated.contains(user, i))
        .ok_or_else(|| CliError::UnknownUser(args.user.clone()))?;
    let recs: Vec<Recommendation> = top
        .into_iter()
        .map(|(item, score)| Recommendation {
            item: ratings.items().id(item).to_owned(),
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
