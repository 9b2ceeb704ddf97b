//! Mapping between the ids found in a file (any string) and dense indices.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

/// A bijection between external ids and the dense indices `0..len()` the engine works with.
///
/// Indices are handed out in order of first appearance, so a map extended with new ids keeps
/// every index it already gave.
///
/// Each id is kept once, in index order; the hash table holds only indices into that list.
/// Reading a file looks up two ids per rating, and a page rebuilds the map of a worker's
/// hundreds of thousands of ids: a `HashMap<String, u32>` beside the list cost a second copy
/// of every id and SipHash, which guards against colliding keys chosen by an attacker, but
/// the ids here are the visitor's own.
///
/// Clones share the ids until one of them interns a new id: every part cut from a table
/// (a split, each fold of a cross-validation) holds the table's maps, and a copy of every id
/// for each part cost a browser worker tens of megabytes and a millisecond per fold on
/// MovieLens 100K.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct IdMap {
    inner: Arc<Ids>,
}

/// The ids of an [`IdMap`], shared by its clones.
#[derive(Clone, Debug, Default)]
struct Ids {
    ids: Vec<String>,
    index: HashTable<Slot>,
}

/// An entry of the hash table: an id's index, beside its [`Key`] so that a lookup of a short
/// id compares it in place. With the index alone, every lookup went to the id's own heap
/// block to compare it: two cache misses per rating on a file with hundreds of thousands
/// of ids, and over half the time of reading one.
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: Key,
    idx: u32,
}

/// An id of up to [`Key::WHOLE`] bytes whole, zero-padded, with its length in the last byte;
/// of a longer id, its first bytes and [`Key::LONG`] there (its lookups then compare the id
/// itself too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key([u32; 4]);

impl Key {
    const WHOLE: usize = 15;
    const LONG: u8 = u8::MAX;

    fn of(id: &str) -> Self {
        let bytes = id.as_bytes();
        let mut packed = [0u8; 16];
        let n = bytes.len().min(Self::WHOLE);
        packed[..n].copy_from_slice(&bytes[..n]);
        packed[15] = if bytes.len() <= Self::WHOLE {
            bytes.len() as u8
        } else {
            Self::LONG
        };
        let word = |i: usize| u32::from_le_bytes(packed[4 * i..4 * i + 4].try_into().unwrap());
        Key([word(0), word(1), word(2), word(3)])
    }

    fn is_whole(self) -> bool {
        self.0[3] >> 24 != u32::from(Self::LONG)
    }

    /// The hash of the id this key was made from (`id`).
    fn hash(self, id: &str) -> u64 {
        if self.is_whole() {
            FxBuildHasher.hash_one(self.0)
        } else {
            FxBuildHasher.hash_one(id)
        }
    }
}

/// Finds `id` (whose key is `key`) in `index`.
fn find<'t>(index: &'t HashTable<Slot>, ids: &[String], id: &str, key: Key) -> Option<&'t Slot> {
    index.find(key.hash(id), holds(ids, id, key))
}

/// Whether a slot holds `id` (whose key is `key`): its key alone tells for a short id.
fn holds<'a>(ids: &'a [String], id: &'a str, key: Key) -> impl Fn(&Slot) -> bool + 'a {
    move |s| s.key == key && (key.is_whole() || ids[s.idx as usize] == id)
}

/// The hash of the id a slot holds, for the table's growth.
fn rehash(ids: &[String]) -> impl Fn(&Slot) -> u64 + '_ {
    |s| s.key.hash(&ids[s.idx as usize])
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, adding it when it is new.
    pub fn intern(&mut self, id: &str) -> u32 {
        let key = Key::of(id);
        // Looked up first: a known id (most of a file's) needs no write access, so a map
        // shared with its clones is copied only for an id it lacks.
        if let Some(slot) = find(&self.inner.index, &self.inner.ids, id, key) {
            return slot.idx;
        }
        let Ids { ids, index } = Arc::make_mut(&mut self.inner);
        let idx = u32::try_from(ids.len()).expect("more than u32::MAX distinct ids");
        index.insert_unique(key.hash(id), Slot { key, idx }, rehash(ids));
        ids.push(id.to_owned());
        idx
    }

    /// The index of `id`, if it is known.
    pub fn get(&self, id: &str) -> Option<u32> {
        let Ids { ids, index } = &*self.inner;
        find(index, ids, id, Key::of(id)).map(|s| s.idx)
    }

    /// The external id behind `idx`.
    ///
    /// # Panics
    /// When `idx` was not handed out by this map.
    pub fn id(&self, idx: u32) -> &str {
        &self.inner.ids[idx as usize]
    }

    /// How many ids the map holds.
    pub fn len(&self) -> usize {
        self.inner.ids.len()
    }

    /// Whether the map holds no id.
    pub fn is_empty(&self) -> bool {
        self.inner.ids.is_empty()
    }

    /// The ids in index order.
    pub fn ids(&self) -> &[String] {
        &self.inner.ids
    }
}

