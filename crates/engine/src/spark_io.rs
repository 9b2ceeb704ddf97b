//! Exchanging ALS factors with Apache Spark, in the layout Spark writes them.
//!
//! `model.userFactors.write.json(DIR)` writes a directory of JSON-lines part files
//! (`part-00000-….json`), one row per user: `{"id": 42, "features": [0.1, -0.3]}`. The
//! same goes for items. [`read_factors`] reads such a directory (or CSV part files, or one
//! file), [`read_id_mapping`] the `{"id": "ann", "index": 0}` rows that the script of
//! [`crate::spark_script`] writes when the ids of a file are not integers, and [`import`]
//! makes an [`AlsModel`] of them, which predicts `u·v` as Spark does (no biases).
//!
//! [`export`] writes a model the other way, so that `spark.read.json(DIR)` loads it: the
//! integer ids as they are, other ids as dense indices with their mapping.
//!
//! The engine has no JSON dependency, so a small reader of plain JSON values lives here;
//! numbers keep their text so that features parse straight to `f32`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::als::{AlsModel, ModelPartsError};
use crate::ids::IdMap;
use crate::model_io::ModelFile;

/// What is wrong with one row of a factors or id-mapping file.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum RowProblem {
    /// The line is not one JSON value.
    #[error("invalid JSON at column {column}: {what}")]
    Json {
        /// 1-based byte column.
        column: usize,
        /// What the reader expected.
        what: &'static str,
    },
    /// The line is valid JSON but not an object.
    #[error("expected a JSON object")]
    NotAnObject,
    /// A field the row needs is absent (or null).
    #[error("no \"{0}\" field")]
    MissingField(&'static str),
    /// An id or index that is not an integer.
    #[error("{field} {value:?} is not an integer")]
    NotAnInteger {
        /// `"id"` or `"index"`.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// A `features` value that is not an array of numbers.
    #[error("\"features\" is not an array of numbers")]
    FeaturesNotAnArray,
    /// A feature that is not a finite number.
    #[error("feature {index} is not a finite number: {value:?}")]
    BadFeature {
        /// 0-based position in the features.
        index: usize,
        /// The text found.
        value: String,
    },
    /// A row without features.
    #[error("the row has no features")]
    NoFeatures,
    /// A row with another number of features than the rows before it.
    #[error("{found} features, but the rows before have {expected}")]
    RankMismatch {
        /// The rank set by the first row.
        expected: usize,
        /// Features in this row.
        found: usize,
    },
    /// A mapping row whose `id` is not a string or number.
    #[error("\"id\" is not a string or a number")]
    BadMappedId,
    /// A CSV line the CSV reader could not decode.
    #[error("{0}")]
    Csv(String),
}

/// Why Spark factors could not be read, imported or written; each names the file (and
/// line, counted from 1) at fault.
#[derive(Debug, Error)]
pub enum SparkIoError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A directory without `part-*.json` or `part-*.csv` files.
    #[error("{path}: no part files (part-*.json or part-*.csv; compressed parts are not read)")]
    NoParts {
        /// The directory.
        path: PathBuf,
    },
    /// The part files hold no row at all.
    #[error("{path}: no rows")]
    Empty {
        /// The file or directory.
        path: PathBuf,
    },
    /// One bad row.
    #[error("{path}, line {line}: {problem}")]
    Row {
        /// The part file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// What is wrong.
        problem: RowProblem,
    },
    /// An id (or a mapping index) found twice.
    #[error("{path}, line {line}: {what} {value} appears twice")]
    Duplicate {
        /// The part file of the second occurrence.
        path: PathBuf,
        /// Its line.
        line: u64,
        /// `"id"` or `"index"`.
        what: &'static str,
        /// The repeated value.
        value: String,
    },
    /// A mapping whose indices are not exactly `0..n`.
    #[error("{path}: the indices are not 0..{n} (index {missing} is missing)")]
    SparseMapping {
        /// The mapping directory.
        path: PathBuf,
        /// Number of rows.
        n: usize,
        /// The first index absent.
        missing: usize,
    },
    /// A factor row whose id the mapping does not hold.
    #[error("{side} factors: id {id} has no row in the id mapping {mapping} (indices 0..{n})")]
    Unmapped {
        /// `"user"` or `"item"`.
        side: &'static str,
        /// The Spark id.
        id: i64,
        /// The mapping directory.
        mapping: PathBuf,
        /// The mapping's size.
        n: usize,
    },
    /// User and item factors of different ranks.
    #[error("the user factors have rank {user} but the item factors rank {item}")]
    RankDiffers {
        /// Rank of the user factors.
        user: usize,
        /// Rank of the item factors.
        item: usize,
    },
    /// The parts do not make a model.
    #[error(transparent)]
    Parts(#[from] ModelPartsError),
    /// A model with biases, which Spark's factors cannot carry.
    #[error("the model has a global mean and user and item biases, which Spark's ALS factors cannot hold; refit it without biases")]
    HasBiases,
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One side's factors as Spark wrote them, sorted by id.
#[derive(Clone, Debug, PartialEq)]
pub struct SparkFactors {
    /// Number of features per row.
    pub rank: usize,
    /// Spark's integer ids, ascending.
    pub ids: Vec<i64>,
    /// `rank` features per id, row by row in the order of `ids`.
    pub features: Vec<f32>,
}

impl SparkFactors {
    /// The features of the `k`-th row.
    pub fn row(&self, k: usize) -> &[f32] {
        &self.features[k * self.rank..(k + 1) * self.rank]
    }
}

/// A model imported from Spark with its id maps: user (item) index `k` of `model` has the id
/// `users.id(k)` (`items.id(k)`).
#[derive(Clone, Debug)]
pub struct ImportedModel {
    /// The model; it predicts the plain dot product `u·v`, as Spark does.
    pub model: AlsModel,
    /// User ids by index.
    pub users: IdMap,
    /// Item ids by index.
    pub items: IdMap,
}

/// Reads one side's factors: a directory of Spark part files (`part-*.json`, JSON lines
/// `{"id": int, "features": [float, ...]}`; or `part-*.csv`, lines `id,f1,...,fr` with an
/// optional header, or `id,"[f1,...,fr]"`), or a single such file.
pub fn read_factors(path: &Path) -> Result<SparkFactors, SparkIoError> {
    let mut rows: BTreeMap<i64, (Vec<f32>, PathBuf, u64)> = BTreeMap::new();
    let mut rank = None;
    for part in part_files(path)? {
        let text = read_text(&part)?;
        let csv = is_csv(&part);
        let mut sink = |line: u64, id: i64, features: Vec<f32>| {
            let row_err = |problem| SparkIoError::Row {
                path: part.clone(),
                line,
                problem,
            };
            if features.is_empty() {
                return Err(row_err(RowProblem::NoFeatures));
            }
            let expected = *rank.get_or_insert(features.len());
            if features.len() != expected {
                return Err(row_err(RowProblem::RankMismatch {
                    expected,
                    found: features.len(),
                }));
            }
            if rows.insert(id, (features, part.clone(), line)).is_some() {
                return Err(SparkIoError::Duplicate {
                    path: part.clone(),
                    line,
                    what: "id",
                    value: id.to_string(),
                });
            }
            Ok(())
        };
        if csv {
            read_csv_factors(&part, &text, &mut sink)?;
        } else {
            for (line, row) in json_lines(&part, &text) {
                let row = row?;
                let fields = object(&part, line, row)?;
                let id = integer_field(&part, line, &fields, "id")?;
                let features = features_field(&part, line, &fields)?;
                sink(line, id, features)?;
            }
        }
    }
    let Some(rank) = rank else {
        return Err(SparkIoError::Empty {
            path: path.to_owned(),
        });
    };
    let mut ids = Vec::with_capacity(rows.len());
    let mut features = Vec::with_capacity(rows.len() * rank);
    for (id, (f, _, _)) in rows {
        ids.push(id);
        features.extend_from_slice(&f);
    }
    Ok(SparkFactors {
        rank,
        ids,
        features,
    })
}

/// Reads an id mapping (JSON lines `{"id": "ann", "index": 0}`, as the generated Spark
/// script writes to `DIR/userIds` and `DIR/itemIds`): the original id of each index
/// `0..n`, which must each appear exactly once.
pub fn read_id_mapping(path: &Path) -> Result<Vec<String>, SparkIoError> {
    let mut by_index: HashMap<i64, String> = HashMap::new();
    for part in part_files(path)? {
        let text = read_text(&part)?;
        for (line, row) in json_lines(&part, &text) {
            let fields = object(&part, line, row?)?;
            let index = integer_field(&part, line, &fields, "index")?;
            let id = match fields.get("id") {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Number(n)) => n.clone(),
                None | Some(Json::Null) => {
                    return Err(row_error(&part, line, RowProblem::MissingField("id")))
                }
                Some(_) => return Err(row_error(&part, line, RowProblem::BadMappedId)),
            };
            if by_index.insert(index, id).is_some() {
                return Err(SparkIoError::Duplicate {
                    path: part.clone(),
                    line,
                    what: "index",
                    value: index.to_string(),
                });
            }
        }
    }
    if by_index.is_empty() {
        return Err(SparkIoError::Empty {
            path: path.to_owned(),
        });
    }
    let n = by_index.len();
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        match by_index.remove(&(k as i64)) {
            Some(id) => ids.push(id),
            None => {
                return Err(SparkIoError::SparseMapping {
                    path: path.to_owned(),
                    n,
                    missing: k,
                })
            }
        }
    }
    Ok(ids)
}

