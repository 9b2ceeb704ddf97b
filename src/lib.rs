//! Affinity's web front end: a Leptos single-page app and the Web Worker that trains models.
//!
//! Both binaries link this library: `app` mounts [`app::App`], `worker` registers
//! [`worker::TrainWorker`]. The engine does the work; this crate only moves data between
//! the page, the worker and the screen.

pub mod app;
mod format;
mod impact;
pub mod protocol;
mod sections;
mod state;
mod trainer;
pub mod worker;
