"""What a benchmark ran on: CPU, cores, versions and the fastmlp build."""

from __future__ import annotations

import os
import platform
import sys

from fastmlp.machine import cpu_model


def cpu_identity() -> str:
    """Vendor, family, model and stepping from /proc/cpuinfo: a virtual
    machine often names its CPU only "AMD EPYC", which does not tell Zen 4
    (family 25) from Zen 5 (family 26). Empty where /proc/cpuinfo is missing."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return ""
    parts = [fields.get("vendor_id", "")]
    parts += [f"{name} {fields[key]}" for key, name in
              (("cpu family", "family"), ("model", "model"), ("stepping", "stepping")) if key in fields]
    return " ".join(p for p in parts if p)


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
