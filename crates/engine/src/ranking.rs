//! Top-k ranking quality of a model, with Apache Spark's `RankingMetrics` definitions.
//!
//! Each user contributes one recommended list (best first) and one set of relevant items;
//! the metrics at `k` are averaged over users with at least one relevant item:
//!
//! - precision@k: hits among the first `k` recommendations divided by `k` (always `k`, even
//!   when fewer than `k` items were recommended, as Spark does);
//! - recall@k: those hits divided by the number of relevant items;
//! - NDCG@k: binary-relevance DCG with discount `1 / log2(i + 2)` at 0-based position `i`,
//!   divided by the ideal DCG of `min(k, |relevant|)` hits in a row;
//! - MAP@k (Spark's `meanAveragePrecisionAtK`): the sum of the precision at each hit's
//!   position within the first `k`, divided by `min(k, |relevant|)`.

use serde::{Deserialize, Serialize};

use crate::als::{AlsModel, RatingRows};
use crate::ratings::Ratings;
use crate::serve::{recommend_for_users, RatedItems};

/// Ranking metrics at one cut-off `k`, averaged over the users that were scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankingEvaluation {
    /// Mean precision@k.
    pub precision_at_k: f64,
    /// Mean recall@k.
    pub recall_at_k: f64,
    /// Mean NDCG@k.
    pub ndcg_at_k: f64,
    /// Mean average precision at k.
    pub map_at_k: f64,
    /// Users averaged over: test users with a training factor and a relevant item. When it
    /// is 0 every metric is NaN.
    pub n_users: usize,
    /// Test users with a held-out item that could have been scored; more than `n_users` when
    /// [`evaluate_ranking_sampled`] scored only a sample of them (or some were cold).
    #[serde(default)]
    pub n_candidates: usize,
}

/// The four metrics at `k` of one user's recommended list `recommended` (best first)
/// against the user's `relevant` items, in the order precision, recall, NDCG, AP.
///
/// `relevant` must hold no duplicates. With no relevant item every metric is 0 (Spark's
/// convention; [`evaluate_ranking`] never asks for it).
pub fn user_metrics_at_k(recommended: &[u32], relevant: &[u32], k: usize) -> [f64; 4] {
    if relevant.is_empty() || k == 0 {
        return [0.0; 4];
    }
    let n_rel = relevant.len();
    let mut hits = 0usize;
    let (mut dcg, mut precision_sum) = (0.0f64, 0.0f64);
    for (i, item) in recommended.iter().take(k).enumerate() {
        if relevant.contains(item) {
            hits += 1;
            dcg += discount(i);
            precision_sum += hits as f64 / (i + 1) as f64;
        }
    }
    let ideal: f64 = (0..k.min(n_rel)).map(discount).sum();
    [
        hits as f64 / k as f64,
        hits as f64 / n_rel as f64,
        dcg / ideal,
        precision_sum / k.min(n_rel) as f64,
    ]
}

/// The gain of a hit at 0-based position `i`.
fn discount(i: usize) -> f64 {
    1.0 / ((i + 2) as f64).log2()
}

/// Averages [`user_metrics_at_k`] over `(recommended, relevant)` pairs, skipping pairs
/// without a relevant item.
pub fn mean_metrics_at_k<'a>(
    pairs: impl IntoIterator<Item = (&'a [u32], &'a [u32])>,
    k: usize,
) -> RankingEvaluation {
    let mut sums = [0.0f64; 4];
    let mut n_users = 0usize;
    for (recommended, relevant) in pairs {
        if relevant.is_empty() {
            continue;
        }
        let m = user_metrics_at_k(recommended, relevant, k);
        for (s, v) in sums.iter_mut().zip(m) {
            *s += v;
        }
        n_users += 1;
    }
    let mean = |s: f64| {
        if n_users == 0 {
            f64::NAN
        } else {
            s / n_users as f64
        }
    };
    RankingEvaluation {
        precision_at_k: mean(sums[0]),
        recall_at_k: mean(sums[1]),
        ndcg_at_k: mean(sums[2]),
        map_at_k: mean(sums[3]),
        n_users,
        n_candidates: n_users,
    }
}

/// Ranking quality of `model` (fitted on `train`) on the held-out `test` ratings, which must
/// share `train`'s id maps.
///
/// Every test user with a training factor gets the top `k` items the model scores highest
/// among those it did not rate in `train` ([`AlsModel::recommend`]); the relevant items
/// are all the user's test items, whatever their rating (explicit data). Test users the
/// model never saw are skipped, like Spark's `drop` cold-start strategy.
pub fn evaluate_ranking(
    model: &AlsModel,
    train: &Ratings,
    test: &Ratings,
    k: usize,
) -> RankingEvaluation {
    evaluate_ranking_sampled(model, train, test, k, usize::MAX)
}

