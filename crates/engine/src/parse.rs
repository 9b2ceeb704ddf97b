//! Reading ratings files: CSV, TSV (MovieLens `u.data`), `::`-separated (`ratings.dat`) or
//! whitespace-separated, with or without a header line.
//!
//! Every outcome, for every kind of odd input, is listed in `docs/INPUT.md`. In short:
//! the text may start with a byte-order mark and end lines with CRLF; fields may be quoted;
//! columns past user, item and rating are ignored; a (user, item) pair rated twice keeps its
//! last rating, and [`ParseReport`] counts the ones dropped; anything else odd is a
//! [`ParseError`] naming its line and column. When a file has several faults, the one reported
//! is the first in the file (an encoding fault at its byte, a bad record at its end).
//!
//! The reading itself is [`crate::parse_stream::RatingsStream`]'s, which takes a file in
//! chunks; the functions here hand it the whole file at once.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::IdMap;
use crate::parse_stream::RatingsStream;
use crate::ratings::Ratings;

/// Why a ratings file could not be read. Lines and columns count from 1; a column is a
/// field number, except in the encoding errors ([`ParseError::InvalidUtf8`],
/// [`ParseError::InvalidUtf16`], [`ParseError::BinaryData`]) where it counts characters.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParseError {
    /// No rating at all (an empty file, or a header alone).
    #[error("the file holds no ratings (it is empty, or has only a header line)")]
    NoRatings,
    /// A line with fewer fields than the columns user, item, rating need.
    #[error(
        "line {line}: expected at least {expected} fields (user, item, rating), found {found}"
    )]
    MissingFields {
        /// Line number.
        line: u64,
        /// Fields required.
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// A rating that is not a number.
    #[error("line {line}, column {column}: rating \"{value}\" is not a number")]
    BadRating {
        /// Line number.
        line: u64,
        /// Column of the rating.
        column: usize,
        /// The text found.
        value: String,
    },
    /// A rating that is NaN or infinite (or too large for a 32-bit float).
    #[error("line {line}, column {column}: rating \"{value}\" is not a finite number")]
    NonFiniteRating {
        /// Line number.
        line: u64,
        /// Column of the rating.
        column: usize,
        /// The text found.
        value: String,
    },
    /// An empty user or item id.
    #[error("line {line}, column {column}: the {what} id is empty")]
    EmptyId {
        /// Line number.
        line: u64,
        /// Column of the id.
        column: usize,
        /// "user" or "item".
        what: &'static str,
    },
    /// A line the CSV reader could not decode.
    #[error("line {line}: {message}")]
    Malformed {
        /// Line number.
        line: u64,
        /// What the reader said.
        message: String,
    },
    /// Bytes that are not UTF-8 (typically a Latin-1 or Windows-1252 file).
    #[error(
        "line {line}, column {column}: byte 0x{byte:02X} is not valid UTF-8 \
         (the file may be Latin-1 or Windows-1252: save it as UTF-8)"
    )]
    InvalidUtf8 {
        /// Line number.
        line: u64,
        /// Character position of the bad byte in its line.
        column: usize,
        /// The first byte that is not UTF-8.
        byte: u8,
    },
    /// A file that starts with a UTF-16 byte-order mark but is not valid UTF-16.
    #[error("line {line}, column {column}: the file is marked as UTF-16 but is not valid UTF-16")]
    InvalidUtf16 {
        /// Line number.
        line: u64,
        /// Character position of the bad unit in its line.
        column: usize,
    },
    /// A NUL character: the file is binary (a spreadsheet, an archive, ...), not text.
    #[error(
        "line {line}, column {column}: a NUL byte: this looks like a binary file, \
         not a text ratings file"
    )]
    BinaryData {
        /// Line number.
        line: u64,
        /// Character position of the NUL in its line.
        column: usize,
    },
}

/// How the fields of a line are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delimiter {
    /// A single byte: `,` `\t` `;` or `|` (quoted fields allowed).
    Byte(u8),
    /// `::`, as in MovieLens `ratings.dat`.
    DoubleColon,
    /// Runs of spaces.
    Whitespace,
}

/// What [`detect_format`] found out about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    /// The field separator.
    pub delimiter: Delimiter,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// Zero-based columns of user, item and rating.
    pub columns: Columns,
}

