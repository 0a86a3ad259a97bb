"""Summaries of a comparison's runs, and ``report.md``, ``history.csv`` and
``results.json`` from them. Every number in the report is computed from the
recorded runs."""

from __future__ import annotations

import csv
import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")
DASH = "—"

# Reference 000's Keras results for its setup (MLP 784-300-100-10, batch 32,
# 5 epochs, the first 5000 training images held out, Keras defaults).
REFERENCE_000 = {"sgd": 0.9504, "adam": 0.9813, "rmsprop": 0.9784}


# ------------------------------------------------------------- summaries
def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return mean, std


def curves(runs: Sequence[dict], metric: str) -> np.ndarray:
    """(runs, epochs) array of one metric, NaN-padded where a run stopped early."""
    length = max(len(r["history"][metric]) for r in runs)
    out = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        values = [math.nan if v is None else v for v in run["history"][metric]]
        out[i, : len(values)] = values
    return out


def group_runs(results: dict) -> OrderedDict[str, list[dict]]:
    """Runs by optimizer spec, in the order the optimizers were given."""
    groups: OrderedDict[str, list[dict]] = OrderedDict((name, []) for name in results["config"]["optimizers"])
    for run in results["runs"]:
        groups.setdefault(run["optimizer"], []).append(run)
    return OrderedDict((k, v) for k, v in groups.items() if v)


def summarize(name: str, runs: Sequence[dict], target: float) -> dict:
    """Per-optimizer statistics over its seeds."""
    s: dict = {
        "optimizer": name,
        "runs": len(runs),
        "seeds": [r["seed"] for r in runs],
        "class": runs[0]["optimizer_config"].get("name", name),
    }
    s["test_accuracy"] = _mean_std([r["test_accuracy"] for r in runs])
    s["test_loss"] = _mean_std([r["test_loss"] for r in runs])
    has_val = any(v is not None for r in runs for v in r["history"]["val_accuracy"])
    s["has_validation"] = has_val

    def last(run, metric):
        values = [v for v in run["history"][metric] if v is not None]
        return values[-1] if values else None

    s["final_train_accuracy"] = _mean_std([last(r, "accuracy") for r in runs])
    s["final_train_loss"] = _mean_std([last(r, "loss") for r in runs])
    s["epochs_run"] = [len(r["history"]["loss"]) for r in runs]
    s["diverged"] = [(r["seed"], len(r["history"]["loss"])) for r in runs if r["history"]["loss"][-1] is None]
    times = [t for r in runs for t in r["history"]["epoch_time"] if t is not None]
    s["seconds_per_epoch"] = float(np.mean(times)) if times else math.nan
    s["fastest_epoch"] = float(np.min(times)) if times else math.nan
    s["wall_time"] = _mean_std([r["wall_time"] for r in runs])
    s["state_bytes"] = runs[0]["optimizer_state_bytes"]
    s["params"] = runs[0]["params"]
    s["trainable_params"] = runs[0].get("trainable_params", runs[0]["params"])
    s["state_bytes_per_param"] = runs[0]["optimizer_state_bytes"] / s["trainable_params"]
    s["lr_initial"] = runs[0].get("initial_lr")
    s["lr_final"] = runs[0]["history"]["lr"][-1] if runs[0]["history"]["lr"] else None
    if has_val:
        s["final_val_accuracy"] = _mean_std([last(r, "val_accuracy") for r in runs])
        s["final_val_loss"] = _mean_std([last(r, "val_loss") for r in runs])
        s["gap"] = _mean_std(
            [
                last(r, "accuracy") - last(r, "val_accuracy")
                for r in runs
                if last(r, "accuracy") is not None and last(r, "val_accuracy") is not None
            ]
        )
        s["best_val_accuracy"] = float(np.nanmax(curves(runs, "val_accuracy")))
        reach_epochs, reach_seconds = [], []
        for r in runs:
            elapsed = 0.0
            for epoch, (acc, t) in enumerate(zip(r["history"]["val_accuracy"], r["history"]["epoch_time"]), 1):
                elapsed += t or 0.0
                if acc is not None and acc >= target:
                    reach_epochs.append(epoch)
                    reach_seconds.append(elapsed)
                    break
        s["reached"] = len(reach_epochs)
        s["epochs_to_target"] = float(np.mean(reach_epochs)) if reach_epochs else None
        s["seconds_to_target"] = float(np.mean(reach_seconds)) if reach_seconds else None
        val_loss = np.nanmean(curves(runs, "val_loss"), axis=0)
        s["val_loss_curve"] = val_loss.tolist()
        s["val_loss_best_epoch"] = int(np.nanargmin(val_loss)) + 1 if np.isfinite(val_loss).any() else None
        s["first_epoch_val_accuracy"] = float(np.nanmean(curves(runs, "val_accuracy")[:, 0]))
    loss = np.nanmean(curves(runs, "loss"), axis=0)
    s["train_loss_curve"] = loss.tolist()
    return s


