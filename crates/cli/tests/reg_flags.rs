//! `affinity fit` and `affinity recommend --ratings` take the regularisation flags of `eval`
//! (`--reg-constant`, `--bias-reg`, `--reg-scaling`, `--confidence`), and `fit --split`
//! trains on the same part `eval --ratings` does.

mod common;

use std::path::Path;

use common::{affinity, fit, half_rated_csv, s};
use serde_json::Value;

/// Fits with `flags` into a JSON model file and returns the report and the model.
fn fit_json(ratings: &Path, out: &Path, flags: &[&str]) -> (Value, Value) {
    let report = fit(ratings, out, flags);
    let model = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    (report, model)
}

/// The largest absolute factor of any user or item.
fn max_factor(model: &Value) -> f64 {
    ["users", "items"]
        .iter()
        .flat_map(|side| model[side].as_array().unwrap())
        .flat_map(|row| row["factors"].as_array().cloned().unwrap_or_default())
        .map(|v| v.as_f64().unwrap().abs())
        .fold(0.0, f64::max)
}

/// The largest absolute user or item bias.
fn max_bias(model: &Value) -> f64 {
    ["users", "items"]
        .iter()
        .flat_map(|side| model[side].as_array().unwrap())
        .map(|row| row["bias"].as_f64().unwrap().abs())
        .fold(0.0, f64::max)
}

#[test]
fn fit_applies_the_regularisation_flags() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, half_rated_csv()).unwrap();
    let out = dir.path().join("m.json");
    let base = ["--rank", "3", "--max-iter", "5"];

    let (_, plain) = fit_json(&ratings, &out, &base);
    assert!(max_factor(&plain) > 0.3, "a plain fit has real factors");
    // A huge constant ridge drives every factor to (nearly) zero.
    let (report, ridged) = fit_json(
        &ratings,
        &out,
        &[&base[..], &["--reg-constant", "1e6"]].concat(),
    );
    assert_eq!(report["reg_constant"], 1e6);
    assert!(max_factor(&ridged) < 1e-3, "{}", max_factor(&ridged));

    // A huge bias regularisation pins the biases at 0; without it they are fitted.
    let biased = [&base[..], &["--biases"]].concat();
    let (_, free) = fit_json(&ratings, &out, &biased);
    assert!(
        max_bias(&free) > 0.05,
        "biases are fitted: {}",
        max_bias(&free)
    );
    let (report, pinned) = fit_json(
        &ratings,
        &out,
        &[&biased[..], &["--bias-reg", "1e9"]].concat(),
    );
    assert_eq!(report["bias_reg"], 1e9);
    assert!(max_bias(&pinned) < 1e-4, "{}", max_bias(&pinned));

    // Constant scaling and the `implicit` library's confidences change the implicit model.
    let implicit = [&base[..], &["--implicit", "--alpha", "5"]].concat();
    let (_, spark_like) = fit_json(&ratings, &out, &implicit);
    for extra in [["--reg-scaling", "constant"], ["--confidence", "alpha"]] {
        let (_, other) = fit_json(&ratings, &out, &[&implicit[..], &extra[..]].concat());
        assert_ne!(
            other["users"], spark_like["users"],
            "{extra:?} has no effect"
        );
    }

    // Bad values are refused, naming the flag's parameter.
    let (ok, _, err) = affinity(&[
        "fit",
        "--ratings",
        s(&ratings),
        "--out",
        s(&out),
        "--reg-scaling",
        "sometimes",
    ]);
    assert!(!ok && err.contains("sometimes"), "{err}");
}

#[test]
fn recommend_from_ratings_applies_the_regularisation_flags() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, half_rated_csv()).unwrap();
    let top_scores = |flags: &[&str]| -> Vec<f64> {
        let mut args = vec![
            "recommend",
            "--ratings",
            s(&ratings),
            "--user",
            "u0",
            "--rank",
            "3",
        ];
        args.extend_from_slice(flags);
        args.push("--json");
        let (ok, stdout, err) = affinity(&args);
        assert!(ok, "recommend {flags:?}: {err}");
        let recs: Value = serde_json::from_str(&stdout).unwrap();
        recs.as_array()
            .unwrap()
            .iter()
            .map(|r| r["score"].as_f64().unwrap())
            .collect()
    };
    let plain = top_scores(&[]);
    assert!(
        plain.iter().any(|s| s.abs() > 0.1),
        "real scores: {plain:?}"
    );
    let ridged = top_scores(&["--reg-constant", "1e6"]);
    assert!(ridged.iter().all(|s| s.abs() < 1e-3), "{ridged:?}");
    // Bias regularisation and constant scaling change the list's scores.
    let biased = top_scores(&["--biases"]);
    for extra in [["--bias-reg", "1e9"], ["--reg-scaling", "constant"]] {
        let other = top_scores(&[&["--biases"][..], &extra[..]].concat());
        assert_ne!(other, biased, "{extra:?} has no effect");
    }
    let (ok, _, err) = affinity(&[
        "recommend",
        "--ratings",
        s(&ratings),
        "--user",
        "u0",
        "--confidence",
        "never",
    ]);
    assert!(!ok && err.contains("never"), "{err}");
}

/// `fit --split F` trains on the part `eval --ratings --split F` trains on (same seed), and
/// the model keeps every id of the file.
#[test]
fn fit_split_trains_on_evals_training_part_and_keeps_every_id() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, half_rated_csv()).unwrap();
    let out = dir.path().join("m.json");
    let (all, full_model) = fit_json(&ratings, &out, &["--rank", "2"]);
    let (part, model) = fit_json(
        &ratings,
        &out,
        &["--rank", "2", "--split", "0.6", "--seed", "9"],
    );
    let (ok, stdout, err) = affinity(&[
        "eval",
        "--ratings",
        s(&ratings),
        "--split",
        "0.6",
        "--seed",
        "9",
        "--rank",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let eval: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(part["n_ratings"], eval["n_train"]);
    assert_eq!(part["split"], 0.6);
    let n_all = all["n_ratings"].as_u64().unwrap();
    let n_part = part["n_ratings"].as_u64().unwrap();
    assert!(
        n_part * 10 > n_all * 5 && n_part * 10 < n_all * 7,
        "{n_part} of {n_all}"
    );
    assert_eq!(
        model["users"].as_array().unwrap().len(),
        full_model["users"].as_array().unwrap().len()
    );
    assert_ne!(model["users"], full_model["users"]);
    let (ok, _, err) = affinity(&[
        "fit",
        "--ratings",
        s(&ratings),
        "--out",
        s(&out),
        "--split",
        "1.5",
    ]);
    assert!(!ok && err.contains("--split"), "{err}");
}
