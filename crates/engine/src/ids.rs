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
    index: HashTable<u32>,
}

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `id`, adding it when it is new.
    pub fn intern(&mut self, id: &str) -> u32 {
        let h = hash(id);
        // Looked up first: a known id (most of a file's) needs no write access, so a map
        // shared with its clones is copied only for an id it lacks.
        if let Some(&idx) = self
            .inner
            .index
            .find(h, |&k| self.inner.ids[k as usize] == id)
        {
            return idx;
        }
        let Ids { ids, index } = Arc::make_mut(&mut self.inner);
        let idx = u32::try_from(ids.len()).expect("more than u32::MAX distinct ids");
        index.insert_unique(h, idx, |&k| hash(&ids[k as usize]));
        ids.push(id.to_owned());
        idx
    }

    /// The index of `id`, if it is known.
    pub fn get(&self, id: &str) -> Option<u32> {
        let Ids { ids, index } = &*self.inner;
        index.find(hash(id), |&k| ids[k as usize] == id).copied()
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
    /// one hash per id, with room reserved and no id copied: a page takes hundreds of
    /// thousands of ids this way from the worker that read a file.
    fn from(ids: Vec<String>) -> Self {
        let mut map = Ids {
            ids: Vec::with_capacity(ids.len()),
            index: HashTable::with_capacity(ids.len()),
        };
        for id in ids {
            let Ids { ids, index } = &mut map;
            if let Entry::Vacant(slot) = index.entry(
                hash(&id),
                |&k| ids[k as usize] == id,
                |&k| hash(&ids[k as usize]),
            ) {
                slot.insert(u32::try_from(ids.len()).expect("more than u32::MAX distinct ids"));
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
