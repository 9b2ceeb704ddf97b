//! The input corpus of docs/INPUT.md: one test per kind of odd input, asserting the outcome
//! the document promises. Files are built in memory; nothing here is committed as data.

use affinity_engine::metadata::{parse_metadata, MetadataError};
use affinity_engine::model_io::ModelFile;
use affinity_engine::parse::{
    parse_ratings, parse_ratings_bytes, parse_ratings_bytes_with_report, parse_ratings_with_report,
    Delimiter, DuplicateLine, ParseError,
};
use affinity_engine::Ratings;

mod common;
use common::{noise, HOSTILE_ERRORS, HOSTILE_LOADED, HOSTILE_PNG};

/// The ratings as (user id, item id, value), in table order.
fn triples(r: &Ratings) -> Vec<(String, String, f32)> {
    r.iter()
        .map(|x| {
            (
                r.users().id(x.user).to_owned(),
                r.items().id(x.item).to_owned(),
                x.value,
            )
        })
        .collect()
}

fn t(u: &str, i: &str, v: f32) -> (String, String, f32) {
    (u.to_owned(), i.to_owned(), v)
}

#[test]
fn empty_file() {
    for text in ["", "\n\n", "  \r\n\t\n", "\u{feff}"] {
        assert_eq!(parse_ratings(text).unwrap_err(), ParseError::NoRatings);
    }
    assert_eq!(parse_ratings_bytes(b"").unwrap_err(), ParseError::NoRatings);
    assert_eq!(
        ParseError::NoRatings.to_string(),
        "the file holds no ratings (it is empty, or has only a header line)"
    );
}

#[test]
fn header_only() {
    for text in [
        "user,item,rating\n",
        "userId,movieId,rating,timestamp\r\n",
        "user item rating",
        "UserID::MovieID::Rating::Timestamp\n\n",
    ] {
        assert_eq!(
            parse_ratings(text).unwrap_err(),
            ParseError::NoRatings,
            "{text:?}"
        );
    }
}

#[test]
fn utf8_byte_order_mark() {
    let text = "\u{feff}user,item,rating\n1,2,5\n";
    let (r, report) = parse_ratings_with_report(text).unwrap();
    assert_eq!(triples(&r), vec![t("1", "2", 5.0)]);
    assert_eq!(report.header_line, Some(1));
    let r = parse_ratings_bytes(text.as_bytes()).unwrap();
    assert_eq!(
        triples(&r),
        vec![t("1", "2", 5.0)],
        "the BOM is not in the id"
    );
    // Without a header the first id must not carry the BOM either.
    let r = parse_ratings_bytes(b"\xEF\xBB\xBF7,8,1\n").unwrap();
    assert_eq!(r.users().id(0), "7");
}

#[test]
fn crlf_line_ends() {
    let r = parse_ratings("user,item,rating\r\n1,2,5\r\n3,4,1\r\n").unwrap();
    assert_eq!(triples(&r), vec![t("1", "2", 5.0), t("3", "4", 1.0)]);
    // Line numbers stay right after CRLFs and blank lines.
    assert_eq!(
        parse_ratings("user,item,rating\r\n1,2,5\r\n\r\n3,4,x\r\n").unwrap_err(),
        ParseError::BadRating {
            line: 4,
            column: 3,
            value: "x".into()
        }
    );
    assert!(matches!(
        parse_ratings("1::2::5\r\n3::4::x\r\n"),
        Err(ParseError::BadRating { line: 2, .. })
    ));
}

#[test]
fn quoted_fields_with_commas() {
    // No header: the quoted comma must not make the first line look like a header.
    let text = "\"Smith, J\",\"Dune, Part Two\",5\n\"Lee, A\",\"Heat\",\"4.5\"\n";
    let r = parse_ratings(text).unwrap();
    assert_eq!(
        triples(&r),
        vec![
            t("Smith, J", "Dune, Part Two", 5.0),
            t("Lee, A", "Heat", 4.5)
        ]
    );
    // With a header, and a quote doubled inside a field.
    let r = parse_ratings("user,item,rating\n\"a\"\"b\",\"x,y\",1\n").unwrap();
    assert_eq!(triples(&r), vec![t("a\"b", "x,y", 1.0)]);
    // Semicolons inside quotes of a `;` file.
    let r = parse_ratings("\"u;1\";\"i,2\";3\n").unwrap();
    assert_eq!(triples(&r), vec![t("u;1", "i,2", 3.0)]);
}

