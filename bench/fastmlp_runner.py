"""fastmlp as the benchmark runs it: what a user writes (Sequential, compile
with the Keras-namespace optimizer, fit with verbose=0); the per-epoch times
are the History's ``epoch_time`` (one C++ call per epoch)."""

from __future__ import annotations

import os
import time

from timing import call_times


def setup(threads: int) -> dict:
    import fastmlp

    fastmlp.set_num_threads(threads)
    fastmlp.set_flush_denormals(os.environ.get("FASTMLP_BENCH_DENORMALS", "flush") == "flush")
    return {
        "fastmlp": fastmlp.__version__,
        "fastmlp_build": fastmlp.build_info(),
        "threads": fastmlp.get_num_threads(),
        "flush_denormals": fastmlp.get_flush_denormals(),
    }


def build(hidden, optimizer: str | None = None, seed: int = 0, dense_products: bool = False):
    import fastmlp
    from fastmlp.optim import keras as keras_optim
    from workload import CLASSES, INPUT, LEARNING_RATES

    layers = [fastmlp.layers.Dense(w, activation="relu") for w in hidden]
    layers.append(fastmlp.layers.Dense(CLASSES, activation="softmax"))
    model = fastmlp.Sequential(layers, input_dim=INPUT, seed=seed)
    classes = {"sgd": keras_optim.SGD, "adam": keras_optim.Adam, "rmsprop": keras_optim.RMSprop}
    name = optimizer or "sgd"
    model.compile(optimizer=classes[name](learning_rate=LEARNING_RATES[name]), loss="sparse_categorical_crossentropy")
    if dense_products:  # every product dense: what a GEMM-efficiency figure must time
        model.sparse_input_max_density = 0.0
    return model


def train_epochs(x, y, hidden, optimizer: str, batch_size: int, epochs: int, dense_products: bool = False) -> dict:
    model = build(hidden, optimizer, dense_products=dense_products)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up: caches, workspace
    warmup = time.perf_counter() - start
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return {
        "epoch_times": [float(t) for t in history.history["epoch_time"]],
        "warmup_time": warmup,
        "final_loss": float(history.history["loss"][-1]),
        "detail": str(model.optimizer),
    }


def predict_times(x, hidden, batch_size: int, repeats: int) -> dict:
    model = build(hidden)
    times = call_times(lambda: model.predict(x, batch_size=batch_size), repeats)
    return {"times": times, "detail": f"model.predict(x, batch_size={batch_size})"}
