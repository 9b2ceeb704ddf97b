//! Charts drawn by `plotters` into SVG strings, ready for `inner_html`.
//!
//! Every chart is a pure function `(data, &ChartTheme) -> String`. The returned document is a
//! complete `<svg>` with a `viewBox`, `width="100%"` (so CSS sizes it; the height follows the
//! aspect ratio), `role="img"`, an `aria-label` and a `<title>` that summarise the data in words.
//! Bad input never panics: empty or non-finite data gives a small "No data" chart instead.
//!
//! Text from data is XML-escaped (plotters escapes what it draws; we escape the title ourselves)
//! and stripped of control characters, so a hostile label cannot inject markup.
//!
//! Wasm note: on `wasm32` plotters measures text with the DOM, but only for chart captions,
//! legends and right-hand axis labels. These charts use none of those (legends and category
//! labels are placed by our own estimate), so rendering needs no DOM and also works in a worker.

mod cv_grid;
mod histogram;
mod long_tail;
mod loss_curve;

pub use cv_grid::{cv_grid, lower_is_better, CvPoint};
pub use histogram::{rating_bins, rating_histogram};
pub use long_tail::{item_counts, long_tail};
pub use loss_curve::loss_curve;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// An sRGB colour, written into the SVG as `#RRGGBB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#RRGGBB` in upper case, exactly as plotters writes `fill`/`stroke` attributes.
    pub fn hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }

    fn rgb(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
}

/// Colours and font for the charts; [`ChartTheme::light`] and [`ChartTheme::dark`] match the
/// app's two themes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartTheme {
    /// Fill behind the whole chart; `None` (the presets) leaves it transparent so the page shows.
    pub background: Option<Rgb>,
    /// Tick labels, axis titles and annotations.
    pub text: Rgb,
    /// Axis lines and tick marks.
    pub axis: Rgb,
    /// Grid lines (drawn faint).
    pub grid: Rgb,
    /// Series colours in order; the first one is used by single-series charts.
    pub series: [Rgb; 6],
    /// The colour that marks the notable item (the best grid point, the long-tail "head" marker).
    pub highlight: Rgb,
    /// CSS font family for all text.
    pub font_family: &'static str,
}

impl ChartTheme {
    /// Dark text and saturated, colour-blind-friendly series colours for a light page.
    pub fn light() -> Self {
        Self {
            background: None,
            text: Rgb(0x33, 0x3A, 0x45),
            axis: Rgb(0x6B, 0x72, 0x80),
            grid: Rgb(0xC4, 0xC9, 0xD1),
            series: [
                Rgb(0x1F, 0x6F, 0xEB),
                Rgb(0xD5, 0x5E, 0x00),
                Rgb(0x00, 0x9E, 0x73),
                Rgb(0xCC, 0x79, 0xA7),
                Rgb(0xB8, 0x86, 0x00),
                Rgb(0x56, 0xB4, 0xE9),
            ],
            highlight: Rgb(0xE8, 0x59, 0x0C),
            font_family: "sans-serif",
        }
    }

    /// Light text and brighter series colours for a dark page.
    pub fn dark() -> Self {
        Self {
            background: None,
            text: Rgb(0xE5, 0xE7, 0xEB),
            axis: Rgb(0x9C, 0xA3, 0xAF),
            grid: Rgb(0x4B, 0x55, 0x63),
            series: [
                Rgb(0x60, 0xA5, 0xFA),
                Rgb(0xF2, 0x8E, 0x5B),
                Rgb(0x34, 0xD3, 0x99),
                Rgb(0xF0, 0xA6, 0xCA),
                Rgb(0xFA, 0xCC, 0x15),
                Rgb(0x7D, 0xD3, 0xFC),
            ],
            highlight: Rgb(0xFF, 0xB4, 0x54),
            font_family: "sans-serif",
        }
    }

    /// Series colour `k`, cycling when there are more series than colours.
    fn series_color(&self, k: usize) -> Rgb {
        self.series[k % self.series.len()]
    }

    /// A text style of `px` CSS pixels in colour `color`.
    fn font(&self, px: f64, color: Rgb) -> TextStyle<'static> {
        self.styled_font(px, color, FontStyle::Normal)
    }

    /// Like [`ChartTheme::font`], in `style` (e.g. bold).
    fn styled_font(&self, px: f64, color: Rgb, style: FontStyle) -> TextStyle<'static> {
        // The SVG backend writes `font-size = size / 1.24`; undo that so `px` is what renders.
        (self.font_family, px * 1.24, style)
            .into_font()
            .color(&color.rgb())
    }
}

