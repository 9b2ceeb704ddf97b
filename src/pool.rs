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
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageChannel, MessageEvent, MessagePort, Worker};

use crate::next_task::next_task;
use crate::protocol::{FitJob, FromWorker, ToWorker, TrainReport, Want};
use crate::wire::{self, Attached, ModelArrays, Packet};

/// Trunk writes the worker's wasm-bindgen glue as `worker.js`; this loader (copied beside it)
/// imports the glue and instantiates `worker_bg.wasm`.
pub(crate) const LOADER: &str = "./worker-loader.js";

/// Most workers the pool starts, however many cores the browser reports.
const MAX_WORKERS: usize = 8;

/// Starts in a row a worker may fail (crash before it is ready) before its place is given
/// up: a worker that cannot load (a file missing from the site, a browser without wasm) would
/// otherwise be restarted for ever.
const MAX_FAILED_STARTS: u32 = 3;

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
        /// The arrays it came in, to send on for storage.
        arrays: ModelArrays,
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
    /// Workers in this place that crashed before they were ready, in a row.
    failed_starts: u32,
    /// No worker is started in this place any more (see [`MAX_FAILED_STARTS`]).
    given_up: bool,
}

struct Inner {
    slots: Vec<Slot>,
    queue: VecDeque<FitJob>,
    data: Option<(u64, Arc<Ratings>)>,
    on_event: Rc<dyn Fn(PoolEvent)>,
    /// Handlers of replaced workers: dropping a closure while it may still be running is
    /// undefined in wasm-bindgen, and a replaced worker's handlers are few and small.
    retired: Vec<JsValue>,
    /// The model job the ready workers are fitting together, if one is running.
    shared: Option<SharedJob>,
    /// The last shared fit given up: its other workers' failures are not reported again.
    given_up: Option<u64>,
    /// Whether [`Pool::send_data_ahead`] is at work (one at a time: two would copy the
    /// columns twice for one worker).
    sending_ahead: bool,
}

