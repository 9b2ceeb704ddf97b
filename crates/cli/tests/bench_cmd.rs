//! `affinity bench` on a tiny synthetic dataset, run through the real binary.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_affinity"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn positive(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x > 0.0, "{what} = {x}");
    x
}

#[test]
fn bench_json_has_every_timing_positive() {
    let (ok, out, err) = bench(&["--synthetic-ratings", "5000", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let d = &v["dataset"];
    assert_eq!(d["source"], "synthetic");
    assert_eq!(d["n_ratings"], 5000);
    assert_eq!(d["note"], Value::Null);
    assert!(d["n_users"].as_u64().unwrap() <= 943 && d["n_items"].as_u64().unwrap() <= 1682);

    let fits = v["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 2);
    for (fit, rank) in fits.iter().zip([10, 40]) {
        assert_eq!(fit["rank"], rank);
        assert_eq!(fit["max_iter"], 10);
        let total = positive(&fit["total_seconds"], "total_seconds");
        let per = positive(&fit["seconds_per_iteration"], "seconds_per_iteration");
        assert!((per * 10.0 - total).abs() < 1e-9);
        let iterations = fit["iteration_seconds"].as_array().unwrap();
        assert_eq!(iterations.len(), 10);
        let sum: f64 = iterations.iter().map(|t| positive(t, "an iteration")).sum();
        assert!(sum <= total + 1e-9, "{sum} > {total}");
    }

    let cv = &v["cv"];
    assert_eq!(cv["folds"], 3);
    assert_eq!(cv["ranks"], serde_json::json!([10, 40]));
    assert_eq!(cv["reg_params"], serde_json::json!([0.05, 0.1, 0.2]));
    assert_eq!(cv["n_fits"], 18);
    positive(&cv["seconds"], "cv seconds");
    assert!([10, 40].contains(&cv["best_rank"].as_u64().unwrap()));
    let rmse = positive(&cv["best_rmse"], "best_rmse");
    assert!(rmse < 4.0, "ratings are 1 to 5: {rmse}");

    let top = &v["top_n"];
    assert_eq!(top["n"], 10);
    assert_eq!(top["n_users"], d["n_users"], "every user rated something");
    positive(&top["seconds"], "top_n seconds");

    if cfg!(target_os = "linux") {
        positive(&v["peak_memory_kib"], "peak_memory_kib");
    } else {
        assert_eq!(v["peak_memory_kib"], Value::Null);
    }
    positive(&v["total_seconds"], "total_seconds");
}

#[test]
fn bench_table_names_each_job_and_bad_sizes_are_refused() {
    let (ok, out, err) = bench(&["--synthetic-ratings", "3000", "--data", "/nonexistent"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("synthetic data: 3000 ratings,"), "{out}");
    for row in [
        "fit rank 10, maxIter 10",
        "fit rank 40, maxIter 10",
        "3-fold CV, rank {10,40} x regParam {0.05,0.1,0.2} (18 fits)",
        "top-10 for all",
        "peak memory (VmHWM)",
        "CV best: rank",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }
    let (ok, _, err) = bench(&["--synthetic-ratings", "2"]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "affinity: --synthetic-ratings must be between 3 and 10000000, got 2"
    );
    let (ok, _, err) = bench(&["--synthetic-ratings", "99999999"]);
    assert!(!ok);
    assert!(err.contains("got 99999999"), "{err}");
}
