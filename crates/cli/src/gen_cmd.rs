//! `affinity gen`: write a synthetic ratings file of any size, for benchmarks and tests.
//!
//! The ratings have a planted low-rank structure, a long-tail item popularity and
//! heavy-tailed user activity (see `affinity_engine::synth`); the same flags always give
//! the same file.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use affinity_engine::synth::{self, Scale, SynthError, SynthSpec, SynthStats};
use clap::Args;
use serde::Serialize;

/// Flags of `affinity gen`.
#[derive(Args)]
pub struct GenArgs {
    /// Number of users in the population (those drawing no rating do not appear).
    #[arg(long)]
    users: usize,
    /// Number of items in the catalogue (those drawing no rating do not appear).
    #[arg(long)]
    items: usize,
    /// Exact number of ratings, on distinct (user, item) pairs.
    #[arg(long)]
    ratings: usize,
    /// Seed: the same flags and seed always give the same file.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The CSV file to write (`user,item,rating`).
    #[arg(long)]
    out: PathBuf,
    /// Rank of the planted taste structure.
    #[arg(long, default_value_t = 10)]
    rank: usize,
    /// Rating scale: MIN-MAX or MIN-MAX:STEP, e.g. 1-5, 0.5-5 (half stars), 1-10.
    #[arg(long, default_value = "1-5")]
    scale: Scale,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Everything that can go wrong, with the file or value at fault.
#[derive(Debug, thiserror::Error)]
enum GenError {
    #[error(transparent)]
    Spec(#[from] SynthError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Serialize)]
struct GenReport {
    out: PathBuf,
    n_ratings: usize,
    n_users: usize,
    n_items: usize,
    mean_rating: f64,
    seconds: f64,
}

/// Runs `affinity gen`, reporting errors on stderr.
pub fn main(args: &GenArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("affinity: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &GenArgs) -> Result<(), GenError> {
    let spec = SynthSpec {
        n_users: args.users,
        n_items: args.items,
        n_ratings: args.ratings,
        rank: args.rank,
        scale: args.scale,
        seed: args.seed,
    };
    // Refuse a bad spec before creating (and truncating) the output file.
    spec.check()?;
    let started = Instant::now();
    let stats = write_file(&spec, args).map_err(|source| {
        // A half-written file would look like a complete, smaller dataset.
        let _ = std::fs::remove_file(&args.out);
        GenError::Write {
            path: args.out.clone(),
            source,
        }
    })?;
    let SynthStats {
        n_ratings,
        n_users,
        n_items,
        mean_rating,
    } = stats;
    let report = GenReport {
        out: args.out.clone(),
        n_ratings,
        n_users,
        n_items,
        mean_rating,
        seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        println!(
            "wrote {} ratings by {} users of {} items (mean {:.3}) to {} in {:.2} s",
            report.n_ratings,
            report.n_users,
            report.n_items,
            report.mean_rating,
            report.out.display(),
            report.seconds
        );
    }
    Ok(())
}

fn write_file(spec: &SynthSpec, args: &GenArgs) -> std::io::Result<SynthStats> {
    let file = File::create(&args.out)?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let stats = synth::write_csv(spec, &mut writer)?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(stats)
}
