//! The library: keeps the app's state in the browser's database as it changes, brings it
//! back after a reload, and offers open, rename and delete to the Library section.
//!
//! It only watches [`AppState`]: a new dataset is stored when `state.dataset` changes, a run
//! is recorded from `state.status` (started, done, cancelled, failed) and its model from
//! `state.trained`. Any storage failure is shown in [`Library::message`] and the app goes on
//! in memory.

use std::rc::Rc;
use std::sync::Arc;

use affinity_engine::catalog::Catalog;
use affinity_engine::model_io::ModelFile;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::browser::{self, Usage};
use super::codec;
use super::db::{Change, Db, StorageError};
use super::records::{
    human_bytes, interrupt_running, Body, DatasetEntry, Entry, ModelEntry, ModelScores, Pointer,
    RunEntry, RunStatus,
};
use crate::encoding::encode_model;
use crate::next_task::{after_ms, next_task};
use crate::protocol::TrainOutcome;
use crate::reading::{decode_stored, ReadError};
use crate::state::{AppState, Dataset, TrainStatus};
use crate::wire::ReadFile;

/// Whether the database could be opened.
#[derive(Clone, Debug, PartialEq)]
pub enum Availability {
    /// Still opening.
    Opening,
    /// Open: everything is kept.
    Ready,
    /// No storage: the app works in memory only.
    Unavailable,
}

/// What is known of the dataset in memory: which stored record it is.
#[derive(Clone)]
struct Known {
    /// `Arc::as_ptr` of the dataset and of its ratings (metadata changes keep the ratings).
    dataset: usize,
    ratings: usize,
    /// Its entry, once stored.
    id: Option<String>,
}

/// A run being recorded.
#[derive(Clone)]
struct LiveRun {
    id: String,
    created_ms: f64,
    entry: RunEntry,
}

/// Handle provided through context.
#[derive(Clone, Copy)]
pub struct Library {
    db: StoredValue<Option<Rc<Db>>, LocalStorage>,
    known: StoredValue<Option<Known>, LocalStorage>,
    run: StoredValue<Option<LiveRun>, LocalStorage>,
    /// A dataset's ratings already encoded for storage, as a `Blob` the reading worker made,
    /// with the `Arc::as_ptr` of the ratings they encode.
    encoded: StoredValue<Option<(usize, web_sys::Blob)>, LocalStorage>,
    /// Writes go one at a time, in the order they were asked for: a run's end must never
    /// land before its start.
    writes: StoredValue<Rc<futures::lock::Mutex<()>>, LocalStorage>,
    state: AppState,
    /// Readable entries, oldest first.
    pub entries: RwSignal<Vec<Entry>>,
    /// Entries that do not decode: id and reason.
    pub damaged: RwSignal<Vec<(String, String)>>,
    /// Bytes used and quota.
    pub usage: RwSignal<Option<Usage>>,
    /// The last storage problem, worded for the visitor.
    pub message: RwSignal<Option<String>>,
    /// Whether anything can be stored.
    pub availability: RwSignal<Availability>,
    /// The dataset and model that a reload brings back.
    pub pointer: RwSignal<Pointer>,
}

/// How long a run goes before it is recorded as running (so that a reload during it shows
/// it as interrupted); shorter runs are recorded once, when they end.
const RECORD_RUNNING_AFTER_MS: i32 = 1000;

const KEPT_NOTE: &str = "The app keeps working in this tab; everything stored earlier is intact.";

