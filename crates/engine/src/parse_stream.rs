//! Reading a ratings file fed in chunks, so that a large file need never be held whole: the
//! studio reads a file in a worker slice by slice, showing progress.
//!
//! [`RatingsStream`] is the one reader of ratings text: the whole-file functions of
//! [`crate::parse`] and [`crate::parse_options`] feed it their input as a single chunk. It
//! keeps only the input not read yet, the tail after the last whole record, and reads the
//! records before it as soon as they are whole. Where the input is cut does not matter: any
//! chunking gives the same ratings, the same report and the same error.
//!
//! When a file has several faults, the one reported is the first met reading the file: an
//! encoding fault (a byte that is not UTF-8, a NUL) at its byte, the fault of a record (a
//! bad rating, missing fields) at the end of that record. So a bad line near the start of a
//! large file is reported without reading the rest.

use crate::ids::IdMap;
use crate::parse::{
    count_blank_lines, count_newlines, decode_utf16, detect_format, push_record,
    read_delimited_from, split_fields, Delimiter, DuplicateLine, Format, NotText, ParseError,
    ParseReport,
};
use crate::ratings::Ratings;
use crate::serve::RatedItems;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses a ratings file fed in chunks of bytes of any size.
///
/// ```
/// use affinity_engine::parse_stream::RatingsStream;
///
/// let file = b"user,item,rating\nann,dune,5\nbob,dune,4\n";
/// let mut stream = RatingsStream::new(None);
/// for chunk in file.chunks(7) {
///     stream.push(chunk).unwrap();
/// }
/// let (ratings, report) = stream.finish().unwrap();
/// assert_eq!((ratings.len(), report.header_line), (2, Some(1)));
/// ```
#[derive(Debug)]
pub struct RatingsStream {
    encoding: Encoding,
    format: Option<Format>,
    /// The input not read yet (once the encoding is known, without the UTF-8 byte-order
    /// mark): the tail after the last whole record, or the whole input while the format is
    /// unknown or the file is UTF-16.
    pending: Vec<u8>,
    /// The line of the file `pending` starts on.
    line: u64,
    /// While the format is unknown: how many bytes of `pending` are blank lines already
    /// looked at, how many lines they are, and how far the line after them has been searched
    /// for its end (so that a long line fed in small chunks is searched once).
    blank: usize,
    blank_lines_seen: u64,
    searched: usize,
    /// Once the format is known: how many bytes of `pending` the record scanner has looked at,
    /// and its state there.
    scanned: usize,
    scanner: Scan,
    table: Table,
    bytes_fed: u64,
    /// The error already returned: a stream that failed keeps failing.
    failed: Option<ParseError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Fewer than three bytes seen: a byte-order mark may still be coming.
    Unknown,
    Utf8,
    /// UTF-16 with a byte-order mark: kept whole and decoded at the end (such files are rare).
    Utf16,
}

impl RatingsStream {
    /// `None`: detect the format from the first non-empty line, as
    /// [`crate::parse::parse_ratings`] does. `Some(format)`: read with that format, as
    /// [`crate::parse_options::parse_ratings_with_format`] does (the caller has run
    /// [`crate::parse_options::check_columns`]).
    pub fn new(format: Option<Format>) -> Self {
        Self::with_maps(format, IdMap::new(), IdMap::new())
    }

    /// As [`RatingsStream::new`], resolving ids against existing maps.
    pub(crate) fn with_maps(format: Option<Format>, users: IdMap, items: IdMap) -> Self {
        Self {
            encoding: Encoding::Unknown,
            format,
            pending: Vec::new(),
            line: 1,
            blank: 0,
            blank_lines_seen: 0,
            searched: 0,
            scanned: 0,
            scanner: Scan::StartRecord,
            table: Table {
                ratings: Ratings::with_maps(users, items),
                lines: Vec::new(),
                header_line: None,
                blank_lines: 0,
            },
            bytes_fed: 0,
            failed: None,
        }
    }

    /// A whole file read as one chunk: what the whole-file functions do.
    pub(crate) fn read_all(
        format: Option<Format>,
        bytes: &[u8],
        users: IdMap,
        items: IdMap,
    ) -> Result<(Ratings, ParseReport), ParseError> {
        let mut stream = Self::with_maps(format, users, items);
        stream.push(bytes)?;
        stream.finish()
    }

