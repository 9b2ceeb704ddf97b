//! The Spark bridge: `affinity spark-script` writes a PySpark job with Affinity's ALS
//! parameters, `affinity import-spark` turns the factors Spark wrote into an Affinity model
//! file, and `affinity export-spark` writes an Affinity model's factors as Spark does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use affinity_engine::als::AlsParams;
use affinity_engine::cv::ParamGrid;
use affinity_engine::model_io::{ModelFile, ModelIoError};
use affinity_engine::spark_io::{self, SparkIoError, SparkPaths};
use affinity_engine::spark_script::{self, SparkJob, SparkScriptError};
use clap::Args;
use serde::Serialize;

use crate::fit_cmd::is_json_path;

/// Flags of `affinity spark-script`.
#[derive(Args)]
pub struct SparkScriptArgs {
    /// Number of latent factors; several (comma-separated) make a cross-validation grid.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    rank: Vec<usize>,
    /// Number of ALS iterations; several make a grid.
    #[arg(long, value_delimiter = ',', default_value = "10")]
    max_iter: Vec<usize>,
    /// Regularisation (Spark's regParam); several make a grid.
    #[arg(long, value_delimiter = ',', default_value = "0.1")]
    reg_param: Vec<f64>,
    /// Treat ratings as implicit feedback (Spark's implicitPrefs).
    #[arg(long)]
    implicit: bool,
    /// Confidence slope of implicit feedback; several make a grid.
    #[arg(long, value_delimiter = ',', default_value = "1.0")]
    alpha: Vec<f64>,
    /// Constrain the factors to be non-negative.
    #[arg(long)]
    nonnegative: bool,
    /// Seed of the split, the folds and the factor initialisation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Cross-validation folds (makes a CrossValidator job even with one value per flag;
    /// 3 when a flag lists several values).
    #[arg(long)]
    folds: Option<usize>,
    /// The Python file to write.
    #[arg(long)]
    out: PathBuf,
}

