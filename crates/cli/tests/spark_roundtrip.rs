//! The Spark bridge end to end, against a real PySpark: `affinity gen` writes ratings,
//! `affinity spark-script` a job that Spark runs in local mode, a small helper asks the
//! fitted Spark model for `transform` predictions and `recommendForAllUsers` lists, and
//! `affinity import-spark` turns Spark's factors into an Affinity model whose predictions and
//! top-10 lists must be Spark's.
//!
//! PySpark is looked for in `$AFFINITY_SPARK_PYTHON`, then the repository's `.venv-spark`
//! and `.venv-bench`; without it (or without Java) the tests print "SKIPPED: ..." and pass.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use affinity_engine::model_io::ModelFile;
use affinity_engine::parse::{self, Delimiter};
use serde_json::Value;

/// Tolerance on a score: Spark and Affinity both take f32 dot products, in their own order.
const TOL: f32 = 1e-4;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A python that imports pyspark (and numpy, which pyspark.ml needs), with Java present.
fn spark_python() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("AFFINITY_SPARK_PYTHON") {
        candidates.push(p.into());
    }
    candidates.push(repo_root().join(".venv-spark/bin/python"));
    candidates.push(repo_root().join(".venv-bench/bin/python"));
    let python = candidates
        .iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import pyspark, numpy"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| format!("no python with pyspark and numpy among {candidates:?}"))?;
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|o| o.status.success()) {
        return Err("pyspark is installed but `java` is not on the PATH".into());
    }
    Ok(python.clone())
}