    /// Feeds the next bytes. Errors are the same [`ParseError`] values (same line and column
    /// numbers) that the whole-file functions give for the same file. After an error the
    /// stream keeps returning that error.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.bytes_fed += chunk.len() as u64;
        self.feed(chunk, false)
            .inspect_err(|e| self.failed = Some(e.clone()))
    }

    /// Bytes fed so far (for a progress bar).
    pub fn bytes_fed(&self) -> u64 {
        self.bytes_fed
    }

    /// Makes room for the ratings of a file of `total_bytes`, at the rate of ratings per
    /// byte read so far and a few percent more; call it after each chunk. Without it the
    /// columns grow by doubling: at 10M ratings a browser worker's columns had room for 16.7M,
    /// and the 8.4M-rating columns they moved out of stayed in its memory. A file whose later
    /// lines are shorter than its first only grows its columns again, later.
    pub fn expect_bytes(&mut self, total_bytes: u64) {
        let (lines, fed) = (self.table.ratings.len(), self.bytes_fed);
        if lines == 0 || fed == 0 || total_bytes <= fed {
            return;
        }
        let expected = (lines as f64 * total_bytes as f64 / fed as f64 * 1.05) as usize;
        if expected > self.table.ratings.capacity() {
            self.table.ratings.reserve(expected - lines);
            self.table.lines.reserve_exact(expected - lines);
        }
    }

    /// Rating lines read so far (duplicates included).
    pub fn lines_read(&self) -> usize {
        self.table.ratings.len()
    }

    /// The format, once known (after the first non-empty line has been seen).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Ends the input; returns exactly what [`crate::parse::parse_ratings_bytes_with_report`]
    /// (or, with an explicit format, [`crate::parse_options::parse_ratings_bytes_with_format`])
    /// returns for the concatenated bytes.
    pub fn finish(self) -> Result<(Ratings, ParseReport), ParseError> {
        let (ratings, report, _) = self.finish_grouping(false)?;
        Ok((ratings, report))
    }

    /// [`RatingsStream::finish`], with the items each user rated
    /// ([`RatedItems::from_ratings`] of the ratings), grouped along with the search for
    /// repeated pairs: a browser worker that reads a file works both out, and grouping the
    /// rows twice took seconds at fifty million ratings.
    pub fn finish_with_rated(self) -> Result<(Ratings, ParseReport, RatedItems), ParseError> {
        let (ratings, report, rated) = self.finish_grouping(true)?;
        Ok((ratings, report, rated.unwrap_or_default()))
    }

    fn finish_grouping(
        mut self,
        want_rated: bool,
    ) -> Result<(Ratings, ParseReport, Option<RatedItems>), ParseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.feed(&[], true)?;
        let format = self.format.ok_or(ParseError::NoRatings)?;
        self.table.finish(format, want_rated)
    }

    /// Takes in `chunk` and reads what it completes; `end` at the end of the input.
    fn feed(&mut self, mut chunk: &[u8], end: bool) -> Result<(), ParseError> {
        if self.encoding == Encoding::Unknown {
            if self.pending.len() + chunk.len() < UTF8_BOM.len() && !end {
                self.pending.extend_from_slice(chunk);
                return Ok(());
            }
            let head: Vec<u8> = self.pending.iter().chain(chunk).take(3).copied().collect();
            if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
                self.encoding = Encoding::Utf16;
            } else {
                self.encoding = Encoding::Utf8;
                if head == UTF8_BOM {
                    let kept = self.pending.len().min(UTF8_BOM.len());
                    self.pending.drain(..kept);
                    chunk = &chunk[UTF8_BOM.len() - kept..];
                }
            }
        }
        if self.encoding == Encoding::Utf16 {
            self.pending.extend_from_slice(chunk);
            if !end {
                return Ok(());
            }
            let raw = std::mem::take(&mut self.pending);
            let text = match decode_utf16(&raw) {
                Some(decoded) => decoded?,
                // Unreachable: the encoding was chosen from this byte-order mark.
                None => return Err(ParseError::InvalidUtf16 { line: 1, column: 1 }),
            };
            // Read as the UTF-8 it now is (a byte-order mark after the UTF-16 one is dropped
            // as the UTF-8 one would be).
            self.encoding = Encoding::Unknown;
            return self.feed(text.as_bytes(), true);
        }
        if self.pending.is_empty() {
            // The common case of a large chunk: read it in place, keep only its tail.
            let used = self.consume(chunk, end)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut input = std::mem::take(&mut self.pending);
            input.extend_from_slice(chunk);
            let used = self.consume(&input, end)?;
            input.drain(..used);
            self.pending = input;
        }
        Ok(())
    }

    /// Reads the whole records at the start of `input` (the input not read yet, starting at
    /// `self.line`), or all of it at the `end` of the input. Returns how many bytes it used.
    fn consume(&mut self, input: &[u8], end: bool) -> Result<usize, ParseError> {
        let format = match self.format {
            Some(format) => format,
            None => match self.detect(input, end)? {
                Some(format) => {
                    self.format = Some(format);
                    // Records are read from the start of the file, which the detection only
                    // looked at line by line.
                    self.scanned = 0;
                    self.scanner = Scan::StartRecord;
                    format
                }
                None => return Ok(0),
            },
        };
        if self.line == 1 && self.scanned == 0 && matches!(format.delimiter, Delimiter::Byte(_)) {
            // The CSV reader drops a byte-order mark at the start of the file (a second one:
            // the first is gone already): the scanner must not take it for a field.
            if input.len() < UTF8_BOM.len() && !end {
                return Ok(0);
            }
            self.scanned = Scan::skipped(input);
        }
        let whole = if end {
            input.len()
        } else {
            let new = &input[self.scanned..];
            self.scanner
                .last_boundary(new, format.delimiter)
                .map_or(0, |at| self.scanned + at)
        };
        self.scanned = input.len() - whole;
        if whole > 0 {
            self.read(&input[..whole], &format)?;
            self.line += count_newlines(&input[..whole]);
        }
        Ok(whole)
    }

    /// The format, from the first non-empty line of `input` once it is whole (`None` before).
    /// The lines before it are checked to be text on the way: an encoding fault there is the
    /// file's first fault.
    fn detect(&mut self, input: &[u8], end: bool) -> Result<Option<Format>, ParseError> {
        loop {
            let start = self.blank;
            let from = self.searched.max(start);
            let (line_end, next) = match input[from..].iter().position(|&b| b == b'\n') {
                Some(i) => (from + i, from + i + 1),
                None if end && start < input.len() => (input.len(), input.len()),
                None => {
                    self.searched = input.len();
                    return Ok(None);
                }
            };
            let line = match NotText::split(&input[start..line_end]) {
                (line, None) => line,
                (before, Some(bad)) => {
                    return Err(bad.error(before, self.line + self.blank_lines_seen))
                }
            };
            // As detect_format does: a second byte-order mark is not text either.
            let line = match start {
                0 => line.strip_prefix('\u{feff}').unwrap_or(line),
                _ => line,
            };
            if !line.trim().is_empty() {
                // Every line up to here is text: each was checked above.
                let head = std::str::from_utf8(&input[..next]).unwrap_or_default();
                return Ok(detect_format(head));
            }
            self.blank = next;
            self.blank_lines_seen += 1;
        }
    }

    /// Reads `bytes`, whole records from line `self.line` on.
    fn read(&mut self, bytes: &[u8], format: &Format) -> Result<(), ParseError> {
        let (text, bad) = NotText::split(bytes);
        let Some(bad) = bad else {
            return self.table.read(text, format, self.line);
        };
        // The records that end before the bad byte come before it in the file, and so do
        // their faults.
        let skipped = match (self.line, format.delimiter) {
            (1, Delimiter::Byte(_)) => Scan::skipped(text.as_bytes()),
            _ => 0,
        };
        let records = skipped + Scan::records_end(&text.as_bytes()[skipped..], format.delimiter);
        self.table.read(&text[..records], format, self.line)?;
        Err(bad.error(text, self.line))
    }
}

