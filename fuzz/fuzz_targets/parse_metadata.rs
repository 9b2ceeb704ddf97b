//! Any bytes given to the metadata reader: an error or a catalog, never a panic.
#![no_main]

use affinity_engine::metadata::parse_metadata_with_report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((catalog, report)) = parse_metadata_with_report(data) {
        assert!(!catalog.is_empty());
        assert_eq!(catalog.len() + report.duplicates, report.lines_read);
        for (id, _) in catalog.iter() {
            assert!(!id.is_empty() && id.trim() == id);
        }
    }
});
