//! Reading item metadata files (titles and genres) into a [`Catalog`].
//!
//! Four layouts are recognised from the first non-empty line, without being told:
//!
//! | layout | example line | from |
//! |---|---|---|
//! | [`MetadataFormat::MovieLensItem`] | `1\|Toy Story (1995)\|01-Jan-1995\|\|http://…\|0\|0\|0\|1\|1\|1\|0…` | ml-100k `u.item`: 5 fields then 19 genre flags |
//! | [`MetadataFormat::MovieLensDat`] | `1::Toy Story (1995)::Animation\|Children's\|Comedy` | ml-1m / ml-10m `movies.dat` |
//! | [`MetadataFormat::Csv`] | `movieId,title,genres` then `1,Toy Story (1995),Adventure\|Animation` | ml-latest `movies.csv`, or any CSV / TSV with a header naming an id and a title column, and optionally genres and a type |
//!
//! Bytes are decoded as UTF-8 when they are UTF-8, as UTF-16 after a UTF-16 byte-order mark,
//! and otherwise as Latin-1 (ISO 8859-1), the encoding of the MovieLens 100K and 1M files:
//! every byte is a Latin-1 character, so decoding never fails.
//!
//! An item id listed twice keeps its last line; [`MetadataReport::duplicates`] counts the
//! others. Errors name their line, and their column (a field number) where there is one.

use std::borrow::Cow;

use thiserror::Error;

use crate::catalog::{Catalog, ItemInfo};
use crate::parse::{decode_utf16, line_and_column, read_delimited};

/// The 19 genres of MovieLens 100K, in the order of `u.item`'s flags (from `u.genre`).
pub const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Fields of a `u.item` line before its genre flags: id, title, release date, video release
/// date, IMDb URL.
const UITEM_FIXED: usize = 5;

/// The genre list MovieLens writes for a movie without genres.
const NO_GENRES: &str = "(no genres listed)";

/// Why a metadata file could not be read. Lines and columns count from 1; a column is a
/// field number, except in [`MetadataError::InvalidUtf16`] and
/// [`MetadataError::BinaryData`] where it counts characters.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MetadataError {
    /// No item at all (an empty file, or a header alone).
    #[error("the metadata file describes no item (it is empty, or has only a header line)")]
    NoItems,
    /// The first line fits none of the recognised layouts.
    #[error(
        "line {line}: not a recognised metadata layout; expected MovieLens u.item \
         (id|title|…|19 genre flags), movies.dat (id::title::genres) or a CSV whose header \
         names an id and a title column (e.g. \"id,title,genres\"), found \"{found}\""
    )]
    UnknownFormat {
        /// Line number of the first non-empty line.
        line: u64,
        /// The start of that line.
        found: String,
    },
    /// A line with too few fields.
    #[error("line {line}: expected at least {expected} fields, found {found}")]
    MissingFields {
        /// Line number.
        line: u64,
        /// Fields required.
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// An empty item id.
    #[error("line {line}, column {column}: the item id is empty")]
    EmptyId {
        /// Line number.
        line: u64,
        /// Column of the id.
        column: usize,
    },
    /// A `u.item` genre flag that is neither 0 nor 1.
    #[error("line {line}, column {column}: genre flag \"{value}\" is neither 0 nor 1")]
    BadGenreFlag {
        /// Line number.
        line: u64,
        /// Column of the flag.
        column: usize,
        /// The text found.
        value: String,
    },
    /// A line the CSV reader could not decode.
    #[error("line {line}: {message}")]
    Malformed {
        /// Line number.
        line: u64,
        /// What the reader said.
        message: String,
    },
    /// A file that starts with a UTF-16 byte-order mark but is not valid UTF-16.
    #[error("line {line}, column {column}: the file is marked as UTF-16 but is not valid UTF-16")]
    InvalidUtf16 {
        /// Line number.
        line: u64,
        /// Character position of the bad unit in its line.
        column: usize,
    },
    /// A NUL character: the file is binary, not text.
    #[error(
        "line {line}, column {column}: a NUL byte: this looks like a binary file, \
         not a text metadata file"
    )]
    BinaryData {
        /// Line number.
        line: u64,
        /// Character position of the NUL in its line.
        column: usize,
    },
}

