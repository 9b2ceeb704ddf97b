//! The app's state: a few typed signals shared through context.

use std::sync::Arc;

use affinity_engine::catalog::Catalog;
use affinity_engine::ratings::Summary;
use affinity_engine::serve::RatedItems;
use affinity_engine::Ratings;
use leptos::prelude::*;

use crate::protocol::TrainOutcome;

/// A loaded ratings file (or the demo) and what is known about its items.
pub struct Dataset {
    /// File name, or "Demo catalog".
    pub name: String,
    /// The ratings.
    pub ratings: Ratings,
    /// Titles and categories; empty for a ratings file alone.
    pub catalog: Catalog,
    /// Counts shown in the summary.
    pub summary: Summary,
    /// Each user's rated items, grouped once so recommendations can leave them out.
    pub rated: RatedItems,
}

impl Dataset {
    /// Wraps parsed ratings.
    pub fn new(name: String, ratings: Ratings, catalog: Catalog) -> Self {
        let summary = ratings.summary();
        let rated = RatedItems::from_ratings(&ratings);
        Self {
            name,
            ratings,
            catalog,
            summary,
            rated,
        }
    }

    /// What to call an item on screen: its title when the catalog has one, else its id.
    pub fn title(&self, item: u32) -> String {
        let id = self.ratings.items().id(item);
        self.catalog
            .get(id)
            .map_or_else(|| id.to_owned(), |info| info.title.clone())
    }

    /// The item's categories, joined for display (empty when unknown).
    pub fn categories(&self, item: u32) -> String {
        let id = self.ratings.items().id(item);
        self.catalog
            .get(id)
            .map(|info| info.categories.join(", "))
            .unwrap_or_default()
    }
}

/// Where training stands.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainStatus {
    /// Nothing trained for the current dataset.
    Idle,
    /// The worker is fitting: `iteration` of `max_iter` done.
    Running {
        /// Iterations finished.
        iteration: usize,
        /// Iterations in all.
        max_iter: usize,
        /// Training RMSE after the last finished iteration.
        train_rmse: Option<f64>,
    },
    /// A model is ready.
    Done,
}

/// Signals every section reads or writes.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The loaded dataset.
    pub dataset: RwSignal<Option<Arc<Dataset>>>,
    /// The model trained on it, with its scores.
    pub trained: RwSignal<Option<Arc<TrainOutcome>>>,
    /// Training progress.
    pub status: RwSignal<TrainStatus>,
    /// The message shown in the error banner.
    pub error: RwSignal<Option<String>>,
    /// Id of the latest training job; replies for older jobs are ignored.
    pub job_id: RwSignal<u64>,
}

impl AppState {
    /// Fresh state with nothing loaded.
    pub fn new() -> Self {
        Self {
            dataset: RwSignal::new(None),
            trained: RwSignal::new(None),
            status: RwSignal::new(TrainStatus::Idle),
            error: RwSignal::new(None),
            job_id: RwSignal::new(0),
        }
    }

    /// Replaces the dataset, forgetting the model trained on the previous one.
    pub fn load(&self, dataset: Dataset) {
        self.dataset.set(Some(Arc::new(dataset)));
        self.trained.set(None);
        self.status.set(TrainStatus::Idle);
        self.error.set(None);
        // Any job still running belongs to the old dataset.
        self.job_id.update(|id| *id += 1);
    }

    /// Shows `message` in the error banner.
    pub fn fail(&self, message: impl Into<String>) {
        self.error.set(Some(message.into()));
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
