//! Alternating Least Squares matrix factorisation with Apache Spark MLlib's semantics.
//!
//! Hyperparameters ([`AlsParams`]) are checked once into [`ValidAlsParams`]; [`fit`] turns
//! ratings into an [`AlsModel`], which predicts and recommends. Beyond Spark's explicit
//! ALS, the parameters select implicit feedback (with Spark's or the `implicit` library's
//! confidences and regularisation), non-negative factors, user and item biases with their
//! own regularisation, a constant ridge on top of ALS-WR's, and a conjugate-gradient solver.
//!
//! Each row's least squares is solved exactly: in the normal equations' `d × d` form, or,
//! for a row with fewer ratings than about three quarters of its `d` unknowns, in the dual
//! form's smaller `n × n` system (`dual.rs`), which has the same solution.
//!
//! Degenerate inputs (no regularisation, rank above the number of users, huge ratings) do
//! not produce NaN or infinite factors: a row without a finite solution is solved again
//! more carefully, and given up (unfitted, predicting nothing) only as a last resort.

mod dense;
mod dual;
mod fit;
mod lanes;
mod madd;
mod model;
mod params;
mod rows;
mod shared;
mod solve;

pub use fit::{
    fit, fit_on_threads, fit_with_progress, fit_with_progress_on_threads, rmse, Cancelled,
    IterationReport,
};
pub(crate) use model::dot;
pub use model::{AlsModel, Biases, ModelPartsError};
pub use params::{
    AlsParams, Confidence, ParamError, RegScaling, Solver, ValidAlsParams, DEFAULT_CG_STEPS,
    MAX_RANK,
};
pub(crate) use rows::count_each;
pub use rows::RatingRows;
pub use shared::{FitShare, ShareError, Side, SideRows};
pub use solve::solve_side;
