"""scikit-learn's MLPClassifier: hidden_layer_sizes=(300, 100), relu, no L2
(alpha=0), the solver 'sgd' (constant learning rate 0.01, momentum=0) or
'adam' (1e-3, epsilon=1e-7), the batch size under test, shuffling. One epoch
is one ``partial_fit`` call over the data (a single pass, in batches); the
first call is the warm-up. scikit-learn has no RMSprop: that row is skipped.
Its matrix products are NumPy's (OpenBLAS), whose threads the worker's
environment and threadpoolctl set."""

from __future__ import annotations

import time

import numpy as np

from timing import call_times

_limits = None


def setup(threads: int) -> dict:
    global _limits
    import scipy
    import sklearn

    try:
        from threadpoolctl import threadpool_limits

        _limits = threadpool_limits(limits=threads)  # kept for the worker's lifetime
    except ImportError:
        pass
    return {"sklearn": sklearn.__version__, "scipy": scipy.__version__, "numpy": np.__version__}


def _classifier(hidden, optimizer: str, batch_size: int):
    from sklearn.neural_network import MLPClassifier

    from workload import LEARNING_RATES

    options = dict(
        hidden_layer_sizes=tuple(hidden),
        activation="relu",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate_init=LEARNING_RATES[optimizer],
        shuffle=True,
        random_state=0,
        max_iter=1,
    )
    if optimizer == "sgd":
        options.update(solver="sgd", learning_rate="constant", momentum=0.0, nesterovs_momentum=False)
    else:
        options.update(solver="adam", epsilon=1e-7)
    return MLPClassifier(**options)


def train_epochs(x, y, hidden, optimizer: str, batch_size: int, epochs: int) -> dict:
    if optimizer not in ("sgd", "adam"):
        raise NotImplementedError("scikit-learn's MLPClassifier has no RMSprop solver")
    classes = np.arange(10)
    clf = _classifier(hidden, optimizer, batch_size)
    start = time.perf_counter()
    clf.partial_fit(x, y, classes=classes)
    warmup = time.perf_counter() - start
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        clf.partial_fit(x, y)
        times.append(time.perf_counter() - start)
    dtype = clf.coefs_[0].dtype
    return {
        "epoch_times": times,
        "warmup_time": warmup,
        "final_loss": float(clf.loss_),
        "detail": f"MLPClassifier(solver={clf.solver!r}).partial_fit, {dtype} weights",
    }


def predict_times(x, hidden, batch_size: int, repeats: int) -> dict:
    clf = _classifier(hidden, "adam", 200)
    clf.partial_fit(x[:200], np.arange(200) % 10, classes=np.arange(10))  # initialize the weights
    times = call_times(lambda: clf.predict_proba(x), repeats)
    return {"times": times, "detail": "predict_proba(x) (all rows in one pass)"}
