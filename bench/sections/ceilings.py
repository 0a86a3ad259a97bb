"""Section "ceilings": how fast this machine can go, and how close fastmlp gets.

(a) Compute: the float32 matrix product of two n x n matrices (n = 2048),
    GFLOP/s = 2 n^3 / best time, for Eigen's product (``fastmlp._core.
    eigen_matmul(a, b, out)``), fastmlp's own (``fastmlp._core.matmul``) and
    NumPy's a @ b (OpenBLAS) for reference. Each output is checked against
    NumPy's.
(b) Memory: an Adam-shaped pass over 2^24 = 16.7M float32 parameters
    (``fastmlp._core.stream_adam_shaped(p, g, m, v)``: 4 reads and 3 writes per
    parameter), GB/s = 28 n / best time.

Then the efficiency figures: fastmlp's epoch GFLOP/s (SGD, batch 32 and 256)
over the Eigen ceiling (targets 55% and 75%), and fastmlp's Adam step on the
same 16.7M parameters (``fastmlp.optim.Adam``, called in turn with the
stream, best of each) over the memory ceiling (target 90%). Bindings that are not built
yet are skipped with a note. Runs in its own fastmlp worker.
"""

from __future__ import annotations

import time

import mdtable
import workload

GEMM_KERNELS = (
    ("eigen", "eigen_matmul", "Eigen (fastmlp._core.eigen_matmul)"),
    ("fastmlp", "matmul", "fastmlp (fastmlp._core.matmul)"),
)
STREAM_PARAMS = 1 << 24
ADAM_BYTES = 28
TARGETS = {"gemm_32": 0.55, "gemm_256": 0.75, "adam_stream": 0.90}


# ------------------------------------------------------- worker side
def _best(call, repeats: int) -> float:
    call()  # warm-up: page faults, thread start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def gemm(ctx, n: int, repeats: int) -> dict:
    import numpy as np

    from fastmlp import _core

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    flop = 2.0 * n**3
    results = {}
    seconds = _best(lambda: np.matmul(a, b, out=out), repeats)
    reference = out.copy()
    results["numpy"] = {"seconds": seconds, "gflops": flop / seconds / 1e9, "call": "numpy a @ b (OpenBLAS)"}
    for key, attr, label in GEMM_KERNELS:
        function = getattr(_core, attr, None)
        if function is None:
            results[key] = {
                "skipped": f"fastmlp._core.{attr} not found: install with FASTMLP_INSTRUMENT=ON",
                "call": label,
            }
            continue
        out.fill(0)
        seconds = _best(lambda function=function: function(a, b, out), repeats)
        error = float(np.abs(out - reference).max() / np.abs(reference).max())
        results[key] = {
            "seconds": seconds,
            "gflops": flop / seconds / 1e9,
            "call": label,
            "max_relative_error_vs_numpy": error,
        }
    return {"n": n, "repeats": repeats, "kernels": results}


def memory(ctx, n: int, repeats: int) -> dict:
    """The Adam-shaped stream and fastmlp's Adam step on n parameters, one
    call of each in turn, `repeats` times after a warm-up: both see the same
    phases of a shared machine's memory bandwidth (timed apart, in separate
    loops, their ratio moved between 68% and 96% from run to run), and both
    are summarised alike (best and median)."""
    import numpy as np

    import optimizer_step  # bench/optimizer_step.py: its optimizer
    import paths
    from fastmlp import _core

    paths.demote()  # optimizer_step put bench/ first on sys.path again
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32) * np.float32(1e-3)
    opt = optimizer_step.fastmlp_optimizer("adam", [p.copy()])
    calls = {"adam_step": lambda: opt.step([g])}
    function = getattr(_core, "stream_adam_shaped", None)
    if function is not None:
        m, v = np.zeros(n, np.float32), np.ones(n, np.float32)
        calls["stream"] = lambda: function(p, g, m, v)
    times = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up: page faults, state allocation, thread start
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)

    def summary(seconds: list) -> dict:
        best = min(seconds)
        return {
            "n": n,
            "repeats": repeats,
            "seconds": best,
            "median_seconds": float(np.median(seconds)),
            "gb_per_s": ADAM_BYTES * n / best / 1e9,
        }

    stream = (
        summary(times["stream"])
        if function is not None
        else {"n": n, "skipped": "fastmlp._core.stream_adam_shaped not found: install with FASTMLP_INSTRUMENT=ON"}
    )
    return {
        "stream": stream,
        "adam_step": {**summary(times["adam_step"]), "call": f"fastmlp.optim.{type(opt).__name__}"},
    }


# ------------------------------------------------------- parent side
def _epoch_gflops(ctx, batch_size: int) -> tuple[float | None, str]:
    """fastmlp's SGD epoch GFLOP/s at this batch size with every product dense.
    The epoch section's figure would not do: there the first layer skips
    MNIST's zero pixels, so its GFLOP/s counts multiply-adds never run."""
    from sections.epoch import summarize

    task = {
        "kind": "epoch",
        "hidden": list(workload.HIDDEN),
        "optimizer": "sgd",
        "batch_size": batch_size,
        "images": ctx.settings["train_images"],
        "epochs": ctx.settings["epochs"],
        "runner_options": {"dense_products": True},
    }
    result = summarize(ctx.request("fastmlp", task, role="ceilings"), ctx.settings["train_images"])
    return result.get("gflops"), "dense products (sparse_input_max_density=0), measured in this section"


