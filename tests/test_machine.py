"""fastmlp.machine: the CPU's name and identity from /proc/cpuinfo, read from
a file the test writes (the first processor's block only)."""

import io

import fastmlp.machine as machine

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1

processor\t: 1
vendor_id\t: OtherVendor
model name\t: Another CPU
"""


def test_name_and_identity_from_the_first_processor(monkeypatch):
    monkeypatch.setattr(machine, "open", lambda *a, **k: io.StringIO(CPUINFO), raising=False)
    assert machine.cpu_model() == "AMD EPYC"
    assert machine.cpu_identity() == "AuthenticAMD family 25 model 17 stepping 1"


def test_without_cpuinfo_the_identity_is_empty(monkeypatch):
    def missing(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(machine, "open", missing, raising=False)
    assert machine.cpu_identity() == ""
    assert machine.cpu_model()  # platform's answer instead
