//! A pool of training workers, one per core the browser reports.
//!
//! Built on `web_sys::Worker` rather than gloo-worker's bridge because the pool needs two
//! things the bridge does not offer: `terminate()`, which stops a fit mid-iteration (Cancel),
//! and the worker's `error` event, which tells that a worker crashed (a panic or running out of
//! memory) so it can be replaced.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use affinity_engine::als::{AlsModel, IterationReport};
use affinity_engine::Ratings;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::protocol::{FitJob, FromWorker, ToWorker, TrainReport};
use crate::wire;

/// Trunk writes the worker's wasm-bindgen glue as `worker.js`; this loader (copied beside it)
/// imports the glue and instantiates `worker_bg.wasm`.
const LOADER: &str = "./worker-loader.js";

/// Most workers the pool starts, however many cores the browser reports.
const MAX_WORKERS: usize = 8;

/// How many workers to start: `N` when the page's address has `?workers=N` (benchmarks use it
/// to compare one worker with two on the same machine), else one per core the browser
/// reports; always between 1 and [`MAX_WORKERS`].
pub fn worker_count() -> usize {
    let Some(window) = web_sys::window() else {
        return 1;
    };
    // Read through Reflect: web-sys's `Location` feature is not enabled for this crate.
    let search = js_sys::Reflect::get(&window, &JsValue::from_str("location"))
        .and_then(|location| js_sys::Reflect::get(&location, &JsValue::from_str("search")))
        .ok()
        .and_then(|search| search.as_string());
    let cores = window.navigator().hardware_concurrency();
    // NaN or a negative count (a browser hiding it) saturates to 0 and is clamped to 1.
    let reported = if cores.is_finite() { cores as usize } else { 1 };
    search
        .as_deref()
        .and_then(workers_param)
        .unwrap_or(reported)
        .clamp(1, MAX_WORKERS)
}

/// The `N` of the first `workers=N` pair of a query string such as `?lang=en&workers=2`;
/// `None` when there is none or `N` is not a whole number.
fn workers_param(search: &str) -> Option<usize> {
    search
        .strip_prefix('?')
        .unwrap_or(search)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "workers")
        .and_then(|(_, value)| value.trim().parse().ok())
}

/// What the pool reports to its owner.
#[derive(Debug)]
pub enum PoolEvent {
    /// An iteration of a job finished.
    Progress {
        /// The job.
        job_id: u64,
        /// Its report.
        report: IterationReport,
    },
    /// A cross-validation job finished.
    Scored {
        /// The job.
        job_id: u64,
        /// Its validation metric.
        score: f64,
    },
    /// A model job finished.
    Trained {
        /// The job.
        job_id: u64,
        /// Its scores.
        report: TrainReport,
        /// The model (boxed: it dwarfs the other events).
        model: Box<AlsModel>,
    },
    /// A job failed, or its worker crashed (and was replaced).
    Failed {
        /// The job.
        job_id: u64,
        /// What happened, for the visitor.
        message: String,
    },
}

struct Slot {
    worker: Worker,
    /// Bumped on every respawn, so events of a replaced worker are ignored.
    generation: u64,
    ready: bool,
    data_id: Option<u64>,
    busy: Option<u64>,
}

struct Inner {
    slots: Vec<Slot>,
    queue: VecDeque<FitJob>,
    data: Option<(u64, Arc<Ratings>)>,
    on_event: Rc<dyn Fn(PoolEvent)>,
    /// Handlers of replaced workers: dropping a closure while it may still be running is
    /// undefined in wasm-bindgen, and a replaced worker's handlers are few and small.
    retired: Vec<JsValue>,
}

/// A handle to the pool; clones share it.
#[derive(Clone)]
pub struct Pool {
    inner: Rc<RefCell<Inner>>,
}

impl Pool {
    /// Starts one worker per core the browser reports, or as many as the page's address asks
    /// for with `?workers=N` (see [`worker_count`]); at least one, at most eight.
    pub fn new(on_event: impl Fn(PoolEvent) + 'static) -> Result<Self, String> {
        let size = worker_count();
        let pool = Pool {
            inner: Rc::new(RefCell::new(Inner {
                slots: Vec::with_capacity(size),
                queue: VecDeque::new(),
                data: None,
                on_event: Rc::new(on_event),
                retired: Vec::new(),
            })),
        };
        for index in 0..size {
            let slot = pool.spawn(index, 0)?;
            pool.inner.borrow_mut().slots.push(slot);
        }
        Ok(pool)
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.inner.borrow().slots.len()
    }

    /// Sets the dataset later jobs refer to by `data_id`; each worker receives it before its
    /// first job on it.
    pub fn set_data(&self, data_id: u64, ratings: Arc<Ratings>) {
        self.inner.borrow_mut().data = Some((data_id, ratings));
    }

    /// Queues jobs; idle workers take them in order.
    pub fn submit(&self, jobs: impl IntoIterator<Item = FitJob>) {
        self.inner.borrow_mut().queue.extend(jobs);
        self.pump();
    }

    /// Drops every queued job and terminates every busy worker at once, replacing it with a
    /// fresh one; a fit stops mid-iteration.
    pub fn cancel_all(&self) {
        let busy: Vec<usize> = {
            let mut inner = self.inner.borrow_mut();
            inner.queue.clear();
            (0..inner.slots.len())
                .filter(|&k| inner.slots[k].busy.is_some())
                .collect()
        };
        for k in busy {
            self.replace(k);
        }
    }