/// Where the parts of a Spark model are: the factor directories, and for a side whose ids
/// were mapped to integers, the mapping directory.
#[derive(Clone, Debug)]
pub struct SparkPaths<'a> {
    /// `DIR/userFactors`.
    pub user_factors: &'a Path,
    /// `DIR/itemFactors`.
    pub item_factors: &'a Path,
    /// `DIR/userIds`, when the user ids were mapped.
    pub user_ids: Option<&'a Path>,
    /// `DIR/itemIds`, when the item ids were mapped.
    pub item_ids: Option<&'a Path>,
}

/// Reads a Spark model's factors (and id mappings) into a model with its id maps.
///
/// Without a mapping, a side's ids are Spark's integer ids (as text), in ascending order.
/// With one, index `k` is the mapping's `k`-th id, and the rows the factors lack (ids seen
/// only in test data) are cold.
pub fn import(paths: &SparkPaths<'_>) -> Result<ImportedModel, SparkIoError> {
    let users = read_factors(paths.user_factors)?;
    let items = read_factors(paths.item_factors)?;
    let user_ids = paths.user_ids.map(read_id_mapping).transpose()?;
    let item_ids = paths.item_ids.map(read_id_mapping).transpose()?;
    let u = side("user", &users, user_ids, paths.user_ids)?;
    let i = side("item", &items, item_ids, paths.item_ids)?;
    if users.rank != items.rank {
        return Err(SparkIoError::RankDiffers {
            user: users.rank,
            item: items.rank,
        });
    }
    let model = AlsModel::from_parts(users.rank, u.features, i.features, u.fitted, i.fitted, None)?;
    Ok(ImportedModel {
        model,
        users: IdMap::from(u.ids),
        items: IdMap::from(i.ids),
    })
}

