//! Yielding the page's main thread between long steps.
//!
//! A future awaited by `spawn_local` resumes in a microtask of the same browser task, so a
//! chain of steps (decode a worker's answer, build the dataset, draw it, encode it for
//! storage) is one long task however many `.await`s it has. Awaiting [`next_task`] between
//! steps lets the browser paint and handle input in between.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Resolves in a later task of the page's event loop (a zero-delay timeout); at once where
/// there is no window (a worker, or a native test).
pub async fn next_task() {
    after_ms(0).await;
}

/// Resolves after `ms` milliseconds (a timeout); at once where there is no window.
pub async fn after_ms(ms: i32) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if window
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .is_err()
        {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Longest wait of [`after_paint`] for a frame: a hidden tab draws none.
const NO_FRAME_MS: i32 = 100;

/// Resolves once the browser has drawn the page's pending changes (a task after the next
/// animation frame), or after [`NO_FRAME_MS`] if no frame comes (a hidden tab); at once
/// where there is no window.
///
/// Work started after it does not share the machine with the style, layout and paint of
/// what the page just changed.
pub async fn after_paint() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let (w, r) = (window.clone(), resolve.clone());
        // A frame's callback runs before its paint; the timeout it sets runs after.
        let on_frame = Closure::once_into_js(move || {
            if w.set_timeout_with_callback(&r).is_err() {
                let _ = r.call0(&JsValue::NULL);
            }
        });
        let framed = window
            .request_animation_frame(on_frame.unchecked_ref())
            .is_ok();
        let timed = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, NO_FRAME_MS)
            .is_ok();
        if !framed && !timed {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
