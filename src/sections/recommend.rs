//! Recommendations for one user: top N with a category filter, the user's own ratings beside
//! the list, and on demand why each title is there.
//!
//! The settings live in [`RecContext`], shared with the similar-titles and export sections,
//! so an export downloads what the list shows and a row's "Similar" button can hand its title
//! to the similar-titles section.

use std::collections::BTreeSet;
use std::sync::Arc;

use affinity_engine::als::AlsModel;
use affinity_engine::serve::{self, RatedItems};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::format::thousands;
use crate::protocol::TrainOutcome;
use crate::state::{AppState, Dataset, TrainStatus};

/// Default length of the list.
pub(crate) const DEFAULT_N: usize = 10;
/// Longest list offered.
pub(crate) const MAX_N: usize = 100;
/// Most user ids suggested while typing (a datalist of a million ids would stall the page).
const MAX_SUGGESTIONS: usize = 200;
/// Rated titles shown under "Why" for one recommendation.
const WHY_SHOWN: usize = 5;
/// Id of the similar-titles heading, focused when a row's "Similar" button is pressed.
pub(crate) const SIMILAR_HEADING_ID: &str = "similar-title";

/// The recommendation settings and selections shared by the recommend, similar-titles and
/// export sections (provided by `App`).
#[derive(Clone, Copy)]
pub struct RecContext {
    /// The user whose list is shown (dense index), set by the Recommend button.
    pub user: RwSignal<Option<u32>>,
    /// The list length as typed.
    pub n_text: RwSignal<String>,
    /// The category filtered on; empty for none.
    pub category: RwSignal<String>,
    /// Whether the category is left out (true) or the only one shown (false).
    pub exclude: RwSignal<bool>,
    /// Whether titles the user already rated are left out.
    pub hide_rated: RwSignal<bool>,
    /// The title whose neighbours the similar-titles section shows.
    pub similar_item: RwSignal<Option<u32>>,
}

impl RecContext {
    /// Default settings, nothing selected.
    pub fn new() -> Self {
        Self {
            user: RwSignal::new(None),
            n_text: RwSignal::new(DEFAULT_N.to_string()),
            category: RwSignal::new(String::new()),
            exclude: RwSignal::new(false),
            hide_rated: RwSignal::new(true),
            similar_item: RwSignal::new(None),
        }
    }

    /// The settings, checked (tracked: call inside `untrack` from an event handler).
    pub(crate) fn options(&self) -> Result<RecOptions, String> {
        let n = parse_n(&self.n_text.get())?;
        let category = self.category.get();
        let filter = (!category.is_empty()).then(|| CategoryFilter {
            category,
            exclude: self.exclude.get(),
        });
        Ok(RecOptions {
            n,
            filter,
            hide_rated: self.hide_rated.get(),
        })
    }
}

impl Default for RecContext {
    fn default() -> Self {
        Self::new()
    }
}

/// Keep only, or leave out, the titles of one category.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CategoryFilter {
    /// The category, as in the catalog.
    pub category: String,
    /// Leave it out (true) or keep only it (false).
    pub exclude: bool,
}

/// Checked recommendation settings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RecOptions {
    /// List length, 1 to [`MAX_N`].
    pub n: usize,
    /// Category filter, if any.
    pub filter: Option<CategoryFilter>,
    /// Leave out titles the user rated.
    pub hide_rated: bool,
}

/// The list length typed by the visitor, or what is wrong with it.
pub(crate) fn parse_n(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
        _ => Err(format!(
            "The number of titles must be a whole number from 1 to {MAX_N}, got \"{}\".",
            text.trim()
        )),
    }
}

/// Every category of the dataset's items, sorted (empty without a catalog).
pub(crate) fn dataset_categories(dataset: &Dataset) -> Vec<String> {
    let mut all = BTreeSet::new();
    for id in dataset.ratings.items().ids() {
        if let Some(info) = dataset.catalog.get(id) {
            all.extend(info.categories.iter().cloned());
        }
    }
    all.into_iter().collect()
}

