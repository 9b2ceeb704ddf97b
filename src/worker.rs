//! The training worker: a message loop around engine calls.
//!
//! The page runs several of these (one per core) and may terminate one at any moment to
//! cancel its fit, so a worker keeps nothing that cannot be sent again: the dataset (whole,
//! or as the two parts of its latest split), and what it derives from it by seed.
//!
//! A panic cannot be caught in wasm (it aborts), so the worker's panic hook first tells the
//! page which job failed and why; the abort then fires the Worker's `error` event, on which
//! the pool replaces the worker (see [`crate::pool`]).

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;

use affinity_engine::als::{self, AlsModel, FitShare};
use affinity_engine::cv::{self, FoldAssignment};
use affinity_engine::metrics::{evaluate, ColdStartStrategy};
use affinity_engine::ranking::evaluate_ranking_sampled;
use affinity_engine::split::{random_split, rejoin};
use affinity_engine::Ratings;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent, MessagePort};

use crate::encoding;
use crate::protocol::{FitJob, FromWorker, SplitSpec, ToWorker, TrainReport, Want, TOP_K};
use crate::reading;
use crate::report_gate::ReportGate;
use crate::shared_fit::{Action, PartRows, PeerFit};
use crate::warm_up::{warm_up, WARM_UP_DELAY_MS};
use crate::wire::{self, Attached, Packet};

/// Test users whose top-N lists the final model's ranking metrics are computed on. Scoring
/// costs users × items × rank: on a million ratings every user would keep the worker busy
/// for many seconds, and a few thousand users already give the metrics to about 0.01. The
/// page says when the metrics come from a sample.
const MAX_RANKED_USERS: usize = 3000;

/// A training part and the part it is tested on.
type Parts = (Ratings, Ratings);

/// A holdout split's key: the training fraction's bits and the seed.
type SplitKey = (u64, u64);

/// The dataset as a worker holds it: whole, as it came, or as the two parts of its latest
/// holdout split, never both. At 10M ratings each copy takes 120 MB of a worker's memory,
/// which WebAssembly never gives back; the parts are rejoined if another split is asked for.
enum Held {
    Whole(Ratings),
    Split {
        key: SplitKey,
        train: Ratings,
        test: Ratings,
    },
}

/// What a worker holds between messages.
#[derive(Default)]
struct WorkerState {
    data: Option<(u64, Held)>,
    /// (train fraction bits, seed, k) → how the holdout's training part is dealt into folds.
    dealt: Option<((u64, u64, usize), FoldAssignment)>,
    /// (train fraction bits, seed, k, fold) → the pair of the fold in use: one at a time, as
    /// all `k` pairs would hold `k` copies of the training part.
    fold: Option<((u64, u64, usize, usize), Parts)>,
    /// This worker's part of the fit that the pool's workers run together, if any.
    shared: Option<WorkerShare>,
}

/// A worker's part in a shared fit.
struct WorkerShare {
    job: FitJob,
    fit: PeerFit,
    /// To every other worker of the fit.
    ports: Vec<MessagePort>,
    /// When this worker had its training part and began the fit ([`now_ms`]): the fit's time
    /// leaves out reading the dataset and splitting it, as a one-worker fit's does.
    started_ms: f64,
    /// When the first worker may next send the page a progress report.
    reports: ReportGate,
}

impl Drop for WorkerShare {
    fn drop(&mut self) {
        for port in &self.ports {
            port.close();
        }
    }
}

thread_local! {
    static STATE: RefCell<WorkerState> = RefCell::new(WorkerState::default());
    /// The job being run, for the panic hook's report.
    static CURRENT_JOB: Cell<Option<u64>> = const { Cell::new(None) };
    /// The handler of every port to another worker: it hands the message to the worker's
    /// own `onmessage`, so each message, from the page or a peer, goes one way in, and an
    /// exception in it is uncaught as anywhere else (the page then sees the worker crash).
    static PORT_HANDLER: JsValue = Closure::<dyn Fn(MessageEvent)>::new(|ev: MessageEvent| {
        if let Some(handler) = scope().onmessage() {
            if let Err(e) = handler.call1(&JsValue::NULL, &ev) {
                wasm_bindgen::throw_val(e);
            }
        }
    })
    .into_js_value();
}

