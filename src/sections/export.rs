//! Export: recommendations as CSV (the current user, or every user) and the model as a binary
//! model file, saved through a Blob, an object URL and a temporary `<a download>`.
//!
//! Everything is computed on the main thread: all users of the demo (800 users × 500 items)
//! take a few milliseconds. Datasets with hundreds of thousands of users would freeze the
//! page for seconds and belong in the worker.

use std::fmt::Write as _;
use std::time::Duration;

use affinity_engine::als::AlsModel;
use affinity_engine::model_io::ModelFile;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use super::recommend::{top_for_users, RecContext, RecOptions};
use crate::format::thousands;
use crate::state::{AppState, Dataset};

/// The CSV header of a recommendations file.
pub(crate) const CSV_HEADER: &str = "user,rank,item,title,score";
/// A user index and their ranked `(item, score)` list; `None` for a user without factors.
type UserList = (u32, Option<Vec<(u32, f32)>>);
/// How long an object URL outlives its click: the browser has copied the blob by then.
const REVOKE_AFTER: Duration = Duration::from_secs(60);

/// The export section.
#[component]
pub fn ExportSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let ctx = expect_context::<RecContext>();
    let message = RwSignal::new(None::<String>);
    let no_model = move || state.trained.with(Option::is_none);

    let run = move |what: Export| {
        let result = untrack(|| export(&state, &ctx, what));
        message.set(Some(match result {
            Ok(done) => done,
            Err(e) => format!("Nothing saved: {e}"),
        }));
    };
    let settings = move || match ctx.options() {
        Ok(o) => {
            let filter = match &o.filter {
                None => String::new(),
                Some(f) if f.exclude => format!(", without {}", f.category),
                Some(f) => format!(", {} only", f.category),
            };
            let rated = if o.hide_rated {
                ", rated titles left out"
            } else {
                ""
            };
            format!("Top {} per user{filter}{rated}, as set in Recommend.", o.n)
        }
        Err(e) => e,
    };

    view! {
        <section class="card" aria-labelledby="export-heading">
            <h2 id="export-heading">"6. Export"</h2>
            <p class="hint">{settings}</p>
            <div class="row">
                <button
                    class="secondary"
                    data-testid="export-user-csv"
                    disabled=move || no_model() || ctx.user.with(Option::is_none)
                    on:click=move |_| run(Export::UserCsv)
                >
                    {move || {
                        let user = ctx.user.get();
                        match (user, state.dataset.get()) {
                            (Some(u), Some(d)) => format!("This user's list (user {})", d.ratings.users().id(u)),
                            _ => "This user's list".to_owned(),
                        }
                    }}
                </button>
                <button
                    class="secondary"
                    data-testid="export-all-csv"
                    disabled=no_model
                    on:click=move |_| run(Export::AllCsv)
                >
                    "Every user's list"
                </button>
                <button
                    class="secondary"
                    data-testid="export-model"
                    disabled=no_model
                    on:click=move |_| run(Export::Model)
                >
                    "The model file"
                </button>
                <button
                    class="secondary"
                    data-testid="export-spark-job"
                    disabled=no_model
                    on:click=move |_| run(Export::SparkJob)
                >
                    "A PySpark job"
                </button>
            </div>
            <p class="hint">
                "CSV columns: user, rank, item, title, score. The model file (binary, "
                <code>"AFFM"</code>
                " v2) serves recommendations with "
                <code>"affinity recommend --model"</code>
                "."
            </p>
            <p class="status" role="status" data-testid="export-status">{move || message.get()}</p>
        </section>
    }
}

/// What to save.
#[derive(Clone, Copy, Debug)]
enum Export {
    UserCsv,
    AllCsv,
    Model,
    SparkJob,
}

