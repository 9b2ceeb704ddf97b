//! Affinity's web front end: a Leptos single-page app and the Web Worker that trains models.
//!
//! Both binaries link this library: `app` mounts [`app::App`], `worker` runs
//! [`worker::run`] in each Web Worker of the training pool. The engine does the work; this
//! crate only moves data between the page, the workers and the screen.

pub mod app;
pub mod charts;
mod copy_in_tasks;
mod encoding;
mod facts;
mod format;
mod impact;
mod next_task;
mod pacer;
mod params;
mod pool;
pub mod protocol;
mod reading;
mod report_gate;
mod sections;
mod shared_fit;
mod spare_buffers;
mod state;
mod storage;
mod trainer;
mod warm_up;
pub mod wire;
pub mod worker;
