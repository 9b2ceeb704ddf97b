//! The browser's database (IndexedDB, through `rexie`): three object stores and the few
//! operations the library needs.
//!
//! Schema, version [`SCHEMA_VERSION`]:
//! - `entries`: entry id → encoded [`Entry`] header (small; listing reads only these);
//! - `blobs`: blob id → bytes (encoded ratings, item metadata JSON, binary model files);
//! - `meta`: `"pointer"` → encoded [`Pointer`], the dataset and model to resume.
//!
//! Upgrade path: the schema is declared, not scripted. Opening with a higher version makes
//! `rexie` create the stores that are missing and drop the ones no longer declared; a change
//! to a record's layout is a new [`super::records::RECORD_VERSION`] migrated on read.
//!
//! Every write is one transaction: blobs, entries and the pointer land together or not at
//! all, so a write that fails (quota) leaves every stored record as it was. Records are
//! written under new ids and the pointer is switched last, never overwritten in place.

use rexie::{ObjectStore, Rexie, TransactionMode};
use thiserror::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::records::{self, Entry, Pointer};

/// Name of the database.
pub const DB_NAME: &str = "affinity";
/// Version of the schema above.
pub const SCHEMA_VERSION: u32 = 1;
const ENTRIES: &str = "entries";
const BLOBS: &str = "blobs";
const META: &str = "meta";
const POINTER_KEY: &str = "pointer";

/// What went wrong with the browser's storage, worded for the visitor.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum StorageError {
    /// No IndexedDB (a private window, storage turned off) or it refused to open.
    #[error("this browser does not let the page store anything (a private window, or site data turned off): {0}")]
    Unavailable(String),
    /// The origin's quota is used up.
    #[error("the browser's storage for this page is full{0}")]
    QuotaExceeded(String),
    /// A stored record cannot be read.
    #[error("the stored {what} is damaged ({why})")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it does not decode.
        why: String,
    },
    /// Any other refusal of the database.
    #[error("the browser's database could not {action}: {message}")]
    Failed {
        /// What was attempted.
        action: &'static str,
        /// What the browser said.
        message: String,
    },
}

fn classify(action: &'static str, e: rexie::Error) -> StorageError {
    let message = match &e {
        rexie::Error::IdbError(inner) => inner.to_string(),
        other => other.to_string(),
    };
    if message.contains("QuotaExceeded") || message.to_ascii_lowercase().contains("quota") {
        StorageError::QuotaExceeded(String::new())
    } else {
        StorageError::Failed { action, message }
    }
}

/// An open database.
pub struct Db {
    rexie: Rexie,
}

/// Everything the entries store holds: readable entries, and the ids of unreadable ones.
pub struct Listing {
    /// Entries that decoded, oldest first.
    pub entries: Vec<Entry>,
    /// Ids of entries that did not decode, with the reason.
    pub damaged: Vec<(String, String)>,
}

