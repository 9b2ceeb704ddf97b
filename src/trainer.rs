//! Training runs: cross-validation jobs spread over the worker pool, then the final fit.

use std::sync::Arc;

use affinity_engine::als::AlsParams;
use affinity_engine::cv::{summarize, CvJob, Metric};
use affinity_engine::Ratings;
use leptos::prelude::*;

use crate::next_task::after_paint;
use crate::pacer::{Pacer, PACE_MS};
use crate::pool::{Pool, PoolEvent};
use crate::protocol::{FitJob, SplitSpec, TrainOutcome, Want};
use crate::state::{AppState, RunProgress, TrainStatus};

/// What the Train button asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    /// Grid points to cross-validate; one point and `folds == 0` fits it once without CV.
    pub points: Vec<AlsParams>,
    /// Folds of the cross-validation (0: no cross-validation).
    pub folds: usize,
    /// What the cross-validation scores by.
    pub metric: Metric,
    /// Fraction of the ratings in the training part; the rest is the test part.
    pub train_fraction: f64,
    /// Seed of the split and the folds.
    pub seed: u64,
}

/// A run in flight.
struct Run {
    request: RunRequest,
    /// First job id of the run; job `first_job + j` is `cv_jobs[j]`, and
    /// `first_job + cv_jobs.len()` is the final fit.
    first_job: u64,
    cv_jobs: Vec<CvJob>,
    scores: Vec<Option<f64>>,
    /// Finished fraction of each running job, by job offset.
    running: Vec<(u64, f64)>,
    fits_done: usize,
    /// Parameters of the final fit, once known.
    final_params: Option<AlsParams>,
    started_ms: f64,
}

impl Run {
    fn total(&self) -> usize {
        self.cv_jobs.len() + 1
    }

    fn final_job(&self) -> u64 {
        self.first_job + self.cv_jobs.len() as u64
    }

    fn describe(&self, job_id: u64) -> String {
        match job_id.checked_sub(self.first_job) {
            Some(j) if (j as usize) < self.cv_jobs.len() => {
                let job = &self.cv_jobs[j as usize];
                format!(
                    "{}, fold {} of {}",
                    describe_params(&job.params),
                    job.fold + 1,
                    self.request.folds
                )
            }
            _ => match &self.final_params {
                Some(p) => format!("final fit: {}", describe_params(p)),
                None => "final fit".into(),
            },
        }
    }

    fn progress(&self, current: String) -> RunProgress {
        RunProgress {
            fits_done: self.fits_done,
            fits_total: self.total(),
            progress: self.fits_done as f64 + self.running.iter().map(|(_, f)| f).sum::<f64>(),
            current,
            started_ms: self.started_ms,
        }
    }
}

/// Short label of a grid point, as the table and the status line show it.
pub fn describe_params(p: &AlsParams) -> String {
    let mut s = format!(
        "rank {} · reg {} · {} iter",
        p.rank, p.reg_param, p.max_iter
    );
    if p.implicit_prefs {
        s.push_str(&format!(" · alpha {}", p.alpha));
    }
    s
}

/// Handle to the pool and the current run, provided through context.
#[derive(Clone, Copy)]
pub struct Trainer {
    pool: StoredValue<Option<Pool>, LocalStorage>,
    run: StoredValue<Option<Run>, LocalStorage>,
    /// The dataset the workers hold, and its id.
    data: StoredValue<(u64, Option<Arc<Ratings>>), LocalStorage>,
    next_job: StoredValue<u64, LocalStorage>,
    /// Shows the running run's progress at most every [`PACE_MS`].
    progress: StoredValue<Pacer<RunProgress>, LocalStorage>,
    state: AppState,
}

