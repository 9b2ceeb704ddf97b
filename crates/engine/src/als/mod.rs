//! Alternating Least Squares matrix factorisation with Apache Spark MLlib's semantics.
//!
//! Hyperparameters ([`AlsParams`]) are checked once into [`ValidAlsParams`]; [`fit`] turns
//! ratings into an [`AlsModel`], which predicts and recommends. Beyond Spark's explicit
//! ALS, the parameters select implicit feedback, non-negative factors, user and item
//! biases, and a conjugate-gradient solver.

mod dense;
mod fit;
mod model;
mod params;
mod rows;
mod solve;

pub use fit::{
    fit, fit_on_threads, fit_with_progress, fit_with_progress_on_threads, Cancelled,
    IterationReport,
};
pub use model::{AlsModel, Biases, ModelPartsError};
pub use params::{AlsParams, ParamError, Solver, ValidAlsParams, DEFAULT_CG_STEPS, MAX_RANK};
pub use rows::RatingRows;
pub use solve::solve_side;
