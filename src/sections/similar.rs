//! Similar titles: the nearest neighbours of a title by the cosine of its latent factors.

use leptos::prelude::*;

use affinity_engine::serve;

use super::recommend::{RecContext, SIMILAR_HEADING_ID};
use crate::state::{AppState, Dataset};

/// Neighbours listed.
const SIMILAR_N: usize = 10;
/// Most titles suggested while typing.
const MAX_SUGGESTIONS: usize = 100;

/// The similar-titles section.
#[component]
pub fn SimilarSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let ctx = expect_context::<RecContext>();
    let query = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    // A title picked elsewhere (a recommendation's "Similar" button) fills the search box.
    Effect::new(move |_| {
        let picked = ctx.similar_item.get();
        if let (Some(item), Some(d)) = (picked, state.dataset.get_untracked()) {
            query.set(d.title(item));
            message.set(None);
        }
    });

    let show = move || {
        let typed = query.get_untracked();
        let Some(dataset) = state.dataset.get_untracked() else {
            message.set(Some("Load data and train a model first.".into()));
            return;
        };
        match find_title(&dataset, &typed) {
            Ok(item) => {
                message.set(None);
                ctx.similar_item.set(Some(item));
            }
            Err(e) => {
                ctx.similar_item.set(None);
                message.set(Some(e));
            }
        }
    };
    let suggestions = move || {
        let typed = query.get().trim().to_lowercase();
        state.dataset.with(|d| {
            d.as_ref()
                .map(|d| {
                    (0..d.ratings.n_items() as u32)
                        .map(|i| d.title(i))
                        .filter(|t| t.to_lowercase().contains(&typed))
                        .take(MAX_SUGGESTIONS)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let list = move || {
        let item = ctx.similar_item.get()?;
        let dataset = state.dataset.get()?;
        let trained = state.trained.get()?;
        let rows = serve::similar_items(&trained.model, item, SIMILAR_N);
        Some((dataset, item, rows))
    };

    view! {
        <section class="card" aria-labelledby=SIMILAR_HEADING_ID>
            <h2 id=SIMILAR_HEADING_ID tabindex="-1">"5. Similar titles"</h2>
            <p class="hint">
                "Titles whose learned factors point the same way: liked by the same people."
            </p>
            <div class="row">
                <label class="param">
                    <span class="param-label">"Title"</span>
                    <input
                        type="text"
                        data-testid="similar-query"
                        list="similar-title-options"
                        autocomplete="off"
                        placeholder="Type part of a title"
                        prop:value=move || query.get()
                        on:input=move |ev| query.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" {
                                show();
                            }
                        }
                    />
                    <datalist id="similar-title-options">
                        {move || {
                            suggestions()
                                .into_iter()
                                .map(|t| view! { <option value=t></option> })
                                .collect_view()
                        }}
                    </datalist>
                </label>
                <button
                    class="primary"
                    data-testid="similar-show"
                    disabled=move || state.trained.with(Option::is_none)
                    on:click=move |_| show()
                >
                    "Show similar"
                </button>
            </div>
            <p class="status" role="status">{move || message.get()}</p>
            {move || list().map(|(dataset, item, rows)| view! { <SimilarList dataset=dataset item=item rows=rows/> })}
        </section>
    }
}

#[component]
fn SimilarList(
    dataset: std::sync::Arc<Dataset>,
    item: u32,
    rows: Vec<(u32, f32)>,
) -> impl IntoView {
    let status = if rows.is_empty() {
        format!(
            "The model has no factors for {}: nobody rated it in training.",
            dataset.title(item)
        )
    } else {
        format!("Most similar to {}:", dataset.title(item))
    };
    view! {
        <p class="status" data-testid="similar-for">{status}</p>
        <ol class="recs">
            {rows
                .into_iter()
                .map(|(j, cosine)| {
                    view! {
                        <li class="rec" data-testid="similar-row">
                            <span class="rec-title" data-testid="similar-title">{dataset.title(j)}</span>
                            <span class="rec-categories">{dataset.categories(j)}</span>
                            <span class="rec-score" data-testid="similar-score" title="Cosine similarity of the latent factors">
                                {format!("{cosine:.3}")}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// The item a typed title names: an exact title (ignoring case), else the only title
/// containing the text.
fn find_title(dataset: &Dataset, typed: &str) -> Result<u32, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err("Type a title (or part of one) first.".into());
    }
    let wanted = typed.to_lowercase();
    let n = dataset.ratings.n_items() as u32;
    if let Some(item) = (0..n).find(|&i| dataset.title(i).to_lowercase() == wanted) {
        return Ok(item);
    }
    let matches: Vec<u32> = (0..n)
        .filter(|&i| dataset.title(i).to_lowercase().contains(&wanted))
        .collect();
    match matches.as_slice() {
        [item] => Ok(*item),
        [] => Err(format!("No title contains \"{typed}\".")),
        many => Err(format!(
            "{} titles contain \"{typed}\": pick one from the suggestions.",
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::catalog::{Catalog, ItemInfo};
    use affinity_engine::Ratings;

    #[test]
    fn titles_are_found_exactly_then_by_a_unique_part() {
        let mut ratings = Ratings::default();
        for item in ["x", "y", "z"] {
            ratings.push("u", item, 3.0);
        }
        let mut catalog = Catalog::default();
        for (id, title) in [("x", "Dune"), ("y", "Dune Part Two"), ("z", "Heat")] {
            catalog.insert(
                id,
                ItemInfo {
                    title: title.into(),
                    categories: vec![],
                },
            );
        }
        let d = Dataset::new("t".into(), ratings, catalog);
        assert_eq!(find_title(&d, " dune "), Ok(0));
        assert_eq!(find_title(&d, "part"), Ok(1));
        assert_eq!(find_title(&d, "eat"), Ok(2));
        assert!(find_title(&d, "un").unwrap_err().starts_with("2 titles"));
        assert!(find_title(&d, "nope").is_err());
        assert!(find_title(&d, "").is_err());
    }
}
