//! Reading a ratings file with a format the person chose, and previewing its first rows.
//!
//! [`crate::parse`] guesses the delimiter, the header and the columns. A guess can be wrong
//! (a header of numbers, columns in an unusual order, a file whose first line is odd), so the
//! studio shows a [`preview`] of the first rows split as detected and lets the visitor correct
//! the [`Format`]; [`parse_ratings_with_format`] then reads the whole file that way.
//! Everything else (quotes, blank lines, duplicates, error messages) behaves as in
//! [`crate::parse`].

use std::borrow::Cow;

use thiserror::Error;

use crate::ids::IdMap;
use crate::parse::{
    clean, decode_utf16, detect_format, read_delimited, split_fields, split_quoted, utf8, Columns,
    Delimiter, Format, NotText, ParseError, ParseReport,
};
use crate::parse_stream::RatingsStream;
use crate::ratings::Ratings;

/// Why a file could not be read with the chosen format.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FormatError {
    /// Two of user, item and rating were mapped to the same column.
    #[error("the {first} and the {second} cannot both come from column {column}: pick different columns")]
    SameColumn {
        /// The first role ("user", "item").
        first: &'static str,
        /// The second role ("item", "rating").
        second: &'static str,
        /// The shared column, counted from 1.
        column: usize,
    },
    /// The file itself could not be read that way.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// The first rows of a file split into fields, for the person to check the format against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// The format the rows were split with.
    pub format: Format,
    /// The header's fields when `format.has_header`, else `None`.
    pub header: Option<Vec<String>>,
    /// Up to the requested number of data rows, blank lines left out.
    pub rows: Vec<Vec<String>>,
    /// The most fields on any previewed line (header included): the columns one can map.
    pub n_columns: usize,
}

/// The text of a ratings file's bytes, decoded as [`crate::parse::parse_ratings_bytes`] does:
/// UTF-16 with a byte-order mark, else UTF-8 (a UTF-8 byte-order mark is removed).
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    if let Some(utf16) = decode_utf16(bytes) {
        return Ok(Cow::Owned(utf16?));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    utf8(bytes)
        .map(Cow::Borrowed)
        .map_err(|(before, byte)| NotText::Utf8(byte).error(before, 1))
}

/// Checks that user, item and rating are three different columns.
pub fn check_columns(columns: &Columns) -> Result<(), FormatError> {
    let roles = [
        ("user", columns.user),
        ("item", columns.item),
        ("rating", columns.rating),
    ];
    for (a, (first, ca)) in roles.iter().enumerate() {
        for (second, cb) in &roles[a + 1..] {
            if ca == cb {
                return Err(FormatError::SameColumn {
                    first,
                    second,
                    column: ca + 1,
                });
            }
        }
    }
    Ok(())
}

/// The first `max_rows` data rows of `text`, split with `format` (or the detected format when
/// `None`). Returns `None` when the text has no non-blank line.
pub fn preview(text: &str, format: Option<Format>, max_rows: usize) -> Option<Preview> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(f) => f,
        None => detect_format(text)?,
    };
    let mut header = None;
    let mut rows = Vec::new();
    let mut take = |fields: Vec<String>| -> bool {
        if fields.iter().all(|f| f.is_empty()) {
            return true;
        }
        if format.has_header && header.is_none() {
            header = Some(fields);
        } else {
            rows.push(fields);
        }
        rows.len() < max_rows
    };
    match format.delimiter {
        Delimiter::Byte(b) => {
            // The CSV reader handles quoted line breaks; stop it once enough rows are in.
            let mut sink = |_line: u64, fields: &[&str]| -> Result<(), ()> {
                if take(fields.iter().map(|f| clean(f).to_owned()).collect()) {
                    Ok(())
                } else {
                    Err(())
                }
            };
            // A malformed record ends the preview early; parsing the file reports it.
            let _ = read_delimited(text, b, &mut sink, |_, _| ());
        }
        Delimiter::DoubleColon | Delimiter::Whitespace => {
            for line in text.lines() {
                if !take(owned(split_fields(line, format.delimiter))) {
                    break;
                }
            }
        }
    }
    if header.is_none() && rows.is_empty() {
        return None;
    }
    let n_columns = header
        .iter()
        .chain(rows.iter())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    Some(Preview {
        format,
        header,
        rows,
        n_columns,
    })
}

/// Splits the first non-blank line of `text` with `delimiter`: the candidate column names (or
/// first values) when the person changes the delimiter.
pub fn first_line_fields(text: &str, delimiter: Delimiter) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Vec::new();
    };
    match delimiter {
        Delimiter::Byte(b) => split_quoted(first, b),
        d => owned(split_fields(first, d)),
    }
}

fn owned(fields: Vec<&str>) -> Vec<String> {
    fields.into_iter().map(str::to_owned).collect()
}

/// Parses the raw bytes of a ratings file with `format` instead of the detected one.
pub fn parse_ratings_bytes_with_format(
    bytes: &[u8],
    format: &Format,
) -> Result<(Ratings, ParseReport), FormatError> {
    check_columns(&format.columns)?;
    Ok(RatingsStream::read_all(
        Some(*format),
        bytes,
        IdMap::new(),
        IdMap::new(),
    )?)
}

