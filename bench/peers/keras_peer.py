"""Keras 3 as the reference notebooks use it: keras.Sequential of Dense
layers, compile with keras.optimizers.SGD / Adam / RMSprop and
sparse_categorical_crossentropy (no metrics, so it does no work the other
loops skip), ``model.fit(..., verbose=0)`` with shuffling. One fit call runs
the warm-up epoch and the timed ones; a callback times each epoch.

The backend is KERAS_BACKEND when set, else tensorflow when installed, else
jax, else torch; the worker records which one ran."""

from __future__ import annotations

import importlib.util
import os
import time

from timing import call_times

_keras = None
BACKENDS = ("tensorflow", "jax", "torch")


def default_backend() -> str | None:
    """KERAS_BACKEND, or the first installed of tensorflow, jax, torch (no import)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    for name in BACKENDS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def setup(threads: int) -> dict:
    global _keras
    backend = default_backend()
    if backend is None:
        raise ImportError("none of Keras's backends (tensorflow, jax, torch) is installed")
    os.environ["KERAS_BACKEND"] = backend
    versions = {}
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        versions["tensorflow"] = tf.__version__
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        versions["torch"] = torch.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    import keras

    _keras = keras
    versions.update({"keras": keras.__version__, "keras_backend": keras.backend.backend()})
    return versions


def _model(hidden, optimizer: str | None = None, seed: int = 0):
    keras = _keras
    from workload import CLASSES, INPUT, LEARNING_RATES

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((INPUT,))]
        + [keras.layers.Dense(w, activation="relu") for w in hidden]
        + [keras.layers.Dense(CLASSES, activation="softmax")]
    )
    if optimizer is not None:
        classes = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
        model.compile(
            optimizer=classes[optimizer](learning_rate=LEARNING_RATES[optimizer]),
            loss="sparse_categorical_crossentropy",
        )
    return model


def train_epochs(x, y, hidden, optimizer: str, batch_size: int, epochs: int) -> dict:
    keras = _keras
    model = _model(hidden, optimizer)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(x, y, batch_size=batch_size, epochs=1 + epochs, verbose=0, shuffle=True, callbacks=[Timer()])
    return {
        "epoch_times": times[1:],
        "warmup_time": times[0],
        "final_loss": float(history.history["loss"][-1]),
        "detail": f"keras.optimizers.{type(model.optimizer).__name__}, model.fit on {keras.backend.backend()}",
    }


def predict_times(x, hidden, batch_size: int, repeats: int) -> dict:
    model = _model(hidden)
    times = call_times(lambda: model.predict(x, batch_size=batch_size, verbose=0), repeats)
    return {"times": times, "detail": f"model.predict(x, batch_size={batch_size}) on {_keras.backend.backend()}"}
