//! Reading a ratings file in a worker, slice by slice, so the page never freezes on a large
//! file and never holds its whole text.
//!
//! The page starts a worker of its own for each file (a crash or a cancelled read then costs
//! nothing else) and posts it the `File`, which crosses by handle. The worker reads slices
//! with `FileReaderSync` (synchronous reads are allowed in workers), feeds them to the
//! engine's [`RatingsStream`], reports progress after each slice, and sends the ratings back
//! as index columns and id lists in transferred buffers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use affinity_engine::parse::{Format, ParseReport};
use affinity_engine::parse_stream::RatingsStream;
use affinity_engine::ratings::Summary;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ErrorEvent, File, FileReaderSync, MessageEvent, Worker};

use crate::facts::Facts;
use crate::protocol::{FromWorker, ToWorker};
use crate::storage::codec::{decode_ratings, EncodedParts};
use crate::wire::{self, Packet, ReadFile};

/// Bytes per slice: small enough for frequent progress and little memory, large enough that
/// the per-slice overhead (a read, a message) is lost in the parsing.
pub const SLICE_BYTES: usize = 4 << 20;

/// How far a read has come.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadProgress {
    /// Bytes read.
    pub bytes_read: f64,
    /// Bytes in the file.
    pub total_bytes: f64,
    /// Rating lines read.
    pub lines_read: usize,
}

/// Why a read gave no ratings.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadError {
    /// Another file's read started; this one was stopped.
    Superseded,
    /// The file could not be read; the message is for the visitor.
    Failed(String),
    /// Stored ratings did not decode: what was wrong.
    Damaged(String),
}

/// What a read gives.
type ReadOutcome = Result<(Box<ReadFile>, ParseReport), ReadError>;

/// The worker's answer, before its columns are taken out of the message.
struct Answer {
    message: JsValue,
    report: Option<ParseReport>,
    summary: Summary,
    rating_bins: Vec<(f32, usize)>,
}

/// Ends a read's wait with the worker's answer.
type Finish = Rc<dyn Fn(Result<Answer, ReadError>)>;

/// The read in progress: its worker, and how to end its wait.
struct Active {
    worker: Worker,
    finish: Finish,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
    /// Counts reads started and stopped: a read whose answer is still being taken apart
    /// when another starts (or the demo loads) is superseded.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Reads `file` in a new worker, with `format` or the detected one, calling `on_progress`
/// after each slice. Starting another read stops this one ([`ReadError::Superseded`]).
pub async fn read_ratings(
    file: File,
    format: Option<Format>,
    on_progress: impl Fn(ReadProgress) + 'static,
) -> ReadOutcome {
    let head = ToWorker::Parse {
        format,
        slice_bytes: SLICE_BYTES,
    };
    let (file, report) = in_loader(head, file.into(), on_progress).await?;
    let report = report.ok_or_else(|| ReadError::Failed("the read gave no report".into()))?;
    Ok((file, report))
}

/// Decodes ratings the library stored (its `Blob`) in a new worker, which also works out
/// their facts, so that the page only takes the columns out of its answer, a few short tasks.
/// Starting a read stops this one, and this one stops a read ([`ReadError::Superseded`]).
/// Stored bytes that do not decode give [`ReadError::Damaged`].
pub async fn decode_stored(stored: Blob) -> Result<Box<ReadFile>, ReadError> {
    Ok(in_loader(ToWorker::Decode, stored, |_| {}).await?.0)
}

/// Runs `head` with `file` in a new loading worker and takes its answer apart.
async fn in_loader(
    head: ToWorker,
    file: Blob,
    on_progress: impl Fn(ReadProgress) + 'static,
) -> Result<(Box<ReadFile>, Option<ParseReport>), ReadError> {
    stop_active();
    let generation = GENERATION.get();
    let worker = Worker::new(crate::pool::LOADER)
        .map_err(|e| ReadError::Failed(format!("could not start a worker: {e:?}")))?;
    let outcome: Rc<RefCell<Option<Result<Answer, ReadError>>>> = Rc::default();
    let done = {
        let outcome = outcome.clone();
        let worker = worker.clone();
        let on_progress = Rc::new(on_progress);
        Promise::new(&mut move |resolve: Function, _reject: Function| {
            let finish: Finish = {
                let outcome = outcome.clone();
                let worker = worker.clone();
                Rc::new(move |result| {
                    worker.terminate();
                    // The first outcome wins: a crash after the answer changes nothing.
                    outcome.borrow_mut().get_or_insert(result);
                    let _ = resolve.call0(&JsValue::NULL);
                })
            };
            let on_message = {
                let finish = finish.clone();
                let worker = worker.clone();
                let file = file.clone();
                let head = head.clone();
                let on_progress = on_progress.clone();
                Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
                    match wire::decode_from_worker(&ev.data()) {
                        Ok((FromWorker::Ready, _)) => {
                            let sent = wire::parse_packet(&head, &file).and_then(|p| {
                                worker
                                    .post_message_with_transfer(&p.message, &p.transfer)
                                    .map_err(|e| format!("{e:?}"))
                            });
                            if let Err(e) = sent {
                                finish(Err(ReadError::Failed(e)));
                            }
                        }
                        Ok((
                            FromWorker::ReadProgress {
                                bytes_read,
                                total_bytes,
                                lines_read,
                            },
                            _,
                        )) => on_progress(ReadProgress {
                            bytes_read,
                            total_bytes,
                            lines_read,
                        }),
                        Ok((
                            FromWorker::Parsed {
                                report,
                                summary,
                                rating_bins,
                            },
                            _,
                        )) => finish(Ok(Answer {
                            message: ev.data(),
                            report,
                            summary,
                            rating_bins,
                        })),
                        Ok((FromWorker::Failed { message, .. }, _)) => {
                            finish(Err(ReadError::Failed(message)))
                        }
                        Ok((FromWorker::Damaged { message }, _)) => {
                            finish(Err(ReadError::Damaged(message)))
                        }
                        Ok(_) => {}
                        Err(e) => finish(Err(ReadError::Failed(e))),
                    }
                })
            };
            let on_error = {
                let finish = finish.clone();
                Closure::<dyn Fn(ErrorEvent)>::new(move |ev: ErrorEvent| {
                    ev.prevent_default();
                    finish(Err(ReadError::Failed(format!(
                        "the reading worker stopped ({}); the file may be too large for this \
                         browser's memory",
                        ev.message()
                    ))));
                })
            };
            // Handed to JS, which frees them with the worker: dropping a closure that may
            // still be called is undefined in wasm-bindgen.
            worker.set_onmessage(Some(on_message.into_js_value().unchecked_ref()));
            worker.set_onerror(Some(on_error.into_js_value().unchecked_ref()));
            ACTIVE.set(Some(Active {
                worker: worker.clone(),
                finish,
            }));
        })
    };
    let _ = JsFuture::from(done).await;
    ACTIVE.with_borrow_mut(|active| {
        if active.as_ref().is_some_and(|a| a.worker == worker) {
            *active = None;
        }
    });
    let result = outcome.borrow_mut().take();
    let answer = result.unwrap_or(Err(ReadError::Failed(
        "the read ended without an answer".into(),
    )))?;
    // A few tasks, each short, rather than one that stops the page (see `take_read_file`).
    let file = wire::take_read_file(&answer.message, answer.summary, answer.rating_bins)
        .await
        .map_err(ReadError::Failed)?;
    if GENERATION.get() != generation {
        return Err(ReadError::Superseded);
    }
    Ok((Box::new(file), answer.report))
}