/// Where a CSV reader stands after a byte: the states of `csv_core`'s reader (default
/// quoting, CRLF terminators) that decide where records end. A record ends at a `\r` or `\n`
/// outside quotes; only a field that starts with `"` is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Between records (line breaks here are skipped).
    StartRecord,
    /// After a delimiter.
    StartField,
    /// In an unquoted field.
    InField,
    /// In a quoted field.
    Quoted,
    /// After a `"` in a quoted field: its end, or the first of a doubled `""`.
    QuoteInQuoted,
}

impl Scan {
    /// The state after byte `c`, the field delimiter being `delimiter`. The tests are in the
    /// order `csv_core` makes them, so that even a delimiter of `"` or `\n` reads alike.
    fn step(self, c: u8, delimiter: u8) -> Scan {
        let line_break = c == b'\r' || c == b'\n';
        let field_start = || {
            if c == b'"' {
                Scan::Quoted
            } else if c == delimiter {
                Scan::StartField
            } else if line_break {
                Scan::StartRecord
            } else {
                Scan::InField
            }
        };
        match self {
            Scan::StartRecord if line_break => Scan::StartRecord,
            Scan::StartRecord | Scan::StartField => field_start(),
            Scan::Quoted if c == b'"' => Scan::QuoteInQuoted,
            Scan::Quoted => Scan::Quoted,
            Scan::QuoteInQuoted if c == b'"' => Scan::Quoted,
            Scan::InField | Scan::QuoteInQuoted => {
                if c == delimiter {
                    Scan::StartField
                } else if line_break {
                    Scan::StartRecord
                } else {
                    Scan::InField
                }
            }
        }
    }