/// Parses a whole ratings file with `format` instead of the detected one. As in
/// [`crate::parse::parse_ratings_with_report`], the last rating of a repeated (user, item)
/// pair wins and the report counts the ones dropped.
pub fn parse_ratings_with_format(
    text: &str,
    format: &Format,
) -> Result<(Ratings, ParseReport), FormatError> {
    parse_ratings_bytes_with_format(text.as_bytes(), format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_ratings_with_report;
    use crate::parse::tests::ids as triples;

    fn format(
        delimiter: Delimiter,
        has_header: bool,
        user: usize,
        item: usize,
        rating: usize,
    ) -> Format {
        Format {
            delimiter,
            has_header,
            columns: Columns { user, item, rating },
        }
    }

    #[test]
    fn the_detected_format_reads_like_the_detecting_parser() {
        for text in [
            "1,10,4\n2,10,3.5\n",
            "userId,movieId,rating,timestamp\n1,10,4,964982703\n\n2,10,3.5,964982224\n",
            "1\t10\t4\t881250949\n2\t10\t3.5\t891717742\n",
            "1::10::4::978300760\r\n2::10::3.5::978302109\r\n",
            "1 10 4\n\n2   10  3.5\n",
            "\u{feff}user;item;rating\n1;10;4,5\n2;10;3.5\n",
            "rating,movie,timestamp,user\n5,m1,0,u1\n",
            "a,x,1\na,x,2\nb,x,3\n",
        ] {
            let detected = detect_format(text).unwrap();
            let (mine, my_report) = parse_ratings_with_format(text, &detected).unwrap();
            let (theirs, their_report) = parse_ratings_with_report(text).unwrap();
            assert_eq!(triples(&mine), triples(&theirs), "{text:?}");
            assert_eq!(my_report, their_report, "{text:?}");
        }
    }

    #[test]
    fn chosen_columns_swap_users_and_items() {
        let text = "user,item,rating\nann,dune,5\nbob,dune,1\nann,heat,2\n";
        let (r, _) =
            parse_ratings_with_format(text, &format(Delimiter::Byte(b','), true, 1, 0, 2)).unwrap();
        assert_eq!(r.n_users(), 2, "users are now the films");
        assert_eq!(r.n_items(), 2);
        assert_eq!(triples(&r)[0], ("dune".to_owned(), "ann".to_owned(), 5.0));
    }

    #[test]
    fn a_header_the_detector_missed_can_be_declared() {
        // Numeric column names: the detector takes the line for a rating of 3 by user 1 for
        // item 2. Declaring the header drops it.
        let text = "1,2,3\nu,i,4\nv,i,5\n";
        let detected = detect_format(text).unwrap();
        assert!(!detected.has_header);
        let (r, report) = parse_ratings_with_format(
            text,
            &Format {
                has_header: true,
                ..detected
            },
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(report.header_line, Some(1));
        assert_eq!(r.users().id(0), "u");
    }

    #[test]
    fn a_wrong_delimiter_or_column_is_an_error_naming_the_line() {
        let text = "u1;i1;4\nu2;i2;5\n";
        assert_eq!(
            parse_ratings_with_format(text, &format(Delimiter::Byte(b','), false, 0, 1, 2))
                .unwrap_err(),
            FormatError::Parse(ParseError::MissingFields {
                line: 1,
                expected: 3,
                found: 1
            })
        );
        let err = parse_ratings_with_format(text, &format(Delimiter::Byte(b';'), false, 2, 1, 0))
            .unwrap_err();
        assert_eq!(
            err,
            FormatError::Parse(ParseError::BadRating {
                line: 1,
                column: 1,
                value: "u1".into()
            })
        );
    }

    #[test]
    fn one_column_for_two_roles_is_refused() {
        let err =
            parse_ratings_with_format("1,2,3\n", &format(Delimiter::Byte(b','), false, 0, 2, 2))
                .unwrap_err();
        assert_eq!(
            err,
            FormatError::SameColumn {
                first: "item",
                second: "rating",
                column: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "the item and the rating cannot both come from column 3: pick different columns"
        );
    }

    #[test]
    fn preview_shows_the_first_rows_as_detected() {
        let mut text = String::from("userId,movieId,rating,timestamp\n");
        for k in 0..20 {
            text.push_str(&format!("{k},\"m,{k}\",4,99\n"));
            if k == 2 {
                text.push('\n');
            }
        }
        let p = preview(&text, None, 8).unwrap();
        assert_eq!(p.format.delimiter, Delimiter::Byte(b','));
        assert!(p.format.has_header);
        assert_eq!(
            p.header.as_deref(),
            Some(&["userId", "movieId", "rating", "timestamp"].map(String::from)[..])
        );
        assert_eq!(p.rows.len(), 8, "blank lines are not rows");
        assert_eq!(p.rows[3], ["3", "m,3", "4", "99"].map(String::from));
        assert_eq!(p.n_columns, 4);
    }

    #[test]
    fn preview_follows_a_chosen_format() {
        let text = "1::10::4::978300760\n2::10::3.5::978302109\n";
        let p = preview(text, Some(format(Delimiter::Whitespace, true, 0, 1, 2)), 8).unwrap();
        assert_eq!(p.header, Some(vec!["1::10::4::978300760".to_owned()]));
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.n_columns, 1);
        let p = preview(
            text,
            Some(format(Delimiter::DoubleColon, false, 0, 1, 2)),
            1,
        )
        .unwrap();
        assert_eq!(
            p.rows,
            vec![["1", "10", "4", "978300760"].map(String::from).to_vec()]
        );
        assert!(preview("\n \n", None, 8).is_none());
    }

    #[test]
    fn decoding_matches_the_parser() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFa,b,1\n").unwrap(), "a,b,1\n");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a,b,1".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(&utf16).unwrap(), "a,b,1");
        assert_eq!(
            decode_text(b"a,b,1\nc\xE9,d,2").unwrap_err(),
            ParseError::InvalidUtf8 {
                line: 2,
                column: 2,
                byte: 0xE9
            }
        );
        assert_eq!(
            first_line_fields("\n\"x\";y;z\n", Delimiter::Byte(b';')),
            ["x", "y", "z"].map(String::from)
        );
    }
}
