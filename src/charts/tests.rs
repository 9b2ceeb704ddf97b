//! Chart tests: each SVG must parse as XML, carry its accessible title, and contain the marks
//! we planted (counted by colour, which only our data marks use).

use super::*;

/// Parses `svg` (panicking with the document on failure) and runs `check` on it.
fn parsed<T>(svg: &str, check: impl FnOnce(&roxmltree::Document) -> T) -> T {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("chart is not well-formed XML: {e}\n{svg}"));
    check(&doc)
}

/// Elements named `tag` whose attribute `attr` equals `value`.
fn count(svg: &str, tag: &str, attr: &str, value: &str) -> usize {
    parsed(svg, |doc| {
        doc.descendants()
            .filter(|n| n.has_tag_name(tag) && n.attribute(attr) == Some(value))
            .count()
    })
}

/// The root's accessible label, also checking the root attributes every chart must have.
fn label(svg: &str) -> String {
    parsed(svg, |doc| {
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some("100%"));
        assert_eq!(root.attribute("role"), Some("img"));
        assert!(root
            .attribute("viewBox")
            .is_some_and(|v| v.starts_with("0 0 ")));
        assert!(
            root.attribute("height").is_none(),
            "height must follow the viewBox"
        );
        let title = root.first_element_child().expect("a first child");
        assert!(title.has_tag_name("title"));
        let aria = root
            .attribute("aria-label")
            .expect("aria-label")
            .to_string();
        assert_eq!(title.text(), Some(aria.as_str()));
        aria
    })
}

/// All text content of the SVG (tick labels, annotations), one string per `<text>`.
fn texts(svg: &str) -> Vec<String> {
    parsed(svg, |doc| {
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect()
    })
}

fn grid(labels_means: &[(&str, f64, f64)], best: usize) -> Vec<CvPoint> {
    labels_means
        .iter()
        .enumerate()
        .map(|(i, &(label, mean, std))| CvPoint {
            label: label.to_string(),
            mean,
            std,
            best: i == best,
        })
        .collect()
}

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

#[test]
fn histogram_has_one_bar_per_value_and_names_the_mode() {
    let t = ChartTheme::light();
    let bins = [(1.0, 60), (2.0, 110), (3.0, 270), (4.0, 340), (5.0, 220)];
    let svg = rating_histogram(&bins, &t);
    assert_eq!(count(&svg, "rect", "fill", &t.series[0].hex()), 5);
    assert_eq!(
        label(&svg),
        "Rating histogram: 5 bars, 1,000 ratings, most common rating 4 (34%)"
    );
    let texts = texts(&svg);
    for v in ["1", "2", "3", "4", "5", "34%", "6%"] {
        assert!(
            texts.iter().any(|t| t == v),
            "missing text {v:?} in {texts:?}"
        );
    }
}

#[test]
fn histogram_half_star_scale_has_ten_bars_sorted() {
    let t = ChartTheme::dark();
    // Given out of order: drawn sorted, labelled with the half values.
    let bins: Vec<(f32, usize)> = (1..=10).rev().map(|k| (k as f32 * 0.5, k * 10)).collect();
    let svg = rating_histogram(&bins, &t);
    assert_eq!(count(&svg, "rect", "fill", &t.series[0].hex()), 10);
    let texts = texts(&svg);
    let pos = |s: &str| texts.iter().position(|t| t == s).unwrap();
    assert!(pos("0.5") < pos("4.5") && pos("4.5") < pos("5"));
    assert!(label(&svg).contains("most common rating 5 (18%)"));
}

#[test]
fn histogram_empty_zero_and_nan_give_no_data() {
    let t = ChartTheme::light();
    for bins in [
        vec![],
        vec![(3.0, 0)],
        vec![(f32::NAN, 5), (f32::INFINITY, 2)],
    ] {
        let svg = rating_histogram(&bins, &t);
        assert_eq!(label(&svg), "Rating histogram: no data");
        assert!(texts(&svg).contains(&"No data".to_string()));
    }
    // A NaN bin next to real ones is skipped, not drawn.
    let svg = rating_histogram(&[(f32::NAN, 9), (1.0, 1), (2.0, 3)], &t);
    assert_eq!(count(&svg, "rect", "fill", &t.series[0].hex()), 2);
}

