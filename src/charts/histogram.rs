//! How many ratings have each value.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{no_data, render, short_count, ChartTheme, DESC_PX, TICK_PX};
use crate::format::thousands;
use affinity_engine::tier_up::CHUNK;

const W: u32 = 640;
const H: u32 = 320;
/// Above this many bars the percentage labels would collide, so they are left out.
const MAX_PERCENT_LABELS: usize = 12;
/// Above this many bars only every k-th value is labelled on the x axis.
const MAX_X_LABELS: usize = 20;

/// More distinct rating values than this (a continuous score) are grouped into
/// [`GROUPED_BINS`] equal-width bins.
const MAX_DISTINCT: usize = 30;
/// The number of bins for a continuous score.
const GROUPED_BINS: usize = 20;

/// The histogram's bins for raw rating values: one `(value, count)` per distinct value, or, for
/// more than 30 distinct values, 20 equal-width bins labelled by their centre (2 decimals).
/// Non-finite values are ignored.
///
/// The values are counted, not sorted: sorting a copy of fifty million ratings took 0.3 to
/// 0.6 s of the reading worker in Chromium.
pub fn rating_bins(values: &[f32]) -> Vec<(f32, usize)> {
    let mut counts = Counts {
        halves: vec![0; HALVES],
        others: Vec::new(),
    };
    for chunk in values.chunks(CHUNK) {
        if !count_values(chunk, &mut counts) {
            return grouped_bins(values);
        }
    }
    let mut bins: Vec<(f32, usize)> = (counts.halves.iter().enumerate())
        .filter(|&(_, &c)| c > 0)
        .map(|(h, &c)| (h as f32 / 2.0, c))
        .chain(counts.others)
        .collect();
    bins.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // -0 (an other value) and 0 (a half) are one value: one bin, labelled -0 as the sort has it.
    bins.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    if bins.len() > MAX_DISTINCT {
        return grouped_bins(values);
    }
    bins
}

/// Rating values `v` with `2v` a whole number below this are counted by `2v`: every usual
/// scale (1 to 5 by halves, 0 to 10, 1 to 100).
const HALVES: usize = 512;

/// Counts of distinct values so far.
struct Counts {
    /// Count of each value `h / 2`, by `h` (never of -0).
    halves: Vec<usize>,
    /// Each other finite value and its count; at most [`MAX_DISTINCT`] + 1 of them.
    others: Vec<(f32, usize)>,
}

/// Counts `values` into `counts` (a call per chunk: see [`affinity_engine::tier_up`]); false
/// when more than [`MAX_DISTINCT`] values are neither halves nor alike.
#[inline(never)]
fn count_values(values: &[f32], counts: &mut Counts) -> bool {
    for &v in values {
        let twice = v * 2.0;
        // Saturating: NaN and negatives give 0, which `twice` then differs from (or `v` is -0).
        let h = twice as usize;
        if h < HALVES && h as f32 == twice && v.is_sign_positive() {
            counts.halves[h] += 1;
        } else if v.is_finite() {
            if let Some((_, c)) = counts
                .others
                .iter_mut()
                .find(|(o, _)| o.to_bits() == v.to_bits())
            {
                *c += 1;
            } else if counts.others.len() == MAX_DISTINCT {
                return false;
            } else {
                counts.others.push((v, 1));
            }
        }
    }
    true
}

/// [`GROUPED_BINS`] equal-width bins from the lowest finite value to the highest.
fn grouped_bins(values: &[f32]) -> Vec<(f32, usize)> {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    let width = (hi - lo) / GROUPED_BINS as f64;
    let mut grouped: Vec<(f32, usize)> = (0..GROUPED_BINS)
        .map(|k| {
            let centre = lo + width * (k as f64 + 0.5);
            (((centre * 100.0).round() / 100.0) as f32, 0)
        })
        .collect();
    for v in finite() {
        // The top value belongs to the last bin, not one past it.
        let k = (((f64::from(v) - lo) / width) as usize).min(GROUPED_BINS - 1);
        grouped[k].1 += 1;
    }
    grouped
}

/// A bar chart of how many ratings have each value: `bins` are `(rating value, count)`, in any
/// order (drawn sorted by value). Bins with a non-finite value are ignored. Bars use
/// `theme.series[0]`; with few bars each carries its share of all ratings above it.
pub fn rating_histogram(bins: &[(f32, usize)], theme: &ChartTheme) -> String {
    const KIND: &str = "Rating histogram";
    let mut bins: Vec<(f32, usize)> = bins
        .iter()
        .copied()
        .filter(|(v, _)| v.is_finite())
        .collect();
    bins.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: usize = bins.iter().map(|b| b.1).sum();
    if bins.is_empty() || total == 0 {
        return no_data(KIND, theme);
    }
    let n = bins.len();
    let percent = |c: usize| 100.0 * c as f64 / total as f64;
    // The first of equally common values wins, so the summary is deterministic.
    let (mode_value, mode_count) = bins
        .iter()
        .fold(bins[0], |best, b| if b.1 > best.1 { *b } else { best });
    let summary = format!(
        "{KIND}: {n} bar{}, {} ratings, most common rating {} ({:.0}%)",
        if n == 1 { "" } else { "s" },
        thousands(total),
        mode_value,
        percent(mode_count)
    );

    render((W, H), &summary, theme, |root| {
        let max = bins.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
        let ymax = (max * 1.15).ceil(); // headroom for the percentage labels
        let mut chart = ChartBuilder::on(root)
            .margin_top(14)
            .margin_right(18)
            .margin_left(6)
            .x_label_area_size(46)
            .y_label_area_size(58)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..ymax)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_label_formatter(&|v| short_count(*v))
            .bold_line_style(theme.grid.rgb().mix(0.6))
            .light_line_style(TRANSPARENT)
            .axis_style(theme.axis.rgb())
            .label_style(theme.font(TICK_PX, theme.text))
            .axis_desc_style(theme.font(DESC_PX, theme.text))
            .x_desc("Rating")
            .y_desc("Ratings")
            .draw()?;

        let bar = theme.series_color(0).rgb().filled();
        chart.draw_series(bins.iter().enumerate().map(|(i, &(_, c))| {
            let x = i as f64;
            Rectangle::new([(x - 0.38, 0.0), (x + 0.38, c as f64)], bar)
        }))?;

        let label_every = n.div_ceil(MAX_X_LABELS);
        let tick_style = theme
            .font(TICK_PX, theme.text)
            .pos(Pos::new(HPos::Center, VPos::Top));
        chart.draw_series(
            bins.iter()
                .enumerate()
                .filter(|(i, _)| i % label_every == 0)
                .map(|(i, &(v, _))| {
                    // Category labels sit just under the axis, where plotters puts tick labels.
                    EmptyElement::at((i as f64, 0.0))
                        + Text::new(v.to_string(), (0, 8), tick_style.clone())
                }),
        )?;
        if n <= MAX_PERCENT_LABELS {
            let pct_style = theme
                .font(TICK_PX, theme.text)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series(bins.iter().enumerate().map(|(i, &(_, c))| {
                EmptyElement::at((i as f64, c as f64))
                    + Text::new(format!("{:.0}%", percent(c)), (0, -3), pct_style.clone())
            }))?;
        }
        Ok(())
    })
}
