//! The library: stored datasets, models and runs, with open, rename and delete, and how much
//! of the browser's storage they use.

use leptos::prelude::*;

use crate::format::{duration_ms, metric, thousands};
use crate::storage::library::date_time;
use crate::storage::records::{human_bytes, Body, Entry};
use crate::storage::{Availability, Library};

/// A banner with the last storage problem (quota, no storage, damaged record).
#[component]
pub fn StorageBanner() -> impl IntoView {
    let lib = expect_context::<Library>();
    view! {
        <div class="storage-banner" role="status" hidden=move || lib.message.with(Option::is_none)>
            <span data-testid="storage-message">{move || lib.message.get().unwrap_or_default()}</span>
            <button class="dismiss" aria-label="Dismiss" data-testid="storage-message-dismiss"
                on:click=move |_| lib.message.set(None)>
                "×"
            </button>
        </div>
    }
}

/// The library section.
#[component]
pub fn LibrarySection() -> impl IntoView {
    let lib = expect_context::<Library>();
    let confirm_clear = RwSignal::new(false);
    let usage_line = move || match (lib.availability.get(), lib.usage.get()) {
        (Availability::Opening, _) => "Opening the browser's database…".to_owned(),
        (Availability::Unavailable, _) => {
            "Storage is unavailable: nothing will be kept after a reload.".to_owned()
        }
        (Availability::Ready, Some(u)) => format!(
            "{} used of {} available to this page ({:.1}%).",
            human_bytes(u.usage),
            human_bytes(u.quota),
            if u.quota > 0.0 {
                100.0 * u.usage / u.quota
            } else {
                0.0
            }
        ),
        (Availability::Ready, None) => "The browser does not say how much storage is used.".into(),
    };
    view! {
        <section class="card wide library" aria-labelledby="library-title" data-testid="library">
            <h2 id="library-title">"Library"</h2>
            <p class="hint">
                "Datasets, models and runs are kept in this browser (IndexedDB), never uploaded. \
                 After a reload the last dataset and model come back."
            </p>
            <p class="status" data-testid="storage-usage">{usage_line}</p>
            <div class="table-wrap">
                <table class="library-table">
                    <thead>
                        <tr>
                            <th>"Kind"</th>
                            <th>"Name"</th>
                            <th>"Details"</th>
                            <th>"Size"</th>
                            <th>"Date"</th>
                            <th><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || newest_first(lib.entries.get())
                            key=|e| (e.id.clone(), e.name().to_owned(), details(e))
                            children=move |e| view! { <Row entry=e/> }
                        />
                        <For
                            each=move || lib.damaged.get()
                            key=|(id, _)| id.clone()
                            children=move |(id, why)| {
                                let del = id.clone();
                                view! {
                                    <tr class="library-row damaged" data-testid="library-row" data-kind="damaged">
                                        <td>"damaged"</td>
                                        <td>{id}</td>
                                        <td>{why}</td>
                                        <td></td>
                                        <td></td>
                                        <td class="library-actions">
                                            <button class="secondary" data-testid="library-delete"
                                                on:click=move |_| lib.delete(del.clone())>"Delete"</button>
                                        </td>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
            <p class="hint" hidden=move || !lib.entries.with(Vec::is_empty) || !lib.damaged.with(Vec::is_empty)
                data-testid="library-empty">
                "Nothing stored yet: load a dataset and it is kept here."
            </p>
            <div class="row">
                <button class="secondary danger" data-testid="library-clear"
                    hidden=move || confirm_clear.get()
                    disabled=move || lib.availability.get() != Availability::Ready
                    on:click=move |_| confirm_clear.set(true)>
                    "Delete everything"
                </button>
                <span hidden=move || !confirm_clear.get() class="library-confirm">
                    "Delete every stored dataset, model and run? "
                    <button class="primary danger" data-testid="library-clear-confirm"
                        on:click=move |_| {
                            confirm_clear.set(false);
                            lib.clear();
                        }>"Delete everything"</button>
                    " "
                    <button class="secondary" data-testid="library-clear-cancel"
                        on:click=move |_| confirm_clear.set(false)>"Keep"</button>
                </span>
            </div>
        </section>
    }
}

#[component]
fn Row(entry: Entry) -> impl IntoView {
    let lib = expect_context::<Library>();
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(entry.name().to_owned());
    let id = entry.id.clone();
    let current = {
        let id = id.clone();
        move || {
            lib.pointer.with(|p| {
                p.dataset_id.as_deref() == Some(id.as_str())
                    || p.model_id.as_deref() == Some(id.as_str())
            })
        }
    };
    let can_open = match &entry.body {
        Body::Run(r) => r.model_id.is_some(),
        _ => true,
    };
    let (open_id, save_id, del_id) = (id.clone(), id.clone(), id.clone());
    let save = move || {
        editing.set(false);
        lib.rename(save_id.clone(), draft.get_untracked());
    };
    let save2 = save.clone();
    let name = entry.name().to_owned();
    view! {
        <tr class="library-row" class:current=current data-testid="library-row" data-kind=entry.kind() data-id=id>
            <td class="library-kind">{entry.kind()}</td>
            <td class="library-name" data-testid="library-name">
                <span hidden=move || editing.get()>{name}</span>
                <span hidden=move || !editing.get()>
                    <input type="text" data-testid="library-rename-input" aria-label="New name"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" { save2() }
                            if ev.key() == "Escape" { editing.set(false) }
                        }/>
                </span>
            </td>
            <td class="library-details" data-testid="library-details">{details(&entry)}</td>
            <td class="library-size">{human_bytes(entry.size() as f64)}</td>
            <td class="library-date">{date_time(entry.created_ms)}</td>
            <td class="library-actions">
                <button class="secondary" data-testid="library-open" hidden=!can_open
                    on:click=move |_| lib.open(open_id.clone())>"Open"</button>
                <button class="secondary" data-testid="library-rename" hidden=move || editing.get()
                    on:click=move |_| editing.set(true)>"Rename"</button>
                <button class="secondary" data-testid="library-rename-save" hidden=move || !editing.get()
                    on:click=move |_| save()>"Save"</button>
                <button class="secondary danger" data-testid="library-delete"
                    on:click=move |_| lib.delete(del_id.clone())>"Delete"</button>
            </td>
        </tr>
    }
}

/// The list as shown: newest first.
fn newest_first(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.reverse();
    entries
}

/// One line about an entry: counts for a dataset, scores for a model, outcome for a run.
fn details(e: &Entry) -> String {
    match &e.body {
        Body::Dataset(d) => format!(
            "{} ratings · {} users · {} items{}",
            thousands(d.n_ratings as usize),
            thousands(d.n_users as usize),
            thousands(d.n_items as usize),
            if d.catalog_blob.is_some() {
                " · with titles"
            } else {
                ""
            }
        ),
        Body::Model(m) => format!(
            "rank {} · test RMSE {} · NDCG@10 {}",
            m.scores.params.rank,
            metric(m.scores.evaluation.rmse),
            metric(m.scores.ranking.ndcg_at_k)
        ),
        Body::Run(r) => {
            let mut s = r.status.label().to_owned();
            if let Some(d) = r.duration_ms {
                s.push_str(&format!(" after {}", duration_ms(d)));
            }
            s.push_str(&format!(" · {} fits", r.fits_total));
            if let Some(sc) = &r.scores {
                s.push_str(&format!(" · test RMSE {}", metric(sc.evaluation.rmse)));
            }
            if let Some(cv) = &r.cv {
                s.push_str(&format!(" · {} grid points", cv.points.len()));
            }
            if let Some(d) = r.shown_detail() {
                s.push_str(&format!(" · {d}"));
            }
            s
        }
    }
}