def summarize_all(results: dict) -> list[dict]:
    target = results["config"]["target_accuracy"]
    return [summarize(name, runs, target) for name, runs in group_runs(results).items()]


# ------------------------------------------------------------ formatting
def _pm(pair: tuple[float, float], digits: int = 4, runs: int = 1, signed: bool = False) -> str:
    mean, std = pair
    if mean is None or not math.isfinite(mean):
        return DASH
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if runs > 1 else text


def _epochs(n: float) -> str:
    return f"{n:.3g} epoch" + ("" if n == 1 else "s")


def _reach_cell(s: dict, key: str, fmt: str) -> str:
    if not s.get("has_validation") or s.get(key) is None:
        return DASH
    text = format(s[key], fmt)
    return text if s["runs"] == 1 or s["reached"] == s["runs"] else f"{text} ({s['reached']}/{s['runs']} seeds)"


def _secs(x: float) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{x:.2f}" if x >= 0.995 else f"{x:.3f}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def summary_table(summaries: Sequence[dict], target: float) -> str:
    pct = f"{target * 100:g}%"
    header = [
        "optimizer",
        "test accuracy",
        "final val accuracy",
        f"epochs to {pct} val",
        f"seconds to {pct} val",
        "generalization gap",
        "s / epoch",
        "state bytes / param",
    ]
    rows = []
    for s in summaries:
        n = s["runs"]
        rows.append(
            [
                f"`{s['optimizer']}`",
                _pm(s["test_accuracy"], runs=n),
                _pm(s["final_val_accuracy"], runs=n) if s["has_validation"] else DASH,
                _reach_cell(s, "epochs_to_target", ".3g"),
                _reach_cell(s, "seconds_to_target", ".1f"),
                _pm(s["gap"], runs=n, signed=True) if s["has_validation"] else DASH,
                _secs(s["seconds_per_epoch"]),
                f"{s['state_bytes_per_param']:g}",
            ]
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def console_table(summaries: Sequence[dict], target: float) -> str:
    """The summary table as aligned plain text."""
    md = summary_table(summaries, target).splitlines()
    rows = [[c.strip().strip("`") for c in line.strip("|").split("|")] for line in md]
    rows = [rows[0]] + rows[2:]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# -------------------------------------------------------------- findings
def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _c(name: str) -> str:
    return f"`{name}`"


def convergence_section(summaries, config) -> list[str]:
    target = config["target_accuracy"]
    pct = f"{target * 100:g}%"
    epochs = config["epochs"]
    if not any(s["has_validation"] for s in summaries):
        order = sorted(summaries, key=lambda s: s["train_loss_curve"][0])
        return [
            "There is no validation set (`--validation 0`), so convergence is judged by training loss "
            "after the first epoch: "
            + ", ".join(f"{_c(s['optimizer'])} {s['train_loss_curve'][0]:.4f}" for s in order)
            + "."
        ]
    reached = [s for s in summaries if s["epochs_to_target"] is not None]
    never = [s for s in summaries if s["epochs_to_target"] is None]
    text = []
    if reached:
        by_epochs = sorted(reached, key=lambda s: (s["epochs_to_target"], s["seconds_to_target"]))
        by_seconds = sorted(reached, key=lambda s: s["seconds_to_target"])
        first = by_epochs[0]
        seeds = (
            ""
            if first["runs"] == 1
            else (
                f" on average over {first['reached']} of {first['runs']} seeds"
                if first["reached"] < first["runs"]
                else f" on average over {first['runs']} seeds"
            )
        )
        sentence = (
            f"{_c(first['optimizer'])} reached {pct} validation accuracy first, after "
            f"{_epochs(first['epochs_to_target'])} ({first['seconds_to_target']:.1f} s){seeds}"
        )
        others = [
            f"{_c(s['optimizer'])} after {_epochs(s['epochs_to_target'])} ({s['seconds_to_target']:.1f} s)"
            for s in by_epochs[1:]
        ]
        sentence += ("; " + _join(others) if others else "") + "."
        ties = [s for s in by_epochs[1:] if s["epochs_to_target"] == first["epochs_to_target"]]
        if ties:
            sentence += f" In epochs that is a tie with {_join(_c(s['optimizer']) for s in ties)}; the seconds decide."
        if by_seconds[0] is not first:
            sentence += (
                f" By wall-clock time {_c(by_seconds[0]['optimizer'])} got there first "
                f"({by_seconds[0]['seconds_to_target']:.1f} s)."
            )
        text.append(sentence)
    if never:
        best = (
            ": " + ", ".join(f"{_c(s['optimizer'])} {s['best_val_accuracy']:.4f}" for s in never)
            if len(never) > 1
            else f" {never[0]['best_val_accuracy']:.4f}"
        )
        if not reached and len(never) > 1:
            text.append(
                f"None of the optimizers reached {pct} validation accuracy within {_epochs(epochs)} "
                f"(best validation accuracy{best})."
            )
        else:
            text.append(
                f"{_join(_c(s['optimizer']) for s in never)} did not reach {pct} within "
                f"{_epochs(epochs)} (best validation accuracy{best})."
            )
    order = sorted(summaries, key=lambda s: -s["first_epoch_val_accuracy"])
    text.append(
        "Validation accuracy after the first epoch: "
        + ", ".join(f"{_c(s['optimizer'])} {s['first_epoch_val_accuracy']:.4f}" for s in order)
        + "."
    )
    return [" ".join(text)]


def _rises(curve: Sequence[float]) -> list[int]:
    """Epochs (1-based) at which the curve went up from the previous epoch."""
    return [
        i + 1
        for i in range(1, len(curve))
        if math.isfinite(curve[i]) and math.isfinite(curve[i - 1]) and curve[i] > curve[i - 1]
    ]


def stability_section(summaries, config, plotted: bool = True) -> list[str]:
    text = []
    if config["repeats"] > 1 and len(summaries) == 1:
        text.append(
            f"Across {config['repeats']} seeds the test accuracy of {_c(summaries[0]['optimizer'])} had "
            f"a standard deviation of {summaries[0]['test_accuracy'][1]:.4f}."
        )
    elif config["repeats"] > 1:
        order = sorted(summaries, key=lambda s: s["test_accuracy"][1])
        text.append(
            f"Across {config['repeats']} seeds the test accuracy varied least with "
            f"{_c(order[0]['optimizer'])} (standard deviation {order[0]['test_accuracy'][1]:.4f}) and most "
            f"with {_c(order[-1]['optimizer'])} ({order[-1]['test_accuracy'][1]:.4f})."
        )
        if len(order) > 2:
            text.append(
                "The others: "
                + ", ".join(f"{_c(s['optimizer'])} {s['test_accuracy'][1]:.4f}" for s in order[1:-1])
                + "."
            )
    else:
        text.append(
            "Each optimizer ran with one seed, so the spread across seeds is not measured "
            "(run with `--repeats 3` or more for mean ± std" + (" and bands in the plots)." if plotted else ").")
        )
    if config["epochs"] > 1:
        steady, bumpy = [], []
        for s in summaries:
            rises = _rises(s["train_loss_curve"])
            (bumpy if rises else steady).append((s, rises))
        if steady:
            text.append(f"Training loss fell every epoch for {_join(_c(s['optimizer']) for s, _ in steady)}.")
        for s, rises in bumpy:
            text.append(
                f"Training loss of {_c(s['optimizer'])} rose at epoch{'s' if len(rises) > 1 else ''} "
                f"{_join(map(str, rises))}."
            )
        with_val = [s for s in summaries if s["has_validation"]]
        if with_val:
            counts = [(s, _rises(s["val_loss_curve"])) for s in with_val]
            transitions = len(with_val[0]["val_loss_curve"]) - 1
            parts = [
                f"{_c(s['optimizer'])} {len(r)} of {transitions}"
                + (f" (epoch{'s' if len(r) > 1 else ''} {_join(map(str, r))})" if r else "")
                for s, r in counts
            ]
            mean = " (mean curve over seeds)" if config["repeats"] > 1 else ""
            text.append(f"Validation loss went up from one epoch to the next{mean}: " + ", ".join(parts) + ".")
    for s in summaries:
        for seed, epoch in s["diverged"]:
            text.append(f"{_c(s['optimizer'])} diverged (loss not finite) with seed {seed} in epoch {epoch}.")
    return [" ".join(text)]


def generalization_section(summaries, config) -> list[str]:
    with_val = [s for s in summaries if s["has_validation"]]
    if not with_val:
        return [
            "There is no validation set (`--validation 0`), so the generalization gap is not measured; "
            "test accuracies are in the table."
        ]
    order = sorted(with_val, key=lambda s: s["gap"][0])
    if len(order) == 1:
        text = [
            f"The gap between final training and validation accuracy of {_c(order[0]['optimizer'])} was "
            f"{order[0]['gap'][0]:+.4f}."
        ]
    else:
        text = [
            f"The gap between final training and validation accuracy was smallest for {_c(order[0]['optimizer'])} "
            f"({order[0]['gap'][0]:+.4f}) and largest for {_c(order[-1]['optimizer'])} "
            f"({order[-1]['gap'][0]:+.4f})."
        ]
    if any(s["gap"][0] < 0 for s in with_val):
        text.append(
            "A negative gap is expected early in training: the training accuracy is the running "
            "average over each epoch, measured while the weights still change, whereas validation "
            "accuracy is measured with the weights at the end of the epoch."
        )
    over, still = [], []
    for s in with_val:
        curve, best = s["val_loss_curve"], s["val_loss_best_epoch"]
        if best is None:
            continue
        final = curve[-1]
        if best < len(curve) and math.isfinite(final):
            over.append(
                f"{_c(s['optimizer'])}'s validation loss was lowest at epoch {best} "
                f"({curve[best - 1]:.4f}) and ended at {final:.4f} "
                f"({(final / curve[best - 1] - 1) * 100:+.0f}%)"
            )
        else:
            still.append(s)
    if over:
        text.append("; ".join(over) + ": an early sign of overfitting, or noise.")
    if still:
        text.append(
            f"Validation loss was still at its lowest in the last epoch for {_join(_c(s['optimizer']) for s in still)}."
        )
    diffs = [(s, s["test_accuracy"][0] - s["final_val_accuracy"][0]) for s in with_val]
    text.append(
        "Test minus final validation accuracy: " + ", ".join(f"{_c(s['optimizer'])} {d:+.4f}" for s, d in diffs) + "."
    )
    return [" ".join(text)]


def efficiency_section(summaries, results) -> list[str]:
    machine = results["machine"]
    order = sorted(summaries, key=lambda s: s["seconds_per_epoch"])
    text = [
        "Seconds per epoch (training and validation), mean and fastest epoch: "
        + ", ".join(
            f"{_c(s['optimizer'])} {_secs(s['seconds_per_epoch'])} ({_secs(s['fastest_epoch'])})" for s in order
        )
        + "."
    ]
    by_fastest = sorted(summaries, key=lambda s: s["fastest_epoch"])
    if len(order) > 1 and by_fastest[0]["fastest_epoch"] > 0:
        quick, slow = by_fastest[0], by_fastest[-1]
        text.append(
            f"Comparing fastest epochs (the least disturbed by other work on the machine), "
            f"{_c(slow['optimizer'])} took {slow['fastest_epoch'] / quick['fastest_epoch']:.2f}x as long "
            f"as {_c(quick['optimizer'])}."
        )
    states = sorted(summaries, key=lambda s: s["state_bytes"])
    text.append(
        f"Optimizer state for the {states[0]['trainable_params']:,} trainable parameters: "
        + ", ".join(
            f"{_c(s['optimizer'])} {s['state_bytes_per_param']:g} bytes per parameter"
            + (f" ({_bytes(s['state_bytes'])})" if s["state_bytes"] else " (none)")
            for s in states
        )
        + "."
    )
    cores = machine.get("usable_cores") or machine.get("cores") or 1
    threads = machine.get("threads", 1)
    busy = [r for r in results["runs"] if r.get("other_runnable") and threads + max(r["other_runnable"]) > cores]
    if busy:
        names = sorted({f"{_c(r['optimizer'])} seed {r['seed']}" for r in busy})
        text.append(
            f"Other processes were competing for the {cores} cores during {len(busy)} of "
            f"{len(results['runs'])} runs ({_join(names)}), so the timings of those runs are inflated "
            "and noisy; compare timings on an otherwise idle machine (or with `--threads 1`)."
        )
    return [" ".join(text)]


def sensitivity_section(summaries, config) -> list[str]:
    by_class: OrderedDict[str, list[dict]] = OrderedDict()
    for s in summaries:
        by_class.setdefault(s["class"], []).append(s)
    text = []
    for cls, group in by_class.items():
        if len(group) < 2:
            continue
        order = sorted(group, key=lambda s: s["test_accuracy"][0])
        spread = order[-1]["test_accuracy"][0] - order[0]["test_accuracy"][0]
        text.append(
            f"{cls} ran with {len(group)} settings: test accuracy from {order[0]['test_accuracy'][0]:.4f} "
            f"({_c(order[0]['optimizer'])}) to {order[-1]['test_accuracy'][0]:.4f} "
            f"({_c(order[-1]['optimizer'])}), a spread of {spread:.4f}."
        )
    if not text:
        text.append(
            "Each optimizer ran with a single setting of its hyperparameters, so sensitivity to them is "
            "not measured here. List one optimizer several times with different values to measure it, "
            "e.g. `--optimizers adam,adam:learning_rate=3e-4,adam:learning_rate=3e-3`."
        )
    if config["repeats"] > 1:
        text.append("Sensitivity to the random seed is under Stability.")
    return [" ".join(text)]


def reference_section(summaries, config) -> list[str]:
    """Reference 000's Keras numbers, only when the setup is reference 000's."""
    same = (
        config["dataset"] == "mnist"
        and list(config["hidden"]) == [300, 100]
        and config["epochs"] == 5
        and config["batch_size"] == 32
        and config["validation"] == 5000
        and not config["dropout"]
        and not config["batch_norm"]
        and not config["l2"]
        and not config["schedule"]
        and not config["limit"]
    )
    rows = [s for s in summaries if s["optimizer"].lower() in REFERENCE_000]
    if not same or not rows:
        return []
    return [
        "Reference 000 trained this network in Keras with the same setup and reported test accuracy "
        + ", ".join(f"{s['optimizer']} {REFERENCE_000[s['optimizer'].lower()]:.4f}" for s in rows)
        + "; here: "
        + ", ".join(f"{s['optimizer']} {s['test_accuracy'][0]:.4f}" for s in rows)
        + (
            " (mean over seeds "
            + ", ".join(map(str, config["seeds"]))
            + "; standard deviation "
            + ", ".join(f"{s['optimizer']} {s['test_accuracy'][1]:.4f}" for s in rows)
            + ")."
            if config["repeats"] > 1
            else ". The reference ran each optimizer once, as this comparison did; `--repeats N` measures how "
            "much one run varies with the seed."
        )
    ]


# ----------------------------------------------------------------- files
def markdown_report(results: dict, plots: Sequence[tuple[str, str]], plot_note: str | None = None) -> str:
    config, machine = results["config"], results["machine"]
    summaries = summarize_all(results)
    target = config["target_accuracy"]
    first = results["runs"][0] if results["runs"] else None
    n_params = first["params"] if first else 0
    layout = "-".join(map(str, [784, *config["hidden"], 10]))
    extras = [
        f"dropout {config['dropout']}" if config["dropout"] else None,
        "batch normalization" if config["batch_norm"] else None,
        f"L2 {config['l2']}" if config["l2"] else None,
    ]
    extras = ", ".join(e for e in extras if e)
    validation = config["validation"]
    if isinstance(validation, float):
        val_text = f"the last {validation:g} of the training images (Keras's validation_split)"
    elif validation:
        val_text = f"the first {validation:,} training images"
    else:
        val_text = "none"
    lines = [
        "# Optimizer comparison",
        "",
        f"{config['dataset']}, MLP {layout} ({n_params:,} parameters{', ' + extras if extras else ''}), "
        f"{config['epochs']} epochs, batch size {config['batch_size']}, validation: {val_text}, "
        f"learning-rate schedule: {config['schedule'] or 'none'}, seeds {', '.join(map(str, config['seeds']))}"
        + (f", first {config['limit']:,} training images only" if config["limit"] else "")
        + ".",
        f"Machine: {machine['cpu']}, {machine.get('usable_cores', machine['cores'])} usable cores, "
        f"{machine['threads']} thread(s), fastmlp {machine['fastmlp']} "
        f"({machine['build_info'].get('arch', '?')}, {machine['build_info'].get('simd', '?')}).",
        "",
        summary_table(summaries, target),
        "",
        ("Mean ± sample standard deviation over seeds. " if config["repeats"] > 1 else "")
        + f"Epochs and seconds to {target * 100:g}%: the first epoch whose validation accuracy reached it, and the "
        "summed epoch times up to it (\u2014: never). Generalization gap: final training accuracy minus final "
        "validation accuracy. s / epoch: training plus validation. State bytes / param: "
        "`optimizer.state_bytes()` divided by the number of trainable parameters.",
        "",
    ]
    if plots:
        lines += ["## Plots", ""]
        for title, path in plots:
            lines += [f"![{title}]({path})", ""]
    elif plot_note:
        lines += [f"_{plot_note}_", ""]
    sections = [
        ("Convergence speed", convergence_section(summaries, config)),
        ("Stability", stability_section(summaries, config, bool(plots))),
        ("Generalization", generalization_section(summaries, config)),
        ("Computational efficiency", efficiency_section(summaries, results)),
        ("Hyperparameter sensitivity", sensitivity_section(summaries, config)),
        ("Against the references", reference_section(summaries, config)),
    ]
    for title, paragraphs in sections:
        if paragraphs:
            lines += [f"## {title}", ""]
            for p in paragraphs:
                lines += [p, ""]
    lines += [
        "Raw data: `results.json` (every run, per-epoch history, configuration, machine) and "
        "`history.csv` (long format).",
        "",
    ]
    return "\n".join(lines)


def write_history_csv(results: dict, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["optimizer", "seed", "epoch", "metric", "value"])
        for run in results["runs"]:
            for metric in METRICS:
                for epoch, value in enumerate(run["history"][metric], 1):
                    writer.writerow(
                        [run["optimizer"], run["seed"], epoch, metric, "" if value is None else repr(float(value))]
                    )


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return repr(value)


def write_results_json(results: dict, path: Path) -> None:
    with open(path, "w") as f:
        json.dump(_jsonable(results), f, indent=1, allow_nan=False)
        f.write("\n")
