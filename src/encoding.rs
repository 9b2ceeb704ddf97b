//! Encoding a trained model as a model file for storage, in a worker of its own.
//!
//! At ten million ratings the file's ids, their check for duplicates, its factors and its
//! checksum took the page's thread about 0.4 s in three tasks of up to 180 ms after every
//! fit. The page now only copies the ids out and gets the file back as a `Blob`, which the
//! database stores by reference. The factors go to the worker in the arrays they came from
//! their training worker in ([`keep_arrays`]); copying them out of the page's memory again
//! was one task of about 110 ms at ten million ratings.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use affinity_engine::als::AlsModel;
use affinity_engine::model_io::ModelFile;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ErrorEvent, MessageEvent, Worker};

use crate::protocol::FromWorker;
use crate::wire::{self, Attached, ModelArrays, Packet};

thread_local! {
    /// The arrays the latest trained model came in, and their key: one model's at a time,
    /// as only the latest is saved.
    static KEPT: RefCell<Option<(u64, ModelArrays)>> = const { RefCell::new(None) };
    static NEXT_KEY: Cell<u64> = const { Cell::new(1) };
}

/// Keeps the arrays a trained model came in from its worker, in place of any kept before,
/// for [`encode_model`] to send on; returns their key.
pub fn keep_arrays(arrays: ModelArrays) -> u64 {
    let key = NEXT_KEY.get();
    NEXT_KEY.set(key + 1);
    KEPT.set(Some((key, arrays)));
    key
}

/// Lets the kept arrays go (where nothing is saved).
pub fn forget_arrays() {
    KEPT.set(None);
}

/// The arrays kept under `key`, if they still are; they are no longer kept.
fn take_arrays(key: u64) -> Option<ModelArrays> {
    KEPT.with_borrow_mut(|kept| match kept.take() {
        Some((k, arrays)) if k == key => Some(arrays),
        other => {
            *kept = other;
            None
        }
    })
}

/// The model file of `model`, whose user (item) index `k` has the id `users[k]`
/// (`items[k]`), encoded in a new worker; or why it could not be. `arrays` is the key of the
/// arrays the model came in ([`keep_arrays`]): while they are kept they go to the worker as
/// they are, and the page does not copy the model out of its memory.
pub async fn encode_model(
    model: &AlsModel,
    users: &[String],
    items: &[String],
    arrays: Option<u64>,
) -> Result<Blob, String> {
    let arrays = arrays.and_then(take_arrays);
    let request = wire::encode_packet(model, users, items, arrays)?;
    let worker =
        Worker::new(crate::pool::LOADER).map_err(|e| format!("could not start a worker: {e:?}"))?;
    let outcome: Rc<RefCell<Option<Result<Blob, String>>>> = Rc::default();
    let request = Rc::new(RefCell::new(Some(request)));
    let done = Promise::new(&mut |resolve: Function, _reject: Function| {
        let finish = {
            let outcome = outcome.clone();
            let worker = worker.clone();
            Rc::new(move |result: Result<Blob, String>| {
                worker.terminate();
                outcome.borrow_mut().get_or_insert(result);
                let _ = resolve.call0(&JsValue::NULL);
            })
        };
        let on_message = {
            let finish = finish.clone();
            let worker = worker.clone();
            let request = request.clone();
            Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
                match wire::decode_from_worker(&ev.data()) {
                    Ok((FromWorker::Ready, _)) => {
                        // Posted once: its buffers are transferred.
                        if let Some(Packet { message, transfer }) = request.borrow_mut().take() {
                            if let Err(e) = worker.post_message_with_transfer(&message, &transfer) {
                                finish(Err(format!("could not send the model: {e:?}")));
                            }
                        }
                    }
                    Ok((FromWorker::Encoded, Attached::Blob(file))) => finish(Ok(file)),
                    Ok((FromWorker::Failed { message, .. }, _)) => finish(Err(message)),
                    Ok(_) => {}
                    Err(e) => finish(Err(e)),
                }
            })
        };
        let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |ev: ErrorEvent| {
            ev.prevent_default();
            finish(Err(format!(
                "the encoding worker stopped ({})",
                ev.message()
            )));
        });
        // Handed to JS, which frees them with the worker: dropping a closure that may still
        // be called is undefined in wasm-bindgen.
        worker.set_onmessage(Some(on_message.into_js_value().unchecked_ref()));
        worker.set_onerror(Some(on_error.into_js_value().unchecked_ref()));
    });
    let _ = JsFuture::from(done).await;
    let result = outcome.borrow_mut().take();
    result.unwrap_or_else(|| Err("the encoding ended without an answer".into()))
}

/// The worker's side of [`encode_model`]: the model file's bytes, as a `Blob`.
pub fn encode_in_worker(
    model: &AlsModel,
    users: &[String],
    items: &[String],
) -> Result<Result<Packet, String>, String> {
    let bytes = ModelFile::from_model(model, users, items)
        .and_then(|file| file.to_bytes())
        .map_err(|e| e.to_string())?;
    let parts = js_sys::Array::of1(&Uint8Array::from(&bytes[..]));
    let file = Blob::new_with_u8_array_sequence(&parts)
        .map_err(|e| format!("could not keep the model file: {e:?}"))?;
    Ok(wire::encoded_packet(&file))
}
