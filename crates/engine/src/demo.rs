//! The built-in demo catalog: a synthetic film library generated from a seed, with titles,
//! genres, a long-tail popularity and viewers whose tastes follow genres. Nothing in it comes
//! from a real dataset, so it can ship with the app.

use std::collections::HashSet;

use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::catalog::{Catalog, ItemInfo};
use crate::ratings::Ratings;

/// A generated dataset: ratings on a 1-5 star scale plus a title and genres for every item.
#[derive(Clone, Debug)]
pub struct DemoData {
    /// The ratings; user ids are `1..=n_users`, item ids `1..=n_items`.
    pub ratings: Ratings,
    /// Title and genres of every item.
    pub catalog: Catalog,
}

/// The size and seed of a demo catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoSpec {
    /// Number of viewers.
    pub n_users: usize,
    /// Number of films.
    pub n_items: usize,
    /// Mean number of ratings per viewer (the actual counts vary widely around it).
    pub mean_ratings_per_user: usize,
    /// Seed of everything random.
    pub seed: u64,
}

impl Default for DemoSpec {
    /// The catalog the app loads with one click: about 40,000 ratings, quick to train.
    fn default() -> Self {
        Self {
            n_users: 800,
            n_items: 500,
            mean_ratings_per_user: 50,
            seed: 2026,
        }
    }
}

const GENRES: [&str; 12] = [
    "Drama",
    "Comedy",
    "Action",
    "Sci-Fi",
    "Romance",
    "Thriller",
    "Documentary",
    "Animation",
    "Horror",
    "Fantasy",
    "Mystery",
    "Adventure",
];
const ADJECTIVES: [&str; 24] = [
    "Silent", "Crimson", "Last", "Hidden", "Golden", "Broken", "Midnight", "Endless", "Wild",
    "Distant", "Frozen", "Burning", "Quiet", "Electric", "Lost", "Velvet", "Hollow", "Bright",
    "Savage", "Secret", "Paper", "Iron", "Northern", "Little",
];
const NOUNS: [&str; 32] = [
    "Harbor",
    "Garden",
    "Signal",
    "Empire",
    "River",
    "Stranger",
    "Orchard",
    "Frontier",
    "Mirror",
    "Lantern",
    "Kingdom",
    "Station",
    "Summer",
    "Winter",
    "Letters",
    "Machine",
    "Island",
    "Forest",
    "Engine",
    "Crown",
    "Voyage",
    "Shadow",
    "Comet",
    "Republic",
    "Tide",
    "Circus",
    "Archive",
    "Compass",
    "Lighthouse",
    "Monsoon",
    "Carnival",
    "Horizon",
];

