"""Times Apache Spark MLlib's ALS on a ratings file, for a side-by-side run with `affinity`.

Usage: python bench/spark_als.py --ratings u.data [--rank 40 --max-iter 10 --reg-param 0.1]
       [--cv-ranks 10,40 --cv-reg-params 0.05,0.1,0.2 --folds 3]
Prints one JSON object: fit seconds (the second of two fits, so JVM warm-up is not counted
against Spark), CV seconds and the CV's best parameters. Runs Spark in local[2] mode.
"""

import argparse
import json
import time

from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import SparkSession
from pyspark.sql.types import FloatType, IntegerType, StructField, StructType


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ratings", required=True)
    p.add_argument("--rank", type=int, default=40)
    p.add_argument("--max-iter", type=int, default=10)
    p.add_argument("--reg-param", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--cv-ranks", default="10,40")
    p.add_argument("--cv-reg-params", default="0.05,0.1,0.2")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--skip-cv", action="store_true")
    a = p.parse_args()

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("affinity-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    schema = StructType(
        [
            StructField("user", IntegerType()),
            StructField("item", IntegerType()),
            StructField("rating", FloatType()),
            StructField("ts", IntegerType()),
        ]
    )
    sep = "\t" if open(a.ratings).readline().count("\t") else ","
    df = spark.read.csv(a.ratings, sep=sep, schema=schema).select("user", "item", "rating").cache()
    n = df.count()

    als = ALS(
        rank=a.rank,
        maxIter=a.max_iter,
        regParam=a.reg_param,
        seed=a.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        coldStartStrategy="drop",
    )
    fits = []
    for _ in range(2):
        t = time.perf_counter()
        model = als.fit(df)
        model.userFactors.count()  # fit is lazy in parts: force the factors
        fits.append(time.perf_counter() - t)
    out = {"n_ratings": n, "fit_seconds": fits[1], "first_fit_seconds": fits[0]}

    if not a.skip_cv:
        grid = (
            ParamGridBuilder()
            .addGrid(als.rank, [int(x) for x in a.cv_ranks.split(",")])
            .addGrid(als.regParam, [float(x) for x in a.cv_reg_params.split(",")])
            .build()
        )
        evaluator = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction")
        cv = CrossValidator(estimator=als, estimatorParamMaps=grid, evaluator=evaluator, numFolds=a.folds, seed=a.seed)
        t = time.perf_counter()
        cv_model = cv.fit(df)
        out["cv_seconds"] = time.perf_counter() - t
        best = cv_model.bestModel
        out["cv_best"] = {"rank": best.rank, "reg_param": best._java_obj.parent().getRegParam()}
        out["cv_points"] = len(grid)
    print(json.dumps(out))
    spark.stop()


if __name__ == "__main__":
    main()
