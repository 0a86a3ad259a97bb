"""fastmlp's speed benchmark, every framework side by side in one run.

    python bench/run.py --data ../shared/data/mnist            # everything (long)
    python bench/run.py --quick --data ../shared/data/mnist    # a smoke run, under a minute
    python bench/run.py --sections epoch,inference --frameworks fastmlp,torch --threads 1

Sections (--sections, default all): epoch (seconds per epoch of the references'
MLP 784-300-100-10, SGD/Adam/RMSprop x batch 1/32/128/256), inference (10,000
test images), scaling (fastmlp against batch size, width and threads),
ceilings (GEMM and memory-bandwidth ceilings, and fastmlp's efficiency against
them), optimizer (Adam step vs torch.optim), memory (peak RSS of
`fastmlp train` against its budget). Peers (PyTorch, JAX + Optax, Keras 3,
scikit-learn) take part when installed (pip install ".[bench]"); each framework
runs in its own worker process with the same thread count. Prints Markdown
tables and writes JSON (default bench/results/run.json): machine, versions,
command, settings and every figure, raw per-epoch times included.
See bench/README.md.
"""

from __future__ import annotations

import paths  # noqa: I001 - first: bench/ goes to the end of sys.path before anything else is imported

paths.demote()

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = paths.HERE