impl Library {
    /// Opens the database, resumes the last dataset and model, and starts recording.
    pub fn start(state: AppState) -> Self {
        let lib = Library {
            db: StoredValue::new_local(None),
            known: StoredValue::new_local(None),
            run: StoredValue::new_local(None),
            encoded: StoredValue::new_local(None),
            writes: StoredValue::new_local(Rc::new(futures::lock::Mutex::new(()))),
            state,
            entries: RwSignal::new(Vec::new()),
            damaged: RwSignal::new(Vec::new()),
            usage: RwSignal::new(None),
            message: RwSignal::new(None),
            availability: RwSignal::new(Availability::Opening),
            pointer: RwSignal::new(Pointer::default()),
        };
        browser::register_service_worker();
        spawn_local(async move {
            match Db::open().await {
                Ok(db) => {
                    lib.db.set_value(Some(Rc::new(db)));
                    lib.availability.set(Availability::Ready);
                    lib.resume().await;
                    // Something loaded while the database opened is stored now.
                    lib.on_dataset(state.dataset.get_untracked());
                }
                Err(e) => {
                    lib.availability.set(Availability::Unavailable);
                    lib.message.set(Some(format!(
                        "Nothing will be kept after a reload: {e}. The app works as usual in this tab."
                    )));
                }
            }
        });
        Effect::new(move |_| {
            let d = state.dataset.get();
            lib.on_dataset(d);
        });
        Effect::new(move |_| {
            let status = state.status.get();
            lib.on_status(status);
        });
        lib
    }

    fn db(&self) -> Option<Rc<Db>> {
        self.db.get_value()
    }

    /// Reads the list and the storage estimate again.
    pub async fn refresh(&self) {
        let Some(db) = self.db() else { return };
        match db.list().await {
            Ok(listing) => {
                if !listing.damaged.is_empty() {
                    self.message.set(Some(format!(
                        "{} stored record(s) are damaged and were skipped ({}). Delete them in the Library.",
                        listing.damaged.len(),
                        listing.damaged[0].1
                    )));
                }
                self.entries.set(listing.entries);
                self.damaged.set(listing.damaged);
            }
            Err(e) => self.report("The library could not be read", &e),
        }
        self.usage.set(browser::estimate().await);
    }

    fn report(&self, what: &str, e: &StorageError) {
        let tail = match e {
            StorageError::QuotaExceeded(_) => " Delete something in the Library to make room.",
            _ => "",
        };
        self.message
            .set(Some(format!("{what}: {e}. {KEPT_NOTE}{tail}")));
    }

    /// Writes `change`, first checking that the browser's quota leaves room for it.
    async fn commit(&self, change: Change) -> Result<(), StorageError> {
        self.write(change, true).await
    }

    /// Writes `change` after the writes asked for before it; `check_quota` refuses it up
    /// front when the estimate says it cannot fit (a delete needs no room).
    async fn write(&self, change: Change, check_quota: bool) -> Result<(), StorageError> {
        let db = self
            .db()
            .ok_or_else(|| StorageError::Unavailable("the database is not open".into()))?;
        let lock = self.writes.get_value();
        let _turn = lock.lock().await;
        if check_quota {
            let added = change.added_bytes() as f64;
            if let Some(u) = browser::estimate().await {
                if u.usage + added > u.quota {
                    return Err(StorageError::QuotaExceeded(format!(
                        " ({} used of {}; {} more needed)",
                        human_bytes(u.usage),
                        human_bytes(u.quota),
                        human_bytes(added)
                    )));
                }
            }
        }
        db.commit(change).await
    }

    async fn resume(&self) {
        let Some(db) = self.db() else { return };
        let mut listing = match db.list().await {
            Ok(l) => l,
            Err(e) => return self.report("The library could not be read", &e),
        };
        let changed = interrupt_running(&mut listing.entries);
        if !changed.is_empty() {
            let mut change = Change::new("mark interrupted runs");
            change.entries = changed
                .iter()
                .map(|&k| listing.entries[k].clone())
                .collect();
            if let Err(e) = self.commit(change).await {
                self.report("An interrupted run could not be marked", &e);
            }
        }
        self.entries.set(listing.entries);
        let pointer = db.pointer().await.unwrap_or_default();
        self.pointer.set(pointer.clone());
        if self.state.dataset.get_untracked().is_none() {
            if let Some(id) = &pointer.dataset_id {
                if self.load_dataset(id).await && pointer.model_id.is_some() {
                    self.load_model(pointer.model_id.as_deref().unwrap_or_default())
                        .await;
                }
            }
        }
        self.refresh().await;
    }

