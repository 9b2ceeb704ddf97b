//! A runnable PySpark job that fits Apache Spark MLlib's ALS with Affinity's parameters, for
//! data that has outgrown the browser.
//!
//! [`render`] turns one set of [`AlsParams`] ([`SparkJob::Fit`]) or a cross-validation grid
//! ([`SparkJob::CrossValidate`]) into the text of a Python script. Run as
//! `python job.py --ratings FILE --out DIR [--split 0.8]`, the script reads the ratings as
//! [`crate::parse`] does (delimiter, header and columns sniffed from the first line), splits
//! them at random, fits `pyspark.ml.recommendation.ALS` (or `CrossValidator` over a
//! `ParamGridBuilder` grid), prints the test RMSE and MAE (cold-start strategy `drop`) and
//! precision, recall and NDCG at 10 (`RankingEvaluator`), and writes the factors as Spark
//! does (`DIR/userFactors`, `DIR/itemFactors`), which [`crate::spark_io`] reads back.
//!
//! Spark needs integer ids: a side whose ids are not all plain 32-bit integers is mapped to
//! dense indices, and the mapping written to `DIR/userIds` or `DIR/itemIds` (the script's
//! header says so).

use std::fmt::Write as _;

use thiserror::Error;

use crate::als::{AlsParams, ParamError};
use crate::cv::ParamGrid;

/// What the generated script fits.
#[derive(Clone, Debug, PartialEq)]
pub enum SparkJob {
    /// One ALS fit with these parameters.
    Fit(AlsParams),
    /// Cross-validation of every grid point on `folds` folds of the training part; the best
    /// point's model is scored and written. Axes left empty keep `base`'s value.
    CrossValidate {
        /// The parameters the grid does not vary.
        base: AlsParams,
        /// Ranks, iteration counts, regularisations and alphas to try.
        grid: ParamGrid,
        /// Number of folds (at least 2).
        folds: usize,
    },
}

/// Why no script was written.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum SparkScriptError {
    /// The parameters (or a grid point, numbered from 1) are not valid ALS parameters.
    #[error("{}{source}", point.map(|p| format!("grid point {p}: ")).unwrap_or_default())]
    Params {
        /// The grid point at fault, when a grid was given.
        point: Option<usize>,
        /// What is wrong.
        source: ParamError,
    },
    /// Spark's ALS has no biases.
    #[error("Spark's ALS has no user and item biases; leave biases off to export a Spark job")]
    Biases,
    /// Spark's seed is a signed 64-bit integer.
    #[error("the seed {0} is larger than Spark's largest seed {max}", max = i64::MAX)]
    SeedTooLarge(u64),
    /// Cross-validation needs at least two folds.
    #[error("cross-validation needs at least 2 folds, got {0}")]
    Folds(usize),
}

/// The PySpark script of `job` (see the module documentation).
///
/// Refused: invalid parameters (as [`AlsParams::check`] finds them, for every grid point),
/// biases, a seed past `i64::MAX`, fewer than 2 folds. The solver is not exported: Spark
/// always solves each row exactly (Cholesky, or NNLS when non-negative).
pub fn render(job: &SparkJob) -> Result<String, SparkScriptError> {
    let (base, grid, folds) = match job {
        SparkJob::Fit(p) => (p, None, None),
        SparkJob::CrossValidate { base, grid, folds } => (base, Some(grid), Some(*folds)),
    };
    check(base, None)?;
    if let Some(grid) = grid {
        let points = grid
            .points_with(base, |p, alpha| Ok::<_, ()>(AlsParams { alpha, ..p }))
            .expect("the alpha setter never fails");
        for (k, p) in points.iter().enumerate() {
            check(p, Some(k + 1))?;
        }
    }
    if let Some(folds) = folds.filter(|&f| f < 2) {
        return Err(SparkScriptError::Folds(folds));
    }
    let summary = match (grid, folds) {
        (Some(grid), Some(folds)) => format!(
            "Cross-validates {} grid points on {folds} folds ({}), base {}.",
            grid.len(),
            describe_grid(grid),
            describe(base)
        ),
        _ => format!("Fits ALS with {}.", describe(base)),
    };
    let params = format!(
        "{{\"rank\": {}, \"maxIter\": {}, \"regParam\": {}, \"implicitPrefs\": {}, \"alpha\": {}, \"nonnegative\": {}, \"seed\": {}}}",
        base.rank,
        base.max_iter,
        py_float(base.reg_param),
        py_bool(base.implicit_prefs),
        py_float(base.alpha),
        py_bool(base.nonnegative),
        base.seed
    );
    let grid_text = match grid {
        None => "None".to_owned(),
        Some(g) => {
            let mut axes = Vec::new();
            let ints = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>();
            let floats = |v: &[f64]| v.iter().map(|&x| py_float(x)).collect::<Vec<_>>();
            for (name, values) in [
                ("rank", ints(&g.ranks)),
                ("maxIter", ints(&g.max_iters)),
                ("regParam", floats(&g.reg_params)),
                ("alpha", floats(&g.alphas)),
            ] {
                if !values.is_empty() {
                    axes.push(format!("\"{name}\": [{}]", values.join(", ")));
                }
            }
            format!("{{{}}}", axes.join(", "))
        }
    };
    Ok(TEMPLATE
        .replace("@@VERSION@@", env!("CARGO_PKG_VERSION"))
        .replace("@@SUMMARY@@", &summary)
        .replace("@@JOB@@", if grid.is_some() { "cv" } else { "fit" })
        .replace("@@PARAMS@@", &params)
        .replace("@@GRID@@", &grid_text)
        .replace(
            "@@FOLDS@@",
            &folds.map_or("None".to_owned(), |f| f.to_string()),
        ))
}

