"""Section "optimizer": one Adam step on 266,610 parameters (the reference
network) and on 2^24 = 16.7M, fastmlp's fused kernel (``fastmlp.optim.Adam``)
beside ``torch.optim.Adam`` with fused=True and with foreach=True when
PyTorch is installed and selected. The optimizers and the timing loop are
bench/optimizer_step.py's own (imported, not copied): median of timed blocks
after a warm-up, one block of each candidate in turn. Target: fastmlp ≥ 1.8× torch fused at 266,610 parameters.
Runs in its own worker (fastmlp and PyTorch in one process, as
optimizer_step.py runs them)."""

from __future__ import annotations

import mdtable

SIZES = (266_610, 1 << 24)
TARGET = 1.8  # fastmlp speedup vs torch fused at 266,610 parameters


# ------------------------------------------------------- worker side
def compare(ctx, sizes, budget: float, with_torch: bool) -> dict:
    import numpy as np

    import optimizer_step
    import paths

    paths.demote()  # optimizer_step put bench/ first on sys.path again
    torch = None
    versions = {}
    if with_torch:
        try:
            import torch

            torch.set_num_threads(ctx["threads"])
            versions["torch"] = torch.__version__
        except ImportError:
            torch = None
    rows = []
    for size in sizes:
        rng = np.random.default_rng(0)
        p = rng.normal(size=size).astype(np.float32)
        g = (rng.normal(size=size) * 1e-3).astype(np.float32)
        opt = optimizer_step.fastmlp_optimizer("adam", [p])
        candidates = {"fastmlp": lambda opt=opt, g=g: opt.step([g])}
        if torch is not None:
            for mode in ("fused", "foreach"):
                tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
                tp.grad = torch.from_numpy(g.copy())
                try:
                    candidates[f"torch {mode}"] = optimizer_step.torch_optimizer(torch, "adam", [tp], mode).step
                except (RuntimeError, TypeError, ValueError):
                    pass
        row = {"params": size}
        for label, seconds in optimizer_step.seconds_per_step_in_turn(candidates, budget).items():
            row[label] = {
                "us_per_step": seconds * 1e6,
                "gb_per_s": optimizer_step.BYTES_PER_PARAM["adam"] * size / seconds / 1e9,
            }
        rows.append(row)
    return {"rows": rows, "versions": versions, "threads": ctx["threads"]}


# ------------------------------------------------------- parent side
def run(ctx) -> dict:
    s = ctx.settings
    with_torch = "torch" in s["frameworks"]
    if not with_torch:
        ctx.note("optimizer section: PyTorch not selected or not installed, fastmlp alone")
    ctx.log("optimizer: Adam step")
    result = ctx.request(
        "fastmlp",
        {
            "kind": "call",
            "module": "sections.optimizer",
            "function": "compare",
            "kwargs": {"sizes": list(SIZES), "budget": s["optimizer_budget"], "with_torch": with_torch},
        },
        role="optimizer",
    )
    for row in result.get("rows", []):
        mine = row.get("fastmlp", {}).get("us_per_step")
        fused = row.get("torch fused", {}).get("us_per_step")
        row["speedup_vs_torch_fused"] = fused / mine if mdtable.ok(mine) and mdtable.ok(fused) else None
    result["target"] = {"params": SIZES[0], "speedup_vs_torch_fused": TARGET}
    return result


def report(result: dict) -> str:
    if "error" in result:
        return f"### Optimizer step\n\nfailed: {result['error']}\n"
    rows = []
    for r in result["rows"]:
        cells = [f"{r['params']:,}"]
        for label in ("fastmlp", "torch fused", "torch foreach"):
            f = r.get(label)
            cells.append(f"{f['us_per_step']:.1f} ({f['gb_per_s']:.1f} GB/s)" if f else "–")
        speedup = r.get("speedup_vs_torch_fused")
        target = f"≥ {TARGET}×: {mdtable.check(speedup, TARGET)}" if r["params"] == SIZES[0] else ""
        cells += [mdtable.ratio(speedup), target]
        rows.append(cells)
    return "\n".join(
        [
            f"### Optimizer step: Adam, {result.get('threads')} thread(s)",
            "",
            "µs per step (and GB/s at 28 bytes per parameter), median of timed blocks after a warm-up "
            "(bench/optimizer_step.py's loop).",
            "",
            mdtable.table(
                ["params", "fastmlp µs", "torch fused µs", "torch foreach µs", "fastmlp speedup vs fused", "target"],
                rows,
            ),
            "",
        ]
    )
