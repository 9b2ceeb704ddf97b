//! Yielding the page's main thread between long steps.
//!
//! A future awaited by `spawn_local` resumes in a microtask of the same browser task, so a
//! chain of steps (decode a worker's answer, build the dataset, draw it, encode it for
//! storage) is one long task however many `.await`s it has. Awaiting [`next_task`] between
//! steps lets the browser paint and handle input in between.

use wasm_bindgen_futures::JsFuture;

/// Resolves in a later task of the page's event loop (a zero-delay timeout); at once where
/// there is no window (a worker, or a native test).
pub async fn next_task() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if window.set_timeout_with_callback(&resolve).is_err() {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