    /// Moves the scanner over `bytes` and returns the offset just past the last `\n` in them
    /// that ends a record (or stands between records): where a file may be cut so that a
    /// reader started after the cut reads what it would have read uncut. Line-based formats
    /// cut after any `\n`; CSV ones not inside quotes.
    fn last_boundary(&mut self, bytes: &[u8], delimiter: Delimiter) -> Option<usize> {
        let after_last_newline = |b: &[u8]| b.iter().rposition(|&c| c == b'\n').map(|i| i + 1);
        let Delimiter::Byte(d) = delimiter else {
            return after_last_newline(bytes);
        };
        let quotes_matter = matches!(self, Scan::Quoted | Scan::QuoteInQuoted)
            || matches!(d, b'"' | b'\r' | b'\n')
            || bytes.contains(&b'"');
        if !quotes_matter {
            // Outside quotes every `\n` ends a record: only the tail after the last one
            // needs stepping through, to know where the next bytes start.
            let cut = after_last_newline(bytes);
            if cut.is_some() {
                *self = Scan::StartRecord;
            }
            *self = bytes[cut.unwrap_or(0)..]
                .iter()
                .fold(*self, |s, &c| s.step(c, d));
            return cut;
        }
        let mut cut = None;
        for (i, &c) in bytes.iter().enumerate() {
            *self = self.step(c, d);
            if c == b'\n' && *self == Scan::StartRecord {
                cut = Some(i + 1);
            }
        }
        cut
    }

    /// How many bytes at the start of a file the CSV reader skips: those of a byte-order
    /// mark.
    fn skipped(bytes: &[u8]) -> usize {
        if bytes.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        }
    }

    /// The offset just past the last record of `bytes` that ends in them (with its line
    /// break): the records a reader of `bytes[..offset]` reads whole.
    fn records_end(bytes: &[u8], delimiter: Delimiter) -> usize {
        let Delimiter::Byte(d) = delimiter else {
            return bytes.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        };
        let mut state = Scan::StartRecord;
        let mut end = 0;
        for (i, &c) in bytes.iter().enumerate() {
            state = state.step(c, d);
            if state == Scan::StartRecord {
                end = i + 1;
            }
        }
        end
    }
}

/// The ratings read so far, with what the report needs.
#[derive(Debug)]
struct Table {
    ratings: Ratings,
    /// The line of every rating, to name the lines of a duplicate; u32 halves the memory and
    /// no file a browser can read has more lines.
    lines: Vec<u32>,
    header_line: Option<u64>,
    blank_lines: usize,
}