fn check(p: &AlsParams, point: Option<usize>) -> Result<(), SparkScriptError> {
    p.check()
        .map_err(|source| SparkScriptError::Params { point, source })?;
    if p.biases {
        return Err(SparkScriptError::Biases);
    }
    if p.seed > i64::MAX as u64 {
        return Err(SparkScriptError::SeedTooLarge(p.seed));
    }
    Ok(())
}

/// The parameters in Spark's words, for the script's header.
fn describe(p: &AlsParams) -> String {
    let mut s = format!(
        "rank={} maxIter={} regParam={} seed={}",
        p.rank,
        p.max_iter,
        py_float(p.reg_param),
        p.seed
    );
    if p.implicit_prefs {
        let _ = write!(s, " implicitPrefs=True alpha={}", py_float(p.alpha));
    }
    if p.nonnegative {
        s.push_str(" nonnegative=True");
    }
    s
}

fn describe_grid(g: &ParamGrid) -> String {
    let mut parts = Vec::new();
    let join = |v: Vec<String>| v.join(",");
    if !g.ranks.is_empty() {
        parts.push(format!(
            "rank {}",
            join(g.ranks.iter().map(|v| v.to_string()).collect())
        ));
    }
    if !g.max_iters.is_empty() {
        parts.push(format!(
            "maxIter {}",
            join(g.max_iters.iter().map(|v| v.to_string()).collect())
        ));
    }
    if !g.reg_params.is_empty() {
        parts.push(format!(
            "regParam {}",
            join(g.reg_params.iter().map(|&v| py_float(v)).collect())
        ));
    }
    if !g.alphas.is_empty() {
        parts.push(format!(
            "alpha {}",
            join(g.alphas.iter().map(|&v| py_float(v)).collect())
        ));
    }
    if parts.is_empty() {
        "no axis varied".to_owned()
    } else {
        parts.join("; ")
    }
}

