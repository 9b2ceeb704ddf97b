//! Affinity's recommender engine, free of any web dependency.
//!
//! The pipeline a visitor runs in the browser, and the `affinity` CLI runs natively:
//! parse a ratings file into [`Ratings`], split it with [`split::random_split`], fit an
//! explicit ALS model with Apache Spark MLlib's semantics ([`als::AlsParams`] →
//! [`als::fit`]), score it with [`metrics::evaluate`] and serve top-N recommendations
//! with [`als::AlsModel::recommend`].
//!
//! ```
//! use affinity_engine::{als, metrics, parse, split};
//!
//! let text = "user,item,rating\nann,dune,5\nann,heat,1\nbob,dune,4\nbob,alien,5\ncy,heat,2\ncy,alien,4\n";
//! let ratings = parse::parse_ratings(text).unwrap();
//! let (train, test) = split::random_split(&ratings, 0.8, 42).unwrap();
//! let params = als::AlsParams { rank: 2, ..Default::default() }.check().unwrap();
//! let model = als::fit(&train, &params);
//! let eval = metrics::evaluate(&model, &test, metrics::ColdStartStrategy::Drop);
//! assert!(eval.n_evaluated + eval.n_dropped == test.len());
//! ```

pub mod als;
pub mod catalog;
pub mod column_checks;
pub mod cv;
pub mod demo;
pub mod ids;
pub mod metadata;
pub mod metrics;
pub mod model_io;
pub mod parse;
pub mod parse_options;
pub mod parse_stream;
pub mod ranking;
pub mod ratings;
pub mod serve;
pub mod spark_io;
pub mod spark_script;
pub mod split;
pub mod synth;
pub mod tier_up;
mod top_n;

pub use ratings::Ratings;