fn affinity(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_affinity"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "affinity {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_python(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .args(args)
        // Spark's own Python workers must use the same interpreter.
        .env("PYSPARK_PYTHON", python)
        .env("PYSPARK_DRIVER_PYTHON", python)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {args:?} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asks the Spark model the job saved for predictions and top-10 lists, by original id.
const HELPER: &str = r#"
import csv, glob, json, os, sys
from pyspark.sql import SparkSession
from pyspark.ml.recommendation import ALSModel

out, ratings_path, export_dir, dest = sys.argv[1:5]
spark = (SparkSession.builder.master("local[2]").appName("affinity-roundtrip")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")

def mapping(name):
    rows = {}
    for part in glob.glob(os.path.join(out, name, "part-*.json")):
        for line in open(part):
            if line.strip():
                r = json.loads(line)
                rows[r["id"]] = r["index"]
    return rows

users, items = mapping("userIds"), mapping("itemIds")
to_spark_u = (lambda u: users[u]) if users else int
to_spark_i = (lambda i: items[i]) if items else int
back_u = {v: k for k, v in users.items()} if users else {}
back_i = {v: k for k, v in items.items()} if items else {}
name_u = (lambda u: back_u[u]) if users else str
name_i = (lambda i: back_i[i]) if items else str

rated = {}
pairs = []
with open(ratings_path) as f:
    for row in csv.DictReader(f):
        pairs.append((to_spark_u(row["user"]), to_spark_i(row["item"])))
        rated.setdefault(row["user"], set()).add(row["item"])

model = ALSModel.load(os.path.join(out, "model"))
df = spark.createDataFrame(pairs, "user INT, item INT")
with open(os.path.join(dest, "predictions.csv"), "w") as f:
    for r in model.transform(df).collect():
        f.write(f"{name_u(r.user)},{name_i(r.item)},{r.prediction!r}\n")

n_items = model.itemFactors.count()
with open(os.path.join(dest, "recs.csv"), "w") as f, open(os.path.join(dest, "recs_unrated.csv"), "w") as g:
    top10 = {r.user: r.recommendations for r in model.recommendForAllUsers(10).collect()}
    everything = {r.user: r.recommendations for r in model.recommendForAllUsers(n_items).collect()}
    for u, recs in top10.items():
        for k, rec in enumerate(recs):
            f.write(f"{name_u(u)},{k},{name_i(rec.item)},{rec.rating!r}\n")
    for u, recs in everything.items():
        unrated = [rec for rec in recs if name_i(rec.item) not in rated.get(name_u(u), set())][:10]
        for k, rec in enumerate(unrated):
            g.write(f"{name_u(u)},{k},{name_i(rec.item)},{rec.rating!r}\n")

exported = spark.read.json(os.path.join(export_dir, "userFactors"))
first = exported.orderBy("id").first()
json.dump({"count": exported.count(), "schema": exported.schema.simpleString(),
           "first_id": first.id, "first_features": first.features},
          open(os.path.join(dest, "exported.json"), "w"))
spark.stop()
"#;

/// `user,k,item,score` rows into each user's list, best first.
fn read_lists(path: &Path) -> HashMap<String, Vec<(String, f32)>> {
    let mut lists: HashMap<String, Vec<(usize, String, f32)>> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let f: Vec<&str> = line.split(',').collect();
        lists.entry(f[0].to_owned()).or_default().push((
            f[1].parse().unwrap(),
            f[2].to_owned(),
            f[3].parse().unwrap(),
        ));
    }
    lists
        .into_iter()
        .map(|(u, mut v)| {
            v.sort_by_key(|r| r.0);
            (u, v.into_iter().map(|(_, i, s)| (i, s)).collect())
        })
        .collect()
}

/// Whether two top-N lists agree: the same scores position by position, and the same items
/// except among those tied (within [`TOL`]) with the last score. Returns a reason otherwise.
fn same_top(ours: &[(String, f32)], spark: &[(String, f32)]) -> Result<bool, String> {
    if ours.len() != spark.len() {
        return Err(format!(
            "{} items against Spark's {}",
            ours.len(),
            spark.len()
        ));
    }
    for (k, (a, b)) in ours.iter().zip(spark).enumerate() {
        if (a.1 - b.1).abs() > TOL {
            return Err(format!(
                "position {k}: score {} against Spark's {}",
                a.1, b.1
            ));
        }
    }
    let last = spark.last().map_or(0.0, |r| r.1);
    let set = |l: &[(String, f32)]| l.iter().map(|r| r.0.clone()).collect::<HashSet<_>>();
    let (a, b) = (set(ours), set(spark));
    for item in a.symmetric_difference(&b) {
        let score = ours.iter().chain(spark).find(|r| &r.0 == item).unwrap().1;
        if (score - last).abs() > TOL {
            return Err(format!("item {item} (score {score}) is in only one list"));
        }
    }
    Ok(ours.iter().map(|r| &r.0).eq(spark.iter().map(|r| &r.0)))
}

#[test]
fn spark_fits_and_affinity_serves_the_same_model() {
    let python = match spark_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED: Spark round trip: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);

    // Ratings with string user ids (mapped to indices for Spark) and integer item ids (kept).
    affinity(&[
        "gen",
        "--users",
        "60",
        "--items",
        "45",
        "--ratings",
        "1000",
        "--rank",
        "3",
        "--seed",
        "5",
        "--out",
        s(&d("gen.csv")),
    ]);
    let gen = std::fs::read_to_string(d("gen.csv")).unwrap();
    let mut ratings = String::from("user,item,rating\n");
    for line in gen.lines().skip(1) {
        ratings.push_str(&format!("u{line}\n"));
    }
    std::fs::write(d("ratings.csv"), &ratings).unwrap();

    affinity(&[
        "spark-script",
        "--rank",
        "4",
        "--max-iter",
        "6",
        "--reg-param",
        "0.05",
        "--seed",
        "7",
        "--out",
        s(&d("job.py")),
    ]);
    let job_out = d("spark");
    let stdout = run_python(
        &python,
        &[
            s(&d("job.py")),
            "--ratings",
            s(&d("ratings.csv")),
            "--out",
            s(&job_out),
            "--split",
            "0.8",
            "--master",
            "local[2]",
        ],
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!(
        "Spark job: rmse {} mae {} precision@10 {} ndcg@10 {} ({} train, {} test)",
        report["rmse"],
        report["mae"],
        report["precision_at_10"],
        report["ndcg_at_10"],
        report["n_train"],
        report["n_test"]
    );
    assert_eq!(report["params"]["rank"], 4);
    let n_train = report["n_train"].as_u64().unwrap();
    let n_test = report["n_test"].as_u64().unwrap();
    assert_eq!(n_train + n_test, 1000);
    assert!((700..=900).contains(&n_train), "an 80% split: {n_train}");
    assert!(report["rmse"].as_f64().unwrap() < 2.0, "{report}");
    assert!(report["ndcg_at_10"].as_f64().is_some(), "{report}");
    assert!(report["user_ids"].is_string(), "string user ids are mapped");
    assert!(report["item_ids"].is_null(), "integer item ids are kept");

    let model_path = d("m.affm");
    let imported: Value = serde_json::from_str(&affinity(&[
        "import-spark",
        "--user-factors",
        s(&job_out.join("userFactors")),
        "--item-factors",
        s(&job_out.join("itemFactors")),
        "--user-ids",
        s(&job_out.join("userIds")),
        "--out",
        s(&model_path),
        "--json",
    ]))
    .unwrap();
    assert_eq!(imported["rank"], 4);
    affinity(&[
        "export-spark",
        "--model",
        s(&model_path),
        "--out",
        s(&d("exported")),
    ]);

    run_python(
        &python,
        &[
            "-c",
            HELPER,
            s(&job_out),
            s(&d("ratings.csv")),
            s(&d("exported")),
            s(dir.path()),
        ],
    );

    // Predictions: every pair Spark scored, Affinity scores alike; the pairs Spark dropped
    // (users or items absent from the training part) are cold in Affinity too.
    let file = ModelFile::from_any(&std::fs::read(&model_path).unwrap()).unwrap();
    let (model, users, items) = file.into_model().unwrap();
    assert!(!model.has_biases());
    let mut spark_pairs = HashSet::new();
    let mut max_diff = 0f32;
    let predictions = std::fs::read_to_string(d("predictions.csv")).unwrap();
    for line in predictions.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let spark: f32 = f[2].parse().unwrap();
        let ours = model
            .predict(users.get(f[0]).unwrap(), items.get(f[1]).unwrap())
            .unwrap_or_else(|| {
                panic!(
                    "Spark predicts ({}, {}), Affinity has no factors",
                    f[0], f[1]
                )
            });
        max_diff = max_diff.max((ours - spark).abs());
        spark_pairs.insert((f[0].to_owned(), f[1].to_owned()));
    }
    assert!(spark_pairs.len() > 900, "{} predictions", spark_pairs.len());
    for line in ratings.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if !spark_pairs.contains(&(f[0].to_owned(), f[1].to_owned())) {
            let (u, i) = (users.get(f[0]), items.get(f[1]));
            let cold = u.zip(i).and_then(|(u, i)| model.predict(u, i)).is_none();
            assert!(
                cold,
                "Spark dropped ({}, {}) but Affinity predicts it",
                f[0], f[1]
            );
        }
    }
    assert!(max_diff <= TOL, "max |Affinity - Spark| = {max_diff}");

    // Top 10 through `affinity recommend --model`: without --ratings every item competes
    // (as in recommendForAllUsers), with it the user's rated items are left out.
    let mut agreement = Vec::new();
    let ratings_path = d("ratings.csv");
    for (file_name, exclude) in [("recs.csv", false), ("recs_unrated.csv", true)] {
        let spark_lists = read_lists(&d(file_name));
        let (mut identical, mut users_compared) = (0, 0);
        for (user, spark) in &spark_lists {
            let mut args = vec!["recommend", "--model", s(&model_path), "--user", user];
            args.extend_from_slice(&["--top", "10", "--json"]);
            if exclude {
                args.extend_from_slice(&["--ratings", s(&ratings_path)]);
            }
            let recs: Vec<Value> = serde_json::from_str(&affinity(&args)).unwrap();
            let ours: Vec<(String, f32)> = recs
                .iter()
                .map(|r| {
                    (
                        r["item"].as_str().unwrap().to_owned(),
                        r["score"].as_f64().unwrap() as f32,
                    )
                })
                .collect();
            match same_top(&ours, spark) {
                Ok(same_order) => identical += usize::from(same_order),
                Err(why) => {
                    panic!("{file_name}, user {user}: {why}\nours {ours:?}\nspark {spark:?}")
                }
            }
            users_compared += 1;
        }
        assert!(
            users_compared >= 50,
            "{users_compared} users in {file_name}"
        );
        agreement.push(format!(
            "{file_name}: {users_compared} users agree (ties aside), {identical} in the very same order"
        ));
    }

    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(d("exported.json")).unwrap()).unwrap();
    let n_users = imported["n_users_with_factors"].as_u64().unwrap();
    assert_eq!(exported["count"].as_u64(), Some(n_users), "{exported}");
    assert_eq!(
        exported["schema"], "struct<features:array<double>,id:bigint>",
        "Spark reads an exported model's factors as numbers"
    );

    eprintln!(
        "Spark round trip: {} predictions, max |Affinity - Spark| = {max_diff:.2e}; {}",
        spark_pairs.len(),
        agreement.join("; ")
    );
}

