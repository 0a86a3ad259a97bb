"""What a benchmark ran on: CPU, cores, versions and the fastmlp build."""

from __future__ import annotations

import os
import platform
import sys

from fastmlp.machine import cpu_identity, cpu_model


def describe() -> dict:
    import numpy

    import fastmlp

    return {
        "cpu": cpu_model(),
        "cpu_identity": cpu_identity(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "fastmlp": fastmlp.__version__,
        "fastmlp_build": fastmlp.build_info(),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }


def write_results(path: str, figures: dict) -> None:
    """Write one standalone script's JSON: the machine, the time, then its figures."""
    import json
    import time

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"machine": describe(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures}, f, indent=2)
    print(f"\nwrote {path}")
