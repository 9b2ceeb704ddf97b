//! "Try it yourself": a visitor rates a few popular titles and gets recommendations at once,
//! folded into the trained model without retraining.

use std::collections::BTreeMap;
use std::sync::Arc;

use affinity_engine::als::AlsModel;
use affinity_engine::serve;
use leptos::prelude::*;

use super::recommend::fold_in_reg_param;
use crate::state::{AppState, Dataset};

/// Popular titles offered for rating.
const OFFERED: usize = 12;
/// Recommendations shown.
const TRY_N: usize = 10;

/// The try-it-yourself section.
#[component]
pub fn TryItSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    // The visitor's stars by item; titles not rated are absent.
    let stars = RwSignal::new(BTreeMap::<u32, u8>::new());
    let asked = RwSignal::new(false);
    // Item indices change with the dataset, and the model with training: start over.
    Effect::new(move |_| {
        state.trained.track();
        stars.set(BTreeMap::new());
        asked.set(false);
    });

    let offered = move || {
        let dataset = state.dataset.get()?;
        let trained = state.trained.get()?;
        let items = popular_items(&dataset, &trained.model, OFFERED);
        Some((dataset, items))
    };
    // Once asked, the list follows every change of the stars.
    let results = move || {
        if !asked.get() {
            return None;
        }
        let dataset = state.dataset.get()?;
        let trained = state.trained.get()?;
        let mine: Vec<(u32, f32)> = stars
            .get()
            .into_iter()
            .map(|(i, s)| (i, f32::from(s)))
            .collect();
        let reg = fold_in_reg_param(&trained);
        Some((
            dataset,
            recommend_new_visitor(&trained.model, &mine, TRY_N, reg),
        ))
    };

    view! {
        <section class="card wide" aria-labelledby="try-heading">
            <h2 id="try-heading">"4. Try it yourself"</h2>
            <p class="hint">
                "Rate a few of the most rated titles (1 to 5 stars) and get your own list. Nothing is retrained: your taste is fitted against the model's title factors in an instant."
            </p>
            {move || match offered() {
                None => view! { <p class="status">"Train a model to try it."</p> }.into_any(),
                Some((dataset, items)) => {
                    view! {
                        <div class="try-grid">
                            {items
                                .into_iter()
                                .map(|item| view! { <StarPicker dataset=dataset.clone() item=item stars=stars/> })
                                .collect_view()}
                        </div>
                        <div class="row">
                            <button
                                class="primary"
                                data-testid="try-recommend"
                                on:click=move |_| asked.set(true)
                            >
                                "Recommend for me"
                            </button>
                            <button
                                class="secondary"
                                data-testid="try-clear"
                                on:click=move |_| {
                                    stars.set(BTreeMap::new());
                                    asked.set(false);
                                }
                            >
                                "Clear"
                            </button>
                        </div>
                    }
                    .into_any()
                }
            }}
            {move || results().map(|(dataset, result)| match result {
                Err(message) => view! { <p class="status" role="alert" data-testid="try-message">{message}</p> }.into_any(),
                Ok(rows) => view! {
                    <p class="status">"Your top titles:"</p>
                    <ol class="recs">
                        {rows
                            .into_iter()
                            .map(|(item, score)| {
                                view! {
                                    <li class="rec" data-testid="try-row">
                                        <span class="rec-title" data-testid="try-title">{dataset.title(item)}</span>
                                        <span class="rec-categories">{dataset.categories(item)}</span>
                                        <span class="rec-score" title="Predicted affinity">{format!("{score:.3}")}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                }
                .into_any(),
            })}
        </section>
    }
}

/// A labelled 0-5 star choice for one title.
#[component]
fn StarPicker(
    dataset: Arc<Dataset>,
    item: u32,
    stars: RwSignal<BTreeMap<u32, u8>>,
) -> impl IntoView {
    let title = dataset.title(item);
    let categories = dataset.categories(item);
    let current = move || stars.with(|s| s.get(&item).copied().unwrap_or(0));
    view! {
        <label class="try-pick">
            <span class="try-title">{title}</span>
            <span class="hint">{categories}</span>
            <select
                data-testid="try-rate"
                on:change=move |ev| {
                    let value = event_target_value(&ev).parse::<u8>().unwrap_or(0);
                    stars.update(|s| {
                        if (1..=5).contains(&value) {
                            s.insert(item, value);
                        } else {
                            s.remove(&item);
                        }
                    });
                }
            >
                <option value="0" selected=move || current() == 0>"Not seen"</option>
                {(1..=5u8)
                    .map(|k| {
                        view! {
                            <option value=k.to_string() selected=move || current() == k>
                                {format!("{} {}", "★".repeat(k.into()), k)}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The `n` items rated most often that the model has factors for, most rated first, among
/// the dataset's [`crate::facts::MOST_RATED`] most rated.
fn popular_items(dataset: &Dataset, model: &AlsModel, n: usize) -> Vec<u32> {
    // From the dataset's most rated items, worked out once: counting ten million ratings
    // and sorting their items here took the page about 60 ms after every fit.
    dataset
        .most_rated
        .iter()
        .copied()
        .filter(|&i| model.item_factors(i).is_some())
        .take(n)
        .collect()
}

/// Recommendations for a visitor with ratings `mine`, by folding them into `model`.
///
/// A model with biases predicts `mean + b_u + b_i + u·v`: the visitor's ratings are taken
/// relative to `mean + b_i` before fold-in (their own bias is unknown, so 0) and the scores
/// put `mean + b_i` back, so that popular titles keep their head start.
fn recommend_new_visitor(
    model: &AlsModel,
    mine: &[(u32, f32)],
    n: usize,
    reg_param: f64,
) -> Result<Vec<(u32, f32)>, String> {
    if mine.is_empty() {
        return Err("Rate at least one title first.".into());
    }
    let rated = |i: u32| mine.iter().any(|&(j, _)| j == i);
    let offset = |i: u32| {
        if model.has_biases() {
            model.global_mean() + model.item_bias(i).unwrap_or(0.0)
        } else {
            0.0
        }
    };
    let relative: Vec<(u32, f32)> = mine.iter().map(|&(i, r)| (i, r - offset(i))).collect();
    let user = serve::fold_in(model, &relative, reg_param)
        .ok_or("The model could not fit these ratings (none of the titles has factors).")?;
    if !model.has_biases() {
        return serve::recommend_with_factors(model, &user, n, rated)
            .ok_or_else(|| "The folded-in factors do not match the model.".to_owned());
    }
    let mut scored: Vec<(u32, f32)> = (0..model.n_items() as u32)
        .filter(|&i| !rated(i))
        .filter_map(|i| {
            let x = model.item_factors(i)?;
            let dot: f32 = user.iter().zip(x).map(|(a, b)| a * b).sum();
            Some((i, offset(i) + dot))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(n);
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::als::{self, AlsParams};
    use affinity_engine::catalog::Catalog;
    use affinity_engine::Ratings;

    /// Two camps: users 0-19 love items 0-9 and dislike 10-19, users 20-39 the reverse.
    fn camps() -> Ratings {
        let mut r = Ratings::default();
        for u in 0..40u32 {
            for i in 0..20u32 {
                if (u + i) % 3 != 0 {
                    let likes = (u < 20) == (i < 10);
                    r.push(
                        &u.to_string(),
                        &i.to_string(),
                        if likes { 5.0 } else { 1.0 },
                    );
                }
            }
        }
        r
    }

    #[test]
    fn a_visitor_who_loves_one_camp_gets_that_camps_titles() {
        let ratings = camps();
        for biases in [false, true] {
            let params = AlsParams {
                rank: 2,
                max_iter: 10,
                reg_param: 0.05,
                biases,
                ..AlsParams::default()
            };
            let model = als::fit(&ratings, &params.check().unwrap());
            let index = |id: &str| ratings.items().get(id).unwrap();
            let mine = [(index("0"), 5.0), (index("1"), 5.0), (index("15"), 1.0)];
            let got = recommend_new_visitor(&model, &mine, 5, 0.05).unwrap();
            assert_eq!(got.len(), 5);
            for (item, _) in &got {
                let id: u32 = ratings.items().id(*item).parse().unwrap();
                assert!(
                    id < 10,
                    "biases {biases}: recommended item {id} of the other camp: {got:?}"
                );
                assert!(
                    !mine.iter().any(|&(j, _)| j == *item),
                    "recommended a rated item"
                );
            }
        }
        assert!(recommend_new_visitor(
            &als::fit(&ratings, &AlsParams::default().check().unwrap()),
            &[],
            5,
            0.1
        )
        .is_err());
    }

    #[test]
    fn popular_items_are_the_most_rated() {
        let mut ratings = Ratings::default();
        for (u, i) in [
            ("a", "x"),
            ("a", "y"),
            ("b", "y"),
            ("c", "y"),
            ("b", "z"),
            ("c", "z"),
        ] {
            ratings.push(u, i, 3.0);
        }
        let model = als::fit(
            &ratings,
            &AlsParams {
                rank: 1,
                max_iter: 2,
                ..AlsParams::default()
            }
            .check()
            .unwrap(),
        );
        let d = Dataset::new("t".into(), ratings, Catalog::default());
        // x = 0 (1 rating), y = 1 (3), z = 2 (2).
        assert_eq!(popular_items(&d, &model, 2), vec![1, 2]);
    }
}