/// Zero-based positions of the fields the engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Columns {
    /// The user id column.
    pub user: usize,
    /// The item id column.
    pub item: usize,
    /// The rating column.
    pub rating: usize,
}

impl Columns {
    const POSITIONAL: Columns = Columns {
        user: 0,
        item: 1,
        rating: 2,
    };

    fn needed(&self) -> usize {
        self.user.max(self.item).max(self.rating) + 1
    }
}

/// What parsing a file did besides producing ratings, for the person who gave the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseReport {
    /// The format detected.
    pub format: Format,
    /// The line taken as the header, if one was.
    pub header_line: Option<u64>,
    /// Rating lines read, duplicates included.
    pub lines_read: usize,
    /// Ratings dropped because a later line rated the same (user, item) pair: the last wins.
    pub duplicates: usize,
    /// The first line that repeats a pair rated before, if any.
    pub first_duplicate: Option<DuplicateLine>,
    /// Lines skipped because they hold nothing: blank, or separators and spaces only.
    pub blank_lines: usize,
}

/// A line that rates a (user, item) pair an earlier line already rated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateLine {
    /// The repeating line.
    pub line: u64,
    /// The earlier line with the same pair.
    pub earlier_line: u64,
    /// The user id.
    pub user: String,
    /// The item id.
    pub item: String,
}

/// Parses a whole ratings file, detecting its format. A (user, item) pair rated on several
/// lines keeps the last rating; [`parse_ratings_with_report`] says how many were dropped.
pub fn parse_ratings(text: &str) -> Result<Ratings, ParseError> {
    parse_ratings_with_report(text).map(|(r, _)| r)
}

/// Parses the raw bytes of a ratings file: UTF-8 (with or without a byte-order mark), or
/// UTF-16 with a byte-order mark. Bytes that are neither are a [`ParseError::InvalidUtf8`]
/// naming where they are, not a silent replacement character.
pub fn parse_ratings_bytes(bytes: &[u8]) -> Result<Ratings, ParseError> {
    parse_ratings_bytes_with_report(bytes).map(|(r, _)| r)
}

/// As [`parse_ratings`], with the [`ParseReport`].
pub fn parse_ratings_with_report(text: &str) -> Result<(Ratings, ParseReport), ParseError> {
    parse_ratings_with_maps_and_report(text, IdMap::new(), IdMap::new())
}

/// As [`parse_ratings_bytes`], with the [`ParseReport`].
///
/// The whole-file functions are [`RatingsStream`] fed one chunk, so a file read whole and a
/// file read in pieces give the same result. When a file has several faults, the one
/// reported is the first in the file: an encoding fault (invalid UTF-8, a NUL) at its byte,
/// a fault of a record at the end of that record.
pub fn parse_ratings_bytes_with_report(bytes: &[u8]) -> Result<(Ratings, ParseReport), ParseError> {
    RatingsStream::read_all(None, bytes, IdMap::new(), IdMap::new())
}

/// Parses a ratings file whose ids are resolved against existing maps, so that the indices of
/// a test file agree with those of the training file the maps came from.
pub fn parse_ratings_with_maps(
    text: &str,
    users: IdMap,
    items: IdMap,
) -> Result<Ratings, ParseError> {
    parse_ratings_with_maps_and_report(text, users, items).map(|(r, _)| r)
}

/// As [`parse_ratings_with_maps`], with the [`ParseReport`].
pub fn parse_ratings_with_maps_and_report(
    text: &str,
    users: IdMap,
    items: IdMap,
) -> Result<(Ratings, ParseReport), ParseError> {
    RatingsStream::read_all(None, text.as_bytes(), users, items)
}