impl From<Vec<String>> for IdMap {
    /// The map that interns `ids` in order (a repeated id keeps its first index). Built in
    /// one hash per id, with room reserved and no id copied: a stored dataset or model
    /// brings hundreds of thousands of ids this way.
    fn from(ids: Vec<String>) -> Self {
        let mut map = Ids {
            ids: Vec::with_capacity(ids.len()),
            index: HashTable::with_capacity(ids.len()),
        };
        for id in ids {
            let Ids { ids, index } = &mut map;
            let key = Key::of(&id);
            if let Entry::Vacant(slot) =
                index.entry(key.hash(&id), holds(ids, &id, key), rehash(ids))
            {
                let idx = u32::try_from(ids.len()).expect("more than u32::MAX distinct ids");
                slot.insert(Slot { key, idx });
                ids.push(id);
            }
        }
        IdMap {
            inner: Arc::new(map),
        }
    }
}

impl From<IdMap> for Vec<String> {
    fn from(map: IdMap) -> Self {
        match Arc::try_unwrap(map.inner) {
            Ok(ids) => ids.ids,
            Err(shared) => shared.ids.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_first_appearance_and_round_trip() {
        let mut map = IdMap::new();
        assert_eq!(map.intern("42"), 0);
        assert_eq!(map.intern("ann"), 1);
        assert_eq!(map.intern("42"), 0);
        assert_eq!(map.len(), 2);
        assert_eq!(map.id(1), "ann");
        assert_eq!(map.get("ann"), Some(1));
        assert_eq!(map.get("bob"), None);
    }

    #[test]
    fn clones_share_ids_until_one_interns_a_new_one() {
        let mut map = IdMap::new();
        map.intern("a");
        map.intern("b");
        let mut other = map.clone();
        assert!(Arc::ptr_eq(&map.inner, &other.inner));
        // Known ids are found without a copy.
        assert_eq!(other.intern("b"), 1);
        assert!(Arc::ptr_eq(&map.inner, &other.inner));
        // A new id goes to the clone alone.
        assert_eq!(other.intern("c"), 2);
        assert!(!Arc::ptr_eq(&map.inner, &other.inner));
        assert_eq!((map.len(), other.len()), (2, 3));
        assert_eq!(map.get("c"), None);
        assert_eq!(other.get("c"), Some(2));
        assert_eq!(other.id(0), "a");
    }

    #[test]
    fn ids_of_every_length_are_told_apart() {
        // Around the 15 bytes kept whole in a key: long ids sharing their first 15 bytes,
        // ids that differ only in length or in a trailing NUL, and multi-byte characters.
        let base = "abcdefghijklmnopqrstuvwxyz";
        let mut ids: Vec<String> = (0..=base.len()).map(|n| base[..n].to_owned()).collect();
        ids.extend(["abcdefghijklmnoX", "abcdefghijklmnoY", "abcdefghijklmno\0"].map(String::from));
        ids.extend(["a\0", "\0", "\0\0", "é", "日本語のアイテム番号一二三"].map(String::from));
        ids.extend((0..2000).map(|i| format!("{i}")));
        ids.extend((0..2000).map(|i| format!("a-rather-long-id-{i:06}")));
        let mut map = IdMap::new();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(map.intern(id), n as u32, "{id:?}");
        }
        for (n, id) in ids.iter().enumerate().rev() {
            assert_eq!(map.intern(id), n as u32, "{id:?}");
            assert_eq!(map.get(id), Some(n as u32), "{id:?}");
            assert_eq!(map.id(n as u32), id);
        }
        assert_eq!(map.len(), ids.len());
        for absent in [
            "abcdefghijklmnoZ",
            "abcdefghijklmnopqrstuvwxyz!",
            "a\0\0",
            "2000",
        ] {
            assert_eq!(map.get(absent), None, "{absent:?}");
        }
        // The same map built from the list.
        let rebuilt = IdMap::from(ids.clone());
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(rebuilt.get(id), Some(n as u32), "{id:?}");
        }
    }

    #[test]
    fn serialises_as_the_id_list() {
        let mut map = IdMap::new();
        map.intern("x");
        map.intern("y");
        let ids: Vec<String> = map.clone().into();
        let back = IdMap::from(ids);
        assert_eq!(back.get("y"), Some(1));
        // A repeated id keeps its first index, as interning it again would.
        let repeats = IdMap::from(vec!["a".into(), "b".into(), "a".into(), "c".into()]);
        assert_eq!(repeats.ids(), ["a", "b", "c"]);
        assert_eq!((repeats.get("a"), repeats.get("c")), (Some(0), Some(2)));
    }
}
