//! The app's state: a few typed signals shared through context.

use std::sync::Arc;

use affinity_engine::catalog::Catalog;
use affinity_engine::cv::CvResult;
use affinity_engine::ratings::Summary;
use affinity_engine::serve::RatedItems;
use affinity_engine::Ratings;
use leptos::prelude::*;

use crate::facts::Facts;
use crate::protocol::TrainOutcome;

/// A loaded ratings file (or the demo) and what is known about its items.
pub struct Dataset {
    /// File name, or "Demo catalog".
    pub name: String,
    /// The ratings, shared with the training pool without copying.
    pub ratings: Arc<Ratings>,
    /// Titles and categories; empty for a ratings file alone.
    pub catalog: Catalog,
    /// Counts shown in the summary.
    pub summary: Summary,
    /// Each user's rated items, grouped once so recommendations can leave them out.
    pub rated: Arc<RatedItems>,
    /// The rating histogram's bins.
    pub rating_bins: Arc<Vec<(f32, usize)>>,
    /// Ratings per item, most rated first (the long-tail chart).
    pub item_counts: Arc<Vec<usize>>,
    /// The most rated items, most rated first (see [`crate::facts::MOST_RATED`]).
    pub most_rated: Arc<Vec<u32>>,
}

impl Dataset {
    /// Wraps parsed ratings, working out their [`Facts`] here.
    pub fn new(name: String, ratings: Ratings, catalog: Catalog) -> Self {
        let facts = Facts::of(&ratings);
        Self::with_facts(name, ratings, catalog, facts)
    }

    /// Wraps parsed ratings with their facts, worked out elsewhere.
    pub fn with_facts(name: String, ratings: Ratings, catalog: Catalog, facts: Facts) -> Self {
        Self {
            name,
            ratings: Arc::new(ratings),
            catalog,
            summary: facts.summary,
            rated: Arc::new(facts.rated),
            rating_bins: Arc::new(facts.rating_bins),
            item_counts: Arc::new(facts.item_counts),
            most_rated: Arc::new(facts.most_rated),
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
    /// Fits are running in the worker pool.
    Running(RunProgress),
    /// The visitor cancelled the run.
    Cancelled,
    /// A model is ready.
    Done,
}

/// How far a run has got: cross-validation fits, then the final fit.
#[derive(Clone, Debug, PartialEq)]
pub struct RunProgress {
    /// Fits finished.
    pub fits_done: usize,
    /// Fits in the run (grid points × folds, plus the final fit).
    pub fits_total: usize,
    /// Finished fits plus the finished fraction of the running ones, for the progress bar.
    pub progress: f64,
    /// What is running now, for the status line.
    pub current: String,
    /// When the run started (`Date.now()`, ms), to estimate the time left.
    pub started_ms: f64,
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
    /// The cross-validation table of the last run, if it cross-validated.
    pub cv: RwSignal<Option<Arc<CvResult>>>,
    /// The message shown in the error banner.
    pub error: RwSignal<Option<String>>,
}

impl AppState {
    /// Fresh state with nothing loaded.
    pub fn new() -> Self {
        Self {
            dataset: RwSignal::new(None),
            trained: RwSignal::new(None),
            status: RwSignal::new(TrainStatus::Idle),
            cv: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    /// Replaces the dataset, forgetting the model trained on the previous one.
    pub fn load(&self, dataset: Dataset) {
        self.dataset.set(Some(Arc::new(dataset)));
        self.trained.set(None);
        self.cv.set(None);
        self.status.set(TrainStatus::Idle);
        self.error.set(None);
    }

    /// Joins item metadata to the loaded dataset, keeping its trained model; false when
    /// nothing is loaded.
    pub fn set_catalog(&self, catalog: Catalog) -> bool {
        let Some(d) = self.dataset.get_untracked() else {
            return false;
        };
        self.dataset.set(Some(Arc::new(Dataset {
            name: d.name.clone(),
            ratings: d.ratings.clone(),
            catalog,
            summary: d.summary.clone(),
            rated: d.rated.clone(),
            rating_bins: d.rating_bins.clone(),
            item_counts: d.item_counts.clone(),
            most_rated: d.most_rated.clone(),
        })));
        true
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