/// Flags of `affinity import-spark`.
#[derive(Args)]
pub struct ImportSparkArgs {
    /// Spark's user factors: the directory `model.userFactors.write.json` wrote (or one file).
    #[arg(long)]
    user_factors: PathBuf,
    /// Spark's item factors.
    #[arg(long)]
    item_factors: PathBuf,
    /// The user id mapping the generated job wrote (DIR/userIds) when user ids were not integers.
    #[arg(long)]
    user_ids: Option<PathBuf>,
    /// The item id mapping (DIR/itemIds) when item ids were not integers.
    #[arg(long)]
    item_ids: Option<PathBuf>,
    /// The Affinity model file to write: JSON when the name ends in .json, binary otherwise.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Flags of `affinity export-spark`.
#[derive(Args)]
pub struct ExportSparkArgs {
    /// An Affinity model file (from `affinity fit` or `affinity import-spark`).
    #[arg(long)]
    model: PathBuf,
    /// Directory to write userFactors/ and itemFactors/ (and userIds/, itemIds/) into.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Why a Spark subcommand failed, with the file or value at fault.
#[derive(Debug, thiserror::Error)]
enum SparkCmdError {
    #[error(transparent)]
    Script(#[from] SparkScriptError),
    #[error(transparent)]
    Spark(#[from] SparkIoError),
    #[error("{path}: {source}")]
    Model { path: PathBuf, source: ModelIoError },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn report(result: Result<(), SparkCmdError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `affinity spark-script`, reporting errors on stderr.
pub fn script_main(args: &SparkScriptArgs) -> ExitCode {
    report(script(args))
}

/// Runs `affinity import-spark`, reporting errors on stderr.
pub fn import_main(args: &ImportSparkArgs) -> ExitCode {
    report(import(args))
}

/// Runs `affinity export-spark`, reporting errors on stderr.
pub fn export_main(args: &ExportSparkArgs) -> ExitCode {
    report(export(args))
}

/// The job the flags describe: a grid when a flag lists several values or `--folds` is set.
fn job(args: &SparkScriptArgs) -> SparkJob {
    let base = AlsParams {
        rank: args.rank[0],
        max_iter: args.max_iter[0],
        reg_param: args.reg_param[0],
        implicit_prefs: args.implicit,
        alpha: args.alpha[0],
        nonnegative: args.nonnegative,
        seed: args.seed,
        ..AlsParams::default()
    };
    let several = |n: usize| n > 1;
    let is_grid = several(args.rank.len())
        || several(args.max_iter.len())
        || several(args.reg_param.len())
        || several(args.alpha.len())
        || args.folds.is_some();
    if !is_grid {
        return SparkJob::Fit(base);
    }
    // Only the varied axes go in the grid; the others stay in the base parameters.
    fn axis<T: Copy>(v: &[T]) -> Vec<T> {
        if v.len() > 1 {
            v.to_vec()
        } else {
            Vec::new()
        }
    }
    let grid = ParamGrid {
        ranks: axis(&args.rank),
        max_iters: axis(&args.max_iter),
        reg_params: axis(&args.reg_param),
        alphas: axis(&args.alpha),
    };
    SparkJob::CrossValidate {
        base,
        grid,
        folds: args.folds.unwrap_or(3),
    }
}

fn script(args: &SparkScriptArgs) -> Result<(), SparkCmdError> {
    let job = job(args);
    let text = spark_script::render(&job)?;
    std::fs::write(&args.out, &text).map_err(|source| SparkCmdError::Write {
        path: args.out.clone(),
        source,
    })?;
    make_executable(&args.out);
    let what = match &job {
        SparkJob::Fit(_) => "an ALS fit".to_owned(),
        SparkJob::CrossValidate { grid, folds, .. } => {
            format!(
                "a {folds}-fold cross-validation of {} grid points",
                grid.len()
            )
        }
    };
    println!(
        "wrote {} ({what}); run it with\n  python {} --ratings FILE --out DIR [--split 0.8]",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

/// Marks the script executable (it starts with a shebang line); a failure only means
/// `python job.py` is needed rather than `./job.py`.
fn make_executable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mut perms = meta.permissions();
            perms.set_mode(perms.mode() | 0o111);
            let _ = std::fs::set_permissions(path, perms);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[derive(Serialize)]
struct ImportReport {
    out: PathBuf,
    format: &'static str,
    bytes: usize,
    rank: usize,
    n_users: usize,
    n_items: usize,
    n_users_with_factors: usize,
    n_items_with_factors: usize,
}

fn import(args: &ImportSparkArgs) -> Result<(), SparkCmdError> {
    let imported = spark_io::import(&SparkPaths {
        user_factors: &args.user_factors,
        item_factors: &args.item_factors,
        user_ids: args.user_ids.as_deref(),
        item_ids: args.item_ids.as_deref(),
    })?;
    let model_err = |source| SparkCmdError::Model {
        path: args.out.clone(),
        source,
    };
    let model = &imported.model;
    let file = ModelFile::from_model(model, imported.users.ids(), imported.items.ids())
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
        SparkCmdError::Write {
            path: args.out.clone(),
            source,
        }
    })?;
    let report = ImportReport {
        out: args.out.clone(),
        format: if json { "json" } else { "binary" },
        bytes: bytes.len(),
        rank: model.rank(),
        n_users: model.n_users(),
        n_items: model.n_items(),
        n_users_with_factors: file.user_fitted.iter().filter(|&&f| f).count(),
        n_items_with_factors: file.item_fitted.iter().filter(|&&f| f).count(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        println!(
            "imported rank {} factors of {} users and {} items; wrote {} ({} bytes, {})",
            report.rank,
            report.n_users_with_factors,
            report.n_items_with_factors,
            report.out.display(),
            report.bytes,
            report.format
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct ExportReport {
    out: PathBuf,
    n_users: usize,
    n_items: usize,
    users_mapped: bool,
    items_mapped: bool,
}

fn export(args: &ExportSparkArgs) -> Result<(), SparkCmdError> {
    let bytes = std::fs::read(&args.model).map_err(|source| SparkCmdError::Read {
        path: args.model.clone(),
        source,
    })?;
    let file = ModelFile::from_any(&bytes).map_err(|source| SparkCmdError::Model {
        path: args.model.clone(),
        source,
    })?;
    let summary = spark_io::export(&file, &args.out)?;
    let report = ExportReport {
        out: args.out.clone(),
        n_users: summary.n_users,
        n_items: summary.n_items,
        users_mapped: summary.users_mapped,
        items_mapped: summary.items_mapped,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        let mapped: Vec<&str> = [
            (summary.users_mapped, "userIds"),
            (summary.items_mapped, "itemIds"),
        ]
        .iter()
        .filter(|(m, _)| *m)
        .map(|(_, name)| *name)
        .collect();
        println!(
            "wrote the factors of {} users and {} items to {}/userFactors and {}/itemFactors{}",
            summary.n_users,
            summary.n_items,
            args.out.display(),
            args.out.display(),
            if mapped.is_empty() {
                String::new()
            } else {
                format!(" (non-integer ids mapped: {})", mapped.join(", "))
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: SparkScriptArgs,
    }

    fn job_of(flags: &[&str]) -> SparkJob {
        let mut argv = vec!["x", "--out", "job.py"];
        argv.extend_from_slice(flags);
        job(&Wrap::parse_from(argv).args)
    }

    #[test]
    fn single_values_fit_and_lists_or_folds_cross_validate() {
        let SparkJob::Fit(p) = job_of(&["--rank", "4", "--implicit", "--alpha", "20"]) else {
            panic!("a fit")
        };
        assert_eq!((p.rank, p.implicit_prefs, p.alpha), (4, true, 20.0));
        let SparkJob::CrossValidate { base, grid, folds } =
            job_of(&["--rank", "4,8", "--reg-param", "0.2"])
        else {
            panic!("a grid")
        };
        assert_eq!(
            (grid.ranks, grid.reg_params, folds),
            (vec![4, 8], vec![], 3)
        );
        assert_eq!(base.reg_param, 0.2);
        let SparkJob::CrossValidate { grid, folds, .. } = job_of(&["--folds", "5"]) else {
            panic!("a grid")
        };
        assert_eq!((grid.len(), folds), (1, 5));
    }
}