/// Starts listening for messages and tells the page the worker is ready.
///
/// Call after any panic hook that should also run (the console one): this one chains to it.
pub fn run() {
    report_panics();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let handler = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        on_message(&ev.data());
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The worker lives as long as its global scope; so does its handler.
    handler.forget();
    post(&wire::from_worker_packet(&FromWorker::Ready));
}

/// Chains a panic hook that reports the panic as the failure of the running job, so the
/// visitor reads the panic's message rather than the abort's "unreachable".
fn report_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        // `take`: a panic inside this hook must not report the same job twice.
        if let Some(job_id) = CURRENT_JOB.with(Cell::take) {
            // "panicked at src/…:1:2:\n<message>": one line for the banner.
            let what = info.to_string().replace('\n', " ");
            let message = format!("the training worker stopped on an internal error ({what})");
            post(&wire::from_worker_packet(&FromWorker::Failed {
                job_id,
                message,
            }));
        }
    }));
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// The worker's clock, in milliseconds: `performance.now()`, finer than `Date.now()`'s
/// whole milliseconds (a half-step of a small fit lasts a few) and, unlike it, never set back
/// or forward with the system's clock, so the fit times shown are durations.
fn now_ms() -> f64 {
    match scope().performance() {
        Some(p) => p.now(),
        None => js_sys::Date::now(),
    }
}

fn post(packet: &Result<Packet, String>) {
    let result = match packet {
        Ok(p) => scope().post_message_with_transfer(&p.message, &p.transfer),
        Err(e) => Err(JsValue::from_str(e)),
    };
    if let Err(e) = result {
        web_sys::console::error_1(&e);
    }
}

fn on_message(message: &JsValue) {
    let (head, attached) = match wire::decode_to_worker(message) {
        Ok(decoded) => decoded,
        Err(e) => {
            web_sys::console::error_1(&JsValue::from_str(&format!(
                "training worker: unreadable message ({e})"
            )));
            return;
        }
    };
    let job_id = match &head {
        ToWorker::Parse { .. } | ToWorker::Decode | ToWorker::Encode { .. } => {
            // Job 0: the panic hook then reports a panic while reading (or encoding) as a
            // failed read.
            CURRENT_JOB.set(Some(0));
            let reply = match (&head, &attached) {
                (
                    ToWorker::Parse {
                        format,
                        slice_bytes,
                    },
                    Attached::Blob(file),
                ) => reading::read_in_worker(file, *format, *slice_bytes, post),
                (ToWorker::Decode, Attached::Blob(stored)) => reading::decode_in_worker(stored),
                (ToWorker::Encode { .. }, Attached::ToEncode(parts)) => {
                    let (model, users, items) = &**parts;
                    encoding::encode_in_worker(model, users, items)
                }
                _ => Err("no file came with the request".into()),
            };
            CURRENT_JOB.set(None);
            match reply {
                Ok(packet) => post(&packet),
                Err(message) => post(&wire::from_worker_packet(&FromWorker::Failed {
                    job_id: 0,
                    message,
                })),
            }
            return;
        }
        ToWorker::Data { data_id, .. } => {
            schedule_warm_up();
            if let Attached::Ratings(ratings) = attached {
                let data_id = *data_id;
                STATE.with_borrow_mut(|s| {
                    *s = WorkerState {
                        data: Some((data_id, Held::Whole(ratings))),
                        ..WorkerState::default()
                    }
                });
            }
            return;
        }
        ToWorker::Fit(job) | ToWorker::Share { job, .. } => job.job_id,
        ToWorker::PartRows { job_id, .. } => *job_id,
    };
    // A job does the warm-up's work itself, and a warm-up between the messages of a shared
    // fit would hold the other workers up.
    WARM_UP.set(WarmUp::Done);
    CURRENT_JOB.set(Some(job_id));
    let reply = STATE.with_borrow_mut(|s| match head {
        ToWorker::Fit(job) => {
            // A new job: a share of an abandoned shared fit only holds memory.
            s.shared = None;
            run_job(s, &job)
        }
        ToWorker::Share { job, part, parts } => start_share(s, job, part, parts, attached),
        ToWorker::PartRows {
            half_step,
            part,
            n_rows,
            squared_errors,
            solve_ms,
            ..
        } => match attached {
            Attached::Rows(rows) => take_part_rows(
                s,
                job_id,
                PartRows {
                    half_step,
                    part,
                    n_rows,
                    rows,
                    squared_errors,
                    solve_ms,
                },
            ),
            _ => Err("rows of a shared fit came without their rows".into()),
        },
        ToWorker::Data { .. }
        | ToWorker::Parse { .. }
        | ToWorker::Decode
        | ToWorker::Encode { .. } => Ok(None),
    });
    CURRENT_JOB.set(None);
    match reply {
        Ok(Some(packet)) => post(&packet),
        Ok(None) => {}
        Err(message) => {
            // A failed share only holds memory: the page gives the fit up.
            STATE.with_borrow_mut(|s| {
                if s.shared.as_ref().is_some_and(|w| w.job.job_id == job_id) {
                    s.shared = None;
                }
            });
            post(&wire::from_worker_packet(&FromWorker::Failed {
                job_id,
                message,
            }))
        }
    }
}

