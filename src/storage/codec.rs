//! Compact binary encoding of a ratings table for the browser's database.
//!
//! # Format, version 1 (integers and floats little-endian)
//!
//! | bytes          | content                                                  |
//! |----------------|----------------------------------------------------------|
//! | 4              | magic `AFFD`                                             |
//! | 2              | format version (`u16`, 1)                                |
//! | 4 + 4 + 4      | users, items, ratings (`u32`)                            |
//! | per user, item | id: byte length (`u32`) then UTF-8 bytes                 |
//! | 4 · ratings    | user index of each rating (`u32`)                        |
//! | 4 · ratings    | item index of each rating (`u32`)                        |
//! | 4 · ratings    | rating value (`f32`)                                     |
//! | 8              | FNV-1a 64 checksum of every byte before it               |
//!
//! The columns are the engine's own ([`Ratings`]), so a stored table is about 12 bytes a
//! rating plus its ids, and decoding rebuilds the exact table: same indices, same order.

use std::borrow::Cow;
use std::collections::HashSet;

use bytemuck::Pod;

use affinity_engine::ids::IdMap;
use affinity_engine::Ratings;
use thiserror::Error;

/// First four bytes of an encoded ratings table.
pub const MAGIC: [u8; 4] = *b"AFFD";
/// The version this build writes and reads.
pub const VERSION: u16 = 1;

/// Why stored bytes are not a ratings table.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum CodecError {
    /// The bytes do not start with `AFFD`.
    #[error("not a stored ratings table (magic bytes {found:?})")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// Written by a newer build.
    #[error(
        "stored ratings table version {0} is not supported (this build reads version {VERSION})"
    )]
    UnsupportedVersion(u16),
    /// The bytes end before a part they announce.
    #[error("stored ratings table is truncated: {what} at byte {offset} needs {needed} bytes, {len} in all")]
    Truncated {
        /// The part being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: u64,
        /// Length of the record.
        len: usize,
    },
    /// The checksum does not match: the record was damaged.
    #[error("stored ratings table is damaged: checksum mismatch")]
    Checksum,
    /// A value is impossible (bad UTF-8, duplicate id, index out of range, non-finite rating).
    #[error("stored ratings table is corrupt: {0}")]
    Corrupt(String),
}

/// The bytes of `ratings`.
pub fn encode_ratings(ratings: &Ratings) -> Vec<u8> {
    EncodedParts::of(ratings).parts().concat()
}

/// The bytes of a ratings table as [`encode_ratings`] writes them, in five parts: the header
/// with the ids, the three columns borrowed from the table as they lie in memory, and the
/// checksum. A browser worker makes the stored `Blob` straight from views of them: the
/// whole encoding in WebAssembly memory, then copied into JavaScript for the `Blob` to copy
/// again, took 600 MB twice and five seconds for a file of 50 million ratings.
pub struct EncodedParts<'a> {
    head: Vec<u8>,
    columns: [Cow<'a, [u8]>; 3],
    checksum: [u8; 8],
}

impl<'a> EncodedParts<'a> {
    /// The parts of `ratings`' encoding.
    pub fn of(ratings: &'a Ratings) -> Self {
        let ids_len: usize = ratings
            .users()
            .ids()
            .iter()
            .chain(ratings.items().ids())
            .map(|s| 4 + s.len())
            .sum();
        let mut head = Vec::with_capacity(18 + ids_len);
        head.extend_from_slice(&MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        for n in [ratings.n_users(), ratings.n_items(), ratings.len()] {
            head.extend_from_slice(&(n as u32).to_le_bytes());
        }
        for id in ratings.users().ids().iter().chain(ratings.items().ids()) {
            head.extend_from_slice(&(id.len() as u32).to_le_bytes());
            head.extend_from_slice(id.as_bytes());
        }
        let columns = [
            little_endian(ratings.user_indices(), |u| u.to_le_bytes()),
            little_endian(ratings.item_indices(), |i| i.to_le_bytes()),
            little_endian(ratings.values(), |v| v.to_le_bytes()),
        ];
        let sum = columns
            .iter()
            .fold(fnv1a(FNV_OFFSET, &head), |h, c| fnv1a(h, c));
        EncodedParts {
            head,
            columns,
            checksum: sum.to_le_bytes(),
        }
    }

    /// The parts in order: written one after the other, they are the encoding.
    pub fn parts(&self) -> [&[u8]; 5] {
        let [users, items, values] = &self.columns;
        [&self.head, users, items, values, &self.checksum]
    }
}

/// The little-endian bytes of `column`: the column itself on a little-endian machine (as
/// WebAssembly is), a converted copy elsewhere.
fn little_endian<T: Pod>(column: &[T], to_le: impl Fn(&T) -> [u8; 4]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(column))
    } else {
        Cow::Owned(column.iter().flat_map(to_le).collect())
    }
}

