"""``fastmlp compare``: its argument parser and the command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .spec import SCHEDULES, SpecError, available_optimizers, parse_optimizer_list, parse_schedule

DESCRIPTION = """\
Train the same MLP with several optimizers (and seeds) and compare them: writes
results.json, history.csv, PNG plots and report.md into --out, and prints a
progress line per run and a summary table."""


def _epilog() -> str:
    names = available_optimizers()
    return f"""\
optimizer specs (--optimizers):
  NAME[:KEY=VALUE,...] separated by commas; an item containing '=' continues the
  previous optimizer's hyperparameters, an item without '=' starts the next one:
    --optimizers sgd,adam,rmsprop
    --optimizers adam:learning_rate=3e-4,beta_1=0.8,torch.SGD:lr=0.01,momentum=0.9
  --optimizers may also be repeated: --optimizers sgd --optimizers adam:epsilon=1e-8
  NAME is
    a plain name, the Keras class with Keras's defaults (as compile(optimizer="adam")):
      {", ".join(names["plain"])}
    keras.CLASS (Keras 3's names, defaults and rules):
      {", ".join(names["keras"])}
    torch.CLASS (PyTorch's names, defaults and rules; the learning rate is lr):
      {", ".join(names["torch"])}
  class names are case-insensitive. VALUES: numbers (3e-4), true/false, none, and
  tuples with '/' between elements: torch.Adam:betas=0.9/0.99

learning-rate schedules (--schedule), applied to every optimizer's own learning
rate (its base rate); steps count optimizer updates (ceil(train images / batch)
per epoch):
  exponential:decay_steps=N,decay_rate=R[,staircase=true]
  cosine:decay_steps=N[,alpha=A]         step:step_size=N[,gamma=G]
  multistep:milestones=N1/N2[,gamma=G]   polynomial:decay_steps=N[,end_learning_rate=E,power=P]
  cosine_restarts:first_decay_steps=N[,t_mul=T,m_mul=M,alpha=A]
  onecycle:total_steps=N[,pct_start=P,...] (peaks at the base rate)
  warmup:steps=N[,from=R]                 linear warm-up from R (default 0) to the base rate
  any of them with warmup=N[,warmup_from=R]: a linear warm-up in front, e.g.
    --schedule cosine:decay_steps=8000,warmup=500
  ({", ".join(SCHEDULES)}, warmup; see fastmlp.optim.schedules)

model (as reference 002): Dense(h1, relu[, L2]) [BatchNormalization] Dense(h2, relu)
  ... [Dropout] Dense(10, softmax): --l2 regularizes the first hidden layer's kernel,
  --batch-norm follows the first hidden layer, --dropout follows the last one.

validation (--validation): an integer N holds out the FIRST N training images (as
  the reference notebooks do; 0: no validation set); a fraction in (0, 1) holds out
  the LAST fraction, as Keras's validation_split does.

example:
  fastmlp compare --optimizers sgd,adam,rmsprop --epochs 5 --out results/
"""


def _int(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _float(low: float, high: float | None = None, *, high_open: bool = True):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value >= low or (high is not None and (value >= high if high_open else value > high)):
            bounds = f"[{low:g}, {high:g}{')' if high_open else ']'}" if high is not None else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got {text}")
        return value

    return parse


def _widths(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths like 300,100; got {text!r}") from None
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1; got {text!r}")
    return widths


def _validation(text: str):
    try:
        count = int(text)
    except ValueError:
        pass
    else:
        if count < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {count}")
        return count
    try:
        fraction = float(text)
    except ValueError:
        fraction = None
    if fraction is None or not 0.0 < fraction < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a count of images (e.g. 5000) or a fraction in (0, 1) (e.g. 0.1), got {text!r}"
        )
    return fraction


def _optimizers(text: str):
    try:
        return parse_optimizer_list(text)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _schedule(text: str):
    try:
        return parse_schedule(text)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to an ``add_subparsers()`` object."""
    p = commands.add_parser(
        "compare",
        help="compare optimizers on MNIST: plots, tables, a report",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--optimizers",
        type=_optimizers,
        action="append",
        metavar="SPEC[,SPEC...]",
        help="optimizers to compare (default sgd,adam,rmsprop); syntax below",
    )
    p.add_argument("--epochs", type=_int(1), default=5, help="epochs per run (default 5)")
    p.add_argument("--batch-size", type=_int(1), default=32, help="default 32")
    p.add_argument(
        "--hidden", type=_widths, default=[300, 100], metavar="W1,W2,...", help="hidden layer widths (default 300,100)"
    )
    p.add_argument(
        "--dropout",
        type=_float(0.0, 1.0),
        default=0.0,
        metavar="RATE",
        help="dropout rate after the last hidden layer (default 0: none)",
    )
    p.add_argument("--batch-norm", action="store_true", help="BatchNormalization after the first hidden layer")
    p.add_argument(
        "--l2",
        type=_float(0.0),
        default=0.0,
        metavar="FACTOR",
        help="L2 penalty on the first hidden layer's kernel (default 0: none)",
    )
    p.add_argument(
        "--schedule",
        type=_schedule,
        default=None,
        metavar="NAME[:KEY=VALUE,...]",
        help="learning-rate schedule applied to every optimizer's learning rate; syntax below",
    )
    p.add_argument(
        "--repeats",
        type=_int(1),
        default=1,
        metavar="N",
        help="runs per optimizer, with seeds SEED..SEED+N-1 (default 1)",
    )
    p.add_argument("--seed", type=_int(0), default=0, help="first seed (default 0)")
    p.add_argument(
        "--validation",
        type=_validation,
        default=5000,
        metavar="N|FRACTION",
        help="N: hold out the FIRST N training images (default 5000, as the references; 0: none); "
        "a fraction in (0, 1): hold out the LAST fraction, as Keras's validation_split",
    )
    p.add_argument(
        "--target",
        type=_float(0.0, 1.0, high_open=False),
        default=0.97,
        metavar="ACCURACY",
        help="validation accuracy for 'epochs/seconds to reach' (default 0.97)",
    )
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist", help="default mnist")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="folder with the dataset's four .gz files (default: $FASTMLP_DATA, else the download cache)",
    )
    p.add_argument("--out", metavar="DIR", default="fastmlp-compare", help="output folder (default ./fastmlp-compare)")
    p.add_argument("--threads", type=_int(1), default=None, help="default: all cores")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    p.add_argument("-v", "--verbose", action="store_true", help="print every epoch")
    p.add_argument("--limit", type=_int(2), default=None, help=argparse.SUPPRESS)  # first N training images
    return p


def config_from_args(args):
    from .run import CompareConfig

    if args.optimizers:
        specs = [spec for group in args.optimizers for spec in group]
        seen = set()
        for spec in specs:
            if spec.text in seen:
                raise ValueError(f"optimizer {spec.text!r} is listed twice")
            seen.add(spec.text)
    else:
        specs = parse_optimizer_list("sgd,adam,rmsprop")
    return CompareConfig(
        optimizers=specs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=args.hidden,
        dropout=args.dropout,
        batch_norm=args.batch_norm,
        l2=args.l2,
        schedule=args.schedule,
        repeats=args.repeats,
        seed=args.seed,
        validation=args.validation,
        target_accuracy=args.target,
        dataset=args.dataset,
        data=args.data,
        out=args.out,
        threads=args.threads,
        limit=args.limit,
    )


def command(args, log=print) -> int:
    """Run ``fastmlp compare`` from parsed arguments."""
    from .plots import INSTALL_HINT, matplotlib_available, write_plots
    from .report import console_table, markdown_report, summarize_all, write_history_csv, write_results_json
    from .run import build_model, run_comparison

    config = config_from_args(args)
    # Fail on unavailable layers before loading data or training anything.
    build_model(config.hidden, config.dropout, config.batch_norm, config.l2, 0)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_comparison(config, log=log, verbose=1 if args.verbose else 0)
    write_results_json(results, out / "results.json")
    write_history_csv(results, out / "history.csv")
    plots, note = [], None
    if args.no_plots:
        note = "Plots were not written (--no-plots)."
    elif matplotlib_available():
        plots = write_plots(results, out)
    else:
        log(INSTALL_HINT)
        note = "No plots: matplotlib is not installed (`pip install fastmlp[plot]`)."
    (out / "report.md").write_text(markdown_report(results, plots, note), encoding="utf-8")
    log("")
    log(console_table(summarize_all(results), config.target_accuracy))
    log("")
    files = ["results.json", "history.csv", *(p for _, p in plots), "report.md"]
    log(f"wrote {', '.join(files)} to {out}")
    sys.stdout.flush()
    return 0