/// Where this worker is with its warm-up ([`crate::warm_up`]).
#[derive(Clone, Copy, PartialEq)]
enum WarmUp {
    /// No dataset has come yet.
    Waiting,
    /// A dataset came; the warm-up runs after [`WARM_UP_DELAY_MS`] unless a job comes first.
    Scheduled,
    /// Warmed up, or no longer needed.
    Done,
}

thread_local! {
    static WARM_UP: Cell<WarmUp> = const { Cell::new(WarmUp::Waiting) };
}

/// Runs the warm-up fit a while after the first dataset, unless a job has come by then.
fn schedule_warm_up() {
    if WARM_UP.get() != WarmUp::Waiting {
        return;
    }
    WARM_UP.set(WarmUp::Scheduled);
    let run = Closure::once_into_js(|| {
        if WARM_UP.replace(WarmUp::Done) == WarmUp::Scheduled {
            warm_up();
        }
    });
    if scope()
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            run.unchecked_ref(),
            WARM_UP_DELAY_MS,
        )
        .is_err()
    {
        WARM_UP.set(WarmUp::Done);
    }
}

/// Takes part `part` of `parts` in the shared fit `job`, with ports to the other workers,
/// and solves this part of its first half-step.
fn start_share(
    state: &mut WorkerState,
    job: FitJob,
    part: usize,
    parts: usize,
    attached: Attached,
) -> Result<Option<Result<Packet, String>>, String> {
    state.shared = None;
    let Attached::Ports(ports) = attached else {
        return Err("the shared fit came without ports to the other workers".into());
    };
    if ports.len() + 1 != parts {
        return Err(format!(
            "a fit in {parts} parts came with {} ports",
            ports.len()
        ));
    }
    let params = job.params.check().map_err(|e| e.to_string())?;
    let (train, _) = parts_of(state, &job)?;
    let started_ms = now_ms();
    let share = FitShare::new(train, &params);
    PORT_HANDLER.with(|handler| {
        for port in &ports {
            port.set_onmessage(Some(handler.unchecked_ref()));
        }
    });
    let (fit, actions) = PeerFit::start(share, part, parts, params.max_iter, Box::new(now_ms))?;
    state.shared = Some(WorkerShare {
        job,
        fit,
        ports,
        started_ms,
        reports: ReportGate::starting_at(started_ms),
    });
    carry_out(state, actions)
}

