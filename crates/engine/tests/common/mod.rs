//! Inputs shared by the integration tests: the hostile files of the browser test, random
//! bytes, and the generators of ratings files.
#![allow(dead_code)]

use proptest::prelude::*;

/// The message for a file without ratings.
pub const NO_RATINGS: &str = "the file holds no ratings (it is empty, or has only a header line)";

/// The hostile files of the browser test (tests/e2e/hostile.test.mjs) that the page refuses,
/// with the message it shows after the file name: (name, bytes, message).
pub const HOSTILE_ERRORS: [(&str, &[u8], &str); 12] = [
    ("empty.csv", b"", NO_RATINGS),
    ("blank-lines.csv", b"\n\n  \n", NO_RATINGS),
    (
        "header-only.csv",
        b"userId,movieId,rating,timestamp\n",
        NO_RATINGS,
    ),
    ("bom-only.csv", "\u{feff}".as_bytes(), NO_RATINGS),
    (
        "missing-columns.csv",
        b"user,item,rating\n1,2,5\n1,3\n",
        "line 3: expected at least 3 fields (user, item, rating), found 2",
    ),
    (
        "nan.csv",
        b"user,item,rating\n1,2,5\n1,3,NaN\n",
        "line 3, column 3: rating \"NaN\" is not a finite number",
    ),
    (
        "inf.csv",
        b"1,2,5\n1,3,-inf\n",
        "line 2, column 3: rating \"-inf\" is not a finite number",
    ),
    (
        "huge.csv",
        b"1,2,5\n1,3,1e40\n",
        "line 2, column 3: rating \"1e40\" is not a finite number",
    ),
    (
        "words.csv",
        b"user,item,rating\n1,2,five\n",
        "line 2, column 3: rating \"five\" is not a number",
    ),
    (
        "empty-id.csv",
        b"user,item,rating\n1,,5\n",
        "line 2, column 2: the item id is empty",
    ),
    (
        "latin1.csv",
        b"user,item,rating\nren\xe9,x,5\n",
        "line 2, column 4: byte 0xE9 is not valid UTF-8 \
         (the file may be Latin-1 or Windows-1252: save it as UTF-8)",
    ),
    (
        "archive.zip",
        b"PK\x03\x04\x14\0\0\0\0\0\0\0",
        "line 1, column 6: a NUL byte: this looks like a binary file, \
         not a text ratings file",
    ),
];

/// A PNG header: not UTF-8 from its first byte.
pub const HOSTILE_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// (name, bytes, ratings, users, items, min rating, max rating).
pub type Loaded = (&'static str, &'static [u8], usize, usize, usize, f32, f32);

/// The hostile files the page loads, with the counts and scale its summary shows.
pub const HOSTILE_LOADED: [Loaded; 8] = [
    (
        "bom-crlf.csv",
        "\u{feff}ann,dune,5\r\nann,heat,3\r\n\r\nbob,dune,4\r\n".as_bytes(),
        3,
        2,
        2,
        3.0,
        5.0,
    ),
    (
        "quoted-commas.csv",
        b"user,item,rating\n\"Smith, J\",\"Dune, Part One\",5\n\"Smith, J\",Heat,4\nbob,\"Dune, Part One\",\"3\"\n",
        3,
        2,
        2,
        3.0,
        5.0,
    ),
    (
        "extra-columns.tsv",
        b"196\t242\t3\t881250949\textra\n186\t302\t3\t891717742\textra\n",
        2,
        2,
        2,
        3.0,
        3.0,
    ),
    (
        "out-of-scale.csv",
        b"user,item,rating\na,x,-3\nb,y,10\nc,z,0.5\n",
        3,
        3,
        3,
        -3.0,
        10.0,
    ),
    (
        "comma-decimal.csv",
        b"user;item;rating\na;x;3,5\nb;x;4,5\n",
        2,
        2,
        1,
        3.5,
        4.5,
    ),
    (
        "duplicates.csv",
        b"user,item,rating\n1,a,5\n1,a,2\n2,b,3\n",
        2,
        2,
        2,
        2.0,
        3.0,
    ),
    (
        "unicode-ids.csv",
        "user,item,rating\n🦀,曲🎵,5\n🦀,Ünïcødé,3\nZoë,曲🎵,4\n007,7,1\n7,7.0,2\n".as_bytes(),
        5,
        4,
        4,
        1.0,
        5.0,
    ),
    (
        "utf16.csv",
        &[
            0xff, 0xfe, b'u', 0, b',', 0, b'i', 0, b',', 0, b'r', 0, b'\n', 0, b'z', 0, b',',
            0, b'x', 0, b',', 0, b'4', 0, b'\n', 0,
        ],
        1,
        1,
        1,
        4.0,
        4.0,
    ),
];

/// Deterministic pseudo-random bytes (xorshift), so the test needs no RNG crate.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// The ratings as (user id, item id, value bits), in table order; bits so that -0 and 0
/// differ and the comparison is exact.
pub fn triples(r: &affinity_engine::Ratings) -> Vec<(String, String, u32)> {
    r.iter()
        .map(|x| {
            (
                r.users().id(x.user).to_owned(),
                r.items().id(x.item).to_owned(),
                x.value.to_bits(),
            )
        })
        .collect()
}

/// A CSV field, quoted when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Any printable id: no control characters and no spaces at either end (ids are trimmed).
pub fn any_id() -> impl Strategy<Value = String> {
    "\\PC{1,12}".prop_filter_map("ids are trimmed and non-empty", |s| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    })
}

/// An id safe in every layout, including `::` and whitespace-separated ones; a small
/// alphabet so that pairs repeat and the duplicate rule is exercised.
pub fn plain_id() -> impl Strategy<Value = String> {
    "[a-c0-9é🎬_-]{1,3}"
}

/// A finite rating: mostly half stars, sometimes any finite float.
pub fn finite_rating() -> impl Strategy<Value = f32> {
    prop_oneof![
        (-10i32..=10).prop_map(|v| v as f32 / 2.0),
        any::<f32>().prop_filter("finite", |v| v.is_finite()),
    ]
}