/// Which items the filter lets through, by item index; `None` without a filter. Items with
/// no catalog entry have no category: never kept by "only", never left out by "exclude".
pub(crate) fn allowed_items(
    dataset: &Dataset,
    filter: Option<&CategoryFilter>,
) -> Option<Vec<bool>> {
    let f = filter?;
    let items = dataset.ratings.items();
    Some(
        (0..items.len() as u32)
            .map(|i| {
                let in_category = dataset
                    .catalog
                    .get(items.id(i))
                    .is_some_and(|info| info.categories.contains(&f.category));
                in_category != f.exclude
            })
            .collect(),
    )
}

/// The top titles of each of `users` under `options`: the filter restricts the candidates
/// before the top N is taken, so the list is full whenever enough titles qualify. `None` for
/// a user the model has no factors for.
pub(crate) fn top_for_users(
    dataset: &Dataset,
    model: &AlsModel,
    users: &[u32],
    options: &RecOptions,
) -> Vec<Option<Vec<(u32, f32)>>> {
    let nothing_rated = RatedItems::default();
    let rated = if options.hide_rated {
        &dataset.rated
    } else {
        &nothing_rated
    };
    let allowed = allowed_items(dataset, options.filter.as_ref());
    if let [user] = users {
        // One list: scoring the items where they are is quicker than packing them all into
        // tiles first (about 30 ms of the page's thread at 166,000 items), and gives the same
        // list and scores, to the bit.
        let seen = rated.items_of(*user);
        let excluded = |i: u32| {
            seen.binary_search(&i).is_ok() || allowed.as_ref().is_some_and(|a| !a[i as usize])
        };
        return vec![model.recommend(*user, options.n, excluded)];
    }
    serve::recommend_for_users(model, users, options.n, rated, allowed.as_deref())
}

/// The regularisation used to refit a user's factors for explanations and fold-in: the
/// model's own, so that a training user folded in gets back (close to) their factors.
pub(crate) fn fold_in_reg_param(trained: &TrainOutcome) -> f64 {
    trained.params.reg_param
}

/// `(item, rating)` of every item `user` rated, by item index, the last rating kept when an
/// item was rated twice.
pub(crate) fn ratings_of_user(dataset: &Dataset, user: u32) -> Vec<(u32, f32)> {
    let rated = &dataset.rated;
    rated
        .items_of(user)
        .iter()
        .copied()
        .zip(rated.values_of(user).iter().copied())
        .collect()
}

/// A rating as a person reads it: `4` or `3.5`.
pub(crate) fn rating_text(value: f32) -> String {
    if value.fract() == 0.0 && value.abs() < 1e9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Shows the similar-titles section for `item` and moves the focus there.
pub(crate) fn show_similar(ctx: RecContext, item: u32) {
    ctx.similar_item.set(Some(item));
    if let Some(heading) = document()
        .get_element_by_id(SIMILAR_HEADING_ID)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        // The heading has tabindex -1: focusing it scrolls it into view and puts keyboard
        // users where the list is.
        let _ = heading.focus();
    }
}

/// Everything one shown list needs.
#[derive(Clone)]
struct RecList {
    dataset: Arc<Dataset>,
    trained: Arc<TrainOutcome>,
    user: u32,
    options: RecOptions,
    rows: Vec<(u32, f32)>,
}

