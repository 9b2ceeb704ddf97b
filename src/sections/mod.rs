//! One component module per page section.

mod data;
mod error;
mod impact;
mod recommend;
mod results;
pub(crate) mod theme;
mod train;

pub use data::DataSection;
pub use error::ErrorBanner;
pub use impact::ImpactSection;
pub use recommend::RecommendSection;
pub use train::TrainSection;
mod export;
mod similar;
mod try_it;
pub use export::ExportSection;
pub use recommend::RecContext;
pub use similar::SimilarSection;
pub use try_it::TryItSection;
mod library;
pub use library::{LibrarySection, StorageBanner};