/// A Python float literal: Debug keeps the decimal point ("1.0"), and its exponent form
/// ("1e-5") is valid Python. Only finite values reach here ([`AlsParams::check`]).
fn py_float(x: f64) -> String {
    format!("{x:?}")
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// The script, with `@@…@@` placeholders for the parameters.
const TEMPLATE: &str = r##"#!/usr/bin/env python3
# Apache Spark ALS job generated by `affinity spark-script` (Affinity @@VERSION@@).
# @@SUMMARY@@
#
# Usage:
#   python job.py --ratings FILE --out DIR [--split 0.8] [--master local[*]]
#   spark-submit job.py --ratings FILE --out DIR [--split 0.8]
# Needs PySpark 3.2 or later (tested with 4.3.0) and Java 17.
#
# FILE is read as Affinity reads it: CSV with or without a header, TSV like MovieLens u.data,
# `::`-separated .dat or whitespace-separated; the delimiter and the header are sniffed from the
# first non-empty line, and header names (userId, movieId, rating, ...) pick the columns; a
# (user, item) pair rated on several lines keeps its last rating.
# The ratings are split at random (--split of them for training, seeded; the same fraction as
# `affinity eval --split`, not the same rows: Spark draws its own), the model is fitted on
# the training part, and the test part is scored: RMSE and MAE (coldStartStrategy "drop"), and
# precision, recall and NDCG at 10 (RankingEvaluator; items rated in training are never
# recommended, every held-out item is relevant). Then it writes, under DIR:
#   userFactors/, itemFactors/  the factors, JSON lines {"id": int, "features": [float, ...]}
#   model/                      the Spark ALSModel (pyspark.ml.recommendation.ALSModel.load)
#   userIds/, itemIds/          only for a side whose ids are not integers (see below)
#
# IDS: Spark's ALS needs integer ids. When every user (item) id is a plain 32-bit integer
# ("42", not "042" or "ann") the ids are used as they are. Otherwise that side's ids are mapped
# to dense indices 0..n-1 in sorted order, Spark's factor ids are those indices, and the
# mapping is written to DIR/userIds (DIR/itemIds) as JSON lines {"id": str, "index": int}.
#
# Back in Affinity (the mapping flags only when the directories exist):
#   affinity import-spark --user-factors DIR/userFactors --item-factors DIR/itemFactors \
#       [--user-ids DIR/userIds] [--item-ids DIR/itemIds] --out model.affm
#   affinity recommend --model model.affm --ratings FILE --user ID --top 10

import argparse
import csv
import json
import os
import re
import sys

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

# The parameters this script was generated with (Spark's names).
JOB = "@@JOB@@"
PARAMS = @@PARAMS@@
GRID = @@GRID@@
FOLDS = @@FOLDS@@
TOP_K = 10

USER_KEYS = ("user", "customer", "client", "member")
ITEM_KEYS = ("item", "movie", "product", "book", "track", "song", "title", "artist")
RATING_KEYS = ("rating", "score", "stars", "value", "count", "plays")
# Rust's float syntax, which Affinity's header test uses (Python's float() is laxer).
NUMBER = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)", re.I)
# Ids Spark can take as they are: canonical 32-bit integers (range checked separately).
INT_ID = r"^(0|-?[1-9][0-9]{0,9})$"


def clean_field(field):
    return field.strip().strip('"').strip()


def split_fields(line, delim):
    if delim is None:
        return [clean_field(f) for f in line.split()]
    if len(delim) == 1:
        # As a CSV reader splits: a quoted field may hold the delimiter.
        return [clean_field(f) for f in next(csv.reader([line], delimiter=delim, skipinitialspace=True), [])]
    return [clean_field(f) for f in line.split(delim)]


def detect_format(first_line):
    """(delimiter, has_header, (user, item, rating) columns, number of fields) of a file whose
    first non-empty line is `first_line`, as Affinity's parser decides. The delimiter is None
    for runs of whitespace."""
    first = first_line.lstrip("\ufeff").strip()
    candidates = ["::", "\t", ",", ";", "|", None]
    present = [d for d in candidates if d is None or d in first]
    # The first separator present that gives user, item and rating fields.
    delim = next((d for d in present if len(split_fields(first, d)) >= 3), present[0])
    fields = split_fields(first, delim)
    # Column names are words: a number among the first three fields makes the line data.
    has_header = not any(NUMBER.fullmatch(f) for f in fields[:3])
    columns = (0, 1, 2)
    if has_header:
        lower = [f.lower() for f in fields]

        def find(keys):
            return next((k for k, name in enumerate(lower) if any(key in name for key in keys)), None)

        found = (find(USER_KEYS), find(ITEM_KEYS), find(RATING_KEYS))
        if None not in found and len(set(found)) == 3:
            columns = found
    return delim, has_header, columns, len(fields)