/// Guesses the delimiter, the header and the column mapping from the first non-empty line.
/// Returns `None` for a file with no non-empty line.
///
/// The delimiter is the first of `::`, tab, `,`, `;`, `|` and spaces that splits that line
/// into at least three fields (quotes respected), so a quoted id holding a comma does not
/// fool it. The line is a header when none of its first three fields is a number.
pub fn detect_format(text: &str) -> Option<Format> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let split_with = |d: Delimiter| -> Vec<String> {
        match d {
            Delimiter::Byte(b) => split_quoted(first, b),
            d => split_fields(first, d)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    };
    let candidates = [
        Delimiter::DoubleColon,
        Delimiter::Byte(b'\t'),
        Delimiter::Byte(b','),
        Delimiter::Byte(b';'),
        Delimiter::Byte(b'|'),
        Delimiter::Whitespace,
    ];
    let present = |d: &Delimiter| match d {
        Delimiter::DoubleColon => first.contains("::"),
        Delimiter::Byte(b) => first.as_bytes().contains(b),
        Delimiter::Whitespace => true,
    };
    // Too few fields everywhere: keep the first separator present, so the error that
    // follows counts the fields as the person sees them.
    let delimiter = candidates
        .iter()
        .copied()
        .find(|d| present(d) && split_with(*d).len() >= 3)
        .or_else(|| candidates.iter().copied().find(present))
        .unwrap_or(Delimiter::Whitespace);
    let fields = split_with(delimiter);
    // Column names are words: a number among the first three fields makes the line data
    // (with its bad rating reported as such, rather than silently skipped as a header).
    let has_header = !fields
        .iter()
        .take(3)
        .any(|f| parse_rating(f, delimiter).is_some());
    let columns = if has_header {
        columns_from_header(&fields)
    } else {
        Columns::POSITIONAL
    };
    Some(Format {
        delimiter,
        has_header,
        columns,
    })
}

/// The fields of one line split on `delimiter` as a CSV reader would, quotes removed.
pub(crate) fn split_quoted(line: &str, delimiter: u8) -> Vec<String> {
    let mut reader = csv_reader(line, delimiter, csv::Trim::All);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(|f| clean(f).to_owned()).collect(),
        _ => line
            .split(delimiter as char)
            .map(|f| clean(f).to_owned())
            .collect(),
    }
}

/// A line split on `::` or on runs of spaces (a byte delimiter splits on that byte, quotes
/// not respected), each field trimmed and unquoted.
pub(crate) fn split_fields(line: &str, delimiter: Delimiter) -> Vec<&str> {
    let line = line.trim();
    match delimiter {
        Delimiter::DoubleColon => line.split("::").map(clean).collect(),
        Delimiter::Whitespace => line.split_whitespace().map(clean).collect(),
        Delimiter::Byte(b) => line.split(b as char).map(clean).collect(),
    }
}

/// A field without the spaces and quotes around it.
pub(crate) fn clean(f: &str) -> &str {
    f.trim().trim_matches('"').trim()
}

/// Maps columns by their names (`userId`, `movieId`, `rating`, ...), falling back to the
/// positional user, item, rating for any name it does not recognise.
fn columns_from_header(names: &[String]) -> Columns {
    let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let find = |keys: &[&str]| {
        lower
            .iter()
            .position(|n| keys.iter().any(|k| n.contains(k)))
    };
    let user = find(&["user", "customer", "client", "member"]);
    let item = find(&[
        "item", "movie", "product", "book", "track", "song", "title", "artist",
    ]);
    let rating = find(&["rating", "score", "stars", "value", "count", "plays"]);
    match (user, item, rating) {
        (Some(u), Some(i), Some(r)) if u != i && i != r && u != r => Columns {
            user: u,
            item: i,
            rating: r,
        },
        _ => Columns::POSITIONAL,
    }
}

/// Checks the fields of one rating line and appends the rating.
pub(crate) fn push_record(
    ratings: &mut Ratings,
    format: &Format,
    line: u64,
    fields: &[&str],
) -> Result<(), ParseError> {
    let columns = &format.columns;
    if fields.len() < columns.needed() {
        return Err(ParseError::MissingFields {
            line,
            expected: columns.needed(),
            found: fields.len(),
        });
    }
    let user = fields[columns.user].trim();
    let item = fields[columns.item].trim();
    let raw = fields[columns.rating].trim();
    for (id, column, what) in [(user, columns.user, "user"), (item, columns.item, "item")] {
        if id.is_empty() {
            return Err(ParseError::EmptyId {
                line,
                column: column + 1,
                what,
            });
        }
    }
    let value: f32 = parse_rating(raw, format.delimiter).ok_or_else(|| ParseError::BadRating {
        line,
        column: columns.rating + 1,
        value: raw.to_owned(),
    })?;
    if !value.is_finite() {
        return Err(ParseError::NonFiniteRating {
            line,
            column: columns.rating + 1,
            value: raw.to_owned(),
        });
    }
    ratings.push(user, item, value);
    Ok(())
}

