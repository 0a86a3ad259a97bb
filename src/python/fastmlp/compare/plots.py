"""PNG figures of a comparison (matplotlib, Agg backend; optional:
``pip install fastmlp[plot]``). One colour per optimizer across all figures;
with several seeds, the line is the mean and the band mean ± std."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .report import curves, group_runs

FIGSIZE = (8, 5)  # inches: 960x600 pixels at DPI
DPI = 120

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")
INSTALL_HINT = "plots skipped: matplotlib is not installed (pip install fastmlp[plot])"


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _band(ax, x, values: np.ndarray, color, label, linestyle="-", marker="o"):
    """Mean line (and a mean ± std band over seeds when there are several)."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=0)
    ax.plot(x, mean, color=color, linestyle=linestyle, marker=marker, markersize=4, linewidth=1.8, label=label)
    counts = np.sum(np.isfinite(values), axis=0)
    if values.shape[0] > 1 and (counts > 1).any():
        with np.errstate(invalid="ignore"):
            std = np.nanstd(values, axis=0, ddof=1)
        std = np.where(counts > 1, std, np.nan)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)


def _finish(fig, ax, path: Path, title: str, xlabel: str, ylabel: str, integer_x: bool = True):
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def write_plots(results: dict, out: Path) -> list[tuple[str, str]]:
    """Write the figures into `out`; returns [(title, file name)]."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    groups = group_runs(results)
    config = results["config"]
    colors = plt.get_cmap("tab10").colors
    color = {name: colors[i % len(colors)] for i, name in enumerate(groups)}
    seeds = f" (mean ± std over {config['repeats']} seeds)" if config["repeats"] > 1 else ""
    has_val = any(v is not None for runs in groups.values() for r in runs for v in r["history"]["val_accuracy"])
    written: list[tuple[str, str]] = []

    def epochs_of(values):
        return np.arange(1, values.shape[1] + 1)

    plt.rcParams.update({"font.size": 10})
    try:
        if has_val:
            fig, ax = plt.subplots(figsize=FIGSIZE)
            for name, runs in groups.items():
                values = curves(runs, "val_accuracy")
                _band(ax, epochs_of(values), values, color[name], name)
            target = config["target_accuracy"]
            ax.axhline(target, color="0.4", linestyle=":", linewidth=1, label=f"{target * 100:g}% target")
            _finish(
                fig,
                ax,
                out / "val_accuracy.png",
                "Optimizer comparison: validation accuracy" + seeds,
                "epoch",
                "validation accuracy",
            )
            plt.close(fig)
            written.append(("Validation accuracy per epoch", "val_accuracy.png"))

        fig, ax = plt.subplots(figsize=FIGSIZE)
        for name, runs in groups.items():
            values = curves(runs, "loss")
            _band(ax, epochs_of(values), values, color[name], f"{name} (training)")
            if has_val:
                values = curves(runs, "val_loss")
                _band(ax, epochs_of(values), values, color[name], f"{name} (validation)", linestyle="--", marker="s")
        _finish(fig, ax, out / "loss.png", "Training and validation loss" + seeds, "epoch", "cross-entropy loss")
        plt.close(fig)
        written.append(("Training and validation loss per epoch", "loss.png"))

        fig, ax = plt.subplots(figsize=FIGSIZE)
        for name, runs in groups.items():
            seconds = np.nancumsum(curves(runs, "epoch_time"), axis=1)
            x = np.nanmean(seconds, axis=0)
            values = curves(runs, "loss")
            _band(ax, x, values, color[name], f"{name} (training)")
            if has_val:
                _band(ax, x, curves(runs, "val_loss"), color[name], f"{name} (validation)", linestyle="--", marker="s")
        ax.set_xlim(left=0)
        _finish(
            fig,
            ax,
            out / "loss_vs_time.png",
            "Loss against wall-clock time" + seeds,
            "seconds of training (cumulative epoch time, including validation)",
            "cross-entropy loss",
            integer_x=False,
        )
        plt.close(fig)
        written.append(("Loss against wall-clock seconds", "loss_vs_time.png"))

        fig, ax = plt.subplots(figsize=FIGSIZE)
        positive = True
        for name, runs in groups.items():
            run = runs[0]  # the schedule does not depend on the seed
            rates = [run.get("initial_lr")] + list(run["history"]["lr"])
            rates = np.array([np.nan if r is None else r for r in rates], dtype=float)
            positive &= bool(np.all(rates[np.isfinite(rates)] > 0))
            k = list(groups).index(name)
            # Optimizers often share a rate: distinct dashes and shrinking markers keep overlaps visible.
            ax.plot(
                np.arange(len(rates)),
                rates,
                color=color[name],
                marker=MARKERS[k % len(MARKERS)],
                markersize=max(9 - 1.5 * k, 3),
                linewidth=max(2.6 - 0.5 * k, 1.0),
                linestyle=LINESTYLES[k % len(LINESTYLES)],
                label=name,
            )
        if positive:
            ax.set_yscale("log")
        _finish(
            fig,
            ax,
            out / "learning_rate.png",
            "Learning rate" + (f" (schedule {config['schedule']})" if config["schedule"] else " (constant)"),
            "epochs completed (0: before training)",
            "learning rate of the next update" + (" (log scale)" if positive else ""),
        )
        plt.close(fig)
        written.append(("Learning rate per epoch", "learning_rate.png"))
    finally:
        plt.close("all")
    return written
