//! Four `f32` lanes in one 128-bit vector register, for the loops that LLVM's vectoriser
//! leaves scalar (or splits into pairs of lanes): WebAssembly's simd128 in the browser, SSE2
//! on x86-64 (every x86-64 processor has it), plain arrays elsewhere.
//!
//! Every operation is element-wise and rounds as the scalar `f32` operation does (a multiply
//! and an add stay two roundings: no fused multiply-add), so a sum built from these lanes has
//! the same bits on every target, vector or scalar.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use core::arch::wasm32 as arch;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64 as arch;

/// Four `f32` values, operated on lane by lane.
#[derive(Clone, Copy, Debug)]
pub(super) struct F32x4(Inner);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type Inner = arch::v128;
#[cfg(target_arch = "x86_64")]
type Inner = arch::__m128;
#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
type Inner = [f32; 4];

impl F32x4 {
    /// All lanes zero.
    #[inline(always)]
    pub(super) fn zero() -> Self {
        Self::from_array([0.0; 4])
    }

    /// The lanes `v[0]` to `v[3]`.
    #[inline(always)]
    pub(super) fn from_array(v: [f32; 4]) -> Self {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            Self(arch::f32x4(v[0], v[1], v[2], v[3]))
        }
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of x86-64; the read is of four `f32`s owned by `v`.
            Self(unsafe { arch::_mm_loadu_ps(v.as_ptr()) })
        }
        #[cfg(not(any(
            all(target_arch = "wasm32", target_feature = "simd128"),
            target_arch = "x86_64"
        )))]
        {
            Self(v)
        }
    }

    /// The first four values of `v`, which must have at least four.
    #[inline(always)]
    pub(super) fn load(v: &[f32]) -> Self {
        let v: &[f32; 4] = v[..4].try_into().expect("four values");
        Self::from_array(*v)
    }

    /// The lanes as an array.
    #[inline(always)]
    pub(super) fn to_array(self) -> [f32; 4] {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            [
                arch::f32x4_extract_lane::<0>(self.0),
                arch::f32x4_extract_lane::<1>(self.0),
                arch::f32x4_extract_lane::<2>(self.0),
                arch::f32x4_extract_lane::<3>(self.0),
            ]
        }
        #[cfg(target_arch = "x86_64")]
        {
            let mut out = [0f32; 4];
            // SAFETY: SSE2 is part of x86-64; the write is of four `f32`s owned by `out`.
            unsafe { arch::_mm_storeu_ps(out.as_mut_ptr(), self.0) };
            out
        }
        #[cfg(not(any(
            all(target_arch = "wasm32", target_feature = "simd128"),
            target_arch = "x86_64"
        )))]
        {
            self.0
        }
    }

    /// `self + a · b`, lane by lane, rounding the product and then the sum.
    #[inline(always)]
    pub(super) fn add_mul(self, a: Self, b: Self) -> Self {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            Self(arch::f32x4_add(self.0, arch::f32x4_mul(a.0, b.0)))
        }
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of x86-64.
            Self(unsafe { arch::_mm_add_ps(self.0, arch::_mm_mul_ps(a.0, b.0)) })
        }
        #[cfg(not(any(
            all(target_arch = "wasm32", target_feature = "simd128"),
            target_arch = "x86_64"
        )))]
        {
            let mut out = self.0;
            for ((o, x), y) in out.iter_mut().zip(a.0).zip(b.0) {
                *o += x * y;
            }
            Self(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_multiply_and_add_as_scalars_do() {
        // Values whose product and sum both round, so a fused or reordered operation shows.
        let acc = [1.0e8f32, -3.5, 0.1, 7.0e-3];
        let a = [1.000_000_1f32, 3.3, -0.7, 1.0e-20];
        let b = [3.000_000_3f32, 1.1, 0.3, 5.0e-21];
        let got = F32x4::from_array(acc)
            .add_mul(F32x4::from_array(a), F32x4::from_array(b))
            .to_array();
        for l in 0..4 {
            let want = acc[l] + a[l] * b[l];
            assert_eq!(got[l].to_bits(), want.to_bits(), "lane {l}");
        }
        assert_eq!(
            F32x4::load(&[1.0, 2.0, 3.0, 4.0, 5.0]).to_array(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(F32x4::zero().to_array(), [0.0; 4]);
    }
}
