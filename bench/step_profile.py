"""Where a training step's time goes: one epoch of the references' experiment
(MLP 784-300-100-10, 55,000 MNIST images) timed by phase inside the C++ step
(Network.set_profiling), against the wall time of model.fit.

    python bench/profile.py --data ../shared/data/mnist [--batch-sizes 32,256] [--optimizers sgd,adam]

Prints a Markdown table and writes JSON (default bench/results/profile.json).
"Python and the rest" is fit's wall time minus the phases: Python's fit loop,
the C++ epoch loop, progress checks and the timers themselves.
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
from fastmlp.datasets import mnist  # noqa: E402

PHASES = ["gather", "forward", "loss", "backward", "optimizer"]


def profile_epoch(x, y, batch_size: int, optimizer: str) -> dict:
    model = fastmlp.Sequential(
        [
            fastmlp.layers.Dense(300, activation="relu"),
            fastmlp.layers.Dense(100, activation="relu"),
            fastmlp.layers.Dense(10, activation="softmax"),
        ],
        input_dim=784,
        seed=0,
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    network = model._network
    if not hasattr(network, "set_profiling"):
        sys.exit("the step profile needs an instrumented build: FASTMLP_INSTRUMENT=ON pip install .")
    network.set_profiling(True)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    wall = time.perf_counter() - start
    phases = network.profile()
    network.set_profiling(False)
    return {
        "batch_size": batch_size,
        "optimizer": optimizer,
        "wall_seconds": wall,
        "phases": phases,
        "rest_seconds": wall - sum(phases.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--batch-sizes", default="32,256")
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--flush-denormals",
        action="store_true",
        help="fastmlp.set_flush_denormals(True), as bench/run.py sets by default",
    )
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "profile.json"))
    args = parser.parse_args()
    if args.threads:
        fastmlp.set_num_threads(args.threads)
    fastmlp.set_flush_denormals(args.flush_denormals)

    (x_train, y_train), _ = mnist.load_data(args.data)
    x = (x_train[5000:].reshape(-1, 784) / np.float32(255)).astype(np.float32)
    y = y_train[5000:].astype(np.int32)
    rows = [profile_epoch(x, y, int(b), o) for o in args.optimizers.split(",") for b in args.batch_sizes.split(",")]

    print(
        f"One epoch, MLP 784-300-100-10, {x.shape[0]:,} images, {fastmlp.get_num_threads()} threads, "
        f"subnormals {'flushed' if fastmlp.get_flush_denormals() else 'kept'}; {machine.cpu_model()}\n"
    )
    header = "| phase | " + " | ".join(f"{r['optimizer']} b{r['batch_size']}" for r in rows) + " |"
    print(header)
    print("|---|" + "---:|" * len(rows))
    for phase in PHASES:
        cells = [f"{r['phases'][phase]:.3f} s ({100 * r['phases'][phase] / r['wall_seconds']:.0f}%)" for r in rows]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    print(
        "| Python and the rest | "
        + " | ".join(f"{r['rest_seconds']:.3f} s ({100 * r['rest_seconds'] / r['wall_seconds']:.0f}%)" for r in rows)
        + " |"
    )
    print("| **epoch (wall)** | " + " | ".join(f"**{r['wall_seconds']:.3f} s**" for r in rows) + " |")
    machine.write_results(
        args.out, {"threads": fastmlp.get_num_threads(), "flush_denormals": fastmlp.get_flush_denormals(), "rows": rows}
    )


if __name__ == "__main__":
    main()