/// The script sniffs a file's format as Affinity's parser does.
#[test]
fn the_script_detects_formats_as_the_parser_does() {
    let python = match spark_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED: format detection parity: {why}");
            return;
        }
    };
    let lines = [
        "user,item,rating",
        "196\t242\t3\t881250949",
        "1::1193::5::978300760",
        "userId,movieId,rating,timestamp",
        "1 2 3.5",
        "\"a,b\",x,4",
        "ann;dune;4.5",
        "u|i|r",
        "movie,customer,stars",
        "ann,dune",
        "\u{feff}user\titem\tscore",
        "x::y,z,w",
        "1,2,abc",
    ];
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.py");
    affinity(&["spark-script", "--out", s(&job)]);
    let code = format!(
        "import json, sys; sys.path.insert(0, {:?}); import job\n\
         for line in json.loads(sys.argv[1]): print(json.dumps(job.detect_format(line)[:3]))",
        s(dir.path())
    );
    let out = run_python(
        &python,
        &["-c", &code, &serde_json::to_string(&lines).unwrap()],
    );
    for (line, got) in lines.iter().zip(out.lines()) {
        let f = parse::detect_format(line).unwrap();
        let delim = match f.delimiter {
            Delimiter::Byte(b) => Value::from((b as char).to_string()),
            Delimiter::DoubleColon => Value::from("::"),
            Delimiter::Whitespace => Value::Null,
        };
        let c = f.columns;
        let expected = serde_json::json!([delim, f.has_header, [c.user, c.item, c.rating]]);
        let got: Value = serde_json::from_str(got).unwrap();
        assert_eq!(got, expected, "first line {line:?}");
    }
    assert_eq!(out.lines().count(), lines.len());
}
