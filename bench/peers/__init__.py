"""The frameworks the benchmark can run, and whether each is installed.

Every runner module has the same three functions:

- ``setup(threads) -> dict``: import the framework, set its thread count,
  return the versions to record;
- ``train_epochs(x, y, hidden, optimizer, batch_size, epochs) -> dict``: build
  the MLP 784-hidden-10, train one warm-up epoch over (x, y) and then `epochs`
  timed ones; ``{"epoch_times": [...], "warmup_time": s, ...}``;
- ``predict_times(x, hidden, batch_size, repeats) -> dict``: class
  probabilities for x, after warm-up calls; ``{"times": [...], ...}``.

``availability(name)`` looks for the packages without importing them, so the
parent process never loads a peer.
"""

from __future__ import annotations

import importlib
import importlib.util

# name -> (runner module, options passed to its functions, packages it needs)
RUNNERS = {
    "fastmlp": ("fastmlp_runner", {}, ("fastmlp",)),
    "torch": ("peers.torch_peer", {}, ("torch",)),
    "jax": ("peers.jax_peer", {}, ("jax", "optax")),
    "jax-scan": ("peers.jax_peer", {"scan": True}, ("jax", "optax")),
    "keras": ("peers.keras_peer", {}, ("keras",)),
    "sklearn": ("peers.sklearn_peer", {}, ("sklearn",)),
}
UNSUPPORTED = {("sklearn", "rmsprop"): "scikit-learn's MLPClassifier has no RMSprop solver"}
LABELS = {
    "jax": "JAX (jit step)",
    "jax-scan": "JAX (lax.scan epoch)",
    "torch": "PyTorch",
    "keras": "Keras",
    "sklearn": "scikit-learn",
    "fastmlp": "fastmlp",
}


def runner(name: str):
    if name not in RUNNERS:
        raise ValueError(f"unknown framework {name!r}; expected one of {', '.join(RUNNERS)}")
    module, options, _ = RUNNERS[name]
    return importlib.import_module(module), dict(options)


def availability(name: str) -> str | None:
    """None when `name` can run here, else why not."""
    missing = [p for p in RUNNERS[name][2] if importlib.util.find_spec(p) is None]
    if missing:
        return f'not installed ({", ".join(missing)}); pip install ".[bench]"'
    if name == "keras":
        from peers.keras_peer import default_backend

        if default_backend() is None:
            return "Keras is installed but none of its backends (tensorflow, jax, torch) is"
    return None