/// Builds and saves one export; returns what was saved, for the status line.
fn export(state: &AppState, ctx: &RecContext, what: Export) -> Result<String, String> {
    let dataset = state.dataset.get().ok_or("no data loaded")?;
    let trained = state.trained.get().ok_or("no model trained yet")?;
    let model = &trained.model;
    match what {
        Export::UserCsv | Export::AllCsv => {
            let options = ctx.options()?;
            let (lists, file_name) = match what {
                Export::UserCsv => {
                    let user = ctx
                        .user
                        .get()
                        .ok_or("ask for a user's recommendations first")?;
                    let id = dataset.ratings.users().id(user);
                    let lists = top_for_users(&dataset, model, &[user], &options);
                    (
                        vec![(user, lists.into_iter().next().flatten())],
                        format!("recommendations-user-{}.csv", file_safe(id)),
                    )
                }
                _ => {
                    let lists = all_users(&dataset, model, &options);
                    (lists, "recommendations-all-users.csv".to_owned())
                }
            };
            let (csv, rows) = recommendations_csv(&dataset, &lists);
            download(csv.as_bytes(), "text/csv;charset=utf-8", &file_name)?;
            Ok(format!("Saved {} ({} rows).", file_name, thousands(rows)))
        }
        Export::Model => {
            let file = ModelFile::from_model(
                model,
                dataset.ratings.users().ids(),
                dataset.ratings.items().ids(),
            )
            .and_then(|f| f.to_bytes())
            .map_err(|e| e.to_string())?;
            let file_name = "affinity-model.affm";
            download(&file, "application/octet-stream", file_name)?;
            Ok(format!(
                "Saved {file_name} ({} bytes).",
                thousands(file.len())
            ))
        }
        Export::SparkJob => {
            // Spark's ALS has no biases: the script fits the same model without them.
            let params = affinity_engine::als::AlsParams {
                biases: false,
                ..trained.params.clone()
            };
            let script = affinity_engine::spark_script::render(
                &affinity_engine::spark_script::SparkJob::Fit(params),
            )
            .map_err(|e| e.to_string())?;
            let file_name = "affinity-spark-job.py";
            download(script.as_bytes(), "text/x-python;charset=utf-8", file_name)?;
            Ok(format!(
                "Saved {file_name}: run it with python {file_name} --ratings FILE --out DIR, then \
                 affinity import-spark (see the script's header).{}",
                if trained.params.biases {
                    " Spark has no biases, so the script fits the model without them."
                } else {
                    ""
                }
            ))
        }
    }
}

/// Every user's list (users the model has no factors for get none): `serve::recommend_all`
/// under the recommend section's settings.
fn all_users(dataset: &Dataset, model: &AlsModel, options: &RecOptions) -> Vec<UserList> {
    let users: Vec<u32> = (0..model.n_users() as u32).collect();
    users
        .iter()
        .copied()
        .zip(top_for_users(dataset, model, &users, options))
        .collect()
}

/// The CSV text of `lists` (user index, ranked items) and its number of data rows.
pub(crate) fn recommendations_csv(dataset: &Dataset, lists: &[UserList]) -> (String, usize) {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    let mut rows = 0;
    for (user, list) in lists {
        let user_id = dataset.ratings.users().id(*user);
        for (rank, (item, score)) in list.iter().flatten().enumerate() {
            let _ = write!(
                out,
                "{},{},{},{},{:.4}\r\n",
                csv_field(user_id),
                rank + 1,
                csv_field(dataset.ratings.items().id(*item)),
                csv_field(&dataset.title(*item)),
                score
            );
            rows += 1;
        }
    }
    (out, rows)
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, with quotes
/// doubled.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// `id` with anything but letters, digits, `-` and `_` replaced, for a file name.
fn file_safe(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Offers `bytes` as a download named `file_name`.
fn download(bytes: &[u8], mime: &str, file_name: &str) -> Result<(), String> {
    let failed = |what: &str, e: JsValue| format!("the browser refused to {what} ({e:?})");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| failed("make a file", e))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|e| failed("make a download link", e))?;
    let document = document();
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| failed("make a download link", e))?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(file_name);
    link.set_hidden(true);
    let body = document.body().ok_or("the page has no body")?;
    body.append_child(&link)
        .map_err(|e| failed("add the download link", e))?;
    link.click();
    link.remove();
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        REVOKE_AFTER,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use affinity_engine::catalog::{Catalog, ItemInfo};
    use affinity_engine::Ratings;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut ratings = Ratings::default();
        ratings.push("u,1", "a", 4.0);
        ratings.push("u2", "b", 4.0);
        let mut catalog = Catalog::default();
        catalog.insert(
            "a",
            ItemInfo {
                title: "Say \"when\", then".into(),
                categories: vec![],
            },
        );
        let d = Dataset::new("t".into(), ratings, catalog);
        let (csv, rows) =
            recommendations_csv(&d, &[(0, Some(vec![(1, 4.5), (0, 3.25)])), (1, None)]);
        assert_eq!(rows, 2);
        assert_eq!(
            csv,
            "user,rank,item,title,score\r\n\
             \"u,1\",1,b,b,4.5000\r\n\
             \"u,1\",2,a,\"Say \"\"when\"\", then\",3.2500\r\n"
        );
        assert_eq!(file_safe("a/b c"), "a_b_c");
    }
}
