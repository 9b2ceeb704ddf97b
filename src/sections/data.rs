//! Loading ratings: a file (picked, or dropped anywhere on the section) or the built-in demo
//! catalog; a preview of the file's first rows with a column mapping the visitor can correct;
//! the dataset summary with its rating histogram and long-tail charts.

use std::sync::Arc;

use affinity_engine::catalog::Catalog;
use affinity_engine::demo::{self, DemoSpec};
use affinity_engine::metadata::parse_metadata;
use affinity_engine::parse::{detect_format, Columns, Delimiter, Format, ParseReport};
use affinity_engine::parse_options::{
    check_columns, decode_text, first_line_fields, preview, Preview,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

use crate::charts::{long_tail, rating_histogram};
use crate::format::thousands;
use crate::next_task::next_task;
use crate::reading::{read_ratings, stop_active, ReadError, ReadProgress};
use crate::sections::theme::chart_theme;
use crate::state::{AppState, Dataset};
use crate::storage::Library;
use crate::wire::ReadFile;

/// Rows shown in the preview.
const PREVIEW_ROWS: usize = 8;

/// Bytes of a file's start decoded for its preview and format detection.
const HEAD_BYTES: f64 = 64.0 * 1024.0;

/// A ratings file kept by handle, so it can be read again with a corrected format; its
/// first bytes are kept as text for the preview.
#[derive(Clone)]
struct Source {
    name: String,
    file: web_sys::File,
    /// The whole lines of the file's first [`HEAD_BYTES`].
    head: Arc<str>,
    /// The format detected from the head.
    detected: Option<Format>,
}

/// The delimiters offered in the mapping, with their form value and label.
const DELIMITERS: [(Delimiter, &str, &str); 6] = [
    (Delimiter::Byte(b','), "comma", "Comma ( , )"),
    (Delimiter::Byte(b'\t'), "tab", "Tab"),
    (Delimiter::Byte(b';'), "semicolon", "Semicolon ( ; )"),
    (Delimiter::Byte(b'|'), "pipe", "Pipe ( | )"),
    (
        Delimiter::DoubleColon,
        "double-colon",
        "Double colon ( :: )",
    ),
    (Delimiter::Whitespace, "whitespace", "Spaces"),
];

fn delimiter_label(d: Delimiter) -> &'static str {
    DELIMITERS
        .iter()
        .find(|(x, _, _)| *x == d)
        .map_or("other", |(_, _, l)| l)
}

