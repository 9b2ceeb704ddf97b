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
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Catalog {
    items: HashMap<String, ItemInfo>,
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
}