def read_ratings(spark, path):
    """The ratings as a DataFrame of string user and item ids and double ratings."""
    lines = spark.read.text(path)
    first = lines.filter(F.col("value").rlike(r"\S")).first()
    if first is None:
        sys.exit(f"{path}: the file holds no ratings")
    delim, has_header, (cu, ci, cr), n_fields = detect_format(first.value)
    print(f"ratings: {path}: delimiter {delim or 'whitespace'!r}, "
          f"{'a header' if has_header else 'no header'}, columns user {cu + 1}, item {ci + 1}, rating {cr + 1}")
    width = max(n_fields, cu + 1, ci + 1, cr + 1)
    if delim is not None and len(delim) == 1:
        # Spark's CSV reader handles quoted fields; the header line is skipped, not used.
        schema = StructType([StructField(f"c{k}", StringType()) for k in range(width)])
        raw = spark.read.csv(path, schema=schema, sep=delim, header=has_header, quote='"',
                             ignoreLeadingWhiteSpace=True, ignoreTrailingWhiteSpace=True,
                             mode="PERMISSIVE")
        field = lambda k: F.col(f"c{k}")
    else:
        body = lines.filter(F.col("value").rlike(r"\S"))
        if has_header:
            body = body.filter(F.col("value") != first.value)
        stripped = F.regexp_replace(F.col("value"), r"^\s+|\s+$", "")
        parts = F.split(stripped, "::" if delim == "::" else r"\s+")
        raw = body.select(parts.alias("fields"))
        field = lambda k: F.element_at(F.col("fields"), k + 1)
    clean = lambda c: F.regexp_replace(F.regexp_replace(c, "^\ufeff", ""), r'^[\s"]+|[\s"]+$', "")
    parsed = raw.select(clean(field(cu)).alias("user"), clean(field(ci)).alias("item"),
                        clean(field(cr)).alias("rating_text"),
                        F.monotonically_increasing_id().alias("line"))
    parsed = parsed.filter(~(F.coalesce(F.col("user"), F.lit("")) == "")
                           | ~(F.coalesce(F.col("item"), F.lit("")) == "")
                           | ~(F.coalesce(F.col("rating_text"), F.lit("")) == ""))
    parsed = parsed.withColumn("rating", F.expr("try_cast(rating_text AS DOUBLE)"))
    bad = parsed.filter(F.col("user").isNull() | (F.col("user") == "") | F.col("item").isNull()
                        | (F.col("item") == "") | F.col("rating").isNull() | F.isnan("rating")
                        | (F.abs(F.col("rating")) == float("inf")))
    examples = bad.limit(3).collect()
    if examples:
        shown = "; ".join(f"user {r.user!r}, item {r.item!r}, rating {r.rating_text!r}" for r in examples)
        sys.exit(f"{path}: {bad.count()} lines are not user, item, finite rating (e.g. {shown})")
    # A (user, item) pair rated on several lines keeps its last rating, as in Affinity
    # (monotonically_increasing_id follows the order of the lines).
    return parsed.groupBy("user", "item").agg(F.expr("max_by(rating, line)").alias("rating"))


def to_int_ids(spark, ratings, column, out_dir, name):
    """Replaces the string ids of `column` by Spark's integer ids. Returns the DataFrame and the
    mapping directory written, or None when the ids were integers already."""
    as_long = F.expr(f"try_cast({column} AS BIGINT)")
    not_int = ratings.filter(~F.col(column).rlike(INT_ID) | (as_long > 2147483647) | (as_long < -2147483648))
    if not_int.limit(1).count() == 0:
        return ratings.withColumn(column, F.col(column).cast("int")), None
    ids = ratings.select(F.col(column).alias("id")).distinct()
    mapping = ids.select("id", (F.row_number().over(Window.orderBy("id")) - 1).cast("int").alias("index"))
    target = f"{out_dir}/{name}"
    mapping.write.mode("overwrite").json(target)
    # Read back what was written, so that the ids used are exactly those of the file.
    mapping = spark.read.schema("id STRING, index INT").json(target)
    mapped = ratings.join(mapping, ratings[column] == mapping["id"]).drop(column, "id")
    return mapped.withColumnRenamed("index", column), target


def ranking_metrics(model, train, test, k):
    """Precision, recall and NDCG at k of the test users with training factors, or None when
    this Spark has no RankingEvaluator."""
    try:
        from pyspark.ml.evaluation import RankingEvaluator
    except ImportError:
        print("ranking metrics: skipped (RankingEvaluator needs Spark 3.0 or later)")
        return None
    relevant = test.groupBy("user").agg(F.collect_set(F.col("item").cast("double")).alias("label"))
    seen = train.groupBy("user").agg(F.collect_set("item").alias("seen"))
    users = relevant.select("user")
    # Items rated in training are left out, so ask for enough candidates to keep k.
    extra = seen.join(users, "user").agg(F.max(F.size("seen"))).first()[0] or 0
    n_items = model.itemFactors.count()
    recs = model.recommendForUserSubset(users, max(1, min(k + extra, n_items)))
    unseen = F.filter("recommendations",
                      lambda r: ~F.coalesce(F.array_contains(F.col("seen"), r["item"]), F.lit(False)))
    lists = (recs.join(seen, "user", "left")
             .select("user", F.slice(F.transform(unseen, lambda r: r["item"].cast("double")), 1, k)
                     .alias("prediction"))
             .join(relevant, "user"))
    if lists.limit(1).count() == 0:
        return None
    evaluator = RankingEvaluator(predictionCol="prediction", labelCol="label", k=k)
    return {
        f"precision_at_{k}": evaluator.setMetricName("precisionAtK").evaluate(lists),
        f"recall_at_{k}": evaluator.setMetricName("recallAtK").evaluate(lists),
        f"ndcg_at_{k}": evaluator.setMetricName("ndcgAtK").evaluate(lists),
    }


