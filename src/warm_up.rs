//! A small throwaway fit that a training worker runs once, a while after its first dataset
//! arrives, so that the visitor's first Train runs in optimized code.
//!
//! V8 first runs a WebAssembly function in its baseline code (Liftoff) and optimizes it only
//! once it has run a while, on a background thread, for its later calls
//! (`crates/engine/src/tier_up.rs`). A page's first fit therefore ran largely in baseline
//! code: on MovieLens 100K at rank 40 (80%, two workers) the first fit in a fresh page took
//! 124 to 207 ms where the page's next one took 84 to 116 ms. A fit of a few thousand synthetic
//! ratings runs the functions of a fit and of its scoring often enough for V8 to optimize
//! them, in a few milliseconds of a worker that is idle until the visitor trains: the first
//! fit then took 95 to 140 ms (BENCHMARKS.md). Also running a fit shared by two parts, as the
//! page's final fit is, made no difference that showed.

use affinity_engine::als::{self, AlsParams};
use affinity_engine::metrics::{evaluate, ColdStartStrategy};
use affinity_engine::ranking::evaluate_ranking_sampled;
use affinity_engine::split::random_split;
use affinity_engine::synth::{generate, Scale, SynthSpec};

/// How long after its first dataset a worker warms up, in milliseconds: after the page's own
/// start and the dataset's arrival, which it would otherwise compete with for the cores.
pub const WARM_UP_DELAY_MS: i32 = 1500;

/// The warm-up's ratings: users and items with from a few to many ratings each, so that rows
/// of both of a fit's forms (the normal equations and the dual) are solved.
const SPEC: SynthSpec = SynthSpec {
    n_users: 300,
    n_items: 200,
    n_ratings: 8000,
    rank: 8,
    scale: Scale::STARS,
    seed: 7,
};

/// Runs the warm-up fit and scores it, and returns its number of test ratings (so that the
/// work is not optimized away, and a test can check it did something); 0 if the synthetic
/// data could not be made.
pub fn warm_up() -> usize {
    let Ok(ratings) = generate(&SPEC) else {
        return 0;
    };
    let Ok((train, test)) = random_split(&ratings, 0.8, 1) else {
        return 0;
    };
    let Ok(params) = (AlsParams {
        rank: 20,
        max_iter: 3,
        ..AlsParams::default()
    })
    .check() else {
        return 0;
    };
    let model = als::fit(&train, &params);
    let scores = evaluate(&model, &test, ColdStartStrategy::Drop);
    let ranking = evaluate_ranking_sampled(&model, &train, &test, 10, 100);
    if scores.rmse.is_finite() && ranking.n_candidates > 0 {
        test.len()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warm_up_fits_and_scores_its_ratings() {
        // About a fifth of the 8,000 ratings are tested on.
        let tested = warm_up();
        assert!((1400..=1800).contains(&tested), "{tested}");
    }
}