/// The ratings table `bytes` encode, checked: nothing in it can make the engine panic later.
pub fn decode_ratings(bytes: &[u8]) -> Result<Ratings, CodecError> {
    if bytes.len() < 4 || bytes[..4] != MAGIC {
        return Err(CodecError::BadMagic {
            found: bytes[..bytes.len().min(4)].to_vec(),
        });
    }
    let mut r = Reader { bytes, pos: 4 };
    let version = u16::from_le_bytes(r.take("version", 2)?.try_into().expect("2 bytes"));
    if version != VERSION {
        return Err(CodecError::UnsupportedVersion(version));
    }
    if bytes.len() < 14 {
        return Err(r.truncated("counts", 12));
    }
    let body = &bytes[..bytes.len().saturating_sub(8)];
    let stored = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("8 bytes"));
    if bytes.len() < 8 + 6 || fnv1a(FNV_OFFSET, body) != stored {
        return Err(CodecError::Checksum);
    }
    let mut r = Reader {
        bytes: body,
        pos: 6,
    };
    let n_users = r.u32("user count")? as usize;
    let n_items = r.u32("item count")? as usize;
    let n = r.u32("rating count")? as usize;
    let users = r.ids("user id", n_users)?;
    let items = r.ids("item id", n_items)?;
    let user_idx = r.column("user indices", n)?;
    let item_idx = r.column("item indices", n)?;
    let values = r.column("rating values", n)?;
    if r.pos != body.len() {
        return Err(CodecError::Corrupt(format!(
            "{} bytes left over after the ratings",
            body.len() - r.pos
        )));
    }
    let mut out = Ratings::with_maps(users, items);
    for k in 0..n {
        let (u, i) = (user_idx[k], item_idx[k]);
        let v = f32::from_bits(values[k]);
        if u as usize >= n_users || i as usize >= n_items {
            return Err(CodecError::Corrupt(format!(
                "rating {k} refers to user {u} or item {i}, beyond {n_users} users and {n_items} items"
            )));
        }
        if !v.is_finite() {
            return Err(CodecError::Corrupt(format!("rating {k} is {v}")));
        }
        out.push_indexed(u, i, v);
    }
    Ok(out)
}

