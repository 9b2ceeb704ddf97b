//! Ratings per item, most popular first: the long tail.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    no_data, render, short_count, text_width, Area, ChartTheme, DrawResult, DESC_PX, TICK_PX,
};
use crate::format::thousands;

const W: u32 = 640;
const H: u32 = 320;
/// When the busiest item has this many times the ratings of the quietest, the y axis is log.
const LOG_RATIO: f64 = 100.0;
/// More points than this are thinned: a 640-pixel-wide chart cannot show them anyway, and a
/// 60,000-point path would bloat the page.
const MAX_POINTS: usize = 800;

/// Ratings per item from each rating's item index, most rated first: the input of
/// [`long_tail`]. Indices at or past `n_items` are ignored.
pub fn item_counts(item_indices: &[u32], n_items: usize) -> Vec<usize> {
    let mut counts = vec![0usize; n_items];
    for &i in item_indices {
        if let Some(c) = counts.get_mut(i as usize) {
            *c += 1;
        }
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
}

/// A line of ratings per item against the item's popularity rank (1 = most rated), filled
/// underneath, with a marker at the rank where the head of the curve holds half of all ratings.
/// `counts_desc` should be sorted most-rated first (it is sorted again to be safe). The y axis is
/// logarithmic when the largest count exceeds the smallest non-zero one by more than 100×.
pub fn long_tail(counts_desc: &[usize], theme: &ChartTheme) -> String {
    const KIND: &str = "Long tail";
    let mut counts = counts_desc.to_vec();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: usize = counts.iter().sum();
    if counts.is_empty() || total == 0 {
        return no_data(KIND, theme);
    }
    let n = counts.len();
    let max = counts[0] as f64;
    let min_positive = counts.iter().rev().find(|&&c| c > 0).copied().unwrap_or(1) as f64;
    let log_y = max / min_positive > LOG_RATIO;
    let head = half_rank(&counts, total);
    let median = counts[n / 2];
    let summary = format!(
        "{KIND}: {} items, {} ratings; the top {} item{} ({:.1}% of items) get half of all \
         ratings; the most rated item has {}, the median item {}{}",
        thousands(n),
        thousands(total),
        thousands(head),
        if head == 1 { "" } else { "s" },
        100.0 * head as f64 / n as f64,
        thousands(counts[0]),
        thousands(median),
        if log_y { "; log scale" } else { "" }
    );

    let tail = Tail {
        points: thin(&counts),
        n,
        head,
        total,
    };
    render((W, H), &summary, theme, |root| {
        if log_y {
            let floor = min_positive * 0.7;
            draw(root, &tail, (floor..max * 1.5).log_scale(), floor, theme)
        } else {
            draw(root, &tail, 0.0..max * 1.1, 0.0, theme)
        }
    })
}

/// What the drawing needs, computed once.
struct Tail {
    /// `(rank, ratings)`, possibly thinned.
    points: Vec<(f64, f64)>,
    n: usize,
    /// Smallest rank whose head holds at least half of all ratings.
    head: usize,
    total: usize,
}

/// The smallest `k` such that the `k` most rated items hold at least half of `total`.
fn half_rank(counts_desc: &[usize], total: usize) -> usize {
    let mut sum = 0;
    for (i, &c) in counts_desc.iter().enumerate() {
        sum += c;
        if 2 * sum >= total {
            return i + 1;
        }
    }
    counts_desc.len()
}

/// `(rank, count)` for every item, or for an even sample of at most [`MAX_POINTS`] that keeps the
/// first and last item. The counts are monotone, so a sample traces the same curve.
fn thin(counts_desc: &[usize]) -> Vec<(f64, f64)> {
    let n = counts_desc.len();
    let point = |i: usize| ((i + 1) as f64, counts_desc[i] as f64);
    if n <= MAX_POINTS {
        return (0..n).map(point).collect();
    }
    let step = n as f64 / (MAX_POINTS - 1) as f64;
    let mut idx: Vec<usize> = (0..MAX_POINTS - 1)
        .map(|k| (k as f64 * step) as usize)
        .collect();
    idx.push(n - 1);
    idx.dedup();
    idx.into_iter().map(point).collect()
}

/// Draws the tail on a y axis built from `y_range` (linear or log); `floor` is the y value at
/// the bottom of the plot, where zero counts and the fill's baseline go.
fn draw<Y>(root: &Area, tail: &Tail, y_range: Y, floor: f64, theme: &ChartTheme) -> DrawResult
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let x_range = if tail.n > 1 {
        1.0..tail.n as f64
    } else {
        0.5..1.5
    };
    let mut chart = ChartBuilder::on(root)
        .margin_top(14)
        .margin_right(22)
        .margin_left(6)
        .x_label_area_size(46)
        .y_label_area_size(58)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| short_count(v.round()))
        .y_label_formatter(&|v| short_count(*v))
        .bold_line_style(theme.grid.rgb().mix(0.6))
        .light_line_style(TRANSPARENT)
        .axis_style(theme.axis.rgb())
        .label_style(theme.font(TICK_PX, theme.text))
        .axis_desc_style(theme.font(DESC_PX, theme.text))
        .x_desc("Item rank (most rated first)")
        .y_desc("Ratings per item")
        .draw()?;

    let color = theme.series_color(0).rgb();
    let points = tail.points.iter().map(|&(x, y)| (x, y.max(floor)));
    chart.draw_series(
        AreaSeries::new(points, floor, color.mix(0.18)).border_style(color.stroke_width(2)),
    )?;

    // Marker for the head that holds half of the ratings, labelled on whichever side has room.
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let hx = tail.head as f64;
    let hx_px = chart.backend_coord(&(hx, floor)).0;
    let top = y_px.start + 4;
    let line = theme.highlight.rgb().stroke_width(2);
    root.draw(&PathElement::new(
        vec![(hx_px, top), (hx_px, y_px.end)],
        line,
    ))?;
    let share = 100.0 * tail.head as f64 / tail.n as f64;
    let text = format!(
        "top {} ({share:.0}% of items) = half of {} ratings",
        thousands(tail.head),
        short_count(tail.total as f64)
    );
    let fits_right = hx_px + 8 + text_width(&text, TICK_PX) <= x_px.end;
    let (tx, anchor) = if fits_right {
        (hx_px + 6, HPos::Left)
    } else {
        (hx_px - 6, HPos::Right)
    };
    let style = theme
        .font(TICK_PX, theme.highlight)
        .pos(Pos::new(anchor, VPos::Top));
    root.draw(&Text::new(text, (tx, top), style))?;
    Ok(())
}