/// The layout of a metadata file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataFormat {
    /// MovieLens 100K `u.item`: `id|title|release|video release|URL|` and 19 genre flags
    /// named by [`ML100K_GENRES`].
    MovieLensItem,
    /// MovieLens 1M / 10M `movies.dat`: `id::title::genres`, genres separated by `|`.
    MovieLensDat,
    /// A delimited file with a header: MovieLens `movies.csv` (`movieId,title,genres`) or
    /// any file whose header names an id and a title column, and optionally genres and a
    /// type. Genres are separated by `|` (or by `;` when the fields are not).
    Csv {
        /// The field separator: `,`, tab or `;`.
        delimiter: u8,
        /// Zero-based column of the item id.
        id: usize,
        /// Zero-based column of the title.
        title: usize,
        /// Zero-based column of the genres, if there is one.
        genres: Option<usize>,
        /// Zero-based column of the item type, if there is one.
        kind: Option<usize>,
    },
}

/// The text encoding a metadata file was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (with or without a byte-order mark).
    Utf8,
    /// UTF-16 (little or big endian), announced by its byte-order mark.
    Utf16,
    /// Latin-1 (ISO 8859-1), the fallback for bytes that are not UTF-8.
    Latin1,
}

/// What reading a metadata file did besides filling the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataReport {
    /// The layout detected.
    pub format: MetadataFormat,
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// Item lines read, duplicates included.
    pub lines_read: usize,
    /// Lines dropped because a later line described the same item id: the last wins.
    pub duplicates: usize,
}

/// Reads a metadata file's bytes into a catalog keyed by item id, detecting the layout and
/// the encoding.
pub fn parse_metadata(bytes: &[u8]) -> Result<Catalog, MetadataError> {
    parse_metadata_with_report(bytes).map(|(c, _)| c)
}

/// As [`parse_metadata`], with the [`MetadataReport`].
pub fn parse_metadata_with_report(
    bytes: &[u8],
) -> Result<(Catalog, MetadataReport), MetadataError> {
    let (text, encoding) = decode(bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if let Some(at) = text.find('\0') {
        let (line, column) = line_and_column(&text[..at]);
        return Err(MetadataError::BinaryData { line, column });
    }
    let format = detect_metadata_format(text)?;
    let mut catalog = Catalog::default();
    let mut lines_read = 0;
    let mut header_pending = matches!(format, MetadataFormat::Csv { .. });
    let mut sink = |line: u64, fields: &[&str]| -> Result<(), MetadataError> {
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(());
        }
        if header_pending {
            header_pending = false;
            return Ok(());
        }
        let (id, info, kind) = item_of_line(&format, line, fields)?;
        if let Some(kind) = kind {
            catalog.set_kind(id, kind);
        }
        catalog.insert(id, info);
        lines_read += 1;
        Ok(())
    };
    match format {
        MetadataFormat::MovieLensItem => {
            for (n, line) in text.lines().enumerate() {
                let fields: Vec<&str> = line.split('|').collect();
                sink(n as u64 + 1, &fields)?;
            }
        }
        MetadataFormat::MovieLensDat => {
            for (n, line) in text.lines().enumerate() {
                let fields: Vec<&str> = line.split("::").collect();
                sink(n as u64 + 1, &fields)?;
            }
        }
        MetadataFormat::Csv { delimiter, .. } => {
            read_delimited(text, delimiter, &mut sink, |line, message| {
                MetadataError::Malformed { line, message }
            })?;
        }
    }
    if catalog.is_empty() {
        return Err(MetadataError::NoItems);
    }
    let report = MetadataReport {
        format,
        encoding,
        lines_read,
        duplicates: lines_read - catalog.len(),
    };
    Ok((catalog, report))
}

