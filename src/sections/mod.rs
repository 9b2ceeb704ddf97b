//! One component module per page section.

mod data;
mod error;
mod impact;
mod recommend;
mod train;

pub use data::DataSection;
pub use error::ErrorBanner;
pub use impact::ImpactSection;
pub use recommend::RecommendSection;
pub use train::TrainSection;
