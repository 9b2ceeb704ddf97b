//! Encoding of [`crate::protocol`] messages as JS values.
//!
//! A message is an object `{ head, ...columns }`: `head` is the serde header, the columns are
//! typed arrays whose buffers go in the transfer list, so a million ratings cross to a worker
//! as three buffer moves instead of three million JS numbers.

use affinity_engine::als::{AlsModel, Biases, SideRows};
use affinity_engine::ids::IdMap;
use affinity_engine::ratings::Summary;
use affinity_engine::serve::RatedItems;
use affinity_engine::Ratings;
use js_sys::{Array, Float32Array, Object, Reflect, Uint32Array, Uint8Array};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::copy_in_tasks::{copy_in, copy_out, Column};
use crate::facts::Facts;
use crate::next_task::next_task;
use crate::protocol::{FromWorker, ToWorker, TrainReport};
use crate::spare_buffers;

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

/// [`put_f32`], into a spare buffer when there is one ([`spare_buffers`]).
fn put_f32_spare(obj: &Object, transfer: &Array, key: &str, data: &[f32]) -> Result<(), String> {
    let array = spare_buffers::f32_array(data.len());
    array.copy_from(data);
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

/// Field `key` of `message`, a typed array of `C`, copied into WebAssembly memory a few
/// megabytes per task.
async fn take_in_tasks<C: Column + JsCast>(
    message: &JsValue,
    key: &str,
) -> Result<Vec<C::Elem>, String> {
    let array = get(message, key)?
        .dyn_into::<C>()
        .map_err(|_| format!("field {key} is not a {}", std::any::type_name::<C>()))?;
    Ok(copy_in(&array).await)
}

fn take_u8(message: &JsValue, key: &str) -> Result<Vec<u8>, String> {
    get(message, key)?
        .dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| format!("field {key} is not a Uint8Array"))
}

/// The dataset message: header plus the three rating columns.
pub fn data_packet(data_id: u64, ratings: &Ratings) -> Result<Packet, String> {
    DataColumns {
        users: Uint32Array::from(ratings.user_indices()),
        items: Uint32Array::from(ratings.item_indices()),
        values: Float32Array::from(ratings.values()),
    }
    .packet(data_id, ratings)
}

/// The dataset message's columns, copied out of the page's memory, for one worker.
pub struct DataColumns {
    users: Uint32Array,
    items: Uint32Array,
    values: Float32Array,
}

impl DataColumns {
    /// Copies the columns of `ratings`, a few megabytes per task ([`copy_in_tasks`]): all
    /// three in one task stopped the page for up to 150 ms per worker at ten million ratings,
    /// and one column per task still for 66 to 124 ms at times.
    pub async fn copy(ratings: &Ratings) -> Self {
        Self {
            users: copy_out(ratings.user_indices()).await,
            items: copy_out(ratings.item_indices()).await,
            values: copy_out(ratings.values()).await,
        }
    }

    /// The dataset message of `ratings` (whose columns these are) as `data_id`.
    pub fn packet(self, data_id: u64, ratings: &Ratings) -> Result<Packet, String> {
        let head = ToWorker::Data {
            data_id,
            n_users: ratings.n_users(),
            n_items: ratings.n_items(),
        };
        let (obj, transfer) = packet(&head)?;
        transfer.push(&self.users.buffer());
        set(&obj, "users", &self.users)?;
        transfer.push(&self.items.buffer());
        set(&obj, "items", &self.items)?;
        transfer.push(&self.values.buffer());
        set(&obj, "values", &self.values)?;
        Ok(Packet {
            message: obj.into(),
            transfer,
        })
    }
}

/// A header-only message to a worker.
pub fn to_worker_packet(head: &ToWorker) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// A ratings file as the worker that read it sends it: the ratings, what the page shows and
/// serves of them, and their encoding for storage.
pub struct ReadFile {
    /// The ratings, with their ids.
    pub ratings: Ratings,
    /// Their summary, chart data and rated items.
    pub facts: Facts,
    /// The ratings encoded for storage, as the library stores them.
    pub encoded: web_sys::Blob,
}

