// Entry point of each training worker: loads the wasm-bindgen glue Trunk built for the
// `worker` binary, then instantiates its wasm, whose `main` starts listening for jobs.
importScripts("./worker.js");
wasm_bindgen("./worker_bg.wasm").catch((e) => {
  // A rejected promise does not fire the Worker's `error` event on the page; a thrown error
  // does, and tells the pool that this worker will never be ready.
  setTimeout(() => {
    throw e;
  });
});
