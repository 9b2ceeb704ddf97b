//! Loops over whole columns cut into calls, for browsers.
//!
//! A browser runs a WebAssembly function in its baseline code until it has run a while, then
//! compiles it optimized for the calls that follow, never for the call in progress (V8's
//! dynamic tiering). A loop over a whole column in one call runs its entire length in baseline
//! code: in Node 20, a fold over 50 million values took 36 ms so, 9 ms optimized. Cut into
//! calls of [`CHUNK`] values, the first calls pay that and the rest run optimized. Loops that
//! run once per file (its checks, its summary) need it; those that run per row or per
//! iteration are called often enough anyway.

/// Values per call of a loop's inner function (marked `#[inline(never)]`, or it would be
/// one call again).
pub const CHUNK: usize = 1 << 16;
