// Which build of the training worker this browser runs: `worker_relaxed`, whose Gram kernel
// uses relaxed SIMD's fused multiply-add (fits about 10% faster), where WebAssembly has
// relaxed SIMD (Chromium 114+, Firefox 146+); else `worker`, plain simd128 (Safari). A module
// with a relaxed SIMD instruction fails to load where it is missing, so the choice is made
// before loading. Read by worker-loader.js and by the service worker, which keeps that
// build's files for offline use.
//
// The probe: (module (func (param v128 v128 v128) (result v128)
//   (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))
self.AFFINITY_WORKER = WebAssembly.validate(
  new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01,
    0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd,
    0x85, 0x02, 0x0b,
  ]),
)
  ? 'worker_relaxed'
  : 'worker';
