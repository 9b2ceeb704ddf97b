//! The training worker: a message loop around engine calls.
//!
//! The page runs several of these (one per core) and may terminate one at any moment to
//! cancel its fit, so a worker keeps nothing that cannot be sent again: the dataset, and the
//! splits it derives from it by seed.

use std::cell::RefCell;
use std::ops::ControlFlow;

use affinity_engine::als;
use affinity_engine::cv::{self, k_fold};
use affinity_engine::metrics::{evaluate, ColdStartStrategy};
use affinity_engine::ranking::evaluate_ranking;
use affinity_engine::split::random_split;
use affinity_engine::Ratings;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{FitJob, FromWorker, SplitSpec, ToWorker, TrainReport, Want, TOP_K};
use crate::wire::{self, Packet};

/// What a worker holds between messages.
#[derive(Default)]
struct WorkerState {
    data: Option<(u64, Ratings)>,
    /// (train fraction bits, seed) → train and test parts.
    holdout: Option<((u64, u64), (Ratings, Ratings))>,
    /// (train fraction bits, seed, k) → folds of the holdout's training part.
    folds: Option<((u64, u64, usize), Vec<(Ratings, Ratings)>)>,
}

thread_local! {
    static STATE: RefCell<WorkerState> = RefCell::new(WorkerState::default());
}

/// Starts listening for messages and tells the page the worker is ready.
pub fn run() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let handler = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        on_message(&ev.data());
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The worker lives as long as its global scope; so does its handler.
    handler.forget();
    post(&wire::from_worker_packet(&FromWorker::Ready));
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
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
    match wire::decode_to_worker(message) {
        Ok((ToWorker::Data { data_id, .. }, Some(ratings))) => {
            STATE.with_borrow_mut(|s| {
                *s = WorkerState {
                    data: Some((data_id, ratings)),
                    ..WorkerState::default()
                }
            });
        }
        Ok((ToWorker::Fit(job), _)) => {
            let job_id = job.job_id;
            let reply = STATE.with_borrow_mut(|s| run_job(s, &job));
            match reply {
                Ok(packet) => post(&packet),
                Err(message) => post(&wire::from_worker_packet(&FromWorker::Failed {
                    job_id,
                    message,
                })),
            }
        }
        Ok((ToWorker::Data { .. }, None)) => {}
        Err(e) => web_sys::console::error_1(&JsValue::from_str(&format!(
            "training worker: unreadable message ({e})"
        ))),
    }
}

fn run_job(state: &mut WorkerState, job: &FitJob) -> Result<Result<Packet, String>, String> {
    let params = job.params.check().map_err(|e| e.to_string())?;
    let data = match &state.data {
        Some((id, ratings)) if *id == job.data_id => ratings,
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
    if state.holdout.as_ref().map(|(k, _)| *k) != Some(key) {
        let parts = random_split(data, train_fraction, seed).map_err(|e| e.to_string())?;
        state.holdout = Some((key, parts));
        state.folds = None;
    }
    let (holdout_train, holdout_test) = &state.holdout.as_ref().expect("just set").1;
    let (train, test) = match job.split {
        SplitSpec::Holdout { .. } => (holdout_train, holdout_test),
        SplitSpec::Fold { k, fold, .. } => {
            let fkey = (key.0, key.1, k);
            if state.folds.as_ref().map(|(k, _)| *k) != Some(fkey) {
                let folds = k_fold(holdout_train, k, seed).map_err(|e| e.to_string())?;
                state.folds = Some((fkey, folds));
            }
            let folds = &state.folds.as_ref().expect("just set").1;
            let (t, v) = folds
                .get(fold)
                .ok_or_else(|| format!("fold {fold} of {k} does not exist"))?;
            (t, v)
        }
    };
    if train.is_empty() || test.is_empty() {
        return Err(format!(
            "{} ratings are too few to hold some out for testing",
            data.len()
        ));
    }
    let job_id = job.job_id;
    let mut loss = Vec::with_capacity(params.max_iter);
    let started = js_sys::Date::now();
    let model = als::fit_with_progress(train, &params, |report| {
        loss.push(report.train_rmse);
        post(&wire::from_worker_packet(&FromWorker::Progress {
            job_id,
            report: report.clone(),
        }));
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    let fit_ms = js_sys::Date::now() - started;
    Ok(match job.want {
        Want::Score(metric) => {
            let score = cv::score(&model, train, test, metric);
            wire::from_worker_packet(&FromWorker::Scored {
                job_id,
                score,
                loss,
            })
        }
        Want::Model => {
            let report = TrainReport {
                evaluation: evaluate(&model, test, ColdStartStrategy::Drop),
                ranking: evaluate_ranking(&model, train, test, TOP_K),
                n_train: train.len(),
                n_test: test.len(),
                fit_ms,
                loss,
                rank: model.rank(),
                global_mean: None,
            };
            wire::trained_packet(job_id, report, &model)
        }
    })
}