impl Table {
    /// Reads the records of `text`, whole records from line `first_line` of the file on.
    fn read(&mut self, text: &str, format: &Format, first_line: u64) -> Result<(), ParseError> {
        match format.delimiter {
            Delimiter::Byte(b) => {
                let mut sink = |line: u64, fields: &[&str]| self.record(format, line, fields);
                let malformed = |line, message| ParseError::Malformed { line, message };
                // Fields are read untrimmed: push_record and is_blank trim what they look at.
                let trim = csv::Trim::None;
                // csv_core drops a byte-order mark at the start of its input. Read whole, a
                // file loses one only at its start; a later piece starting with one keeps it
                // behind a line break the reader skips (the file's pieces start on a line).
                if first_line > 1 && text.starts_with('\u{feff}') {
                    let text = format!("\n{text}");
                    read_delimited_from(&text, b, first_line - 1, trim, &mut sink, malformed)?;
                } else {
                    read_delimited_from(text, b, first_line, trim, &mut sink, malformed)?;
                }
                // The CSV reader skips empty lines before the sink sees them: count lines.
                self.blank_lines += count_blank_lines(text, b);
            }
            d => {
                for (line, fields) in (first_line..).zip(text.lines()) {
                    let fields = split_fields(fields, d);
                    if is_blank(&fields) {
                        self.blank_lines += 1;
                    }
                    self.record(format, line, &fields)?;
                }
            }
        }
        Ok(())
    }

    /// Takes one record: skips it when blank, takes it as the header when it is the first
    /// and the format has one, else reads its rating.
    fn record(&mut self, format: &Format, line: u64, fields: &[&str]) -> Result<(), ParseError> {
        if is_blank(fields) {
            return Ok(());
        }
        if format.has_header && self.header_line.is_none() {
            self.header_line = Some(line);
            return Ok(());
        }
        push_record(&mut self.ratings, format, line, fields)?;
        self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
        Ok(())
    }

    /// The ratings, the last of each (user, item) pair, and the report.
    /// With `want_rated`, also the items each user rated, from the same grouping.
    fn finish(
        self,
        format: Format,
        want_rated: bool,
    ) -> Result<(Ratings, ParseReport, Option<RatedItems>), ParseError> {
        let Table {
            ratings,
            lines,
            header_line,
            blank_lines,
        } = self;
        if ratings.is_empty() {
            return Err(ParseError::NoRatings);
        }
        let lines_read = ratings.len();
        let (dups, rated) = if want_rated {
            let (dups, rated) = ratings.duplicates_and_rated();
            (dups, Some(rated))
        } else {
            (ratings.duplicates(), None)
        };
        let first_duplicate = dups.first_repeat.map(|(earlier, later)| {
            let (u, i) = (ratings.user_indices()[later], ratings.item_indices()[later]);
            DuplicateLine {
                line: lines[later].into(),
                earlier_line: lines[earlier].into(),
                user: ratings.users().id(u).to_owned(),
                item: ratings.items().id(i).to_owned(),
            }
        });
        drop(lines);
        let kept = ratings.without_rows(&dups.superseded);
        let report = ParseReport {
            format,
            header_line,
            lines_read,
            duplicates: dups.superseded.len(),
            first_duplicate,
            blank_lines,
        };
        Ok((kept, report, rated))
    }
}