impl Trainer {
    /// Starts the worker pool; a new dataset cancels any run on the old one.
    pub fn spawn(state: AppState) -> Self {
        let trainer = Trainer {
            pool: StoredValue::new_local(None),
            run: StoredValue::new_local(None),
            data: StoredValue::new_local((0, None)),
            next_job: StoredValue::new_local(1),
            progress: StoredValue::new_local(Pacer::new(PACE_MS, move |p| {
                // A report that waited past the end of its run must not bring it back.
                if matches!(state.status.get_untracked(), TrainStatus::Running(_)) {
                    state.status.set(TrainStatus::Running(p));
                }
            })),
            state,
        };
        match Pool::new(move |event| trainer.on_event(event)) {
            Ok(pool) => trainer.pool.set_value(Some(pool)),
            Err(e) => state.fail(format!("Training is unavailable: {e}")),
        }
        Effect::new(move |_| {
            let ratings = state
                .dataset
                .with(|d| d.as_ref().map(|d| d.ratings.clone()));
            // New metadata keeps the ratings (and the run on them); new ratings end it.
            let same = trainer.data.with_value(|(_, held)| match (held, &ratings) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            });
            if !same {
                trainer.cancel_quietly();
                // The workers get the new ratings now, before Train is clicked.
                if let (Some(ratings), Some(pool)) = (ratings, trainer.pool.get_value()) {
                    let data_id = trainer.data.with_value(|(id, _)| id + 1);
                    trainer.data.set_value((data_id, Some(ratings.clone())));
                    pool.set_data(data_id, ratings);
                }
            }
        });
        trainer
    }

    /// Number of workers in the pool.
    pub fn workers(&self) -> usize {
        self.pool.with_value(|p| p.as_ref().map_or(0, Pool::size))
    }

    /// Starts a run on the current dataset, cancelling any run in flight.
    pub fn start(&self, request: RunRequest) {
        let Some(dataset) = self.state.dataset.get_untracked() else {
            self.state
                .fail("Load a ratings file or the demo catalog first.");
            return;
        };
        let Some(pool) = self.pool.get_value() else {
            self.state
                .fail("Training is unavailable: no worker could start.");
            return;
        };
        pool.cancel_all();
        let data_id = self.data.with_value(|(id, held)| match held {
            Some(r) if Arc::ptr_eq(r, &dataset.ratings) => *id,
            _ => id + 1,
        });
        self.data
            .set_value((data_id, Some(dataset.ratings.clone())));
        pool.set_data(data_id, dataset.ratings.clone());

        let cv_jobs = if request.folds >= 2 {
            affinity_engine::cv::plan(&request.points, request.folds)
        } else {
            Vec::new()
        };
        let first_job = self.next_job.get_value();
        let final_params = if cv_jobs.is_empty() {
            request.points.first().cloned()
        } else {
            None
        };
        self.next_job
            .set_value(first_job + cv_jobs.len() as u64 + 1);
        let run = Run {
            scores: vec![None; cv_jobs.len()],
            running: Vec::new(),
            fits_done: 0,
            final_params: final_params.clone(),
            started_ms: js_sys::Date::now(),
            first_job,
            cv_jobs,
            request,
        };
        let mut jobs: Vec<FitJob> = if run.cv_jobs.is_empty() {
            vec![self.final_fit_job(&run, data_id)]
        } else {
            run.cv_jobs
                .iter()
                .enumerate()
                .map(|(j, job)| FitJob {
                    job_id: first_job + j as u64,
                    data_id,
                    params: job.params.clone(),
                    split: SplitSpec::Fold {
                        train_fraction: run.request.train_fraction,
                        seed: run.request.seed,
                        k: run.request.folds,
                        fold: job.fold,
                    },
                    want: Want::Score(run.request.metric),
                })
                .collect()
        };
        // Largest fits first: the workers then end the grid on small fits, together, rather
        // than one worker finishing a large fit while the others wait.
        jobs.sort_by(|a, b| fit_cost(&b.params).total_cmp(&fit_cost(&a.params)));
        self.state.error.set(None);
        self.state.trained.set(None);
        self.state.cv.set(None);
        // The status set here is drawn before the workers start; redrawing it for the first
        // iteration too (a few ms into a small fit) took a two-core machine's time from the
        // workers (BENCHMARKS.md).
        self.progress.with_value(Pacer::restart);
        self.state.status.set(TrainStatus::Running(
            run.progress("starting the workers".into()),
        ));
        self.run.set_value(Some(run));
        // The workers start once the page has drawn the new run (results cleared, progress
        // shown). Started at once, they shared a two-core machine with that drawing, and a
        // fit on u.data took 14% longer (BENCHMARKS.md).
        let trainer = *self;
        leptos::task::spawn_local(async move {
            after_paint().await;
            // Cancelled, or replaced by another run, in the meantime: nothing to start.
            let current = trainer
                .run
                .with_value(|r| r.as_ref().is_some_and(|r| r.first_job == first_job));
            if current {
                pool.submit(jobs);
            }
        });
    }

    /// Stops the run: queued fits are dropped and running ones are terminated at once.
    pub fn cancel(&self) {
        if self.cancel_quietly() {
            self.state.status.set(TrainStatus::Cancelled);
        }
    }

    fn cancel_quietly(&self) -> bool {
        self.progress.with_value(Pacer::clear);
        let had_run = self.run.with_value(Option::is_some);
        self.run.set_value(None);
        if had_run {
            if let Some(pool) = self.pool.get_value() {
                pool.cancel_all();
            }
        }
        had_run
    }

    fn final_fit_job(&self, run: &Run, data_id: u64) -> FitJob {
        FitJob {
            job_id: run.final_job(),
            data_id,
            params: run
                .final_params
                .clone()
                .expect("final parameters are known before the final fit"),
            split: SplitSpec::Holdout {
                train_fraction: run.request.train_fraction,
                seed: run.request.seed,
            },
            want: Want::Model,
        }
    }

    fn show_progress(&self, p: RunProgress) {
        self.progress.with_value(|pacer| pacer.push(p));
    }

    fn on_event(&self, event: PoolEvent) {
        let state = self.state;
        // Events of a cancelled or replaced run are dropped here.
        let job_id = match &event {
            PoolEvent::Progress { job_id, .. }
            | PoolEvent::Scored { job_id, .. }
            | PoolEvent::Trained { job_id, .. }
            | PoolEvent::Failed { job_id, .. } => *job_id,
        };
        let belongs = self.run.with_value(|r| {
            r.as_ref()
                .is_some_and(|r| job_id >= r.first_job && job_id <= r.final_job())
        });
        if !belongs {
            return;
        }
        match event {
            PoolEvent::Progress { job_id, report } => {
                let progress = self.update_run(|run| {
                    let fraction = report.iteration as f64 / report.max_iter.max(1) as f64;
                    match run.running.iter_mut().find(|(j, _)| *j == job_id) {
                        Some(entry) => entry.1 = fraction,
                        None => run.running.push((job_id, fraction)),
                    }
                    run.progress(run.describe(job_id))
                });
                if let Some(p) = progress {
                    self.show_progress(p);
                }
            }
            PoolEvent::Scored { job_id, score, .. } => {
                let next = self.update_run(|run| {
                    run.running.retain(|(j, _)| *j != job_id);
                    run.fits_done += 1;
                    let j = (job_id - run.first_job) as usize;
                    run.scores[j] = Some(score);
                    if run.scores.iter().all(Option::is_some) {
                        let scores: Vec<f64> =
                            run.scores.iter().map(|s| s.unwrap_or(f64::NAN)).collect();
                        let result = summarize(
                            &run.request.points,
                            &run.cv_jobs,
                            &scores,
                            run.request.metric,
                        );
                        run.final_params = Some(result.points[result.best].params.clone());
                        (run.progress(run.describe(run.final_job())), Some(result))
                    } else {
                        (run.progress(run.describe(job_id)), None)
                    }
                });
                if let Some((progress, result)) = next {
                    self.show_progress(progress);
                    if let Some(result) = result {
                        state.cv.set(Some(Arc::new(result)));
                        let data_id = self.data.with_value(|(id, _)| *id);
                        let job = self
                            .run
                            .with_value(|r| r.as_ref().map(|run| self.final_fit_job(run, data_id)));
                        if let (Some(job), Some(pool)) = (job, self.pool.get_value()) {
                            pool.submit([job]);
                        }
                    }
                }
            }
            PoolEvent::Trained {
                report,
                model,
                arrays,
                ..
            } => {
                let params = self
                    .run
                    .with_value(|r| r.as_ref().and_then(|r| r.final_params.clone()));
                self.run.set_value(None);
                self.progress.with_value(Pacer::clear);
                state.trained.set(Some(Arc::new(TrainOutcome {
                    model: *model,
                    params: params.unwrap_or_default(),
                    evaluation: report.evaluation,
                    ranking: report.ranking,
                    n_train: report.n_train,
                    n_test: report.n_test,
                    fit_ms: report.fit_ms,
                    loss: report.loss,
                    arrays: Some(crate::encoding::keep_arrays(arrays)),
                })));
                state.status.set(TrainStatus::Done);
            }
            PoolEvent::Failed { job_id, message } => {
                let what = self
                    .run
                    .with_value(|r| r.as_ref().map(|r| r.describe(job_id)));
                self.cancel_quietly();
                state.status.set(TrainStatus::Idle);
                state.fail(format!(
                    "Training failed ({}): {message}",
                    what.unwrap_or_default()
                ));
            }
        }
    }

    fn update_run<T>(&self, f: impl FnOnce(&mut Run) -> T) -> Option<T> {
        let mut out = None;
        self.run.update_value(|r| {
            if let Some(run) = r.as_mut() {
                out = Some(f(run));
            }
        });
        out
    }
}

/// A fit's relative cost: each rating adds a rank × rank outer product per iteration.
fn fit_cost(params: &affinity_engine::als::AlsParams) -> f64 {
    let rank = params.rank as f64;
    rank * rank * params.max_iter as f64
}
