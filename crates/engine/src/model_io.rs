//! Versioned model files: a compact binary format for programs and a JSON format for people.
//! Both are self-contained: they carry the user and item ids, so a model can serve
//! recommendations without the ratings file it was fitted on.
//!
//! This build writes version 2 and reads versions 1 and 2. Version 2 adds the global mean
//! and the user and item biases of a model fitted with biases; a version 1 file is a model
//! without biases.
//!
//! # Binary format, version 2 (all integers and floats little-endian)
//!
//! | bytes              | content                                                    |
//! |--------------------|------------------------------------------------------------|
//! | 4                  | magic `AFFM`                                               |
//! | 2                  | format version (`u16`, 2)                                  |
//! | 4 + 4 + 4          | rank, number of users, number of items (`u32`)             |
//! | per user, per item | id: byte length (`u32`) then UTF-8 bytes                   |
//! | users + items      | fitted flags, one byte each (0 or 1), users then items     |
//! | 4·rank·(users+items) | factors (`f32`), users then items, row by row (zeros when unfitted) |
//! | 1                  | biases flag (0 or 1); version 2 only                       |
//! | 4·(1+users+items)  | with the flag: global mean, user biases, item biases (`f32`) |
//! | 8                  | FNV-1a 64 checksum of every byte before it                 |
//!
//! Version 1 is the same without the biases flag and biases.
//!
//! # JSON format, version 2
//!
//! ```json
//! {"format": "affinity-model", "version": 2, "rank": 2, "global_mean": 3.5,
//!  "users": [{"id": "ann", "bias": 0.25, "factors": [0.5, -1.25]},
//!            {"id": "bob", "bias": 0, "factors": null}],
//!  "items": [{"id": "dune", "bias": -0.5, "factors": [1, 0.75]}]}
//! ```
//!
//! `null` factors mark a user or item the model was not fitted for. A model without biases
//! has no `"global_mean"` and no `"bias"`; with biases, every user and item has a `"bias"`.
//! Version 1 is the same without biases.

use std::collections::HashSet;
use std::fmt::Write as _;

use thiserror::Error;

use crate::als::{AlsModel, Biases};
use crate::ids::IdMap;

/// The first four bytes of a binary model file.
pub const MAGIC: [u8; 4] = *b"AFFM";
/// The binary format version this build writes (it also reads every version from 1 on).
pub const BINARY_VERSION: u16 = 2;
/// The `"format"` value of a JSON model file.
pub const JSON_FORMAT: &str = "affinity-model";
/// The JSON format version this build writes (it also reads every version from 1 on).
pub const JSON_VERSION: u64 = 2;
/// The oldest format version this build reads, binary or JSON.
pub const OLDEST_VERSION: u64 = 1;
/// Largest rank a file may declare (as [`crate::als::AlsParams::check`] accepts).
const MAX_RANK: usize = 1000;
/// Deepest JSON nesting read; the format needs 4, the limit keeps hostile input from
/// exhausting the stack.
const MAX_JSON_DEPTH: usize = 32;

/// The content of a model file: everything needed to recommend, by id.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// The external id of each user index.
    pub user_ids: Vec<String>,
    /// The external id of each item index.
    pub item_ids: Vec<String>,
    /// Number of latent factors.
    pub rank: usize,
    /// `rank` factors per user, row by row; zeros for unfitted users.
    pub user_factors: Vec<f32>,
    /// `rank` factors per item, row by row; zeros for unfitted items.
    pub item_factors: Vec<f32>,
    /// Whether each user has factors (rated something in training).
    pub user_fitted: Vec<bool>,
    /// Whether each item has factors (was rated in training).
    pub item_fitted: Vec<bool>,
    /// The global mean and one bias per user and per item (0 for unfitted rows), for a
    /// model fitted with biases; `None` otherwise (and in every version 1 file).
    pub biases: Option<Biases>,
}

