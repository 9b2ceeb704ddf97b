//! Any bytes given to the ratings reader: an error or a well-formed table, never a panic.
#![no_main]

use affinity_engine::parse::{parse_ratings, parse_ratings_bytes_with_report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((ratings, report)) = parse_ratings_bytes_with_report(data) {
        assert!(!ratings.is_empty());
        assert!(ratings.values().iter().all(|v| v.is_finite()));
        assert_eq!(ratings.len() + report.duplicates, report.lines_read);
        assert_eq!(ratings.duplicates().superseded.len(), 0);
        for r in ratings.iter() {
            assert!(!ratings.users().id(r.user).is_empty());
            assert!(!ratings.items().id(r.item).is_empty());
        }
    }
    // The &str entry point the app uses must agree with the bytes one on UTF-8 input.
    if let Ok(text) = std::str::from_utf8(data) {
        let from_text = parse_ratings(text);
        let from_bytes = affinity_engine::parse::parse_ratings_bytes(data);
        assert_eq!(from_text.is_ok(), from_bytes.is_ok());
    }
});
