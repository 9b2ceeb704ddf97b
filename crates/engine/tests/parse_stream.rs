//! The streaming reader gives what the whole-file functions give, however the file is cut:
//! the same ratings (ids, indices, values, order), the same report, or the same error.

use affinity_engine::parse::{
    detect_format, parse_ratings_bytes_with_report, parse_ratings_with_report, Columns, Delimiter,
    Format, ParseError, ParseReport,
};
use affinity_engine::parse_options::{
    parse_ratings_bytes_with_format, parse_ratings_with_format, FormatError,
};
use affinity_engine::parse_stream::RatingsStream;
use affinity_engine::Ratings;
use proptest::prelude::*;

mod common;
use common::{
    any_id, csv_field, finite_rating, noise, plain_id, triples, HOSTILE_ERRORS, HOSTILE_LOADED,
    HOSTILE_PNG,
};

/// Everything a parse gives, in a form that compares exactly: the ratings (as ids and as
/// indices), the id maps in index order, and the report; or the error.
type Outcome = Result<
    (
        Vec<(String, String, u32)>,
        Vec<u32>,
        Vec<u32>,
        Vec<String>,
        Vec<String>,
        ParseReport,
    ),
    ParseError,
>;

fn outcome(result: Result<(Ratings, ParseReport), ParseError>) -> Outcome {
    result.map(|(r, report)| {
        (
            triples(&r),
            r.user_indices().to_vec(),
            r.item_indices().to_vec(),
            r.users().ids().to_vec(),
            r.items().ids().to_vec(),
            report,
        )
    })
}

fn format_outcome(result: Result<(Ratings, ParseReport), FormatError>) -> Outcome {
    outcome(result.map_err(|e| match e {
        FormatError::Parse(e) => e,
        other => panic!("the formats here have distinct columns: {other}"),
    }))
}

/// `bytes` fed to a stream in chunks whose sizes cycle through `sizes`.
fn streamed(bytes: &[u8], format: Option<Format>, sizes: &[usize]) -> Outcome {
    let mut stream = RatingsStream::new(format);
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        stream.push(chunk)?;
        rest = tail;
        assert_eq!(stream.bytes_fed(), (bytes.len() - rest.len()) as u64);
    }
    outcome(stream.finish())
}

/// UTF-16 with a byte-order mark, little- or big-endian.
fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut bytes = if little {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in text.encode_utf16() {
        bytes.extend(if little {
            u.to_le_bytes()
        } else {
            u.to_be_bytes()
        });
    }
    bytes
}