def main():
    p = argparse.ArgumentParser(description="Fit Spark's ALS as `affinity spark-script` set it up.")
    p.add_argument("--ratings", required=True, help="ratings file (or a directory of them)")
    p.add_argument("--out", required=True, help="directory for the factors and the model")
    p.add_argument("--split", type=float, default=0.8, help="fraction of the ratings to train on")
    p.add_argument("--master", default=None, help="Spark master (default: spark-submit's, or local[*])")
    a = p.parse_args()
    if not 0.0 < a.split < 1.0:
        sys.exit(f"--split must be between 0 and 1 (exclusive), got {a.split}")
    # Python workers must run this interpreter, which has pyspark.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    builder = SparkSession.builder.appName("affinity-als").config("spark.ui.showConsoleProgress", "false")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    out = a.out.rstrip("/")

    ratings = read_ratings(spark, a.ratings)
    ratings, user_ids = to_int_ids(spark, ratings, "user", out, "userIds")
    ratings, item_ids = to_int_ids(spark, ratings, "item", out, "itemIds")
    ratings = ratings.select("user", "item", F.col("rating").cast("float").alias("rating")).cache()
    train, test = ratings.randomSplit([a.split, 1.0 - a.split], seed=PARAMS["seed"])
    train, test = train.cache(), test.cache()

    als = ALS(userCol="user", itemCol="item", ratingCol="rating", coldStartStrategy="drop", **PARAMS)
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction")
    report = {"job": JOB, "params": PARAMS}
    if JOB == "cv":
        builder = ParamGridBuilder()
        for name, values in GRID.items():
            builder = builder.addGrid(getattr(als, name), values)
        grid = builder.build()
        cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=rmse,
                            numFolds=FOLDS, seed=PARAMS["seed"])
        cv_model = cv.fit(train)
        points = [{"params": {p.name: v for p, v in point.items()}, "rmse": m}
                  for point, m in zip(grid, cv_model.avgMetrics)]
        for point in points:
            print(f"cv: {point['params']}  mean RMSE {point['rmse']:.4f}")
        best = min(points, key=lambda point: point["rmse"])
        print(f"cv: best {best['params']}")
        report["cv"] = {"folds": FOLDS, "points": points, "best": best["params"]}
        model = cv_model.bestModel
    else:
        model = als.fit(train)

    predictions = model.transform(test).cache()
    report["n_train"] = train.count()
    report["n_test"] = test.count()
    report["n_evaluated"] = predictions.count()
    report["rmse"] = rmse.evaluate(predictions)
    report["mae"] = rmse.setMetricName("mae").evaluate(predictions)
    print(f"test RMSE {report['rmse']:.4f}  MAE {report['mae']:.4f}  ({report['n_train']} train, "
          f"{report['n_test']} test, {report['n_test'] - report['n_evaluated']} dropped as cold)")
    ranking = ranking_metrics(model, train, test, TOP_K)
    if ranking:
        report.update(ranking)
        print("  ".join(f"{name} {value:.4f}" for name, value in ranking.items()))

    model.userFactors.write.mode("overwrite").json(f"{out}/userFactors")
    model.itemFactors.write.mode("overwrite").json(f"{out}/itemFactors")
    model.write().overwrite().save(f"{out}/model")
    report["user_factors"] = f"{out}/userFactors"
    report["item_factors"] = f"{out}/itemFactors"
    report["user_ids"] = user_ids
    report["item_ids"] = item_ids
    flags = "".join(f" --{flag} {path}" for flag, path in (("user-ids", user_ids), ("item-ids", item_ids)) if path)
    print(f"wrote {out}/userFactors, {out}/itemFactors and {out}/model; import with:\n"
          f"  affinity import-spark --user-factors {out}/userFactors --item-factors {out}/itemFactors"
          f"{flags} --out model.affm")
    print(json.dumps(report))
    spark.stop()