/// The recommend section.
#[component]
pub fn RecommendSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let ctx = expect_context::<RecContext>();
    let user_text = RwSignal::new(String::new());
    // A new model or dataset makes indices and lists stale: forget the selections.
    Effect::new(move |_| {
        state.trained.track();
        ctx.user.set(None);
        ctx.similar_item.set(None);
    });
    // A category of the previous dataset means nothing in a new one.
    Effect::new(move |_| {
        state.dataset.track();
        ctx.category.set(String::new());
    });

    let recommend = move || {
        let id = user_text.get_untracked().trim().to_owned();
        match find_user(&state, &id) {
            Ok(user) => {
                state.error.set(None);
                ctx.user.set(Some(user));
            }
            Err(e) => {
                ctx.user.set(None);
                state.fail(e);
            }
        }
    };

    let suggestions = move || {
        let typed = user_text.get();
        let typed = typed.trim();
        state.dataset.with(|d| {
            d.as_ref()
                .map(|d| {
                    d.ratings
                        .users()
                        .ids()
                        .iter()
                        .filter(|id| id.starts_with(typed))
                        .take(MAX_SUGGESTIONS)
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let user_hint = move || {
        let typed = user_text.get();
        let typed = typed.trim();
        state.dataset.with(|d| match d {
            None => "Load data and train a model first.".to_owned(),
            Some(d) if typed.is_empty() => {
                let ids = d.ratings.users().ids();
                let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
                format!(
                    "{} users; ids look like: {}",
                    thousands(ids.len()),
                    shown.join(", ")
                )
            }
            Some(d) => {
                if let Some(user) = d.ratings.users().get(typed) {
                    return format!(
                        "User {typed} rated {} titles.",
                        thousands(d.rated.items_of(user).len())
                    );
                }
                let matching = d
                    .ratings
                    .users()
                    .ids()
                    .iter()
                    .filter(|id| id.starts_with(typed))
                    .count();
                if matching == 0 {
                    format!("No user id starts with \"{typed}\".")
                } else {
                    format!(
                        "No user \"{typed}\" yet: {} ids start with it.",
                        thousands(matching)
                    )
                }
            }
        })
    };
    let categories = move || {
        state
            .dataset
            .with(|d| d.as_deref().map(dataset_categories).unwrap_or_default())
    };

    let list = move || -> Option<Result<RecList, String>> {
        let user = ctx.user.get()?;
        let dataset = state.dataset.get()?;
        let trained = state.trained.get()?;
        Some(ctx.options().and_then(|options| {
            let top = top_for_users(&dataset, &trained.model, &[user], &options)
                .pop()
                .flatten()
                .ok_or_else(|| {
                    format!(
                        "User \"{}\" has no ratings in the training part, so the model knows nothing about them.",
                        dataset.ratings.users().id(user)
                    )
                })?;
            Ok(RecList {
                dataset,
                trained,
                user,
                options,
                rows: top,
            })
        }))
    };

    view! {
        <section class="card wide" aria-labelledby="rec-title">
            <h2 id="rec-title">"3. Recommend"</h2>
            <div class="row rec-controls">
                <label class="param">
                    <span class="param-label">"User id"</span>
                    <input
                        type="text"
                        data-testid="user-id"
                        list="user-id-options"
                        autocomplete="off"
                        placeholder="e.g. 1"
                        aria-describedby="user-id-hint"
                        prop:value=move || user_text.get()
                        on:input=move |ev| user_text.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" {
                                recommend();
                            }
                        }
                    />
                    <datalist id="user-id-options">
                        {move || {
                            suggestions()
                                .into_iter()
                                .map(|id| view! { <option value=id></option> })
                                .collect_view()
                        }}
                    </datalist>
                </label>
                <label class="param narrow">
                    <span class="param-label">"Titles"</span>
                    <input
                        type="number"
                        min="1"
                        max=MAX_N.to_string()
                        step="1"
                        data-testid="rec-n"
                        prop:value=move || ctx.n_text.get()
                        on:input=move |ev| ctx.n_text.set(event_target_value(&ev))
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
            <p class="hint" id="user-id-hint" data-testid="user-id-hint" aria-live="polite">
                {user_hint}
            </p>
            <div class="row rec-controls">
                <label class="param">
                    <span class="param-label">"Category"</span>
                    <select
                        data-testid="category-filter"
                        disabled=move || categories().is_empty()
                        on:change=move |ev| ctx.category.set(event_target_value(&ev))
                    >
                        <option value="" selected=move || ctx.category.get().is_empty()>
                            {move || {
                                if categories().is_empty() {
                                    "No categories in this data"
                                } else {
                                    "All categories"
                                }
                            }}
                        </option>
                        {move || {
                            categories()
                                .into_iter()
                                .map(|c| {
                                    let value = c.clone();
                                    let selected = move || ctx.category.get() == value;
                                    view! {
                                        <option value=c.clone() selected=selected>
                                            {c.clone()}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label class="param">
                    <span class="param-label">"Filter mode"</span>
                    <select
                        data-testid="category-mode"
                        disabled=move || ctx.category.get().is_empty()
                        on:change=move |ev| ctx.exclude.set(event_target_value(&ev) == "exclude")
                    >
                        <option value="include" selected=move || !ctx.exclude.get()>
                            "Only this category"
                        </option>
                        <option value="exclude" selected=move || ctx.exclude.get()>
                            "Leave this category out"
                        </option>
                    </select>
                </label>
                <label class="check">
                    <input
                        type="checkbox"
                        data-testid="hide-rated"
                        prop:checked=move || ctx.hide_rated.get()
                        on:change=move |ev| ctx.hide_rated.set(event_target_checked(&ev))
                    />
                    "Hide titles already rated"
                </label>
            </div>
            {move || match list() {
                None => None,
                Some(Err(message)) => {
                    Some(view! { <p class="status" role="alert">{message}</p> }.into_any())
                }
                Some(Ok(l)) => Some(view! { <RecResults list=l/> }.into_any()),
            }}
        </section>
    }
}

/// The list and, beside it, what the user rated.
#[component]
fn RecResults(list: RecList) -> impl IntoView {
    let ctx = expect_context::<RecContext>();
    let RecList {
        dataset,
        trained,
        user,
        options,
        rows,
    } = list;
    let user_id = dataset.ratings.users().id(user).to_owned();
    let mine = Arc::new(ratings_of_user(&dataset, user));
    let filter_text = match &options.filter {
        None => String::new(),
        Some(f) if f.exclude => format!(", without {}", f.category),
        Some(f) => format!(", {} only", f.category),
    };
    let status = format!(
        "Top {} for user {}{}{}:",
        rows.len(),
        user_id,
        filter_text,
        if options.hide_rated {
            format!(
                " (the {} titles they rated left out)",
                thousands(mine.len())
            )
        } else {
            String::new()
        },
    );
    let short = rows.len() < options.n;
    let mut rated_rows: Vec<(u32, f32)> = mine.to_vec();
    rated_rows.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| dataset.title(a.0).cmp(&dataset.title(b.0)))
    });
    let reg = fold_in_reg_param(&trained);

    view! {
        <div class="rec-columns">
            <div>
                <p class="status" data-testid="rec-status">{status}</p>
                {short
                    .then(|| {
                        view! {
                            <p class="hint">
                                "Fewer titles qualify than asked for: widen the filter to see more."
                            </p>
                        }
                    })}
                <ol class="recs">
                    {rows
                        .into_iter()
                        .map(|(item, score)| {
                            view! {
                                <RecRowView
                                    dataset=dataset.clone()
                                    trained=trained.clone()
                                    mine=mine.clone()
                                    item=item
                                    score=score
                                    reg=reg
                                    ctx=ctx
                                />
                            }
                        })
                        .collect_view()}
                </ol>
            </div>
            <aside class="rated-panel" aria-labelledby="rated-heading">
                <h3 id="rated-heading">{format!("What user {user_id} rated")}</h3>
                <ol class="rated-list" tabindex="0" aria-labelledby="rated-heading">
                    {rated_rows
                        .into_iter()
                        .map(|(item, value)| {
                            view! {
                                <li class="rated-item" data-testid="rated-row">
                                    <span class="rated-title" data-testid="rated-title">{dataset.title(item)}</span>
                                    <span class="rated-value" title="Their rating">
                                        {format!("{} ★", rating_text(value))}
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </aside>
        </div>
    }
}

/// One recommendation with its "Why?" and "Similar" buttons.
#[component]
fn RecRowView(
    dataset: Arc<Dataset>,
    trained: Arc<TrainOutcome>,
    mine: Arc<Vec<(u32, f32)>>,
    item: u32,
    score: f32,
    reg: f64,
    ctx: RecContext,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let title = dataset.title(item);
    let categories = dataset.categories(item);
    // Computed on first opening only: a list of 100 rows needs no 100 solves up front.
    let why = {
        let dataset = dataset.clone();
        Memo::new(move |_| {
            open.get()
                .then(|| why_rows(&dataset, &trained.model, &mine, item, reg))
        })
    };
    let why_id = format!("why-{item}");
    view! {
        <li class="rec with-actions" data-testid="rec-row">
            <span class="rec-title" data-testid="rec-title">{title.clone()}</span>
            <span class="rec-categories" data-testid="rec-categories">{categories}</span>
            <span class="rec-score" data-testid="rec-score" title="Predicted affinity">
                {format!("{score:.3}")}
            </span>
            <span class="rec-actions">
                <button
                    class="secondary small"
                    data-testid="why"
                    aria-expanded=move || open.get().to_string()
                    aria-controls=why_id.clone()
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    "Why?"
                </button>
                <button
                    class="secondary small"
                    data-testid="rec-similar"
                    aria-label=format!("Titles similar to {title}")
                    on:click=move |_| show_similar(ctx, item)
                >
                    "Similar"
                </button>
            </span>
            <div class="why" id=why_id hidden=move || !open.get()>
                {move || why.get().map(|w| match w {
                    Ok(rows) => view! {
                        <p class="hint">"Their ratings that pull this title up the most:"</p>
                        <ul class="why-list">
                            {rows
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <li data-testid="why-row">
                                            <span class="why-title" data-testid="why-title">{r.title}</span>
                                            " "
                                            <span class="hint">
                                                {format!("rated {} ★, adds {:+.2}", rating_text(r.rating), r.contribution)}
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any(),
                    Err(message) => view! { <p class="hint">{message}</p> }.into_any(),
                })}
            </div>
        </li>
    }
}

/// One rated title's share of a recommendation's score.
#[derive(Clone, Debug, PartialEq)]
struct WhyRow {
    title: String,
    rating: f32,
    contribution: f32,
}

/// The rated titles contributing most to `item`'s score for a user with `mine`.
fn why_rows(
    dataset: &Dataset,
    model: &AlsModel,
    mine: &[(u32, f32)],
    item: u32,
    reg: f64,
) -> Result<Vec<WhyRow>, String> {
    let e = serve::explain(model, mine, item, reg)
        .ok_or("The model cannot explain this title (none of its ratings are usable).")?;
    let rows: Vec<WhyRow> = e
        .contributions
        .iter()
        .filter(|c| c.contribution > 0.0)
        .take(WHY_SHOWN)
        .map(|c| WhyRow {
            title: dataset.title(c.item),
            rating: c.rating,
            contribution: c.contribution,
        })
        .collect();
    if rows.is_empty() {
        return Err(
            "None of their ratings pulls this title up; it is here for lack of better ones.".into(),
        );
    }
    Ok(rows)
}

/// The index of the user typed, or a message for the banner.
fn find_user(state: &AppState, id: &str) -> Result<u32, String> {
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
    if trained.model.user_factors(user).is_none() {
        return Err(format!(
            "User \"{id}\" has no ratings in the training part, so the model knows nothing about them."
        ));
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::catalog::{Catalog, ItemInfo};
    use affinity_engine::Ratings;

    fn tiny() -> Dataset {
        let mut ratings = Ratings::default();
        ratings.push("u1", "a", 5.0);
        ratings.push("u1", "b", 3.0);
        ratings.push("u1", "a", 4.0);
        ratings.push("u2", "c", 2.0);
        let mut catalog = Catalog::default();
        let info = |t: &str, cats: &[&str]| ItemInfo {
            title: t.into(),
            categories: cats.iter().map(|c| (*c).to_owned()).collect(),
        };
        catalog.insert("a", info("Alpha", &["Drama", "Comedy"]));
        catalog.insert("b", info("Beta", &["Comedy"]));
        // "c" has no catalog entry.
        Dataset::new("tiny".into(), ratings, catalog)
    }

    #[test]
    fn n_must_be_a_whole_number_in_range() {
        assert_eq!(parse_n(" 10 "), Ok(10));
        assert_eq!(parse_n("100"), Ok(100));
        assert!(parse_n("0").is_err());
        assert!(parse_n("101").is_err());
        assert!(parse_n("2.5").unwrap_err().contains("\"2.5\""));
        assert!(parse_n("").is_err());
    }

    #[test]
    fn categories_are_sorted_and_distinct() {
        assert_eq!(dataset_categories(&tiny()), ["Comedy", "Drama"]);
    }

    #[test]
    fn filters_keep_or_leave_out_a_category() {
        let d = tiny();
        let only = CategoryFilter {
            category: "Drama".into(),
            exclude: false,
        };
        // Items: a = 0, b = 1, c = 2.
        assert_eq!(
            allowed_items(&d, Some(&only)),
            Some(vec![true, false, false])
        );
        let without = CategoryFilter {
            category: "Comedy".into(),
            exclude: true,
        };
        assert_eq!(
            allowed_items(&d, Some(&without)),
            Some(vec![false, false, true])
        );
        assert_eq!(allowed_items(&d, None), None);
    }

    #[test]
    fn a_users_ratings_keep_the_last_of_repeats() {
        let d = tiny();
        assert_eq!(ratings_of_user(&d, 0), vec![(0, 4.0), (1, 3.0)]);
        assert_eq!(ratings_of_user(&d, 1), vec![(2, 2.0)]);
        assert_eq!(rating_text(4.0), "4");
        assert_eq!(rating_text(3.5), "3.5");
    }

    #[test]
    fn one_users_list_is_the_one_of_the_batch() {
        // 40 users × 60 items, about a third rated, in two categories.
        let mut ratings = Ratings::default();
        let mut catalog = Catalog::default();
        for i in 0..60 {
            let cat = if i % 2 == 0 { "Even" } else { "Odd" };
            catalog.insert(
                format!("i{i}"),
                ItemInfo {
                    title: format!("Title {i}"),
                    categories: vec![cat.to_owned()],
                },
            );
        }
        for u in 0..40 {
            for i in (0..60).filter(|i| (i + u) % 3 == 0) {
                ratings.push(&format!("u{u}"), &format!("i{i}"), ((i + u) % 5 + 1) as f32);
            }
        }
        let d = Dataset::new("batch".into(), ratings, catalog);
        let model = affinity_engine::als::fit(
            &d.ratings,
            &affinity_engine::als::AlsParams {
                rank: 3,
                max_iter: 3,
                ..Default::default()
            }
            .check()
            .unwrap(),
        );
        for (filter, hide_rated) in [
            (None, true),
            (None, false),
            (Some(("Odd", false)), true),
            (Some(("Even", true)), true),
        ] {
            let options = RecOptions {
                n: 7,
                filter: filter.map(|(c, exclude): (&str, bool)| CategoryFilter {
                    category: c.into(),
                    exclude,
                }),
                hide_rated,
            };
            let batch = top_for_users(&d, &model, &[4, 9, 17], &options);
            for (k, user) in [4, 9, 17].into_iter().enumerate() {
                let one = top_for_users(&d, &model, &[user], &options);
                assert_eq!(one.len(), 1);
                assert!(one[0].as_ref().is_some_and(|l| l.len() == 7));
                assert_eq!(
                    one[0], batch[k],
                    "user {user}, {filter:?}, hide {hide_rated}"
                );
            }
        }
    }

    #[test]
    fn a_users_ratings_are_those_of_the_table() {
        // 1,000 ratings of 7 users, in no order; user k % 7 rates item k % 97, so some
        // items are rated twice and the later rating must win.
        let mut ratings = Ratings::default();
        for k in 0..1000usize {
            let item = k % 97;
            ratings.push(
                &format!("u{}", k % 7),
                &format!("i{item}"),
                (k % 5 + 1) as f32,
            );
        }
        let d = Dataset::new("many".into(), ratings, Catalog::default());
        for user in 0..7u32 {
            let mut last = std::collections::BTreeMap::new();
            for r in d.ratings.iter().filter(|r| r.user == user) {
                last.insert(r.item, r.value);
            }
            let expected: Vec<(u32, f32)> = last.into_iter().collect();
            assert!(
                expected.len() < (1000 - user as usize).div_ceil(7),
                "repeats"
            );
            assert_eq!(ratings_of_user(&d, user), expected, "user {user}");
        }
    }
}