#[test]
fn long_tail_draws_every_item_and_marks_the_half_point() {
    let t = ChartTheme::light();
    // 10 items; the first 2 hold 60 of 100 ratings → half is reached at rank 2.
    let counts = [40, 20, 10, 8, 7, 5, 4, 3, 2, 1];
    let svg = long_tail(&counts, &t);
    let line = t.series[0].hex();
    assert_eq!(count(&svg, "polyline", "stroke", &line), 1);
    let points = parsed(&svg, |doc| {
        doc.descendants()
            .find(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(line.as_str()))
            .and_then(|n| n.attribute("points"))
            .map(|p| p.split_whitespace().count())
    });
    assert_eq!(points, Some(10));
    assert_eq!(count(&svg, "polyline", "stroke", &t.highlight.hex()), 1);
    let summary = label(&svg);
    assert!(summary.contains("10 items, 100 ratings"), "{summary}");
    assert!(
        summary.contains("top 2 items (20.0% of items) get half"),
        "{summary}"
    );
    assert!(
        !summary.contains("log scale"),
        "40x range stays linear: {summary}"
    );
}

#[test]
fn long_tail_goes_log_past_100x_and_thins_huge_inputs() {
    let t = ChartTheme::dark();
    let counts: Vec<usize> = (1..=5000).map(|r| 100_000 / r).collect();
    let svg = long_tail(&counts, &t);
    assert!(label(&svg).ends_with("; log scale"));
    let line = t.series[0].hex();
    let points = parsed(&svg, |doc| {
        doc.descendants()
            .find(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(line.as_str()))
            .and_then(|n| n.attribute("points"))
            .map(|p| p.split_whitespace().count())
    });
    assert!(points.is_some_and(|p| p <= 800 && p > 700), "{points:?}");
    // Unsorted input with zeros is sorted and still drawn.
    let svg = long_tail(&[0, 3, 0, 500, 1], &t);
    assert!(label(&svg).starts_with("Long tail: 5 items, 504 ratings"));
}

#[test]
fn long_tail_empty_gives_no_data() {
    let t = ChartTheme::light();
    assert_eq!(label(&long_tail(&[], &t)), "Long tail: no data");
    assert_eq!(label(&long_tail(&[0, 0], &t)), "Long tail: no data");
    // A single item must not divide by a zero-width range.
    assert!(label(&long_tail(&[7], &t)).starts_with("Long tail: 1 items"));
}

