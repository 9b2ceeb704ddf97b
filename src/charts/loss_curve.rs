//! Training RMSE per iteration, one line per series.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    clean_label, fmt_metric, no_data, padded, render, text_width, trimmed_tick, ChartTheme,
    DESC_PX, TICK_PX,
};

const W: u32 = 640;
/// Height of the plot itself; the legend rows above it add to the total.
const PLOT_H: u32 = 300;
const LEGEND_ROW: u32 = 20;
/// Series with at most this many iterations get a dot per iteration.
const MAX_MARKERS: usize = 40;

/// A line chart of training error per iteration (x = iteration, starting at 1), one line per
/// `(name, values)` series in `theme.series` colours, with a legend of the names above the plot.
/// Non-finite values break the line instead of being drawn. Series names are escaped and cut to
/// 32 characters.
pub fn loss_curve(series: &[(String, Vec<f64>)], theme: &ChartTheme) -> String {
    const KIND: &str = "Training curve";
    let finite = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
    };
    if finite().next().is_none() {
        return no_data(KIND, theme);
    }
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let iters = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
    let names: Vec<String> = series.iter().map(|(name, _)| clean_label(name)).collect();
    let summary = format!(
        "{KIND}: RMSE over {iters} iteration{}; {}",
        if iters == 1 { "" } else { "s" },
        series
            .iter()
            .zip(&names)
            .map(
                |((_, v), name)| match v.iter().rev().find(|x| x.is_finite()) {
                    Some(last) => format!("{name} ends at {}", fmt_metric(*last)),
                    None => format!("{name} has no values"),
                }
            )
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Legend entries flow left to right and wrap; their rows sit above the plot.
    let entry_w = |name: &str| 22 + text_width(name, TICK_PX) + 18;
    let mut rows: Vec<Vec<(usize, i32)>> = vec![vec![]];
    let mut x = 0;
    for (k, name) in names.iter().enumerate() {
        let w = entry_w(name);
        if x > 0 && x + w > W as i32 - 80 {
            rows.push(vec![]);
            x = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((k, x));
        }
        x += w;
    }
    let legend_h = LEGEND_ROW * rows.len() as u32 + 6;
    let (y0, y1) = padded(lo, hi, 0.06);

    render((W, PLOT_H + legend_h), &summary, theme, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin_top(legend_h + 6)
            .margin_right(22)
            .margin_left(6)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(1u32..iters.max(2) as u32, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(iters.clamp(2, 10))
            .y_labels(6)
            .y_label_formatter(&|v| trimmed_tick(*v, y1 - y0))
            .bold_line_style(theme.grid.rgb().mix(0.6))
            .light_line_style(TRANSPARENT)
            .axis_style(theme.axis.rgb())
            .label_style(theme.font(TICK_PX, theme.text))
            .axis_desc_style(theme.font(DESC_PX, theme.text))
            .x_desc("Iteration")
            .y_desc("Training RMSE")
            .draw()?;

        for (k, (_, values)) in series.iter().enumerate() {
            let color = theme.series_color(k).rgb();
            for run in finite_runs(values) {
                chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?;
            }
            if values.len() <= MAX_MARKERS {
                chart.draw_series(
                    finite_runs(values)
                        .into_iter()
                        .flatten()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )?;
            }
        }

        let (x_px, _) = chart.plotting_area().get_pixel_range();
        let style = theme
            .font(TICK_PX, theme.text)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (r, row) in rows.iter().enumerate() {
            let y = 10 + (r as u32 * LEGEND_ROW) as i32;
            for &(k, dx) in row {
                let x = x_px.start + dx;
                let swatch = theme.series_color(k).rgb().filled();
                root.draw(&Rectangle::new([(x, y - 2), (x + 18, y + 2)], swatch))?;
                root.draw(&Text::new(names[k].clone(), (x + 24, y), style.clone()))?;
            }
        }
        Ok(())
    })
}

/// The unbroken stretches of finite values as `(iteration, value)` points, iterations from 1.
fn finite_runs(values: &[f64]) -> Vec<Vec<(u32, f64)>> {
    let mut runs = vec![];
    let mut run = vec![];
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() {
            run.push((i as u32 + 1, v));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}