/// Stops the read in progress, if any: its caller gets [`ReadError::Superseded`].
pub fn stop_active() {
    GENERATION.set(GENERATION.get() + 1);
    if let Some(active) = ACTIVE.take() {
        (active.finish)(Err(ReadError::Superseded));
    }
}

/// The worker's side: reads `file` slice by slice into a [`RatingsStream`], posting progress
/// through `post`, and returns the message with the ratings.
pub fn read_in_worker(
    file: &Blob,
    format: Option<Format>,
    slice_bytes: usize,
    post: impl Fn(&Result<Packet, String>),
) -> Result<Result<Packet, String>, String> {
    let reader = FileReaderSync::new().map_err(|e| format!("cannot read files here: {e:?}"))?;
    let total = file.size();
    let slice = slice_bytes.max(1) as f64;
    let mut stream = RatingsStream::new(format);
    let mut buffer = Vec::new();
    let mut offset = 0.0;
    while offset < total {
        let end = (offset + slice).min(total);
        let blob = file
            .slice_with_f64_and_f64(offset, end)
            .map_err(|e| format!("could not be read ({e:?})"))?;
        let bytes = reader
            .read_as_array_buffer(&blob)
            .map_err(|e| format!("could not be read ({e:?})"))?;
        let bytes = Uint8Array::new(&bytes);
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        stream.push(&buffer).map_err(|e| e.to_string())?;
        stream.expect_bytes(total as u64);
        offset = end;
        post(&wire::from_worker_packet(&FromWorker::ReadProgress {
            bytes_read: offset,
            total_bytes: total,
            lines_read: stream.lines_read(),
        }));
    }
    let (ratings, report, rated) = stream.finish_with_rated().map_err(|e| e.to_string())?;
    // Worked out here rather than in the page, which would stop to do it.
    let facts = Facts::with_rated(&ratings, rated);
    let encoded = EncodedParts::of(&ratings);
    let views = js_sys::Array::new();
    for part in encoded.parts() {
        // SAFETY: a view of WebAssembly memory is valid until the memory grows, and nothing
        // allocates between these views and the Blob, which copies them.
        let view = unsafe { Uint8Array::view(part) };
        views.push(&view);
    }
    let encoded = web_sys::Blob::new_with_u8_array_sequence(&views)
        .map_err(|e| format!("could not keep the file's ratings for storage: {e:?}"))?;
    Ok(wire::parsed_packet(
        &ratings,
        Some(&report),
        facts,
        &encoded,
    ))
}

/// The worker's side of [`decode_stored`]: decodes the stored ratings and works out their
/// facts; the stored `Blob` goes back as their encoding. Bytes that do not decode are
/// answered with [`FromWorker::Damaged`].
pub fn decode_in_worker(stored: &Blob) -> Result<Result<Packet, String>, String> {
    let reader = FileReaderSync::new().map_err(|e| format!("cannot read here: {e:?}"))?;
    let bytes = reader
        .read_as_array_buffer(stored)
        .map_err(|e| format!("could not be read ({e:?})"))?;
    Ok(match decode_ratings(&Uint8Array::new(&bytes).to_vec()) {
        Ok(ratings) => {
            let facts = Facts::of(&ratings);
            wire::parsed_packet(&ratings, None, facts, stored)
        }
        Err(e) => wire::from_worker_packet(&FromWorker::Damaged {
            message: e.to_string(),
        }),
    })
}
