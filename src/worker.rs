//! The training worker: a message loop around engine calls.

use std::ops::ControlFlow;

use affinity_engine::als;
use affinity_engine::metrics::{evaluate, ColdStartStrategy};
use affinity_engine::split::random_split;
use gloo_worker::{HandlerId, Worker, WorkerScope};

use crate::protocol::{TrainJob, TrainOutcome, WorkerOutput};

/// Runs [`TrainJob`]s off the page's thread, reporting progress once per iteration.
pub struct TrainWorker;

impl Worker for TrainWorker {
    type Message = ();
    type Input = TrainJob;
    type Output = WorkerOutput;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        TrainWorker
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: Self::Message) {}

    fn received(&mut self, scope: &WorkerScope<Self>, job: TrainJob, who: HandlerId) {
        let job_id = job.job_id;
        let reply = match run(job, |report| {
            scope.respond(who, WorkerOutput::Progress { job_id, report });
        }) {
            Ok(outcome) => WorkerOutput::Trained {
                job_id,
                outcome: Box::new(outcome),
            },
            Err(message) => WorkerOutput::Failed { job_id, message },
        };
        scope.respond(who, reply);
    }
}

fn run(
    job: TrainJob,
    mut progress: impl FnMut(als::IterationReport),
) -> Result<TrainOutcome, String> {
    let params = job.params.check().map_err(|e| e.to_string())?;
    let (train, test) =
        random_split(&job.ratings, job.train_fraction, params.seed).map_err(|e| e.to_string())?;
    if train.is_empty() || test.is_empty() {
        return Err(format!(
            "{} ratings are too few to hold some out for testing",
            job.ratings.len()
        ));
    }
    let started = js_sys::Date::now();
    let model = als::fit_with_progress(&train, &params, |report| {
        progress(report.clone());
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    let fit_ms = js_sys::Date::now() - started;
    let evaluation = evaluate(&model, &test, ColdStartStrategy::Drop);
    Ok(TrainOutcome {
        model,
        evaluation,
        n_train: train.len(),
        n_test: test.len(),
        fit_ms,
    })
}