/// One side's ids, factors and fitted flags, in model order.
struct Side {
    ids: Vec<String>,
    features: Vec<f32>,
    fitted: Vec<bool>,
}

/// The [`Side`] of one side's factors and optional mapping.
fn side(
    name: &'static str,
    factors: &SparkFactors,
    mapping: Option<Vec<String>>,
    mapping_path: Option<&Path>,
) -> Result<Side, SparkIoError> {
    let rank = factors.rank;
    let Some(ids) = mapping else {
        return Ok(Side {
            ids: factors.ids.iter().map(i64::to_string).collect(),
            features: factors.features.clone(),
            fitted: vec![true; factors.ids.len()],
        });
    };
    let n = ids.len();
    let mut features = vec![0f32; n * rank];
    let mut fitted = vec![false; n];
    for (k, &id) in factors.ids.iter().enumerate() {
        let Some(row) = usize::try_from(id).ok().filter(|&r| r < n) else {
            return Err(SparkIoError::Unmapped {
                side: name,
                id,
                mapping: mapping_path.map(Path::to_owned).unwrap_or_default(),
                n,
            });
        };
        features[row * rank..(row + 1) * rank].copy_from_slice(factors.row(k));
        fitted[row] = true;
    }
    Ok(Side {
        ids,
        features,
        fitted,
    })
}

/// What [`export`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Users with factors written.
    pub n_users: usize,
    /// Items with factors written.
    pub n_items: usize,
    /// Whether the user ids were mapped to indices (and `userIds` written).
    pub users_mapped: bool,
    /// Whether the item ids were mapped to indices (and `itemIds` written).
    pub items_mapped: bool,
}

