//! What the page shows and serves of a dataset, worked out once from its ratings.
//!
//! For a file these are worked out in the worker that read it, beside the ratings, so that
//! showing ten million ratings does not hold the page up: their sorts and passes over every
//! rating took about 0.6 s of the page's main thread at that size.

use affinity_engine::ratings::Summary;
use affinity_engine::serve::RatedItems;
use affinity_engine::Ratings;

use crate::charts::{item_counts, rating_bins};

/// A dataset's counts, chart data and rated items.
pub struct Facts {
    /// Counts shown in the summary.
    pub summary: Summary,
    /// Each user's rated items, which recommendations leave out.
    pub rated: RatedItems,
    /// The rating histogram's bins ([`rating_bins`]).
    pub rating_bins: Vec<(f32, usize)>,
    /// Ratings per item, most rated first ([`item_counts`]): the long-tail chart.
    pub item_counts: Vec<usize>,
}

impl Facts {
    /// Works them out from `ratings`.
    pub fn of(ratings: &Ratings) -> Self {
        Self {
            summary: ratings.summary(),
            rated: RatedItems::from_ratings(ratings),
            rating_bins: rating_bins(ratings.values()),
            item_counts: item_counts(ratings.item_indices(), ratings.n_items()),
        }
    }
}
