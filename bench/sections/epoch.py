"""Section "epoch": seconds per epoch of the references' experiment, every
framework side by side, for SGD, Adam and RMSprop at batch sizes 1, 32, 128
and 256.

Each (optimizer, batch) configuration is run by every framework in turn
before the next one starts. Each run builds a fresh model, trains one
warm-up epoch, then `epochs` timed ones over the same images; the figure is
the median of the timed epochs, scaled to a 55,000-image epoch when fewer
images were timed (batch 1: a fixed number of steps; --quick: fewer images).
With --epoch-rounds R, all of that runs R times over and the median is taken
over the R rounds' timed epochs together.
"""

from __future__ import annotations

import statistics

import mdtable
import workload
from peers import LABELS, UNSUPPORTED

BATCH_SIZES = (1, 32, 128, 256)


def images_for(batch_size: int, settings: dict) -> int:
    """Images per timed epoch: all of them, except batch 1 (a fixed step count)."""
    n = settings["train_images"]
    return min(n, settings["batch1_steps"]) if batch_size == 1 else n


def summarize(result: dict, images: int, hidden=workload.HIDDEN) -> dict:
    """Add the median, the 55,000-image figure and GFLOP/s to a worker's result."""
    if "epoch_times" not in result or not result["epoch_times"]:
        return result
    median = statistics.median(result["epoch_times"])
    scale = workload.REFERENCE_IMAGES / images
    out = dict(result)
    out.update(
        {
            "median_seconds": median,
            "images_timed": images,
            "scale_to_reference": scale,
            "seconds_per_epoch": median * scale,
            "us_per_sample": median / images * 1e6,
            "gflops": images * workload.flop_per_sample(hidden) / median / 1e9,
        }
    )
    return out


def pooled(rounds: list[dict]) -> dict:
    """One configuration's results over the rounds, per lane: every round's
    timed epochs together (the first failure or skip stands for the lane)."""
    out = {}
    for lane in rounds[0]:
        results = [r[lane] for r in rounds]
        bad = next((r for r in results if "epoch_times" not in r), None)
        if bad is not None or len(results) == 1:
            out[lane] = bad if bad is not None else results[0]
            continue
        merged = dict(results[-1])
        merged["epoch_times"] = [t for r in results for t in r["epoch_times"]]
        merged["warmup_times"] = [r.get("warmup_time") for r in results]
        out[lane] = merged
    return out


def run(ctx) -> dict:
    settings = ctx.settings
    frameworks = settings["frameworks"]
    configs = [(o, b) for o in settings["optimizers"] for b in settings["batch_sizes"]]
    lanes = [(fw, settings["threads"]) for fw in frameworks]

    def task(config):
        optimizer, batch_size = config
        return {
            "kind": "epoch",
            "hidden": list(workload.HIDDEN),
            "optimizer": optimizer,
            "batch_size": batch_size,
            "images": images_for(batch_size, settings),
            "epochs": settings["epochs"],
        }

    def skip(config, framework):
        return UNSUPPORTED.get((framework, config[0]))

    rounds = settings.get("epoch_rounds", 1)
    raw = [
        ctx.interleave(
            configs,
            lanes,
            task,
            skip,
            label=lambda c, r=r: f"epoch {c[0]} batch {c[1]}" + (f" (round {r + 1} of {rounds})" if rounds > 1 else ""),
            shift=r,
        )
        for r in range(rounds)
    ]
    raw = [pooled([round_[i] for round_ in raw]) for i in range(len(configs))]
    rows = []
    for (optimizer, batch_size), lane_results in zip(configs, raw):
        images = images_for(batch_size, settings)
        per_framework = {key.split("/")[0]: summarize(r, images) for key, r in lane_results.items()}
        peers = {
            fw: r["seconds_per_epoch"]
            for fw, r in per_framework.items()
            if fw != "fastmlp" and mdtable.ok(r.get("seconds_per_epoch"))
        }
        fastest = min(peers, key=peers.get) if peers else None
        mine = per_framework.get("fastmlp", {}).get("seconds_per_epoch")
        rows.append(
            {
                "optimizer": optimizer,
                "batch_size": batch_size,
                "images_timed": images,
                "extrapolated": images != workload.REFERENCE_IMAGES,
                "frameworks": per_framework,
                "fastest_peer": fastest,
                "fastest_peer_seconds": peers.get(fastest),
                "speedup_vs_fastest_peer": (peers[fastest] / mine) if fastest and mdtable.ok(mine) else None,
                "fastmlp_gflops": per_framework.get("fastmlp", {}).get("gflops"),
            }
        )
    return {
        "architecture": workload.architecture(),
        "reference_images": workload.REFERENCE_IMAGES,
        "gflop_per_epoch": workload.gflop_per_epoch(),
        "threads": settings["threads"],
        "timed_epochs": settings["epochs"],
        "rounds": rounds,
        "frameworks": frameworks,
        "rows": rows,
    }