/// The data section: file input, drop target, demo button, preview and mapping, summary, charts.
#[component]
pub fn DataSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let library = expect_context::<Library>();
    // Drag events fire on every child the pointer crosses: count enters minus leaves.
    let drag_depth = RwSignal::new(0i32);
    let loading = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let source = RwSignal::new_local(None::<Source>);
    let progress = RwSignal::new(None::<ReadProgress>);
    let format = RwSignal::new(None::<Format>);
    let mapping_error = RwSignal::new(None::<String>);

    // Loads parsed ratings as the dataset, keeping `catalog`, and reports dropped duplicates.
    let accept = move |name: String, file: ReadFile, report: &ParseReport, catalog: Catalog| {
        notice.set(report.first_duplicate.as_ref().map(|d| {
            format!(
                "{} repeated ratings were dropped: the last rating of a (user, item) pair wins \
                 (first: line {} repeats line {}, user {}, item {}).",
                thousands(report.duplicates),
                d.line,
                d.earlier_line,
                d.user,
                d.item
            )
        }));
        let ReadFile {
            ratings,
            facts,
            encoded,
        } = file;
        let dataset = Dataset::with_facts(name, ratings, catalog, facts);
        library.expect_encoded(&dataset, encoded);
        state.load(dataset);
    };

    // Reads `src` in a worker with `format` (None: detected) and loads the ratings; on a
    // failure the previous dataset stays, and `on_error` says what went wrong.
    let read = move |src: Source,
                     format: Option<Format>,
                     catalog: Catalog,
                     on_error: fn(AppState, RwSignal<Option<String>>, String)| {
        loading.set(true);
        progress.set(None);
        spawn_local(async move {
            let result =
                read_ratings(src.file.clone(), format, move |p| progress.set(Some(p))).await;
            match result {
                Err(ReadError::Superseded) => return,
                Ok((file, report)) => {
                    // Decoding the worker's answer was one task; building the dataset and
                    // drawing it is the next.
                    next_task().await;
                    mapping_error.set(None);
                    accept(src.name, *file, &report, catalog);
                }
                // A file's read is never of stored ratings, so never damaged; reported alike.
                Err(ReadError::Failed(e) | ReadError::Damaged(e)) => {
                    on_error(state, mapping_error, format!("{}: {e}", src.name))
                }
            }
            loading.set(false);
            progress.set(None);
        });
    };

    let load_file = move |file: web_sys::File| {
        loading.set(true);
        progress.set(None);
        notice.set(None);
        mapping_error.set(None);
        spawn_local(async move {
            let name = file.name();
            let head = read_head(&file).await;
            let detected = head.as_deref().and_then(detect_format);
            // The preview stays even when the detected format fails: correcting the mapping
            // is how the visitor fixes it.
            let src = Source {
                name: name.clone(),
                file,
                head: Arc::from(head.unwrap_or_default()),
                detected,
            };
            source.set(Some(src.clone()));
            format.set(detected);
            read(src, None, Catalog::default(), |state, _, message| {
                state.fail(message)
            });
        });
    };

    // Reads the file again with the visitor's format; on failure the previous dataset stays.
    let remap = move |next: Format| {
        format.set(Some(next));
        let Some(src) = source.get_untracked() else {
            return;
        };
        if let Err(e) = check_columns(&next.columns) {
            mapping_error.set(Some(format!(
                "{}: {e}. The summary below still shows the last mapping that worked.",
                src.name
            )));
            return;
        }
        // Metadata joined to this file still applies: it is keyed by item id.
        let catalog = state
            .dataset
            .with_untracked(|d| {
                d.as_ref()
                    .filter(|d| d.name == src.name)
                    .map(|d| d.catalog.clone())
            })
            .unwrap_or_default();
        read(src, Some(next), catalog, |_, mapping_error, message| {
            mapping_error.set(Some(format!(
                "{message}. The summary below still shows the last mapping that worked."
            )))
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
        drag_depth.set(0);
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
        stop_active();
        loading.set(false);
        progress.set(None);
        notice.set(None);
        mapping_error.set(None);
        source.set(None);
        format.set(None);
        let data = demo::generate(&DemoSpec::default());
        state.load(Dataset::new(
            "Demo catalog".into(),
            data.ratings,
            data.catalog,
        ));
    };

    let on_dragenter = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        drag_depth.update(|d| *d += 1);
    };
    // Without this the browser opens the dropped file instead of handing it to the page.
    let on_dragover = move |ev: leptos::ev::DragEvent| ev.prevent_default();
    let on_dragleave = move |_: leptos::ev::DragEvent| drag_depth.update(|d| *d = (*d - 1).max(0));
    let dropping = move || drag_depth.get() > 0;

    view! {
        <section
            class="card wide"
            class:dropping=dropping
            aria-labelledby="data-title"
            on:dragenter=on_dragenter
            on:dragover=on_dragover
            on:dragleave=on_dragleave
            on:drop=on_drop
        >
            <h2 id="data-title">"1. Data"</h2>
            <label class="dropzone" class:dragging=dropping>
                <span class="dropzone-title">"Drop a ratings file on this card, or choose one"</span>
                <span class="hint">
                    "user, item, rating[, timestamp]: CSV with or without header, TSV like MovieLens u.data, or :: separated .dat"
                </span>
                <input
                    type="file"
                    data-testid="ratings-file"
                    aria-label="Ratings file"
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
            <div class="status" data-testid="read-status" hidden=move || !loading.get()>
                <progress
                    data-testid="read-progress"
                    max="1"
                    value=move || progress.get().map_or(0.0, |p| p.bytes_read / p.total_bytes.max(1.0))
                    aria-label="Reading the file"
                ></progress>
                <span>{move || read_status(progress.get())}</span>
            </div>
            <p class="hint" data-testid="data-notice" hidden=move || notice.with(Option::is_none)>
                {move || notice.get().unwrap_or_default()}
            </p>
            <PreviewAndMapping source=source format=format mapping_error=mapping_error remap=remap/>
            <Summary/>
            <DataCharts/>
        </section>
    }
}