/// The layout of a metadata text, from its first non-empty line.
pub fn detect_metadata_format(text: &str) -> Result<MetadataFormat, MetadataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some((n, first)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) else {
        return Err(MetadataError::NoItems);
    };
    let line = n as u64 + 1;
    let pipes: Vec<&str> = first.split('|').collect();
    if pipes.len() == UITEM_FIXED + ML100K_GENRES.len()
        && pipes[UITEM_FIXED..]
            .iter()
            .all(|f| matches!(f.trim(), "0" | "1"))
    {
        return Ok(MetadataFormat::MovieLensItem);
    }
    if first.split("::").count() >= 3 {
        return Ok(MetadataFormat::MovieLensDat);
    }
    for delimiter in [b'\t', b',', b';'] {
        if !first.as_bytes().contains(&delimiter) {
            continue;
        }
        let names = crate::parse::split_quoted(first.trim(), delimiter);
        if let Some(format) = csv_columns(&names, delimiter) {
            return Ok(format);
        }
    }
    Err(MetadataError::UnknownFormat {
        line,
        found: first.trim().chars().take(80).collect(),
    })
}

/// The columns a header names, if it names an id and a title.
fn csv_columns(names: &[String], delimiter: u8) -> Option<MetadataFormat> {
    let norm: Vec<String> = names
        .iter()
        .map(|n| {
            n.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .collect();
    let find = |keys: &[&str]| norm.iter().position(|n| keys.contains(&n.as_str()));
    let id = find(&[
        "id",
        "itemid",
        "movieid",
        "bookid",
        "productid",
        "trackid",
        "songid",
        "item",
        "movie",
        "book",
        "product",
        "isbn",
        "asin",
    ])?;
    let title = find(&["title", "name", "itemname", "moviename", "booktitle"])?;
    let genres = find(&["genres", "genre", "categories", "category", "tags"]);
    let kind = find(&["type", "kind", "itemtype"]);
    let distinct = [Some(id), Some(title), genres, kind];
    for (a, x) in distinct.iter().enumerate() {
        if x.is_some() && distinct[a + 1..].contains(x) {
            return None;
        }
    }
    Some(MetadataFormat::Csv {
        delimiter,
        id,
        title,
        genres,
        kind,
    })
}

/// The item of one line: its id, its information and its type, if any.
fn item_of_line<'f>(
    format: &MetadataFormat,
    line: u64,
    fields: &[&'f str],
) -> Result<(&'f str, ItemInfo, Option<&'f str>), MetadataError> {
    let need = |expected: usize| {
        if fields.len() < expected {
            Err(MetadataError::MissingFields {
                line,
                expected,
                found: fields.len(),
            })
        } else {
            Ok(())
        }
    };
    let id_at = |k: usize| {
        let id = fields[k].trim();
        if id.is_empty() {
            Err(MetadataError::EmptyId {
                line,
                column: k + 1,
            })
        } else {
            Ok(id)
        }
    };
    match *format {
        MetadataFormat::MovieLensItem => {
            need(UITEM_FIXED + ML100K_GENRES.len())?;
            let id = id_at(0)?;
            let mut categories = Vec::new();
            for (k, (flag, genre)) in fields[UITEM_FIXED..].iter().zip(ML100K_GENRES).enumerate() {
                match flag.trim() {
                    "0" => {}
                    "1" => categories.push(genre.to_owned()),
                    other => {
                        return Err(MetadataError::BadGenreFlag {
                            line,
                            column: UITEM_FIXED + k + 1,
                            value: other.to_owned(),
                        })
                    }
                }
            }
            let title = fields[1].trim().to_owned();
            Ok((id, ItemInfo { title, categories }, None))
        }
        MetadataFormat::MovieLensDat => {
            need(2)?;
            let id = id_at(0)?;
            // A title holding "::" would split; the genres are the last field when there
            // are at least three, and the title is everything between.
            let (title, genres) = if fields.len() >= 3 {
                (
                    fields[1..fields.len() - 1].join("::"),
                    fields[fields.len() - 1],
                )
            } else {
                (fields[1].to_owned(), "")
            };
            let info = ItemInfo {
                title: title.trim().to_owned(),
                categories: split_genres(genres, b':'),
            };
            Ok((id, info, None))
        }
        MetadataFormat::Csv {
            delimiter,
            id,
            title,
            genres,
            kind,
        } => {
            need(id.max(title) + 1)?;
            let item = id_at(id)?;
            let genres = genres
                .and_then(|k| fields.get(k))
                .map_or_else(Vec::new, |g| split_genres(g, delimiter));
            let kind = kind
                .and_then(|k| fields.get(k))
                .map(|k| k.trim())
                .filter(|k| !k.is_empty());
            let info = ItemInfo {
                title: fields[title].trim().to_owned(),
                categories: genres,
            };
            Ok((item, info, kind))
        }
    }
}

/// Genres separated by `|`, or by `;` when the fields are not (a `|` anywhere wins).
fn split_genres(raw: &str, delimiter: u8) -> Vec<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == NO_GENRES {
        return Vec::new();
    }
    let sep = if raw.contains('|') || delimiter == b';' {
        '|'
    } else {
        ';'
    };
    raw.split(sep)
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The text of the bytes and how it was decoded.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, TextEncoding), MetadataError> {
    if let Some(utf16) = decode_utf16(bytes) {
        return utf16
            .map(|t| (Cow::Owned(t), TextEncoding::Utf16))
            .map_err(|e| MetadataError::InvalidUtf16 {
                line: e.line,
                column: e.column,
            });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((Cow::Borrowed(text), TextEncoding::Utf8)),
        // Latin-1 maps byte b to the character U+00b, so every byte sequence decodes.
        Err(_) => Ok((
            Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            TextEncoding::Latin1,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(title: &str, categories: &[&str]) -> ItemInfo {
        ItemInfo {
            title: title.into(),
            categories: categories.iter().map(|&c| c.to_owned()).collect(),
        }
    }

    #[test]
    fn reads_movielens_movies_csv_with_quoted_titles() {
        let text = "movieId,title,genres\n\
            1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n\
            11,\"American President, The (1995)\",Comedy|Drama|Romance\n\
            182727,\"Quote \"\"Me\"\" (2018)\",(no genres listed)\n";
        let (c, report) = parse_metadata_with_report(text.as_bytes()).unwrap();
        assert_eq!(
            report.format,
            MetadataFormat::Csv {
                delimiter: b',',
                id: 0,
                title: 1,
                genres: Some(2),
                kind: None
            }
        );
        assert_eq!((report.lines_read, report.duplicates), (3, 0));
        assert_eq!(
            c.get("11"),
            Some(&info(
                "American President, The (1995)",
                &["Comedy", "Drama", "Romance"]
            ))
        );
        assert_eq!(c.get("182727"), Some(&info("Quote \"Me\" (2018)", &[])));
        assert_eq!(c.get("1").unwrap().categories.len(), 5);
    }

    /// Two `u.item` lines, the second with the Latin-1 byte 0xE9 (é).
    fn u_item() -> Vec<u8> {
        let mut b = b"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n".to_vec();
        b.extend_from_slice(b"543|Mis\xe9rables, Les (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|1|0|0|0|0|0|0\n");
        b
    }

    #[test]
    fn reads_u_item_in_latin_1_with_named_genres() {
        let (c, report) = parse_metadata_with_report(&u_item()).unwrap();
        assert_eq!(report.format, MetadataFormat::MovieLensItem);
        assert_eq!(report.encoding, TextEncoding::Latin1);
        assert_eq!(
            c.get("1"),
            Some(&info(
                "Toy Story (1995)",
                &["Animation", "Children's", "Comedy"]
            ))
        );
        assert_eq!(
            c.get("543"),
            Some(&info("Misérables, Les (1995)", &["Drama", "Musical"]))
        );
    }

    #[test]
    fn a_bad_u_item_flag_names_its_column() {
        let text = String::from_utf8_lossy(&u_item()).replace("|1|0|0|0|1|", "|1|0|x|0|1|");
        let bytes = text.as_bytes().to_vec();
        let err = parse_metadata(&bytes).unwrap_err();
        assert_eq!(
            err,
            MetadataError::BadGenreFlag {
                line: 2,
                column: 16,
                value: "x".into()
            }
        );
        let short = b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n2|Heat|0\n";
        assert_eq!(
            parse_metadata(short).unwrap_err(),
            MetadataError::MissingFields {
                line: 2,
                expected: 24,
                found: 3
            }
        );
    }

    #[test]
    fn reads_movies_dat() {
        let text = b"1::Toy Story (1995)::Animation|Children's|Comedy\r\n\
            2::Jumanji (1995)::Adventure|Children's|Fantasy\r\n\
            3::Grumpier Old Men (1995)::Comedy|Romance\r\n";
        let (c, report) = parse_metadata_with_report(text).unwrap();
        assert_eq!(report.format, MetadataFormat::MovieLensDat);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.get("2"),
            Some(&info(
                "Jumanji (1995)",
                &["Adventure", "Children's", "Fantasy"]
            ))
        );
    }

    #[test]
    fn reads_a_generic_file_with_a_type_in_any_column_order() {
        let text = "Type\tName\tCategories\tItem ID\n\
            book\tDune\tSci-Fi;Classic\tb1\n\
            movie\tHeat\t\tm1\n\
            \tNo type\tDrama\tx1\n\
            movie\tHeat (1995)\tCrime|Drama\tm1\n";
        let (c, report) = parse_metadata_with_report(text.as_bytes()).unwrap();
        assert_eq!((report.lines_read, report.duplicates), (4, 1));
        assert_eq!(c.get("b1"), Some(&info("Dune", &["Sci-Fi", "Classic"])));
        assert_eq!(c.kind("b1"), Some("book"));
        assert_eq!(
            c.get("m1"),
            Some(&info("Heat (1995)", &["Crime", "Drama"])),
            "the last line of an id wins"
        );
        assert_eq!(c.kind("x1"), None);
    }

    #[test]
    fn unknown_layouts_and_bad_lines_are_errors_with_lines() {
        assert_eq!(parse_metadata(b""), Err(MetadataError::NoItems));
        assert_eq!(
            parse_metadata(b"movieId,title,genres\n"),
            Err(MetadataError::NoItems)
        );
        assert!(matches!(
            parse_metadata(b"\nfoo,bar\n1,2\n"),
            Err(MetadataError::UnknownFormat { line: 2, .. })
        ));
        assert_eq!(
            parse_metadata(b"id,title\n1,A\n\n,B\n"),
            Err(MetadataError::EmptyId { line: 4, column: 1 })
        );
        assert_eq!(
            parse_metadata(b"id,title\r\n1,A\r\n2\r\n"),
            Err(MetadataError::MissingFields {
                line: 3,
                expected: 2,
                found: 1
            })
        );
        assert!(matches!(
            parse_metadata(b"id,title\n1,\0\n"),
            Err(MetadataError::BinaryData { line: 2, column: 3 })
        ));
    }

    #[test]
    fn utf8_with_bom_and_utf16_are_decoded() {
        let text = "\u{feff}id,title\n7,Amélie 🎬\n";
        let (c, report) = parse_metadata_with_report(text.as_bytes()).unwrap();
        assert_eq!(report.encoding, TextEncoding::Utf8);
        assert_eq!(c.get("7").unwrap().title, "Amélie 🎬");
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "id,title\n7,Amélie 🎬\n".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (c, report) = parse_metadata_with_report(&utf16).unwrap();
        assert_eq!(report.encoding, TextEncoding::Utf16);
        assert_eq!(c.get("7").unwrap().title, "Amélie 🎬");
    }

    #[test]
    fn reads_the_real_u_item_when_present() {
        let path = std::path::Path::new("/work/shared/data/ml-100k/u.item");
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("SKIPPED: {} is missing", path.display());
            return;
        };
        let (c, report) = parse_metadata_with_report(&bytes).unwrap();
        assert_eq!(report.format, MetadataFormat::MovieLensItem);
        assert_eq!(report.encoding, TextEncoding::Latin1);
        assert_eq!(c.len(), 1682);
        assert_eq!(
            c.get("1"),
            Some(&info(
                "Toy Story (1995)",
                &["Animation", "Children's", "Comedy"]
            ))
        );
        assert_eq!(c.get("543").unwrap().title, "Misérables, Les (1995)");
    }
}
