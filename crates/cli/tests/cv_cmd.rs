//! `affinity cv`: its flags and JSON, which later tooling relies on.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{affinity, planted_csv};

/// The planted file of `common::planted_csv` written into `dir`; its path.
fn write_planted(dir: &Path) -> String {
    let path = dir.join("r.csv");
    std::fs::write(&path, planted_csv()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn as_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn cv_with_a_split_prints_every_grid_point_the_best_and_the_test_scores() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    let (ok, out, err) = affinity(&[
        "cv",
        "--ratings",
        &path,
        "--folds",
        "3",
        "--rank",
        "1,4",
        "--reg-param",
        "0.01,0.1,0.5",
        "--max-iter",
        "10",
        "--split",
        "0.8",
        "--seed",
        "42",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for key in [
        "best",
        "results",
        "test_rmse",
        "test_mae",
        "test_ndcg_at_k",
        "seconds",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2 * 3);
    for r in results {
        for key in ["rank", "max_iter", "reg_param", "alpha", "mean", "std"] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        assert_eq!(r["scores"].as_array().unwrap().len(), 3);
        assert!(as_f64(&r["std"]) >= 0.0);
    }
    let best = &v["best"];
    let same = |r: &Value| {
        ["rank", "max_iter", "reg_param", "alpha"]
            .iter()
            .all(|k| r[k] == best[k])
    };
    assert!(results.iter().any(same), "best {best} is not a grid point");
    // RMSE: the best has the lowest mean of all points.
    let lowest = results
        .iter()
        .map(|r| as_f64(&r["mean"]))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(as_f64(&best["mean"]), lowest);
    // The data is exactly rank 2 (a·b + c·d), so rank 1 underfits and rank 4 wins.
    assert_eq!(best["rank"], 4);
    let test_rmse = as_f64(&v["test_rmse"]);
    assert!(test_rmse > 0.0 && test_rmse < 0.5, "{test_rmse}");
    assert!(as_f64(&v["test_mae"]) <= test_rmse + 1e-12);
    assert!(as_f64(&v["seconds"]) > 0.0);
}

#[test]
fn cv_without_a_split_selects_by_ndcg_and_has_no_test_scores() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    let (ok, out, err) = affinity(&[
        "cv",
        "--ratings",
        &path,
        "--folds",
        "2",
        "--rank",
        "2,3",
        "--max-iter",
        "5",
        "--metric",
        "ndcg_at_k",
        "--top-k",
        "5",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["metric"], "ndcg_at_k");
    assert!(v["test_rmse"].is_null());
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let highest = results
        .iter()
        .map(|r| as_f64(&r["mean"]))
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(
        as_f64(&v["best"]["mean"]),
        highest,
        "NDCG: higher is better"
    );
    assert!((0.0..=1.0).contains(&highest));
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    let cases: [(&[&str], &str); 3] = [
        (&["--folds", "1"], "at least 2"),
        (&["--rank", "0"], "rank must be at least 1"),
        (&["--split", "1.5"], "between 0 and 1"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["cv", "--ratings", &path, "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        assert!(!ok, "{extra:?} succeeded: {out}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (ok, _, err) = affinity(&["cv", "--ratings", "/nonexistent/r.csv", "--json"]);
    assert!(!ok && err.contains("cannot read"), "{err}");
}

/// `--implicit`, `--biases` and `--alpha` either work or say they are not supported yet,
/// depending on whether the engine has the fields; they never panic.
#[test]
fn engine_dependent_flags_work_or_say_they_are_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    for (extra, flag) in [
        (&["--implicit", "--alpha", "1,10"][..], "--implicit"),
        (&["--biases"][..], "--biases"),
    ] {
        let mut args = vec!["cv", "--ratings", &path, "--max-iter", "3", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        if ok {
            let v: Value = serde_json::from_str(&out).unwrap();
            let results = v["results"].as_array().unwrap();
            if flag == "--implicit" {
                let alphas: Vec<f64> = results.iter().map(|r| as_f64(&r["alpha"])).collect();
                assert_eq!(alphas, vec![1.0, 10.0], "{out}");
            } else {
                assert_eq!(results.len(), 1, "{out}");
            }
        } else {
            assert!(
                err.contains(&format!("{flag} is not supported yet")),
                "{flag}: {err}"
            );
        }
    }
}

/// `--reg-constant` and `--bias-reg` are grid axes (varying fastest), reported per point and
/// for the best; `--reg-scaling` and `--confidence` apply to every point.
#[test]
fn constant_ridge_and_bias_regularisation_are_grid_axes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    let (ok, out, err) = affinity(&[
        "cv",
        "--ratings",
        &path,
        "--biases",
        "--folds",
        "2",
        "--rank",
        "2",
        "--max-iter",
        "4",
        "--reg-param",
        "0.01,0.1",
        "--reg-constant",
        "0,2",
        "--bias-reg",
        "0.5,5",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let results = v["results"].as_array().unwrap();
    let points: Vec<(f64, f64, f64)> = results
        .iter()
        .map(|r| {
            (
                as_f64(&r["reg_param"]),
                as_f64(&r["reg_constant"]),
                as_f64(&r["bias_reg"]),
            )
        })
        .collect();
    assert_eq!(
        points,
        vec![
            (0.01, 0.0, 0.5),
            (0.01, 0.0, 5.0),
            (0.01, 2.0, 0.5),
            (0.01, 2.0, 5.0),
            (0.1, 0.0, 0.5),
            (0.1, 0.0, 5.0),
            (0.1, 2.0, 0.5),
            (0.1, 2.0, 5.0),
        ]
    );
    // Different regularisations give different fits.
    let means: Vec<u64> = results
        .iter()
        .map(|r| as_f64(&r["mean"]).to_bits())
        .collect();
    let mut distinct = means.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), means.len(), "{out}");
    assert_eq!(v["best"]["reg_scaling"], "count");
    assert!(v["best"].get("bias_reg").is_some());

    let (ok, out, err) = affinity(&[
        "cv",
        "--ratings",
        &path,
        "--implicit",
        "--reg-scaling",
        "constant",
        "--confidence",
        "alpha",
        "--reg-param",
        "1,10",
        "--max-iter",
        "3",
        "--folds",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["reg_scaling"], "constant");
        assert_eq!(r["confidence"], "alpha");
        assert!(r["bias_reg"].is_null());
    }

    // A bias regularisation without biases, and a bad scaling name, are refused.
    for extra in [
        &["--bias-reg", "1"][..],
        &["--reg-scaling", "rows"][..],
        &["--biases", "--bias-reg", "-1"][..],
    ] {
        let mut args = vec!["cv", "--ratings", &path, "--max-iter", "2", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        assert!(!ok, "{extra:?} succeeded: {out}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `affinity eval` takes the parameters `affinity cv` selects, so that a chosen point can be
/// refitted and scored (bench/movielens_cv.sh relies on it).
#[test]
fn eval_accepts_the_parameters_cv_selects() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_planted(dir.path());
    let rmse = |extra: &[&str]| {
        let mut args = vec!["eval", "--ratings", &path, "--rank", "2", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        assert!(ok, "{extra:?}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        as_f64(&v["rmse"])
    };
    let plain = rmse(&["--biases"]);
    let tuned = rmse(&[
        "--biases",
        "--bias-reg",
        "2",
        "--reg-constant",
        "1",
        "--reg-scaling",
        "count",
    ]);
    assert!(plain.is_finite() && tuned.is_finite());
    assert_ne!(plain, tuned);
    let implicit = rmse(&[
        "--implicit",
        "--reg-scaling",
        "constant",
        "--confidence",
        "alpha",
        "--reg-param",
        "10",
    ]);
    assert!(implicit.is_finite());
    let (ok, _, err) = affinity(&["eval", "--ratings", &path, "--bias-reg", "1"]);
    assert!(!ok && err.contains("needs biases"), "{err}");
}
