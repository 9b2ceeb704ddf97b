//! Properties of the input readers: they never panic, whatever they are given, and a
//! well-formed file they are given reads back to the ratings that were written.

use std::collections::HashMap;

use affinity_engine::metadata::parse_metadata;
use affinity_engine::parse::{
    parse_ratings, parse_ratings_bytes, parse_ratings_bytes_with_report, parse_ratings_with_report,
};
use proptest::prelude::*;

mod common;
use common::{any_id, csv_field, finite_rating, plain_id, triples};

/// What "the last rating of a pair wins" leaves of `rows`: each pair once, at the place of
/// its last occurrence, with its last value.
fn keep_last(rows: &[(String, String, f32)]) -> Vec<(String, String, u32)> {
    let mut last = HashMap::new();
    for (k, (u, i, _)) in rows.iter().enumerate() {
        last.insert((u.clone(), i.clone()), k);
    }
    rows.iter()
        .enumerate()
        .filter(|(k, (u, i, _))| last[&(u.clone(), i.clone())] == *k)
        .map(|(_, (u, i, v))| (u.clone(), i.clone(), v.to_bits()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_ratings_bytes(&bytes);
        let _ = parse_metadata(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,300}") {
        if let Ok((r, report)) = parse_ratings_with_report(&text) {
            prop_assert!(!r.is_empty());
            prop_assert!(r.values().iter().all(|v| v.is_finite()));
            prop_assert_eq!(r.len() + report.duplicates, report.lines_read);
        }
        let _ = parse_metadata(text.as_bytes());
    }

    /// Text shaped like a ratings file, with odd bits mixed in: the paths past format
    /// detection get exercised, not only the early errors.
    #[test]
    fn ratings_like_text_never_panics(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just("1".to_owned()), Just("u".to_owned()), Just("4.5".to_owned()),
                    Just("\"a,b\"".to_owned()), Just("\"".to_owned()), Just(String::new()),
                    Just("NaN".to_owned()), Just("  ".to_owned()), Just("é".to_owned()),
                    "\\PC{0,4}",
                ],
                0..6,
            ),
            0..8,
        ),
        sep in prop_oneof![Just(","), Just("\t"), Just(";"), Just("|"), Just("::"), Just(" ")],
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    ) {
        let text: String = lines.iter().map(|l| l.join(sep) + eol).collect();
        let _ = parse_ratings(&text);
        let _ = parse_metadata(text.as_bytes());
    }

    #[test]
    fn csv_with_a_header_round_trips(
        rows in proptest::collection::vec((any_id(), any_id(), finite_rating()), 1..40),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from(if bom { "\u{feff}" } else { "" });
        text.push_str("user,item,rating");
        text.push_str(eol);
        for (u, i, v) in &rows {
            text.push_str(&format!("{},{},{v}{eol}", csv_field(u), csv_field(i)));
        }
        let (r, report) = parse_ratings_bytes_with_report(text.as_bytes()).unwrap();
        prop_assert_eq!(triples(&r), keep_last(&rows));
        prop_assert_eq!(report.lines_read, rows.len());
        prop_assert_eq!(report.header_line, Some(1));
    }

    #[test]
    fn every_layout_without_a_header_round_trips(
        rows in proptest::collection::vec((plain_id(), plain_id(), finite_rating()), 1..40),
        layout in 0usize..4,
        timestamp in any::<bool>(),
    ) {
        let sep = ["\t", "::", " ", ","][layout];
        let mut text = String::new();
        for (k, (u, i, v)) in rows.iter().enumerate() {
            text.push_str(&[u.as_str(), i, &v.to_string()].join(sep));
            if timestamp {
                text.push_str(&format!("{sep}{}", 881_250_949 + k));
            }
            text.push('\n');
        }
        let (r, report) = parse_ratings_with_report(&text).unwrap();
        prop_assert_eq!(triples(&r), keep_last(&rows));
        prop_assert_eq!(report.duplicates, rows.len() - r.len());
        prop_assert_eq!(report.header_line, None);
    }
}