/// [`evaluate_ranking`] on at most `max_users` of the test users, taken at an even stride
/// over the user indices (deterministic, and spread over the whole table).
///
/// Scoring every item for every test user costs users × items × rank; on a million ratings
/// that is seconds of a browser tab, while a few thousand users already pin the metrics down
/// to about a hundredth. `n_candidates` tells how many users were eligible.
pub fn evaluate_ranking_sampled(
    model: &AlsModel,
    train: &Ratings,
    test: &Ratings,
    k: usize,
    max_users: usize,
) -> RankingEvaluation {
    // Scored in blocks of users against tiles of items (`recommend_for_users`, the same
    // lists as `AlsModel::recommend` user by user, several times faster).
    let held_out = RatingRows::by_user(test);
    let candidates: Vec<u32> = (0..held_out.n_rows() as u32)
        .filter(|&u| !held_out.row(u as usize).0.is_empty())
        .collect();
    let n_candidates = candidates.len();
    // Even stride: user j of the sample is candidate floor(j * n / max).
    let sample: Vec<u32> = if n_candidates <= max_users {
        candidates
    } else {
        (0..max_users)
            .map(|j| candidates[j * n_candidates / max_users])
            .collect()
    };
    let mut sampled = vec![false; train.n_users()];
    for &u in &sample {
        if let Some(s) = sampled.get_mut(u as usize) {
            *s = true;
        }
    }
    let rated = RatedItems::from_ratings_of(train, |u| sampled[u as usize]);
    let tops = recommend_for_users(model, &sample, k, &rated, None);
    let mut lists: Vec<(Vec<u32>, Vec<u32>)> = Vec::new();
    for (&user, top) in sample.iter().zip(tops) {
        let Some(top) = top else { continue };
        let mut relevant = held_out.row(user as usize).0.to_vec();
        relevant.sort_unstable();
        relevant.dedup();
        lists.push((top.into_iter().map(|(i, _)| i).collect(), relevant));
    }
    let mut evaluation = mean_metrics_at_k(
        lists
            .iter()
            .map(|(rec, rel)| (rec.as_slice(), rel.as_slice())),
        k,
    );
    evaluation.n_candidates = n_candidates;
    evaluation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{fit, AlsParams};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Recommended [1, 2, 3, 4, 5], relevant {1, 3, 6}, k = 5. Hits at positions 0 and 2.
    /// precision = 2/5 = 0.4; recall = 2/3;
    /// DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5;
    /// ideal over min(5, 3) = 3 positions = 1 + 1/log2(3) + 0.5; NDCG = 1.5 / that;
    /// AP = (1/1 + 2/3) / min(5, 3) = (5/3) / 3 = 5/9.
    #[test]
    fn one_user_matches_hand_computed_values() {
        let [p, r, ndcg, ap] = user_metrics_at_k(&[1, 2, 3, 4, 5], &[1, 3, 6], 5);
        assert!(close(p, 0.4), "{p}");
        assert!(close(r, 2.0 / 3.0), "{r}");
        let ideal = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!(close(ndcg, 1.5 / ideal), "{ndcg}");
        assert!(close(ap, 5.0 / 9.0), "{ap}");
    }

    /// Same lists cut at k = 2: only position 0 hits.
    /// precision = 1/2; recall = 1/3; DCG = 1, ideal = 1 + 1/log2(3);
    /// AP = (1/1) / min(2, 3) = 1/2.
    #[test]
    fn the_cut_off_limits_every_metric() {
        let [p, r, ndcg, ap] = user_metrics_at_k(&[1, 2, 3, 4, 5], &[1, 3, 6], 2);
        assert!(close(p, 0.5));
        assert!(close(r, 1.0 / 3.0));
        assert!(close(ndcg, 1.0 / (1.0 + 1.0 / 3f64.log2())), "{ndcg}");
        assert!(close(ap, 0.5));
    }

    /// Recommended [7, 9] (shorter than k = 4), relevant {9}: one hit at position 1.
    /// precision = 1/4 (divided by k, not by the list's length); recall = 1;
    /// DCG = 1/log2(3), ideal over min(4, 1) = 1 position = 1, so NDCG = 1/log2(3);
    /// AP = (1/2) / 1 = 0.5.
    #[test]
    fn short_lists_still_divide_precision_by_k() {
        let [p, r, ndcg, ap] = user_metrics_at_k(&[7, 9], &[9], 4);
        assert!(close(p, 0.25));
        assert!(close(r, 1.0));
        assert!(close(ndcg, 1.0 / 3f64.log2()));
        assert!(close(ap, 0.5));
    }

    /// User A: [1, 2] vs {1, 2} at k = 2 is perfect (all four metrics 1).
    /// User B: [3, 4] vs {5} has no hit (all 0). User C has no relevant item and is skipped.
    /// Means: 0.5 each over 2 users.
    #[test]
    fn means_skip_users_without_relevant_items() {
        let pairs: [(&[u32], &[u32]); 3] = [(&[1, 2], &[1, 2]), (&[3, 4], &[5]), (&[6], &[])];
        let m = mean_metrics_at_k(pairs, 2);
        assert_eq!(m.n_users, 2);
        for v in [m.precision_at_k, m.recall_at_k, m.ndcg_at_k, m.map_at_k] {
            assert!(close(v, 0.5), "{m:?}");
        }
        let none = mean_metrics_at_k(std::iter::empty(), 2);
        assert_eq!(none.n_users, 0);
        assert!(none.ndcg_at_k.is_nan());
    }

    /// Two taste groups: users u0..u5 like items a* (5) and dislike b* (1), users v0..v5
    /// the reverse. Each user's held-out item is one more of their liked group, so a model
    /// that learned the groups ranks it first among the unrated items.
    #[test]
    fn a_model_ranks_held_out_liked_items_first_and_skips_rated_and_cold_users() {
        let mut train = Ratings::default();
        let mut test_rows = vec![];
        for g in 0..2 {
            let (me, like, dislike) = if g == 0 {
                ("u", "a", "b")
            } else {
                ("v", "b", "a")
            };
            for u in 0..6 {
                let user = format!("{me}{u}");
                for i in 0..6 {
                    // Leave out one liked item per user, a different one each time.
                    if i != u {
                        train.push(&user, &format!("{like}{i}"), 5.0);
                    } else {
                        test_rows.push((user.clone(), format!("{like}{i}")));
                    }
                    if (i + u) % 2 == 0 {
                        train.push(&user, &format!("{dislike}{i}"), 1.0);
                    }
                }
            }
        }
        let mut test = Ratings::with_maps(train.users().clone(), train.items().clone());
        for (u, i) in &test_rows {
            test.push(u, i, 5.0);
        }
        test.push("stranger", "a0", 5.0);
        let params = AlsParams {
            rank: 2,
            max_iter: 20,
            reg_param: 0.01,
            ..Default::default()
        }
        .check()
        .unwrap();
        let model = fit(&train, &params);
        let m = evaluate_ranking(&model, &train, &test, 1);
        assert_eq!(m.n_users, 12, "the stranger is cold");
        assert_eq!(m.n_candidates, 13, "the stranger had a held-out item");
        // A sample of 4 of the 13 candidates: users 0, 3, 6 and 9 (stride 13/4), all warm.
        let sampled = evaluate_ranking_sampled(&model, &train, &test, 1, 4);
        assert_eq!((sampled.n_users, sampled.n_candidates), (4, 13));
        assert!(close(sampled.ndcg_at_k, 1.0), "{sampled:?}");
        // Every user's only unrated liked item should be first: all metrics 1.
        for v in [m.precision_at_k, m.recall_at_k, m.ndcg_at_k, m.map_at_k] {
            assert!(close(v, 1.0), "{m:?}");
        }
    }

    /// The metrics equal those of each test user's own `AlsModel::recommend` list (rated
    /// items excluded), on noisy data where the lists are far from perfect.
    #[test]
    fn the_metrics_are_those_of_each_users_own_recommendations() {
        let mut train = Ratings::default();
        let mut test_rows = vec![];
        let mut state = 7u64;
        for u in 0..40 {
            for i in 0..60 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let roll = (state >> 33) % 10;
                let rating = ((u * 7 + i * 3) % 5 + 1) as f32;
                let (user, item) = (format!("u{u}"), format!("i{i}"));
                match roll {
                    0..=3 => train.push(&user, &item, rating),
                    4 => test_rows.push((user, item, rating)),
                    _ => {}
                }
            }
        }
        let mut test = Ratings::with_maps(train.users().clone(), train.items().clone());
        for (u, i, r) in &test_rows {
            test.push(u, i, *r);
        }
        let params = AlsParams {
            rank: 4,
            max_iter: 5,
            ..Default::default()
        }
        .check()
        .unwrap();
        let model = fit(&train, &params);
        let k = 5;
        let mut lists = vec![];
        for u in 0..test.n_users() as u32 {
            let mut relevant: Vec<u32> = test
                .user_indices()
                .iter()
                .zip(test.item_indices())
                .filter(|(&tu, _)| tu == u)
                .map(|(_, &i)| i)
                .collect();
            if relevant.is_empty() {
                continue;
            }
            relevant.sort_unstable();
            relevant.dedup();
            let seen: Vec<u32> = train
                .user_indices()
                .iter()
                .zip(train.item_indices())
                .filter(|(&tu, _)| tu == u)
                .map(|(_, &i)| i)
                .collect();
            let Some(top) = model.recommend(u, k, |i| seen.contains(&i)) else {
                continue;
            };
            lists.push((
                top.into_iter().map(|(i, _)| i).collect::<Vec<_>>(),
                relevant,
            ));
        }
        let want = mean_metrics_at_k(lists.iter().map(|(a, b)| (&a[..], &b[..])), k);
        let got = evaluate_ranking(&model, &train, &test, k);
        assert!(want.n_users > 30, "{want:?}");
        assert!(
            want.precision_at_k < 0.9,
            "the lists should not be perfect: {want:?}"
        );
        assert_eq!(got.n_users, want.n_users);
        for (g, w) in [
            (got.precision_at_k, want.precision_at_k),
            (got.recall_at_k, want.recall_at_k),
            (got.ndcg_at_k, want.ndcg_at_k),
            (got.map_at_k, want.map_at_k),
        ] {
            assert_eq!(g, w, "{got:?} against {want:?}");
        }
    }
}