/// The inputs of tests/corpus.rs (each kind of odd input, the browser's hostile files, random
/// bytes), plus files whose quoted fields, line ends and multi-byte characters straddle any
/// cut.
fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, bytes, _) in HOSTILE_ERRORS {
        files.push((name.to_owned(), bytes.to_vec()));
    }
    files.push(("png".to_owned(), HOSTILE_PNG.to_vec()));
    for (name, bytes, ..) in HOSTILE_LOADED {
        files.push((name.to_owned(), bytes.to_vec()));
    }
    for seed in 1..50 {
        files.push((format!("noise {seed}"), noise(4096, seed)));
    }
    let long = "x".repeat(100_000);
    let mut texts: Vec<String> = [
        "",
        "\n\n",
        "  \r\n\t\n",
        "\u{feff}",
        "user,item,rating\n",
        "userId,movieId,rating,timestamp\r\n",
        "user item rating",
        "UserID::MovieID::Rating::Timestamp\n\n",
        "\u{feff}user,item,rating\n1,2,5\n",
        "\u{feff}7,8,1\n",
        "user,item,rating\r\n1,2,5\r\n3,4,1\r\n",
        "user,item,rating\r\n1,2,5\r\n\r\n3,4,x\r\n",
        "1::2::5\r\n3::4::x\r\n",
        "\"Smith, J\",\"Dune, Part Two\",5\n\"Lee, A\",\"Heat\",\"4.5\"\n",
        "user,item,rating\n\"a\"\"b\",\"x,y\",1\n",
        "\"u;1\";\"i,2\";3\n",
        "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n",
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
        "ts,rating,x,movie,user\n0,4,?,m,u\n",
        "1,2\n",
        "user,item,rating\n1,2,3\n4,5\n",
        "1\n2\n",
        "1,2,x\n3,4,5\n",
        "1,2,NaN\n",
        "a,x,1\na,y,10\nb,x,7\n",
        "a;x;3,5\na;y;+4\n",
        "user,item,rating\nann,dune,1\nbob,dune,2\nann,dune,3\nann,heat,4\nann,dune,5\n",
        "solo,a,1\nsolo,b,2\nsolo,c,3\n",
        "1,2,3\n4,\0\0\0,5\n",
        "\n\nu,i,r\n\n1,2,3\n,,\n\n4,5,6\n",
        "1,2,3\n4, ,5\n",
        // Quoted line breaks, CRLF, blank lines and separators-only lines anywhere.
        "user,item,rating\n\"a\nb\",x,1\n\"c\r\n\",y,2\n\n , ,\nd,z,bad\n",
        "\"a\n\nb\",x,1\n\"\"\"q\"\"\n\",y,2\r\n",
        "1,2,3\r\n\r\n\r\n4,5,x\r\n",
        "\r\n1,2,3\r\n\r\n4,5,x",
        "1,2,3\n\"a\nb\",2,3\n4,5,x",
        "u,i,r\n1,\"x\" y,2\n3,a\"b,4\n",
        // A quote left open: the rest of the file is one field.
        "u,i,r\n1,\"x,2\n3,4,5\n6,7,8\n",
        // Old Mac line ends (lone CR): one line, several CSV records.
        "1,2,3\r4,5,6\r7,8,x\r",
        "1 2 3\r4 5 6\n",
        "1 2 3\n\n  \n4 5 6\n",
        "1::2::3\r\n\r\n4::5::6\r\n",
        "1,2,3\n , ,\n4,5,6",
        // Byte-order marks past the first: a second one at the start, one inside.
        "\u{feff}\u{feff}1,2,3\n",
        "\u{feff}\u{feff}\r\n1,2,x\n",
        "1,2,3\n\u{feff},4,5\n",
        "1,2,3\n\u{feff}4,5,6\n",
        // Multi-byte characters to cut through.
        "👩‍🚀,Amélie 🎬,5\n曲🎵,Ünïcødé,3\n",
        "user\titem\trating\r\nann\tAmélie 🎬\t4\r\n",
    ]
    .map(str::to_owned)
    .to_vec();
    texts.push(format!(
        "{long},dune,4\n👩‍🚀,Amélie 🎬,5\n007,7,1\n7,007,2\n 7 ,7.0,3\n"
    ));
    for value in ["five", "4 stars", "", "4½", "0x10", "inf", "-3.5e39"] {
        texts.push(format!("user,item,rating\n1,2,3\n1,3,{value}\n"));
    }
    for text in &texts {
        let name = format!("{:?}", text.chars().take(40).collect::<String>());
        files.push((name, text.as_bytes().to_vec()));
    }
    for (name, raw) in [
        ("latin-1", &b"user,item,rating\nann,caf\xe9,5\n"[..]),
        (
            "bad byte after BOM",
            &b"\xEF\xBB\xBF\xC3\xA9,\xC3\xA9x,\xFF"[..],
        ),
        ("truncated UTF-8 at the end", &b"1,2,3\n4,5,\xC3"[..]),
        ("lone BOM bytes", &b"\xEF\xBB"[..]),
        ("parse error, then NUL", &b"1,2,x\n3,4,\0\n"[..]),
        ("NUL in the bad record", &b"1,2,x\0\n"[..]),
        ("parse error, then bad byte", &b"1,2,3\n4,5,x\n\xff"[..]),
        ("bad byte in the bad record", &b"1,2,3\n4,5,\xffx\n"[..]),
    ] {
        files.push((name.to_owned(), raw.to_vec()));
    }
    let utf16_text = "user\titem\trating\r\nann\tAmélie 🎬\t4\r\n";
    for little in [true, false] {
        let mut b = utf16(utf16_text, little);
        files.push((format!("utf-16 little={little}"), b.clone()));
        b.push(0);
        files.push((format!("utf-16 odd length little={little}"), b));
    }
    files.push((
        "utf-16 without BOM".to_owned(),
        "u,i,r\n1,2,3\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect(),
    ));
    files.push((
        "utf-16 lone surrogate".to_owned(),
        vec![0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b',', 0],
    ));
    files
}

#[test]
fn the_corpus_reads_alike_in_any_chunks() {
    let files = corpus_files();
    for (name, bytes) in &files {
        let whole = outcome(parse_ratings_bytes_with_report(bytes));
        if let Ok(text) = std::str::from_utf8(bytes) {
            assert_eq!(outcome(parse_ratings_with_report(text)), whole, "{name}");
        }
        for size in [1, 2, 3, 7, 64, 4096, bytes.len()] {
            assert_eq!(
                streamed(bytes, None, &[size]),
                whole,
                "{name}, chunks of {size}"
            );
        }
        assert_eq!(streamed(bytes, None, &[1, 5, 2, 11]), whole, "{name}");
    }
}