    fn spawn(&self, index: usize, generation: u64) -> Result<Slot, String> {
        let worker = Worker::new(LOADER).map_err(|e| format!("could not start a worker: {e:?}"))?;
        let weak = Rc::downgrade(&self.inner);
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                Pool { inner }.on_message(index, generation, &ev.data());
            }
        });
        let weak = Rc::downgrade(&self.inner);
        let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |ev: ErrorEvent| {
            ev.prevent_default();
            if let Some(inner) = weak.upgrade() {
                Pool { inner }.on_crash(index, generation, ev.message());
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        {
            let mut inner = self.inner.borrow_mut();
            inner.retired.push(on_message.into_js_value());
            inner.retired.push(on_error.into_js_value());
        }
        Ok(Slot {
            worker,
            generation,
            ready: false,
            data_id: None,
            busy: None,
        })
    }

    /// Terminates worker `k` and starts a new one in its place; returns the job it was running.
    fn replace(&self, k: usize) -> Option<u64> {
        let (old_job, generation) = {
            let inner = self.inner.borrow();
            let slot = &inner.slots[k];
            slot.worker.terminate();
            (slot.busy, slot.generation + 1)
        };
        match self.spawn(k, generation) {
            Ok(slot) => self.inner.borrow_mut().slots[k] = slot,
            Err(e) => web_sys::console::error_1(&JsValue::from_str(&e)),
        }
        old_job
    }

    fn on_crash(&self, k: usize, generation: u64, message: String) {
        if self.inner.borrow().slots.get(k).map(|s| s.generation) != Some(generation) {
            return;
        }
        let job = self.replace(k);
        if let Some(job_id) = job {
            self.emit(PoolEvent::Failed {
                job_id,
                message: format!(
                    "a training worker crashed ({message}); it was restarted. \
                     The model may be too large for this browser's memory."
                ),
            });
        }
        self.pump();
    }

    fn on_message(&self, k: usize, generation: u64, data: &JsValue) {
        if self.inner.borrow().slots.get(k).map(|s| s.generation) != Some(generation) {
            return;
        }
        let (head, model) = match wire::decode_from_worker(data) {
            Ok(decoded) => decoded,
            Err(e) => {
                let job = self.inner.borrow_mut().slots[k].busy.take();
                if let Some(job_id) = job {
                    self.emit(PoolEvent::Failed { job_id, message: e });
                }
                self.pump();
                return;
            }
        };
        let event = match head {
            FromWorker::Ready => {
                self.inner.borrow_mut().slots[k].ready = true;
                None
            }
            FromWorker::Progress { job_id, report } => Some(PoolEvent::Progress { job_id, report }),
            FromWorker::Scored { job_id, score, .. } => Some(PoolEvent::Scored { job_id, score }),
            FromWorker::Trained { job_id, report } => model.map(|model| PoolEvent::Trained {
                job_id,
                report,
                model: Box::new(model),
            }),
            FromWorker::Failed { job_id, message } => Some(PoolEvent::Failed { job_id, message }),
        };
        if matches!(
            event,
            Some(PoolEvent::Scored { .. } | PoolEvent::Trained { .. } | PoolEvent::Failed { .. })
        ) {
            self.inner.borrow_mut().slots[k].busy = None;
        }
        if let Some(event) = event {
            self.emit(event);
        }
        self.pump();
    }

    /// Calls the owner with no borrow held, so it may submit or cancel from the callback.
    fn emit(&self, event: PoolEvent) {
        let on_event = self.inner.borrow().on_event.clone();
        on_event(event);
    }

    /// Hands queued jobs to idle, ready workers.
    fn pump(&self) {
        loop {
            let mut inner = self.inner.borrow_mut();
            let Some(k) = inner.slots.iter().position(|s| s.ready && s.busy.is_none()) else {
                return;
            };
            let Some(job) = inner.queue.pop_front() else {
                return;
            };
            let job_id = job.job_id;
            let needs_data = inner.slots[k].data_id != Some(job.data_id);
            let data_packet = match (&inner.data, needs_data) {
                (Some((id, ratings)), true) if *id == job.data_id => {
                    Some(wire::data_packet(*id, ratings))
                }
                (_, true) => Some(Err("the dataset of this job is gone".to_owned())),
                (_, false) => None,
            };
            let sent = (|| -> Result<(), String> {
                let worker = &inner.slots[k].worker;
                if let Some(packet) = data_packet {
                    let p = packet?;
                    worker
                        .post_message_with_transfer(&p.message, &p.transfer)
                        .map_err(|e| format!("{e:?}"))?;
                }
                let p = wire::to_worker_packet(&ToWorker::Fit(job.clone()))?;
                worker
                    .post_message_with_transfer(&p.message, &p.transfer)
                    .map_err(|e| format!("{e:?}"))
            })();
            match sent {
                Ok(()) => {
                    let slot = &mut inner.slots[k];
                    slot.data_id = Some(job.data_id);
                    slot.busy = Some(job_id);
                }
                Err(message) => {
                    drop(inner);
                    self.emit(PoolEvent::Failed { job_id, message });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::workers_param;

    #[test]
    fn reads_the_workers_parameter() {
        assert_eq!(workers_param("?workers=2"), Some(2));
        assert_eq!(workers_param("?lang=en&workers=1&x=3"), Some(1));
        assert_eq!(workers_param("workers=8"), Some(8));
        assert_eq!(
            workers_param("?workers=16"),
            Some(16),
            "clamped by the caller"
        );
    }

    #[test]
    fn ignores_absent_or_malformed_values() {
        assert_eq!(workers_param(""), None);
        assert_eq!(workers_param("?"), None);
        assert_eq!(workers_param("?workers"), None);
        assert_eq!(workers_param("?workers="), None);
        assert_eq!(workers_param("?workers=two"), None);
        assert_eq!(workers_param("?workers=-1"), None);
        assert_eq!(workers_param("?myworkers=3"), None);
    }
}