/// Writes a model as Spark writes its factors, so that `spark.read.json(DIR/userFactors)`
/// reads it: `DIR/userFactors` and `DIR/itemFactors` (JSON lines `{"id", "features"}` of the
/// fitted rows, in `part-00000.json`). A side whose ids are not all 32-bit integers written
/// plainly (`"42"`, not `"042"`) gets its indices as ids and its mapping in `DIR/userIds`
/// or `DIR/itemIds` (`{"id": str, "index": int}`), as the generated script does.
///
/// Refused: a model with biases (Spark's factors cannot hold them).
pub fn export(file: &ModelFile, dir: &Path) -> Result<ExportSummary, SparkIoError> {
    if file.biases.is_some() {
        return Err(SparkIoError::HasBiases);
    }
    let mut summary = ExportSummary {
        n_users: 0,
        n_items: 0,
        users_mapped: false,
        items_mapped: false,
    };
    for (ids, fitted, factors, name, map_name, count, mapped) in [
        (
            &file.user_ids,
            &file.user_fitted,
            &file.user_factors,
            "userFactors",
            "userIds",
            &mut summary.n_users,
            &mut summary.users_mapped,
        ),
        (
            &file.item_ids,
            &file.item_fitted,
            &file.item_factors,
            "itemFactors",
            "itemIds",
            &mut summary.n_items,
            &mut summary.items_mapped,
        ),
    ] {
        let spark_ids: Option<Vec<i64>> = ids.iter().map(|id| spark_int_id(id)).collect();
        *mapped = spark_ids.is_none();
        let spark_ids = spark_ids.unwrap_or_else(|| (0..ids.len() as i64).collect());
        let mut text = String::new();
        for (k, &id) in spark_ids.iter().enumerate() {
            if !fitted[k] {
                continue;
            }
            *count += 1;
            let _ = write!(text, "{{\"id\":{id},\"features\":[");
            for (j, v) in factors[k * file.rank..(k + 1) * file.rank]
                .iter()
                .enumerate()
            {
                // Debug keeps a decimal point ("1.0"), so Spark infers doubles, not longs.
                let _ = write!(text, "{}{v:?}", if j > 0 { "," } else { "" });
            }
            text.push_str("]}\n");
        }
        write_part_dir(&dir.join(name), &text)?;
        if *mapped {
            let mut text = String::new();
            for (k, id) in ids.iter().enumerate() {
                text.push_str("{\"id\":");
                push_json_string(&mut text, id);
                let _ = writeln!(text, ",\"index\":{k}}}");
            }
            write_part_dir(&dir.join(map_name), &text)?;
        }
    }
    Ok(summary)
}

/// The id as Spark's integer id, when it is a 32-bit integer written plainly (so that
/// writing the integer back gives the same text).
pub fn spark_int_id(id: &str) -> Option<i64> {
    let v: i32 = id.parse().ok()?;
    (v.to_string() == id).then_some(v as i64)
}

fn write_part_dir(dir: &Path, text: &str) -> Result<(), SparkIoError> {
    let write_err = |path: PathBuf| move |source| SparkIoError::Write { path, source };
    std::fs::create_dir_all(dir).map_err(write_err(dir.to_owned()))?;
    let part = dir.join("part-00000.json");
    std::fs::write(&part, text).map_err(write_err(part))?;
    // Spark marks a finished output with an empty _SUCCESS file; readers ignore it.
    let success = dir.join("_SUCCESS");
    std::fs::write(&success, "").map_err(write_err(success))
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The part files of a Spark output directory, by name; or the path itself when it is a
/// file. Hidden files (`.part-….crc`) and markers (`_SUCCESS`) are skipped.
fn part_files(path: &Path) -> Result<Vec<PathBuf>, SparkIoError> {
    let read_err = |source| SparkIoError::Read {
        path: path.to_owned(),
        source,
    };
    if !std::fs::metadata(path).map_err(read_err)?.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("part-") && (name.ends_with(".json") || name.ends_with(".csv")) {
            parts.push(entry.path());
        }
    }
    if parts.is_empty() {
        return Err(SparkIoError::NoParts {
            path: path.to_owned(),
        });
    }
    parts.sort();
    Ok(parts)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn read_text(path: &Path) -> Result<String, SparkIoError> {
    let bytes = std::fs::read(path).map_err(|source| SparkIoError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn row_error(path: &Path, line: u64, problem: RowProblem) -> SparkIoError {
    SparkIoError::Row {
        path: path.to_owned(),
        line,
        problem,
    }
}

/// The non-blank lines of a JSON-lines file, parsed, with their line numbers.
fn json_lines<'a>(
    path: &'a Path,
    text: &'a str,
) -> impl Iterator<Item = (u64, Result<Json, SparkIoError>)> + 'a {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(k, l)| {
            let line = k as u64 + 1;
            (
                line,
                Json::parse(l.trim_start_matches('\u{feff}'))
                    .map_err(|problem| row_error(path, line, problem)),
            )
        })
}

fn object(path: &Path, line: u64, value: Json) -> Result<HashMap<String, Json>, SparkIoError> {
    match value {
        Json::Object(fields) => Ok(fields.into_iter().collect()),
        _ => Err(row_error(path, line, RowProblem::NotAnObject)),
    }
}

fn integer_field(
    path: &Path,
    line: u64,
    fields: &HashMap<String, Json>,
    name: &'static str,
) -> Result<i64, SparkIoError> {
    match fields.get(name) {
        None | Some(Json::Null) => Err(row_error(path, line, RowProblem::MissingField(name))),
        Some(Json::Number(text)) => text.parse().map_err(|_| {
            row_error(
                path,
                line,
                RowProblem::NotAnInteger {
                    field: name,
                    value: text.clone(),
                },
            )
        }),
        Some(other) => Err(row_error(
            path,
            line,
            RowProblem::NotAnInteger {
                field: name,
                value: other.describe(),
            },
        )),
    }
}