/// A rating as a number. In a `;`-separated file (what spreadsheets write where the decimal
/// separator is a comma) "3,5" is three and a half.
fn parse_rating(raw: &str, delimiter: Delimiter) -> Option<f32> {
    if let Ok(v) = raw.parse() {
        return Some(v);
    }
    if delimiter == Delimiter::Byte(b';') && raw.matches(',').count() == 1 && !raw.contains('.') {
        return raw.replace(',', ".").parse().ok();
    }
    None
}

/// Hands every record to `sink` with the line it starts on.
///
/// The CSV reader's own line numbers are not used: it counts a record from where it began
/// reading, before the empty lines it skips, and it leaves the `\n` of a CRLF to the next
/// record, so its numbers run behind. The line is counted here from the record's byte offset.
/// `malformed` makes the error for a record the reader cannot decode, from its line and the
/// reader's message (the metadata reader shares this function with its own error type).
pub(crate) fn read_delimited<E>(
    text: &str,
    delimiter: u8,
    sink: &mut impl FnMut(u64, &[&str]) -> Result<(), E>,
    malformed: impl Fn(u64, String) -> E,
) -> Result<(), E> {
    read_delimited_from(text, delimiter, 1, csv::Trim::All, sink, malformed)
}

/// As [`read_delimited`], for text that starts at line `first_line` of its file (a piece of
/// a file cut where a record ends). With [`csv::Trim::None`] the fields keep their spaces:
/// the reader trims by building a new record, a cost a caller that trims the fields it uses
/// need not pay.
pub(crate) fn read_delimited_from<E>(
    text: &str,
    delimiter: u8,
    first_line: u64,
    trim: csv::Trim,
    sink: &mut impl FnMut(u64, &[&str]) -> Result<(), E>,
    malformed: impl Fn(u64, String) -> E,
) -> Result<(), E> {
    let mut reader = csv_reader(text, delimiter, trim);
    let mut lines = LineCounter {
        text: text.as_bytes(),
        pos: 0,
        line: first_line,
    };
    let mut record = csv::StringRecord::new();
    loop {
        let at = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let at = record.position().map_or(at, csv::Position::byte);
                let line = lines.line_of_record_at(at);
                // Most records have a handful of fields: no allocation for those.
                let mut few = [""; 8];
                if record.len() <= few.len() {
                    for (slot, field) in few.iter_mut().zip(record.iter()) {
                        *slot = field;
                    }
                    sink(line, &few[..record.len()])?;
                } else {
                    sink(line, &record.iter().collect::<Vec<_>>())?;
                }
            }
            Err(e) => {
                let at = e.position().map_or(at, csv::Position::byte);
                return Err(malformed(lines.line_of_record_at(at), e.to_string()));
            }
        }
    }
}

/// A CSV reader of `text` as the ratings and metadata readers use it: no header row, any
/// number of fields a record.
fn csv_reader(text: &str, delimiter: u8, trim: csv::Trim) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(trim)
        .from_reader(text.as_bytes())
}

/// Line numbers of byte offsets visited in increasing order, in one pass over the text.
struct LineCounter<'t> {
    text: &'t [u8],
    pos: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The line of the first byte at or after `byte` that is not a line break: where a
    /// record that the reader began at `byte` really starts.
    fn line_of_record_at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .clamp(self.pos, self.text.len());
        if start == 0 && self.text.starts_with(b"\xEF\xBB\xBF") {
            // The reader drops a byte-order mark at the start of its input.
            start = 3;
        }
        while let Some(b'\r' | b'\n') = self.text.get(start) {
            start += 1;
        }
        self.line += count_newlines(&self.text[self.pos..start]);
        self.pos = start;
        self.line
    }
}

/// How many `\n` there are in `bytes`.
pub(crate) fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Lines holding nothing but spaces, quotes and `delimiter`s: the records a CSV reader skips
/// or reads as empty fields.
pub(crate) fn count_blank_lines(text: &str, delimiter: u8) -> usize {
    text.lines()
        .filter(|l| {
            l.bytes()
                .all(|b| b == delimiter || b == b'"' || b.is_ascii_whitespace())
        })
        .count()
}

/// The line and character column (from 1) of the position just after `before`.
pub(crate) fn line_and_column(before: &str) -> (u64, usize) {
    let line = count_newlines(before.as_bytes()) + 1;
    let start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[start..].chars().count() + 1)
}

