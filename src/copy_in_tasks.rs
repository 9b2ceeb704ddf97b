//! Copies of large columns between WebAssembly memory and JavaScript typed arrays, a few
//! megabytes per task of the page's event loop.
//!
//! In headless Chromium one copy of a 40 MB column (ten million ratings) took 20 ms in one
//! task and 80 to 124 ms in another of the same load (why was not looked into: first touches
//! of fresh memory, or a garbage collection in that task). Copied a slice per task, no load
//! of that file had a task of 100 ms or more (BENCHMARKS.md).

use js_sys::{Float32Array, Uint32Array};

use crate::next_task::next_task;

/// Elements copied per task: 8 MB of four-byte values.
const SLICE: usize = 1 << 21;

/// A JS typed array of four-byte elements that a column of `Elem`s crosses into and out of.
pub trait Column: Sized {
    /// The element type on the WebAssembly side.
    type Elem: Copy + Default;
    /// A zeroed array of `len` elements.
    fn zeroed(len: u32) -> Self;
    /// Its length in elements.
    fn len(&self) -> u32;
    /// Writes `src` at `at`.
    fn write(&self, at: u32, src: &[Self::Elem]);
    /// Reads `dst.len()` elements from `at` into `dst`.
    fn read(&self, at: u32, dst: &mut [Self::Elem]);
}

macro_rules! column {
    ($array:ty, $elem:ty) => {
        impl Column for $array {
            type Elem = $elem;
            fn zeroed(len: u32) -> Self {
                <$array>::new_with_length(len)
            }
            fn len(&self) -> u32 {
                self.length()
            }
            fn write(&self, at: u32, src: &[$elem]) {
                self.subarray(at, at + src.len() as u32).copy_from(src);
            }
            fn read(&self, at: u32, dst: &mut [$elem]) {
                self.subarray(at, at + dst.len() as u32).copy_to(dst);
            }
        }
    };
}

column!(Uint32Array, u32);
column!(Float32Array, f32);

/// A new typed array holding `src`, copied a slice per task (the last slice's task included:
/// whatever the caller does next starts a task of its own).
///
/// Lengths and positions fit in `u32`: WebAssembly memory holds at most 4 GB.
pub async fn copy_out<C: Column>(src: &[C::Elem]) -> C {
    let out = C::zeroed(src.len() as u32);
    for (k, slice) in src.chunks(SLICE).enumerate() {
        out.write((k * SLICE) as u32, slice);
        next_task().await;
    }
    out
}

/// `src`'s elements in WebAssembly memory, copied a slice per task (the last slice's task
/// included).
pub async fn copy_in<C: Column>(src: &C) -> Vec<C::Elem> {
    let len = src.len() as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let at = out.len();
        let end = (at + SLICE).min(len);
        out.resize(end, C::Elem::default());
        src.read(at as u32, &mut out[at..end]);
        next_task().await;
    }
    out
}