/// The formats a person may pick for a file: the detected one and a few wrong ones.
fn formats_for(text: &str) -> Vec<Format> {
    let Some(f) = detect_format(text) else {
        return Vec::new();
    };
    let c = f.columns;
    vec![
        f,
        Format {
            has_header: !f.has_header,
            ..f
        },
        Format {
            columns: Columns {
                user: c.item,
                item: c.user,
                rating: c.rating,
            },
            ..f
        },
        Format {
            delimiter: Delimiter::Whitespace,
            ..f
        },
        Format {
            delimiter: Delimiter::Byte(b';'),
            ..f
        },
        Format {
            delimiter: Delimiter::DoubleColon,
            has_header: false,
            ..f
        },
    ]
}

#[test]
fn an_explicit_format_reads_alike_in_any_chunks() {
    let mut checked = 0;
    for (name, bytes) in &corpus_files() {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        for format in formats_for(text) {
            let whole = format_outcome(parse_ratings_bytes_with_format(bytes, &format));
            assert_eq!(
                format_outcome(parse_ratings_with_format(text, &format)),
                whole,
                "{name} {format:?}"
            );
            for size in [1, 2, 3, 7, 64, 4096, bytes.len()] {
                assert_eq!(
                    streamed(bytes, Some(format), &[size]),
                    whole,
                    "{name} {format:?}, chunks of {size}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} files had a format");
}

#[test]
fn progress_is_known_while_streaming() {
    let mut text = String::from("user,item,rating\n");
    for k in 0..5000 {
        text.push_str(&format!("u{},i{},{}\n", k % 97, k % 89, k % 5 + 1));
    }
    let bytes = text.as_bytes();
    let mut stream = RatingsStream::new(None);
    assert_eq!(stream.format(), None);
    let mut last_read = 0;
    for chunk in bytes.chunks(4096) {
        stream.push(chunk).unwrap();
        assert!(stream.lines_read() >= last_read);
        last_read = stream.lines_read();
        assert_eq!(
            stream.format().map(|f| (f.delimiter, f.has_header)),
            Some((Delimiter::Byte(b','), true))
        );
    }
    // All but the lines of the last chunk's unfinished tail are read before the end.
    assert_eq!(stream.bytes_fed(), bytes.len() as u64);
    assert_eq!(last_read, 5000, "the file ends with a line break");
    let (ratings, report) = stream.finish().unwrap();
    assert_eq!(report.lines_read, 5000);
    assert_eq!(ratings.len() + report.duplicates, 5000);
}

/// The ratings of `rows` as a CSV file with a header, fields quoted where they must be.
fn csv_file(rows: &[(String, String, f32)], crlf: bool, bom: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = String::from(if bom { "\u{feff}" } else { "" });
    text.push_str("user,item,rating");
    text.push_str(eol);
    for (u, i, v) in rows {
        text.push_str(&format!("{},{},{v}{eol}", csv_field(u), csv_field(i)));
    }
    text
}

/// An id that may hold what CSV must quote: commas, quotes, line breaks.
fn odd_id() -> impl Strategy<Value = String> {
    prop_oneof![
        any_id(),
        plain_id(),
        "[a-c]{1,2}[,\"\n][a-c]{0,2}",
        "[a-c]{1,2}\r\n[a-c]{1,2}",
    ]
}

/// Bytes shaped like a ratings file with odd bits mixed in: NUL, bytes that are not UTF-8,
/// byte-order marks, quotes, every separator and line end.
fn ratings_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(&b"1"[..]),
        Just(&b"u"[..]),
        Just(&b"4.5"[..]),
        Just(&b"3,5"[..]),
        Just(&b","[..]),
        Just(&b"\t"[..]),
        Just(&b";"[..]),
        Just(&b"|"[..]),
        Just(&b"::"[..]),
        Just(&b" "[..]),
        Just(&b"\n"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\r"[..]),
        Just(&b"\""[..]),
        Just(&b"\"a,\nb\""[..]),
        Just(&b"NaN"[..]),
        Just("é".as_bytes()),
        Just(&b"\xE9"[..]),
        Just(&b"\0"[..]),
        Just(&b"\xEF\xBB\xBF"[..]),
        Just(&b"user"[..]),
        Just(&b"\xF0\x9F"[..]),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..40, 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csv_files_read_alike_in_any_chunks(
        rows in proptest::collection::vec((odd_id(), odd_id(), finite_rating()), 1..30),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        sizes in chunk_sizes(),
    ) {
        let text = csv_file(&rows, crlf, bom);
        let whole = outcome(parse_ratings_bytes_with_report(text.as_bytes()));
        prop_assert!(whole.is_ok(), "{:?}", whole);
        prop_assert_eq!(streamed(text.as_bytes(), None, &sizes), whole);
    }

    #[test]
    fn every_layout_reads_alike_in_any_chunks(
        rows in proptest::collection::vec((plain_id(), plain_id(), finite_rating()), 1..30),
        layout in 0usize..5,
        crlf in any::<bool>(),
        sizes in chunk_sizes(),
    ) {
        let sep = ["\t", "::", " ", ",", ";"][layout];
        let eol = if crlf { "\r\n" } else { "\n" };
        let text: String = rows
            .iter()
            .map(|(u, i, v)| format!("{u}{sep}{i}{sep}{v}{eol}"))
            .collect();
        let whole = outcome(parse_ratings_bytes_with_report(text.as_bytes()));
        prop_assert_eq!(streamed(text.as_bytes(), None, &sizes), whole);
    }

    #[test]
    fn odd_files_read_alike_in_any_chunks(bytes in ratings_like_bytes(), sizes in chunk_sizes()) {
        let whole = outcome(parse_ratings_bytes_with_report(&bytes));
        prop_assert_eq!(streamed(&bytes, None, &sizes), whole);
    }

    #[test]
    fn arbitrary_bytes_read_alike_in_any_chunks(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        sizes in chunk_sizes(),
    ) {
        let whole = outcome(parse_ratings_bytes_with_report(&bytes));
        prop_assert_eq!(streamed(&bytes, None, &sizes), whole);
    }

    #[test]
    fn utf16_files_read_alike_in_any_chunks(
        bytes in ratings_like_bytes(),
        little in any::<bool>(),
        odd in any::<bool>(),
        sizes in chunk_sizes(),
    ) {
        let mut bytes = utf16(&String::from_utf8_lossy(&bytes), little);
        if odd {
            bytes.push(b'x');
        }
        let whole = outcome(parse_ratings_bytes_with_report(&bytes));
        prop_assert_eq!(streamed(&bytes, None, &sizes), whole);
    }

    /// Any delimiter byte, even a quote or a line break: the stream cuts the file where the
    /// CSV reader would end a record, whatever it takes for one.
    #[test]
    fn explicit_formats_read_alike_in_any_chunks(
        bytes in ratings_like_bytes(),
        delimiter in prop_oneof![
            Just(Delimiter::Byte(b',')), Just(Delimiter::Byte(b';')), Just(Delimiter::Byte(b'\t')),
            Just(Delimiter::Byte(b'"')), Just(Delimiter::Byte(b'\n')), Just(Delimiter::Byte(b'\r')),
            Just(Delimiter::Byte(b' ')), Just(Delimiter::DoubleColon), Just(Delimiter::Whitespace),
        ],
        has_header in any::<bool>(),
        rating_first in any::<bool>(),
        sizes in chunk_sizes(),
    ) {
        let columns = if rating_first {
            Columns { user: 1, item: 2, rating: 0 }
        } else {
            Columns { user: 0, item: 1, rating: 2 }
        };
        let format = Format { delimiter, has_header, columns };
        let whole = format_outcome(parse_ratings_bytes_with_format(&bytes, &format));
        if let Ok(text) = std::str::from_utf8(&bytes) {
            prop_assert_eq!(format_outcome(parse_ratings_with_format(text, &format)), whole.clone());
        }
        prop_assert_eq!(streamed(&bytes, Some(format), &sizes), whole);
    }
}

/// Times the whole-file reader against the stream on a large file; run with
/// `AFFINITY_BIG_RATINGS=/tmp/h1-1m.csv cargo test --release -p affinity-engine --test
/// parse_stream -- --ignored --nocapture` after writing one with `affinity gen`.
#[test]
#[ignore]
fn timing_on_a_large_file() {
    let path = std::env::var("AFFINITY_BIG_RATINGS").unwrap_or("/tmp/h1-1m.csv".to_owned());
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("SKIPPED: no ratings file at {path} (set AFFINITY_BIG_RATINGS)");
        return;
    };
    let time = |name: &str, f: &dyn Fn() -> Outcome| {
        let mut best = f64::INFINITY;
        let mut result = None;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            result = Some(f());
            best = best.min(start.elapsed().as_secs_f64());
        }
        eprintln!(
            "{name:<40} best of 5: {:7.1} ms ({} MB)",
            best * 1e3,
            bytes.len() >> 20
        );
        result.expect("ran")
    };
    let whole = time("parse_ratings_bytes_with_report", &|| {
        outcome(parse_ratings_bytes_with_report(&bytes))
    });
    for size in [64 << 10, 1 << 20, 4 << 20] {
        let streamed = time(
            &format!("RatingsStream, {} KiB chunks", size >> 10),
            &|| streamed(&bytes, None, &[size]),
        );
        assert!(streamed == whole);
    }
}