FRAMEWORKS = ("fastmlp", "torch", "jax", "keras", "sklearn")
QUICK = {
    "train_images": 2_048,
    "batch_sizes": [1, 32, 256],
    "epochs": 2,
    "epoch_rounds": 1,
    "batch1_steps": 200,
    "inference_repeats": 3,
    "ceiling_repeats": 3,
    "optimizer_budget": 0.1,
    "scaling_gflop_cap": 2.0,
    "task_timeout": 300.0,
}
FULL = {
    "train_images": 55_000,
    "batch_sizes": [1, 32, 128, 256],
    "epochs": 3,
    "epoch_rounds": 1,
    "batch1_steps": 5_000,
    "inference_repeats": 10,
    "ceiling_repeats": 10,
    "optimizer_budget": 0.3,
    "scaling_gflop_cap": 70.0,
    "task_timeout": 3600.0,
}


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in _list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    from sections import ORDER

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="MNIST folder (default: $FASTMLP_DATA, else fastmlp's download cache)",
    )
    p.add_argument("--sections", type=_list, default=list(ORDER), help=f"comma-separated, from {','.join(ORDER)}")
    p.add_argument(
        "--frameworks",
        type=_list,
        default=list(FRAMEWORKS),
        help=f"comma-separated, from {','.join(FRAMEWORKS)},jax-scan (uninstalled ones are skipped with a note)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2,048 images, batch sizes 1,32,256, 2 timed epochs, 200 batch-1 steps, fewer repeats",
    )
    p.add_argument("--threads", type=int, default=None, help="threads for every framework (default: all cores)")
    p.add_argument("--optimizers", type=_list, default=["sgd", "adam", "rmsprop"])
    p.add_argument(
        "--batch-sizes", type=_ints, default=None, help="epoch section (default 1,32,128,256; quick 1,32,256)"
    )
    p.add_argument("--epochs", type=int, default=None, help="timed epochs after the warm-up (default 3; quick 2)")
    p.add_argument(
        "--epoch-rounds",
        type=int,
        default=None,
        help="epoch section: run every configuration this many times over, each framework back to back "
        "within a round, and take the median of all the rounds' timed epochs (default 1); on a "
        "machine whose speed drifts, each framework then samples several moments",
    )
    p.add_argument(
        "--train-images",
        type=int,
        default=None,
        help="images per epoch, the first of x_train[5000:] (default 55,000; quick 2,048)",
    )
    p.add_argument(
        "--batch1-steps",
        type=int,
        default=None,
        help="steps timed per batch-1 epoch, scaled to 55,000 (default 5,000; quick 200)",
    )
    p.add_argument("--inference-repeats", type=int, default=None)
    p.add_argument("--gemm-n", type=int, default=2048)
    p.add_argument("--scaling-threads", type=_ints, default=None, help="default: 1 and --threads")
    p.add_argument("--scaling-peers", action="store_true", help="run the scaling sweeps for the peers too")
    p.add_argument(
        "--denormals",
        choices=["flush", "ieee"],
        default="flush",
        help="flush: fastmlp and PyTorch flush subnormal floats to zero, as JAX and TensorFlow always "
        "do on the CPU, so all run the same arithmetic (default); ieee: leave both at their "
        "IEEE default",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="with fewer threads than cores, do not pin the workers to the first cores"
    )
    p.add_argument(
        "--out", default=os.path.join(HERE, "results", "run.json"), help="JSON output (the scaling plot goes beside it)"
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-data", default="", help=argparse.SUPPRESS)
    return p


def settings_from(args) -> dict:
    from peers import RUNNERS
    from sections import ORDER
    from threads import usable_cores

    mode = dict(QUICK if args.quick else FULL)
    for key in ("train_images", "epochs", "epoch_rounds", "batch1_steps", "inference_repeats", "batch_sizes"):
        if getattr(args, key) is not None:
            mode[key] = getattr(args, key)
    for key in ("train_images", "epochs", "epoch_rounds", "batch1_steps", "inference_repeats"):
        if mode[key] < 1:
            raise SystemExit(f"run.py: --{key.replace('_', '-')} must be >= 1")
    mode["train_images"] = min(mode["train_images"], 55_000)
    unknown = [s for s in args.sections if s not in ORDER]
    unknown += [f for f in args.frameworks if f not in RUNNERS]
    unknown += [o for o in args.optimizers if o not in ("sgd", "adam", "rmsprop")]
    if unknown:
        raise SystemExit(f"run.py: unknown section, framework or optimizer: {', '.join(unknown)}")
    threads = args.threads or len(usable_cores())
    if threads < 1 or (args.scaling_threads and min(args.scaling_threads) < 1):
        raise SystemExit("run.py: thread counts must be >= 1")
    return {
        **mode,
        "quick": args.quick,
        "data": args.data,
        "sections": [s for s in ORDER if s in args.sections],
        "requested_frameworks": args.frameworks,
        "frameworks": list(args.frameworks),
        "threads": threads,
        "optimizers": args.optimizers,
        "gemm_n": args.gemm_n,
        "scaling_threads": args.scaling_threads or sorted({1, threads}),
        "scaling_peers": args.scaling_peers,
        "pin": not args.no_pin,
        "start_timeout": 180.0,
        "denormals": args.denormals,
        "out": os.path.abspath(args.out),
        "out_dir": os.path.dirname(os.path.abspath(args.out)),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        from workers import serve

        return serve(args.worker, args.threads or 1, args.worker_data or None, not args.no_pin)

    started = time.time()
    settings = settings_from(args)
    import machine
    import peers
    import threads as thread_control
    import workload
    from context import Context

    available = []
    notes = []
    for framework in settings["frameworks"]:
        reason = peers.availability(framework)
        if reason:
            notes.append(f"{peers.LABELS.get(framework, framework)} skipped: {reason}")
        else:
            available.append(framework)
    settings["frameworks"] = available

    needs_data = any(s in settings["sections"] for s in ("epoch", "inference", "scaling", "ceilings"))
    folder = tempfile.mkdtemp(prefix="fastmlp-bench-") if needs_data else None
    ctx = Context(settings, folder)
    for note in notes:
        ctx.note(note)
    if settings["denormals"] == "flush":
        ctx.note(
            "Subnormal floats are flushed to zero in every framework but scikit-learn: JAX and TensorFlow "
            "always do so on the CPU; fastmlp and PyTorch are set to (fastmlp.set_flush_denormals, "
            "torch.set_flush_denormal). Adam's and RMSprop's moments pass through the subnormal range "
            "where MNIST's pixels stay zero. --denormals ieee leaves fastmlp and PyTorch at their default."
        )
    else:
        ctx.note("fastmlp and PyTorch keep subnormal floats (their default); JAX and TensorFlow flush them.")
    try:
        if folder:
            ctx.log("loading MNIST")
            try:
                prepared = workload.prepare(settings["data"], folder, settings["train_images"])
            except (OSError, ValueError) as exc:
                print(f"run.py: error: could not load MNIST: {exc}", file=sys.stderr)
                return 1
            settings["train_images"] = prepared["train_images"]
        description = machine.describe()
        print(f"# fastmlp benchmark{' (quick)' if settings['quick'] else ''}\n")
        identity = f" ({description['cpu_identity']})" if description["cpu_identity"] else ""
        print(
            f"{description['cpu']}{identity}, {description['cores']} cores; "
            f"{settings['threads']} thread(s) per framework; "
            f"Python {description['python']}, NumPy {description['numpy']}, fastmlp {description['fastmlp']} "
            f"({description['fastmlp_build'].get('simd', '')}); frameworks: "
            f"{', '.join(peers.LABELS.get(f, f) for f in available) or 'none'}\n",
            flush=True,
        )
        for i, name in enumerate(settings["sections"]):
            module = importlib.import_module(f"sections.{name}")
            ctx.log(f"section {name}")
            try:
                result = module.run(ctx)
                text = module.report(result)
            except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
                result = {"error": f"{type(exc).__name__}: {exc}"}
                text = f"### {name}\n\nfailed: {result['error']}\n"
            ctx.results[name] = result
            print(text, flush=True)
            following = settings["sections"][i + 1] if i + 1 < len(settings["sections"]) else None
            if not (name == "epoch" and following == "inference"):  # those two share their workers
                ctx.close_workers()
    finally:
        ctx.close_workers()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    if ctx.notes:
        print("Notes:\n" + "\n".join(f"- {n}" for n in ctx.notes) + "\n")
    versions = {"python": description["python"], "numpy": description["numpy"], "fastmlp": description["fastmlp"]}
    for framework_versions in ctx.versions.values():
        versions.update({k: v for k, v in framework_versions.items() if k not in ("threads", "devices")})
    if "scaling" in ctx.results and ctx.results["scaling"].get("plot"):
        import matplotlib

        versions["matplotlib"] = matplotlib.__version__
    document = {
        "benchmark": "fastmlp bench/run.py",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_seconds": time.time() - started,
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": description,
        "versions": versions,
        "framework_versions": ctx.versions,
        "thread_control": {
            "threads": settings["threads"],
            "pinned_workers": ctx.pinned,
            **{k: v for k, v in thread_control.CONTROL.items()},
        },
        "settings": settings,
        "notes": ctx.notes,
        "sections": ctx.results,
    }
    os.makedirs(settings["out_dir"], exist_ok=True)
    with open(settings["out"], "w") as f:
        json.dump(document, f, indent=2, default=str)
    print(f"wrote {settings['out']} ({document['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
