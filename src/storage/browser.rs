//! Browser facilities around the database: the storage estimate and the service worker.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Bytes used and the quota, as the browser estimates them for this origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// Bytes used by this origin.
    pub usage: f64,
    /// Bytes it may use.
    pub quota: f64,
}

/// `navigator.storage.estimate()`, or `None` where the browser has no storage manager
/// (an insecure context, an old browser).
pub async fn estimate() -> Option<Usage> {
    let navigator = web_sys::window()?.navigator();
    if !has(&navigator, "storage") {
        return None;
    }
    let promise = navigator.storage().estimate().ok()?;
    let value = JsFuture::from(promise).await.ok()?;
    let estimate: web_sys::StorageEstimate = value.unchecked_into();
    Some(Usage {
        usage: estimate.get_usage()?,
        quota: estimate.get_quota()?,
    })
}

/// Registers `sw.js` (copied beside `index.html` by Trunk), which caches the app's files so
/// the page loads offline after the first visit. Where service workers are unavailable
/// (insecure context) the app simply stays online-only.
pub fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    if !has(&navigator, "serviceWorker") {
        return;
    }
    let promise = navigator.service_worker().register("./sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        // A refused registration only means no offline copy; the page works as before.
        let _ = JsFuture::from(promise).await;
    });
}

fn has(target: &JsValue, name: &str) -> bool {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .is_ok_and(|v| !v.is_undefined() && !v.is_null())
}