    fn find(&self, id: &str) -> Option<Entry> {
        self.entries
            .with_untracked(|es| es.iter().find(|e| e.id == id).cloned())
    }

    /// Loads stored dataset `id` into the app; false (with a message) when it cannot.
    async fn load_dataset(&self, id: &str) -> bool {
        let Some(db) = self.db() else { return false };
        let Some(Entry {
            body: Body::Dataset(d),
            ..
        }) = self.find(id)
        else {
            return false;
        };
        let what = format!("dataset “{}”", d.name);
        let loaded = async {
            let stored = db.blob_handle(&d.blob, &what).await?;
            // Decoded in a worker: at ten million ratings, decoding and working out the
            // summary and charts here stopped the page for 1.4 s.
            let file = match decode_stored(stored).await {
                Ok(file) => file,
                Err(ReadError::Superseded) => return Ok(None),
                Err(ReadError::Damaged(why)) => {
                    return Err(StorageError::Corrupt {
                        what: what.clone(),
                        why,
                    })
                }
                Err(ReadError::Failed(message)) => {
                    return Err(StorageError::Failed {
                        action: "read a record",
                        message,
                    })
                }
            };
            let ReadFile { ratings, facts, .. } = *file;
            let catalog = match &d.catalog_blob {
                Some(key) => {
                    let bytes = db.blob(key, &what).await?;
                    serde_json::from_slice::<Catalog>(&bytes).map_err(|e| {
                        StorageError::Corrupt {
                            what: format!("item metadata of {what}"),
                            why: e.to_string(),
                        }
                    })?
                }
                None => Catalog::default(),
            };
            Ok::<_, StorageError>(Some(Dataset::with_facts(
                d.name.clone(),
                ratings,
                catalog,
                facts,
            )))
        }
        .await;
        match loaded {
            // A file chosen meanwhile replaced this dataset.
            Ok(None) => false,
            Ok(Some(dataset)) => {
                self.state.load(dataset);
                if let Some(d) = self.state.dataset.get_untracked() {
                    self.known.set_value(Some(Known {
                        dataset: Arc::as_ptr(&d) as usize,
                        ratings: Arc::as_ptr(&d.ratings) as usize,
                        id: Some(id.to_owned()),
                    }));
                }
                true
            }
            Err(e) => {
                self.report("It was not loaded", &e);
                false
            }
        }
    }

    /// Loads stored model `id` (of the dataset in memory) as the trained model.
    async fn load_model(&self, id: &str) -> bool {
        let Some(db) = self.db() else { return false };
        let Some(Entry {
            body: Body::Model(m),
            ..
        }) = self.find(id)
        else {
            return false;
        };
        let Some(dataset) = self.state.dataset.get_untracked() else {
            return false;
        };
        let what = format!("model “{}”", m.name);
        let loaded = async {
            let bytes = db.blob(&m.blob, &what).await?;
            let corrupt = |why: String| StorageError::Corrupt {
                what: what.clone(),
                why,
            };
            let file = ModelFile::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
            let (model, users, items) = file.into_model().map_err(|e| corrupt(e.to_string()))?;
            if users.ids() != dataset.ratings.users().ids()
                || items.ids() != dataset.ratings.items().ids()
            {
                return Err(corrupt(
                    "its users and items differ from its dataset's".into(),
                ));
            }
            Ok(model)
        }
        .await;
        match loaded {
            Ok(model) => {
                let s = &m.scores;
                self.state.trained.set(Some(Arc::new(TrainOutcome {
                    model,
                    params: s.params.clone(),
                    evaluation: s.evaluation.clone(),
                    ranking: s.ranking.clone(),
                    n_train: s.n_train as usize,
                    n_test: s.n_test as usize,
                    fit_ms: s.fit_ms,
                    loss: s.loss.clone(),
                    arrays: None,
                })));
                self.state.cv.set(m.cv.clone().map(Arc::new));
                self.state.status.set(TrainStatus::Done);
                true
            }
            Err(e) => {
                self.report("It was not loaded", &e);
                false
            }
        }
    }

