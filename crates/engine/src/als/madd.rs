//! How the Gram kernel multiplies and adds: a multiply then an add (two roundings), or one
//! fused multiply-add (one rounding) where the processor has it.
//!
//! A fused multiply-add does the Gram kernel's work in half the vector operations: u.data fits
//! took 10 to 19% less time with it natively, and 8 to 11% in one Chromium worker
//! (BENCHMARKS.md). It rounds once instead of twice, so
//! its sums differ in the last bits from the unfused ones; either way every entry is summed in
//! the same order, so the native build and the browser's agree bit for bit when both fuse (the
//! native build on a processor with FMA, the browser's worker built with relaxed SIMD where the
//! engine fuses `f32x4.relaxed_madd`, as Chromium does on x86-64 with FMA) or when neither
//! does. Relaxed SIMD lets an engine do either, so another browser's models may differ in the
//! last bits.

/// A way to compute `acc + a · x`, lane by lane, for the Gram kernel's tiles.
pub(super) trait Madd: Copy {
    /// Whether the multiply and the add round once (fused) rather than twice.
    #[cfg(test)]
    const FUSED: bool;

    /// `acc[j] += a · x[j]` for every `j`, rounded as this way of adding rounds.
    fn madd<const NR: usize>(self, acc: &mut [f32; NR], a: f32, x: &[f32; NR]);
}

/// A multiply, rounded, then an add, rounded: the same bits on every target.
#[derive(Clone, Copy, Debug)]
pub(super) struct Unfused;

impl Madd for Unfused {
    #[cfg(test)]
    const FUSED: bool = false;

    #[inline(always)]
    fn madd<const NR: usize>(self, acc: &mut [f32; NR], a: f32, x: &[f32; NR]) {
        for (s, &w) in acc.iter_mut().zip(x) {
            *s += a * w;
        }
    }
}

/// A fused multiply-add, rounded once. Only [`Fused::detect`] makes one, so holding it proves
/// that the processor (natively) or the WebAssembly engine (relaxed SIMD) has the instruction.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fused(());

impl Fused {
    /// A fused multiply-add when this processor has one (natively: x86-64 with FMA; in
    /// WebAssembly: the worker built with the `relaxed-simd` feature, which only a browser
    /// with relaxed SIMD loads).
    #[allow(unreachable_code)]
    pub(super) fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            return std::is_x86_feature_detected!("fma").then_some(Self(()));
        }
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        {
            return Some(Self(()));
        }
        None
    }
}

impl Madd for Fused {
    #[cfg(test)]
    const FUSED: bool = true;

    #[inline(always)]
    fn madd<const NR: usize>(self, acc: &mut [f32; NR], a: f32, x: &[f32; NR]) {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::*;
            const { assert!(NR.is_multiple_of(4)) };
            // SAFETY: `self` exists only when the processor has FMA (`Fused::detect`), and
            // every processor with FMA has AVX; the loads and stores are of four or eight
            // `f32`s within `acc` and `x`.
            unsafe {
                if NR.is_multiple_of(8) {
                    let av = _mm256_set1_ps(a);
                    for j in (0..NR).step_by(8) {
                        let s = _mm256_loadu_ps(acc[j..].as_ptr());
                        let v = _mm256_fmadd_ps(av, _mm256_loadu_ps(x[j..].as_ptr()), s);
                        _mm256_storeu_ps(acc[j..].as_mut_ptr(), v);
                    }
                } else {
                    let av = _mm_set1_ps(a);
                    for j in (0..NR).step_by(4) {
                        let s = _mm_loadu_ps(acc[j..].as_ptr());
                        let v = _mm_fmadd_ps(av, _mm_loadu_ps(x[j..].as_ptr()), s);
                        _mm_storeu_ps(acc[j..].as_mut_ptr(), v);
                    }
                }
            }
        }
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        {
            use core::arch::wasm32::*;
            const { assert!(NR.is_multiple_of(4)) };
            let av = f32x4_splat(a);
            for j in (0..NR).step_by(4) {
                // SAFETY: the loads and stores are of four `f32`s within `acc` and `x`.
                unsafe {
                    let s = v128_load(acc[j..].as_ptr().cast());
                    let v = f32x4_relaxed_madd(av, v128_load(x[j..].as_ptr().cast()), s);
                    v128_store(acc[j..].as_mut_ptr().cast(), v);
                }
            }
        }
        #[cfg(not(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", feature = "relaxed-simd")
        )))]
        {
            let _ = self;
            for (s, &w) in acc.iter_mut().zip(x) {
                *s = a.mul_add(w, *s);
            }
        }
    }
}
