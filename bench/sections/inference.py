"""Section "inference": class probabilities for the 10,000 MNIST test images
with the reference network (freshly initialised: the weights' values do not
change the work), 10,000 rows per call (one batch) in every framework, two
warm-up calls, then the median of several timed calls."""

from __future__ import annotations

import statistics

import mdtable
import workload
from peers import LABELS

BATCH = workload.TEST_IMAGES


def run(ctx) -> dict:
    settings = ctx.settings
    lanes = [(fw, settings["threads"]) for fw in settings["frameworks"]]
    task = {
        "kind": "predict",
        "hidden": list(workload.HIDDEN),
        "batch_size": BATCH,
        "repeats": settings["inference_repeats"],
    }
    raw = ctx.interleave([None], lanes, lambda _: task, label=lambda _: "inference")[0]
    rows = {}
    for key, r in raw.items():
        fw = key.split("/")[0]
        if "times" in r:
            r = dict(r, median_ms=statistics.median(r["times"]) * 1e3)
        rows[fw] = r
    mine = rows.get("fastmlp", {}).get("median_ms")
    for r in rows.values():
        if mdtable.ok(r.get("median_ms")) and mdtable.ok(mine):
            r["fastmlp_speedup"] = r["median_ms"] / mine
    return {
        "images": workload.TEST_IMAGES,
        "batch_size": BATCH,
        "repeats": settings["inference_repeats"],
        "threads": settings["threads"],
        "frameworks": rows,
    }


def report(result: dict) -> str:
    rows = []
    for fw, r in result["frameworks"].items():
        if "error" in r:
            rows.append([LABELS.get(fw, fw), "failed: " + r["error"][:200], "–", "–"])
            continue
        rows.append(
            [
                LABELS.get(fw, fw),
                r.get("detail", ""),
                mdtable.number(r.get("median_ms"), "{:.2f}"),
                "–" if fw == "fastmlp" else mdtable.ratio(r.get("fastmlp_speedup")),
            ]
        )
    return "\n".join(
        [
            f"### Inference: {result['images']:,} test images, {result['batch_size']:,} rows per call, "
            f"{result['threads']} thread(s)",
            "",
            f"Median of {result['repeats']} calls after 2 warm-up calls; speedup = the framework's time / fastmlp's.",
            "",
            mdtable.table(["framework", "call", "ms", "fastmlp speedup"], rows, ["l", "l", "r", "r"]),
            "",
        ]
    )
