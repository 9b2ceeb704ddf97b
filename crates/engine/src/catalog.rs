//! Item metadata: titles and categories, looked up by item id.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What a person sees of an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemInfo {
    /// Display title.
    pub title: String,
    /// Categories (genres), possibly none.
    pub categories: Vec<String>,
}

/// Titles and categories of items, keyed by the item ids of a ratings file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    items: HashMap<String, ItemInfo>,
    /// The type of items whose file says (movie, book, ...); absent from older saved catalogs.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    kinds: HashMap<String, String>,
}

impl Catalog {
    /// Adds or replaces the information of `item_id`.
    pub fn insert(&mut self, item_id: impl Into<String>, info: ItemInfo) {
        self.items.insert(item_id.into(), info);
    }

    /// The information of `item_id`, if any.
    pub fn get(&self, item_id: &str) -> Option<&ItemInfo> {
        self.items.get(item_id)
    }

    /// Number of items described.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item is described.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Records the type of `item_id` (a "type" column of a metadata file: movie, book, ...).
    pub fn set_kind(&mut self, item_id: impl Into<String>, kind: impl Into<String>) {
        self.kinds.insert(item_id.into(), kind.into());
    }

    /// The type of `item_id`, if its file gave one.
    pub fn kind(&self, item_id: &str) -> Option<&str> {
        self.items
            .contains_key(item_id)
            .then(|| self.kinds.get(item_id).map(String::as_str))
            .flatten()
    }

    /// Every described item with its information, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ItemInfo)> + '_ {
        self.items.iter().map(|(id, info)| (id.as_str(), info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_belong_to_described_items() {
        let mut c = Catalog::default();
        let info = ItemInfo {
            title: "Dune".into(),
            categories: vec!["Sci-Fi".into()],
        };
        c.insert("1", info.clone());
        c.set_kind("1", "book");
        c.set_kind("2", "movie");
        assert_eq!(c.kind("1"), Some("book"));
        assert_eq!(c.kind("2"), None, "item 2 is not described");
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![("1", &info)]);
    }
}
