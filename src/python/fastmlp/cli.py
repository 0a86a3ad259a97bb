"""Command line: ``fastmlp train`` and ``fastmlp compare`` (also ``python -m fastmlp ...``)."""

from __future__ import annotations

import argparse
import sys
import time


def _widths(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths like 300,100; got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1; got {text!r}")
    return widths


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import optim

    parser = argparse.ArgumentParser(prog="fastmlp", description="Fast CPU training of dense networks.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train",
        help="train an MLP on MNIST and report test accuracy",
        description="Train the reference MLP (784-300-100-10 by default) on MNIST, holding out the "
        "first --validation training images as the reference notebooks do.",
    )
    train.add_argument(
        "--data",
        metavar="DIR",
        help="folder with the four MNIST .gz files (default: $FASTMLP_DATA, else the download cache)",
    )
    train.add_argument(
        "--hidden", type=_widths, default=[300, 100], metavar="W1,W2,...", help="hidden layer widths (default 300,100)"
    )
    train.add_argument(
        "--activation", default="relu", choices=["relu", "sigmoid", "tanh"], help="hidden activation (default relu)"
    )
    train.add_argument(
        "--optimizer",
        default="sgd",
        choices=sorted(optim._BY_NAME),
        help="optimizer, with Keras's defaults (default sgd)",
    )
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: the optimizer's)")
    train.add_argument("--epochs", type=_non_negative_int, default=5)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument(
        "--validation",
        type=_non_negative_int,
        default=5000,
        metavar="N",
        help="hold out the first N training images for validation (default 5000; 0: none)",
    )
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--threads", type=_positive_int, default=None, help="default: all cores")
    from .compare.cli import add_parser as add_compare_parser

    add_compare_parser(commands)
    return parser


def train(args) -> int:
    import fastmlp
    from fastmlp import optim
    from fastmlp.datasets.splits import load_scaled

    if args.threads:
        fastmlp.set_num_threads(args.threads)
    optimizer = optim.get(args.optimizer)
    if args.lr is not None:
        optimizer.learning_rate = args.lr  # validated: > 0 and finite
    (x_train, y_train), validation, (x_test, y_test) = load_scaled("mnist", args.data, args.validation)
    n_val = args.validation

    layers = [fastmlp.layers.Dense(w, activation=args.activation) for w in args.hidden]
    layers.append(fastmlp.layers.Dense(10, activation="softmax"))
    model = fastmlp.Sequential(layers, input_shape=(28, 28), seed=args.seed)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    widths = "-".join(map(str, [784, *args.hidden, 10]))
    print(
        f"fastmlp {fastmlp.__version__}: MLP {widths} ({model.count_params():,} parameters), "
        f"{optimizer}, batch {args.batch_size}, {len(x_train):,} training / {n_val:,} validation "
        f"images, {fastmlp.get_num_threads()} thread(s)",
        flush=True,
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_data=validation, verbose=1)
    elapsed = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test)
    print(f"test loss: {test_loss:.4f} - test accuracy: {test_accuracy:.4f} - training time {elapsed:.2f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return train(args)
        if args.command == "compare":
            from .compare.cli import command as compare

            return compare(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastmlp: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastmlp: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
