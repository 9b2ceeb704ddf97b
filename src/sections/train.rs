//! Training: hyperparameters, the cross-validation grid, Train and Cancel, progress.

use affinity_engine::als::{AlsParams, Solver};
use affinity_engine::cv::{Metric, ParamGrid};
use leptos::prelude::*;

use crate::format::duration_ms;
use crate::params::{parse_list, parse_one};
use crate::protocol::TOP_K;
use crate::sections::results::Results;
use crate::state::{AppState, TrainStatus};
use crate::trainer::{RunRequest, Trainer};

/// The inputs of the section, as typed text, so a half-typed value is never lost.
#[derive(Clone, Copy)]
struct Form {
    rank: RwSignal<String>,
    max_iter: RwSignal<String>,
    reg_param: RwSignal<String>,
    implicit: RwSignal<bool>,
    alpha: RwSignal<String>,
    nonnegative: RwSignal<bool>,
    biases: RwSignal<bool>,
    solver_cg: RwSignal<bool>,
    split_percent: RwSignal<String>,
    seed: RwSignal<String>,
    cv_enabled: RwSignal<bool>,
    cv_ranks: RwSignal<String>,
    cv_reg_params: RwSignal<String>,
    cv_max_iters: RwSignal<String>,
    cv_alphas: RwSignal<String>,
    cv_folds: RwSignal<String>,
}

impl Form {
    fn new() -> Self {
        let d = AlsParams::default();
        Self {
            rank: RwSignal::new(d.rank.to_string()),
            max_iter: RwSignal::new(d.max_iter.to_string()),
            reg_param: RwSignal::new(d.reg_param.to_string()),
            implicit: RwSignal::new(false),
            alpha: RwSignal::new("1".into()),
            nonnegative: RwSignal::new(false),
            biases: RwSignal::new(true),
            solver_cg: RwSignal::new(false),
            split_percent: RwSignal::new("80".into()),
            seed: RwSignal::new(d.seed.to_string()),
            cv_enabled: RwSignal::new(true),
            cv_ranks: RwSignal::new("10, 20".into()),
            cv_reg_params: RwSignal::new("0.05, 0.1, 0.2".into()),
            cv_max_iters: RwSignal::new("10".into()),
            cv_alphas: RwSignal::new("1, 10, 40".into()),
            cv_folds: RwSignal::new("3".into()),
        }
    }

    /// The run the form describes, or what is wrong with it.
    fn request(&self) -> Result<RunRequest, String> {
        let implicit = self.implicit.get_untracked();
        let split: f64 = parse_one("Training share", &self.split_percent.get_untracked())?;
        if !(split > 0.0 && split < 100.0) {
            return Err(format!(
                "Training share must be between 0 and 100%, got {split}%."
            ));
        }
        let base = AlsParams {
            rank: parse_one("Rank", &self.rank.get_untracked())?,
            max_iter: parse_one("Iterations", &self.max_iter.get_untracked())?,
            reg_param: parse_one("Regularisation", &self.reg_param.get_untracked())?,
            seed: parse_one("Seed", &self.seed.get_untracked())?,
            implicit_prefs: implicit,
            alpha: parse_one("Alpha", &self.alpha.get_untracked())?,
            nonnegative: self.nonnegative.get_untracked(),
            biases: self.biases.get_untracked() && !implicit,
            solver: if self.solver_cg.get_untracked() {
                Solver::cg()
            } else {
                Solver::Cholesky
            },
            ..AlsParams::default()
        };
        let metric = if implicit {
            Metric::NdcgAtK(TOP_K)
        } else {
            Metric::Rmse
        };
        let (points, folds) = if self.cv_enabled.get_untracked() {
            let folds: usize = parse_one("Folds", &self.cv_folds.get_untracked())?;
            if !(2..=10).contains(&folds) {
                return Err(format!("Folds must be between 2 and 10, got {folds}."));
            }
            let grid = self.grid()?;
            let points =
                grid.points_with(&base, |p, alpha| Ok::<_, String>(AlsParams { alpha, ..p }))?;
            (points, folds)
        } else {
            (vec![base], 0)
        };
        for p in &points {
            p.check().map_err(|e| format!("Invalid parameters: {e}."))?;
        }
        Ok(RunRequest {
            points,
            folds,
            metric,
            train_fraction: split / 100.0,
            seed: parse_one("Seed", &self.seed.get_untracked())?,
        })
    }