fn features_field(
    path: &Path,
    line: u64,
    fields: &HashMap<String, Json>,
) -> Result<Vec<f32>, SparkIoError> {
    let values = match fields.get("features") {
        None | Some(Json::Null) => {
            return Err(row_error(path, line, RowProblem::MissingField("features")))
        }
        Some(Json::Array(values)) => values,
        Some(_) => return Err(row_error(path, line, RowProblem::FeaturesNotAnArray)),
    };
    values
        .iter()
        .enumerate()
        .map(|(index, v)| match v {
            Json::Number(text) => parse_feature(text).ok_or_else(|| {
                row_error(
                    path,
                    line,
                    RowProblem::BadFeature {
                        index,
                        value: text.clone(),
                    },
                )
            }),
            // Spark writes a non-finite float as the string "NaN" or "Infinity".
            other => Err(row_error(
                path,
                line,
                RowProblem::BadFeature {
                    index,
                    value: other.describe(),
                },
            )),
        })
        .collect()
}

fn parse_feature(text: &str) -> Option<f32> {
    text.trim().parse::<f32>().ok().filter(|v| v.is_finite())
}

/// CSV factors: `id,f1,...,fr` per line, or `id,"[f1, ..., fr]"` (a list in one field), with
/// an optional header line (a first line whose first field is not an integer).
fn read_csv_factors(
    path: &Path,
    text: &str,
    sink: &mut impl FnMut(u64, i64, Vec<f32>) -> Result<(), SparkIoError>,
) -> Result<(), SparkIoError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            row_error(path, line, RowProblem::Csv(e.to_string()))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let id_text = record[0].trim_start_matches('\u{feff}');
        let id = match id_text.parse::<i64>() {
            Ok(id) => id,
            Err(_) if first => {
                first = false;
                continue;
            }
            Err(_) => {
                return Err(row_error(
                    path,
                    line,
                    RowProblem::NotAnInteger {
                        field: "id",
                        value: id_text.to_owned(),
                    },
                ))
            }
        };
        first = false;
        let values: Vec<&str> = if record.len() == 2 {
            record[1]
                .split(|c: char| c == '[' || c == ']' || c == ',' || c == ';' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .collect()
        } else {
            record.iter().skip(1).collect()
        };
        let features = values
            .iter()
            .enumerate()
            .map(|(index, v)| {
                parse_feature(v).ok_or_else(|| {
                    row_error(
                        path,
                        line,
                        RowProblem::BadFeature {
                            index,
                            value: (*v).to_owned(),
                        },
                    )
                })
            })
            .collect::<Result<Vec<f32>, _>>()?;
        sink(line, id, features)?;
    }
    Ok(())
}

/// A JSON value; numbers keep their text.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deepest nesting read; a factors row needs 2.
const MAX_DEPTH: usize = 16;

