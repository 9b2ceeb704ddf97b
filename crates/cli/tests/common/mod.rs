//! Helpers shared by the CLI's integration tests: running the real `affinity` binary and
//! writing small ratings files with a planted structure.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `affinity` with `args`: (exit success, stdout, stderr).
pub fn affinity(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_affinity"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 60 users × 40 items from a planted rank-2 structure; user `u` rated item `i` when
/// `(u + 2i) % 3 == 0`, so user0 rated the 14 items 0, 3, ..., 39 (800 ratings in all).
pub fn planted_csv() -> String {
    let mut s = String::from("user,item,rating\n");
    for u in 0..60 {
        for i in 0..40 {
            if (u + 2 * i) % 3 == 0 {
                let a = 1.0 + (u % 5) as f64 * 0.2;
                let b = 1.0 + (i % 4) as f64 * 0.25;
                let c = 0.5 + (u % 3) as f64 * 0.3;
                let d = 0.5 + (i % 7) as f64 * 0.1;
                writeln!(s, "user{u},item{i},{:.3}", a * b + c * d).unwrap();
            }
        }
    }
    s
}

/// 50 users × 30 items, rated when `(u + i) % 2 == 0`, from a planted rank-2 structure
/// around a mean of about 3.
pub fn half_rated_csv() -> String {
    let mut s = String::from("user,item,rating\n");
    for u in 0..50 {
        for i in 0..30 {
            if (u + i) % 2 == 0 {
                let y = 2.0 + 0.4 * (u % 5) as f64 + 0.3 * (i % 4) as f64 - 0.2 * (u % 3) as f64;
                writeln!(s, "u{u},i{i},{y:.2}").unwrap();
            }
        }
    }
    s
}

/// Runs `affinity fit --ratings RATINGS --out OUT --json` with `flags`, asserts it
/// succeeded and returns its JSON report.
pub fn fit(ratings: &Path, out: &Path, flags: &[&str]) -> Value {
    let mut args = vec!["fit", "--ratings", s(ratings), "--out", s(out), "--json"];
    args.extend_from_slice(flags);
    let (ok, stdout, err) = affinity(&args);
    assert!(ok, "fit {flags:?}: {err}");
    serde_json::from_str(&stdout).unwrap()
}
