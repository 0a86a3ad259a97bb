"""What a benchmark ran on: CPU, cores, versions and the fastmlp build."""

from __future__ import annotations

import os
import platform
import sys


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
