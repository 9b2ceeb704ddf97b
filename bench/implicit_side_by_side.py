#!/usr/bin/env python3
"""Implicit-feedback ALS, Affinity against the `implicit` library, on one seeded split.

MovieLens 100K `u.data` is split at random (seeded) into 80% training and 20% test
ratings, written to OUT/train.tsv and OUT/test.tsv so that both libraries see the same
rows. Every rating counts as an implicit interaction of strength r (1..5).

- Affinity: `affinity cv --implicit --metric ndcg_at_k` on train.tsv alone picks regParam
  and alpha (rank 40, maxIter 10); `affinity eval --train train.tsv --test test.tsv` refits
  them and scores the test part. By default Affinity runs with `implicit`'s semantics
  (`--reg-scaling constant --confidence alpha`: an unscaled ridge, confidence alpha·r) over
  the same regularisation and alpha grid as `implicit`; `--affinity-flags ""
  --affinity-reg 0.1,0.3,0.5,1` gives Spark's semantics (ridge regParam × the row's number
  of ratings, confidence 1 + alpha·r) instead.
- implicit: `implicit.cpu.als.AlternatingLeastSquares(factors=40, iterations=10,
  regularization=R)` fed confidences alpha·r; R and alpha are chosen by NDCG@10 on a seeded
  80/20 validation split of train.tsv alone, then refitted on all of train.tsv.

Both are scored the same way (Spark's RankingMetrics): for every test user with training
ratings, the top 10 items not rated in training; all the user's test items are relevant.
precision@10 = hits / 10; NDCG@10 = binary-relevance DCG with 1/log2(i + 2) discounts over
the ideal DCG of min(10, |relevant|) hits.

Setup (once):  python3 -m venv .venv-bench
               .venv-bench/bin/pip install implicit==0.7.3 numpy scipy
Run:           .venv-bench/bin/python bench/implicit_side_by_side.py
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "ml-100k", "u.data"))
    p.add_argument("--affinity", default=os.path.join(REPO, "target", "release", "affinity"))
    p.add_argument("--out", default="/tmp/affinity_implicit_side_by_side")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rank", type=int, default=40)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--folds", type=int, default=3, help="Affinity's CV folds")
    p.add_argument("--alphas", default="0.5,1,2,5,10", help="alpha grid, both libraries")
    p.add_argument("--affinity-flags", default="--reg-scaling constant --confidence alpha",
                   help="model flags given to both Affinity's cv and eval")
    p.add_argument("--affinity-reg", default="10,30,100,300,1000",
                   help="Affinity regParam grid (unscaled with the default flags)")
    p.add_argument("--implicit-reg", default="10,30,100,300,1000",
                   help="implicit's regularization grid (not scaled)")
    return p.parse_args()


def read_udata(path):
    rows = np.loadtxt(path, dtype=np.int64)
    return rows[:, 0], rows[:, 1], rows[:, 2].astype(np.float64), rows[:, 3]


def random_split(n, fraction, seed):
    """A boolean mask of the training rows: a seeded shuffle, the first `fraction` train."""
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[: int(round(n * fraction))]] = True
    return mask


def write_tsv(path, users, items, ratings, stamps):
    with open(path, "w") as f:
        for u, i, r, t in zip(users, items, ratings, stamps):
            f.write("%d\t%d\t%d\t%d\n" % (u, i, int(r), t))


def user_metrics(recommended, relevant, k):
    hits, dcg = 0, 0.0
    for pos, item in enumerate(recommended[:k]):
        if item in relevant:
            hits += 1
            dcg += 1.0 / np.log2(pos + 2)
    ideal = sum(1.0 / np.log2(pos + 2) for pos in range(min(k, len(relevant))))
    return hits / k, dcg / ideal


class ImplicitRun:
    """implicit's ALS on one (train, held-out) pair, with train's ids as the matrix index."""

    def __init__(self, tr_users, tr_items, tr_ratings, te_users, te_items):
        self.uid = {u: n for n, u in enumerate(np.unique(tr_users))}
        self.iid = {i: n for n, i in enumerate(np.unique(tr_items))}
        rows = np.array([self.uid[u] for u in tr_users])
        cols = np.array([self.iid[i] for i in tr_items])
        self.shape = (len(self.uid), len(self.iid))
        self.rows, self.cols, self.values = rows, cols, tr_ratings
        # Relevant items per warm test user; a test item absent from training still counts
        # as relevant (it can never be recommended), as in Affinity.
        self.relevant = {}
        for u, i in zip(te_users, te_items):
            if u in self.uid:
                self.relevant.setdefault(self.uid[u], set()).add(("i", i))

    def score(self, reg, alpha, k, rank, iterations, seed):
        from implicit.cpu.als import AlternatingLeastSquares

        conf = sp.csr_matrix((alpha * self.values, (self.rows, self.cols)), shape=self.shape,
                             dtype=np.float32)
        model = AlternatingLeastSquares(factors=rank, iterations=iterations, regularization=reg,
                                        random_state=seed)
        model.fit(conf, show_progress=False)
        users = np.array(sorted(self.relevant))
        ids, _ = model.recommend(users, conf[users], N=k, filter_already_liked_items=True)
        item_of = np.array(sorted(self.iid, key=self.iid.get))
        p_sum, n_sum = 0.0, 0.0
        for u, rec in zip(users, ids):
            rec = [("i", item_of[j]) for j in rec if j >= 0]
            p, n = user_metrics(rec, self.relevant[u], k)
            p_sum += p
            n_sum += n
        return p_sum / len(users), n_sum / len(users), len(users)


def run_affinity(args, train_path, test_path):
    base = [args.affinity]
    model = args.affinity_flags.split()
    cv_cmd = base + ["cv", "--ratings", train_path, "--implicit", *model, "--metric", "ndcg_at_k",
                     "--top-k", str(args.k), "--rank", str(args.rank),
                     "--max-iter", str(args.iterations), "--reg-param", args.affinity_reg,
                     "--alpha", args.alphas, "--folds", str(args.folds), "--seed",
                     str(args.seed), "--json"]
    t = time.time()
    cv = json.loads(subprocess.run(cv_cmd, check=True, capture_output=True, text=True).stdout)
    cv_s = time.time() - t
    best = cv["best"]
    reg, alpha = best["reg_param"], best["alpha"]
    eval_cmd = base + ["eval", "--train", train_path, "--test", test_path, "--implicit", *model,
                       "--rank", str(args.rank), "--max-iter", str(args.iterations),
                       "--reg-param", repr(reg), "--alpha", repr(alpha), "--top-k",
                       str(args.k), "--seed", str(args.seed), "--json"]
    ev = json.loads(subprocess.run(eval_cmd, check=True, capture_output=True, text=True).stdout)
    return {
        "reg": reg, "alpha": alpha, "cv_ndcg": best["mean"], "cv_seconds": cv_s,
        "precision": ev["precision_at_k"], "ndcg": ev["ndcg_at_k"],
        "cv_cmd": " ".join(cv_cmd), "eval_cmd": " ".join(eval_cmd),
    }


def run_implicit(args, train, test):
    tu, ti, tr, _ = train
    regs = [float(x) for x in args.implicit_reg.split(",")]
    alphas = [float(x) for x in args.alphas.split(",")]
    # Selection on a validation split of the training part only.
    inner = random_split(len(tu), 0.8, args.seed + 1)
    val = ImplicitRun(tu[inner], ti[inner], tr[inner], tu[~inner], ti[~inner])
    t = time.time()
    grid = []
    for reg in regs:
        for alpha in alphas:
            _, ndcg, _ = val.score(reg, alpha, args.k, args.rank, args.iterations, args.seed)
            grid.append((ndcg, reg, alpha))
    sel_s = time.time() - t
    best_ndcg, reg, alpha = max(grid, key=lambda g: g[0])
    final = ImplicitRun(tu, ti, tr, test[0], test[1])
    precision, ndcg, n_users = final.score(reg, alpha, args.k, args.rank, args.iterations,
                                           args.seed)
    return {"reg": reg, "alpha": alpha, "val_ndcg": best_ndcg, "select_seconds": sel_s,
            "precision": precision, "ndcg": ndcg, "n_users": n_users, "grid": grid}


def main():
    args = parse_args()
    import implicit

    os.makedirs(args.out, exist_ok=True)
    users, items, ratings, stamps = read_udata(args.data)
    mask = random_split(len(users), 0.8, args.seed)
    train = (users[mask], items[mask], ratings[mask], stamps[mask])
    test = (users[~mask], items[~mask], ratings[~mask], stamps[~mask])
    train_path = os.path.join(args.out, "train.tsv")
    test_path = os.path.join(args.out, "test.tsv")
    write_tsv(train_path, *train)
    write_tsv(test_path, *test)
    print("split: %d train, %d test ratings (seed %d) in %s" % (len(train[0]), len(test[0]),
                                                                args.seed, args.out))

    aff = run_affinity(args, train_path, test_path)
    imp = run_implicit(args, train, test)

    print("Affinity: %s" % aff["cv_cmd"])
    print("          %s" % aff["eval_cmd"])
    print("implicit %s: grid (val NDCG@%d, regularization, alpha): %s" % (
        implicit.__version__, args.k,
        ", ".join("(%.4f, %g, %g)" % g for g in imp["grid"])))
    k = args.k
    print()
    print("| library | selected | selection NDCG@%d | test precision@%d | test NDCG@%d |" % (k, k, k))
    print("| --- | --- | --- | --- | --- |")
    print("| Affinity | regParam %g, alpha %g | %.4f (%d-fold CV) | %.4f | %.4f |" % (
        aff["reg"], aff["alpha"], aff["cv_ndcg"], args.folds, aff["precision"], aff["ndcg"]))
    print("| implicit %s | regularization %g, alpha %g | %.4f (validation) | %.4f | %.4f |" % (
        implicit.__version__, imp["reg"], imp["alpha"], imp["val_ndcg"], imp["precision"],
        imp["ndcg"]))
    print()
    ok = aff["precision"] >= imp["precision"] and aff["ndcg"] >= imp["ndcg"]
    print("Affinity %s implicit on both metrics" % ("matches or beats" if ok else "is below"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
