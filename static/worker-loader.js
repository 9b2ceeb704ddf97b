// Entry point of each training worker: picks the worker build this browser runs
// (worker-build.js), loads the wasm-bindgen glue Trunk built for it, then instantiates its
// wasm, whose `main` starts listening for jobs.
importScripts("./worker-build.js");
importScripts(`./${self.AFFINITY_WORKER}.js`);
wasm_bindgen({ module_or_path: `./${self.AFFINITY_WORKER}_bg.wasm` }).catch((e) => {
  // A rejected promise does not fire the Worker's `error` event on the page; a thrown error
  // does, and tells the pool that this worker will never be ready.
  setTimeout(() => {
    throw e;
  });
});
