//! Loading ratings: a file (picked or dropped) or the built-in demo catalog.

use affinity_engine::catalog::Catalog;
use affinity_engine::demo::{self, DemoSpec};
use affinity_engine::metadata::parse_metadata;
use affinity_engine::parse::parse_ratings_bytes_with_report;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

use crate::format::thousands;
use crate::state::{AppState, Dataset};

/// The data section: file input, drop zone, demo button and the dataset summary.
#[component]
pub fn DataSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let dragging = RwSignal::new(false);
    let loading = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);

    let load_file = move |file: web_sys::File| {
        loading.set(true);
        spawn_local(async move {
            let name = file.name();
            notice.set(None);
            match read_bytes(&file).await {
                Ok(bytes) => match parse_ratings_bytes_with_report(&bytes) {
                    Ok((ratings, report)) => {
                        if let Some(d) = &report.first_duplicate {
                            notice.set(Some(format!(
                                "{} repeated ratings were dropped: the last rating of a (user, item) pair wins \
                                 (first: line {} repeats line {}, user {}, item {}).",
                                thousands(report.duplicates),
                                d.line,
                                d.earlier_line,
                                d.user,
                                d.item
                            )));
                        }
                        state.load(Dataset::new(name, ratings, Catalog::default()))
                    }
                    Err(e) => state.fail(format!("{name}: {e}")),
                },
                Err(e) => state.fail(format!("{name}: could not be read ({e})")),
            }
            loading.set(false);
        });
    };

    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            load_file(file);
        }
        // Picking the same file again should load it again.
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        let file = ev
            .data_transfer()
            .and_then(|dt| dt.files())
            .and_then(|files| files.get(0));
        match file {
            Some(file) => load_file(file),
            None => state.fail("Nothing to load: drop a ratings file (CSV, TSV or .dat)."),
        }
    };
    let on_metadata = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        input.set_value("");
        spawn_local(async move {
            let name = file.name();
            match read_bytes(&file).await {
                Ok(bytes) => match parse_metadata(&bytes) {
                    Ok(catalog) => {
                        let known = state.dataset.with_untracked(|d| {
                            d.as_ref().map_or(0, |d| {
                                d.ratings
                                    .items()
                                    .ids()
                                    .iter()
                                    .filter(|id| catalog.get(id).is_some())
                                    .count()
                            })
                        });
                        if state.set_catalog(catalog) {
                            notice.set(Some(format!(
                                "{name}: titles and categories for {} rated items.",
                                thousands(known)
                            )));
                        } else {
                            state.fail("Load a ratings file first, then its item metadata.");
                        }
                    }
                    Err(e) => state.fail(format!("{name}: {e}")),
                },
                Err(e) => state.fail(format!("{name}: could not be read ({e})")),
            }
        });
    };
    let load_demo = move |_| {
        notice.set(None);
        let data = demo::generate(&DemoSpec::default());
        state.load(Dataset::new(
            "Demo catalog".into(),
            data.ratings,
            data.catalog,
        ));
    };

    view! {
        <section class="card" aria-labelledby="data-title">
            <h2 id="data-title">"1. Data"</h2>
            <label
                class="dropzone"
                class:dragging=move || dragging.get()
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop
            >
                <span class="dropzone-title">"Drop a ratings file here, or choose one"</span>
                <span class="hint">
                    "user, item, rating[, timestamp]: CSV with or without header, TSV like MovieLens u.data, or :: separated .dat"
                </span>
                <input
                    type="file"
                    data-testid="ratings-file"
                    accept=".csv,.tsv,.txt,.dat,.data,text/csv,text/plain"
                    on:change=on_pick
                />
            </label>
            <div class="row">
                <button data-testid="load-demo" class="secondary" on:click=load_demo>
                    "Load the demo catalog"
                </button>
                <span class="hint">"800 viewers, 500 films with genres: generated in your browser."</span>
            </div>
            <label class="param">
                <span class="param-label">"Item metadata (optional)"</span>
                <input
                    type="file"
                    data-testid="metadata-file"
                    accept=".csv,.tsv,.txt,.dat,.item,text/csv,text/plain"
                    on:change=on_metadata
                />
                <span class="hint">
                    "Titles and categories joined by item id: MovieLens movies.csv, movies.dat or u.item, or a CSV id,title,genres"
                </span>
            </label>
            <p class="status" hidden=move || !loading.get()>"Reading the file…"</p>
            <p class="hint" data-testid="data-notice" hidden=move || notice.with(Option::is_none)>
                {move || notice.get().unwrap_or_default()}
            </p>
            <Summary/>
        </section>
    }
}

#[component]
fn Summary() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.dataset.get().map(|d| {
            let s = &d.summary;
            view! {
                <dl class="summary" data-testid="dataset-summary">
                    <div><dt>"Dataset"</dt><dd>{d.name.clone()}</dd></div>
                    <div><dt>"Ratings"</dt><dd>{thousands(s.n_ratings)}</dd></div>
                    <div><dt>"Users"</dt><dd>{thousands(s.n_users)}</dd></div>
                    <div><dt>"Items"</dt><dd>{thousands(s.n_items)}</dd></div>
                    <div><dt>"Density"</dt><dd>{format!("{:.2}%", s.density * 100.0)}</dd></div>
                    <div>
                        <dt>"Scale"</dt>
                        <dd>{format!("{} to {} (mean {:.2})", s.min_rating, s.max_rating, s.mean_rating)}</dd>
                    </div>
                </dl>
            }
        })
    }
}

async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let value = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(js_sys::Uint8Array::new(&value).to_vec())
}