#[test]
fn cv_grid_one_dot_per_point_and_winner_highlighted() {
    let t = ChartTheme::light();
    let points = grid(
        &[
            ("rank 5 · reg 0.01", 0.951, 0.004),
            ("rank 10 · reg 0.1", 0.912, 0.003),
            ("rank 20 · reg 0.1", 0.918, 0.005),
            ("rank 40 · reg 1", 0.934, 0.006),
        ],
        1,
    );
    let svg = cv_grid(&points, "RMSE", &t);
    assert_eq!(count(&svg, "circle", "fill", &t.series[0].hex()), 3);
    assert_eq!(count(&svg, "circle", "fill", &t.highlight.hex()), 1);
    // Three whisker lines (two caps and the bar) per point, the winner's in the highlight.
    assert_eq!(count(&svg, "line", "stroke", &t.highlight.hex()), 3);
    assert_eq!(count(&svg, "line", "stroke", &t.series[0].hex()), 9);
    let summary = label(&svg);
    assert_eq!(
        summary,
        "Cross-validation: 4 settings by RMSE (lower is better); best rank 10 · reg 0.1 = 0.9120 ± 0.0030"
    );
    // The winner's label is bold, in the highlight colour.
    let bold = parsed(&svg, |doc| {
        doc.descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("font-weight") == Some("bold"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect::<Vec<_>>()
    });
    assert_eq!(bold, ["rank 10 · reg 0.1", "0.9120 ± 0.0030"]);
    assert!(texts(&svg)
        .iter()
        .any(|s| s.starts_with("RMSE (lower is better)")));
}

#[test]
fn cv_grid_metric_direction_and_growing_height() {
    let t = ChartTheme::dark();
    assert!(lower_is_better("RMSE") && lower_is_better("mae"));
    assert!(!lower_is_better("NDCG@10") && !lower_is_better("Precision@5"));
    let two = cv_grid(
        &grid(&[("a", 0.31, 0.01), ("b", 0.35, 0.02)], 1),
        "NDCG@10",
        &t,
    );
    assert!(label(&two).contains("NDCG@10 (higher is better); best b = 0.3500"));
    let many: Vec<(&str, f64, f64)> = (0..12)
        .map(|k| ("x", 0.3 + k as f64 / 100.0, 0.01))
        .collect();
    let tall = cv_grid(&grid(&many, 11), "NDCG@10", &t);
    let height = |svg: &str| {
        parsed(svg, |d| {
            let vb = d.root_element().attribute("viewBox").unwrap().to_string();
            vb.split(' ').nth(3).unwrap().parse::<u32>().unwrap()
        })
    };
    assert!(height(&tall) > height(&two) + 200);
}

#[test]
fn cv_grid_nan_and_empty_do_not_panic() {
    let t = ChartTheme::light();
    assert_eq!(
        label(&cv_grid(&[], "RMSE", &t)),
        "Cross-validation: no data"
    );
    let all_nan = grid(&[("a", f64::NAN, 0.1)], 0);
    assert_eq!(
        label(&cv_grid(&all_nan, "RMSE", &t)),
        "Cross-validation: no data"
    );
    // A NaN row shows "n/a" and no dot; a NaN std draws no whiskers' width but keeps the dot.
    let mixed = grid(
        &[
            ("a", f64::NAN, 0.1),
            ("b", 0.9, f64::NAN),
            ("c", 0.95, 0.01),
        ],
        1,
    );
    let svg = cv_grid(&mixed, "RMSE", &t);
    assert_eq!(count(&svg, "circle", "fill", &t.series[0].hex()), 1);
    assert_eq!(count(&svg, "circle", "fill", &t.highlight.hex()), 1);
    assert!(texts(&svg).contains(&"n/a".to_string()));
    assert!(label(&svg).ends_with("best b = 0.9000 ± 0.0000"));
    // Identical means (zero-width range) still draw.
    let flat = grid(&[("a", 0.5, 0.0), ("b", 0.5, 0.0)], 0);
    assert_eq!(
        count(
            &cv_grid(&flat, "RMSE", &t),
            "circle",
            "fill",
            &t.highlight.hex()
        ),
        1
    );
}

#[test]
fn loss_curve_one_line_per_series_and_breaks_at_nan() {
    let t = ChartTheme::light();
    let series = vec![
        ("rank 10".to_string(), vec![1.2, 0.98, 0.93, 0.91, 0.905]),
        ("rank 40".to_string(), vec![1.1, 0.9, 0.84, 0.81, 0.80]),
    ];
    let svg = loss_curve(&series, &t);
    for k in 0..2 {
        let c = t.series[k].hex();
        assert_eq!(count(&svg, "polyline", "stroke", &c), 1, "series {k}");
        assert_eq!(
            count(&svg, "circle", "fill", &c),
            5,
            "markers of series {k}"
        );
        assert_eq!(
            count(&svg, "rect", "fill", &c),
            1,
            "legend swatch of series {k}"
        );
    }
    assert_eq!(
        label(&svg),
        "Training curve: RMSE over 5 iterations; rank 10 ends at 0.9050, rank 40 ends at 0.8000"
    );
    let texts = texts(&svg);
    assert!(texts.contains(&"rank 10".to_string()) && texts.contains(&"rank 40".to_string()));

    let broken = vec![(
        "s".to_string(),
        vec![1.0, f64::NAN, 0.8, 0.7, f64::INFINITY],
    )];
    let svg = loss_curve(&broken, &t);
    // [1.0] and [0.8, 0.7]: two runs, three markers.
    assert_eq!(count(&svg, "polyline", "stroke", &t.series[0].hex()), 2);
    assert_eq!(count(&svg, "circle", "fill", &t.series[0].hex()), 3);
    assert!(label(&svg).ends_with("s ends at 0.7000"));
}

#[test]
fn loss_curve_empty_and_all_nan_give_no_data() {
    let t = ChartTheme::dark();
    let no = "Training curve: no data";
    assert_eq!(label(&loss_curve(&[], &t)), no);
    assert_eq!(label(&loss_curve(&[("a".into(), vec![])], &t)), no);
    assert_eq!(label(&loss_curve(&[("a".into(), vec![f64::NAN])], &t)), no);
    // One iteration is a valid chart, not a degenerate axis.
    let one = loss_curve(&[("a".into(), vec![0.9])], &t);
    assert!(label(&one).starts_with("Training curve: RMSE over 1 iteration;"));
}

#[test]
fn hostile_labels_are_escaped_everywhere() {
    let t = ChartTheme::light();
    let nasty = format!("{HOSTILE}\u{1}\"'&");
    let svgs = [
        cv_grid(
            &grid(&[(&nasty, 0.9, 0.01), ("ok", 0.95, 0.01)], 0),
            &nasty,
            &t,
        ),
        loss_curve(&[(nasty.clone(), vec![1.0, 0.9])], &t),
    ];
    for svg in &svgs {
        assert!(!svg.contains("<img"), "raw markup leaked:\n{svg}");
        assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!svg.contains('\u{1}'));
        // Well-formed, and the text reads back as the original label (minus control chars).
        let label = label(svg);
        assert!(label.contains(HOSTILE), "{label}");
        let texts = texts(svg);
        assert!(texts.iter().any(|s| s.starts_with(HOSTILE)), "{texts:?}");
    }
}

