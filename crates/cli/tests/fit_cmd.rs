//! `affinity fit` and `affinity recommend --model`, run through the real binary.

mod common;

use common::{affinity, fit, planted_csv, s};
use serde_json::Value;

#[test]
fn a_saved_model_recommends_exactly_what_training_then_recommending_does() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, planted_csv()).unwrap();
    for (name, flags, format) in [
        ("m.affm", &["--rank", "3"][..], "binary"),
        ("m.json", &["--rank", "3"][..], "json"),
        ("b.affm", &["--rank", "2", "--biases"][..], "binary"),
        ("b.JSON", &["--rank", "2", "--biases"][..], "json"),
    ] {
        let model = dir.path().join(name);
        let report = fit(&ratings, &model, flags);
        assert_eq!(report["format"], format, "{name}");
        assert_eq!(report["format_version"], 2);
        assert_eq!(report["n_ratings"], 800);
        assert_eq!(
            (report["n_users"].as_u64(), report["n_items"].as_u64()),
            (Some(60), Some(40))
        );
        assert_eq!(report["biases"], flags.contains(&"--biases"));
        let written = std::fs::read(&model).unwrap();
        assert_eq!(report["bytes"].as_u64(), Some(written.len() as u64));
        assert_eq!(written.starts_with(b"AFFM"), format == "binary", "{name}");

        for user in ["user0", "user7"] {
            let common = ["--user", user, "--top", "5", "--json"];
            let mut trained = vec!["recommend", "--ratings", s(&ratings)];
            trained.extend_from_slice(&common);
            trained.extend_from_slice(flags);
            let (ok, expected, err) = affinity(&trained);
            assert!(ok, "{err}");
            let mut served = vec!["recommend", "--model", s(&model), "--ratings", s(&ratings)];
            served.extend_from_slice(&common);
            let (ok, got, err) = affinity(&served);
            assert!(ok, "{err}");
            assert_eq!(got, expected, "{name}, {user}");
            let recs: Value = serde_json::from_str(&got).unwrap();
            assert_eq!(recs.as_array().unwrap().len(), 5);
        }
    }
}

#[test]
fn rated_items_are_left_out_only_when_the_ratings_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, planted_csv()).unwrap();
    let model = dir.path().join("m.affm");
    fit(&ratings, &model, &["--rank", "3"]);
    let items = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "recommend",
            "--model",
            s(&model),
            "--user",
            "user0",
            "--top",
            "100",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = affinity(&args);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["item"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = items(&[]);
    assert_eq!(all.len(), 40, "every item, rated or not");
    let unrated = items(&["--ratings", s(&ratings)]);
    assert_eq!(unrated.len(), 40 - 14);
    for i in 0..40 {
        let id = format!("item{i}");
        assert_eq!(unrated.contains(&id), i % 3 != 0, "{id}");
    }
    // Ratings that mention ids the model has never seen are fine: they cannot be scored.
    let extra = dir.path().join("extra.csv");
    std::fs::write(
        &extra,
        "user,item,rating\nuser0,item1,4\nnewbie,item2,5\nuser0,brand-new,3\n",
    )
    .unwrap();
    let without_item1 = items(&["--ratings", s(&extra)]);
    assert_eq!(without_item1.len(), 39);
    assert!(!without_item1.contains(&"item1".to_owned()));
}

#[test]
fn bad_models_users_and_flags_are_reported_with_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, planted_csv()).unwrap();
    let model = dir.path().join("m.affm");
    fit(&ratings, &model, &[]);

    let (ok, _, err) = affinity(&["recommend", "--model", s(&model), "--user", "nobody"]);
    assert!(!ok);
    assert!(err.contains("user \"nobody\" is not in the model"), "{err}");
    assert!(err.contains("m.affm"), "{err}");

    let mut bytes = std::fs::read(&model).unwrap();
    let k = bytes.len() / 2;
    bytes[k] ^= 0xff;
    let broken = dir.path().join("broken.affm");
    std::fs::write(&broken, &bytes).unwrap();
    let (ok, _, err) = affinity(&["recommend", "--model", s(&broken), "--user", "user0"]);
    assert!(!ok);
    assert!(err.starts_with("affinity: "), "{err}");
    assert!(
        err.contains("broken.affm") && err.contains("corrupt model file"),
        "{err}"
    );

    let (ok, _, err) = affinity(&[
        "recommend",
        "--model",
        s(&dir.path().join("none.affm")),
        "--user",
        "u",
    ]);
    assert!(!ok);
    assert!(
        err.contains("cannot read") && err.contains("none.affm"),
        "{err}"
    );

    let (ok, _, err) = affinity(&["recommend", "--user", "user0"]);
    assert!(!ok);
    assert!(err.contains("--ratings"), "{err}");

    let out = dir.path().join("never.affm");
    let (ok, _, err) = affinity(&[
        "fit",
        "--ratings",
        s(&ratings),
        "--out",
        s(&out),
        "--rank",
        "0",
    ]);
    assert!(!ok);
    assert!(err.contains("rank"), "{err}");
    assert!(!out.exists(), "nothing is written for bad parameters");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "user,item,rating\nann,dune,abc\n").unwrap();
    let (ok, _, err) = affinity(&["fit", "--ratings", s(&bad), "--out", s(&out)]);
    assert!(!ok);
    assert!(err.contains("bad.csv") && err.contains("line 2"), "{err}");
}

#[test]
fn the_128_bit_lanes_of_wasm_give_the_models_of_avx2_bit_for_bit() {
    // With AVX2 the row solves use 8-row tiles of 256-bit vectors; AFFINITY_LANES=128 makes
    // them use the 4-row tiles of 128-bit vectors that the browser's WebAssembly build uses.
    // (On a processor without AVX2 both runs take the 128-bit path.)
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, planted_csv()).unwrap();
    for flags in [
        &["--rank", "13"][..],
        &["--rank", "40", "--max-iter", "3"][..],
        &["--rank", "10", "--biases"][..],
        &["--rank", "12", "--implicit", "--alpha", "2"][..],
        &["--rank", "6", "--nonnegative"][..],
    ] {
        let models: Vec<Vec<u8>> = ["256", "128"]
            .iter()
            .map(|lanes| {
                let model = dir.path().join(format!("m{lanes}.affm"));
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_affinity"))
                    .args(["fit", "--ratings", s(&ratings), "--out", s(&model)])
                    .args(flags)
                    .env("AFFINITY_LANES", lanes)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{flags:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                std::fs::read(&model).unwrap()
            })
            .collect();
        assert!(models[0] == models[1], "{flags:?}: the models differ");
    }
}
