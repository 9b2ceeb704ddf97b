// Entry point of each training worker: loads the wasm-bindgen glue Trunk built for the
// `worker` binary, then instantiates its wasm, whose `main` starts listening for jobs.
importScripts("./worker.js");
wasm_bindgen("./worker_bg.wasm");