/// Why a model could not be saved or loaded.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ModelIoError {
    /// The file does not start with `AFFM`.
    #[error("not an Affinity model file: expected magic bytes \"AFFM\", found {found:?}")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The file was written in a format version this build does not read.
    #[error(
        "model file format version {found} is not supported (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u64,
        /// The newest version this build reads (it reads every version from 1 to this).
        supported: u64,
    },
    /// The file ends before a part it announces.
    #[error("model file is truncated: {what} needs {needed} bytes at byte offset {offset}, but the file has {len} bytes")]
    Truncated {
        /// The part being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: u64,
        /// The file's length.
        len: usize,
    },
    /// A value in the file is impossible.
    #[error("corrupt model file at byte offset {offset}: {what}")]
    Corrupt {
        /// Where the value starts.
        offset: usize,
        /// What is wrong with it.
        what: String,
    },
    /// The bytes are well formed but not those that were written.
    #[error("corrupt model file: checksum {stored:#018x} at byte offset {offset} does not match the content's {computed:#018x}")]
    Checksum {
        /// Where the checksum is.
        offset: usize,
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes before it.
        computed: u64,
    },
    /// Bytes follow the end of the model.
    #[error("corrupt model file: {extra} unexpected bytes after the end of the model at byte offset {offset}")]
    TrailingBytes {
        /// Where the model ends.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
    /// The JSON text is not valid JSON.
    #[error("invalid JSON at byte offset {offset}: {what}")]
    JsonSyntax {
        /// Where the problem is.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// The JSON is valid but not a model file (a field is missing or of the wrong kind).
    #[error("not an Affinity model file: {0}")]
    JsonSchema(String),
    /// The parts of a model do not fit together (lengths, duplicate ids, non-finite factors
    /// or biases).
    #[error("inconsistent model: {0}")]
    Inconsistent(String),
}

impl ModelFile {
    /// The file content of `model`, whose user (item) index `k` has the id `user_ids[k]`
    /// (`item_ids[k]`): typically `ratings.users().ids()` of the ratings it was fitted on.
    /// A model's biases, when it has them, are kept.
    pub fn from_model(
        model: &AlsModel,
        user_ids: &[String],
        item_ids: &[String],
    ) -> Result<Self, ModelIoError> {
        if user_ids.len() != model.n_users() || item_ids.len() != model.n_items() {
            return Err(ModelIoError::Inconsistent(format!(
                "the model covers {} users and {} items, but {} user ids and {} item ids were given",
                model.n_users(),
                model.n_items(),
                user_ids.len(),
                item_ids.len()
            )));
        }
        let rank = model.rank();
        // Row by row straight into place: a model of ten million ratings has a quarter of a
        // million rows, and a copy of each row first was most of the time taken here.
        fn side<'m>(
            n: usize,
            rank: usize,
            rows: impl Fn(u32) -> Option<&'m [f32]>,
        ) -> (Vec<f32>, Vec<bool>) {
            let mut factors = vec![0f32; n * rank];
            let mut fitted = vec![false; n];
            for (k, (out, fit)) in factors.chunks_exact_mut(rank).zip(&mut fitted).enumerate() {
                if let Some(f) = rows(k as u32) {
                    out.copy_from_slice(f);
                    *fit = true;
                }
            }
            (factors, fitted)
        }
        let (user_factors, user_fitted) = side(model.n_users(), rank, |u| model.user_factors(u));
        let (item_factors, item_fitted) = side(model.n_items(), rank, |i| model.item_factors(i));
        let file = Self {
            user_ids: user_ids.to_vec(),
            item_ids: item_ids.to_vec(),
            rank,
            user_factors,
            item_factors,
            user_fitted,
            item_fitted,
            biases: model.biases(),
        };
        file.validate()?;
        Ok(file)
    }

    /// The model and its id maps: user (item) index `k` of the model has the id at index `k`
    /// of the first (second) map, so `users.get(id)` finds a user's index and `items.id(i)`
    /// names a recommended item. The model predicts exactly as the one the file was made
    /// from.
    pub fn into_model(self) -> Result<(AlsModel, IdMap, IdMap), ModelIoError> {
        // The fields are public, so they may have changed since the file was read.
        self.validate()?;
        let model = AlsModel::from_parts(
            self.rank,
            self.user_factors,
            self.item_factors,
            self.user_fitted,
            self.item_fitted,
            self.biases,
        )
        .map_err(|e| ModelIoError::Inconsistent(e.to_string()))?;
        Ok((
            model,
            IdMap::from(self.user_ids),
            IdMap::from(self.item_ids),
        ))
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.user_ids.len()
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.item_ids.len()
    }

    /// The factors of user index `user`, `None` when unfitted or out of range.
    pub fn user_factors(&self, user: u32) -> Option<&[f32]> {
        row(&self.user_factors, &self.user_fitted, self.rank, user)
    }

    /// The factors of item index `item`, `None` when unfitted or out of range.
    pub fn item_factors(&self, item: u32) -> Option<&[f32]> {
        row(&self.item_factors, &self.item_fitted, self.rank, item)
    }

    /// Checks that the parts fit together: rank 1..=1000, one fitted flag and `rank`
    /// factors per id, unique ids, finite factors, and with biases a finite global mean and
    /// one finite bias per id.
    pub fn validate(&self) -> Result<(), ModelIoError> {
        let bad = |s: String| Err(ModelIoError::Inconsistent(s));
        if !(1..=MAX_RANK).contains(&self.rank) {
            return bad(format!(
                "rank must be between 1 and {MAX_RANK}, got {}",
                self.rank
            ));
        }
        for (side, ids, fitted, factors) in [
            (
                "user",
                &self.user_ids,
                &self.user_fitted,
                &self.user_factors,
            ),
            (
                "item",
                &self.item_ids,
                &self.item_fitted,
                &self.item_factors,
            ),
        ] {
            if ids.len() > u32::MAX as usize {
                return bad(format!("more than {} {side}s", u32::MAX));
            }
            if fitted.len() != ids.len() {
                return bad(format!(
                    "{} {side} ids but {} {side} fitted flags",
                    ids.len(),
                    fitted.len()
                ));
            }
            if Some(factors.len()) != ids.len().checked_mul(self.rank) {
                return bad(format!(
                    "{} {side}s at rank {} need {} factors, got {}",
                    ids.len(),
                    self.rank,
                    ids.len().saturating_mul(self.rank),
                    factors.len()
                ));
            }
            if let Some(k) = factors.iter().position(|v| !v.is_finite()) {
                return bad(format!(
                    "{side} {:?} has a non-finite factor",
                    ids[k / self.rank]
                ));
            }
            let mut seen = HashSet::with_capacity(ids.len());
            if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
                return bad(format!("{side} id {dup:?} appears twice"));
            }
        }
        if let Some(b) = &self.biases {
            if !b.global_mean.is_finite() {
                return bad(format!("the global mean {} is not finite", b.global_mean));
            }
            for (side, ids, biases) in [
                ("user", &self.user_ids, &b.user),
                ("item", &self.item_ids, &b.item),
            ] {
                if biases.len() != ids.len() {
                    return bad(format!(
                        "{} {side} ids but {} {side} biases",
                        ids.len(),
                        biases.len()
                    ));
                }
                if let Some(k) = biases.iter().position(|v| !v.is_finite()) {
                    return bad(format!("{side} {:?} has a non-finite bias", ids[k]));
                }
            }
        }
        Ok(())
    }

    /// The binary encoding (see the module documentation).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelIoError> {
        self.validate()?;
        let ids_len: usize = self
            .user_ids
            .iter()
            .chain(&self.item_ids)
            .map(|s| 4 + s.len())
            .sum();
        let n = self.n_users() + self.n_items();
        let bias_len = if self.biases.is_some() {
            4 * (1 + n)
        } else {
            0
        };
        let mut out =
            Vec::with_capacity(4 + 2 + 12 + ids_len + n + 4 * self.rank * n + 1 + bias_len + 8);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&BINARY_VERSION.to_le_bytes());
        for v in [self.rank, self.n_users(), self.n_items()] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        for id in self.user_ids.iter().chain(&self.item_ids) {
            let len = u32::try_from(id.len())
                .map_err(|_| ModelIoError::Inconsistent(format!("an id of {} bytes", id.len())))?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        out.extend(
            self.user_fitted
                .iter()
                .chain(&self.item_fitted)
                .map(|&f| u8::from(f)),
        );
        for v in self.user_factors.iter().chain(&self.item_factors) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(u8::from(self.biases.is_some()));
        if let Some(b) = &self.biases {
            for v in std::iter::once(&b.global_mean)
                .chain(&b.user)
                .chain(&b.item)
            {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let checksum = fnv1a(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        Ok(out)
    }

    /// Reads the binary encoding; any defect is an error naming it and, where it has one,
    /// its byte offset.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelIoError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(4, "the magic bytes")?;
        if magic != MAGIC {
            return Err(ModelIoError::BadMagic {
                found: magic.to_vec(),
            });
        }
        let version = u16::from_le_bytes(r.array("the format version")?);
        if !(OLDEST_VERSION..=u64::from(BINARY_VERSION)).contains(&version.into()) {
            return Err(ModelIoError::UnsupportedVersion {
                found: version.into(),
                supported: BINARY_VERSION.into(),
            });
        }
        let rank_at = r.pos;
        let rank = r.u32("the rank")? as usize;
        if !(1..=MAX_RANK).contains(&rank) {
            return Err(ModelIoError::Corrupt {
                offset: rank_at,
                what: format!("rank {rank} is not between 1 and {MAX_RANK}"),
            });
        }
        let n_users = r.u32("the number of users")? as usize;
        let n_items = r.u32("the number of items")? as usize;
        let user_ids = r.ids(n_users, "a user id")?;
        let item_ids = r.ids(n_items, "an item id")?;
        let user_fitted = r.flags(n_users, "the user fitted flags")?;
        let item_fitted = r.flags(n_items, "the item fitted flags")?;
        let user_factors_at = r.pos;
        let user_factors = r.floats(n_users as u64 * rank as u64, "the user factors")?;
        let item_factors_at = r.pos;
        let item_factors = r.floats(n_items as u64 * rank as u64, "the item factors")?;
        let has_biases = version >= 2 && r.flags(1, "the biases flag")?[0];
        let biases = if has_biases {
            let global_mean = r.floats(1, "the global mean")?[0];
            Some(Biases {
                global_mean,
                user: r.floats(n_users as u64, "the user biases")?,
                item: r.floats(n_items as u64, "the item biases")?,
            })
        } else {
            None
        };
        let content_end = r.pos;
        let stored = u64::from_le_bytes(r.array("the checksum")?);
        let computed = fnv1a(&bytes[..content_end]);
        if stored != computed {
            return Err(ModelIoError::Checksum {
                offset: content_end,
                stored,
                computed,
            });
        }
        if r.pos < bytes.len() {
            return Err(ModelIoError::TrailingBytes {
                offset: r.pos,
                extra: bytes.len() - r.pos,
            });
        }
        // An unfitted row is written as zeros. Anything else would be ignored by the model
        // yet lost by a JSON save (which writes `null`), so the file is not what was written.
        // Checked after the checksum, so that random damage is reported as such.
        for (side, fitted, factors, at) in [
            ("user", &user_fitted, &user_factors, user_factors_at),
            ("item", &item_fitted, &item_factors, item_factors_at),
        ] {
            let stray = fitted
                .iter()
                .enumerate()
                .filter(|(_, &f)| !f)
                .flat_map(|(k, _)| k * rank..(k + 1) * rank)
                .find(|&c| factors[c] != 0.0);
            if let Some(c) = stray {
                return Err(ModelIoError::Corrupt {
                    offset: at + 4 * c,
                    what: format!(
                        "{side} {} is marked unfitted but has a non-zero factor",
                        c / rank
                    ),
                });
            }
        }
        let file = Self {
            user_ids,
            item_ids,
            rank,
            user_factors,
            item_factors,
            user_fitted,
            item_fitted,
            biases,
        };
        file.validate()?;
        Ok(file)
    }

    /// The JSON encoding (see the module documentation), one user or item per line.
    /// Factors are written as the shortest decimals that read back to the same `f32`.
    pub fn to_json(&self) -> Result<String, ModelIoError> {
        self.validate()?;
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\n\"format\": \"{JSON_FORMAT}\",\n\"version\": {JSON_VERSION},\n\"rank\": {},\n",
            self.rank
        );
        if let Some(b) = &self.biases {
            let _ = writeln!(out, "\"global_mean\": {},", b.global_mean);
        }
        for (key, ids, fitted, factors, biases, last) in [
            (
                "users",
                &self.user_ids,
                &self.user_fitted,
                &self.user_factors,
                self.biases.as_ref().map(|b| &b.user),
                false,
            ),
            (
                "items",
                &self.item_ids,
                &self.item_fitted,
                &self.item_factors,
                self.biases.as_ref().map(|b| &b.item),
                true,
            ),
        ] {
            let _ = write!(out, "\"{key}\": [");
            for (k, id) in ids.iter().enumerate() {
                out.push_str(if k == 0 {
                    "\n  {\"id\": "
                } else {
                    ",\n  {\"id\": "
                });
                push_json_string(&mut out, id);
                if let Some(biases) = biases {
                    let _ = write!(out, ", \"bias\": {}", biases[k]);
                }
                out.push_str(", \"factors\": ");
                if fitted[k] {
                    out.push('[');
                    for (c, v) in factors[k * self.rank..(k + 1) * self.rank]
                        .iter()
                        .enumerate()
                    {
                        if c > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{v}");
                    }
                    out.push_str("]}");
                } else {
                    out.push_str("null}");
                }
            }
            out.push_str(if ids.is_empty() { "]" } else { "\n]" });
            out.push_str(if last { "\n" } else { ",\n" });
        }
        out.push_str("}\n");
        Ok(out)
    }

    /// Reads the JSON encoding. Keys may come in any order; unknown keys are refused so that
    /// a typo is not silently ignored.
    pub fn from_json(text: &str) -> Result<Self, ModelIoError> {
        let value = json::parse(text)?;
        let schema = |s: String| ModelIoError::JsonSchema(s);
        let json::Value::Object(fields) = value else {
            return Err(schema("the top level is not an object".into()));
        };
        let mut format = None;
        let mut version = None;
        let mut rank = None;
        let mut global_mean = None;
        let mut users = None;
        let mut items = None;
        for (key, v) in fields {
            match key.as_str() {
                "format" => format = Some(v),
                "version" => version = Some(v),
                "rank" => rank = Some(v),
                "global_mean" => global_mean = Some(v),
                "users" => users = Some(v),
                "items" => items = Some(v),
                other => return Err(schema(format!("unknown key {other:?}"))),
            }
        }
        match format {
            Some(json::Value::String(f)) if f == JSON_FORMAT => {}
            Some(json::Value::String(f)) => {
                return Err(schema(format!(
                    "\"format\" is {f:?}, expected {JSON_FORMAT:?}"
                )))
            }
            _ => return Err(schema(format!("no \"format\": {JSON_FORMAT:?}"))),
        }
        let version = version
            .as_ref()
            .and_then(json::Value::as_u64)
            .ok_or_else(|| schema("\"version\" is missing or not a whole number".into()))?;
        if !(OLDEST_VERSION..=JSON_VERSION).contains(&version) {
            return Err(ModelIoError::UnsupportedVersion {
                found: version,
                supported: JSON_VERSION,
            });
        }
        // Version 1 has no biases; in version 2 the global mean says whether there are.
        let global_mean = match global_mean {
            None => None,
            Some(_) if version < 2 => {
                return Err(schema(format!(
                    "\"global_mean\" needs format version 2, the file is version {version}"
                )))
            }
            Some(v) => Some(
                v.as_f32()
                    .ok_or_else(|| schema("\"global_mean\" is not a finite number".into()))?,
            ),
        };
        let with_biases = global_mean.is_some();
        let rank = rank
            .as_ref()
            .and_then(json::Value::as_u64)
            .filter(|r| (1..=MAX_RANK as u64).contains(r))
            .ok_or_else(|| {
                schema(format!(
                    "\"rank\" is missing or not a whole number in 1..={MAX_RANK}"
                ))
            })? as usize;
        let side = |name: &str, v: Option<json::Value>| {
            let Some(json::Value::Array(entries)) = v else {
                return Err(schema(format!("\"{name}\" is missing or not an array")));
            };
            let mut ids = Vec::with_capacity(entries.len());
            let mut fitted = Vec::with_capacity(entries.len());
            // Saturating: on a 32-bit target (wasm) a hostile entry count times the rank
            // could overflow; the vector grows past the guess if it must.
            let mut factors = Vec::with_capacity(entries.len().saturating_mul(rank).min(1 << 24));
            let mut biases = Vec::with_capacity(if with_biases { entries.len() } else { 0 });
            for (k, entry) in entries.into_iter().enumerate() {
                let at = || format!("{name}[{k}]");
                let json::Value::Object(fields) = entry else {
                    return Err(schema(format!("{} is not an object", at())));
                };
                let (mut id, mut fs, mut bias) = (None, None, None);
                for (key, v) in fields {
                    match key.as_str() {
                        "id" => id = Some(v),
                        "factors" => fs = Some(v),
                        "bias" if version >= 2 => bias = Some(v),
                        other => return Err(schema(format!("{}: unknown key {other:?}", at()))),
                    }
                }
                match (with_biases, bias) {
                    (true, Some(b)) => {
                        biases.push(b.as_f32().ok_or_else(|| {
                            schema(format!("{}.bias is not a finite number", at()))
                        })?)
                    }
                    (true, None) => {
                        return Err(schema(format!(
                            "{} has no \"bias\", but the file has a \"global_mean\"",
                            at()
                        )))
                    }
                    (false, Some(_)) => {
                        return Err(schema(format!(
                            "{} has a \"bias\", but the file has no \"global_mean\"",
                            at()
                        )))
                    }
                    (false, None) => {}
                }
                match id {
                    Some(json::Value::String(s)) => ids.push(s),
                    _ => return Err(schema(format!("{}.id is missing or not a string", at()))),
                }
                match fs {
                    Some(json::Value::Null) => {
                        fitted.push(false);
                        factors.extend(std::iter::repeat_n(0f32, rank));
                    }
                    Some(json::Value::Array(values)) if values.len() == rank => {
                        fitted.push(true);
                        for v in values {
                            let f = v.as_f32().ok_or_else(|| {
                                schema(format!("{}.factors holds a non-number", at()))
                            })?;
                            factors.push(f);
                        }
                    }
                    Some(json::Value::Array(values)) => {
                        return Err(schema(format!(
                            "{}.factors has {} numbers, but the rank is {rank}",
                            at(),
                            values.len()
                        )))
                    }
                    _ => {
                        return Err(schema(format!(
                            "{}.factors is missing or neither an array nor null",
                            at()
                        )))
                    }
                }
            }
            Ok((ids, fitted, factors, biases))
        };
        let (user_ids, user_fitted, user_factors, user_biases) = side("users", users)?;
        let (item_ids, item_fitted, item_factors, item_biases) = side("items", items)?;
        let file = Self {
            user_ids,
            item_ids,
            rank,
            user_factors,
            item_factors,
            user_fitted,
            item_fitted,
            biases: global_mean.map(|global_mean| Biases {
                global_mean,
                user: user_biases,
                item: item_biases,
            }),
        };
        file.validate()?;
        Ok(file)
    }

    /// Reads either format: binary when the bytes start with the magic, JSON otherwise.
    pub fn from_any(bytes: &[u8]) -> Result<Self, ModelIoError> {
        if bytes.starts_with(&MAGIC) {
            return Self::from_bytes(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) if text.trim_start().starts_with('{') => Self::from_json(text),
            _ => Self::from_bytes(bytes),
        }
    }
}