if __name__ == "__main__":
    main()
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AlsParams {
        AlsParams {
            rank: 12,
            max_iter: 7,
            reg_param: 0.05,
            seed: 9,
            ..Default::default()
        }
    }

    #[test]
    fn a_fit_script_carries_the_parameters_in_spark_s_names() {
        let s = render(&SparkJob::Fit(params())).unwrap();
        assert!(s.starts_with("#!/usr/bin/env python3\n"));
        assert!(!s.contains("@@"), "every placeholder is filled");
        assert!(s.contains(
            "PARAMS = {\"rank\": 12, \"maxIter\": 7, \"regParam\": 0.05, \"implicitPrefs\": False, \"alpha\": 1.0, \"nonnegative\": False, \"seed\": 9}\n"
        ));
        assert!(s.contains("JOB = \"fit\"\nPARAMS"));
        assert!(s.contains("GRID = None\nFOLDS = None\n"));
        assert!(s.contains("# Fits ALS with rank=12 maxIter=7 regParam=0.05 seed=9.\n"));
        for needed in [
            "pyspark.ml.recommendation import ALS",
            "coldStartStrategy=\"drop\"",
            "RegressionEvaluator",
            "RankingEvaluator",
            "randomSplit([a.split, 1.0 - a.split], seed=PARAMS[\"seed\"])",
            "model.userFactors.write.mode(\"overwrite\").json(f\"{out}/userFactors\")",
            "model.itemFactors.write.mode(\"overwrite\").json(f\"{out}/itemFactors\")",
            "# IDS: Spark's ALS needs integer ids.",
            "DIR/userIds",
        ] {
            assert!(s.contains(needed), "missing {needed:?}");
        }
        let implicit = AlsParams {
            implicit_prefs: true,
            alpha: 40.0,
            nonnegative: true,
            ..params()
        };
        let s = render(&SparkJob::Fit(implicit)).unwrap();
        assert!(s.contains("\"implicitPrefs\": True, \"alpha\": 40.0, \"nonnegative\": True"));
        assert!(s.contains("implicitPrefs=True alpha=40.0 nonnegative=True."));
    }

    #[test]
    fn a_grid_becomes_a_param_grid_builder_over_the_given_axes() {
        let grid = ParamGrid {
            ranks: vec![5, 10],
            reg_params: vec![0.01, 1e-5],
            ..Default::default()
        };
        let s = render(&SparkJob::CrossValidate {
            base: params(),
            grid,
            folds: 4,
        })
        .unwrap();
        assert!(s.contains("JOB = \"cv\"\n"));
        assert!(s.contains("GRID = {\"rank\": [5, 10], \"regParam\": [0.01, 1e-5]}\nFOLDS = 4\n"));
        assert!(s.contains(
            "# Cross-validates 4 grid points on 4 folds (rank 5,10; regParam 0.01,1e-5)"
        ));
        assert!(s.contains("CrossValidator(") && s.contains("ParamGridBuilder()"));
    }

    #[test]
    fn what_spark_cannot_run_is_refused() {
        let bad_rank = AlsParams {
            rank: 0,
            ..params()
        };
        assert!(matches!(
            render(&SparkJob::Fit(bad_rank)),
            Err(SparkScriptError::Params { point: None, .. })
        ));
        let grid = ParamGrid {
            reg_params: vec![0.1, -1.0],
            ..Default::default()
        };
        let err = render(&SparkJob::CrossValidate {
            base: params(),
            grid,
            folds: 3,
        })
        .unwrap_err();
        assert!(matches!(
            err,
            SparkScriptError::Params { point: Some(2), .. }
        ));
        assert!(err.to_string().starts_with("grid point 2: "), "{err}");
        let biases = AlsParams {
            biases: true,
            ..params()
        };
        assert_eq!(
            render(&SparkJob::Fit(biases)),
            Err(SparkScriptError::Biases)
        );
        let seed = AlsParams {
            seed: u64::MAX,
            ..params()
        };
        assert_eq!(
            render(&SparkJob::Fit(seed)),
            Err(SparkScriptError::SeedTooLarge(u64::MAX))
        );
        assert_eq!(
            render(&SparkJob::CrossValidate {
                base: params(),
                grid: ParamGrid::default(),
                folds: 1
            }),
            Err(SparkScriptError::Folds(1))
        );
    }
}