/// What the preview shows: the file's name, the detected and the current format, and the
/// first rows split with the current one.
#[derive(Clone, PartialEq)]
struct Shown {
    name: String,
    detected: Option<Format>,
    format: Format,
    preview: Preview,
    /// A name per column: the header's, else "Column k".
    names: Vec<String>,
}

impl Shown {
    fn role_of(&self, c: usize) -> Option<&'static str> {
        let cols = self.format.columns;
        if c == cols.user {
            Some("user")
        } else if c == cols.item {
            Some("item")
        } else if c == cols.rating {
            Some("rating")
        } else {
            None
        }
    }
}

fn highest_column(c: &Columns) -> usize {
    c.user.max(c.item).max(c.rating)
}

/// The first rows of the loaded file as the current format splits them, and the controls that
/// change that format. The controls are rendered once per file, so a select keeps the
/// keyboard focus while the table below it is redrawn.
#[component]
fn PreviewAndMapping(
    source: RwSignal<Option<Source>, LocalStorage>,
    format: RwSignal<Option<Format>>,
    mapping_error: RwSignal<Option<String>>,
    remap: impl Fn(Format) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let has_source = Memo::new(move |_| source.with(Option::is_some));
    let shown = Memo::new(move |_| {
        let fmt = format.get()?;
        source.with(|s| {
            let s = s.as_ref()?;
            let preview = preview(&s.head, Some(fmt), PREVIEW_ROWS)?;
            let n_columns = preview.n_columns.max(highest_column(&fmt.columns) + 1);
            let names = (0..n_columns)
                .map(|c| match preview.header.as_ref().and_then(|h| h.get(c)) {
                    Some(name) if !name.is_empty() => name.clone(),
                    _ => format!("Column {}", c + 1),
                })
                .collect();
            Some(Shown {
                name: s.name.clone(),
                detected: s.detected,
                format: fmt,
                preview,
                names,
            })
        })
    });

    let detected_text = move || {
        shown.with(|s| match s.as_ref().map(|s| s.detected) {
            Some(Some(d)) => format!(
                "Detected: {} separated, {}.",
                delimiter_label(d.delimiter),
                if d.has_header {
                    "with a header line"
                } else {
                    "no header line"
                }
            ),
            _ => "Nothing detected: the file has no non-blank line.".to_owned(),
        })
    };
    let table = move || {
        shown.get().map(|s| {
            let head = s
                .names
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    let role = s.role_of(c);
                    view! {
                        <th scope="col" class:mapped=role.is_some()>
                            <span class="role" class:unused=role.is_none()>{role.unwrap_or("not used")}</span>
                            {name.clone()}
                        </th>
                    }
                })
                .collect_view();
            let rows = s
                .preview
                .rows
                .iter()
                .map(|row| {
                    let cells = (0..s.names.len())
                        .map(|c| {
                            view! {
                                <td class:mapped=s.role_of(c).is_some()>
                                    {row.get(c).cloned().unwrap_or_default()}
                                </td>
                            }
                        })
                        .collect_view();
                    view! { <tr data-testid="preview-row">{cells}</tr> }
                })
                .collect_view();
            view! {
                <div class="table-wrap" tabindex="0" role="region" aria-label="Preview of the file's first rows">
                <table class="preview-table">
                    <caption>
                        {format!(
                            "The first {} rows of {}{}",
                            s.preview.rows.len(),
                            s.name,
                            if s.format.has_header { ", below its header line" } else { "" }
                        )}
                    </caption>
                    <thead><tr>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
                </div>
            }
        })
    };

    // Changing the delimiter changes what the columns are: keep the mapping if it still
    // fits, else start again from user, item, rating in the first three columns.
    let set_delimiter = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let (Some(&(delimiter, _, _)), Some(fmt)) = (
            DELIMITERS.iter().find(|(_, v, _)| *v == value),
            format.get_untracked(),
        ) else {
            return;
        };
        let text = source
            .with_untracked(|s| s.as_ref().map(|s| s.head.clone()))
            .unwrap_or_else(|| Arc::from(""));
        let fields = first_line_fields(&text, delimiter).len();
        let columns = if highest_column(&fmt.columns) < fields {
            fmt.columns
        } else {
            Columns {
                user: 0,
                item: 1,
                rating: 2,
            }
        };
        remap(Format {
            delimiter,
            columns,
            ..fmt
        });
    };
    let set_header = move |ev: leptos::ev::Event| {
        if let Some(fmt) = format.get_untracked() {
            remap(Format {
                has_header: event_target_checked(&ev),
                ..fmt
            });
        }
    };
    let reset = move |_| {
        if let Some(d) = source.get_untracked().and_then(|s| s.detected) {
            remap(d);
        }
    };
    let current_delimiter = move || shown.with(|s| s.as_ref().map(|s| s.format.delimiter));
    let changed = move || {
        shown.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.detected.is_some_and(|d| d != s.format))
        })
    };

    move || {
        has_source.get().then(|| {
            let delimiter_options = DELIMITERS
                .iter()
                .map(|&(d, value, label)| {
                    view! {
                        <option value=value prop:selected=move || current_delimiter() == Some(d)>{label}</option>
                    }
                })
                .collect_view();
            view! {
                <div class="preview" data-testid="data-preview">
                    <h3>"Preview"</h3>
                    <p class="hint" data-testid="detected-format">{detected_text}</p>
                    <div class="table-wrap">{table}</div>
                    <fieldset class="mapping">
                        <legend>"How to read the file"</legend>
                        <label class="param">
                            <span class="param-label">"Delimiter"</span>
                            <select data-testid="map-delimiter" on:change=set_delimiter>
                                {delimiter_options}
                            </select>
                        </label>
                        <label class="check-line">
                            <input
                                type="checkbox"
                                data-testid="map-header"
                                prop:checked=move || shown.with(|s| s.as_ref().is_some_and(|s| s.format.has_header))
                                on:change=set_header
                            />
                            "First line is a header"
                        </label>
                        {column_select("user", "map-user", shown, format, mapping_error, remap)}
                        {column_select("item", "map-item", shown, format, mapping_error, remap)}
                        {column_select("rating", "map-rating", shown, format, mapping_error, remap)}
                        <div class="wide row" hidden=move || !changed()>
                            <button type="button" class="secondary small" data-testid="map-reset" on:click=reset>
                                "Back to the detected format"
                            </button>
                        </div>
                    </fieldset>
                    <p
                        class="mapping-error"
                        role="alert"
                        data-testid="mapping-error"
                        hidden=move || mapping_error.with(Option::is_none)
                    >
                        {move || mapping_error.get().unwrap_or_default()}
                    </p>
                </div>
            }
        })
    }
}

