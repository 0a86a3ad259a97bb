"""One thread count for every framework.

Each framework runs in its own worker process, so what must be fixed before
its import (environment variables, CPU affinity) is fixed when the process
starts; what has an API is set through it after the import (see each runner's
``setup``). What is and is not controlled, per framework (also written to the
JSON as ``thread_control``):

- fastmlp: ``fastmlp.set_num_threads(n)`` (OpenMP threads for the matrix
  products and loops).
- PyTorch: ``torch.set_num_threads(n)`` (intra-op), ``set_num_interop_threads(1)``
  and OMP_NUM_THREADS/MKL_NUM_THREADS=n.
- JAX: XLA's CPU client has no thread-count setting. With n = 1,
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1";
  with 1 < n < all cores only the CPU affinity below limits it.
- Keras on TensorFlow: ``tf.config.threading`` intra-op = n, inter-op = 1
  (and TF_NUM_INTRAOP_THREADS/TF_NUM_INTEROP_THREADS). tf.data's own pool that
  feeds ``model.fit`` is not controlled. On JAX or PyTorch: as those.
- scikit-learn: its matrix products are NumPy's (OpenBLAS):
  OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=n, and threadpoolctl when installed.
- NumPy in the ceilings section: OPENBLAS_NUM_THREADS=n.

With n below the number of usable cores, every worker (each framework alike)
is also pinned to the first n of them with ``os.sched_setaffinity``: a hard
limit for thread pools nothing else reaches (and the same treatment for all),
at the cost of not migrating away from a core another process keeps busy.
``--no-pin`` turns the pinning off.
"""

from __future__ import annotations

import os

CONTROL = {
    "fastmlp": "fastmlp.set_num_threads(n)",
    "torch": "torch.set_num_threads(n), torch.set_num_interop_threads(1), OMP_NUM_THREADS=n",
    "jax": "n = all cores: XLA's default; n = 1: XLA_FLAGS --xla_cpu_multi_thread_eigen=false "
    "intra_op_parallelism_threads=1; otherwise only CPU affinity",
    "keras": "backend's control (tensorflow: tf.config.threading intra-op n, inter-op 1; tf.data's pool "
    "not controlled)",
    "sklearn": "OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=n (+ threadpoolctl)",
    "numpy": "OPENBLAS_NUM_THREADS=n",
}


def usable_cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def child_environment(threads: int, base: dict | None = None) -> dict:
    """The environment of a worker process running `threads` threads."""
    env = dict(os.environ if base is None else base)
    n = str(threads)
    env.update(
        {
            "OMP_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n,
            "MKL_NUM_THREADS": n,
            "TF_NUM_INTRAOP_THREADS": n,
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's start-up chatter
            "JAX_PLATFORMS": env.get("JAX_PLATFORMS", "cpu"),
        }
    )
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flags}".strip()
    return env


def pin(threads: int) -> list[int] | None:
    """In a worker, before any framework is imported: restrict this process
    to the first `threads` usable cores, when that is fewer than all of them.
    Returns the cores kept, or None when nothing was changed."""
    cores = usable_cores()
    if threads >= len(cores) or not hasattr(os, "sched_setaffinity"):
        return None
    kept = cores[:threads]
    os.sched_setaffinity(0, kept)
    return kept