#[test]
fn themes_differ_and_labels_are_cut() {
    assert_ne!(ChartTheme::light().text, ChartTheme::dark().text);
    assert_eq!(Rgb(0x1F, 0x6F, 0xEB).hex(), "#1F6FEB");
    let long = "a".repeat(50);
    assert_eq!(clean_label(&long).chars().count(), MAX_LABEL_CHARS);
    assert!(clean_label(&long).ends_with('…'));
    assert_eq!(short_count(12_345.0), "12k");
    assert_eq!(short_count(1_500.0), "1.5k");
    assert_eq!(short_count(2_000_000.0), "2M");
    assert_eq!(short_count(40.0), "40");
}

/// With `AFFINITY_CHART_PREVIEW=1`, writes example charts (light and dark) to
/// /tmp/charts-preview/ plus an HTML page showing them on both backgrounds.
#[test]
fn write_previews_when_asked() {
    if std::env::var("AFFINITY_CHART_PREVIEW").as_deref() != Ok("1") {
        eprintln!("SKIPPED: set AFFINITY_CHART_PREVIEW=1 to write /tmp/charts-preview/*.svg");
        return;
    }
    let dir = std::path::Path::new("/tmp/charts-preview");
    std::fs::create_dir_all(dir).unwrap();
    let counts: Vec<usize> = (1..=1682)
        .map(|r| ((583.0 / (r as f64).powf(0.9)) as usize).max(1))
        .collect();
    let cv = grid(
        &[
            ("rank 5 · reg 0.01", 0.9512, 0.0041),
            ("rank 10 · reg 0.01", 0.9381, 0.0052),
            ("rank 10 · reg 0.1", 0.9124, 0.0033),
            ("rank 20 · reg 0.1", 0.9179, 0.0047),
            ("rank 40 · reg 0.1", 0.9262, 0.0061),
            ("rank 40 · reg 1", 0.9875, 0.0029),
        ],
        2,
    );
    let curve = |start: f64, end: f64| -> Vec<f64> {
        (0..15)
            .map(|i| end + (start - end) * (-0.45 * i as f64).exp())
            .collect()
    };
    let loss = vec![
        ("rank 10 · reg 0.1".to_string(), curve(1.25, 0.86)),
        ("rank 40 · reg 0.1".to_string(), curve(1.21, 0.74)),
        ("rank 5 · reg 0.01".to_string(), curve(1.3, 0.9)),
    ];
    let mut html = String::from("<html><body style=\"margin:0\">");
    for (theme_name, theme, bg) in [
        ("light", ChartTheme::light(), "#ffffff"),
        ("dark", ChartTheme::dark(), "#1b1f24"),
    ] {
        let charts = [
            (
                "histogram",
                rating_histogram(
                    &[
                        (1.0, 6110),
                        (2.0, 11370),
                        (3.0, 27145),
                        (4.0, 34174),
                        (5.0, 21201),
                    ],
                    &theme,
                ),
            ),
            ("long_tail", long_tail(&counts, &theme)),
            ("cv_grid", cv_grid(&cv, "RMSE", &theme)),
            ("loss_curve", loss_curve(&loss, &theme)),
            ("empty", rating_histogram(&[], &theme)),
        ];
        html.push_str(&format!(
            "<div style=\"background:{bg};padding:12px;width:720px\">"
        ));
        for (name, svg) in charts {
            std::fs::write(dir.join(format!("{name}-{theme_name}.svg")), &svg).unwrap();
            html.push_str(&svg);
        }
        html.push_str("</div>");
    }
    html.push_str("</body></html>");
    std::fs::write(dir.join("index.html"), html).unwrap();
}