/// `bytes` as UTF-8 text, or else the text before the first byte that is not UTF-8, and
/// that byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, (&str, u8)> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        // The prefix up to valid_up_to is valid UTF-8 by definition.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        (before, bytes[at])
    })
}

/// A byte that ends the text of a ratings file: one that is not UTF-8, or a NUL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NotText {
    /// A byte that is not UTF-8.
    Utf8(u8),
    /// A NUL character.
    Nul,
}

impl NotText {
    /// The text of `bytes` before the first byte that is not text, and that byte if any.
    pub(crate) fn split(bytes: &[u8]) -> (&str, Option<NotText>) {
        let (text, bad) = match utf8(bytes) {
            Ok(text) => (text, None),
            Err((before, byte)) => (before, Some(NotText::Utf8(byte))),
        };
        match text.find('\0') {
            Some(at) => (&text[..at], Some(NotText::Nul)),
            None => (text, bad),
        }
    }

    /// The error for this byte, found just after `before`, text that starts at line
    /// `first_line` of its file.
    pub(crate) fn error(self, before: &str, first_line: u64) -> ParseError {
        let (line, column) = line_and_column(before);
        let line = first_line + line - 1;
        match self {
            NotText::Utf8(byte) => ParseError::InvalidUtf8 { line, column, byte },
            NotText::Nul => ParseError::BinaryData { line, column },
        }
    }
}

/// Where UTF-16 text with a byte-order mark stopped being valid.
pub(crate) struct Utf16Error {
    /// Line of the bad unit.
    pub line: u64,
    /// Character column of the bad unit.
    pub column: usize,
}

impl From<Utf16Error> for ParseError {
    fn from(e: Utf16Error) -> Self {
        ParseError::InvalidUtf16 {
            line: e.line,
            column: e.column,
        }
    }
}