    /// Takes `encoded` as the stored form of `dataset`'s ratings, which the dataset's save
    /// then writes as it is. Call it before loading the dataset.
    pub fn expect_encoded(&self, dataset: &Dataset, encoded: web_sys::Blob) {
        let ratings = Arc::as_ptr(&dataset.ratings) as usize;
        self.encoded.set_value(Some((ratings, encoded)));
    }

    fn on_dataset(&self, d: Option<Arc<Dataset>>) {
        let Some(d) = d else { return };
        let ptr = Arc::as_ptr(&d) as usize;
        let ratings = Arc::as_ptr(&d.ratings) as usize;
        let known = self.known.get_value();
        if known.as_ref().is_some_and(|k| k.dataset == ptr) {
            return;
        }
        let same_ratings = known.as_ref().filter(|k| k.ratings == ratings);
        let stored_id = same_ratings.and_then(|k| k.id.clone());
        self.known.set_value(Some(Known {
            dataset: ptr,
            ratings,
            id: stored_id.clone(),
        }));
        if self.db().is_none() {
            return;
        }
        let lib = *self;
        match (same_ratings.is_some(), stored_id) {
            (true, Some(id)) => spawn_local(async move { lib.save_catalog(id, d).await }),
            // Metadata joined to a dataset that could not be stored: nothing to attach it to.
            (true, None) => {}
            (false, _) => spawn_local(async move { lib.save_dataset(d, ptr).await }),
        }
    }

    async fn save_dataset(&self, d: Arc<Dataset>, ptr: usize) {
        // Encoding a large dataset takes a while: not in the task that showed it.
        next_task().await;
        let id = new_id("dataset");
        let mut change = Change::new("save the dataset");
        let ratings_ptr = Arc::as_ptr(&d.ratings) as usize;
        let encoded = self
            .encoded
            .try_update_value(Option::take)
            .flatten()
            .filter(|(of, _)| *of == ratings_ptr);
        let ratings_key = format!("{id}/ratings");
        let ratings_bytes = match encoded {
            Some((_, file)) => {
                let size = file.size() as u64;
                change.file_blobs.push((ratings_key.clone(), file));
                size
            }
            None => {
                let bytes = codec::encode_ratings(&d.ratings);
                let size = bytes.len() as u64;
                change.blobs.push((ratings_key.clone(), bytes));
                size
            }
        };
        let mut catalog_bytes = 0;
        let catalog_blob = (!d.catalog.is_empty()).then(|| {
            let key = format!("{id}/catalog-{}", stamp());
            let bytes = serde_json::to_vec(&d.catalog).unwrap_or_default();
            catalog_bytes = bytes.len() as u64;
            change.blobs.push((key.clone(), bytes));
            key
        });
        let entry = Entry {
            id: id.clone(),
            created_ms: js_sys::Date::now(),
            body: Body::Dataset(DatasetEntry {
                name: d.name.clone(),
                blob: ratings_key,
                catalog_blob,
                ratings_bytes,
                catalog_bytes,
                n_ratings: d.summary.n_ratings as u64,
                n_users: d.summary.n_users as u64,
                n_items: d.summary.n_items as u64,
            }),
        };
        change.entries.push(entry);
        let pointer = Pointer {
            dataset_id: Some(id.clone()),
            model_id: None,
        };
        change.pointer = Some(pointer.clone());
        match self.commit(change).await {
            Ok(()) => {
                self.known.update_value(|k| {
                    if let Some(k) = k.as_mut().filter(|k| k.dataset == ptr) {
                        k.id = Some(id.clone());
                    }
                });
                self.pointer.set(pointer);
                self.message.set(None);
            }
            Err(e) => self.report(&format!("“{}” was not saved", d.name), &e),
        }
        self.refresh().await;
    }