def report(result: dict) -> str:
    frameworks = result["frameworks"]
    header = (
        ["optimizer", "batch"]
        + [f"{LABELS.get(fw, fw)} s/epoch" for fw in frameworks]
        + ["fastmlp speedup vs fastest peer", "fastmlp dense-equivalent GFLOP/s"]
    )
    rows, notes = [], set()
    for r in result["rows"]:
        cells = [r["optimizer"], f"{r['batch_size']}" + (" †" if r["batch_size"] == 1 else "")]
        for fw in frameworks:
            figure = r["frameworks"].get(fw, {})
            if "skipped" in figure:
                cells.append("–")
                notes.add(f"–: {figure['skipped']}")
            elif "error" in figure:
                cells.append("failed")
                notes.add(
                    f"failed ({LABELS.get(fw, fw)}, {r['optimizer']} batch {r['batch_size']}): {figure['error'][:300]}"
                )
            else:
                cells.append(mdtable.seconds(figure.get("seconds_per_epoch")))
        speedup = r["speedup_vs_fastest_peer"]
        cells.append(
            f"{mdtable.ratio(speedup)} ({LABELS.get(r['fastest_peer'], r['fastest_peer'])})"
            if mdtable.ok(speedup)
            else "–"
        )
        cells.append(mdtable.number(r["fastmlp_gflops"], "{:.0f}"))
        rows.append(cells)
    images = {r["batch_size"]: r["images_timed"] for r in result["rows"]}
    lines = [
        f"### Seconds per epoch: MLP {result['architecture']}, {result['reference_images']:,} MNIST images, "
        f"{result['threads']} thread(s)",
        "",
        (
            f"Median of {result['timed_epochs']} timed epochs after one warm-up epoch, each framework alike; "
            if result.get("rounds", 1) == 1
            else f"Median of {result['rounds']} rounds' {result['timed_epochs']} timed epochs, each round after a "
            f"warm-up epoch and all frameworks in turn, each framework alike; "
        )
        + f"lower is better. Speedup = fastest peer's s/epoch / fastmlp's "
        f"({result['gflop_per_epoch']:.1f} GFLOP per epoch for the GFLOP/s column). fastmlp's first layer "
        f"multiplies through the nonzero pixels only (exact; 19% of MNIST's), so its GFLOP/s counts the "
        f"dense products' work, not the multiply-adds it ran; the ceilings section measures the dense "
        f"products' efficiency.",
        "",
        mdtable.table(header, rows),
        "",
    ]
    if 1 in images and images[1] != result["reference_images"]:
        lines.append(f"† batch 1: {images[1]:,} steps timed per epoch, scaled to {result['reference_images']:,}.")
    others = {n for b, n in images.items() if b != 1}
    if others and others != {result["reference_images"]}:
        lines.append(
            f"Quick mode: {min(others):,} images timed per epoch, scaled to "
            f"{result['reference_images']:,} (fixed per-epoch costs are scaled up with them)."
        )
    lines += sorted(notes)
    return "\n".join(lines).rstrip() + "\n"