impl Default for ChartTheme {
    fn default() -> Self {
        Self::light()
    }
}

/// Tick-label size in CSS pixels (at 100% scale).
const TICK_PX: f64 = 12.0;
/// Axis-title size in CSS pixels.
const DESC_PX: f64 = 13.0;
/// Longest label we draw before cutting it with an ellipsis.
const MAX_LABEL_CHARS: usize = 32;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws with `draw` onto a `size` canvas and wraps the result into the final, accessible SVG.
/// If plotters reports an error (it should not for an in-memory string) the caller still gets a
/// valid SVG saying so instead of a panic or half a document.
fn render(
    size: (u32, u32),
    summary: &str,
    theme: &ChartTheme,
    draw: impl FnOnce(&Area) -> DrawResult,
) -> String {
    let mut buf = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let drawn = (|| -> DrawResult {
            if let Some(bg) = theme.background {
                root.fill(&bg.rgb())?;
            }
            draw(&root)?;
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| e.to_string())
    };
    match outcome {
        Ok(()) => finish(&buf, size, summary),
        Err(e) => message_chart(
            &format!("{summary} (drawing failed: {e})"),
            "Chart unavailable",
            theme,
        ),
    }
}

/// Replaces plotters' fixed-size `<svg>` start tag with a responsive, labelled one.
fn finish(body: &str, (w, h): (u32, u32), summary: &str) -> String {
    // Everything after the backend's own start tag: the drawing and the closing `</svg>`.
    let rest = body
        .find("<svg")
        .and_then(|start| body[start..].find('>').map(|end| &body[start + end + 1..]))
        .unwrap_or("</svg>\n");
    let label = xml_escape(&clean_text(summary, usize::MAX));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"{label}\" class=\"affinity-chart\">\n<title>{label}</title>{rest}"
    )
}

/// A chart that only says `message` (used for empty input).
fn message_chart(summary: &str, message: &str, theme: &ChartTheme) -> String {
    let size = (640, 120);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let style = theme
            .font(14.0, theme.axis)
            .pos(Pos::new(HPos::Center, VPos::Center));
        // Both calls only append to a String; an error would leave a shorter but valid SVG.
        if let Some(bg) = theme.background {
            let _ = root.fill(&bg.rgb());
        }
        let _ = root.draw(&Text::new(message.to_string(), (320, 60), style));
        let _ = root.present();
    }
    finish(&buf, size, summary)
}

/// The "No data" chart for `kind` (e.g. "Rating histogram").
fn no_data(kind: &str, theme: &ChartTheme) -> String {
    message_chart(&format!("{kind}: no data"), "No data", theme)
}

/// Escapes the five XML special characters.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Drops control characters (illegal in XML even when escaped) and cuts `s` to `max` chars.
fn clean_text(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_control()).collect();
    if chars.len() <= max {
        chars.into_iter().collect()
    } else {
        let mut out: String = chars[..max.saturating_sub(1)].iter().collect();
        out.push('…');
        out
    }
}

/// A data label made safe and short enough to draw.
fn clean_label(s: &str) -> String {
    clean_text(s, MAX_LABEL_CHARS)
}

/// Rough rendered width of `s` at `px` pixels. We cannot measure text without a DOM, so layout
/// uses an average sans-serif glyph width; it errs wide so text is not clipped.
fn text_width(s: &str, px: f64) -> i32 {
    (s.chars().count() as f64 * px * 0.6).ceil() as i32
}

/// A count as a short tick label: `950`, `12k`, `3.4M`.
fn short_count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim_float(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        trim_float(format!("{:.1}", v / 1e3)) + "k"
    } else {
        trim_float(format!("{v:.1}"))
    }
}

/// `"2.0"` → `"2"`, `"2.50"` → `"2.5"`.
fn trim_float(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A metric value with enough decimals to tell grid points apart.
fn fmt_metric(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Pads `[lo, hi]` by `frac` of its span, and widens a zero-width span so plotters can map it.
fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 {
        (lo - span * frac, hi + span * frac)
    } else {
        let d = if lo.abs() > 1e-9 {
            lo.abs() * 0.05
        } else {
            0.1
        };
        (lo - d, hi + d)
    }
}

/// A tick value with as many decimals as the axis span needs (span 0.03 → 3 decimals).
fn trimmed_tick(v: f64, span: f64) -> String {
    let decimals = if span > 0.0 {
        (-(span.log10()).floor() as i32 + 1).clamp(0, 6) as usize
    } else {
        3
    };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests;