/// FNV-1a, 64 bits: catches a damaged record, not an attacker.
/// FNV-1a 64's starting state.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64 of `bytes` continued from the state `h` (the hash of the bytes before them).
fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self, what: &'static str, needed: u64) -> CodecError {
        CodecError::Truncated {
            what,
            offset: self.pos,
            needed,
            len: self.bytes.len(),
        }
    }

    fn take(&mut self, what: &'static str, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.truncated(what, n as u64))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(
            self.take(what, 4)?.try_into().expect("4 bytes"),
        ))
    }

    fn ids(&mut self, what: &'static str, n: usize) -> Result<IdMap, CodecError> {
        // Each id takes at least 4 bytes: a hostile count cannot make us allocate much.
        if n > (self.bytes.len() - self.pos) / 4 {
            return Err(self.truncated(what, 4 * n as u64));
        }
        let mut ids = Vec::with_capacity(n);
        let mut seen = HashSet::with_capacity(n);
        for _ in 0..n {
            let len = self.u32(what)? as usize;
            let raw = self.take(what, len)?;
            let id = std::str::from_utf8(raw)
                .map_err(|_| CodecError::Corrupt(format!("a {what} is not UTF-8")))?;
            if !seen.insert(id) {
                return Err(CodecError::Corrupt(format!("{what} {id:?} appears twice")));
            }
            ids.push(id.to_owned());
        }
        Ok(IdMap::from(ids))
    }

    fn column(&mut self, what: &'static str, n: usize) -> Result<Vec<u32>, CodecError> {
        let raw = self.take(what, n.saturating_mul(4))?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ratings {
        let mut r = Ratings::default();
        r.push("ann", "dune", 4.5);
        r.push("bob", "alien", 2.0);
        r.push("ann", "alien", 3.0);
        r.push("zoë", "dune", 5.0);
        r
    }

    #[test]
    fn round_trip_keeps_ids_indices_and_values() {
        let r = sample();
        let bytes = encode_ratings(&r);
        // 26 bytes of header and checksum, 4 ratings × 12 bytes, ids with their lengths.
        let ids = ["ann", "bob", "zoë", "dune", "alien"]
            .iter()
            .map(|s| 4 + s.len())
            .sum::<usize>();
        assert_eq!(bytes.len(), 26 + 48 + ids);
        let back = decode_ratings(&bytes).unwrap();
        assert_eq!(back.users().ids(), r.users().ids());
        assert_eq!(back.items().ids(), r.items().ids());
        assert_eq!(back.user_indices(), r.user_indices());
        assert_eq!(back.item_indices(), r.item_indices());
        assert_eq!(back.values(), r.values());
        assert_eq!(back.users().get("zoë"), Some(2));
    }

    #[test]
    fn the_format_is_the_one_stored_by_earlier_builds() {
        // The sample as the build of 2026-12-04 (d1149ac) wrote it: datasets visitors
        // stored then must still decode, so the bytes may not change.
        let stored = "41464644010003000000020000000400000003000000616e6e03000000626f62040000007a6f\
                      c3ab0400000064756e6505000000616c69656e0000000001000000000000000200000000000000\
                      0100000001000000000000000000904000000040000040400000a0404aefff6b04c41f8e";
        let table = sample();
        let bytes = encode_ratings(&table);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, stored);
        let parts = EncodedParts::of(&table);
        assert_eq!(parts.parts().concat(), bytes);
        // Four ratings: each column part is one column, 16 bytes.
        assert_eq!(parts.parts().map(<[u8]>::len)[1..4], [16, 16, 16]);
    }

    #[test]
    fn empty_table_round_trips() {
        let back = decode_ratings(&encode_ratings(&Ratings::default())).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn a_flipped_byte_is_caught_by_the_checksum() {
        let mut bytes = encode_ratings(&sample());
        let k = bytes.len() - 12;
        bytes[k] ^= 0x40;
        assert_eq!(decode_ratings(&bytes).unwrap_err(), CodecError::Checksum);
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let bytes = encode_ratings(&sample());
        for len in 0..bytes.len() {
            assert!(decode_ratings(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        assert!(matches!(
            decode_ratings(b"PK\x03\x04rest"),
            Err(CodecError::BadMagic { .. })
        ));
        let mut bytes = encode_ratings(&sample());
        bytes[4] = 9;
        assert_eq!(
            decode_ratings(&bytes).unwrap_err(),
            CodecError::UnsupportedVersion(9)
        );
    }

    #[test]
    fn out_of_range_index_with_a_valid_checksum_is_corrupt() {
        let r = sample();
        let mut bytes = encode_ratings(&r);
        bytes.truncate(bytes.len() - 8);
        // First user index sits after the header (18 bytes) and the ids.
        let ids: usize = r
            .users()
            .ids()
            .iter()
            .chain(r.items().ids())
            .map(|s| 4 + s.len())
            .sum();
        bytes[18 + ids..18 + ids + 4].copy_from_slice(&7u32.to_le_bytes());
        let sum = fnv1a(FNV_OFFSET, &bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let err = decode_ratings(&bytes).unwrap_err();
        assert!(
            matches!(&err, CodecError::Corrupt(m) if m.contains("user 7")),
            "{err}"
        );
    }
}
