//! `--ranking-users N` of `affinity eval` and `affinity cv --split`: the ranking metrics
//! on an even sample of at most N test users, as the web page computes them.

mod common;

use common::{affinity, planted_csv, s};
use serde_json::Value;

const METRICS: [&str; 4] = ["precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"];

/// `affinity eval --json` on `ratings` with a fixed split and model plus `extra`, parsed,
/// with the run's wall time taken out so that two runs can be compared whole.
fn eval(ratings: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "eval",
        "--ratings",
        ratings,
        "--split",
        "0.8",
        "--seed",
        "7",
        "--rank",
        "3",
        "--max-iter",
        "8",
        "--json",
    ];
    args.extend_from_slice(extra);
    let (ok, out, err) = affinity(&args);
    assert!(ok, "eval {extra:?}: {err}");
    let mut v: Value = serde_json::from_str(&out).unwrap();
    v.as_object_mut().unwrap().remove("fit_seconds");
    v
}

#[test]
fn eval_ranks_every_test_user_unless_told_a_smaller_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    let ratings = s(&path);

    let all = eval(ratings, &[]);
    let n_all = all["ranked_users"].as_u64().unwrap();
    // 800 ratings over 60 users, a fifth held out: nearly every user has a test item, and
    // every user keeps training ratings, so every candidate is ranked.
    assert!(n_all > 40 && n_all <= 60, "{all}");
    assert_eq!(all["ranking_candidates"], all["ranked_users"], "{all}");

    // A sample larger than the test users is all of them: the same report, field for field.
    assert_eq!(eval(ratings, &["--ranking-users", "100000"]), all);
    let n = n_all.to_string();
    assert_eq!(eval(ratings, &["--ranking-users", &n]), all);

    let sampled = eval(ratings, &["--ranking-users", "10"]);
    assert_eq!(sampled["ranked_users"], 10, "{sampled}");
    assert_eq!(sampled["ranking_candidates"], all["ranking_candidates"]);
    for key in METRICS {
        let m = sampled[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&m), "{key} = {m}");
    }
    // Sampling touches only the ranking: the fit and its RMSE are those of the full run.
    for key in ["rmse", "mae", "n_train", "n_test", "top_k"] {
        assert_eq!(sampled[key], all[key], "{key}");
    }
    // The sample is a fixed stride over the users, not a random draw.
    assert_eq!(eval(ratings, &["--ranking-users", "10"]), sampled);
}

#[test]
fn zero_or_non_numeric_ranking_users_are_refused_by_the_flag_parser() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    for (cmd, bad) in [("eval", "0"), ("eval", "many"), ("cv", "0")] {
        let mut args = vec![cmd, "--ratings", s(&path), "--ranking-users", bad];
        if cmd == "cv" {
            args.extend_from_slice(&["--split", "0.8"]);
        }
        let (ok, out, err) = affinity(&args);
        assert!(!ok, "{cmd} --ranking-users {bad} was accepted: {out}");
        assert!(err.contains("--ranking-users"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        if bad == "0" {
            assert!(err.contains("at least 1"), "{err}");
        }
    }
}

#[test]
fn cv_samples_the_held_out_users_only_with_a_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    let cv = |extra: &[&str]| -> Value {
        let mut args = vec![
            "cv",
            "--ratings",
            s(&path),
            "--folds",
            "2",
            "--rank",
            "3",
            "--max-iter",
            "5",
            "--split",
            "0.8",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        assert!(ok, "cv {extra:?}: {err}");
        let mut v: Value = serde_json::from_str(&out).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    let all = cv(&[]);
    let n_all = all["test_ranked_users"].as_u64().unwrap();
    assert!(n_all > 40, "{all}");
    assert_eq!(cv(&["--ranking-users", "100000"]), all);
    let sampled = cv(&["--ranking-users", "7"]);
    assert_eq!(sampled["test_ranked_users"], 7, "{sampled}");
    assert_eq!(
        sampled["test_ranking_candidates"],
        all["test_ranking_candidates"]
    );
    assert_eq!(sampled["test_rmse"], all["test_rmse"]);
    for key in METRICS {
        let m = sampled[format!("test_{key}").as_str()].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&m), "{key} = {m}");
    }

    // Without --split there is no held-out part to rank.
    let (ok, _, err) = affinity(&["cv", "--ratings", s(&path), "--ranking-users", "5"]);
    assert!(!ok);
    assert!(err.contains("--split"), "{err}");
}
