//! Cross-validation results: one row per grid point, mean ± std, the winner highlighted.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::{
    clean_label, fmt_metric, no_data, padded, render, text_width, trimmed_tick, ChartTheme,
    DESC_PX, TICK_PX,
};

const W: u32 = 640;
/// Height of one grid-point row in pixels.
const ROW: u32 = 28;
/// Space above the first row and below the last one (the x axis and its title).
const TOP: u32 = 12;
const BOTTOM: u32 = 52;
const DOT_R: u32 = 5;
/// Width reserved at the right for the "mean ± std" column.
const VALUE_COL: i32 = 118;

/// One hyper-parameter setting's cross-validated score.
#[derive(Debug, Clone, PartialEq)]
pub struct CvPoint {
    /// What was tried, e.g. `"rank 10 · reg 0.1"`; drawn as text (escaped, at most 32 chars).
    pub label: String,
    /// Mean of the metric over folds.
    pub mean: f64,
    /// Standard deviation over folds (drawn as ± whiskers; non-finite counts as 0).
    pub std: f64,
    /// The selected setting, drawn in the theme's highlight colour.
    pub best: bool,
}

/// Whether smaller values of `metric` are better (RMSE, MAE, MSE, loss, error); otherwise
/// (NDCG, precision, recall, MAP, …) larger is better.
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric.to_ascii_lowercase();
    ["rmse", "mae", "mse", "loss", "error"]
        .iter()
        .any(|k| m.contains(k))
}

/// A dot plot of cross-validation results: one row per grid point, top to bottom in the given
/// order, with the label on the left, a dot at the mean with ±std whiskers, and "mean ± std" on
/// the right. The point(s) with `best` use `theme.highlight` (dot, whiskers, bold label and value)
/// on a tinted row; the others use `theme.series[0]`. The x axis is titled with `metric` and
/// whether lower or higher is better (see [`lower_is_better`]). The chart grows taller with more
/// rows. Rows with a non-finite mean show "n/a" and no dot.
pub fn cv_grid(points: &[CvPoint], metric: &str, theme: &ChartTheme) -> String {
    const KIND: &str = "Cross-validation";
    let metric = clean_label(metric);
    let finite = || points.iter().filter(|p| p.mean.is_finite());
    if finite().next().is_none() {
        return no_data(KIND, theme);
    }
    let n = points.len();
    let std = |p: &CvPoint| if p.std.is_finite() { p.std.abs() } else { 0.0 };
    let direction = if lower_is_better(&metric) {
        "lower is better"
    } else {
        "higher is better"
    };
    let best = points.iter().find(|p| p.best && p.mean.is_finite());
    let summary = format!(
        "{KIND}: {n} setting{} by {metric} ({direction}){}",
        if n == 1 { "" } else { "s" },
        match best {
            Some(p) => format!(
                "; best {} = {} ± {}",
                clean_label(&p.label),
                fmt_metric(p.mean),
                fmt_metric(std(p))
            ),
            None => String::new(),
        }
    );

    let lo = finite()
        .map(|p| p.mean - std(p))
        .fold(f64::INFINITY, f64::min);
    let hi = finite()
        .map(|p| p.mean + std(p))
        .fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = padded(lo, hi, 0.08);
    let labels: Vec<String> = points.iter().map(|p| clean_label(&p.label)).collect();
    let label_w = labels
        .iter()
        .map(|l| text_width(l, TICK_PX))
        .max()
        .unwrap_or(0)
        .clamp(40, 240)
        + 14;
    let h = TOP + ROW * n as u32 + BOTTOM;

    render((W, h), &summary, theme, |root| {
        // Rows are y = 0..n from the top: a reversed range puts row 0 at the top.
        let mut chart = ChartBuilder::on(root)
            .margin_top(TOP)
            .margin_right(VALUE_COL as u32)
            .margin_left(6)
            .x_label_area_size(BOTTOM - 6)
            .y_label_area_size(label_w as u32)
            .build_cartesian_2d(x0..x1, n as f64 - 0.5..-0.5)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .x_label_formatter(&|v| trimmed_tick(*v, x1 - x0))
            .bold_line_style(theme.grid.rgb().mix(0.6))
            .light_line_style(TRANSPARENT)
            .axis_style(theme.axis.rgb())
            .label_style(theme.font(TICK_PX, theme.text))
            .axis_desc_style(theme.font(DESC_PX, theme.text))
            .x_desc(format!("{metric} ({direction}), mean ± std over folds"))
            .draw()?;

        let normal = theme.series_color(0).rgb();
        let high = theme.highlight.rgb();
        let color = |p: &CvPoint| if p.best { high } else { normal };

        // Tint behind the winning row(s), drawn first so everything else sits on top.
        chart.draw_series(
            points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.best)
                .map(|(i, _)| {
                    let y = i as f64;
                    Rectangle::new([(x0, y - 0.5), (x1, y + 0.5)], high.mix(0.12).filled())
                }),
        )?;
        chart.draw_series(finite_rows(points).map(|(i, p)| {
            let s = std(p);
            ErrorBar::new_horizontal(
                i as f64,
                p.mean - s,
                p.mean,
                p.mean + s,
                color(p).stroke_width(2),
                10,
            )
        }))?;
        chart.draw_series(
            finite_rows(points)
                .map(|(i, p)| Circle::new((p.mean, i as f64), DOT_R, color(p).filled())),
        )?;

        // Row labels (left, right-aligned to the axis) and values (right of the plot). Drawn by
        // us, not as tick labels, so the winner's can be bold and coloured.
        let (x_px, _) = chart.plotting_area().get_pixel_range();
        for (i, p) in points.iter().enumerate() {
            let y_px = chart.backend_coord(&(x0, i as f64)).1;
            let (c, style) = if p.best {
                (theme.highlight, FontStyle::Bold)
            } else {
                (theme.text, FontStyle::Normal)
            };
            let font = theme.styled_font(TICK_PX, c, style);
            let right = font.clone().pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(labels[i].clone(), (x_px.start - 8, y_px), right))?;
            let value = if p.mean.is_finite() {
                format!("{} ± {}", fmt_metric(p.mean), fmt_metric(std(p)))
            } else {
                "n/a".to_string()
            };
            let left = font.pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(value, (x_px.end + 10, y_px), left))?;
        }
        Ok(())
    })
}

/// Rows with a finite mean, with their index.
fn finite_rows(points: &[CvPoint]) -> impl Iterator<Item = (usize, &CvPoint)> {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.mean.is_finite())
}