/// Takes another worker's rows of the shared fit `job_id`; rows of a fit this worker no
/// longer runs (given up, or replaced by a new job) are dropped.
fn take_part_rows(
    state: &mut WorkerState,
    job_id: u64,
    rows: PartRows,
) -> Result<Option<Result<Packet, String>>, String> {
    let Some(share) = state.shared.as_mut().filter(|w| w.job.job_id == job_id) else {
        return Ok(None);
    };
    let actions = share.fit.receive(rows)?;
    carry_out(state, actions)
}

/// Sends this worker's rows to the others, reports iterations (the first worker) and, at the
/// end, the model (the first worker) or that this worker is free (the others).
fn carry_out(
    state: &mut WorkerState,
    actions: Vec<Action>,
) -> Result<Option<Result<Packet, String>>, String> {
    for action in actions {
        let Some(share) = state.shared.as_ref() else {
            break;
        };
        let job_id = share.job.job_id;
        match action {
            Action::Send(rows) => {
                let head = ToWorker::PartRows {
                    job_id,
                    half_step: rows.half_step,
                    part: rows.part,
                    n_rows: rows.n_rows,
                    start: rows.rows.start,
                    squared_errors: rows.squared_errors,
                    solve_ms: rows.solve_ms,
                };
                for port in &share.ports {
                    // A packet per port: its buffers are transferred, so each is sent once.
                    let packet = wire::rows_packet(&head, Some(&rows.rows))?;
                    port.post_message_with_transferable(&packet.message, &packet.transfer)
                        .map_err(|e| format!("could not send rows to another worker: {e:?}"))?;
                }
            }
            Action::Progress(report) => {
                let first = share.fit.part() == 0;
                let Some(share) = state.shared.as_mut() else {
                    break;
                };
                if first && share.reports.pass(now_ms()) {
                    post(&wire::from_worker_packet(&FromWorker::Progress {
                        job_id,
                        report,
                    }));
                }
            }
            Action::Done { model, loss } => {
                let Some(share) = state.shared.take() else {
                    break;
                };
                if share.fit.part() != 0 {
                    return Ok(Some(wire::from_worker_packet(&FromWorker::ShareDone {
                        job_id,
                    })));
                }
                let fit_ms = now_ms() - share.started_ms;
                let (train, test) = parts_of(state, &share.job)?;
                let report = model_report(&model, train, test, loss, fit_ms);
                return Ok(Some(wire::trained_packet(job_id, report, &model)));
            }
        }
    }
    Ok(None)
}

/// Scores of a final model on its test part.
fn model_report(
    model: &AlsModel,
    train: &Ratings,
    test: &Ratings,
    loss: Vec<f64>,
    fit_ms: f64,
) -> TrainReport {
    TrainReport {
        evaluation: evaluate(model, test, ColdStartStrategy::Drop),
        ranking: evaluate_ranking_sampled(model, train, test, TOP_K, MAX_RANKED_USERS),
        n_train: train.len(),
        n_test: test.len(),
        fit_ms,
        loss,
        rank: model.rank(),
        global_mean: None,
    }
}

