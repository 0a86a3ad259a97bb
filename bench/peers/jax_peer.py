"""JAX + Optax as a user writes it: a params pytree (Glorot-uniform kernels,
zero biases), optax.sgd / adam / rmsprop with Keras's hyperparameters, the data
on the device as jnp arrays, and a jitted train step (params and optimizer
state donated) called from a Python loop: per epoch, one shuffle on the device,
then one call per batch that slices its batch inside the jit
(``lax.dynamic_slice``); a last partial batch gets its own compiled step.

``scan=True`` is the variant labelled "lax.scan epoch": the whole epoch's full
batches run as one ``lax.scan`` inside one jitted call (what a user tuned for
speed writes; one dispatch per epoch, like fastmlp)."""

from __future__ import annotations

import time

import numpy as np

from timing import call_times

_jax = None
_shuffle = None


def setup(threads: int) -> dict:
    global _jax, _shuffle
    import jax
    import jaxlib
    import optax

    _jax = jax

    @jax.jit
    def shuffle(key, xa, ya):  # compiled once per data shape, shared by every configuration
        perm = jax.random.permutation(key, xa.shape[0])
        return xa[perm], ya[perm]

    _shuffle = shuffle
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "optax": optax.__version__,
        "devices": [str(d) for d in jax.devices()],
    }


def _init(hidden, seed: int = 0):
    import jax.numpy as jnp

    from workload import widths

    rng = np.random.default_rng(seed)
    params = []
    dims = widths(hidden)
    for a, b in zip(dims[:-1], dims[1:]):
        limit = np.sqrt(6.0 / (a + b))
        params.append(
            (jnp.asarray(rng.uniform(-limit, limit, (a, b)).astype(np.float32)), jnp.zeros((b,), jnp.float32))
        )
    return params


def _logits(params, x):
    jax = _jax
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def _optimizer(name: str):
    import optax

    from workload import LEARNING_RATES

    lr = LEARNING_RATES[name]
    if name == "sgd":
        return optax.sgd(lr), "optax.sgd"
    if name == "adam":
        return optax.adam(lr, eps=1e-7), "optax.adam"
    return optax.rmsprop(lr, decay=0.9, eps=1e-7), "optax.rmsprop"


def train_epochs(x, y, hidden, optimizer: str, batch_size: int, epochs: int, scan: bool = False) -> dict:
    jax = _jax
    import jax.numpy as jnp
    import optax

    tx, label = _optimizer(optimizer)
    params = _init(hidden)
    state = tx.init(params)
    x_all, y_all = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
    n, b = x.shape[0], batch_size
    full, tail = n // b, n % b

    def loss_fn(p, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(_logits(p, xb), yb).mean()

    def update(p, s, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    batch_step = jax.jit(update, donate_argnums=(0, 1))  # the tail batch

    if scan:

        def epoch_fn(p, s, xs, ys):
            xb = xs[: full * b].reshape(full, b, -1)
            yb = ys[: full * b].reshape(full, b)

            def body(carry, batch):
                p, s, loss = update(*carry, *batch)
                return (p, s), loss

            (p, s), losses = jax.lax.scan(body, (p, s), (xb, yb))
            return p, s, losses[-1]

        epoch_step = jax.jit(epoch_fn, donate_argnums=(0, 1))
    else:

        def step_fn(p, s, xs, ys, i):
            xb = jax.lax.dynamic_slice_in_dim(xs, i, b)
            yb = jax.lax.dynamic_slice_in_dim(ys, i, b)
            return update(p, s, xb, yb)

        step = jax.jit(step_fn, donate_argnums=(0, 1))

    key = jax.random.PRNGKey(0)

    def epoch(params, state, key):
        start = time.perf_counter()
        key, sub = jax.random.split(key)
        xs, ys = _shuffle(sub, x_all, y_all)
        loss = None
        if scan:
            if full:
                params, state, loss = epoch_step(params, state, xs, ys)
        else:
            for k in range(full):
                params, state, loss = step(params, state, xs, ys, k * b)
        if tail:
            params, state, loss = batch_step(params, state, xs[full * b :], ys[full * b :])
        jax.block_until_ready(params)
        return params, state, key, time.perf_counter() - start, float(loss)

    params, state, key, warmup, _ = epoch(params, state, key)
    times, loss = [], float("nan")
    for _ in range(epochs):
        params, state, key, t, loss = epoch(params, state, key)
        times.append(t)
    how = "lax.scan over the epoch's batches, one jitted call per epoch" if scan else "jitted step per batch"
    return {"epoch_times": times, "warmup_time": warmup, "final_loss": loss, "detail": f"{label}, {how}"}


def predict_times(x, hidden, batch_size: int, repeats: int, scan: bool = False) -> dict:
    jax = _jax
    import jax.numpy as jnp

    params = _init(hidden)
    x_all = jnp.asarray(x)
    predict_batch = jax.jit(lambda p, xb: jax.nn.softmax(_logits(p, xb), axis=-1))

    def predict():
        outs = [predict_batch(params, x_all[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return jax.block_until_ready(outs)

    times = call_times(predict, repeats)
    return {"times": times, "detail": f"jitted softmax(apply(params, x)), {batch_size} rows per call"}
