"""Section "scaling": where fastmlp's speed changes, so cliffs show.

Seconds per epoch, µs per sample and GFLOP/s (SGD)
- against the batch size: 1, 8, 32, 128, 512 and the full batch (every
  training image in one step), for the reference MLP 784-300-100-10;
- against the first hidden layer's width W: MLP 784-W-100-10 with W = 128,
  300, 1024, 4096, at batch 32 and 256;
each on 1 thread and on all cores (fastmlp.set_num_threads, one worker per
thread count). Peers join with --scaling-peers. Each run: a warm-up epoch,
then the median of the timed epochs. Large configurations time fewer images
(a cap on the floating-point work per epoch, and the batch-1 step cap) and
are scaled to 55,000 images in the s/epoch column; µs/sample and GFLOP/s need
no scaling. Plot: scaling.png beside the JSON, when matplotlib is installed.
"""

from __future__ import annotations

import os

import mdtable
import workload
from peers import LABELS
from sections.epoch import summarize

BATCH_SIZES = (1, 8, 32, 128, 512, "full")
WIDTHS = (128, 300, 1024, 4096)
WIDTH_BATCHES = (32, 256)


def configs() -> list[dict]:
    out = [{"sweep": "batch", "hidden": list(workload.HIDDEN), "batch": b} for b in BATCH_SIZES]
    out += [{"sweep": "width", "hidden": [w, workload.HIDDEN[1]], "batch": b} for b in WIDTH_BATCHES for w in WIDTHS]
    return out


def images_for(config: dict, settings: dict) -> int:
    n = settings["train_images"]
    if config["batch"] == "full":
        return n
    cap = int(settings["scaling_gflop_cap"] * 1e9 / workload.flop_per_sample(config["hidden"]))
    images = min(n, cap)
    if config["batch"] == 1:
        images = min(images, settings["batch1_steps"])
    return max(images, config["batch"])


def run(ctx) -> dict:
    s = ctx.settings
    frameworks = [fw for fw in s["frameworks"] if fw == "fastmlp" or s["scaling_peers"]]
    lanes = [(fw, t) for t in s["scaling_threads"] for fw in frameworks]
    cfgs = configs()

    def task(config):
        images = images_for(config, s)
        batch = images if config["batch"] == "full" else config["batch"]
        return {
            "kind": "epoch",
            "hidden": config["hidden"],
            "optimizer": "sgd",
            "batch_size": batch,
            "images": images,
            "epochs": s["epochs"],
        }

    raw = ctx.interleave(
        cfgs, lanes, task, label=lambda c: f"scaling {workload.architecture(c['hidden'])} batch {c['batch']}"
    )
    rows = []
    for config, lane_results in zip(cfgs, raw):
        images = images_for(config, s)
        for key, result in lane_results.items():
            framework, threads = key.split("/")
            rows.append(
                {
                    **config,
                    "architecture": workload.architecture(config["hidden"]),
                    "batch_size": images if config["batch"] == "full" else config["batch"],
                    "framework": framework,
                    "threads": int(threads),
                    "images_timed": images,
                    **summarize(result, images, tuple(config["hidden"])),
                }
            )
    result = {
        "rows": rows,
        "threads": s["scaling_threads"],
        "frameworks": frameworks,
        "timed_epochs": s["epochs"],
        "gflop_cap": s["scaling_gflop_cap"],
    }
    result["plot"] = plot(result, os.path.join(s["out_dir"], "scaling.png"), ctx)
    return result


def plot(result: dict, path: str, ctx=None) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if ctx:
            ctx.note("scaling: matplotlib not installed, no plot")
        return None
    good = [r for r in result["rows"] if mdtable.ok(r.get("gflops"))]
    if not good:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    lanes = sorted({(r["framework"], r["threads"]) for r in good})
    for framework, threads in lanes:
        name = f"{LABELS.get(framework, framework)}, {threads} thread(s)"
        batch = sorted(
            (r for r in good if r["sweep"] == "batch" and r["framework"] == framework and r["threads"] == threads),
            key=lambda r: r["batch_size"],
        )
        if batch:
            xs = [r["batch_size"] for r in batch]
            axes[0].plot(xs, [r["us_per_sample"] for r in batch], "o-", label=name)
            axes[1].plot(xs, [r["gflops"] for r in batch], "o-", label=name)
        for b in WIDTH_BATCHES:
            width = sorted(
                (
                    r
                    for r in good
                    if r["sweep"] == "width"
                    and r["batch"] == b
                    and r["framework"] == framework
                    and r["threads"] == threads
                ),
                key=lambda r: r["hidden"][0],
            )
            if width:
                axes[2].plot(
                    [r["hidden"][0] for r in width], [r["gflops"] for r in width], "o-", label=f"{name}, batch {b}"
                )
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="batch size",
        ylabel="µs per sample (lower is better)",
        title=f"MLP {workload.architecture()}: cost per sample",
    )
    axes[1].set(
        xscale="log",
        xlabel="batch size",
        ylabel="dense-equivalent GFLOP/s",
        title=f"MLP {workload.architecture()}: achieved GFLOP/s",
    )
    axes[2].set(
        xscale="log",
        xlabel="first hidden width W",
        ylabel="dense-equivalent GFLOP/s",
        title="MLP 784-W-100-10: achieved GFLOP/s",
    )
    from matplotlib.ticker import NullFormatter

    batch_ticks = sorted({r["batch_size"] for r in good if r["sweep"] == "batch"})
    width_ticks = sorted({r["hidden"][0] for r in good if r["sweep"] == "width"})
    for ax, ticks in zip(axes, (batch_ticks, batch_ticks, width_ticks)):
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(result: dict) -> str:
    rows = []
    for r in result["rows"]:
        batch = f"full ({r['batch_size']:,})" if r["batch"] == "full" else f"{r['batch_size']}"
        if "error" in r:
            figures = ["failed", "–", "–"]
        else:
            figures = [
                mdtable.seconds(r.get("seconds_per_epoch")),
                mdtable.number(r.get("us_per_sample"), "{:.2f}"),
                mdtable.number(r.get("gflops"), "{:.0f}"),
            ]
        rows.append(
            [
                r["sweep"],
                LABELS.get(r["framework"], r["framework"]),
                r["threads"],
                r["architecture"],
                batch,
                f"{r['images_timed']:,}",
                *figures,
            ]
        )
    lines = [
        f"### Scaling: SGD, threads {', '.join(map(str, result['threads']))}",
        "",
        f"Median of {result['timed_epochs']} timed epochs after a warm-up. s/epoch is scaled to 55,000 images "
        f"from the images timed (capped at {result['gflop_cap']:g} GFLOP per epoch and, at batch 1, at the "
        f"batch-1 step count); µs/sample and GFLOP/s are as measured. GFLOP/s counts the dense products' "
        f"work; fastmlp's first layer skips MNIST's zero pixels, so its figure can pass the machine's peak.",
        "",
        mdtable.table(
            [
                "sweep",
                "framework",
                "threads",
                "MLP",
                "batch",
                "images timed",
                "s/epoch (55,000)",
                "µs/sample",
                "GFLOP/s",
            ],
            rows,
            ["l", "l", "r", "l", "r", "r", "r", "r", "r"],
        ),
    ]
    if result.get("plot"):
        lines += ["", f"Plot: {result['plot']}"]
    return "\n".join(lines) + "\n"