#[test]
fn rating_bins_count_each_distinct_value() {
    let values = [4.0, 1.0, 4.0, 5.0, f32::NAN, 4.0, 1.0, 3.5];
    assert_eq!(
        rating_bins(&values),
        vec![(1.0, 2), (3.5, 1), (4.0, 3), (5.0, 1)]
    );
    assert!(rating_bins(&[]).is_empty());
}

#[test]
fn a_continuous_score_is_grouped_into_twenty_bins() {
    // 0.00, 0.01, ..., 9.99: 1000 distinct values spread evenly over [0, 9.99].
    let values: Vec<f32> = (0..1000).map(|k| k as f32 / 100.0).collect();
    let bins = rating_bins(&values);
    assert_eq!(bins.len(), 20);
    assert_eq!(bins.iter().map(|b| b.1).sum::<usize>(), 1000);
    // Each bin is 0.4995 wide: about 50 values each, the top value in the last bin.
    assert!(bins.iter().all(|b| (49..=51).contains(&b.1)), "{bins:?}");
    assert_eq!(bins[0].0, 0.25);
    assert_eq!(bins[19].0, 9.74);
}

/// The bins as they were first computed: every finite value sorted, equal neighbours merged,
/// and past 30 distinct values each distinct value put in its bin.
fn rating_bins_by_sorting(values: &[f32]) -> Vec<(f32, usize)> {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_unstable_by(f32::total_cmp);
    let mut bins: Vec<(f32, usize)> = Vec::new();
    for v in sorted {
        match bins.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => bins.push((v, 1)),
        }
    }
    if bins.len() <= 30 {
        return bins;
    }
    let (lo, hi) = (bins[0].0 as f64, bins[bins.len() - 1].0 as f64);
    let width = (hi - lo) / 20.0;
    let mut grouped: Vec<(f32, usize)> = (0..20)
        .map(|k| {
            let centre = lo + width * (k as f64 + 0.5);
            (((centre * 100.0).round() / 100.0) as f32, 0)
        })
        .collect();
    for (v, c) in bins {
        grouped[(((v as f64 - lo) / width) as usize).min(19)].1 += c;
    }
    grouped
}

#[test]
fn rating_bins_are_those_of_sorting_every_value() {
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let odd = [
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -2.5,
        255.5,
        256.0,
        1e9,
        3.0,
    ];
    // 1 to 40 distinct values (30 and 31 on either side of grouping), with odd ones mixed in.
    for distinct in 1..=40u32 {
        let values: Vec<f32> = (0..500)
            .map(|_| match next() % 10 {
                0 => odd[next() as usize % odd.len()],
                _ => (next() % distinct) as f32 * 0.25,
            })
            .collect();
        let bins = rating_bins(&values);
        let expected = rating_bins_by_sorting(&values);
        assert_eq!(bins.len(), expected.len(), "{distinct}: {bins:?}");
        for (a, b) in bins.iter().zip(&expected) {
            assert!(
                a.0.to_bits() == b.0.to_bits() && a.1 == b.1,
                "{distinct}: {bins:?} {expected:?}"
            );
        }
    }
}

#[test]
fn item_counts_are_sorted_most_rated_first() {
    assert_eq!(item_counts(&[2, 0, 2, 2, 1, 0, 9], 4), vec![3, 2, 1, 0]);
    assert!(item_counts(&[], 0).is_empty());
}
