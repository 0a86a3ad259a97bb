"""Where the first layer's sparse products stop paying: one training step of
MLP 784-300-100-10 on random inputs with a given fraction of nonzeros, through
the sparse products (sparse_input_max_density = 1) and the dense ones (0).

    python bench/sparse_input.py [--batch-sizes 32,128] [--densities 0.1,0.2,...] [--threads 2]

Prints a Markdown table and writes JSON (default bench/results/sparse_input.json).
Each figure is the best of 5 rounds of `--steps` steps; the two paths
alternate round by round, so a slow phase of a shared machine hits both.
MNIST's pixels are 19% nonzero.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fastmlp  # noqa: E402
import machine  # noqa: E402


def model(max_density: float) -> fastmlp.Sequential:
    m = fastmlp.Sequential(
        [
            fastmlp.layers.Dense(300, activation="relu"),
            fastmlp.layers.Dense(100, activation="relu"),
            fastmlp.layers.Dense(10, activation="softmax"),
        ],
        input_dim=784,
        seed=0,
    )
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    m.sparse_input_max_density = max_density
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--densities", default="0.1,0.2,0.3,0.4,0.5,0.6")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sparse_input.json"))
    args = parser.parse_args()
    if args.threads:
        fastmlp.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        for density in (float(d) for d in args.densities.split(",")):
            x = rng.random((batch, 784), dtype=np.float32)
            x[rng.random((batch, 784)) >= density] = 0
            y = rng.integers(0, 10, batch).astype(np.int32)
            paths = {"sparse": model(1.0), "dense": model(0.0)}
            best = dict.fromkeys(paths, float("inf"))
            for _ in range(5):
                for name, m in paths.items():
                    m.train_on_batch(x, y)  # warm-up
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        m.train_on_batch(x, y)
                    best[name] = min(best[name], (time.perf_counter() - start) / args.steps)
            rows.append(
                {
                    "batch_size": batch,
                    "density": density,
                    "sparse_us": best["sparse"] * 1e6,
                    "dense_us": best["dense"] * 1e6,
                    "speedup": best["dense"] / best["sparse"],
                }
            )
    print(f"One SGD step, MLP 784-300-100-10, {fastmlp.get_num_threads()} thread(s); {machine.cpu_model()}\n")
    print("| batch | nonzero inputs | sparse µs/step | dense µs/step | sparse speedup |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['batch_size']} | {r['density']:.0%} | {r['sparse_us']:.0f} | {r['dense_us']:.0f} | "
            f"{r['speedup']:.2f}× |"
        )
    machine.write_results(args.out, {"threads": fastmlp.get_num_threads(), "results": rows})


if __name__ == "__main__":
    main()