    fn grid(&self) -> Result<ParamGrid, String> {
        Ok(ParamGrid {
            ranks: parse_list("Ranks", &self.cv_ranks.get_untracked())?,
            max_iters: parse_list("Iterations", &self.cv_max_iters.get_untracked())?,
            reg_params: parse_list("Regularisations", &self.cv_reg_params.get_untracked())?,
            alphas: if self.implicit.get_untracked() {
                parse_list("Alphas", &self.cv_alphas.get_untracked())?
            } else {
                Vec::new()
            },
        })
    }

    /// "6 grid points × 3 folds = 18 fits, then 1 final fit", or why it cannot be counted.
    fn plan_line(&self) -> String {
        let grid = ParamGrid {
            ranks: parse_list::<usize>("", &self.cv_ranks.get()).unwrap_or_default(),
            max_iters: parse_list::<usize>("", &self.cv_max_iters.get()).unwrap_or_default(),
            reg_params: parse_list::<f64>("", &self.cv_reg_params.get()).unwrap_or_default(),
            alphas: if self.implicit.get() {
                parse_list::<f64>("", &self.cv_alphas.get()).unwrap_or_default()
            } else {
                Vec::new()
            },
        };
        let folds: usize = self.cv_folds.get().trim().parse().unwrap_or(0);
        let points = grid.len();
        format!(
            "{points} grid point{} × {folds} folds = {} fits, then 1 final fit of the winner",
            if points == 1 { "" } else { "s" },
            points * folds,
        )
    }
}

/// The train section.
#[component]
pub fn TrainSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let trainer = expect_context::<Trainer>();
    let form = Form::new();
    let running = move || matches!(state.status.get(), TrainStatus::Running(_));

    let start = move |_| match form.request() {
        Ok(request) => trainer.start(request),
        Err(e) => state.fail(e),
    };

    view! {
        <section class="card wide" aria-labelledby="train-title">
            <h2 id="train-title">"2. Train"</h2>
            <fieldset class="params">
                <legend>"Model"</legend>
                <TextParam
                    label="Rank"
                    testid="param-rank"
                    help="Latent factors per user and item (Spark's rank)."
                    value=form.rank
                />
                <TextParam
                    label="Iterations"
                    testid="param-max-iter"
                    help="Alternating sweeps (Spark's maxIter)."
                    value=form.max_iter
                />
                <TextParam
                    label="Regularisation"
                    testid="param-reg-param"
                    help="Spark's regParam, scaled by each user's and item's rating count."
                    value=form.reg_param
                />
                <TextParam
                    label="Training share (%)"
                    testid="param-split"
                    help="The rest of the ratings is held out to test the model."
                    value=form.split_percent
                />
                <TextParam
                    label="Seed"
                    testid="param-seed"
                    help="Same seed, same data, same parameters: the same model."
                    value=form.seed
                />
                <Check
                    label="User and item biases"
                    testid="param-biases"
                    help="A global mean plus a bias per user and item (not in Spark); usually a lower RMSE."
                    value=form.biases
                />
                <Check
                    label="Implicit feedback"
                    testid="param-implicit"
                    help="Ratings are clicks or plays, not stars (Spark's implicitPrefs); scored by NDCG@10."
                    value=form.implicit
                />
                <Show when=move || form.implicit.get()>
                    <TextParam
                        label="Alpha"
                        testid="param-alpha"
                        help="Confidence 1 + alpha·r of an implicit rating r."
                        value=form.alpha
                    />
                </Show>
                <Check
                    label="Non-negative factors"
                    testid="param-nonnegative"
                    help="Factors ≥ 0, solved by non-negative least squares (Spark's nonnegative)."
                    value=form.nonnegative
                />
                <Check
                    label="Conjugate-gradient solver"
                    testid="param-cg"
                    help="A few warm-started CG steps instead of an exact Cholesky solve: faster at high rank."
                    value=form.solver_cg
                />
            </fieldset>
            <fieldset class="params grid-editor">
                <legend>"Cross-validation"</legend>
                <label class="check wide">
                    <input
                        type="checkbox"
                        data-testid="cv-enabled"
                        prop:checked=move || form.cv_enabled.get()
                        on:change=move |ev| form.cv_enabled.set(event_target_checked(&ev))
                    />
                    <span>
                        "Tune rank, regularisation and iterations by k-fold cross-validation on the training share"
                    </span>
                </label>
                <Show when=move || form.cv_enabled.get()>
                    <TextParam
                        label="Ranks"
                        testid="cv-ranks"
                        help="Comma-separated values to try."
                        value=form.cv_ranks
                    />
                    <TextParam
                        label="Regularisations"
                        testid="cv-reg-params"
                        help="Comma-separated values to try."
                        value=form.cv_reg_params
                    />
                    <TextParam
                        label="Iterations"
                        testid="cv-max-iters"
                        help="Comma-separated values to try."
                        value=form.cv_max_iters
                    />
                    <Show when=move || form.implicit.get()>
                        <TextParam
                            label="Alphas"
                            testid="cv-alphas"
                            help="Comma-separated values to try."
                            value=form.cv_alphas
                        />
                    </Show>
                    <TextParam
                        label="Folds"
                        testid="cv-folds"
                        help="k of k-fold (2 to 10)."
                        value=form.cv_folds
                    />
                    <p class="hint wide" data-testid="cv-plan">
                        {move || {
                            format!(
                                "{}, spread over {} worker{}.",
                                form.plan_line(),
                                trainer.workers(),
                                if trainer.workers() == 1 { "" } else { "s" },
                            )
                        }}
                    </p>
                </Show>
            </fieldset>
            <div class="row">
                <button
                    data-testid="train"
                    class="primary"
                    on:click=start
                    disabled=move || running() || state.dataset.with(Option::is_none)
                >
                    {move || if running() { "Training…" } else { "Train" }}
                </button>
                <button
                    data-testid="cancel"
                    class="secondary"
                    on:click=move |_| trainer.cancel()
                    disabled=move || !running()
                >
                    "Cancel"
                </button>
            </div>
            <progress
                data-testid="progress"
                aria-label="Training progress"
                max=move || progress_max(&state.status.get())
                value=move || progress_value(&state.status.get())
            ></progress>
            <p class="status" data-testid="train-status" aria-live="polite">
                {move || status_line(&state)}
            </p>
            <Results/>
        </section>
    }
}