/// Decodes UTF-16 when `bytes` start with its byte-order mark (`None` otherwise).
pub(crate) fn decode_utf16(bytes: &[u8]) -> Option<Result<String, Utf16Error>> {
    let little = match bytes {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return None,
    };
    let body = &bytes[2..];
    let units = body.chunks_exact(2).map(|c| {
        if little {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    let mut out = String::with_capacity(body.len() / 2);
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => out.push(c),
            Err(_) => {
                let (line, column) = line_and_column(&out);
                return Some(Err(Utf16Error { line, column }));
            }
        }
    }
    if body.len() % 2 == 1 {
        // An odd byte at the end: half a unit.
        let (line, column) = line_and_column(&out);
        return Some(Err(Utf16Error { line, column }));
    }
    Some(Ok(out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The ratings as (user id, item id, value), in table order.
    pub(crate) fn ids(r: &Ratings) -> Vec<(String, String, f32)> {
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

    #[test]
    fn reads_every_supported_layout_alike() {
        let expected = vec![
            ("1".to_owned(), "10".to_owned(), 4.0),
            ("2".to_owned(), "10".to_owned(), 3.5),
        ];
        for text in [
            "1,10,4\n2,10,3.5\n",
            "userId,movieId,rating,timestamp\n1,10,4,964982703\n2,10,3.5,964982224\n",
            "1\t10\t4\t881250949\n2\t10\t3.5\t891717742\n",
            "1::10::4::978300760\r\n2::10::3.5::978302109\r\n",
            "1 10 4\n\n2   10  3.5\n",
            "\u{feff}user;item;rating\n1;10;4\n2;10;3.5\n",
            "\"user\",\"item\",\"rating\"\n\"1\",\"10\",\"4\"\n\"2\",\"10\",\"3.5\"\n",
        ] {
            let r = parse_ratings(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(ids(&r), expected, "{text:?}");
        }
    }

    #[test]
    fn quotes_around_fields_are_dropped_in_every_layout() {
        // As the detection and the preview see the fields, and as a chosen format read them.
        for text in [
            "\"a\"::\"b\"::\"3\"\n",
            "\"a\"  \"b\" \"3\"\n",
            "\"a\",\"b\",\"3\"\n",
        ] {
            let r = parse_ratings(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(ids(&r), vec![("a".into(), "b".into(), 3.0)], "{text:?}");
        }
        let (_, report) = parse_ratings_with_report("1 2 3\n\"\" \"\"\n").unwrap();
        assert_eq!(
            report.blank_lines, 1,
            "a line of empty quoted fields holds nothing"
        );
    }

    #[test]
    fn header_names_choose_the_columns() {
        let r = parse_ratings("rating,movie,timestamp,user\n5,m1,0,u1\n").unwrap();
        assert_eq!(ids(&r), vec![("u1".to_owned(), "m1".to_owned(), 5.0)]);
    }

    #[test]
    fn string_ids_map_to_dense_indices() {
        let r = parse_ratings("ann,dune,5\nbob,dune,1\nann,heat,2\n").unwrap();
        assert_eq!(r.user_indices(), &[0, 1, 0]);
        assert_eq!(r.item_indices(), &[0, 0, 1]);
        assert_eq!(r.items().id(1), "heat");
    }

    #[test]
    fn a_bad_rating_names_its_line_and_column() {
        let err = parse_ratings("user,item,rating\n1,2,5\n1,3,abc\n").unwrap_err();
        assert_eq!(
            err,
            ParseError::BadRating {
                line: 3,
                column: 3,
                value: "abc".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "line 3, column 3: rating \"abc\" is not a number"
        );
        let err = parse_ratings("1 2 5\n\n1 3 x\n").unwrap_err();
        assert!(
            matches!(err, ParseError::BadRating { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn other_bad_lines_are_reported_not_panicked_on() {
        assert_eq!(parse_ratings("").unwrap_err(), ParseError::NoRatings);
        assert_eq!(
            parse_ratings("user,item,rating\n").unwrap_err(),
            ParseError::NoRatings
        );
        assert_eq!(
            parse_ratings("1,2,3\n4,5\n").unwrap_err(),
            ParseError::MissingFields {
                line: 2,
                expected: 3,
                found: 2
            }
        );
        assert!(matches!(
            parse_ratings("1,2,3\n1,2,NaN\n"),
            Err(ParseError::NonFiniteRating { line: 2, .. })
        ));
        assert!(matches!(
            parse_ratings("1,2,3\n,2,4\n"),
            Err(ParseError::EmptyId {
                line: 2,
                column: 1,
                what: "user"
            })
        ));
        assert!(matches!(
            parse_ratings("1,2,3\n1,\"2,4\n"),
            Err(ParseError::MissingFields { line: 2, .. }) | Err(ParseError::Malformed { .. })
        ));
    }

    #[test]
    fn blank_lines_are_counted_wherever_they_are() {
        for (text, blank) in [
            ("1,2,3\n\n\n4,5,6\n", 2),
            ("1,2,3\n\n\n", 2),
            ("1,2,3\n\n", 1),
            ("1,2,3", 0),
            ("1,2,3\n", 0),
            ("1,2,3\n   ", 1),
            ("\n\n1,2,3\n", 2),
            ("1,2,3\n , ,\n4,5,6", 1),
            ("1 2 3\n\n  \n4 5 6\n", 2),
            ("1::2::3\r\n\r\n4::5::6\r\n", 1),
        ] {
            let (_, report) = parse_ratings_with_report(text).unwrap();
            assert_eq!(report.blank_lines, blank, "{text:?}");
        }
    }

    #[test]
    fn lines_are_counted_past_blank_lines_and_crlf() {
        for text in [
            "1,2,3\n\n\n4,5,x\n",
            "1,2,3\r\n\r\n\r\n4,5,x\r\n",
            "\r\n1,2,3\r\n\r\n4,5,x",
            "u,i,r\r\n1,2,3\r\n\r\n4,5,x",
            "1,2,3\n\"a\nb\",2,3\n4,5,x",
        ] {
            assert!(
                matches!(
                    parse_ratings(text),
                    Err(ParseError::BadRating { line: 4, .. })
                ),
                "{text:?}: {:?}",
                parse_ratings(text)
            );
        }
    }

    #[test]
    fn a_test_file_reuses_the_training_maps() {
        let train = parse_ratings("a,x,1\nb,y,2\n").unwrap();
        let test = parse_ratings_with_maps(
            "b,x,3\nc,z,4\n",
            train.users().clone(),
            train.items().clone(),
        )
        .unwrap();
        assert_eq!(test.user_indices(), &[1, 2]);
        assert_eq!(test.item_indices(), &[0, 2]);
    }
}
