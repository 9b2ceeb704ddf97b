//! Keeping datasets, models and runs in the browser's database (IndexedDB), resuming them
//! after a reload, and the service worker that lets the page load offline.
//!
//! - [`codec`]: the compact binary form of a ratings table;
//! - [`records`]: the headers of stored datasets, models and runs, and their encoding;
//! - [`db`]: the database itself (schema, atomic writes);
//! - [`browser`]: the storage estimate and the service worker registration;
//! - [`library`]: the glue to the app's state, provided through context.

pub mod browser;
pub mod codec;
pub mod db;
pub mod library;
pub mod records;

pub use library::{Availability, Library};
