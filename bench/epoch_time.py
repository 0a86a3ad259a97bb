"""Seconds per epoch of the references' experiment: MLP 784-300-100-10,
55,000 MNIST training images, Keras-default SGD (learning rate 0.01).

    python bench/epoch_time.py --data ../shared/data/mnist [--batch-sizes 32,128] [--epochs 3]

Prints a Markdown table and writes JSON (default bench/results/epoch_time.json).
Each figure is the median over the timed epochs; one extra epoch first warms
the caches and sizes the workspace. GFLOP/s counts the dense products' work;
the first layer skips zero pixels, so the figure can pass the machine's peak.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fastmlp  # noqa: E402
import machine  # noqa: E402
from fastmlp.datasets import mnist  # noqa: E402


def reference_model(seed: int) -> fastmlp.Sequential:
    model = fastmlp.Sequential(
        [
            fastmlp.layers.Dense(300, activation="relu"),
            fastmlp.layers.Dense(100, activation="relu"),
            fastmlp.layers.Dense(10, activation="softmax"),
        ],
        input_dim=784,
        seed=seed,
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def time_epochs(x, y, batch_size: int, epochs: int) -> list[float]:
    model = reference_model(seed=0)
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return history.history["epoch_time"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--batch-sizes", default="32")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", default=None, help="comma-separated thread counts (default: all cores)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "epoch_time.json"))
    args = parser.parse_args()

    (x_train, y_train), _ = mnist.load_data(args.data)
    x = (x_train[5000:].reshape(-1, 784) / np.float32(255)).astype(np.float32)
    y = y_train[5000:].astype(np.int32)
    # 2 flops per multiply-add: forward x W, backward x^T dy and dy W^T (none for the first layer).
    gflop_per_epoch = x.shape[0] * (4 * 784 * 300 + 6 * 300 * 100 + 6 * 100 * 10) / 1e9

    thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else [fastmlp.get_num_threads()]
    rows = []
    for threads in thread_counts:
        fastmlp.set_num_threads(threads)
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            times = time_epochs(x, y, batch_size, args.epochs)
            median = statistics.median(times)
            rows.append(
                {
                    "framework": "fastmlp",
                    "optimizer": "sgd",
                    "batch_size": batch_size,
                    "threads": threads,
                    "seconds_per_epoch": median,
                    "epoch_times": times,
                    "gflops": gflop_per_epoch / median,
                }
            )

    print(f"MLP 784-300-100-10, {x.shape[0]:,} images, SGD; {machine.cpu_model()}, {os.cpu_count()} cores\n")
    print("| framework | batch | threads | s/epoch | dense-equivalent GFLOP/s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['framework']} | {r['batch_size']} | {r['threads']} | "
            f"{r['seconds_per_epoch']:.3f} | {r['gflops']:.0f} |"
        )
    machine.write_results(args.out, {"gflop_per_epoch": gflop_per_epoch, "results": rows})


if __name__ == "__main__":
    main()