/// The select that says which column holds `role` ("user", "item" or "rating").
fn column_select(
    role: &'static str,
    testid: &'static str,
    shown: Memo<Option<Shown>>,
    format: RwSignal<Option<Format>>,
    mapping_error: RwSignal<Option<String>>,
    remap: impl Fn(Format) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let pick = move |c: &Columns| match role {
        "user" => c.user,
        "item" => c.item,
        _ => c.rating,
    };
    let options = move || {
        shown.get().map(|s| {
            let current = pick(&s.format.columns);
            s.names
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    let label = if name.starts_with("Column ") {
                        name.clone()
                    } else {
                        format!("{}: {name}", c + 1)
                    };
                    view! { <option value=c.to_string() prop:selected=c == current>{label}</option> }
                })
                .collect_view()
        })
    };
    let on_change = move |ev: leptos::ev::Event| {
        let (Ok(c), Some(fmt)) = (
            event_target_value(&ev).parse::<usize>(),
            format.get_untracked(),
        ) else {
            return;
        };
        let mut columns = fmt.columns;
        match role {
            "user" => columns.user = c,
            "item" => columns.item = c,
            _ => columns.rating = c,
        }
        // A clash is shown at once, without reading the file again.
        if let Err(e) = check_columns(&columns) {
            format.set(Some(Format { columns, ..fmt }));
            mapping_error.set(Some(format!("{}.", capitalised(&e.to_string()))));
            return;
        }
        remap(Format { columns, ..fmt });
    };
    view! {
        <label class="param">
            <span class="param-label">{format!("{} column", capitalised(role))}</span>
            <select data-testid=testid on:change=on_change>{options}</select>
        </label>
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
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

/// The rating histogram and the long tail of ratings per item, in the current theme.
#[component]
fn DataCharts() -> impl IntoView {
    let state = expect_context::<AppState>();
    // Worked out once per dataset (`Facts`); only the drawing follows the theme.
    let counts = Memo::new(move |_| {
        state.dataset.with(|d| {
            d.as_ref()
                .map(|d| (d.rating_bins.clone(), d.item_counts.clone()))
        })
    });
    move || {
        counts.get().map(|(bins, per_item)| {
            let hist = move || rating_histogram(&bins, &chart_theme());
            let tail = move || long_tail(&per_item, &chart_theme());
            view! {
                <div class="data-charts">
                    <figure class="chart" data-testid="rating-histogram">
                        <figcaption>"Ratings by value"</figcaption>
                        <div inner_html=hist></div>
                    </figure>
                    <figure class="chart" data-testid="long-tail-chart">
                        <figcaption>"Ratings per item (the long tail)"</figcaption>
                        <div inner_html=tail></div>
                    </figure>
                </div>
            }
        })
    }
}

/// What the reading status says: the share of the file read and the ratings so far; once
/// all of it is read, what is still being done (a file of tens of millions of ratings takes
/// seconds more: the repeats, the summary, the copy kept for storage).
fn read_status(progress: Option<ReadProgress>) -> String {
    match progress {
        None => "Reading the file…".to_owned(),
        Some(p) if p.bytes_read >= p.total_bytes => format!(
            "All {} read, {} ratings: looking for repeated ratings and summarising them…",
            megabytes(p.total_bytes),
            thousands(p.lines_read)
        ),
        Some(p) => format!(
            "Reading the file in the background: {:.0}% of {}, {} ratings so far…",
            100.0 * p.bytes_read / p.total_bytes.max(1.0),
            megabytes(p.total_bytes),
            thousands(p.lines_read)
        ),
    }
}

fn megabytes(bytes: f64) -> String {
    if bytes >= 1e6 {
        format!("{:.1} MB", bytes / 1e6)
    } else {
        format!("{} KB", (bytes / 1e3).ceil())
    }
}

/// The whole lines of the file's first [`HEAD_BYTES`], decoded for the preview; `None` when
/// they are not text (the full read then says why).
async fn read_head(file: &web_sys::File) -> Option<String> {
    let blob = file.slice_with_f64_and_f64(0.0, HEAD_BYTES).ok()?;
    let value = JsFuture::from(blob.array_buffer()).await.ok()?;
    let bytes = js_sys::Uint8Array::new(&value).to_vec();
    let whole = if (bytes.len() as f64) < HEAD_BYTES {
        &bytes[..]
    } else {
        // Cut after the last line break, so no character or line is cut in two (a UTF-16
        // file keeps an even length).
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(at) if bytes.starts_with(&[0xFF, 0xFE]) => &bytes[..(at + 2).min(bytes.len())],
            Some(at) => &bytes[..=at],
            None => &bytes[..],
        }
    };
    decode_text(whole).ok().map(|t| t.into_owned())
}

async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let value = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(js_sys::Uint8Array::new(&value).to_vec())
}
