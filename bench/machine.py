"""What a benchmark ran on: CPU, cores, versions and the fastmlp build."""

from __future__ import annotations

import os
import platform
import sys

from fastmlp.machine import cpu_model


def describe() -> dict:
    import numpy
    import fastmlp

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "fastmlp": fastmlp.__version__,
        "fastmlp_build": fastmlp.build_info(),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }
