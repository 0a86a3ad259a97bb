"""What a build ships: a plain install (pip install .) carries no
instrumentation; one with FASTMLP_INSTRUMENT=ON carries all of it."""

import sys

import fastmlp
from fastmlp import _core


def test_instrumentation_is_all_or_nothing():
    instrumented = fastmlp.build_info()["instrumented"]
    assert _core.allocation_counter_enabled() == (instrumented and sys.platform.startswith("linux"))
    for name in ("allocation_count", "matmul", "eigen_matmul", "stream_adam_shaped"):
        assert hasattr(_core, name) == instrumented, name
    for name in ("allocations_in_train_steps", "allocations_in_train_epoch", "set_profiling", "profile"):
        assert hasattr(_core.Network, name) == instrumented, name