/// A model job fitted by several workers together: they pass their rows to each other and
/// the first one sends the model back (see [`crate::shared_fit`]).
struct SharedJob {
    job_id: u64,
    /// The pool slot of each part, in part order.
    slots: Vec<usize>,
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
                shared: None,
                given_up: None,
                sending_ahead: false,
            })),
        };
        for index in 0..size {
            let slot = pool.spawn(index, 0, 0)?;
            pool.inner.borrow_mut().slots.push(slot);
        }
        Ok(pool)
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.inner.borrow().slots.len()
    }

    /// Sets the dataset later jobs refer to by `data_id`; each worker receives it before its
    /// first job on it, and idle workers receive it ahead of any job.
    pub fn set_data(&self, data_id: u64, ratings: Arc<Ratings>) {
        let changed = {
            let mut inner = self.inner.borrow_mut();
            let changed = inner.data.as_ref().is_none_or(|(id, _)| *id != data_id);
            inner.data = Some((data_id, ratings));
            changed
        };
        if changed {
            self.send_data_ahead();
        }
    }

    /// Sends the current dataset to every ready, idle worker that lacks it, one worker at a
    /// time, its columns copied a few megabytes per task of the page's event loop. Copying
    /// ten million ratings for two workers in the task of the click on Train stopped the
    /// page for about a quarter of a second, and one worker's three columns in one task up
    /// to 150 ms; sent ahead, while the visitor reads the page, the first job finds them
    /// there.
    fn send_data_ahead(&self) {
        if std::mem::replace(&mut self.inner.borrow_mut().sending_ahead, true) {
            return;
        }
        let pool = self.clone();
        spawn_local(async move {
            pool.send_data_to_lacking().await;
            pool.inner.borrow_mut().sending_ahead = false;
        });
    }

    async fn send_data_to_lacking(&self) {
        loop {
            next_task().await;
            let Some((data_id, ratings)) = self.inner.borrow().data.clone() else {
                return;
            };
            if pool_lacking(&self.inner.borrow(), data_id).is_none() {
                return;
            }
            let columns = wire::DataColumns::copy(&ratings).await;
            // Checked again: while the columns were copied, the dataset may have changed, or
            // a job may have brought the worker its data (and keep it busy).
            let mut inner = self.inner.borrow_mut();
            if inner.data.as_ref().is_none_or(|(id, _)| *id != data_id) {
                continue;
            }
            let Some(k) = pool_lacking(&inner, data_id) else {
                return;
            };
            // A worker that cannot take it now gets it with its next job.
            if post_to(&inner.slots[k].worker, columns.packet(data_id, &ratings)).is_err() {
                return;
            }
            inner.slots[k].data_id = Some(data_id);
        }
    }

    /// Queues jobs; idle workers take them in order.
    pub fn submit(&self, jobs: impl IntoIterator<Item = FitJob>) {
        self.inner.borrow_mut().queue.extend(jobs);
        self.fail_if_no_worker("every worker failed to start");
        self.pump();
    }

    /// Drops every queued job and terminates every busy worker at once, replacing it with a
    /// fresh one; a fit stops mid-iteration.
    pub fn cancel_all(&self) {
        let busy: Vec<usize> = {
            let mut inner = self.inner.borrow_mut();
            inner.queue.clear();
            inner.shared = None;
            (0..inner.slots.len())
                .filter(|&k| inner.slots[k].busy.is_some())
                .collect()
        };
        for k in busy {
            self.replace(k);
        }
    }

    fn spawn(&self, index: usize, generation: u64, failed_starts: u32) -> Result<Slot, String> {
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
            failed_starts,
            given_up: false,
        })
    }

    /// Terminates worker `k` and starts a new one in its place; returns the job it was running.
    fn replace(&self, k: usize) -> Option<u64> {
        self.replace_counting(k, 0)
    }

    /// [`Pool::replace`], the new worker being the `failed_starts + 1`-th start in a row.
    fn replace_counting(&self, k: usize, failed_starts: u32) -> Option<u64> {
        let (old_job, generation) = {
            let inner = self.inner.borrow();
            let slot = &inner.slots[k];
            slot.worker.terminate();
            (slot.busy, slot.generation + 1)
        };
        match self.spawn(k, generation, failed_starts) {
            Ok(slot) => self.inner.borrow_mut().slots[k] = slot,
            Err(e) => web_sys::console::error_1(&JsValue::from_str(&e)),
        }
        old_job
    }

    fn on_crash(&self, k: usize, generation: u64, message: String) {
        if self.inner.borrow().slots.get(k).map(|s| s.generation) != Some(generation) {
            return;
        }
        let (was_ready, failed_starts) = {
            let inner = self.inner.borrow();
            (inner.slots[k].ready, inner.slots[k].failed_starts)
        };
        if !was_ready && failed_starts + 1 >= MAX_FAILED_STARTS {
            self.give_up_slot(k, &message);
            return;
        }
        let job = self.replace_counting(k, if was_ready { 0 } else { failed_starts + 1 });
        let message = format!(
            "a training worker crashed ({message}); it was restarted. \
             The model may be too large for this browser's memory."
        );
        let in_shared = self
            .inner
            .borrow()
            .shared
            .as_ref()
            .is_some_and(|run| run.slots.contains(&k));
        if in_shared {
            self.give_up_shared(message);
        } else if let Some(job_id) = job {
            self.emit(PoolEvent::Failed { job_id, message });
        }
        self.pump();
    }

    /// Stops starting workers in place `k`, whose workers keep crashing before they are
    /// ready; once no place is left, every queued job fails with `why`.
    fn give_up_slot(&self, k: usize, why: &str) {
        {
            let mut inner = self.inner.borrow_mut();
            let slot = &mut inner.slots[k];
            slot.worker.terminate();
            slot.given_up = true;
            slot.ready = false;
            slot.busy = None;
        }
        web_sys::console::error_1(&JsValue::from_str(&format!(
            "a training worker failed to start {MAX_FAILED_STARTS} times ({why}); no more are started in its place"
        )));
        self.fail_if_no_worker(why);
    }

    /// Fails every queued job when every place has been given up: nothing would run them.
    fn fail_if_no_worker(&self, why: &str) {
        let jobs: Vec<u64> = {
            let mut inner = self.inner.borrow_mut();
            if !inner.slots.iter().all(|s| s.given_up) {
                return;
            }
            inner.shared = None;
            inner.queue.drain(..).map(|job| job.job_id).collect()
        };
        for job_id in jobs {
            self.emit(PoolEvent::Failed {
                job_id,
                message: format!(
                    "no training worker could start ({why}). Reload the page; if this persists, \
                     the site may be incomplete or this browser may not run WebAssembly."
                ),
            });
        }
    }

    fn on_message(&self, k: usize, generation: u64, data: &JsValue) {
        if self.inner.borrow().slots.get(k).map(|s| s.generation) != Some(generation) {
            return;
        }
        let (head, attached) = match wire::decode_from_worker(data) {
            Ok(decoded) => decoded,
            Err(e) => {
                let job = self.inner.borrow().slots[k].busy;
                match job {
                    Some(job_id) if self.is_shared(job_id) => self.give_up_shared(e),
                    Some(job_id) => {
                        self.inner.borrow_mut().slots[k].busy = None;
                        self.emit(PoolEvent::Failed { job_id, message: e });
                    }
                    None => {}
                }
                self.pump();
                return;
            }
        };
        if let FromWorker::Trained { job_id, .. } = &head {
            // The first worker of a shared fit sends its model: the fit is over (the other
            // workers say they are free with ShareDone).
            let mut inner = self.inner.borrow_mut();
            if inner
                .shared
                .as_ref()
                .is_some_and(|run| run.job_id == *job_id)
            {
                inner.shared = None;
            }
        }
        let event = match head {
            FromWorker::Ready => {
                self.inner.borrow_mut().slots[k].ready = true;
                self.send_data_ahead();
                None
            }
            FromWorker::Progress { job_id, report } => Some(PoolEvent::Progress { job_id, report }),
            FromWorker::Scored { job_id, score, .. } => Some(PoolEvent::Scored { job_id, score }),
            FromWorker::Trained { job_id, report } => {
                // The worker is free now; the model reaches the owner once it is rebuilt.
                self.release(k, job_id);
                if let Attached::Model(arrays) = attached {
                    let pool = self.clone();
                    spawn_local(async move {
                        let event = match arrays.take_model(report.rank, report.global_mean).await {
                            Ok(model) => PoolEvent::Trained {
                                job_id,
                                report,
                                model: Box::new(model),
                                arrays,
                            },
                            Err(message) => PoolEvent::Failed { job_id, message },
                        };
                        pool.emit(event);
                    });
                }
                None
            }
            FromWorker::ShareDone { job_id } => {
                self.release(k, job_id);
                None
            }
            // Replies of a reading or encoding worker, which the pool does not run.
            FromWorker::ReadProgress { .. }
            | FromWorker::Parsed { .. }
            | FromWorker::Damaged { .. }
            | FromWorker::Encoded => None,
            FromWorker::Failed { job_id, message } => {
                if self.is_shared(job_id) {
                    self.give_up_shared(message);
                    None
                } else if self.inner.borrow().given_up == Some(job_id) {
                    // Another worker of a shared fit already reported it.
                    self.release(k, job_id);
                    None
                } else {
                    Some(PoolEvent::Failed { job_id, message })
                }
            }
        };
        if let Some(
            PoolEvent::Scored { job_id, .. }
            | PoolEvent::Trained { job_id, .. }
            | PoolEvent::Failed { job_id, .. },
        ) = &event
        {
            self.release(k, *job_id);
        }
        if let Some(event) = event {
            self.emit(event);
        }
        self.pump();
    }

    /// Marks worker `k` idle if it was running `job_id` (a late reply to an older job must
    /// not free a worker that has moved on).
    fn release(&self, k: usize, job_id: u64) {
        let mut inner = self.inner.borrow_mut();
        if inner.slots[k].busy == Some(job_id) {
            inner.slots[k].busy = None;
        }
    }

    fn is_shared(&self, job_id: u64) -> bool {
        self.inner
            .borrow()
            .shared
            .as_ref()
            .is_some_and(|run| run.job_id == job_id)
    }

    /// Ends the running shared fit as failed: its workers are freed (a worker still solving
    /// finishes its half-step before it reads its next job) and the owner told once.
    fn give_up_shared(&self, message: String) {
        let run = {
            let mut inner = self.inner.borrow_mut();
            let Some(run) = inner.shared.take() else {
                return;
            };
            inner.given_up = Some(run.job_id);
            run
        };
        for &k in &run.slots {
            self.release(k, run.job_id);
        }
        self.emit(PoolEvent::Failed {
            job_id: run.job_id,
            message,
        });
    }

    /// Starts `job` (a model job) as a fit shared by the ready workers `slots`, all idle: each
    /// gets its part and a `MessageChannel` port to every other one.
    fn start_shared(&self, job: FitJob, slots: Vec<usize>) -> Result<(), String> {
        let parts = slots.len();
        // ends[a * parts + b]: part a's end of its channel to part b.
        let mut ends: Vec<Option<MessagePort>> = vec![None; parts * parts];
        for a in 0..parts {
            for b in a + 1..parts {
                let channel = MessageChannel::new()
                    .map_err(|e| format!("could not connect the workers: {e:?}"))?;
                ends[a * parts + b] = Some(channel.port1());
                ends[b * parts + a] = Some(channel.port2());
            }
        }
        let mut inner = self.inner.borrow_mut();
        inner.shared = Some(SharedJob {
            job_id: job.job_id,
            slots: slots.clone(),
        });
        for (part, &k) in slots.iter().enumerate() {
            send_data(&mut inner, k, job.data_id)?;
            let own: Vec<MessagePort> = ends[part * parts..(part + 1) * parts]
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            let head = ToWorker::Share {
                job: job.clone(),
                part,
                parts,
            };
            post_to(&inner.slots[k].worker, wire::share_packet(&head, &own))?;
            inner.slots[k].busy = Some(job.job_id);
        }
        Ok(())
    }

    /// Calls the owner with no borrow held, so it may submit or cancel from the callback.
    fn emit(&self, event: PoolEvent) {
        let on_event = self.inner.borrow().on_event.clone();
        on_event(event);
    }

    /// Hands queued jobs to idle, ready workers. A model job on a pool of several ready
    /// workers waits until they are all idle and is then fitted by all of them together.
    fn pump(&self) {
        loop {
            let mut inner = self.inner.borrow_mut();
            let ready: Vec<usize> = (0..inner.slots.len())
                .filter(|&k| inner.slots[k].ready)
                .collect();
            let Some(front) = inner.queue.front() else {
                return;
            };
            if front.want == Want::Model && ready.len() > 1 && inner.shared.is_none() {
                if ready.iter().any(|&k| inner.slots[k].busy.is_some()) {
                    return;
                }
                let Some(job) = inner.queue.pop_front() else {
                    return;
                };
                drop(inner);
                let job_id = job.job_id;
                if let Err(message) = self.start_shared(job, ready) {
                    if self.is_shared(job_id) {
                        self.give_up_shared(message);
                    } else {
                        self.emit(PoolEvent::Failed { job_id, message });
                    }
                }
                continue;
            }
            let Some(&k) = ready.iter().find(|&&k| inner.slots[k].busy.is_none()) else {
                return;
            };
            let Some(job) = inner.queue.pop_front() else {
                return;
            };
            let job_id = job.job_id;
            let sent = send_data(&mut inner, k, job.data_id).and_then(|()| {
                post_to(
                    &inner.slots[k].worker,
                    wire::to_worker_packet(&ToWorker::Fit(job)),
                )
            });
            match sent {
                Ok(()) => inner.slots[k].busy = Some(job_id),
                Err(message) => {
                    drop(inner);
                    self.emit(PoolEvent::Failed { job_id, message });
                }
            }
        }
    }
}

/// A ready, idle worker of `inner` without dataset `data_id`, if any.
fn pool_lacking(inner: &Inner, data_id: u64) -> Option<usize> {
    (0..inner.slots.len()).find(|&k| {
        let slot = &inner.slots[k];
        slot.ready && slot.busy.is_none() && slot.data_id != Some(data_id)
    })
}

/// Sends the dataset `data_id` to worker `k` unless it already has it.
fn send_data(inner: &mut Inner, k: usize, data_id: u64) -> Result<(), String> {
    if inner.slots[k].data_id == Some(data_id) {
        return Ok(());
    }
    let packet = match &inner.data {
        Some((id, ratings)) if *id == data_id => wire::data_packet(*id, ratings),
        _ => Err("the dataset of this job is gone".to_owned()),
    };
    post_to(&inner.slots[k].worker, packet)?;
    inner.slots[k].data_id = Some(data_id);
    Ok(())
}

fn post_to(worker: &Worker, packet: Result<Packet, String>) -> Result<(), String> {
    let p = packet?;
    worker
        .post_message_with_transfer(&p.message, &p.transfer)
        .map_err(|e| format!("{e:?}"))
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
