"""PyTorch as a user writes it: nn.Sequential, torch.optim (fused=True where
PyTorch has a fused CPU kernel: SGD and Adam; RMSprop has none, so
foreach=True), and the standard loop over pre-made tensors: a fresh random
permutation per epoch, then contiguous slices of the shuffled tensors.
Hyperparameters follow Keras's defaults (RMSprop alpha=0.9, eps=1e-7; Adam
eps=1e-7) so every framework solves the same problem."""

from __future__ import annotations

import os
import time

import numpy as np

from timing import call_times

_torch = None


def setup(threads: int) -> dict:
    global _torch
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or work already started
        pass
    _torch = torch
    wanted = os.environ.get("FASTMLP_BENCH_DENORMALS", "flush") == "flush"
    flush = torch.set_flush_denormal(wanted) and wanted  # returns whether the CPU supports it
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "flush_denormals": flush}


def _model(hidden, seed: int = 0):
    torch, nn = _torch, _torch.nn
    from workload import CLASSES, INPUT

    torch.manual_seed(seed)
    dims = [INPUT, *hidden]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(dims[-1], CLASSES))  # softmax is inside the cross-entropy loss
    return nn.Sequential(*layers)


def _optimizer(name: str, params):
    from workload import LEARNING_RATES

    optim, lr = _torch.optim, LEARNING_RATES[name]
    make = {
        "sgd": lambda **k: optim.SGD(params, lr=lr, **k),
        "adam": lambda **k: optim.Adam(params, lr=lr, eps=1e-7, **k),
        "rmsprop": lambda **k: optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, **k),
    }[name]
    if name != "rmsprop":
        try:
            return make(fused=True), "fused"
        except (RuntimeError, TypeError, ValueError):
            pass
    return make(foreach=True), "foreach"


def train_epochs(x, y, hidden, optimizer: str, batch_size: int, epochs: int) -> dict:
    torch = _torch
    model = _model(hidden)
    params = list(model.parameters())
    opt, mode = _optimizer(optimizer, params)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_all = torch.from_numpy(np.ascontiguousarray(x))
    y_all = torch.from_numpy(y.astype(np.int64))
    n = x_all.shape[0]
    generator = torch.Generator().manual_seed(0)
    model.train()

    def epoch() -> tuple[float, float]:
        start = time.perf_counter()
        perm = torch.randperm(n, generator=generator)
        xs, ys = x_all[perm], y_all[perm]
        for i in range(0, n, batch_size):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[i : i + batch_size]), ys[i : i + batch_size])
            loss.backward()
            opt.step()
        return time.perf_counter() - start, float(loss)

    warmup, _ = epoch()
    times, loss = [], float("nan")
    for _ in range(epochs):
        t, loss = epoch()
        times.append(t)
    return {
        "epoch_times": times,
        "warmup_time": warmup,
        "final_loss": loss,
        "detail": f"torch.optim.{type(opt).__name__}({mode}=True)",
    }


def predict_times(x, hidden, batch_size: int, repeats: int) -> dict:
    torch = _torch
    model = _model(hidden).eval()
    x_all = torch.from_numpy(np.ascontiguousarray(x))

    def predict():
        with torch.inference_mode():
            return torch.cat(
                [torch.softmax(model(x_all[i : i + batch_size]), dim=1) for i in range(0, len(x_all), batch_size)]
            )

    times = call_times(predict, repeats)
    return {"times": times, "detail": f"softmax(model(x)) under torch.inference_mode, {batch_size} rows per call"}