/// Generates the demo catalog described by `spec`. Same spec, same data.
pub fn generate(spec: &DemoSpec) -> DemoData {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let n_genres = GENRES.len();

    let mut catalog = Catalog::default();
    let mut item_genres: Vec<Vec<usize>> = Vec::with_capacity(spec.n_items);
    let mut quality: Vec<f64> = Vec::with_capacity(spec.n_items);
    let mut titles_seen = HashSet::new();
    let quality_dist = Normal::new(0.0, 0.45).expect("valid normal");
    for item in 0..spec.n_items {
        let n = *[1usize, 1, 2, 2, 3].choose(&mut rng).expect("non-empty");
        let mut genres: Vec<usize> = Vec::new();
        while genres.len() < n {
            let g = rng.random_range(0..n_genres);
            if !genres.contains(&g) {
                genres.push(g);
            }
        }
        let mut title = make_title(&mut rng);
        while !titles_seen.insert(title.clone()) {
            title = format!("{title} {}", rng.random_range(1960..2026));
        }
        catalog.insert(
            (item + 1).to_string(),
            ItemInfo {
                title,
                categories: genres.iter().map(|&g| GENRES[g].to_owned()).collect(),
            },
        );
        item_genres.push(genres);
        quality.push(quality_dist.sample(&mut rng));
    }

    // Popularity falls off as a power of the popularity rank: a few hits, a long tail.
    let popularity: Vec<f64> = (0..spec.n_items)
        .map(|i| 1.0 / (i as f64 + 8.0).powf(1.1))
        .collect();

    let mut ratings = Ratings::default();
    let noise = Normal::new(0.0, 0.6).expect("valid normal");
    for user in 0..spec.n_users {
        // Each viewer loves two or three genres and dislikes one or two.
        let mut taste = vec![0.0f64; n_genres];
        for _ in 0..rng.random_range(2..=3) {
            taste[rng.random_range(0..n_genres)] += rng.random_range(0.8..1.6);
        }
        for _ in 0..rng.random_range(1..=2) {
            taste[rng.random_range(0..n_genres)] -= rng.random_range(0.8..1.6);
        }
        let leniency = rng.random_range(-0.4..0.4);
        // Heavy-tailed activity: many light raters, a few heavy ones.
        let activity =
            (spec.mean_ratings_per_user as f64 * rng.random_range(0.2f64..1.0).powi(2) * 3.0)
                .round()
                .clamp(5.0, spec.n_items as f64 * 0.6) as usize;
        // Viewers find what they like more often than what they do not.
        let weights: Vec<f64> = (0..spec.n_items)
            .map(|i| popularity[i] * (1.0 + genre_affinity(&taste, &item_genres[i]).max(-0.8)))
            .collect();
        let pick = WeightedIndex::new(&weights).expect("positive weights");
        let mut chosen = HashSet::new();
        while chosen.len() < activity {
            chosen.insert(pick.sample(&mut rng));
        }
        let mut chosen: Vec<usize> = chosen.into_iter().collect();
        chosen.sort_unstable();
        for item in chosen {
            let score = 3.4
                + leniency
                + quality[item]
                + genre_affinity(&taste, &item_genres[item])
                + noise.sample(&mut rng);
            let stars = score.round().clamp(1.0, 5.0) as f32;
            ratings.push(&(user + 1).to_string(), &(item + 1).to_string(), stars);
        }
    }
    DemoData { ratings, catalog }
}

fn genre_affinity(taste: &[f64], genres: &[usize]) -> f64 {
    genres.iter().map(|&g| taste[g]).sum::<f64>() / genres.len() as f64
}

fn make_title(rng: &mut ChaCha8Rng) -> String {
    let adj = ADJECTIVES.choose(rng).expect("non-empty");
    let noun = NOUNS.choose(rng).expect("non-empty");
    let other = NOUNS.choose(rng).expect("non-empty");
    match rng.random_range(0..5) {
        0 => format!("The {adj} {noun}"),
        1 => format!("{noun} of the {adj} {other}"),
        2 => format!("{adj} {noun}"),
        3 => format!("The {noun} and the {other}"),
        _ => format!("A {adj} {noun}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_described_and_long_tailed() {
        let spec = DemoSpec::default();
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.ratings.values(), b.ratings.values());
        let s = a.ratings.summary();
        assert!(s.n_ratings > 20_000, "{s:?}");
        assert_eq!((s.min_rating, s.max_rating), (1.0, 5.0));
        assert_eq!(a.catalog.len(), spec.n_items);
        for id in a.ratings.items().ids() {
            let info = a.catalog.get(id).expect("every rated item has a title");
            assert!(!info.title.is_empty() && !info.categories.is_empty());
        }
        // Long tail: the 10% most rated items hold far more than 10% of the ratings.
        let mut counts = vec![0usize; a.ratings.n_items()];
        for &i in a.ratings.item_indices() {
            counts[i as usize] += 1;
        }
        counts.sort_unstable_by(|x, y| y.cmp(x));
        let head: usize = counts[..counts.len() / 10].iter().sum();
        assert!(
            head as f64 > 0.3 * s.n_ratings as f64,
            "head holds {head} of {}",
            s.n_ratings
        );
    }
}
