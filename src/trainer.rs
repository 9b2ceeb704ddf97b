//! The bridge to the training worker: sends jobs, turns replies into signal updates.

use std::sync::Arc;

use gloo_worker::{Spawnable, WorkerBridge};
use leptos::prelude::*;

use crate::protocol::{TrainJob, WorkerOutput};
use crate::state::{AppState, TrainStatus};
use crate::worker::TrainWorker;

/// Handle to the training worker, provided through context.
#[derive(Clone, Copy)]
pub struct Trainer {
    // A bridge is not Send; it lives in the thread-local arena and stays alive for the page's
    // lifetime, since a dropped bridge loses queued messages.
    bridge: StoredValue<WorkerBridge<TrainWorker>, LocalStorage>,
}

impl Trainer {
    /// Starts the worker (Trunk writes it next to the page as `worker.js`).
    pub fn spawn(state: AppState) -> Self {
        let bridge = TrainWorker::spawner()
            .callback(move |reply| on_reply(state, reply))
            .spawn("./worker.js");
        Self {
            bridge: StoredValue::new_local(bridge),
        }
    }

    /// Sends a job; progress and the result arrive as signal updates.
    pub fn train(&self, job: TrainJob) {
        self.bridge.with_value(|b| b.send(job));
    }
}

fn on_reply(state: AppState, reply: WorkerOutput) {
    let current = state.job_id.get_untracked();
    match reply {
        WorkerOutput::Progress { job_id, report } if job_id == current => {
            state.status.set(TrainStatus::Running {
                iteration: report.iteration,
                max_iter: report.max_iter,
                train_rmse: Some(report.train_rmse),
            });
        }
        WorkerOutput::Trained { job_id, outcome } if job_id == current => {
            state.trained.set(Some(Arc::new(*outcome)));
            state.status.set(TrainStatus::Done);
        }
        WorkerOutput::Failed { job_id, message } if job_id == current => {
            state.status.set(TrainStatus::Idle);
            state.fail(format!("Training failed: {message}"));
        }
        _ => {} // a reply for a job the visitor has moved on from
    }
}