fn row<'a>(factors: &'a [f32], fitted: &[bool], rank: usize, k: u32) -> Option<&'a [f32]> {
    let k = k as usize;
    fitted
        .get(k)
        .copied()
        .unwrap_or(false)
        .then(|| factors.get(k * rank..(k + 1) * rank))
        .flatten()
}

/// FNV-1a, 64 bits: enough to catch accidental corruption, and no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A cursor over the bytes of a binary file that reports where and what it ran out on.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// The next `n` bytes; checking the length before anything is allocated means a corrupt
    /// count cannot make the reader ask for gigabytes.
    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], ModelIoError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(ModelIoError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                len: self.bytes.len(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ModelIoError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ModelIoError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn ids(&mut self, n: usize, what: &'static str) -> Result<Vec<String>, ModelIoError> {
        // Every id needs at least its 4-byte length, which bounds a believable count.
        let mut ids = Vec::with_capacity(n.min((self.bytes.len() - self.pos) / 4));
        for _ in 0..n {
            let len = self.u32(what)?;
            let at = self.pos;
            let raw = self.take(u64::from(len), what)?;
            let id = std::str::from_utf8(raw).map_err(|e| ModelIoError::Corrupt {
                offset: at + e.valid_up_to(),
                what: format!("{what} is not valid UTF-8"),
            })?;
            ids.push(id.to_owned());
        }
        Ok(ids)
    }

    fn flags(&mut self, n: usize, what: &'static str) -> Result<Vec<bool>, ModelIoError> {
        let at = self.pos;
        let raw = self.take(n as u64, what)?;
        raw.iter()
            .enumerate()
            .map(|(k, &b)| match b {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(ModelIoError::Corrupt {
                    offset: at + k,
                    what: format!("{what}: a flag is {other}, not 0 or 1"),
                }),
            })
            .collect()
    }

    fn floats(&mut self, n: u64, what: &'static str) -> Result<Vec<f32>, ModelIoError> {
        let raw = self.take(n.saturating_mul(4), what)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A small JSON reader: the engine has no JSON dependency, and a model file needs only
/// plain values. Numbers keep their text so factors parse straight to `f32` (through `f64`
/// they could round twice).
mod json {
    use super::{ModelIoError, MAX_JSON_DEPTH};

    /// A JSON value.
    #[derive(Debug)]
    pub enum Value {
        Null,
        /// `true` or `false`; a model file has no use for which.
        Bool,
        Number(String),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn as_u64(&self) -> Option<u64> {
            match self {
                Value::Number(text) => text.parse().ok(),
                _ => None,
            }
        }

        pub fn as_f32(&self) -> Option<f32> {
            match self {
                Value::Number(text) => text.parse::<f32>().ok().filter(|v| v.is_finite()),
                _ => None,
            }
        }
    }

    /// Parses one JSON document.
    pub fn parse(text: &str) -> Result<Value, ModelIoError> {
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.pos < p.s.len() {
            return Err(p.err("unexpected text after the end of the document"));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn err(&self, what: &str) -> ModelIoError {
            ModelIoError::JsonSyntax {
                offset: self.pos,
                what: what.to_owned(),
            }
        }

        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
                self.pos += 1;
            }
        }

        fn eat(&mut self, b: u8) -> bool {
            self.ws();
            if self.s.get(self.pos) == Some(&b) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, ModelIoError> {
            if depth > MAX_JSON_DEPTH {
                return Err(self.err("nested too deeply"));
            }
            self.ws();
            match self.s.get(self.pos) {
                None => Err(self.err("unexpected end of the text")),
                Some(b'{') => {
                    self.pos += 1;
                    let mut fields = Vec::new();
                    if self.eat(b'}') {
                        return Ok(Value::Object(fields));
                    }
                    loop {
                        self.ws();
                        if self.s.get(self.pos) != Some(&b'"') {
                            return Err(self.err("expected a key in double quotes"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.err("expected ':' after a key"));
                        }
                        fields.push((key, self.value(depth + 1)?));
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b'}') {
                            return Ok(Value::Object(fields));
                        }
                        return Err(self.err("expected ',' or '}' in an object"));
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    let mut items = Vec::new();
                    if self.eat(b']') {
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            return Ok(Value::Array(items));
                        }
                        return Err(self.err("expected ',' or ']' in an array"));
                    }
                }
                Some(b'"') => Ok(Value::String(self.string()?)),
                Some(b't') => self.word("true", Value::Bool),
                Some(b'f') => self.word("false", Value::Bool),
                Some(b'n') => self.word("null", Value::Null),
                Some(b'-' | b'0'..=b'9') => self.number(),
                Some(_) => Err(self.err("expected a value")),
            }
        }

        fn word(&mut self, w: &str, v: Value) -> Result<Value, ModelIoError> {
            if self.s[self.pos..].starts_with(w.as_bytes()) {
                self.pos += w.len();
                Ok(v)
            } else {
                Err(self.err("expected a value"))
            }
        }

        fn number(&mut self) -> Result<Value, ModelIoError> {
            let start = self.pos;
            while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.s.get(self.pos) {
                self.pos += 1;
            }
            let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
            // Rust's float grammar is looser than JSON's in places ("1.", "+1"); the
            // checks below keep to JSON's.
            let digits = text.strip_prefix('-').unwrap_or(text);
            let json_like = digits.starts_with(|c: char| c.is_ascii_digit())
                && !digits.ends_with('.')
                && !digits.contains(".e")
                && !digits.contains(".E");
            if !json_like || text.parse::<f64>().is_err() {
                self.pos = start;
                return Err(self.err("malformed number"));
            }
            Ok(Value::Number(text.to_owned()))
        }

        fn string(&mut self) -> Result<String, ModelIoError> {
            self.pos += 1; // the opening quote
            let mut out = String::new();
            loop {
                let start = self.pos;
                while let Some(&b) = self.s.get(self.pos) {
                    if b == b'"' || b == b'\\' || b < 0x20 {
                        break;
                    }
                    self.pos += 1;
                }
                // The input is a &str and we stopped at ASCII, so this slice is valid UTF-8.
                out.push_str(std::str::from_utf8(&self.s[start..self.pos]).unwrap_or(""));
                match self.s.get(self.pos) {
                    None => return Err(self.err("unterminated string")),
                    Some(b'"') => {
                        self.pos += 1;
                        return Ok(out);
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
                                let code = if (0xD800..0xDC00).contains(&hi) {
                                    // A surrogate pair spells one character beyond U+FFFF.
                                    if !self.s[self.pos..].starts_with(b"\\u") {
                                        return Err(self.err("unpaired surrogate"));
                                    }
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(self.err("unpaired surrogate"));
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    hi
                                };
                                out.push(
                                    char::from_u32(code)
                                        .ok_or_else(|| self.err("invalid \\u escape"))?,
                                );
                                continue;
                            }
                            _ => return Err(self.err("invalid escape")),
                        };
                        out.push(c);
                        self.pos += 1;
                    }
                    Some(_) => return Err(self.err("control character in a string")),
                }
            }
        }

        fn hex4(&mut self) -> Result<u32, ModelIoError> {
            let digits = self
                .s
                .get(self.pos..self.pos + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| self.err("expected four hex digits after \\u"))?;
            self.pos += 4;
            Ok(digits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::{self, AlsParams};
    use crate::ratings::Ratings;

    /// A fitted model with an unfitted user and item (rated only in a held-out row).
    fn fitted() -> (AlsModel, Ratings) {
        let mut all = Ratings::default();
        for u in 0..12 {
            for i in 0..9 {
                if (u + i) % 3 != 0 {
                    all.push(
                        &format!("user \"{u}\""),
                        &format!("item/{i}é"),
                        ((u * i) % 5 + 1) as f32,
                    );
                }
            }
        }
        all.push("ghost", "lonely", 3.0);
        let train = all.select(0..all.len() - 1);
        let params = AlsParams {
            rank: 3,
            max_iter: 4,
            ..AlsParams::default()
        };
        (als::fit(&train, &params.check().unwrap()), train)
    }

    fn file() -> ModelFile {
        let (model, train) = fitted();
        ModelFile::from_model(&model, train.users().ids(), train.items().ids()).unwrap()
    }

    #[test]
    fn from_model_keeps_factors_and_unfitted_rows() {
        let (model, train) = fitted();
        let f = ModelFile::from_model(&model, train.users().ids(), train.items().ids()).unwrap();
        assert_eq!((f.n_users(), f.n_items(), f.rank), (13, 10, 3));
        assert_eq!(f.user_factors(0), model.user_factors(0));
        assert_eq!(f.user_factors(12), None, "ghost was never fitted");
        assert_eq!(f.item_factors(9), None);
        assert_eq!(&f.user_factors[36..], &[0.0, 0.0, 0.0]);
        let biased = als::fit(
            &train,
            &AlsParams {
                rank: 2,
                biases: true,
                ..AlsParams::default()
            }
            .check()
            .unwrap(),
        );
        let with_biases =
            ModelFile::from_model(&biased, train.users().ids(), train.items().ids()).unwrap();
        let b = with_biases.biases.as_ref().expect("the biases are kept");
        assert_eq!(b.global_mean, biased.global_mean());
        assert_eq!((b.user.len(), b.item.len()), (13, 10));
        assert_eq!(Some(b.user[0]), biased.user_bias(0));
        assert_eq!(b.user[12], 0.0, "ghost's bias");
        assert_eq!(f.biases, None);
        let short = ModelFile::from_model(&model, &train.users().ids()[1..], train.items().ids());
        assert!(matches!(short, Err(ModelIoError::Inconsistent(_))));
    }

    #[test]
    fn binary_round_trip_is_exact() {
        let f = file();
        let bytes = f.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"AFFM");
        assert_eq!(&bytes[4..6], &[2, 0]);
        assert_eq!(bytes[bytes.len() - 9], 0, "the biases flag is off");
        assert_eq!(ModelFile::from_bytes(&bytes).unwrap(), f);
        assert_eq!(ModelFile::from_any(&bytes).unwrap(), f);
    }

    #[test]
    fn json_round_trip_is_exact_and_readable() {
        let f = file();
        let text = f.to_json().unwrap();
        assert!(text.starts_with("{\n\"format\": \"affinity-model\",\n\"version\": 2,"));
        assert!(!text.contains("bias") && !text.contains("global_mean"));
        assert!(text.contains("{\"id\": \"ghost\", \"factors\": null}"));
        assert!(
            text.contains("\"user \\\"3\\\"\""),
            "quotes in ids are escaped"
        );
        assert_eq!(ModelFile::from_json(&text).unwrap(), f);
        assert_eq!(ModelFile::from_any(text.as_bytes()).unwrap(), f);
    }

    #[test]
    fn hand_written_json_with_escapes_and_any_key_order_is_read() {
        let text = r#" { "rank": 2, "version": 1, "items": [
            {"factors": [1e0, -0.5], "id": "caf\u00e9 \ud83c\udfac"} ],
            "users": [{"id": "a\"b", "factors": null}], "format": "affinity-model" } "#;
        let f = ModelFile::from_json(text).unwrap();
        assert_eq!(f.item_ids, vec!["café 🎬".to_owned()]);
        assert_eq!(f.item_factors(0), Some(&[1.0, -0.5][..]));
        assert_eq!(f.user_ids, vec!["a\"b".to_owned()]);
        assert_eq!(f.user_factors(0), None);
        assert_eq!(f.biases, None, "a version 1 file has no biases");
    }

    #[test]
    fn wrong_magic_is_named() {
        let mut bytes = file().to_bytes().unwrap();
        bytes[..4].copy_from_slice(b"PK\x03\x04");
        assert_eq!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::BadMagic {
                found: b"PK\x03\x04".to_vec()
            })
        );
    }

    #[test]
    fn other_versions_are_refused_with_both_numbers() {
        for version in [0u16, 3] {
            let mut bytes = file().to_bytes().unwrap();
            bytes[4..6].copy_from_slice(&version.to_le_bytes());
            assert_eq!(
                ModelFile::from_bytes(&bytes).unwrap_err(),
                ModelIoError::UnsupportedVersion {
                    found: version.into(),
                    supported: 2
                }
            );
        }
        let mut bytes = file().to_bytes().unwrap();
        bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(
            ModelFile::from_bytes(&bytes).unwrap_err().to_string(),
            "model file format version 3 is not supported (this build reads versions 1 to 2)"
        );
        let text = file()
            .to_json()
            .unwrap()
            .replace("\"version\": 2", "\"version\": 7");
        assert!(matches!(
            ModelFile::from_json(&text),
            Err(ModelIoError::UnsupportedVersion { found: 7, .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = file().to_bytes().unwrap();
        for len in 0..bytes.len() {
            match ModelFile::from_bytes(&bytes[..len]) {
                Err(ModelIoError::Truncated { len: l, offset, .. }) => {
                    assert_eq!(l, len);
                    assert!(offset <= len);
                }
                other => panic!("prefix of {len} bytes gave {other:?}"),
            }
        }
        let text = file().to_json().unwrap();
        // The last byte is a newline, without which the document is complete.
        for len in 0..text.trim_end().len() {
            if text.is_char_boundary(len) {
                assert!(
                    ModelFile::from_json(&text[..len]).is_err(),
                    "JSON prefix {len}"
                );
            }
        }
    }

    #[test]
    fn corruption_is_caught_with_its_offset() {
        let good = file().to_bytes().unwrap();
        // A flipped bit in the item factors: well formed, but the checksum disagrees.
        let mut bytes = good.clone();
        let k = bytes.len() - 8 - 5;
        bytes[k] ^= 0x10;
        assert!(matches!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::Checksum { offset, .. }) if offset == good.len() - 8
        ));
        // A rank of zero.
        let mut bytes = good.clone();
        bytes[6..10].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::Corrupt { offset: 6, .. })
        ));
        // A huge user count must not allocate: it runs out of bytes instead.
        let mut bytes = good.clone();
        bytes[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::Truncated { .. })
        ));
        // Trailing garbage.
        let mut bytes = good.clone();
        bytes.push(0);
        assert_eq!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::TrailingBytes {
                offset: good.len(),
                extra: 1
            })
        );
        // Every single-byte change is refused, never a panic.
        for k in 0..good.len() {
            let mut bytes = good.clone();
            bytes[k] = bytes[k].wrapping_add(1);
            assert!(ModelFile::from_bytes(&bytes).is_err(), "byte {k}");
        }
    }

    #[test]
    fn bad_json_names_the_problem() {
        let syntax = ModelFile::from_json("{\"format\": \"affinity-model\",, }").unwrap_err();
        assert_eq!(
            syntax,
            ModelIoError::JsonSyntax {
                // The second comma, 0-based.
                offset: 28,
                what: "expected a key in double quotes".into()
            }
        );
        let text = file().to_json().unwrap();
        for (from, to, what) in [
            ("affinity-model", "other", "\"format\""),
            ("\"rank\": 3", "\"rank\": 0", "\"rank\""),
            ("\"rank\": 3", "\"rnak\": 3", "unknown key \"rnak\""),
            ("\"factors\": null", "\"factors\": [1]", "but the rank is 3"),
        ] {
            let err = ModelFile::from_json(&text.replacen(from, to, 1)).unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
        let deep = "[".repeat(10_000);
        assert!(matches!(
            ModelFile::from_json(&deep),
            Err(ModelIoError::JsonSyntax { .. })
        ));
        let dup = text.replacen(
            "\"id\": \"user \\\"1\\\"\"",
            "\"id\": \"user \\\"0\\\"\"",
            1,
        );
        assert!(matches!(
            ModelFile::from_json(&dup),
            Err(ModelIoError::Inconsistent(_))
        ));
    }

    #[test]
    fn inconsistent_files_are_not_written() {
        let mut f = file();
        f.item_factors.pop();
        assert!(matches!(f.to_bytes(), Err(ModelIoError::Inconsistent(_))));
        let mut f = file();
        f.user_factors[0] = f32::NAN;
        assert!(matches!(f.to_json(), Err(ModelIoError::Inconsistent(_))));
    }

    fn biased() -> (AlsModel, Ratings) {
        let (_, train) = fitted();
        let params = AlsParams {
            rank: 3,
            max_iter: 4,
            biases: true,
            ..AlsParams::default()
        };
        (als::fit(&train, &params.check().unwrap()), train)
    }

    /// A version 1 binary file written out byte by byte: rank 2, user "u" with factors
    /// (0.5, 2), item "a" with (2, 1), item "b" unfitted.
    fn version_1_bytes() -> Vec<u8> {
        let mut b = b"AFFM".to_vec();
        b.extend_from_slice(&1u16.to_le_bytes());
        for v in [2u32, 1, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for id in ["u", "a", "b"] {
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(id.as_bytes());
        }
        b.extend_from_slice(&[1, 1, 0]);
        for v in [0.5f32, 2.0, 2.0, 1.0, 0.0, 0.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let checksum = fnv1a(&b);
        b.extend_from_slice(&checksum.to_le_bytes());
        b
    }

    #[test]
    fn version_1_files_still_read_as_models_without_biases() {
        let f = ModelFile::from_bytes(&version_1_bytes()).unwrap();
        assert_eq!(f.rank, 2);
        assert_eq!(f.user_ids, vec!["u".to_owned()]);
        assert_eq!(f.item_ids, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(f.biases, None);
        assert_eq!(ModelFile::from_any(&version_1_bytes()).unwrap(), f);
        let (model, users, items) = f.into_model().unwrap();
        let (u, a, b) = (
            users.get("u").unwrap(),
            items.get("a").unwrap(),
            items.get("b").unwrap(),
        );
        assert_eq!(model.predict(u, a), Some(0.5 * 2.0 + 2.0 * 1.0));
        assert_eq!(model.predict(u, b), None);
        assert!(!model.has_biases());
        // Version 1 JSON cannot carry biases.
        let v1 = r#"{"format": "affinity-model", "version": 1, "rank": 1,
            "users": [{"id": "u", "factors": [2]}], "items": [{"id": "a", "factors": [1.5]}]}"#;
        let f = ModelFile::from_json(v1).unwrap();
        assert_eq!(f.user_factors(0), Some(&[2.0f32][..]));
        assert_eq!(f.biases, None);
        let with_mean = v1.replace("\"rank\": 1,", "\"rank\": 1, \"global_mean\": 3,");
        let err = ModelFile::from_json(&with_mean).unwrap_err();
        assert!(err.to_string().contains("needs format version 2"), "{err}");
        let with_bias = v1.replace("{\"id\": \"u\",", "{\"id\": \"u\", \"bias\": 1,");
        let err = ModelFile::from_json(&with_bias).unwrap_err();
        assert!(err.to_string().contains("unknown key \"bias\""), "{err}");
    }

    #[test]
    fn biases_round_trip_exactly_in_both_formats() {
        let (model, train) = biased();
        let f = ModelFile::from_model(&model, train.users().ids(), train.items().ids()).unwrap();
        assert!(f.biases.is_some());
        let bytes = f.to_bytes().unwrap();
        let n = 13 + 10;
        assert_eq!(
            bytes[bytes.len() - 8 - 4 * (1 + n) - 1],
            1,
            "the biases flag"
        );
        assert_eq!(ModelFile::from_bytes(&bytes).unwrap(), f);
        let text = f.to_json().unwrap();
        assert!(text.contains(&format!("\"global_mean\": {},", model.global_mean())));
        assert!(text.contains("{\"id\": \"ghost\", \"bias\": 0, \"factors\": null}"));
        assert_eq!(ModelFile::from_json(&text).unwrap(), f);
        assert_eq!(ModelFile::from_any(text.as_bytes()).unwrap(), f);
    }

    #[test]
    fn bad_biases_are_named() {
        let (model, train) = biased();
        let good = ModelFile::from_model(&model, train.users().ids(), train.items().ids()).unwrap();
        let text = good.to_json().unwrap();
        // Biases without a global mean.
        let start = text.find("\"global_mean\"").unwrap();
        let end = start + text[start..].find('\n').unwrap() + 1;
        let without_mean = format!("{}{}", &text[..start], &text[end..]);
        let err = ModelFile::from_json(&without_mean).unwrap_err();
        assert!(
            err.to_string()
                .contains("users[0] has a \"bias\", but the file has no \"global_mean\""),
            "{err}"
        );
        // A global mean with one bias missing.
        let (_, rest) = text.split_once("\"id\": \"ghost\", \"bias\": 0, ").unwrap();
        let missing = format!(
            "{}\"id\": \"ghost\", {rest}",
            &text[..text.find("\"id\": \"ghost\"").unwrap()]
        );
        let err = ModelFile::from_json(&missing).unwrap_err();
        assert!(
            err.to_string()
                .contains("has no \"bias\", but the file has a \"global_mean\""),
            "{err}"
        );
        // A bias flag that is neither 0 nor 1.
        let mut bytes = good.to_bytes().unwrap();
        let flag_at = bytes.len() - 8 - 4 * (1 + 13 + 10) - 1;
        bytes[flag_at] = 2;
        assert!(matches!(
            ModelFile::from_bytes(&bytes),
            Err(ModelIoError::Corrupt { offset, .. }) if offset == flag_at
        ));
        // Biases that do not fit are not written.
        let mut f = good.clone();
        f.biases.as_mut().unwrap().item.pop();
        assert_eq!(
            f.to_bytes(),
            Err(ModelIoError::Inconsistent(
                "10 item ids but 9 item biases".into()
            ))
        );
        let mut f = good;
        f.biases.as_mut().unwrap().user[1] = f32::INFINITY;
        assert!(matches!(f.to_json(), Err(ModelIoError::Inconsistent(_))));
        assert!(matches!(f.into_model(), Err(ModelIoError::Inconsistent(_))));
    }

    #[test]
    fn a_saved_then_loaded_model_predicts_exactly_as_the_original() {
        for (model, train) in [fitted(), biased()] {
            let f =
                ModelFile::from_model(&model, train.users().ids(), train.items().ids()).unwrap();
            let from_binary = ModelFile::from_bytes(&f.to_bytes().unwrap()).unwrap();
            let from_json = ModelFile::from_json(&f.to_json().unwrap()).unwrap();
            for loaded in [from_binary, from_json] {
                let (back, users, items) = loaded.into_model().unwrap();
                assert_eq!(users.ids(), train.users().ids());
                assert_eq!(items.ids(), train.items().ids());
                assert_eq!(back.has_biases(), model.has_biases());
                assert_eq!(back.biases(), model.biases());
                // One past the end on each side checks that out-of-range rows stay None.
                for u in 0..=model.n_users() as u32 {
                    for i in 0..=model.n_items() as u32 {
                        let (a, b) = (model.predict(u, i), back.predict(u, i));
                        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "({u}, {i})");
                    }
                    assert_eq!(
                        back.recommend(u, 5, |i| i % 4 == 0),
                        model.recommend(u, 5, |i| i % 4 == 0)
                    );
                }
            }
        }
        // The ghost user is cold in both.
        let (model, train) = biased();
        let ghost = train.users().get("ghost").unwrap();
        assert_eq!(model.predict(ghost, 0), None);
    }
}
