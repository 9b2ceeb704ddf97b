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
fn the_128_bit_lanes_give_the_default_model_up_to_the_rounding_of_fused_multiply_adds() {
    // By default the row solves use 8-row tiles of 256-bit vectors and fused multiply-adds
    // where the processor has AVX2 and FMA; AFFINITY_LANES=128 makes them use the 4-row tiles
    // of 128-bit vectors, unfused, of the browser's worker without relaxed SIMD. Without FMA
    // both runs are the same model, bit for bit (the tile height and the vector width change
    // no sum); with FMA, the Gram matrices round once per multiply-add instead of twice, and
    // the models differ in the last bits only. (The browser's fused worker is compared with
    // the default run in tests/e2e/parity.test.mjs.)
    #[cfg(target_arch = "x86_64")]
    let fused = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let fused = false;
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, planted_csv()).unwrap();
    // At rank 40 every row of these ratings (13 to 20 each) is solved in the dual form,
    // which sums in fixed 128-bit lanes without fused multiply-adds: the same model, bit for
    // bit, from both runs even with FMA.
    for (flags, all_dual) in [
        (&["--rank", "13"][..], false),
        (&["--rank", "40", "--max-iter", "3"][..], true),
        (&["--rank", "10", "--biases"][..], false),
        (&["--rank", "12", "--implicit", "--alpha", "2"][..], false),
        (&["--rank", "6", "--nonnegative"][..], false),
    ] {
        let models: Vec<(Vec<u8>, Vec<f64>)> = ["256", "128"]
            .iter()
            .map(|lanes| {
                let model = dir.path().join(format!("m{lanes}.json"));
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
                let bytes = std::fs::read(&model).unwrap();
                let json: Value = serde_json::from_slice(&bytes).unwrap();
                let values = ["users", "items"]
                    .iter()
                    .flat_map(|side| json[side].as_array().unwrap().clone())
                    .flat_map(|row| {
                        let factors = row["factors"].as_array().unwrap().clone();
                        factors.into_iter().chain(row.get("bias").cloned())
                    })
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                (bytes, values)
            })
            .collect();
        let (default, lanes128) = (&models[0], &models[1]);
        if !fused || all_dual {
            assert!(default.0 == lanes128.0, "{flags:?}: the models differ");
            continue;
        }
        assert!(
            default.0 != lanes128.0,
            "{flags:?}: fused multiply-adds gave the unfused model to the bit"
        );
        assert_eq!(default.1.len(), lanes128.1.len());
        let worst = default
            .1
            .iter()
            .zip(&lanes128.1)
            .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
            .fold(0.0, f64::max);
        eprintln!("{flags:?}: largest relative difference {worst:e}");
        assert!(worst < 1e-4, "{flags:?}: the models differ by {worst:e}");
    }
}
