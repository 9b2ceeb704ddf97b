//! Buffers that came in with one message, kept to carry the next one out.
//!
//! The workers of a shared fit send each other their rows every half-step, and a transferred
//! buffer leaves its sender. A fresh typed array of the size of half of MovieLens 100K's
//! items at rank 40 (135 KB) took 90 µs to make in Chromium, against 4 µs to copy the same
//! values into an existing one: the operating system hands over new, zeroed pages each time.
//! So a worker keeps the buffers the other workers sent it and writes its own rows into
//! them; the buffers go back and forth and, once there are enough, none is made.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Float32Array};

/// Spare buffers kept at most: one of each side's size is enough for two workers.
const MAX_SPARES: usize = 2;

/// Room added to a new buffer, in eighths of what it must hold: the parts' sizes move a
/// little from one half-step to the next as the workers' speeds are balanced.
const ROOM_EIGHTHS: usize = 2;

thread_local! {
    static SPARES: RefCell<Spares<ArrayBuffer>> = const { RefCell::new(Spares::new()) };
}

/// A `Float32Array` of `len` values, over a spare buffer when one is large enough (its
/// values are then stale: the caller overwrites them), else over a new one with some room.
pub fn f32_array(len: usize) -> Float32Array {
    let bytes = len * 4;
    match SPARES.with_borrow_mut(|s| s.take(bytes)) {
        Some(buffer) => Float32Array::new_with_byte_offset_and_length(&buffer, 0, len as u32),
        None => {
            let buffer = ArrayBuffer::new((bytes + bytes * ROOM_EIGHTHS / 8) as u32);
            Float32Array::new_with_byte_offset_and_length(&buffer, 0, len as u32)
        }
    }
}

/// Keeps `buffer` (whose values have been read) for a later [`f32_array`].
pub fn keep(buffer: ArrayBuffer) {
    SPARES.with_borrow_mut(|s| s.keep(buffer));
}

/// What [`Spares`] needs of a buffer.
trait Bytes {
    fn bytes(&self) -> usize;
}

impl Bytes for ArrayBuffer {
    fn bytes(&self) -> usize {
        self.byte_length() as usize
    }
}

/// The pool's rule, without JS buffers, so it can be tested natively: the smallest spare
/// that is large enough is taken; past [`MAX_SPARES`], the smallest is dropped.
struct Spares<B> {
    buffers: Vec<B>,
}

impl<B: Bytes> Spares<B> {
    const fn new() -> Self {
        Self {
            buffers: Vec::new(),
        }
    }

    fn take(&mut self, bytes: usize) -> Option<B> {
        let (k, _) = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.bytes() >= bytes)
            .min_by_key(|(_, b)| b.bytes())?;
        Some(self.buffers.swap_remove(k))
    }

    fn keep(&mut self, buffer: B) {
        self.buffers.push(buffer);
        if self.buffers.len() > MAX_SPARES {
            if let Some((k, _)) = self
                .buffers
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.bytes())
            {
                self.buffers.swap_remove(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, Spares, MAX_SPARES};

    impl Bytes for usize {
        fn bytes(&self) -> usize {
            *self
        }
    }

    #[test]
    fn takes_the_smallest_spare_that_is_large_enough() {
        let mut s = Spares::new();
        s.keep(100);
        s.keep(300);
        assert_eq!(s.take(150), Some(300));
        assert_eq!(s.take(150), None, "only the 100-byte one is left");
        assert_eq!(s.take(100), Some(100));
        assert_eq!(s.take(1), None);
        s.keep(300);
        s.keep(200);
        assert_eq!(s.take(150), Some(200));
    }

    #[test]
    fn keeps_the_largest_few() {
        let mut s = Spares::new();
        for b in [50, 400, 10, 300] {
            s.keep(b);
        }
        assert_eq!(s.buffers.len(), MAX_SPARES);
        let mut kept = s.buffers.clone();
        kept.sort_unstable();
        assert_eq!(kept, vec![300, 400]);
    }
}