    async fn save_catalog(&self, id: String, d: Arc<Dataset>) {
        let Some(mut entry) = self.find(&id) else {
            return;
        };
        let Body::Dataset(de) = &mut entry.body else {
            return;
        };
        let mut change = Change::new("save the item metadata");
        if let Some(old) = de.catalog_blob.take() {
            change.delete_blobs.push(old);
        }
        let key = format!("{id}/catalog-{}", stamp());
        let bytes = serde_json::to_vec(&d.catalog).unwrap_or_default();
        de.catalog_bytes = bytes.len() as u64;
        de.catalog_blob = Some(key.clone());
        change.blobs.push((key, bytes));
        change.entries.push(entry);
        if let Err(e) = self.commit(change).await {
            self.report(
                &format!("The item metadata of “{}” was not saved", d.name),
                &e,
            );
        }
        self.refresh().await;
    }

    fn on_status(&self, status: TrainStatus) {
        if self.db().is_none() {
            if matches!(status, TrainStatus::Done) {
                // Nothing is saved: the arrays kept to save the model with are not needed.
                crate::encoding::forget_arrays();
            }
            return;
        }
        let now = js_sys::Date::now();
        let lib = *self;
        match status {
            TrainStatus::Running(p) => {
                let same = self.run.with_value(|r| {
                    r.as_ref()
                        .is_some_and(|r| r.entry.started_ms == p.started_ms)
                });
                if same {
                    // Progress is kept in memory; only the start and the end are written.
                    self.run.update_value(|r| {
                        if let Some(r) = r {
                            r.entry.detail = p.current.clone();
                        }
                    });
                    return;
                }
                let dataset_id = self
                    .known
                    .with_value(|k| k.as_ref().and_then(|k| k.id.clone()));
                let live = LiveRun {
                    id: new_id("run"),
                    created_ms: now,
                    entry: RunEntry {
                        name: format!("Run of {}", date_time(p.started_ms)),
                        dataset_id,
                        started_ms: p.started_ms,
                        duration_ms: None,
                        status: RunStatus::Running,
                        fits_total: p.fits_total as u64,
                        detail: p.current.clone(),
                        scores: None,
                        cv: None,
                        model_id: None,
                    },
                };
                let id = live.id.clone();
                self.run.set_value(Some(live));
                spawn_local(async move {
                    // A short run is written once, when it ends: writing its start and
                    // redrawing the list cost the page's thread while the workers fit.
                    after_ms(RECORD_RUNNING_AFTER_MS).await;
                    let Some(live) = lib.run.get_value().filter(|r| r.id == id) else {
                        return;
                    };
                    let mut change = Change::new("record the run");
                    change.entries.push(live.entry_record());
                    if let Err(e) = lib.commit(change).await {
                        lib.report("The run is not recorded", &e);
                    }
                    lib.refresh().await;
                });
            }
            TrainStatus::Done => {
                let Some(mut live) = self.run.get_value() else {
                    return;
                };
                self.run.set_value(None);
                live.entry.status = RunStatus::Done;
                live.entry.duration_ms = Some(now - live.entry.started_ms);
                live.entry.detail = String::new();
                let trained = self.state.trained.get_untracked();
                let cv = self.state.cv.get_untracked();
                let dataset = self.state.dataset.get_untracked();
                spawn_local(async move { lib.save_model(live, trained, cv, dataset).await });
            }
            TrainStatus::Cancelled | TrainStatus::Idle => {
                let Some(mut live) = self.run.get_value() else {
                    return;
                };
                self.run.set_value(None);
                let error = self.state.error.get_untracked();
                live.entry.duration_ms = Some(now - live.entry.started_ms);
                (live.entry.status, live.entry.detail) = match (&status, error) {
                    (TrainStatus::Cancelled, _) => (RunStatus::Cancelled, live.entry.detail),
                    (_, Some(e)) => (RunStatus::Failed, e),
                    _ => (
                        RunStatus::Cancelled,
                        "stopped: another dataset was loaded".into(),
                    ),
                };
                spawn_local(async move {
                    let mut change = Change::new("record the run");
                    change.entries.push(live.entry_record());
                    if let Err(e) = lib.commit(change).await {
                        lib.report("The run is not recorded", &e);
                    }
                    lib.refresh().await;
                });
            }
        }
    }

