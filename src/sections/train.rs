//! Training: hyperparameters, the Train button, progress and the test score.

use affinity_engine::als::AlsParams;
use leptos::prelude::*;

use crate::format::{duration_ms, thousands};
use crate::protocol::TrainJob;
use crate::state::{AppState, TrainStatus};
use crate::trainer::Trainer;

const TRAIN_FRACTION: f64 = 0.8;

/// The train section.
#[component]
pub fn TrainSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let trainer = expect_context::<Trainer>();
    let defaults = AlsParams::default();
    let rank = RwSignal::new(defaults.rank.to_string());
    let max_iter = RwSignal::new(defaults.max_iter.to_string());
    let reg_param = RwSignal::new(defaults.reg_param.to_string());
    let running = move || matches!(state.status.get(), TrainStatus::Running { .. });

    let start = move |_| {
        let Some(dataset) = state.dataset.get_untracked() else {
            state.fail("Load a ratings file or the demo catalog first.");
            return;
        };
        let params = match read_params(
            &rank.get_untracked(),
            &max_iter.get_untracked(),
            &reg_param.get_untracked(),
        ) {
            Ok(p) => p,
            Err(e) => {
                state.fail(e);
                return;
            }
        };
        state.error.set(None);
        state.trained.set(None);
        state.job_id.update(|id| *id += 1);
        state.status.set(TrainStatus::Running {
            iteration: 0,
            max_iter: params.max_iter,
            train_rmse: None,
        });
        trainer.train(TrainJob {
            job_id: state.job_id.get_untracked(),
            ratings: dataset.ratings.clone(),
            params,
            train_fraction: TRAIN_FRACTION,
        });
    };

    view! {
        <section class="card" aria-labelledby="train-title">
            <h2 id="train-title">"2. Train"</h2>
            <div class="params">
                <ParamInput
                    label="Rank"
                    testid="param-rank"
                    help="Latent factors per user and item."
                    value=rank
                    step="1"
                />
                <ParamInput
                    label="Iterations"
                    testid="param-max-iter"
                    help="Alternating sweeps (Spark's maxIter)."
                    value=max_iter
                    step="1"
                />
                <ParamInput
                    label="Regularisation"
                    testid="param-reg-param"
                    help="Spark's regParam, scaled by each user's and item's rating count."
                    value=reg_param
                    step="0.01"
                />
            </div>
            <div class="row">
                <button
                    data-testid="train"
                    class="primary"
                    on:click=start
                    disabled=move || running() || state.dataset.with(Option::is_none)
                >
                    {move || if running() { "Training…" } else { "Train" }}
                </button>
                <span class="hint">"80% of the ratings train the model; the other 20% test it."</span>
            </div>
            <progress
                data-testid="progress"
                max=move || progress_max(&state.status.get())
                value=move || progress_value(&state.status.get())
            ></progress>
            <p class="status" aria-live="polite">{move || status_line(&state)}</p>
            <Score/>
        </section>
    }
}

#[component]
fn ParamInput(
    label: &'static str,
    testid: &'static str,
    help: &'static str,
    value: RwSignal<String>,
    step: &'static str,
) -> impl IntoView {
    view! {
        <label class="param">
            <span class="param-label">{label}</span>
            <input
                type="number"
                min="0"
                step=step
                data-testid=testid
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <span class="hint">{help}</span>
        </label>
    }
}

#[component]
fn Score() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.trained.get().map(|t| {
            let e = &t.evaluation;
            view! {
                <div class="score">
                    <p class="metric" data-testid="test-rmse">
                        "Test RMSE " <strong>{format!("{:.4}", e.rmse)}</strong>
                    </p>
                    <p class="metric">"MAE " <strong>{format!("{:.4}", e.mae)}</strong></p>
                    <p class="hint">
                        {format!(
                            "Fitted in {} on {} ratings; tested on {} held-out ratings{}.",
                            duration_ms(t.fit_ms),
                            thousands(t.n_train),
                            thousands(e.n_evaluated),
                            if e.n_dropped == 0 {
                                String::new()
                            } else {
                                format!(
                                    " ({} more left out: their user or item had no training ratings)",
                                    thousands(e.n_dropped),
                                )
                            },
                        )}
                    </p>
                </div>
            }
        })
    }
}

fn read_params(rank: &str, max_iter: &str, reg_param: &str) -> Result<AlsParams, String> {
    let rank = rank
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("Rank must be a whole number, got \"{rank}\"."))?;
    let max_iter = max_iter
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("Iterations must be a whole number, got \"{max_iter}\"."))?;
    let reg_param = reg_param
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("Regularisation must be a number, got \"{reg_param}\"."))?;
    let params = AlsParams {
        rank,
        max_iter,
        reg_param,
        ..AlsParams::default()
    };
    params
        .check()
        .map_err(|e| format!("Invalid parameters: {e}."))?;
    Ok(params)
}

fn progress_max(status: &TrainStatus) -> String {
    match status {
        TrainStatus::Running { max_iter, .. } => (*max_iter).max(1).to_string(),
        _ => "1".into(),
    }
}

fn progress_value(status: &TrainStatus) -> String {
    match status {
        TrainStatus::Running { iteration, .. } => iteration.to_string(),
        TrainStatus::Done => "1".into(),
        TrainStatus::Idle => "0".into(),
    }
}

fn status_line(state: &AppState) -> String {
    match state.status.get() {
        TrainStatus::Idle if state.dataset.with(Option::is_some) => "Ready to train.".into(),
        TrainStatus::Idle => "Load data to train a model.".into(),
        TrainStatus::Running {
            iteration: 0,
            max_iter,
            ..
        } => format!("Starting: splitting the ratings, then {max_iter} iterations…"),
        TrainStatus::Running {
            iteration,
            max_iter,
            train_rmse,
        } => format!(
            "Iteration {iteration} of {max_iter}: training RMSE {:.4}",
            train_rmse.unwrap_or(f64::NAN)
        ),
        TrainStatus::Done => "Model ready: ask for recommendations below.".into(),
    }
}
