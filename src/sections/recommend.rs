//! Recommendations for one user.

use leptos::prelude::*;

use crate::format::thousands;
use crate::state::{AppState, TrainStatus};

const TOP_N: usize = 10;

/// One line of the list.
#[derive(Clone, Debug, PartialEq)]
struct RecRow {
    title: String,
    categories: String,
    score: f32,
}

/// What the list is about.
#[derive(Clone, Debug, PartialEq)]
struct RecList {
    user: String,
    n_rated: usize,
    rows: Vec<RecRow>,
}

/// The recommend section.
#[component]
pub fn RecommendSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let user_id = RwSignal::new(String::new());
    let list = RwSignal::new(None::<RecList>);
    // A new model or dataset makes an old list wrong: clear it.
    Effect::new(move |_| {
        state.trained.track();
        list.set(None);
    });

    let recommend = move || {
        let id = user_id.get_untracked().trim().to_owned();
        match recommend_for(&state, &id) {
            Ok(l) => {
                state.error.set(None);
                list.set(Some(l));
            }
            Err(e) => {
                list.set(None);
                state.fail(e);
            }
        }
    };
    let example_ids = move || {
        state.dataset.with(|d| {
            d.as_ref().map(|d| {
                let ids = d.ratings.users().ids();
                let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
                format!("User ids look like: {}", shown.join(", "))
            })
        })
    };

    view! {
        <section class="card" aria-labelledby="rec-title">
            <h2 id="rec-title">"3. Recommend"</h2>
            <div class="row">
                <label class="param">
                    <span class="param-label">"User id"</span>
                    <input
                        type="text"
                        data-testid="user-id"
                        placeholder="e.g. 1"
                        prop:value=move || user_id.get()
                        on:input=move |ev| user_id.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" {
                                recommend();
                            }
                        }
                    />
                </label>
                <button
                    data-testid="recommend"
                    class="primary"
                    on:click=move |_| recommend()
                    disabled=move || state.status.get() != TrainStatus::Done
                >
                    "Recommend"
                </button>
            </div>
            <p class="hint">{example_ids}</p>
            {move || list.get().map(|l| view! { <RecTable list=l/> })}
        </section>
    }
}

#[component]
fn RecTable(list: RecList) -> impl IntoView {
    view! {
        <p class="status">
            {format!(
                "Top {} for user {} (who rated {} titles, left out of the list):",
                list.rows.len(),
                list.user,
                thousands(list.n_rated),
            )}
        </p>
        <ol class="recs">
            {list
                .rows
                .into_iter()
                .map(|r| {
                    view! {
                        <li class="rec" data-testid="rec-row">
                            <span class="rec-title" data-testid="rec-title">{r.title}</span>
                            <span class="rec-categories">{r.categories}</span>
                            <span class="rec-score" data-testid="rec-score" title="Predicted rating">
                                {format!("{:.3}", r.score)}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

fn recommend_for(state: &AppState, id: &str) -> Result<RecList, String> {
    if id.is_empty() {
        return Err("Type a user id first.".into());
    }
    let dataset = state
        .dataset
        .get_untracked()
        .ok_or("Load a ratings file or the demo catalog first.")?;
    let trained = state
        .trained
        .get_untracked()
        .ok_or("Train a model first.")?;
    let user = dataset.ratings.users().get(id).ok_or_else(|| {
        format!(
            "Unknown user id \"{id}\": no such user in {}.",
            dataset.name
        )
    })?;
    let top = trained
        .model
        .recommend(user, TOP_N, |i| dataset.rated.contains(user, i))
        .ok_or_else(|| {
            format!("User \"{id}\" has no ratings in the training part, so the model knows nothing about them.")
        })?;
    Ok(RecList {
        user: id.to_owned(),
        n_rated: dataset.rated.items_of(user).len(),
        rows: top
            .into_iter()
            .map(|(item, score)| RecRow {
                title: dataset.title(item),
                categories: dataset.categories(item),
                score,
            })
            .collect(),
    })
}
