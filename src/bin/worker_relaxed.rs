//! The training worker built with relaxed SIMD (the `relaxed-simd` feature): the same
//! program as `worker`, for browsers whose WebAssembly has relaxed SIMD.
include!("worker.rs");