/// What travels beside a message's header.
pub enum Attached {
    /// Nothing.
    Nothing,
    /// A dataset, with placeholder ids (a worker only needs indices).
    Ratings(Ratings),
    /// Rows of one side of a shared fit.
    Rows(SideRows),
    /// A trained model, still in the arrays it came in ([`ModelArrays::take_model`]).
    Model(ModelArrays),
    /// A model to encode for storage, with its user ids and its item ids.
    ToEncode(Box<(AlsModel, Vec<String>, Vec<String>)>),
    /// A file to read, or stored ratings to decode.
    Blob(web_sys::Blob),
    /// Ports to the other workers of a shared fit, in part order.
    Ports(Vec<web_sys::MessagePort>),
}

/// The message giving a worker its part of a shared fit, with its ports to the others
/// (transferred: each port then belongs to that worker alone).
pub fn share_packet(head: &ToWorker, ports: &[web_sys::MessagePort]) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    let list = Array::new();
    for port in ports {
        list.push(port);
        transfer.push(port);
    }
    set(&obj, "ports", &list)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

fn take_ports(message: &JsValue) -> Result<Vec<web_sys::MessagePort>, String> {
    let list: Array = get(message, "ports")?
        .dyn_into()
        .map_err(|_| "field ports is not an array".to_owned())?;
    list.iter()
        .map(|p| {
            p.dyn_into::<web_sys::MessagePort>()
                .map_err(|_| "field ports holds something other than a port".to_owned())
        })
        .collect()
}

/// Reads a message sent to a worker.
pub fn decode_to_worker(message: &JsValue) -> Result<(ToWorker, Attached), String> {
    let head: ToWorker = head(message)?;
    let attached = match &head {
        ToWorker::Data {
            n_users, n_items, ..
        } => {
            let users = take_u32(message, "users")?;
            let items = take_u32(message, "items")?;
            let values = take_f32(message, "values")?;
            Attached::Ratings(indexed_ratings(*n_users, *n_items, users, items, values)?)
        }
        ToWorker::PartRows { start, .. } => Attached::Rows(take_rows(message, *start)?),
        ToWorker::Share { .. } => Attached::Ports(take_ports(message)?),
        ToWorker::Parse { .. } | ToWorker::Decode => Attached::Blob(
            get(message, "file")?
                .dyn_into::<web_sys::Blob>()
                .map_err(|_| "field file is not a Blob".to_owned())?,
        ),
        ToWorker::Encode { rank, global_mean } => {
            let model = take_model(message, *rank, *global_mean)?;
            let users = id_list(
                &take_u8(message, "user_ids_bytes")?,
                &take_u32(message, "user_ids_ends")?,
            )?;
            let items = id_list(
                &take_u8(message, "item_ids_bytes")?,
                &take_u32(message, "item_ids_ends")?,
            )?;
            Attached::ToEncode(Box::new((model, users, items)))
        }
        ToWorker::Fit(_) => Attached::Nothing,
    };
    Ok((head, attached))
}

