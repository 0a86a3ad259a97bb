"""Microseconds per optimizer step, and the memory traffic it sustains,
against the parameter count (10^3 to 1.6x10^7), for fastmlp's fused kernels
and, when PyTorch is installed, torch.optim with fused=True and foreach=True.

    python bench/optimizer_step.py [--optimizers adam,sgd,rmsprop] [--threads 2]

Prints a Markdown table and writes JSON (default bench/results/optimizer_step.json).
GB/s counts the bytes an optimizer must move per parameter: Adam reads p, g, m, v
and writes p, m, v (28 bytes); SGD with momentum 20; RMSprop 20; plain SGD 12.
Each figure is the median of repeated timed blocks after a warm-up, the
candidates timed in turn, one block each per round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fastmlp  # noqa: E402
import machine  # noqa: E402
from fastmlp import optim  # noqa: E402

SIZES = [1_000, 10_000, 100_000, 266_610, 1_000_000, 4_000_000, 16_000_000]
BYTES_PER_PARAM = {"adam": 28, "sgd_momentum": 20, "rmsprop": 20, "sgd": 12}


def fastmlp_optimizer(name, params):
    if name == "adam":
        return optim.Adam(params, lr=1e-3)
    if name == "sgd_momentum":
        return optim.SGD(params, lr=1e-3, momentum=0.9)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=1e-3)
    return optim.SGD(params, lr=1e-3)


def torch_optimizer(torch, name, params, mode):
    flags = {"fused": True} if mode == "fused" else {"foreach": True}
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3, **flags)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, **flags)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=1e-3, **({"foreach": True}))  # no fused RMSprop
    return torch.optim.SGD(params, lr=1e-3, **flags)


def seconds_per_step_in_turn(steps: dict, budget: float = 0.3) -> dict:
    """Seconds per step of each candidate: timed blocks of about 20 ms, one
    block of each in turn, round after round, so that a slow phase of a
    shared machine falls on all of them alike; the median block of each."""
    # Blocks of about 20 ms: a switch costs a little while the runtime just
    # left still spins its threads (PyTorch brings its own OpenMP), and in
    # blocks this long that stays under a few percent of either.
    repeats = {}
    for label, step in steps.items():
        step()  # warm-up: state allocation, page faults
        start = time.perf_counter()
        for _ in range(3):
            step()
        repeats[label] = max(3, min(20000, int(0.02 / max((time.perf_counter() - start) / 3, 1e-7))))
    blocks = {label: [] for label in steps}
    deadline = time.perf_counter() + budget * len(steps)
    rounds = 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 30):
        for label, step in steps.items():
            start = time.perf_counter()
            for _ in range(repeats[label]):
                step()
            blocks[label].append((time.perf_counter() - start) / repeats[label])
        rounds += 1
    return {label: statistics.median(times) for label, times in blocks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizers", default="adam,sgd_momentum")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "optimizer_step.json"))
    args = parser.parse_args()
    if args.threads:
        fastmlp.set_num_threads(args.threads)
    threads = fastmlp.get_num_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None

    rows = []
    for name in args.optimizers.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            rng = np.random.default_rng(0)
            p = rng.normal(size=size).astype(np.float32)
            g = (rng.normal(size=size) * 1e-3).astype(np.float32)
            opt = fastmlp_optimizer(name, [p])
            candidates = {"fastmlp": lambda opt=opt, g=g: opt.step([g])}
            if torch is not None:
                for mode in ("fused", "foreach"):
                    tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
                    tp.grad = torch.from_numpy(g.copy())
                    try:
                        topt = torch_optimizer(torch, name, [tp], mode)
                        candidates[f"torch {mode}"] = topt.step
                    except (RuntimeError, TypeError, ValueError):
                        pass
            for label, seconds in seconds_per_step_in_turn(candidates).items():
                rows.append(
                    {
                        "optimizer": name,
                        "framework": label,
                        "params": size,
                        "threads": threads,
                        "us_per_step": seconds * 1e6,
                        "gb_per_s": BYTES_PER_PARAM[name] * size / seconds / 1e9,
                    }
                )

    print(f"Optimizer step, {machine.cpu_model()}, {threads} thread(s)\n")
    print("| optimizer | params | framework | µs/step | GB/s |")
    print("|---|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['optimizer']} | {r['params']:,} | {r['framework']} | {r['us_per_step']:.1f} | {r['gb_per_s']:.1f} |"
        )
    machine.write_results(
        args.out, {"bytes_per_param": BYTES_PER_PARAM, "results": rows, "torch": getattr(torch, "__version__", None)}
    )


if __name__ == "__main__":
    main()