#[test]
fn extra_columns_are_ignored() {
    let text = "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n";
    let (r, report) = parse_ratings_with_report(text).unwrap();
    assert_eq!(triples(&r), vec![t("1", "31", 2.5), t("1", "1029", 3.0)]);
    assert_eq!(report.format.delimiter, Delimiter::Byte(b','));
    let r = parse_ratings("196\t242\t3\t881250949\n186\t302\t3\t891717742\n").unwrap();
    assert_eq!(r.len(), 2);
    // Named columns in any order, extra ones between.
    let r = parse_ratings("ts,rating,x,movie,user\n0,4,?,m,u\n").unwrap();
    assert_eq!(triples(&r), vec![t("u", "m", 4.0)]);
}

#[test]
fn missing_columns() {
    let err = parse_ratings("1,2\n").unwrap_err();
    assert_eq!(
        err,
        ParseError::MissingFields {
            line: 1,
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "line 1: expected at least 3 fields (user, item, rating), found 2"
    );
    assert_eq!(
        parse_ratings("user,item,rating\n1,2,3\n4,5\n").unwrap_err(),
        ParseError::MissingFields {
            line: 3,
            expected: 3,
            found: 2
        }
    );
    // A single column of ids is a header with no ratings... or a one-field line.
    assert_eq!(
        parse_ratings("1\n2\n").unwrap_err(),
        ParseError::MissingFields {
            line: 1,
            expected: 3,
            found: 1
        }
    );
}

#[test]
fn non_numeric_ratings() {
    for (value, line) in [("five", 2), ("4 stars", 2), ("", 2), ("4½", 2), ("0x10", 2)] {
        let text = format!("1,2,3\n1,3,{value}\n");
        let err = parse_ratings(&text).unwrap_err();
        assert_eq!(
            err,
            ParseError::BadRating {
                line,
                column: 3,
                value: value.into()
            },
            "{value:?}"
        );
    }
    // A bad rating on the very first line is reported, not taken for a header.
    assert_eq!(
        parse_ratings("1,2,x\n3,4,5\n").unwrap_err(),
        ParseError::BadRating {
            line: 1,
            column: 3,
            value: "x".into()
        }
    );
}

#[test]
fn nan_and_infinite_ratings() {
    for value in ["NaN", "nan", "inf", "-inf", "Infinity", "1e40", "-3.5e39"] {
        let text = format!("user,item,rating\n1,2,3\n1,3,{value}\n");
        let err = parse_ratings(&text).unwrap_err();
        assert_eq!(
            err,
            ParseError::NonFiniteRating {
                line: 3,
                column: 3,
                value: value.into()
            },
            "{value}"
        );
        assert_eq!(
            err.to_string(),
            format!("line 3, column 3: rating \"{value}\" is not a finite number")
        );
    }
    // Also when it is the first line (the line then is data, not a header).
    assert!(matches!(
        parse_ratings("1,2,NaN\n"),
        Err(ParseError::NonFiniteRating { line: 1, .. })
    ));
}

#[test]
fn any_scale_is_kept_as_given() {
    for (text, min, max) in [
        ("a,x,1\na,y,10\nb,x,7\n", 1.0, 10.0),      // 1-10
        ("a,x,0.5\na,y,5\nb,x,3.5\n", 0.5, 5.0),    // half stars
        ("a,x,0\na,y,1\nb,x,1\n", 0.0, 1.0),        // thumbs 0/1
        ("a,x,-1\na,y,1\nb,x,-1\n", -1.0, 1.0),     // thumbs -1/1
        ("a,x,-250.75\na,y,1e6\n", -250.75, 1.0e6), // anything finite
        ("a;x;3,5\na;y;+4\n", 3.5, 4.0),            // decimal commas in a `;` file
    ] {
        let r = parse_ratings(text).unwrap();
        let s = r.summary();
        assert_eq!((s.min_rating, s.max_rating), (min, max), "{text:?}");
    }
}

#[test]
fn duplicate_pairs_keep_the_last_rating() {
    let text = "user,item,rating\nann,dune,1\nbob,dune,2\nann,dune,3\nann,heat,4\nann,dune,5\n";
    let (r, report) = parse_ratings_with_report(text).unwrap();
    assert_eq!(
        triples(&r),
        vec![
            t("bob", "dune", 2.0),
            t("ann", "heat", 4.0),
            t("ann", "dune", 5.0)
        ]
    );
    assert_eq!((report.lines_read, report.duplicates), (5, 2));
    assert_eq!(
        report.first_duplicate,
        Some(DuplicateLine {
            line: 4,
            earlier_line: 2,
            user: "ann".into(),
            item: "dune".into()
        })
    );
    // The plain entry point applies the same rule.
    assert_eq!(triples(&parse_ratings(text).unwrap()), triples(&r));
    let (_, clean) = parse_ratings_with_report("a,x,1\na,y,2\n").unwrap();
    assert_eq!((clean.duplicates, clean.first_duplicate), (0, None));
}

#[test]
fn a_single_user_or_a_single_item() {
    let r = parse_ratings("solo,a,1\nsolo,b,2\nsolo,c,3\n").unwrap();
    assert_eq!((r.summary().n_users, r.summary().n_items), (1, 3));
    let r = parse_ratings("a,only,1\nb,only,2\n").unwrap();
    assert_eq!((r.summary().n_users, r.summary().n_items), (2, 1));
    let r = parse_ratings("u,i,4\n").unwrap();
    assert_eq!(r.len(), 1);
}

#[test]
fn all_identical_ratings() {
    let r = parse_ratings("a,x,3\na,y,3\nb,x,3\nb,z,3\n").unwrap();
    let s = r.summary();
    assert_eq!((s.min_rating, s.max_rating, s.mean_rating), (3.0, 3.0, 3.0));
}

#[test]
fn long_unicode_and_numeric_looking_ids() {
    let long = "x".repeat(100_000);
    let text = format!("{long},dune,4\n👩‍🚀,Amélie 🎬,5\n007,7,1\n7,007,2\n 7 ,7.0,3\n");
    let r = parse_ratings(&text).unwrap();
    assert_eq!(
        triples(&r),
        vec![
            t(&long, "dune", 4.0),
            t("👩‍🚀", "Amélie 🎬", 5.0),
            t("007", "7", 1.0),
            t("7", "007", 2.0),
            // Spaces around an id are trimmed; "7.0" is not "7".
            t("7", "7.0", 3.0),
        ]
    );
    assert_eq!(r.n_users(), 4, "007 and 7 are different users");
    assert_eq!(r.n_items(), 5);
}

#[test]
fn binary_files() {
    for seed in 1..50 {
        let bytes = noise(4096, seed);
        // Random bytes are never UTF-8 for long; whatever happens, it is an error.
        let err = parse_ratings_bytes(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::InvalidUtf8 { .. }
                    | ParseError::InvalidUtf16 { .. }
                    | ParseError::BinaryData { .. }
            ),
            "seed {seed}: {err}"
        );
        assert!(parse_metadata(&bytes).is_err());
        assert!(ModelFile::from_any(&bytes).is_err());
    }
    // NUL bytes in otherwise valid text (a zip, a spreadsheet, a UTF-16 file without BOM).
    let err = parse_ratings("1,2,3\n4,\0\0\0,5\n").unwrap_err();
    assert_eq!(err, ParseError::BinaryData { line: 2, column: 3 });
    assert!(err.to_string().contains("binary file"), "{err}");
    let utf16_without_bom: Vec<u8> = "u,i,r\n1,2,3\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(
        parse_ratings_bytes(&utf16_without_bom).unwrap_err(),
        ParseError::BinaryData { line: 1, column: 2 }
    );
    assert!(matches!(
        parse_metadata(b"id,title\n1,\0"),
        Err(MetadataError::BinaryData { line: 2, .. })
    ));
}