#[component]
fn TextParam(
    label: &'static str,
    testid: &'static str,
    help: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label class="param">
            <span class="param-label">{label}</span>
            <input
                type="text"
                inputmode="decimal"
                data-testid=testid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <span class="hint">{help}</span>
        </label>
    }
}

#[component]
fn Check(
    label: &'static str,
    testid: &'static str,
    help: &'static str,
    value: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <label class="param check">
            <span class="check-line">
                <input
                    type="checkbox"
                    data-testid=testid
                    prop:checked=move || value.get()
                    on:change=move |ev| value.set(event_target_checked(&ev))
                />
                <span class="param-label">{label}</span>
            </span>
            <span class="hint">{help}</span>
        </label>
    }
}

fn progress_max(status: &TrainStatus) -> String {
    match status {
        TrainStatus::Running(p) => p.fits_total.max(1).to_string(),
        _ => "1".into(),
    }
}

fn progress_value(status: &TrainStatus) -> String {
    match status {
        TrainStatus::Running(p) => format!("{:.3}", p.progress),
        TrainStatus::Done => "1".into(),
        TrainStatus::Idle | TrainStatus::Cancelled => "0".into(),
    }
}

fn status_line(state: &AppState) -> String {
    match state.status.get() {
        TrainStatus::Idle if state.dataset.with(Option::is_some) => "Ready to train.".into(),
        TrainStatus::Idle => "Load data to train a model.".into(),
        TrainStatus::Cancelled => "Cancelled. Change the settings or train again.".into(),
        TrainStatus::Running(p) => {
            let elapsed = js_sys::Date::now() - p.started_ms;
            let left = if p.progress > 0.05 {
                let total = elapsed * p.fits_total as f64 / p.progress;
                format!(" · about {} left", duration_ms((total - elapsed).max(0.0)))
            } else {
                String::new()
            };
            format!(
                "Fit {} of {}: {}{left}",
                (p.fits_done + 1).min(p.fits_total),
                p.fits_total,
                p.current
            )
        }
        TrainStatus::Done => "Model ready: ask for recommendations below.".into(),
    }
}
