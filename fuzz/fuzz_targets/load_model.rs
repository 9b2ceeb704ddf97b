//! Any bytes given to the model loaders (binary, JSON, either): an error or a model that
//! saves back to the same content, never a panic.
#![no_main]

use affinity_engine::model_io::ModelFile;
use libfuzzer_sys::fuzz_target;

/// FNV-1a 64, as the binary format's checksum (kept private in the engine).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fuzz_target!(|data: &[u8]| {
    let mut loaded = vec![ModelFile::from_bytes(data), ModelFile::from_any(data)];
    // Random bytes almost never carry a right checksum, which would stop every input at
    // the last check; a copy with the checksum fixed reaches the validation behind it.
    if data.len() >= 8 {
        let mut fixed = data.to_vec();
        let end = fixed.len() - 8;
        let sum = fnv1a(&fixed[..end]);
        fixed[end..].copy_from_slice(&sum.to_le_bytes());
        loaded.push(ModelFile::from_bytes(&fixed));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        loaded.push(ModelFile::from_json(text));
    }
    for file in loaded.into_iter().flatten() {
        let bytes = file.to_bytes().expect("a loaded model saves");
        assert_eq!(ModelFile::from_bytes(&bytes).as_ref(), Ok(&file));
        let json = file.to_json().expect("a loaded model saves as JSON");
        assert_eq!(ModelFile::from_json(&json).as_ref(), Ok(&file));
        let (model, users, items) = file.into_model().expect("a loaded model builds");
        assert_eq!(
            (users.len(), items.len()),
            (model.n_users(), model.n_items())
        );
        // Finite factors may still overflow a dot product; only a panic is a failure here.
        let _ = model.predict(0, 0);
        let _ = model.recommend(0, 3, |_| false);
    }
});