/// The message asking a worker to encode `model`, whose user (item) index `k` has the id
/// `users[k]` (`items[k]`), for storage. With the arrays the model came in from its worker,
/// these go on as they are; without them the model is copied out of the page's memory.
pub fn encode_packet(
    model: &AlsModel,
    users: &[String],
    items: &[String],
    arrays: Option<ModelArrays>,
) -> Result<Packet, String> {
    let (obj, transfer) = packet(&ToWorker::Encode {
        rank: model.rank(),
        global_mean: model.has_biases().then(|| model.global_mean()),
    })?;
    match arrays.filter(|a| a.fit(model)) {
        Some(arrays) => arrays.move_to(&obj, &transfer)?,
        None => put_model(&obj, &transfer, model)?,
    }
    for (key, ids) in [("user_ids", users), ("item_ids", items)] {
        let (bytes, ends) = join_ids(ids)?;
        put_u8(&obj, &transfer, &format!("{key}_bytes"), &bytes)?;
        put_u32(&obj, &transfer, &format!("{key}_ends"), &ends)?;
    }
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// The worker's answer to [`encode_packet`]: the model file, as a `Blob` (sent by reference).
pub fn encoded_packet(file: &web_sys::Blob) -> Result<Packet, String> {
    let (obj, transfer) = packet(&FromWorker::Encoded)?;
    set(&obj, "file", file)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// The message asking a worker to read `file` (a `File` or `Blob` is cloned by handle, not
/// by bytes).
pub fn parse_packet(head: &ToWorker, file: &web_sys::Blob) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    set(&obj, "file", file)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// The ratings a worker read: the header (with the summary and histogram), the index
/// columns, each side's ids as UTF-8 bytes with end offsets (two buffers, however many ids),
/// the rated items and their ratings, the ratings per item and the bytes to store.
pub fn parsed_packet(
    ratings: &Ratings,
    report: Option<&affinity_engine::parse::ParseReport>,
    facts: Facts,
    encoded: &web_sys::Blob,
) -> Result<Packet, String> {
    let (obj, transfer) = packet(&FromWorker::Parsed {
        report: report.cloned(),
        summary: facts.summary,
        rating_bins: facts.rating_bins,
    })?;
    let (offsets, rated, rated_values) = facts.rated.parts();
    put_u32(&obj, &transfer, "rated_offsets", &to_u32s(offsets)?)?;
    put_u32(&obj, &transfer, "rated_items", rated)?;
    put_f32(&obj, &transfer, "rated_values", rated_values)?;
    put_u32(
        &obj,
        &transfer,
        "item_counts",
        &to_u32s(&facts.item_counts)?,
    )?;
    put_u32(&obj, &transfer, "most_rated", &facts.most_rated)?;
    // A Blob is sent by reference: its bytes are not copied again.
    set(&obj, "encoded", encoded)?;
    put_u32(&obj, &transfer, "users", ratings.user_indices())?;
    put_u32(&obj, &transfer, "items", ratings.item_indices())?;
    put_f32(&obj, &transfer, "values", ratings.values())?;
    for (key, map) in [("user_ids", ratings.users()), ("item_ids", ratings.items())] {
        let (bytes, ends) = join_ids(map.ids())?;
        put_u8(&obj, &transfer, &format!("{key}_bytes"), &bytes)?;
        put_u32(&obj, &transfer, &format!("{key}_ends"), &ends)?;
    }
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

fn join_ids(ids: &[String]) -> Result<(Vec<u8>, Vec<u32>), String> {
    let mut bytes = Vec::with_capacity(ids.iter().map(String::len).sum());
    let mut ends = Vec::with_capacity(ids.len());
    for id in ids {
        bytes.extend_from_slice(id.as_bytes());
        ends.push(u32::try_from(bytes.len()).map_err(|_| "the ids exceed 4 GB".to_owned())?);
    }
    Ok((bytes, ends))
}

/// Ids the page adds to a map per task of its event loop: at fifty million ratings the
/// 471,698 user ids, taken in one task, stopped the page for about 240 ms.
const IDS_PER_TASK: usize = 1 << 17;

/// The map of the ids the worker sent (`bytes` cut at `ends`), built over several tasks of
/// the page's event loop (the last one's included).
async fn id_map_in_tasks(bytes: &[u8], ends: &[u32]) -> Result<IdMap, String> {
    let mut map = IdMap::new();
    let mut ids = ids_in(bytes, ends);
    for _ in 0..ends.len().div_ceil(IDS_PER_TASK) {
        for id in ids.by_ref().take(IDS_PER_TASK) {
            map.intern(id?);
        }
        next_task().await;
    }
    if map.len() != ends.len() {
        return Err("the worker sent an id twice".into());
    }
    Ok(map)
}

fn id_list(bytes: &[u8], ends: &[u32]) -> Result<Vec<String>, String> {
    ids_in(bytes, ends)
        .map(|id| id.map(str::to_owned))
        .collect()
}

/// The ids in `bytes` cut at `ends`, as [`join_ids`] joined them.
fn ids_in<'a>(
    bytes: &'a [u8],
    ends: &'a [u32],
) -> impl Iterator<Item = Result<&'a str, String>> + 'a {
    let mut start = 0usize;
    ends.iter().map(move |&end| {
        let id = bytes
            .get(start..end as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| "the worker sent broken ids".to_owned());
        start = end as usize;
        id
    })
}

fn to_u32s(values: &[usize]) -> Result<Vec<u32>, String> {
    values
        .iter()
        .map(|&v| u32::try_from(v).map_err(|_| "a count exceeds 4 billion".to_owned()))
        .collect()
}

fn to_usizes(values: Vec<u32>) -> Vec<usize> {
    values.into_iter().map(|v| v as usize).collect()
}

/// Takes a read file out of the worker's [`FromWorker::Parsed`] message (its `summary` and
/// `rating_bins` are in the header), a few megabytes per task of the page's event loop: each
/// column is tens of megabytes at ten million ratings, and taking them all in one task
/// stopped the page for about half a second.
pub async fn take_read_file(
    message: &JsValue,
    summary: Summary,
    rating_bins: Vec<(f32, usize)>,
) -> Result<ReadFile, String> {
    // The worker's answer arrived in this task: the ids start in the next.
    next_task().await;
    let users = id_map_in_tasks(
        &take_u8(message, "user_ids_bytes")?,
        &take_u32(message, "user_ids_ends")?,
    )
    .await?;
    let items = id_map_in_tasks(
        &take_u8(message, "item_ids_bytes")?,
        &take_u32(message, "item_ids_ends")?,
    )
    .await?;
    let user_idx = take_in_tasks::<Uint32Array>(message, "users").await?;
    let item_idx = take_in_tasks::<Uint32Array>(message, "items").await?;
    let values = take_in_tasks::<Float32Array>(message, "values").await?;
    let ratings = ratings_from_columns(users, items, user_idx, item_idx, values)?;
    next_task().await;
    // At ten million ratings, copying and checking these in one task stopped the page for
    // 130 ms.
    let rated_offsets = to_usizes(take_u32(message, "rated_offsets")?);
    next_task().await;
    let rated_items = take_in_tasks::<Uint32Array>(message, "rated_items").await?;
    let rated_values = take_in_tasks::<Float32Array>(message, "rated_values").await?;
    let rated = RatedItems::from_parts(rated_offsets, rated_items, rated_values, ratings.n_items())
        .ok_or("the worker sent broken lists of rated items")?;
    if rated.n_users() != ratings.n_users() {
        return Err("the worker's rated items do not fit its users".into());
    }
    let item_counts = to_usizes(take_u32(message, "item_counts")?);
    let most_rated = take_u32(message, "most_rated")?;
    if most_rated.iter().any(|&i| i as usize >= ratings.n_items()) {
        return Err("the worker's most rated items are not among its items".into());
    }
    Ok(ReadFile {
        facts: Facts {
            summary,
            rated,
            rating_bins,
            item_counts,
            most_rated,
        },
        encoded: get(message, "encoded")?
            .dyn_into::<web_sys::Blob>()
            .map_err(|_| "field encoded is not a Blob".to_owned())?,
        ratings,
    })
}

/// A message with rows of a shared fit beside its header (`head` says where they start).
/// The factors go in a spare buffer when there is one ([`spare_buffers`]); the receiver
/// keeps it for its own rows.
pub fn rows_packet(head: &impl Serialize, rows: Option<&SideRows>) -> Result<Packet, String> {
    let (obj, transfer) = packet(head)?;
    if let Some(rows) = rows {
        put_f32_spare(&obj, &transfer, "factors", &rows.factors)?;
        put_f32(&obj, &transfer, "biases", &rows.biases)?;
        let fitted: Vec<u8> = rows.fitted.iter().map(|&f| u8::from(f)).collect();
        put_u8(&obj, &transfer, "fitted", &fitted)?;
    }
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

fn take_rows(message: &JsValue, start: usize) -> Result<SideRows, String> {
    let array = get(message, "factors")?
        .dyn_into::<Float32Array>()
        .map_err(|_| "field factors is not a Float32Array".to_owned())?;
    let factors = array.to_vec();
    spare_buffers::keep(array.buffer());
    Ok(SideRows {
        start,
        factors,
        biases: take_f32(message, "biases")?,
        fitted: take_u8(message, "fitted")?
            .iter()
            .map(|&f| f != 0)
            .collect(),
    })
}

/// Ratings from index columns, checking every index against the declared counts.
pub fn indexed_ratings(
    n_users: usize,
    n_items: usize,
    users: Vec<u32>,
    items: Vec<u32>,
    values: Vec<f32>,
) -> Result<Ratings, String> {
    ratings_from_columns(
        placeholder_map(n_users),
        placeholder_map(n_items),
        users,
        items,
        values,
    )
}

/// Ratings from index columns into the given id maps, checking every index against them.
fn ratings_from_columns(
    user_ids: IdMap,
    item_ids: IdMap,
    users: Vec<u32>,
    items: Vec<u32>,
    values: Vec<f32>,
) -> Result<Ratings, String> {
    let (n_users, n_items, n) = (user_ids.len(), item_ids.len(), users.len());
    let (n_i, n_v) = (items.len(), values.len());
    Ratings::from_columns(user_ids, item_ids, users, items, values).ok_or_else(|| {
        format!(
            "the rating columns do not fit their ids: {n} users, {n_i} items and {n_v} values \
             against {n_users} user ids and {n_items} item ids"
        )
    })
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
    let report = TrainReport {
        rank: model.rank(),
        global_mean: model.has_biases().then(|| model.global_mean()),
        ..report
    };
    let (obj, transfer) = packet(&FromWorker::Trained { job_id, report })?;
    put_model(&obj, &transfer, model)?;
    Ok(Packet {
        message: obj.into(),
        transfer,
    })
}

/// Puts a model's factors, fitted flags and biases beside a message (its rank and global
/// mean go in the header).
fn put_model(obj: &Object, transfer: &Array, model: &AlsModel) -> Result<(), String> {
    let rank = model.rank();
    // Straight into two buffers: a model of ten million ratings has a quarter of a million
    // rows, which the page may be the one to send.
    fn flat<'m>(
        n: usize,
        rank: usize,
        row: impl Fn(u32) -> Option<&'m [f32]>,
    ) -> (Vec<f32>, Vec<u8>) {
        let mut factors = vec![0f32; n * rank];
        let mut fitted = vec![0u8; n];
        for (k, (out, fit)) in factors.chunks_exact_mut(rank).zip(&mut fitted).enumerate() {
            if let Some(f) = row(k as u32) {
                out.copy_from_slice(f);
                *fit = 1;
            }
        }
        (factors, fitted)
    }
    let (uf, ufit) = flat(model.n_users(), rank, |u| model.user_factors(u));
    put_f32(obj, transfer, "user_factors", &uf)?;
    put_u8(obj, transfer, "user_fitted", &ufit)?;
    drop(uf);
    let (vf, vfit) = flat(model.n_items(), rank, |i| model.item_factors(i));
    put_f32(obj, transfer, "item_factors", &vf)?;
    put_u8(obj, transfer, "item_fitted", &vfit)?;
    if let Some(b) = model.biases() {
        put_f32(obj, transfer, "user_biases", &b.user)?;
        put_f32(obj, transfer, "item_biases", &b.item)?;
    }
    Ok(())
}

/// The keys [`put_model`] puts a model's arrays under: factors and fitted flags of each side,
/// then the biases of a model that has them.
const MODEL_KEYS: [&str; 6] = [
    "user_factors",
    "user_fitted",
    "item_factors",
    "item_fitted",
    "user_biases",
    "item_biases",
];

/// The typed arrays a trained model came in from its worker (the message that brought it).
///
/// The page copies them into its own memory to serve the model, and keeps them to send the
/// model on to be encoded for storage: copying a model of ten million ratings back out of
/// the page's memory took one task of about 110 ms in headless Chromium, over the 100 ms a
/// task may take while training.
#[derive(Debug)]
pub struct ModelArrays(Object);

impl ModelArrays {
    /// Whether these arrays are the size of `model`'s (a check against mixing up models).
    fn fit(&self, model: &AlsModel) -> bool {
        let len = |key: &str| {
            get(&self.0, key)
                .ok()
                .and_then(|a| a.dyn_into::<Float32Array>().ok())
                .map(|a| a.length() as usize)
        };
        len("user_factors") == Some(model.n_users() * model.rank())
            && len("item_factors") == Some(model.n_items() * model.rank())
            && len("user_biases").is_some() == model.has_biases()
    }

    /// Puts the arrays beside `obj` and their buffers in `transfer`: they go, not copies.
    fn move_to(self, obj: &Object, transfer: &Array) -> Result<(), String> {
        for key in MODEL_KEYS {
            let array = get(&self.0, key)?;
            if array.is_undefined() {
                continue;
            }
            let buffer = get(&array, "buffer")?;
            transfer.push(&buffer);
            set(obj, key, &array)?;
        }
        Ok(())
    }

    /// Rebuilds the model in the page's memory, a side per task of the page's event loop: at
    /// ten million ratings copying the whole model in took one task of 70 to 80 ms in
    /// headless Chromium (the item factors alone are 13 MB).
    pub async fn take_model(
        &self,
        rank: usize,
        global_mean: Option<f32>,
    ) -> Result<AlsModel, String> {
        let users = take_side(&self.0, "user")?;
        next_task().await;
        let items = take_side(&self.0, "item")?;
        next_task().await;
        model_of(&self.0, rank, global_mean, users, items)
    }
}

/// One side's factors and fitted flags, as [`put_model`] put them beside `message`.
fn take_side(message: &JsValue, side: &str) -> Result<(Vec<f32>, Vec<bool>), String> {
    let factors = take_f32(message, &format!("{side}_factors"))?;
    let fitted = take_u8(message, &format!("{side}_fitted"))?;
    Ok((factors, fitted.iter().map(|&f| f != 0).collect()))
}

/// The model of these sides, with the biases beside `message` when it has a global mean.
fn model_of(
    message: &JsValue,
    rank: usize,
    global_mean: Option<f32>,
    (user_factors, user_fitted): (Vec<f32>, Vec<bool>),
    (item_factors, item_fitted): (Vec<f32>, Vec<bool>),
) -> Result<AlsModel, String> {
    let biases = match global_mean {
        Some(global_mean) => Some(Biases {
            global_mean,
            user: take_f32(message, "user_biases")?,
            item: take_f32(message, "item_biases")?,
        }),
        None => None,
    };
    AlsModel::from_parts(
        rank,
        user_factors,
        item_factors,
        user_fitted,
        item_fitted,
        biases,
    )
    .map_err(|e| format!("a broken model was sent: {e}"))
}

/// Rebuilds the model [`put_model`] put beside `message`.
fn take_model(
    message: &JsValue,
    rank: usize,
    global_mean: Option<f32>,
) -> Result<AlsModel, String> {
    let users = take_side(message, "user")?;
    let items = take_side(message, "item")?;
    model_of(message, rank, global_mean, users, items)
}

/// Reads a message from a worker; a trained model comes in its arrays, to be rebuilt with
/// [`ModelArrays::take_model`].
pub fn decode_from_worker(message: &JsValue) -> Result<(FromWorker, Attached), String> {
    let head: FromWorker = head(message)?;
    let attached = match &head {
        FromWorker::Trained { .. } => {
            Attached::Model(ModelArrays(message.clone().unchecked_into()))
        }
        FromWorker::Encoded => Attached::Blob(
            get(message, "file")?
                .dyn_into::<web_sys::Blob>()
                .map_err(|_| "field file is not a Blob".to_owned())?,
        ),
        _ => Attached::Nothing,
    };
    Ok((head, attached))
}
