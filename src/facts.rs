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
    /// The [`MOST_RATED`] most rated items, most rated first ([`most_rated`]): the titles
    /// offered to rate in "Try it yourself".
    pub most_rated: Vec<u32>,
}

/// How many of the most rated items a dataset keeps at hand.
pub const MOST_RATED: usize = 100;

impl Facts {
    /// Works them out from `ratings`.
    pub fn of(ratings: &Ratings) -> Self {
        Self::with_rated(ratings, RatedItems::from_ratings(ratings))
    }

    /// Works them out from `ratings`, whose items rated by each user are `rated` already
    /// (as [`affinity_engine::parse_stream::RatingsStream::finish_with_rated`] gives them).
    pub fn with_rated(ratings: &Ratings, rated: RatedItems) -> Self {
        Self {
            summary: ratings.summary(),
            rated,
            rating_bins: rating_bins(ratings.values()),
            item_counts: item_counts(ratings.item_indices(), ratings.n_items()),
            most_rated: most_rated(ratings.item_indices(), ratings.n_items(), MOST_RATED),
        }
    }
}

/// The `n` items with the most ratings, from each rating's item index: most rated first,
/// ties by index. Indices at or past `n_items` are ignored.
pub fn most_rated(item_indices: &[u32], n_items: usize, n: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n_items];
    for &i in item_indices {
        if let Some(c) = counts.get_mut(i as usize) {
            *c += 1;
        }
    }
    let mut items: Vec<u32> = (0..n_items as u32).collect();
    let order = |a: &u32, b: &u32| counts[*b as usize].cmp(&counts[*a as usize]).then(a.cmp(b));
    if n < items.len() {
        // The n first in linear time, then only those sorted.
        items.select_nth_unstable_by(n, order);
        items.truncate(n);
    }
    items.sort_unstable_by(order);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_rated_items_come_first_and_ties_go_by_index() {
        // Item 0: 2 ratings, 1: 1, 2: 3, 3: 2, 4: none; 9 is out of range.
        let indices = [0, 2, 1, 2, 3, 0, 2, 3, 9];
        assert_eq!(most_rated(&indices, 5, 3), vec![2, 0, 3]);
        assert_eq!(most_rated(&indices, 5, 10), vec![2, 0, 3, 1, 4]);
        assert_eq!(most_rated(&indices, 5, 0), Vec::<u32>::new());
    }
}
