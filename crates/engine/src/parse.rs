//! Reading ratings files: CSV, TSV (MovieLens `u.data`), `::`-separated (`ratings.dat`) or
//! whitespace-separated, with or without a header line.

use thiserror::Error;

use crate::ids::IdMap;
use crate::ratings::Ratings;

/// Why a ratings file could not be read. Lines and columns count from 1.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ParseError {
    /// No rating at all (an empty file, or a header alone).
    #[error("the file holds no ratings")]
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
    /// A rating that is NaN or infinite.
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
    /// A line the CSV reader could not decode (for example invalid UTF-8).
    #[error("line {line}: {message}")]
    Malformed {
        /// Line number.
        line: u64,
        /// What the reader said.
        message: String,
    },
}

/// How the fields of a line are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// A single byte: `,` `\t` `;` or `|` (quoted fields allowed).
    Byte(u8),
    /// `::`, as in MovieLens `ratings.dat`.
    DoubleColon,
    /// Runs of spaces.
    Whitespace,
}

/// What [`detect_format`] found out about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// The field separator.
    pub delimiter: Delimiter,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// Zero-based columns of user, item and rating.
    pub columns: Columns,
}

/// Zero-based positions of the fields the engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Parses a whole ratings file, detecting its format.
pub fn parse_ratings(text: &str) -> Result<Ratings, ParseError> {
    parse_ratings_with_maps(text, IdMap::new(), IdMap::new())
}

/// Parses a ratings file whose ids are resolved against existing maps, so that the indices of
/// a test file agree with those of the training file the maps came from.
pub fn parse_ratings_with_maps(
    text: &str,
    users: IdMap,
    items: IdMap,
) -> Result<Ratings, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = detect_format(text).ok_or(ParseError::NoRatings)?;
    let mut ratings = Ratings::with_maps(users, items);
    let mut sink = |line: u64, fields: &[&str]| -> Result<(), ParseError> {
        push_record(&mut ratings, &format.columns, line, fields)
    };
    match format.delimiter {
        Delimiter::Byte(b) => read_delimited(text, b, format.has_header, &mut sink)?,
        Delimiter::DoubleColon => read_lines(
            text,
            format.has_header,
            |l| l.split("::").collect(),
            &mut sink,
        )?,
        Delimiter::Whitespace => read_lines(
            text,
            format.has_header,
            |l| l.split_whitespace().collect(),
            &mut sink,
        )?,
    }
    if ratings.is_empty() {
        return Err(ParseError::NoRatings);
    }
    Ok(ratings)
}

/// Guesses the delimiter, the header and the column mapping from the first non-empty line.
/// Returns `None` for a file with no non-empty line.
pub fn detect_format(text: &str) -> Option<Format> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let delimiter = if first.contains("::") {
        Delimiter::DoubleColon
    } else if let Some(&b) = [b'\t', b',', b';', b'|']
        .iter()
        .find(|&&b| first.as_bytes().contains(&b))
    {
        Delimiter::Byte(b)
    } else {
        Delimiter::Whitespace
    };
    let fields: Vec<String> = match delimiter {
        Delimiter::DoubleColon => first.split("::").map(clean_field).collect(),
        Delimiter::Whitespace => first.split_whitespace().map(clean_field).collect(),
        Delimiter::Byte(b) => first.split(b as char).map(clean_field).collect(),
    };
    // A first line whose rating field is not a number can only be a header.
    let has_header = fields
        .get(Columns::POSITIONAL.rating)
        .is_none_or(|f| f.parse::<f64>().is_err());
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

fn clean_field(f: &str) -> String {
    f.trim().trim_matches('"').trim().to_owned()
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

fn push_record(
    ratings: &mut Ratings,
    columns: &Columns,
    line: u64,
    fields: &[&str],
) -> Result<(), ParseError> {
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
    let value: f32 = raw.parse().map_err(|_| ParseError::BadRating {
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

fn read_delimited(
    text: &str,
    delimiter: u8,
    has_header: bool,
    sink: &mut impl FnMut(u64, &[&str]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                let fields: Vec<&str> = record.iter().collect();
                if fields.iter().all(|f| f.is_empty()) {
                    continue;
                }
                sink(line, &fields)?;
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(ParseError::Malformed {
                    line,
                    message: e.to_string(),
                });
            }
        }
    }
}

fn read_lines<'t>(
    text: &'t str,
    has_header: bool,
    split: impl Fn(&'t str) -> Vec<&'t str>,
    sink: &mut impl FnMut(u64, &[&str]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut header_pending = has_header;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if header_pending {
            header_pending = false;
            continue;
        }
        sink(n as u64 + 1, &split(line))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: &Ratings) -> Vec<(String, String, f32)> {
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
