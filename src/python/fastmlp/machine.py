"""What a measurement ran on, for benchmark and comparison reports."""

from __future__ import annotations

import platform


def _cpuinfo() -> dict:
    """The first processor's fields in /proc/cpuinfo (Linux); empty elsewhere."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_identity() -> str:
    """Vendor, family, model and stepping: a virtual machine often names its
    CPU only "AMD EPYC", which does not tell Zen 4 (family 25) from Zen 5
    (family 26). Empty where /proc/cpuinfo is missing."""
    fields = _cpuinfo()
    parts = [fields.get("vendor_id", "")]
    parts += [
        f"{name} {fields[key]}"
        for key, name in (("cpu family", "family"), ("model", "model"), ("stepping", "stepping"))
        if key in fields
    ]
    return " ".join(p for p in parts if p)