#[test]
fn latin_1_bytes_are_invalid_utf8() {
    let bytes = b"user,item,rating\nann,caf\xe9,5\n";
    let err = parse_ratings_bytes(bytes).unwrap_err();
    assert_eq!(
        err,
        ParseError::InvalidUtf8 {
            line: 2,
            column: 8,
            byte: 0xE9
        }
    );
    assert_eq!(
        err.to_string(),
        "line 2, column 8: byte 0xE9 is not valid UTF-8 \
         (the file may be Latin-1 or Windows-1252: save it as UTF-8)"
    );
    // Columns count characters, not bytes, before the bad one; a BOM is not one.
    let mut bytes = "\u{feff}é,éx\u{1F3AC},".as_bytes().to_vec();
    bytes.push(0xFF);
    let err = parse_ratings_bytes(&bytes).unwrap_err();
    assert_eq!(
        err,
        ParseError::InvalidUtf8 {
            line: 1,
            column: 7,
            byte: 0xFF
        }
    );
    // The metadata reader takes Latin-1 as such: MovieLens writes it.
    let c = parse_metadata(b"id,title\n1,Am\xe9lie\n").unwrap();
    assert_eq!(c.get("1").unwrap().title, "Amélie");
}

#[test]
fn utf16_with_a_byte_order_mark() {
    for little in [true, false] {
        let mut bytes = if little {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in "user\titem\trating\r\nann\tAmélie 🎬\t4\r\n".encode_utf16() {
            bytes.extend(if little {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            });
        }
        let r = parse_ratings_bytes(&bytes).unwrap();
        assert_eq!(triples(&r), vec![t("ann", "Amélie 🎬", 4.0)]);
        bytes.push(0);
        assert!(matches!(
            parse_ratings_bytes(&bytes),
            Err(ParseError::InvalidUtf16 { line: 3, column: 1 })
        ));
    }
}

#[test]
fn blank_lines_and_empty_ids() {
    let (r, report) =
        parse_ratings_bytes_with_report(b"\n\nu,i,r\n\n1,2,3\n,,\n\n4,5,6\n").unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(report.header_line, Some(3));
    assert_eq!(report.blank_lines, 5);
    assert_eq!(
        parse_ratings("1,2,3\n4, ,5\n").unwrap_err(),
        ParseError::EmptyId {
            line: 2,
            column: 2,
            what: "item"
        }
    );
}

/// FNV-1a 64, the binary model format's checksum, to write model files by hand.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Found by `cargo fuzz run load_model`: a binary model whose unfitted user has a non-zero
/// factor (4.6e-44) loaded, but saved as JSON it came back with zeros: the loader accepted a
/// file it could not faithfully save. It is now refused, naming the factor's offset.
#[test]
fn fuzz_regression_unfitted_row_with_non_zero_factors() {
    // Version 2, rank 2, one user "" that is not fitted, no items, no biases.
    let mut b = b"AFFM".to_vec();
    b.extend_from_slice(&2u16.to_le_bytes());
    for v in [2u32, 1, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u32.to_le_bytes()); // the user id's length: ""
    b.push(0); // not fitted
    let factors_at = b.len();
    for v in [0.0f32, 4.6e-44] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(0); // no biases
    let sum = fnv1a(&b);
    b.extend_from_slice(&sum.to_le_bytes());
    let err = ModelFile::from_bytes(&b).unwrap_err();
    assert_eq!(
        err,
        affinity_engine::model_io::ModelIoError::Corrupt {
            offset: factors_at + 4,
            what: "user 0 is marked unfitted but has a non-zero factor".into()
        }
    );
    // With zeros it is a valid file, and it survives a JSON round trip.
    let mut ok = b[..factors_at].to_vec();
    ok.extend_from_slice(&[0; 8]);
    ok.push(0);
    let sum = fnv1a(&ok);
    ok.extend_from_slice(&sum.to_le_bytes());
    let file = ModelFile::from_bytes(&ok).unwrap();
    assert_eq!(
        ModelFile::from_json(&file.to_json().unwrap()).unwrap(),
        file
    );
}

/// The hostile files of the browser test (tests/e2e/hostile.test.mjs), with the messages the
/// page shows for them after the file name: checked here too, so a change of wording fails
/// in seconds natively rather than minutes later in the browser.
#[test]
fn the_browser_hostile_files_get_these_messages() {
    for (name, bytes, message) in HOSTILE_ERRORS {
        let err = parse_ratings_bytes(bytes).unwrap_err();
        assert_eq!(err.to_string(), message, "{name}");
    }
    assert_eq!(
        parse_ratings_bytes(HOSTILE_PNG).unwrap_err(),
        ParseError::InvalidUtf8 {
            line: 1,
            column: 1,
            byte: 0x89
        }
    );

    // The files the page loads: counts and scale as its summary shows them.
    for (name, bytes, n, users, items, min, max) in HOSTILE_LOADED {
        let (r, _) =
            parse_ratings_bytes_with_report(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = r.summary();
        assert_eq!(
            (s.n_ratings, s.n_users, s.n_items),
            (n, users, items),
            "{name}"
        );
        assert_eq!((s.min_rating, s.max_rating), (min, max), "{name}");
    }
    let (_, report) =
        parse_ratings_bytes_with_report(b"user,item,rating\n1,a,5\n1,a,2\n2,b,3\n").unwrap();
    assert_eq!(report.duplicates, 1);
    let d = report.first_duplicate.expect("a repeat");
    assert_eq!(
        (d.line, d.earlier_line, d.user.as_str(), d.item.as_str()),
        (3, 2, "1", "a")
    );
}
