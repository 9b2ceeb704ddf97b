//! The `affinity` command's flags and JSON, which later tooling relies on.

use serde_json::Value;

mod common;
use common::{affinity, planted_csv};

#[test]
fn eval_with_a_split_prints_the_contracted_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    let (ok, out, err) = affinity(&[
        "eval",
        "--ratings",
        path.to_str().unwrap(),
        "--split",
        "0.8",
        "--seed",
        "42",
        "--rank",
        "4",
        "--reg-param",
        "0.01",
        "--max-iter",
        "15",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for key in [
        "rmse",
        "mae",
        "fit_seconds",
        "n_train",
        "n_test",
        "n_dropped",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {out}");
    }
    for key in ["precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"] {
        let m = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {out}"));
        assert!((0.0..=1.0).contains(&m), "{key} = {m}");
    }
    let n = v["n_train"].as_u64().unwrap() + v["n_test"].as_u64().unwrap();
    assert_eq!(n, 800, "a third of 60 × 40 cells");
    assert!(
        v["rmse"].as_f64().unwrap() < 0.1,
        "planted data should be fitted closely: {out}"
    );
}

#[test]
fn eval_with_train_and_test_files_counts_cold_ratings_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.tsv");
    let test = dir.path().join("test.tsv");
    std::fs::write(&train, "1\t1\t5\n1\t2\t3\n2\t1\t4\n2\t2\t2\n").unwrap();
    std::fs::write(&test, "1\t1\t5\n3\t1\t4\n1\t9\t1\n").unwrap();
    let (ok, out, err) = affinity(&[
        "eval",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n_test"], 3);
    assert_eq!(v["n_dropped"], 2);
}

#[test]
fn recommend_lists_unrated_items_best_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    let (ok, out, err) = affinity(&[
        "recommend",
        "--ratings",
        path.to_str().unwrap(),
        "--user",
        "user0",
        "--top",
        "10",
        "--json",
    ]);
    assert!(ok, "{err}");
    let recs: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(recs.len(), 10);
    let rated: Vec<String> = planted_csv()
        .lines()
        .filter(|l| l.starts_with("user0,"))
        .map(|l| l.split(',').nth(1).unwrap().to_owned())
        .collect();
    let scores: Vec<f64> = recs.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for r in &recs {
        let item = r["item"].as_str().unwrap();
        assert!(
            !rated.iter().any(|x| x == item),
            "{item} was rated by user0"
        );
    }
}

#[test]
fn bad_input_is_an_error_message_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "user,item,rating\n1,2,5\n1,3,abc\n").unwrap();
    let (ok, _, err) = affinity(&["eval", "--ratings", path.to_str().unwrap(), "--json"]);
    assert!(!ok);
    assert!(err.contains("line 3") && err.contains("abc"), "{err}");
    let (ok, _, err) = affinity(&[
        "recommend",
        "--ratings",
        path.to_str().unwrap(),
        "--user",
        "x",
    ]);
    assert!(!ok && err.contains("line 3"), "{err}");
    let (ok, _, err) = affinity(&["eval", "--ratings", "/no/such/file", "--rank", "0"]);
    assert!(!ok && err.contains("rank"), "{err}");
}
