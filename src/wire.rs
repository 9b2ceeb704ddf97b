//! Encoding of [`crate::protocol`] messages as JS values.
//!
//! A message is an object `{ head, ...columns }`: `head` is the serde header, the columns are
//! typed arrays whose buffers go in the transfer list, so a million ratings cross to a worker
//! as three buffer moves instead of three million JS numbers.

use affinity_engine::als::{AlsModel, Biases};
use affinity_engine::ids::IdMap;
use affinity_engine::Ratings;
use js_sys::{Array, Float32Array, Object, Reflect, Uint32Array, Uint8Array};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::protocol::{FromWorker, ToWorker, TrainReport};

/// A message ready for `postMessage(message, transfer)`.
pub struct Packet {
    /// The object to post.
    pub message: JsValue,
    /// The buffers to transfer with it.
    pub transfer: Array,
}

fn packet(head: &impl Serialize) -> Result<(Object, Array), String> {
    let obj = Object::new();
    let head = serde_wasm_bindgen::to_value(head).map_err(|e| e.to_string())?;
    set(&obj, "head", &head)?;
    Ok((obj, Array::new()))
}

fn set(obj: &Object, key: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(obj, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue, String> {
    Reflect::get(obj, &JsValue::from_str(key)).map_err(|e| format!("{e:?}"))
}

fn head<T: DeserializeOwned>(message: &JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(get(message, "head")?).map_err(|e| e.to_string())
}

fn put_u32(obj: &Object, transfer: &Array, key: &str, data: &[u32]) -> Result<(), String> {
    let array = Uint32Array::from(data);
    transfer.push(&array.buffer());
    set(obj, key, &array)
}

fn put_f32(obj: &Object, transfer: &Array, key: &str, data: &[f32]) -> Result<(), String> {
    let array = Float32Array::from(data);
    transfer.push(&array.buffer());
    set(obj, key, &array)
}

fn put_u8(obj: &Object, transfer: &Array, key: &str, data: &[u8]) -> Result<(), String> {
    let array = Uint8Array::from(data);
    transfer.push(&array.buffer());
    set(obj, key, &array)
}

fn take_u32(message: &JsValue, key: &str) -> Result<Vec<u32>, String> {
    get(message, key)?
        .dyn_into::<Uint32Array>()
        .map(|a| a.to_vec())
        .map_err(|_| format!("field {key} is not a Uint32Array"))
}

fn take_f32(message: &JsValue, key: &str) -> Result<Vec<f32>, String> {
    get(message, key)?
        .dyn_into::<Float32Array>()
        .map(|a| a.to_vec())
        .map_err(|_| format!("field {key} is not a Float32Array"))
}

fn take_u8(message: &JsValue, key: &str) -> Result<Vec<u8>, String> {
    get(message, key)?
        .dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| format!("field {key} is not a Uint8Array"))
}

/// The dataset message: header plus the three rating columns.
pub fn data_packet(data_id: u64, ratings: &Ratings) -> Result<Packet, String> {
    let head = ToWorker::Data {
        data_id,
        n_users: ratings.n_users(),
        n_items: ratings.n_items(),
    };
    let (obj, transfer) = packet(&head)?;
    put_u32(&obj, &transfer, "users", ratings.user_indices())?;
    put_u32(&obj, &transfer, "items", ratings.item_indices())?;
    put_f32(&obj, &transfer, "values", ratings.values())?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// A header-only message to a worker.
pub fn to_worker_packet(head: &ToWorker) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// Reads a message sent to a worker; a dataset comes back as ratings with placeholder ids
/// (the worker only needs indices).
pub fn decode_to_worker(message: &JsValue) -> Result<(ToWorker, Option<Ratings>), String> {
    let head: ToWorker = head(message)?;
    let ratings = match &head {
        ToWorker::Data {
            n_users, n_items, ..
        } => {
            let users = take_u32(message, "users")?;
            let items = take_u32(message, "items")?;
            let values = take_f32(message, "values")?;
            Some(indexed_ratings(
                *n_users, *n_items, &users, &items, &values,
            )?)
        }
        ToWorker::Fit(_) => None,
    };
    Ok((head, ratings))
}

/// Ratings from index columns, checking every index against the declared counts.
pub fn indexed_ratings(
    n_users: usize,
    n_items: usize,
    users: &[u32],
    items: &[u32],
    values: &[f32],
) -> Result<Ratings, String> {
    if users.len() != items.len() || users.len() != values.len() {
        return Err(format!(
            "rating columns differ in length: {} users, {} items, {} values",
            users.len(),
            items.len(),
            values.len()
        ));
    }
    let mut ratings = Ratings::with_maps(placeholder_map(n_users), placeholder_map(n_items));
    for ((&u, &i), &v) in users.iter().zip(items).zip(values) {
        if u as usize >= n_users || i as usize >= n_items {
            return Err(format!(
                "rating index out of range: user {u} of {n_users}, item {i} of {n_items}"
            ));
        }
        ratings.push_indexed(u, i, v);
    }
    Ok(ratings)
}

fn placeholder_map(n: usize) -> IdMap {
    let mut map = IdMap::new();
    for k in 0..n {
        map.intern(&k.to_string());
    }
    map
}

/// A header-only message from a worker.
pub fn from_worker_packet(head: &FromWorker) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// The trained-model message: header plus factors, fitted flags and biases.
pub fn trained_packet(
    job_id: u64,
    report: TrainReport,
    model: &AlsModel,
) -> Result<Packet, String> {
    let rank = model.rank();
    let flat = |n: usize, row: &dyn Fn(u32) -> Option<Vec<f32>>| -> (Vec<f32>, Vec<u8>) {
        let mut factors = Vec::with_capacity(n * rank);
        let mut fitted = Vec::with_capacity(n);
        for k in 0..n as u32 {
            match row(k) {
                Some(f) => {
                    factors.extend_from_slice(&f);
                    fitted.push(1);
                }
                None => {
                    factors.extend(std::iter::repeat_n(0.0, rank));
                    fitted.push(0);
                }
            }
        }
        (factors, fitted)
    };
    let (uf, ufit) = flat(model.n_users(), &|u| {
        model.user_factors(u).map(<[f32]>::to_vec)
    });
    let (vf, vfit) = flat(model.n_items(), &|i| {
        model.item_factors(i).map(<[f32]>::to_vec)
    });
    let biases = model.biases();
    let report = TrainReport {
        rank,
        global_mean: biases.as_ref().map(|b| b.global_mean),
        ..report
    };
    let (obj, transfer) = packet(&FromWorker::Trained { job_id, report })?;
    put_f32(&obj, &transfer, "user_factors", &uf)?;
    put_f32(&obj, &transfer, "item_factors", &vf)?;
    put_u8(&obj, &transfer, "user_fitted", &ufit)?;
    put_u8(&obj, &transfer, "item_fitted", &vfit)?;
    if let Some(b) = biases {
        put_f32(&obj, &transfer, "user_biases", &b.user)?;
        put_f32(&obj, &transfer, "item_biases", &b.item)?;
    }
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// Reads a message from a worker; a trained model comes back rebuilt.
pub fn decode_from_worker(message: &JsValue) -> Result<(FromWorker, Option<AlsModel>), String> {
    let head: FromWorker = head(message)?;
    let model = match &head {
        FromWorker::Trained { report, .. } => {
            let biases = match report.global_mean {
                Some(global_mean) => Some(Biases {
                    global_mean,
                    user: take_f32(message, "user_biases")?,
                    item: take_f32(message, "item_biases")?,
                }),
                None => None,
            };
            let model = AlsModel::from_parts(
                report.rank,
                take_f32(message, "user_factors")?,
                take_f32(message, "item_factors")?,
                take_u8(message, "user_fitted")?
                    .iter()
                    .map(|&f| f != 0)
                    .collect(),
                take_u8(message, "item_fitted")?
                    .iter()
                    .map(|&f| f != 0)
                    .collect(),
                biases,
            )
            .map_err(|e| format!("the worker sent a broken model: {e}"))?;
            Some(model)
        }
        _ => None,
    };
    Ok((head, model))
}
