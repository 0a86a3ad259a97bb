"""bench/run.py, the speed benchmark's entry point: a quick smoke run of the
epoch and scaling sections with fastmlp alone (no peer needed) on a small
slice of MNIST, one thread, and the JSON it writes; the optimizer section
without MNIST; the memory ceiling's measurement on a small array."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "bench"))  # last: bench/profile.py must not shadow the standard library

import workload  # noqa: E402


def _numbers(node):
    if isinstance(node, bool):
        return
    if isinstance(node, (int, float)):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_flop_count_is_the_reference_formula():
    assert workload.flop_per_sample() == 4 * 784 * 300 + 6 * 300 * 100 + 6 * 100 * 10
    assert workload.gflop_per_epoch() == 55000 * (4 * 784 * 300 + 6 * 300 * 100 + 6 * 100 * 10) / 1e9
    assert workload.parameter_count() == 266_610


def test_quick_run_writes_tables_and_json(mnist_dir, tmp_path):
    out = tmp_path / "run.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--quick",
        "--sections",
        "epoch,scaling",
        "--frameworks",
        "fastmlp",
        "--threads",
        "1",
        "--scaling-threads",
        "1",
        "--train-images",
        "512",
        "--batch1-steps",
        "64",
        "--data",
        str(mnist_dir),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| optimizer | batch | fastmlp s/epoch |" in done.stdout
    assert "### Scaling" in done.stdout

    document = json.loads(out.read_text())
    for key in ("machine", "versions", "command", "settings", "thread_control", "sections"):
        assert key in document
    assert document["versions"]["fastmlp"] and document["machine"]["cpu"]
    if Path("/proc/cpuinfo").exists():  # vendor, family and model: "AMD EPYC" alone does not say which
        assert " family " in document["machine"]["cpu_identity"]
    assert "--quick" in document["command"]
    assert all(math.isfinite(x) for x in _numbers(document)), "NaN or Inf in the JSON"

    epoch = document["sections"]["epoch"]
    assert epoch["architecture"] == "784-300-100-10"
    configs = {(r["optimizer"], r["batch_size"]) for r in epoch["rows"]}
    assert configs == {(o, b) for o in ("sgd", "adam", "rmsprop") for b in (1, 32, 256)}
    for row in epoch["rows"]:
        figures = row["frameworks"]["fastmlp"]
        assert "error" not in figures, figures
        assert len(figures["epoch_times"]) == 2 and all(_positive(t) for t in figures["epoch_times"])
        assert _positive(figures["warmup_time"])
        assert row["images_timed"] == (64 if row["batch_size"] == 1 else 512)
        assert math.isclose(figures["seconds_per_epoch"], figures["median_seconds"] * 55000 / row["images_timed"])
        assert _positive(row["fastmlp_gflops"])
        assert row["speedup_vs_fastest_peer"] is None  # no peer ran

    scaling = document["sections"]["scaling"]
    assert len(scaling["rows"]) == 6 + 2 * 4  # batch sweep + width sweep at two batch sizes
    for row in scaling["rows"]:
        assert row["framework"] == "fastmlp" and row["threads"] == 1
        for key in ("seconds_per_epoch", "us_per_sample", "gflops"):
            assert _positive(row[key]), (row, key)
    full = [r for r in scaling["rows"] if r["batch"] == "full"]
    assert full and full[0]["batch_size"] == full[0]["images_timed"] == 512


def test_epoch_rounds_pool_every_rounds_timed_epochs(mnist_dir, tmp_path):
    """--epoch-rounds 2: each configuration runs twice over, and the figure is the median of both rounds' epochs."""
    out = tmp_path / "rounds.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--quick",
        "--sections",
        "epoch",
        "--frameworks",
        "fastmlp",
        "--threads",
        "1",
        "--train-images",
        "256",
        "--batch1-steps",
        "32",
        "--batch-sizes",
        "1,64",
        "--optimizers",
        "sgd",
        "--epoch-rounds",
        "2",
        "--data",
        str(mnist_dir),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Median of 2 rounds' 2 timed epochs" in done.stdout
    epoch = json.loads(out.read_text())["sections"]["epoch"]
    assert epoch["rounds"] == 2 and len(epoch["rows"]) == 2
    for row in epoch["rows"]:
        figures = row["frameworks"]["fastmlp"]
        assert len(figures["epoch_times"]) == 4 and all(_positive(t) for t in figures["epoch_times"])
        assert len(figures["warmup_times"]) == 2
        assert figures["median_seconds"] == statistics.median(figures["epoch_times"])


def test_sections_without_mnist_run_without_a_data_folder(tmp_path):
    """The optimizer section needs no MNIST, so the run makes no data folder;
    its worker must start all the same (it once got None on its command line)."""
    out = tmp_path / "optimizer.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--quick",
        "--sections",
        "optimizer",
        "--frameworks",
        "fastmlp",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    section = json.loads(out.read_text())["sections"]["optimizer"]
    assert "error" not in section, section
    assert [row["params"] for row in section["rows"]] == [266_610, 1 << 24]
    assert all(_positive(row["fastmlp"]["us_per_step"]) for row in section["rows"])


@pytest.mark.instrumented  # _core.stream_adam_shaped is a bench binding
def test_memory_ceiling_times_the_stream_and_the_adam_step_in_turn():
    from sections import ceilings

    result = ceilings.memory(None, n=4096, repeats=3)
    stream, adam = result["stream"], result["adam_step"]
    for figures in (stream, adam):
        assert figures["n"] == 4096 and figures["repeats"] == 3
        assert 0 < figures["seconds"] <= figures["median_seconds"]
        assert figures["gb_per_s"] == pytest.approx(28 * 4096 / figures["seconds"] / 1e9)
    assert adam["call"] == "fastmlp.optim.Adam"