    async fn save_model(
        &self,
        mut live: LiveRun,
        trained: Option<Arc<TrainOutcome>>,
        cv: Option<Arc<affinity_engine::cv::CvResult>>,
        dataset: Option<Arc<Dataset>>,
    ) {
        // Copying the ids out for the encoding worker (and the factors, for a model whose
        // arrays are no longer kept: tens of ms at ten million ratings) is not for the task
        // that showed the model.
        next_task().await;
        let mut change = Change::new("save the model");
        let dataset_id = self
            .known
            .with_value(|k| k.as_ref().and_then(|k| k.id.clone()));
        if let Some(t) = &trained {
            let scores = ModelScores {
                params: t.params.clone(),
                evaluation: t.evaluation.clone(),
                ranking: t.ranking.clone(),
                n_train: t.n_train as u64,
                n_test: t.n_test as u64,
                fit_ms: t.fit_ms,
                loss: t.loss.clone(),
            };
            live.entry.scores = Some(scores.clone());
            live.entry.cv = cv.as_deref().cloned();
            let file = match &dataset {
                Some(d) => {
                    let (users, items) = (d.ratings.users().ids(), d.ratings.items().ids());
                    match encode_model(&t.model, users, items, t.arrays).await {
                        Ok(file) => Some(file),
                        Err(e) => {
                            self.message.set(Some(format!(
                                "The trained model was not saved: it could not be encoded \
                                 ({e}). {KEPT_NOTE}"
                            )));
                            None
                        }
                    }
                }
                None => None,
            };
            if let (Some(file), Some(dataset_id), Some(d)) = (file, dataset_id.clone(), &dataset) {
                let id = new_id("model");
                let blob = format!("{id}/model");
                change.entries.push(Entry {
                    id: id.clone(),
                    created_ms: js_sys::Date::now(),
                    body: Body::Model(ModelEntry {
                        name: format!("{} · rank {}", d.name, t.params.rank),
                        dataset_id: dataset_id.clone(),
                        blob: blob.clone(),
                        bytes: file.size() as u64,
                        scores,
                        cv: cv.as_deref().cloned(),
                    }),
                });
                change.file_blobs.push((blob, file));
                live.entry.model_id = Some(id.clone());
                change.pointer = Some(Pointer {
                    dataset_id: Some(dataset_id),
                    model_id: Some(id),
                });
            }
        }
        change.entries.push(live.entry_record());
        let pointer = change.pointer.clone();
        match self.commit(change).await {
            Ok(()) => {
                if let Some(p) = pointer {
                    self.pointer.set(p);
                }
            }
            Err(e) => self.report("The trained model was not saved", &e),
        }
        self.refresh().await;
    }

    /// Loads a stored dataset, or a model with its dataset, and makes it the one a reload
    /// brings back.
    pub fn open(&self, id: String) {
        let lib = *self;
        spawn_local(async move {
            let Some(entry) = lib.find(&id) else { return };
            let pointer = match &entry.body {
                Body::Dataset(_) => lib.load_dataset(&id).await.then(|| Pointer {
                    dataset_id: Some(id.clone()),
                    model_id: None,
                }),
                Body::Model(m) => {
                    let have = lib
                        .known
                        .with_value(|k| k.as_ref().and_then(|k| k.id.clone()))
                        == Some(m.dataset_id.clone());
                    let ready = have || lib.load_dataset(&m.dataset_id).await;
                    (ready && lib.load_model(&id).await).then(|| Pointer {
                        dataset_id: Some(m.dataset_id.clone()),
                        model_id: Some(id.clone()),
                    })
                }
                Body::Run(r) => match &r.model_id {
                    Some(model) if lib.find(model).is_some() => {
                        return lib.open(model.clone());
                    }
                    _ => {
                        lib.message
                            .set(Some(format!("“{}” left no stored model to open.", r.name)));
                        None
                    }
                },
            };
            if let Some(p) = pointer {
                let mut change = Change::new("remember what is open");
                change.pointer = Some(p.clone());
                match lib.commit(change).await {
                    Ok(()) => lib.pointer.set(p),
                    Err(e) => lib.report("What is open will not come back after a reload", &e),
                }
            }
        });
    }

