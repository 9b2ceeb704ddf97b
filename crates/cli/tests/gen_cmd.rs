//! `affinity gen`: the file it writes, run through the real binary.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use affinity_engine::parse::parse_ratings;
use serde_json::Value;

fn gen(out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "gen",
        "--users",
        "400",
        "--items",
        "250",
        "--ratings",
        "12000",
        "--seed",
        "9",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_affinity"))
        .args(&args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn gen_writes_the_exact_count_with_a_header_and_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let (ok, out, err) = gen(&path, &["--json"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["n_ratings"], 12000);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().next(), Some("user,item,rating"));
    assert_eq!(text.lines().count(), 12001);
    let ratings = parse_ratings(&text).unwrap();
    assert_eq!(ratings.len(), 12000);
    let pairs: HashSet<(u32, u32)> = ratings.iter().map(|r| (r.user, r.item)).collect();
    assert_eq!(pairs.len(), 12000, "no pair twice");
    let s = ratings.summary();
    assert_eq!(report["n_users"], s.n_users);
    assert_eq!(report["n_items"], s.n_items);
    assert!(s.n_users <= 400 && s.n_items <= 250);
    assert!(s.min_rating >= 1.0 && s.max_rating <= 5.0);
    assert!(ratings.values().iter().all(|v| v.fract() == 0.0));
}

#[test]
fn gen_is_deterministic_and_honours_rank_and_scale() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
    );
    for p in [&a, &b] {
        let (ok, _, err) = gen(p, &["--rank", "3", "--scale", "0.5-5"]);
        assert!(ok, "{err}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (ok, out, err) = gen(&c, &["--rank", "3", "--scale", "1-10"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("wrote 12000 ratings"), "{out}");

    let half = parse_ratings(&std::fs::read_to_string(&a).unwrap()).unwrap();
    assert!(half
        .values()
        .iter()
        .all(|v| (0.5..=5.0).contains(v) && (v * 2.0).fract() == 0.0));
    assert!(half.values().iter().any(|v| v.fract() == 0.5));
    let ten = parse_ratings(&std::fs::read_to_string(&c).unwrap()).unwrap();
    let s = ten.summary();
    assert!(s.min_rating >= 1.0 && s.max_rating <= 10.0 && s.max_rating > 5.0);
}

#[test]
fn gen_refuses_impossible_specs_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let o = Command::new(env!("CARGO_BIN_EXE_affinity"))
        .args(["gen", "--users", "3", "--items", "3", "--ratings", "10"])
        .args(["--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("10 distinct ratings do not fit in 3 users × 3 items"),
        "{err}"
    );
    assert!(!path.exists());

    let (ok, _, err) = gen(&path, &["--scale", "5-1"]);
    assert!(!ok);
    assert!(err.contains("rating scale"), "{err}");
}