impl Json {
    /// Parses one JSON value (the whole of `text`, surrounding whitespace aside).
    fn parse(text: &str) -> Result<Json, RowProblem> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            pos: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.pos < p.s.len() {
            return Err(p.err("the end of the line"));
        }
        Ok(v)
    }

    /// A short description for error messages.
    fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => n.clone(),
            Json::String(s) => format!("\"{s}\""),
            Json::Array(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl JsonParser<'_> {
    fn err(&self, expected: &'static str) -> RowProblem {
        RowProblem::Json {
            column: self.pos + 1,
            what: expected,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.pos) == Some(&b);
        self.pos += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, RowProblem> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.err("a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, RowProblem> {
        if depth > MAX_DEPTH {
            return Err(self.err("less nesting"));
        }
        self.ws();
        match self.s.get(self.pos) {
            None => Err(self.err("a JSON value")),
            Some(b'{') => {
                self.pos += 1;
                let mut fields = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.err("':'"));
                    }
                    fields.push((key, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Ok(Json::Object(fields));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("',' or '}'"));
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("',' or ']'"));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("a JSON value")),
        }
    }

    fn number(&mut self) -> Result<Json, RowProblem> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.s.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > from
        };
        self.pos += usize::from(self.s[self.pos] == b'-');
        if !digits(self) {
            return Err(self.err("a digit"));
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.err("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.err("a digit in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).expect("ASCII digits");
        Ok(Json::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, RowProblem> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("four hex digits after \\u"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<String, RowProblem> {
        if self.s.get(self.pos) != Some(&b'"') {
            return Err(self.err("a string"));
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.pos) {
                None => return Err(self.err("a closing '\"'")),
                Some(b'"') => {
                    self.pos += 1;
                    // The input is a &str and escapes decode to whole characters.
                    return Ok(String::from_utf8(out).expect("valid UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.s.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.s[self.pos..].starts_with(b"\\u") {
                                    return Err(self.err("a low surrogate"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("a low surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(code).ok_or_else(|| self.err("a character"))?;
                            // Undo the step past the escape taken below.
                            self.pos -= 1;
                            c
                        }
                        _ => return Err(self.err("an escape")),
                    };
                    self.pos += 1;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(b) if *b < 0x20 => return Err(self.err("no control character")),
                Some(&b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    /// A scratch directory removed on drop (the engine has no tempfile dependency).
    mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "affinity-spark-io-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    // Rows as Spark writes them: spread over parts, in no particular order.
    const USERS_A: &str =
        "{\"id\":10,\"features\":[1.0,2.0]}\n{\"id\":3,\"features\":[0.5,-1.5]}\n";
    const USERS_B: &str = "\n{\"features\":[-2.0,0.25],\"id\":7}\n";
    const ITEMS: &str = "{\"id\":1,\"features\":[3.0,1.0]}\n{\"id\":2,\"features\":[0.0,4.0]}\n{\"id\":5,\"features\":[1E-1,-1.0]}\n";

    fn spark_dirs() -> (tempdir::Dir, tempdir::Dir) {
        let users = dir_with(&[
            ("part-00000-abc-c000.json", USERS_A),
            ("part-00001-abc-c000.json", USERS_B),
            ("_SUCCESS", ""),
            (".part-00000-abc-c000.json.crc", "binary junk"),
        ]);
        let items = dir_with(&[("part-00000-x.json", ITEMS)]);
        (users, items)
    }

    #[test]
    fn factors_are_read_from_all_parts_and_sorted_by_id() {
        let (users, _) = spark_dirs();
        let f = read_factors(users.path()).unwrap();
        assert_eq!(f.rank, 2);
        assert_eq!(f.ids, vec![3, 7, 10]);
        assert_eq!(f.features, vec![0.5, -1.5, -2.0, 0.25, 1.0, 2.0]);
    }

    #[test]
    fn an_imported_model_predicts_plain_dot_products_by_spark_id() {
        let (users, items) = spark_dirs();
        let m = import(&SparkPaths {
            user_factors: users.path(),
            item_factors: items.path(),
            user_ids: None,
            item_ids: None,
        })
        .unwrap();
        assert!(!m.model.has_biases());
        assert_eq!(m.users.ids(), ["3", "7", "10"]);
        assert_eq!(m.items.ids(), ["1", "2", "5"]);
        let predict = |u: &str, i: &str| {
            m.model
                .predict(m.users.get(u).unwrap(), m.items.get(i).unwrap())
                .unwrap()
        };
        // user 10 = (1, 2): item 1 = (3, 1) → 5; item 2 = (0, 4) → 8; item 5 = (0.1, -1) → -1.9.
        assert_eq!(predict("10", "1"), 5.0);
        assert_eq!(predict("10", "2"), 8.0);
        assert!((predict("10", "5") - -1.9).abs() < 1e-6);
        assert_eq!(predict("7", "1"), -5.75);
        let top = m.model.recommend(m.users.get("10").unwrap(), 2, |_| false);
        let top: Vec<(&str, f32)> = top
            .unwrap()
            .into_iter()
            .map(|(i, s)| (m.items.id(i), s))
            .collect();
        assert_eq!(top, vec![("2", 8.0), ("1", 5.0)]);
    }

    #[test]
    fn mapped_ids_restore_the_original_ids_and_leave_unseen_ones_cold() {
        let (users, items) = spark_dirs();
        // Spark ids are the indices: 3 → "dora", 7 → "gus", 10 → "kim"; index 0 never trained.
        let mut mapping = String::new();
        for (k, name) in [
            "ann", "bob", "cy", "dora", "ed", "fay", "gil", "gus", "hal", "ivy", "kim",
        ]
        .iter()
        .enumerate()
        {
            mapping.push_str(&format!("{{\"id\":\"{name}\",\"index\":{k}}}\n"));
        }
        let ids = dir_with(&[("part-00000.json", &mapping)]);
        let m = import(&SparkPaths {
            user_factors: users.path(),
            item_factors: items.path(),
            user_ids: Some(ids.path()),
            item_ids: None,
        })
        .unwrap();
        assert_eq!(m.users.len(), 11);
        let kim = m.users.get("kim").unwrap();
        assert_eq!(kim, 10);
        assert_eq!(m.model.user_factors(kim), Some(&[1.0f32, 2.0][..]));
        assert_eq!(m.model.user_factors(m.users.get("ann").unwrap()), None);
        assert_eq!(m.model.predict(m.users.get("gus").unwrap(), 0), Some(-5.75));
        // A factor id past the mapping is refused.
        let short = dir_with(&[("part-0.json", "{\"id\":\"ann\",\"index\":0}\n")]);
        let err = import(&SparkPaths {
            user_factors: users.path(),
            item_factors: items.path(),
            user_ids: Some(short.path()),
            item_ids: None,
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                SparkIoError::Unmapped {
                    side: "user",
                    id: 3,
                    n: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_rows_name_the_file_and_line() {
        let cases: &[(&str, RowProblem)] = &[
            (
                "{\"id\":1,\"features\":[1.0,2.0]}\n\n{\"id\":2,\"features\":[1.0]}\n",
                RowProblem::RankMismatch {
                    expected: 2,
                    found: 1,
                },
            ),
            (
                "{\"id\":\"a\",\"features\":[1.0]}\n",
                RowProblem::NotAnInteger {
                    field: "id",
                    value: "\"a\"".into(),
                },
            ),
            (
                "{\"id\":1.5,\"features\":[1.0]}\n",
                RowProblem::NotAnInteger {
                    field: "id",
                    value: "1.5".into(),
                },
            ),
            (
                "{\"id\":1,\"features\":[1.0,\"NaN\"]}\n",
                RowProblem::BadFeature {
                    index: 1,
                    value: "\"NaN\"".into(),
                },
            ),
            (
                "{\"id\":1,\"features\":[1e39]}\n",
                RowProblem::BadFeature {
                    index: 0,
                    value: "1e39".into(),
                },
            ),
            ("{\"id\":1}\n", RowProblem::MissingField("features")),
            ("{\"id\":1,\"features\":[]}\n", RowProblem::NoFeatures),
            ("[1,2]\n", RowProblem::NotAnObject),
            (
                "{\"id\":1,\"features\":[1.0,}\n",
                RowProblem::Json {
                    column: 25,
                    what: "a JSON value",
                },
            ),
        ];
        for (text, problem) in cases {
            let d = dir_with(&[("part-00003.json", text)]);
            let err = read_factors(d.path()).unwrap_err();
            let expected_line = if text.starts_with("{\"id\":1,\"features\":[1.0,2.0]}") {
                3
            } else {
                1
            };
            match &err {
                SparkIoError::Row {
                    path,
                    line,
                    problem: p,
                } => {
                    assert_eq!(p, problem, "{text}");
                    assert_eq!(*line, expected_line, "{text}");
                    assert!(path.ends_with("part-00003.json"));
                }
                other => panic!("{text}: {other}"),
            }
            let msg = err.to_string();
            assert!(
                msg.contains("part-00003.json, line "),
                "the message names file and line: {msg}"
            );
        }
        let dup = dir_with(&[
            ("part-1.json", "{\"id\":4,\"features\":[1.0]}\n"),
            (
                "part-2.json",
                "{\"id\":5,\"features\":[1.0]}\n{\"id\":4,\"features\":[2.0]}\n",
            ),
        ]);
        let err = read_factors(dup.path()).unwrap_err();
        assert!(
            matches!(&err, SparkIoError::Duplicate { line: 2, what: "id", value, path } if value == "4" && path.ends_with("part-2.json")),
            "{err}"
        );
        let none = dir_with(&[("_SUCCESS", ""), ("part-0.json.gz", "x")]);
        assert!(matches!(
            read_factors(none.path()).unwrap_err(),
            SparkIoError::NoParts { .. }
        ));
        let blank = dir_with(&[("part-0.json", "\n\n")]);
        assert!(matches!(
            read_factors(blank.path()).unwrap_err(),
            SparkIoError::Empty { .. }
        ));
        assert!(matches!(
            read_factors(Path::new("/no/such/dir")).unwrap_err(),
            SparkIoError::Read { .. }
        ));
    }

    #[test]
    fn csv_factors_wide_or_as_one_list_with_or_without_header() {
        let d = dir_with(&[
            ("part-0.csv", "id,f0,f1\n2,0.5,1.5\n1,1.0,-1.0\n"),
            ("part-1.csv", "3,\"[2.0, 0.25]\"\n"),
        ]);
        let f = read_factors(d.path()).unwrap();
        assert_eq!(f.ids, vec![1, 2, 3]);
        assert_eq!(f.features, vec![1.0, -1.0, 0.5, 1.5, 2.0, 0.25]);
        let bad = dir_with(&[("part-0.csv", "1,0.5,0.5\nx,1.0,1.0\n")]);
        let err = read_factors(bad.path()).unwrap_err();
        assert!(
            matches!(
                &err,
                SparkIoError::Row {
                    line: 2,
                    problem: RowProblem::NotAnInteger { .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn mappings_must_be_dense_and_unique() {
        let ok = dir_with(&[(
            "part-0.json",
            "{\"id\":\"b\\u00e9a\",\"index\":1}\n{\"id\":\"a\\\"q\",\"index\":0}\n{\"index\":2,\"id\":7}\n",
        )]);
        assert_eq!(read_id_mapping(ok.path()).unwrap(), ["a\"q", "béa", "7"]);
        let gap = dir_with(&[(
            "part-0.json",
            "{\"id\":\"a\",\"index\":0}\n{\"id\":\"b\",\"index\":2}\n",
        )]);
        assert!(matches!(
            read_id_mapping(gap.path()).unwrap_err(),
            SparkIoError::SparseMapping {
                n: 2,
                missing: 1,
                ..
            }
        ));
        let dup = dir_with(&[(
            "part-0.json",
            "{\"id\":\"a\",\"index\":0}\n{\"id\":\"b\",\"index\":0}\n",
        )]);
        assert!(matches!(
            read_id_mapping(dup.path()).unwrap_err(),
            SparkIoError::Duplicate {
                line: 2,
                what: "index",
                ..
            }
        ));
    }

    #[test]
    fn an_exported_model_imports_back_identically() {
        let file = ModelFile {
            user_ids: vec!["ann".into(), "bob".into(), "cy".into()],
            item_ids: vec!["7".into(), "12".into(), "3".into()],
            rank: 2,
            user_factors: vec![1.0, 2.0, 0.0, 0.0, -0.5, 1e-7],
            item_factors: vec![3.0, 1.0, 0.1, 4.0, 2.0, 2.0],
            user_fitted: vec![true, false, true],
            item_fitted: vec![true, true, true],
            biases: None,
        };
        let out = tempdir::Dir::new();
        let summary = export(&file, out.path()).unwrap();
        assert_eq!(
            summary,
            ExportSummary {
                n_users: 2,
                n_items: 3,
                users_mapped: true,
                items_mapped: false
            }
        );
        let text = std::fs::read_to_string(out.path().join("itemFactors/part-00000.json")).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("{\"id\":7,\"features\":[3.0,1.0]}")
        );
        assert!(!out.path().join("itemIds").exists());
        let m = import(&SparkPaths {
            user_factors: &out.path().join("userFactors"),
            item_factors: &out.path().join("itemFactors"),
            user_ids: Some(&out.path().join("userIds")),
            item_ids: None,
        })
        .unwrap();
        assert_eq!(m.users.ids(), ["ann", "bob", "cy"]);
        // Spark's ids come back in ascending order.
        assert_eq!(m.items.ids(), ["3", "7", "12"]);
        let cy = m.users.get("cy").unwrap();
        assert_eq!(m.model.user_factors(cy), Some(&[-0.5f32, 1e-7][..]));
        assert_eq!(m.model.user_factors(m.users.get("bob").unwrap()), None);
        let item12 = m.items.get("12").unwrap();
        assert_eq!(m.model.item_factors(item12), Some(&[0.1f32, 4.0][..]));

        let with_biases = ModelFile {
            biases: Some(crate::als::Biases {
                global_mean: 3.0,
                user: vec![0.0; 3],
                item: vec![0.0; 3],
            }),
            ..file
        };
        assert!(matches!(
            export(&with_biases, out.path()).unwrap_err(),
            SparkIoError::HasBiases
        ));
    }

    #[test]
    fn only_plain_32_bit_integers_are_spark_ids() {
        assert_eq!(spark_int_id("42"), Some(42));
        assert_eq!(spark_int_id("-7"), Some(-7));
        assert_eq!(spark_int_id("2147483647"), Some(2147483647));
        for id in ["042", "+4", "2147483648", "ann", "", "1.0", "-0"] {
            assert_eq!(spark_int_id(id), None, "{id}");
        }
    }

    #[test]
    fn different_ranks_are_refused() {
        let users = dir_with(&[("part-0.json", "{\"id\":1,\"features\":[1.0,2.0]}\n")]);
        let items = dir_with(&[("part-0.json", "{\"id\":1,\"features\":[1.0]}\n")]);
        let err = import(&SparkPaths {
            user_factors: users.path(),
            item_factors: items.path(),
            user_ids: None,
            item_ids: None,
        })
        .unwrap_err();
        assert!(
            matches!(err, SparkIoError::RankDiffers { user: 2, item: 1 }),
            "{err}"
        );
    }
}