/// A record that holds nothing: no field, or only empty ones.
fn is_blank(fields: &[&str]) -> bool {
    fields.iter().all(|f| f.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_ratings_bytes_with_report;

    #[test]
    fn finishing_with_the_rated_items_reads_the_same_and_groups_them() {
        let mut file = String::from("user,item,rating\n");
        for k in 0..3000 {
            file.push_str(&format!("u{},i{},{}\n", k % 37, (k * 7) % 53, k % 5 + 1));
        }
        let (mut a, mut b) = (RatingsStream::new(None), RatingsStream::new(None));
        for chunk in file.as_bytes().chunks(1000) {
            a.push(chunk).unwrap();
            b.push(chunk).unwrap();
        }
        let (ratings, report) = a.finish().unwrap();
        let (same, same_report, rated) = b.finish_with_rated().unwrap();
        assert!(report.duplicates > 0, "the file repeats pairs");
        assert_eq!(same_report, report);
        assert_eq!(same.user_indices(), ratings.user_indices());
        assert_eq!(same.item_indices(), ratings.item_indices());
        assert_eq!(same.values(), ratings.values());
        assert_eq!(rated.parts(), RatedItems::from_ratings(&ratings).parts());
    }

    #[test]
    fn expecting_the_file_size_makes_room_once_and_reads_the_same() {
        let mut file = String::from("user,item,rating\n");
        for k in 0..10_000 {
            file.push_str(&format!("u{},i{},{}\n", k % 97, k % 89, k % 5 + 1));
        }
        let bytes = file.as_bytes();
        let mut stream = RatingsStream::new(None);
        let mut plain = RatingsStream::new(None);
        for chunk in bytes.chunks(4096) {
            stream.push(chunk).unwrap();
            stream.expect_bytes(bytes.len() as u64);
            plain.push(chunk).unwrap();
        }
        let room = stream.table.ratings.capacity();
        assert!((10_000..=11_000).contains(&room), "room for {room} ratings");
        // Left to double, the columns end with room for 16,384.
        assert!(plain.table.ratings.capacity() > 15_000);
        let expected = parse_ratings_bytes_with_report(bytes).unwrap();
        let (ratings, report) = stream.finish().unwrap();
        assert_eq!(report, expected.1);
        assert_eq!(ratings.user_indices(), expected.0.user_indices());
        assert_eq!(ratings.item_indices(), expected.0.item_indices());
        assert_eq!(ratings.values(), expected.0.values());
    }
    use crate::parse::tests::ids;

    /// The ratings as (user id, item id, value) and the report, or the error.
    type Outcome = Result<(Vec<(String, String, f32)>, ParseReport), ParseError>;

    /// The result of feeding `bytes` cut at every place into two chunks, and into three
    /// around every pair of places, checked to be the same every time, then returned.
    fn cut_everywhere(bytes: &[u8]) -> Outcome {
        let run = |cuts: &[usize]| {
            let mut stream = RatingsStream::new(None);
            let mut from = 0;
            for &to in cuts.iter().chain([&bytes.len()]) {
                stream.push(&bytes[from..to])?;
                from = to;
            }
            stream.finish().map(|(r, report)| (ids(&r), report))
        };
        let whole = run(&[]);
        for i in 0..=bytes.len() {
            assert_eq!(run(&[i]), whole, "cut at {i}");
            for j in i..=bytes.len().min(i + 8) {
                assert_eq!(run(&[i, j]), whole, "cut at {i} and {j}");
            }
        }
        whole
    }

    fn rows(r: Outcome) -> Vec<(String, String, f32)> {
        r.unwrap().0
    }

    fn row(u: &str, i: &str, v: f32) -> (String, String, f32) {
        (u.into(), i.into(), v)
    }

    #[test]
    fn quoted_line_breaks_across_chunks() {
        let file = b"user,item,rating\n\"a\nb\",x,1\n\"c\r\n\",\"y\"\"\",2\n\nd,z,bad\n";
        assert_eq!(
            cut_everywhere(file),
            Err(ParseError::BadRating {
                line: 7,
                column: 3,
                value: "bad".into()
            })
        );
        let ok = cut_everywhere(&file[..file.len() - 8]).unwrap();
        assert_eq!(ok.0, vec![row("a\nb", "x", 1.0), row("c", "y\"", 2.0)]);
        assert_eq!((ok.1.header_line, ok.1.blank_lines), (Some(1), 1));
    }

    #[test]
    fn crlf_and_blank_lines_across_chunks() {
        assert_eq!(
            cut_everywhere(b"1,2,3\r\n\r\n \r\n4,5,x\r\n"),
            Err(ParseError::BadRating {
                line: 4,
                column: 3,
                value: "x".into()
            })
        );
        let (_, report) = cut_everywhere(b"\r\n1::2::3\r\n\r\n :: \r\n4::5::6").unwrap();
        assert_eq!((report.blank_lines, report.lines_read), (3, 2));
        assert_eq!(
            cut_everywhere(b"1::2::3\r\n , \r\n"),
            Err(ParseError::MissingFields {
                line: 2,
                expected: 3,
                found: 1
            }),
            "a line of `, ` is not blank in a `::` file"
        );
    }

    #[test]
    fn utf8_split_across_chunks() {
        assert_eq!(
            rows(cut_everywhere("\u{feff}é,🎬,3\n".as_bytes())),
            vec![row("é", "🎬", 3.0)]
        );
        assert_eq!(
            cut_everywhere(b"1,2,3\nab\xC3(,x,1\n"),
            Err(ParseError::InvalidUtf8 {
                line: 2,
                column: 3,
                byte: 0xC3
            })
        );
        // Cut short at the end of the file: the half character is the bad byte.
        assert_eq!(
            cut_everywhere(b"1,2,3\n4,5,\xF0\x9F"),
            Err(ParseError::InvalidUtf8 {
                line: 2,
                column: 5,
                byte: 0xF0
            })
        );
    }

    #[test]
    fn the_first_fault_in_the_file_is_reported() {
        // A NUL after a bad record: the record's fault comes first.
        assert_eq!(
            cut_everywhere(b"1,2,3\n1,2,x\n3,4,\0\n"),
            Err(ParseError::BadRating {
                line: 2,
                column: 3,
                value: "x".into()
            })
        );
        // A NUL or a bad byte inside the bad record: the record ends after it.
        assert_eq!(
            cut_everywhere(b"1,2,x\0\n"),
            Err(ParseError::BinaryData { line: 1, column: 6 })
        );
        assert_eq!(
            cut_everywhere(b"1,2,3\n4,5,\xffx\n"),
            Err(ParseError::InvalidUtf8 {
                line: 2,
                column: 5,
                byte: 0xFF
            })
        );
        // Before the first non-empty line no record can fail.
        assert_eq!(
            cut_everywhere(b"\n \n\0,1,2\n"),
            Err(ParseError::BinaryData { line: 3, column: 1 })
        );
    }

    #[test]
    fn byte_order_marks_across_chunks() {
        let mut utf16 = vec![0xFE, 0xFF];
        utf16.extend(
            "u\ti\tr\n\u{feff}a\tb\t4\n"
                .encode_utf16()
                .flat_map(u16::to_be_bytes),
        );
        assert_eq!(
            rows(cut_everywhere(&utf16)),
            vec![row("\u{feff}a", "b", 4.0)]
        );
        assert_eq!(
            rows(cut_everywhere(b"\xEF\xBB\xBF\xEF\xBB\xBF1,2,3\n")),
            vec![row("1", "2", 3.0)],
            "the CSV reader drops a second mark at the start"
        );
        assert_eq!(
            rows(cut_everywhere("1,2,3\n\u{feff}4,5,6\n".as_bytes()))[1],
            row("\u{feff}4", "5", 6.0),
            "one later in the file is part of the id"
        );
    }

    #[test]
    fn only_the_unfinished_tail_is_kept() {
        let mut stream = RatingsStream::new(None);
        let line = b"user-with-a-long-name,item-with-a-long-name,4.5\n";
        let mut file = b"\"user\",\"item\",\"rating\"\n".to_vec();
        for _ in 0..2000 {
            file.extend_from_slice(line);
        }
        for chunk in file.chunks(1000) {
            stream.push(chunk).unwrap();
            assert!(
                stream.pending.len() < line.len(),
                "{}",
                stream.pending.len()
            );
        }
        assert_eq!(stream.lines_read(), 2000);
        // A quote left open makes the rest one field: that much has to wait.
        stream.push(b"\"open,1,2\n").unwrap();
        let rest = line.repeat(100);
        for chunk in rest.chunks(1000) {
            stream.push(chunk).unwrap();
        }
        assert!(stream.pending.len() > rest.len());
        assert_eq!(stream.lines_read(), 2000);
    }

    #[test]
    fn a_failed_stream_keeps_failing() {
        let mut stream = RatingsStream::new(None);
        let err = stream.push(b"1,2,3\n4,5\n").unwrap_err();
        assert!(matches!(err, ParseError::MissingFields { line: 2, .. }));
        assert_eq!(stream.push(b"6,7,8\n"), Err(err.clone()));
        assert_eq!(stream.finish().unwrap_err(), err);
    }

    #[test]
    fn the_whole_file_functions_are_the_stream() {
        let file = b"\xEF\xBB\xBFuser;item;rating\na;x;3,5\n\nb;x;4\na;x;2\n";
        let (r, report) = parse_ratings_bytes_with_report(file).unwrap();
        let (s, stream_report) =
            RatingsStream::read_all(None, file, IdMap::new(), IdMap::new()).unwrap();
        assert_eq!(report, stream_report);
        assert_eq!(r.values(), s.values());
        assert_eq!(r.values(), &[4.0, 2.0]);
        assert_eq!((report.duplicates, report.blank_lines), (1, 1));
        let dup = report.first_duplicate.unwrap();
        assert_eq!((dup.line, dup.earlier_line), (5, 2));
    }
}
