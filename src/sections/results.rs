//! What a run produced: test scores, the cross-validation table and the charts.

use affinity_engine::cv::{CvResult, Metric};
use leptos::prelude::*;

use crate::format::{duration_ms, metric, thousands};
use crate::protocol::TOP_K;
use crate::sections::theme::chart_theme;
use crate::state::AppState;
use crate::trainer::describe_params;

/// Test scores of the final model, then the tuning table.
#[component]
pub fn Results() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        {move || state.trained.get().map(|t| {
            let e = &t.evaluation;
            let r = &t.ranking;
            let implicit = t.params.implicit_prefs;
            view! {
                <div class="score">
                    <h3>"Test scores"</h3>
                    <div class="metrics">
                        <p class="metric" data-testid="test-rmse" hidden=implicit>
                            "Test RMSE " <strong>{metric(e.rmse)}</strong>
                        </p>
                        <p class="metric" data-testid="test-mae" hidden=implicit>
                            "MAE " <strong>{metric(e.mae)}</strong>
                        </p>
                        <p class="metric" data-testid="test-precision">
                            {format!("Precision@{TOP_K} ")} <strong>{metric(r.precision_at_k)}</strong>
                        </p>
                        <p class="metric" data-testid="test-recall">
                            {format!("Recall@{TOP_K} ")} <strong>{metric(r.recall_at_k)}</strong>
                        </p>
                        <p class="metric" data-testid="test-ndcg">
                            {format!("NDCG@{TOP_K} ")} <strong>{metric(r.ndcg_at_k)}</strong>
                        </p>
                        <p class="metric" data-testid="test-map">
                            {format!("MAP@{TOP_K} ")} <strong>{metric(r.map_at_k)}</strong>
                        </p>
                    </div>
                    <p class="hint">
                        {format!(
                            "Model: {}. Fitted in {} on {} ratings; tested on {} held-out ratings{}. \
                             Ranking metrics{}: each test user's held-out titles count as relevant, \
                             titles rated in training are left out of the list.",
                            describe_params(&t.params),
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
                            if r.n_users < r.n_candidates {
                                format!(
                                    " on an even sample of {} of the {} test users",
                                    thousands(r.n_users),
                                    thousands(r.n_candidates),
                                )
                            } else {
                                String::new()
                            },
                        )}
                    </p>
                    {(e.n_evaluated == 0).then(|| view! {
                        <p class="hint warning" data-testid="no-test-scores">
                            "No held-out rating could be scored: every one belongs to a user or a \
                             title with no training ratings, so there is no test RMSE. A larger file, \
                             or more ratings per user, gives one."
                        </p>
                    })}
                    <LossChart loss=t.loss.clone()/>
                </div>
            }
        })}
        {move || state.cv.get().map(|cv| view! { <CvTable cv=cv/> })}
    }
}

fn metric_name(m: Metric) -> String {
    match m {
        Metric::Rmse => "RMSE".into(),
        Metric::NdcgAtK(k) => format!("NDCG@{k}"),
    }
}

/// One row per grid point with its mean ± std over the folds; the winner is marked.
#[component]
fn CvTable(cv: std::sync::Arc<CvResult>) -> impl IntoView {
    let name = metric_name(cv.metric);
    let direction = if cv.metric.higher_is_better() {
        "higher is better"
    } else {
        "lower is better"
    };
    let folds = cv.points.first().map_or(0, |p| p.scores.len());
    let rows = cv
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let best = i == cv.best;
            view! {
                <tr data-testid="cv-row" class:best=best aria-current=best.then_some("true")>
                    <td>{p.params.rank}</td>
                    <td>{p.params.reg_param}</td>
                    <td>{p.params.max_iter}</td>
                    <td hidden=!p.params.implicit_prefs>{p.params.alpha}</td>
                    <td class="num">{format!("{} ± {}", metric(p.mean), metric(p.std))}</td>
                    <td>{if best { "★ chosen" } else { "" }}</td>
                </tr>
            }
        })
        .collect_view();
    let implicit = cv.points.first().is_some_and(|p| p.params.implicit_prefs);
    let points: Vec<crate::charts::CvPoint> = cv
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| crate::charts::CvPoint {
            label: describe_params(&p.params),
            mean: p.mean,
            std: p.std,
            best: i == cv.best,
        })
        .collect();
    let metric = name.clone();
    // Redrawn when the theme changes: the SVG carries its colours.
    let chart = move || crate::charts::cv_grid(&points, &metric, &chart_theme());
    view! {
        <div class="cv">
            <h3>"Cross-validation"</h3>
            <p class="hint">
                {format!(
                    "{} grid points, {folds} folds of the training share; mean {name} ({direction}) ± standard deviation over the folds. The chosen point was refitted on the whole training share and tested above.",
                    cv.points.len()
                )}
            </p>
            <div class="table-wrap">
                <table class="cv-table">
                    <thead>
                        <tr>
                            <th scope="col">"Rank"</th>
                            <th scope="col">"regParam"</th>
                            <th scope="col">"maxIter"</th>
                            <th scope="col" hidden=!implicit>"alpha"</th>
                            <th scope="col">{format!("{name} (mean ± std)")}</th>
                            <th scope="col"><span class="visually-hidden">"Winner"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <figure class="chart" data-testid="cv-chart" inner_html=chart></figure>
        </div>
    }
}

#[component]
fn LossChart(loss: Vec<f64>) -> impl IntoView {
    let series = [("final fit".to_owned(), loss)];
    let svg = move || crate::charts::loss_curve(&series, &chart_theme());
    view! { <figure class="chart" data-testid="loss-chart" inner_html=svg></figure> }
}
