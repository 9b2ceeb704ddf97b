//! Encoding a trained model as a model file for storage, in a worker of its own.
//!
//! At ten million ratings the file's ids, their check for duplicates, its factors and its
//! checksum took the page's thread about 0.4 s in three tasks of up to 180 ms after every
//! fit. The page now only copies the factors and the ids out (a few tens of ms) and gets the
//! file back as a `Blob`, which the database stores by reference.

use std::cell::RefCell;
use std::rc::Rc;

use affinity_engine::als::AlsModel;
use affinity_engine::model_io::ModelFile;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ErrorEvent, MessageEvent, Worker};

use crate::protocol::FromWorker;
use crate::wire::{self, Attached, Packet};

/// The model file of `model`, whose user (item) index `k` has the id `users[k]`
/// (`items[k]`), encoded in a new worker; or why it could not be.
pub async fn encode_model(
    model: &AlsModel,
    users: &[String],
    items: &[String],
) -> Result<Blob, String> {
    let request = wire::encode_packet(model, users, items)?;
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