impl Db {
    /// Opens (creating or upgrading) the database.
    pub async fn open() -> Result<Self, StorageError> {
        let has_idb = web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w, &JsValue::from_str("indexedDB")).ok())
            .is_some_and(|v| !v.is_undefined() && !v.is_null());
        if !has_idb {
            return Err(StorageError::Unavailable("no IndexedDB".into()));
        }
        let rexie = Rexie::builder(DB_NAME)
            .version(SCHEMA_VERSION)
            .add_object_store(ObjectStore::new(ENTRIES))
            .add_object_store(ObjectStore::new(BLOBS))
            .add_object_store(ObjectStore::new(META))
            .build()
            .await
            .map_err(|e| StorageError::Unavailable(classify("open", e).to_string()))?;
        Ok(Self { rexie })
    }

    /// Every entry, oldest first.
    pub async fn list(&self) -> Result<Listing, StorageError> {
        let tx = self
            .rexie
            .transaction(&[ENTRIES], TransactionMode::ReadOnly)
            .map_err(|e| classify("read the library", e))?;
        let store = tx
            .store(ENTRIES)
            .map_err(|e| classify("read the library", e))?;
        let keys = store
            .get_all_keys(None, None)
            .await
            .map_err(|e| classify("read the library", e))?;
        let values = store
            .get_all(None, None)
            .await
            .map_err(|e| classify("read the library", e))?;
        let mut listing = Listing {
            entries: Vec::new(),
            damaged: Vec::new(),
        };
        for (key, value) in keys.iter().zip(values) {
            let id = key.as_string().unwrap_or_default();
            match bytes_of(&value).map(|b| records::decode::<Entry>(&b)) {
                Some(Ok(entry)) => listing.entries.push(entry),
                Some(Err(e)) => listing.damaged.push((id, e.to_string())),
                None => listing.damaged.push((id, "not a byte array".into())),
            }
        }
        listing
            .entries
            .sort_by(|a, b| a.created_ms.total_cmp(&b.created_ms));
        Ok(listing)
    }

    /// The bytes of blob `key`.
    pub async fn blob(&self, key: &str, what: &str) -> Result<Vec<u8>, StorageError> {
        let value = self.record(key, what).await?;
        // A large dataset is stored as a `Blob` (see `Change::file_blobs`), read off the
        // page's thread; anything else as bytes.
        if let Some(file) = value.dyn_ref::<web_sys::Blob>() {
            let buffer =
                JsFuture::from(file.array_buffer())
                    .await
                    .map_err(|e| StorageError::Failed {
                        action: "read a record",
                        message: format!("{e:?}"),
                    })?;
            return Ok(js_sys::Uint8Array::new(&buffer).to_vec());
        }
        bytes_of(&value).ok_or_else(|| missing(what))
    }

    /// The record `key` as a `Blob`, for a worker to read without the page copying its
    /// bytes: a large dataset is stored as one; a record stored as bytes comes wrapped in one.
    pub async fn blob_handle(&self, key: &str, what: &str) -> Result<web_sys::Blob, StorageError> {
        let value = self.record(key, what).await?;
        if let Some(blob) = value.dyn_ref::<web_sys::Blob>() {
            return Ok(blob.clone());
        }
        let bytes = value
            .dyn_ref::<js_sys::Uint8Array>()
            .ok_or_else(|| missing(what))?;
        web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(bytes)).map_err(|e| {
            StorageError::Failed {
                action: "read a record",
                message: format!("{e:?}"),
            }
        })
    }

    /// The value stored under `key` in the blob store.
    async fn record(&self, key: &str, what: &str) -> Result<JsValue, StorageError> {
        let tx = self
            .rexie
            .transaction(&[BLOBS], TransactionMode::ReadOnly)
            .map_err(|e| classify("read a record", e))?;
        let store = tx.store(BLOBS).map_err(|e| classify("read a record", e))?;
        let value = store
            .get(JsValue::from_str(key))
            .await
            .map_err(|e| classify("read a record", e))?;
        value.ok_or_else(|| missing(what))
    }

    /// The resume pointer (empty when none or unreadable).
    pub async fn pointer(&self) -> Result<Pointer, StorageError> {
        let tx = self
            .rexie
            .transaction(&[META], TransactionMode::ReadOnly)
            .map_err(|e| classify("read the library", e))?;
        let store = tx
            .store(META)
            .map_err(|e| classify("read the library", e))?;
        let value = store
            .get(JsValue::from_str(POINTER_KEY))
            .await
            .map_err(|e| classify("read the library", e))?;
        Ok(value
            .as_ref()
            .and_then(bytes_of)
            .and_then(|b| records::decode(&b).ok())
            .unwrap_or_default())
    }

    /// In one transaction: writes `blobs` and `entries`, deletes `delete_entries` and
    /// `delete_blobs`, and sets the pointer when given. All of it or none of it.
    pub async fn commit(&self, change: Change) -> Result<(), StorageError> {
        let action = change.action;
        let fail = |e| classify(action, e);
        let tx = self
            .rexie
            .transaction(&[ENTRIES, BLOBS, META], TransactionMode::ReadWrite)
            .map_err(fail)?;
        let entries = tx.store(ENTRIES).map_err(fail)?;
        let blobs = tx.store(BLOBS).map_err(fail)?;
        let meta = tx.store(META).map_err(fail)?;
        if change.clear {
            entries.clear().await.map_err(fail)?;
            blobs.clear().await.map_err(fail)?;
            meta.clear().await.map_err(fail)?;
        }
        for (key, bytes) in &change.blobs {
            blobs
                .put(&to_js(bytes), Some(&JsValue::from_str(key)))
                .await
                .map_err(fail)?;
        }
        for (key, file) in &change.file_blobs {
            blobs
                .put(file, Some(&JsValue::from_str(key)))
                .await
                .map_err(fail)?;
        }
        for entry in &change.entries {
            entries
                .put(
                    &to_js(&records::encode(entry)),
                    Some(&JsValue::from_str(&entry.id)),
                )
                .await
                .map_err(fail)?;
        }
        for key in &change.delete_entries {
            entries.delete(JsValue::from_str(key)).await.map_err(fail)?;
        }
        for key in &change.delete_blobs {
            blobs.delete(JsValue::from_str(key)).await.map_err(fail)?;
        }
        if let Some(p) = &change.pointer {
            meta.put(
                &to_js(&records::encode(p)),
                Some(&JsValue::from_str(POINTER_KEY)),
            )
            .await
            .map_err(fail)?;
        }
        match tx.done().await.map_err(fail)? {
            rexie::TransactionResult::Committed => Ok(()),
            // Chromium aborts a transaction that would exceed the quota at commit time,
            // after every request succeeded; the abort event carries no reason here.
            _ => Err(StorageError::QuotaExceeded(
                " (the browser refused the write)".into(),
            )),
        }
    }
}

/// One atomic change to the library.
#[derive(Default)]
pub struct Change {
    /// What the visitor would call it, for the error message.
    pub action: &'static str,
    /// Wipe every store first.
    pub clear: bool,
    /// Blobs to write.
    pub blobs: Vec<(String, Vec<u8>)>,
    /// Blobs to write that are already a `Blob` (made by the worker that read the file):
    /// the database takes a `Blob` by reference, where bytes are copied and serialised on
    /// the page's thread (about 0.4 s for ten million ratings).
    pub file_blobs: Vec<(String, web_sys::Blob)>,
    /// Entries to write (new, or an update of a header).
    pub entries: Vec<Entry>,
    /// Entries to delete.
    pub delete_entries: Vec<String>,
    /// Blobs to delete.
    pub delete_blobs: Vec<String>,
    /// The new resume pointer.
    pub pointer: Option<Pointer>,
}

impl Change {
    /// An empty change described by `action` ("save the dataset").
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            ..Self::default()
        }
    }

    /// Bytes it adds.
    pub fn added_bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, b)| b.len() as u64).sum::<u64>()
            + self
                .file_blobs
                .iter()
                .map(|(_, f)| f.size() as u64)
                .sum::<u64>()
            + self
                .entries
                .iter()
                .map(|e| records::encode(e).len() as u64)
                .sum::<u64>()
    }
}

fn to_js(bytes: &[u8]) -> JsValue {
    js_sys::Uint8Array::from(bytes).into()
}

/// A record that is not there.
fn missing(what: &str) -> StorageError {
    StorageError::Corrupt {
        what: what.to_owned(),
        why: "its data is missing".into(),
    }
}

fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    value
        .dyn_ref::<js_sys::Uint8Array>()
        .map(js_sys::Uint8Array::to_vec)
}
