//! The best `n` of a stream of scored items, kept in a small heap: the one-user
//! [`AlsModel::recommend`](crate::als::AlsModel::recommend) and the batch
//! [`recommend_for_users`](crate::serve::recommend_for_users) share it, so they break ties
//! alike.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A scored item, ordered so that "greater" means "recommended first": higher score, then
/// lower item index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub(crate) score: f32,
    pub(crate) item: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.item.cmp(&self.item))
    }
}

/// The best `n` candidates seen so far; the worst of them sits on top of a min-heap so a
/// new candidate is compared with one value and usually rejected at once.
pub(crate) struct TopN {
    n: usize,
    heap: BinaryHeap<Reverse<Candidate>>,
}

impl TopN {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            heap: BinaryHeap::with_capacity(n.min(4096) + 1),
        }
    }

    /// Whether `c` would enter the top `n` (checked before a costlier exclusion test).
    pub(crate) fn admits(&self, c: &Candidate) -> bool {
        if self.heap.len() < self.n {
            return self.n > 0;
        }
        self.heap.peek().is_some_and(|Reverse(worst)| c > worst)
    }

    /// The score a candidate must reach to have a chance: the worst kept score once `n` are
    /// kept, minus infinity before. A candidate scoring below it is never admitted (one
    /// scoring it or above may still not be: [`TopN::admits`] decides).
    pub(crate) fn floor(&self) -> f32 {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() >= self.n => worst.score,
            _ => f32::NEG_INFINITY,
        }
    }

    /// Adds `c`, which [`TopN::admits`] let in, dropping the worst when the heap is full.
    pub(crate) fn push(&mut self, c: Candidate) {
        if self.heap.len() < self.n {
            self.heap.push(Reverse(c));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            *worst = Reverse(c);
        }
    }

    /// `(item, score)` of the kept candidates, best first.
    pub(crate) fn into_sorted(self) -> Vec<(u32, f32)> {
        let mut out: Vec<Candidate> = self.heap.into_iter().map(|Reverse(c)| c).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out.into_iter().map(|c| (c.item, c.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(n: usize, scores: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let mut t = TopN::new(n);
        for &(item, score) in scores {
            let c = Candidate { score, item };
            if t.admits(&c) {
                t.push(c);
            }
        }
        t.into_sorted()
    }

    #[test]
    fn keeps_the_best_n_best_first_with_ties_to_the_lower_item() {
        let scores = [(0, 1.0), (1, 3.0), (2, 2.0), (3, 3.0), (4, -1.0), (5, 2.0)];
        assert_eq!(top(3, &scores), vec![(1, 3.0), (3, 3.0), (2, 2.0)]);
        assert_eq!(top(0, &scores), vec![]);
        assert_eq!(top(10, &scores).len(), 6);
        assert_eq!(top(10, &scores)[5], (4, -1.0));
    }
}
