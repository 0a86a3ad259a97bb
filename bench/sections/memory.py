"""Section "memory": peak resident memory of ``python -m fastmlp train --epochs 1``
(the reference MLP, SGD, batch 32, all of MNIST loaded) against what it must
hold.

Each command runs under a fresh Python parent that reports
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits (the peak RSS
of that one child, nothing else). The budget is

    baseline: the peak RSS of ``python -c "import numpy, fastmlp"``
  + the data as float32: (60,000 + 10,000) x 784 x 4 bytes, plus int32 labels
  + parameters + gradients (4 bytes each) + optimizer state (SGD: none)
  + one batch's activations and their gradients: the larger of the training
    batch (32) and the inference batch of evaluate (1,024) rows, times the
    layer widths 300 + 100 + 10, times 4 bytes, times 2.

Margin = peak - budget; target: within 60 MB (MB = 10^6 bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mdtable
import workload

MB = 1e6
TARGET_MARGIN_MB = 60.0
TRAIN_BATCH = 32
INFERENCE_BATCH = 1024  # fastmlp.models._INFERENCE_BATCH, the rows per pass of evaluate/predict

_MEASURE = r"""
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": done.returncode, "ru_maxrss": peak,
                  "stdout_tail": done.stdout.strip().splitlines()[-1:],
                  "stderr_tail": done.stderr.strip().splitlines()[-3:]}))
"""


def peak_rss(command: list[str], timeout: float) -> dict:
    """Peak RSS (bytes) of `command`, run as the only child of a fresh Python."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    report["peak_bytes"] = report.pop("ru_maxrss") * unit
    if report["returncode"] != 0:
        report["error"] = " | ".join(report["stderr_tail"]) or f"exit status {report['returncode']}"
    return report


def budget(hidden=workload.HIDDEN) -> dict:
    params = workload.parameter_count(hidden)
    images = 60_000 + workload.TEST_IMAGES
    widths = sum(hidden) + workload.CLASSES
    return {
        "data_float32": images * workload.INPUT * 4,
        "labels_int32": images * 4,
        "parameters": params * 4,
        "gradients": params * 4,
        "optimizer_state_sgd": 0,
        "activations": max(TRAIN_BATCH, INFERENCE_BATCH) * widths * 4 * 2,
    }


def run(ctx) -> dict:
    s = ctx.settings
    timeout = s["task_timeout"]
    ctx.log("memory: baseline (import numpy, fastmlp)")
    baseline = peak_rss([sys.executable, "-c", "import numpy, fastmlp"], timeout)
    train = [
        sys.executable,
        "-m",
        "fastmlp",
        "train",
        "--epochs",
        "1",
        "--batch-size",
        str(TRAIN_BATCH),
        "--threads",
        str(s["threads"]),
    ]
    if s["data"]:
        train += ["--data", os.path.abspath(s["data"])]
    ctx.log("memory: python " + " ".join(train[1:]))
    training = peak_rss(train, timeout)
    parts = budget()
    result = {
        "method": "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss in a fresh parent Python",
        "baseline_command": "python -c 'import numpy, fastmlp'",
        "train_command": " ".join(train[1:]),
        "baseline": baseline,
        "train": training,
        "budget_parts_bytes": parts,
        "target_margin_mb": TARGET_MARGIN_MB,
    }
    if "peak_bytes" in baseline and "peak_bytes" in training and "error" not in training:
        total = baseline["peak_bytes"] + sum(parts.values())
        result.update(
            {
                "budget_bytes": total,
                "margin_bytes": training["peak_bytes"] - total,
                "within_target": (training["peak_bytes"] - total) / MB <= TARGET_MARGIN_MB,
            }
        )
    return result


def report(result: dict) -> str:
    mb = lambda b: mdtable.number(b / MB if mdtable.ok(b) else None, "{:.1f}")  # noqa: E731
    rows = [["baseline: python -c 'import numpy, fastmlp'", mb(result["baseline"].get("peak_bytes"))]]
    for name, value in result["budget_parts_bytes"].items():
        rows.append([f"+ {name.replace('_', ' ')}", mb(value)])
    rows.append(["= budget", mb(result.get("budget_bytes"))])
    train = result["train"]
    rows.append(
        [
            f"peak: python {result['train_command']}",
            mb(train.get("peak_bytes")) if "error" not in train else "failed: " + train["error"][:200],
        ]
    )
    margin = result.get("margin_bytes")
    met = mdtable.check(margin / MB if mdtable.ok(margin) else None, result["target_margin_mb"], at_least=False)
    rows.append(["margin (peak - budget)", f"{mb(margin)} (target ≤ {result['target_margin_mb']:.0f}: {met})"])
    return "\n".join(
        [
            "### Memory: peak RSS of one training epoch",
            "",
            f"Measured with {result['method']}; MB = 10^6 bytes.",
            "",
            mdtable.table(["", "MB"], rows),
            "",
        ]
    )