    /// Renames an entry.
    pub fn rename(&self, id: String, name: String) {
        let lib = *self;
        spawn_local(async move {
            let Some(mut entry) = lib.find(&id) else {
                return;
            };
            let name = name.trim().to_owned();
            if name.is_empty() {
                lib.message.set(Some("A name cannot be empty.".into()));
                return;
            }
            entry.set_name(name);
            let mut change = Change::new("rename");
            change.entries.push(entry);
            if let Err(e) = lib.commit(change).await {
                lib.report("It was not renamed", &e);
            }
            lib.refresh().await;
        });
    }

    /// Deletes an entry (a dataset with its models), or a damaged record.
    pub fn delete(&self, id: String) {
        let lib = *self;
        spawn_local(async move {
            let mut change = Change::new("delete");
            let mut gone = vec![id.clone()];
            if let Some(entry) = lib.find(&id) {
                if matches!(entry.body, Body::Dataset(_)) {
                    lib.entries.with_untracked(|es| {
                        gone.extend(es.iter().filter_map(|e| match &e.body {
                            Body::Model(m) if m.dataset_id == id => Some(e.id.clone()),
                            _ => None,
                        }))
                    });
                }
            }
            for g in &gone {
                if let Some(e) = lib.find(g) {
                    change.delete_blobs.extend(e.blobs());
                }
                change.delete_entries.push(g.clone());
            }
            let mut p = lib.pointer.get_untracked();
            if p.dataset_id.as_ref().is_some_and(|d| gone.contains(d)) {
                p = Pointer::default();
            }
            if p.model_id.as_ref().is_some_and(|m| gone.contains(m)) {
                p.model_id = None;
            }
            change.pointer = Some(p.clone());
            // Deleting frees room: no quota check.
            match lib.write(change, false).await {
                Ok(()) => {
                    lib.pointer.set(p);
                    lib.forget_stored(&gone);
                }
                Err(e) => lib.report("It was not deleted", &e),
            }
            lib.refresh().await;
        });
    }

    /// Deletes everything stored.
    pub fn clear(&self) {
        let lib = *self;
        spawn_local(async move {
            let mut change = Change::new("delete everything");
            change.clear = true;
            match lib.write(change, false).await {
                Ok(()) => {
                    lib.pointer.set(Pointer::default());
                    lib.known.update_value(|k| {
                        if let Some(k) = k {
                            k.id = None;
                        }
                    });
                    lib.message.set(None);
                    lib.damaged.set(Vec::new());
                }
                Err(e) => lib.report("The library was not emptied", &e),
            }
            lib.refresh().await;
        });
    }

    /// The dataset in memory is no longer stored when its entry is deleted.
    fn forget_stored(&self, gone: &[String]) {
        self.known.update_value(|k| {
            if let Some(k) = k {
                if k.id.as_ref().is_some_and(|id| gone.contains(id)) {
                    k.id = None;
                }
            }
        });
        self.damaged
            .update(|d| d.retain(|(id, _)| !gone.contains(id)));
    }
}

impl LiveRun {
    fn entry_record(&self) -> Entry {
        Entry {
            id: self.id.clone(),
            created_ms: self.created_ms,
            body: Body::Run(self.entry.clone()),
        }
    }
}

/// A fresh key: kind, time and a random part, so two tabs never collide.
fn new_id(kind: &str) -> String {
    format!("{kind}-{}", stamp())
}

fn stamp() -> String {
    format!(
        "{:x}-{:08x}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    )
}

/// `ms` since the epoch as local "2026-11-29 09:41".
pub fn date_time(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}