def run(ctx) -> dict:
    s = ctx.settings
    call = lambda function, **kwargs: ctx.request(  # noqa: E731
        "fastmlp",
        {"kind": "call", "module": "sections.ceilings", "function": function, "kwargs": kwargs},
        role="ceilings",
    )
    ctx.log("ceilings: GEMM")
    gemm_result = call("gemm", n=s["gemm_n"], repeats=s["ceiling_repeats"])
    ctx.log("ceilings: memory stream and fastmlp's Adam step, in turn")
    memory_result = call("memory", n=STREAM_PARAMS, repeats=max(5, s["ceiling_repeats"]))
    stream_result = memory_result.get("stream", memory_result)  # the error, if the call failed
    adam_result = memory_result.get("adam_step", memory_result)
    kernels = gemm_result.get("kernels", {})
    eigen = kernels.get("eigen", {}).get("gflops")
    numpy_gflops = kernels.get("numpy", {}).get("gflops")
    efficiency = {}
    for batch_size in (32, 256):
        gflops, source = _epoch_gflops(ctx, batch_size)
        efficiency[f"gemm_{batch_size}"] = {
            "fastmlp_gflops": gflops,
            "source": source,
            "vs_eigen": gflops / eigen if mdtable.ok(gflops) and mdtable.ok(eigen) else None,
            "vs_numpy": gflops / numpy_gflops if mdtable.ok(gflops) and mdtable.ok(numpy_gflops) else None,
            "target": TARGETS[f"gemm_{batch_size}"],
        }
    stream_gbs, adam_gbs = stream_result.get("gb_per_s"), adam_result.get("gb_per_s")
    efficiency["adam_stream"] = {
        "fastmlp_gb_per_s": adam_gbs,
        "stream_gb_per_s": stream_gbs,
        "fraction": adam_gbs / stream_gbs if mdtable.ok(adam_gbs) and mdtable.ok(stream_gbs) else None,
        "target": TARGETS["adam_stream"],
    }
    return {
        "threads": s["threads"],
        "gemm": gemm_result,
        "stream": stream_result,
        "adam_step": adam_result,
        "efficiency": efficiency,
    }


def report(result: dict) -> str:
    gemm_result, stream_result = result["gemm"], result["stream"]
    rows = []
    for key in ("eigen", "fastmlp", "numpy"):
        k = gemm_result.get("kernels", {}).get(key, {})
        label = k.get("call", key)
        if "skipped" in k:
            rows.append([label, f"{gemm_result['n']}×{gemm_result['n']}", "–", "–", k["skipped"]])
        elif "seconds" in k:
            error = k.get("max_relative_error_vs_numpy")
            rows.append(
                [
                    label,
                    f"{gemm_result['n']}×{gemm_result['n']}",
                    f"{k['seconds'] * 1e3:.1f} ms",
                    f"{k['gflops']:.0f} GFLOP/s",
                    f"max rel. error vs NumPy {error:.1e}" if error is not None else "reference",
                ]
            )
    if "error" in gemm_result:
        rows.append(["GEMM", "–", "–", "–", "failed: " + gemm_result["error"][:200]])
    n = stream_result.get("n", STREAM_PARAMS)
    if "seconds" in stream_result:
        rows.append(
            [
                "Adam-shaped stream (fastmlp._core.stream_adam_shaped)",
                f"{n:,} params",
                f"{stream_result['seconds'] * 1e3:.2f} ms",
                f"{stream_result['gb_per_s']:.1f} GB/s",
                "4 reads + 3 writes per float32",
            ]
        )
    else:
        rows.append(
            [
                "Adam-shaped stream (fastmlp._core.stream_adam_shaped)",
                f"{n:,} params",
                "–",
                "–",
                stream_result.get("skipped") or "failed: " + stream_result.get("error", "")[:200],
            ]
        )
    adam = result["adam_step"]
    if "seconds" in adam:
        rows.append(
            [
                f"fastmlp Adam step ({adam['call']}, step([g]))",
                f"{adam['n']:,} params",
                f"{adam['seconds'] * 1e3:.2f} ms",
                f"{adam['gb_per_s']:.1f} GB/s",
                "28 bytes per parameter",
            ]
        )
    else:
        rows.append(["fastmlp Adam step", f"{n:,} params", "–", "–", "failed: " + adam.get("error", "")[:200]])
    eff = result["efficiency"]
    eff_rows = []
    for batch_size in (32, 256):
        e = eff[f"gemm_{batch_size}"]
        eff_rows.append(
            [
                f"fastmlp SGD epoch, batch {batch_size} / Eigen GEMM ceiling",
                f"{mdtable.number(e['fastmlp_gflops'], '{:.0f}')} GFLOP/s ({e['source']})",
                mdtable.percent(e["vs_eigen"]),
                f"≥ {e['target']:.0%}",
                mdtable.check(e["vs_eigen"], e["target"]),
                f"vs NumPy GEMM: {mdtable.percent(e['vs_numpy'])}",
            ]
        )
    e = eff["adam_stream"]
    eff_rows.append(
        [
            "fastmlp Adam step (16.7M) / memory ceiling",
            f"{mdtable.number(e['fastmlp_gb_per_s'])} GB/s",
            mdtable.percent(e["fraction"]),
            f"≥ {e['target']:.0%}",
            mdtable.check(e["fraction"], e["target"]),
            "",
        ]
    )
    return "\n".join(
        [
            f"### Ceilings, {result['threads']} thread(s)",
            "",
            "Best of repeated calls after a warm-up. GEMM: 2n³ flops; memory: 28 bytes per parameter, the stream and "
            "the Adam step called in turn so that both see the same phases of the machine.",
            "",
            mdtable.table(["kernel", "size", "best time", "rate", "note"], rows, ["l", "r", "r", "r", "l"]),
            "",
            mdtable.table(
                ["efficiency", "fastmlp", "fraction", "target", "met", "note"], eff_rows, ["l", "r", "r", "r", "l", "l"]
            ),
            "",
        ]
    )