/// The training and test parts of a job, from the cached splits when they match.
fn parts_of<'s>(
    state: &'s mut WorkerState,
    job: &FitJob,
) -> Result<(&'s Ratings, &'s Ratings), String> {
    // Split borrows: the dataset is read while the cached splits are replaced.
    let WorkerState {
        data, dealt, fold, ..
    } = state;
    let held = match data {
        Some((id, held)) if *id == job.data_id => held,
        _ => return Err("the worker has not received this dataset".into()),
    };
    let (train_fraction, seed) = match job.split {
        SplitSpec::Holdout {
            train_fraction,
            seed,
        }
        | SplitSpec::Fold {
            train_fraction,
            seed,
            ..
        } => (train_fraction, seed),
    };
    let key = (train_fraction.to_bits(), seed);
    if !matches!(held, Held::Split { key: k, .. } if *k == key) {
        *dealt = None;
        *fold = None;
        resplit(held, key)?;
    }
    let Held::Split {
        train: holdout_train,
        test: holdout_test,
        ..
    } = &*held
    else {
        return Err("the split was not kept".into());
    };
    let (train, test) = match job.split {
        SplitSpec::Holdout { .. } => (holdout_train, holdout_test),
        SplitSpec::Fold { k, fold: f, .. } => {
            let dealt_key = (key.0, key.1, k);
            if !matches!(dealt, Some((d, _)) if *d == dealt_key) {
                *fold = None;
                let folds =
                    FoldAssignment::new(holdout_train, k, seed).map_err(|e| e.to_string())?;
                *dealt = Some((dealt_key, folds));
            }
            let Some((_, folds)) = &*dealt else {
                return Err("the folds were not kept".into());
            };
            let pair_key = (key.0, key.1, k, f);
            if !matches!(fold, Some((p, _)) if *p == pair_key) {
                // The old pair goes before the new one is built: one pair at a time.
                *fold = None;
                let pair = folds.parts(holdout_train, f).map_err(|e| e.to_string())?;
                *fold = Some((pair_key, pair));
            }
            let Some((_, (t, v))) = &*fold else {
                return Err("the fold was not kept".into());
            };
            (t, v)
        }
    };
    if train.is_empty() || test.is_empty() {
        return Err(format!(
            "{} ratings are too few to hold some out for testing",
            holdout_train.len() + holdout_test.len()
        ));
    }
    Ok((train, test))
}

/// Makes `held` the parts of the holdout split `key`: splits the whole dataset, or first
/// rejoins the parts of another split. What it held is kept if either step fails.
fn resplit(held: &mut Held, key: SplitKey) -> Result<(), String> {
    let whole = match std::mem::replace(held, Held::Whole(Ratings::default())) {
        Held::Whole(ratings) => ratings,
        Held::Split {
            key: (fraction, seed),
            train,
            test,
        } => match rejoin(&train, &test, f64::from_bits(fraction), seed) {
            Ok(whole) => whole,
            Err(e) => {
                *held = Held::Split {
                    key: (fraction, seed),
                    train,
                    test,
                };
                return Err(e.to_string());
            }
        },
    };
    match random_split(&whole, f64::from_bits(key.0), key.1) {
        Ok((train, test)) => {
            *held = Held::Split { key, train, test };
            Ok(())
        }
        Err(e) => {
            *held = Held::Whole(whole);
            Err(e.to_string())
        }
    }
}

fn run_job(
    state: &mut WorkerState,
    job: &FitJob,
) -> Result<Option<Result<Packet, String>>, String> {
    let params = job.params.check().map_err(|e| e.to_string())?;
    let (train, test) = parts_of(state, job)?;
    let job_id = job.job_id;
    let mut loss = Vec::with_capacity(params.max_iter);
    let started = now_ms();
    let mut reports = ReportGate::starting_at(started);
    let model = als::fit_with_progress(train, &params, |report| {
        loss.push(report.train_rmse);
        if reports.pass(now_ms()) {
            post(&wire::from_worker_packet(&FromWorker::Progress {
                job_id,
                report: report.clone(),
            }));
        }
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    let fit_ms = now_ms() - started;
    Ok(Some(match job.want {
        Want::Score(metric) => {
            let score = cv::score(&model, train, test, metric);
            wire::from_worker_packet(&FromWorker::Scored {
                job_id,
                score,
                loss,
            })
        }
        Want::Model => {
            let report = model_report(&model, train, test, loss, fit_ms);
            wire::trained_packet(job_id, report, &model)
        }
    }))
}
