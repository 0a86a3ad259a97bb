"""The inference timing every framework shares: two warm-up calls (compilation,
caches, workspaces), then the wall time of each of `repeats` calls."""

from __future__ import annotations

import time


def call_times(call, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times
